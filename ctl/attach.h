/* SPDX-License-Identifier: GPL-2.0 */
/*
 * attach.h - attach the moat program to an interface through libxdp (so it
 * can share the interface with other XDP programs under the dispatcher),
 * falling back to a plain attach where the dispatcher cannot load.
 * Works in the current network namespace.
 */
#ifndef MOAT_ATTACH_H
#define MOAT_ATTACH_H

#include <stdbool.h>
#include "ruleset.h"
#include "state.h"

/* Attach to ifname in `mode` (auto: native, falling back to skb with a
 * notice), the program reading config[port] (1..MOAT_MAX_PORTS-1).  Fills
 * rec (prev = -1).  Returns 0 or -errno (with an error printed). */
int moat_attach(struct moat_state *st, const char *ifname,
		enum moat_mode mode, uint32_t port, struct moat_iface_rec *rec);

/* The port a loaded moat program reads (its moat_port constant). */
int moat_prog_port(uint32_t prog_id, uint32_t *port);
/* The MOAT_ABI that program prog_id was built with (-ENOENT: none, a moat
 * from before it was stamped). */
int moat_prog_abi(uint32_t prog_id, uint32_t *abi);

/* Detach the program recorded in rec.  -ENOENT when it is no longer there. */
int moat_detach(const struct moat_iface_rec *rec);

/* Is the program recorded in rec still attached to its interface? */
bool moat_is_attached(const struct moat_iface_rec *rec);

const char *moat_mode_name(int mode);

#endif /* MOAT_ATTACH_H */
