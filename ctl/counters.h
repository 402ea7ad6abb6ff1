/* SPDX-License-Identifier: GPL-2.0 */
/* counters.h - read per-CPU counters summed over CPUs. */
#ifndef MOAT_COUNTERS_H
#define MOAT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include "../include/moat.h"

/* Sum the per-CPU struct moat_counter at `key` of PERCPU_ARRAY map fd. */
int moat_counter_read(int fd, uint32_t key, struct moat_counter *sum);

/* The same for the candidate rule counters (cand_rules). */
int moat_cand_rule_read(int fd, uint32_t key, struct moat_cand_rule *sum);

/* Zero entries [first, first + n) of a per-CPU array of value size vsize. */
int moat_percpu_zero(int fd, uint32_t first, uint32_t n, size_t vsize);

/* Add to the per-CPU counter at `key` (CPU 0's share; sums stay right). */
int moat_counter_add(int fd, uint32_t key, uint64_t packets, uint64_t bytes);

#endif /* MOAT_COUNTERS_H */
