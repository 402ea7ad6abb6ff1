/* SPDX-License-Identifier: GPL-2.0 */
/* privs.h - the capabilities moat needs, and which this process lacks. */
#ifndef MOAT_PRIVS_H
#define MOAT_PRIVS_H

#include <stddef.h>
#include <stdint.h>

/* capability numbers (linux/capability.h) */
#define MOAT_CAP_NET_ADMIN 12
#define MOAT_CAP_SYS_ADMIN 21
#define MOAT_CAP_BPF 39

/*
 * The capabilities moat needs that the effective set `eff` (a bit per
 * capability, as CapEff in /proc/PID/status) lacks, as ", "-separated
 * names in buf ("" when none is missing).  CAP_BPF counts as missing only
 * without CAP_SYS_ADMIN, which the kernel accepts for it.  Returns buf.
 */
const char *moat_caps_missing(uint64_t eff, char *buf, size_t n);

/* This process's effective capabilities (CapEff); 0 or -errno. */
int moat_caps_effective(uint64_t *eff);

#endif /* MOAT_PRIVS_H */
