/* SPDX-License-Identifier: GPL-2.0 */
/* counters.h - read per-CPU counters summed over CPUs. */
#ifndef MOAT_COUNTERS_H
#define MOAT_COUNTERS_H

#include <stdint.h>
#include "../include/moat.h"

/* Sum the per-CPU struct moat_counter at `key` of PERCPU_ARRAY map fd. */
int moat_counter_read(int fd, uint32_t key, struct moat_counter *sum);

#endif /* MOAT_COUNTERS_H */
