/* SPDX-License-Identifier: GPL-2.0 */
/*
 * confirm.h - confirm-or-rollback through the kernel (see include/moat.h):
 * read the confirm state, and run one command (arm, confirm, rollback) as a
 * single BPF program run, so the switch and the timer change are one step.
 */
#ifndef MOAT_CONFIRM_H
#define MOAT_CONFIRM_H

#include <stdint.h>
#include "../include/moat.h"
#include "state.h"

/* Read the confirm state (zeroed, IDLE, when moat never armed). */
int moat_confirm_read(struct moat_state *st, struct moat_confirm *c);

/* A change of the config of some ports (include/moat.h). */
struct moat_config_change {
	uint64_t ports; /* bit p: port p changes */
	struct moat_config want[MOAT_MAX_PORTS];
	struct moat_config revert[MOAT_MAX_PORTS]; /* ARM: what a revert restores */
	uint32_t gen, revert_gen; /* ARM: generations, for display */
};

/* Run cmd (MOAT_CONFIRM_SET/ARM/CONFIRM/ROLLBACK) in the kernel.  ch gives
 * the ports and configs (SET, ARM); NULL keeps those stored (CONFIRM, and
 * ROLLBACK of a pending change).  Returns the program's result: 0 or
 * -errno. */
int moat_confirm_run(struct moat_state *st, uint32_t cmd,
		     const struct moat_config_change *ch, uint64_t timeout_ns);

/* Current bpf_ktime_get_ns() equivalent (CLOCK_MONOTONIC). */
uint64_t moat_mono_ns(void);

const char *moat_confirm_state_name(uint32_t state);

#endif /* MOAT_CONFIRM_H */
