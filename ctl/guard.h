/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guard.h - lockout guard: before a rule set is enforced, run the
 * operator's management traffic through it (in a model of the data plane,
 * imagesim.c) and refuse when it would be dropped.
 *
 * Probes: the SSH connection in $SSH_CONNECTION ("CLIENT CPORT SERVER
 * SPORT": an ACK of the running session and a SYN of a reconnect), and one
 * representative packet per combination of each `guard` line: the first
 * host of each prefix or set, the first port of each range, source `any`
 * as 198.51.100.1 / 2001:db8::1, destination `any` as every address on the
 * interfaces moat runs on, no source port as 40000, no destination port
 * as 22 (tcp/udp/sctp), icmp without a type as echo-request.  Each probe is
 * tried on every interface moat runs on.
 */
#ifndef MOAT_GUARD_H
#define MOAT_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "ruleset.h"

/* Returns 0 when every probe passes, 1 when some would be dropped (each
 * printed as an error naming the rule that drops it), or -errno. */
int moat_guard_check(const struct moat_ruleset *rs,
		     const struct moat_image *img, const uint32_t *ifindex,
		     size_t nif);

#endif /* MOAT_GUARD_H */
