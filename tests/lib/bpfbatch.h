/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpfbatch.h - read many per-CPU counters of the moat maps in one syscall
 * (BPF_MAP_LOOKUP_BATCH), summed over CPUs.  For tests that check the
 * counters after every packet.
 */
#ifndef MOAT_TEST_BPFBATCH_H
#define MOAT_TEST_BPFBATCH_H

#include <stdint.h>

#include "bpfrun.h"

/* Counters [first, first + n) of a per-CPU array of struct moat_counter
 * (stats or rule_stats), summed over CPUs into pk[] and by[] (n each).
 * Returns 0 or -errno. */
int bpfbatch_counters(struct bpfrun *r, int fd, uint32_t first, uint32_t n,
		      uint64_t *pk, uint64_t *by);
/* All global counters (stats) into pk/by[MOAT_STAT_MAX], rx filled in as
 * the verdicts' sum, as ctl does (include/moat.h). */
int bpfbatch_stats(struct bpfrun *r, uint64_t *pk, uint64_t *by);

#endif /* MOAT_TEST_BPFBATCH_H */
