/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gens.h - generations per interface (the loaded and pinned state stage):
 * which slot each attached interface enforces (config[port]), candidates
 * beside it (shadow, canary), the slot it enforced before (rollback), and
 * which slots are free to write.  Knows nothing of rule files.
 */
#ifndef MOAT_GENS_H
#define MOAT_GENS_H

#include <stdbool.h>
#include <stdint.h>
#include "confirm.h"
#include "state.h"

struct moat_gens {
	struct moat_iface_rec *recs; /* attached interfaces */
	size_t nrecs;
	struct moat_config cfg[MOAT_MAX_PORTS]; /* the config map */
	struct moat_gen_meta meta[MOAT_SLOTS];
	bool have[MOAT_SLOTS]; /* meta present and the slot usable */
	struct moat_confirm confirm;
};

/* Read records, config, slot metadata and the confirm state (maps open).
 * A record whose change the kernel reverted gets prev = the undone slot. */
int moat_gens_load(struct moat_state *st, struct moat_gens *g);
void moat_gens_free(struct moat_gens *g);

/* Slots read by some attached interface (in force or candidate). */
uint32_t moat_gens_live(const struct moat_gens *g);

/* The slot to show as "the" rule set: the one most interfaces enforce,
 * the newest generation on a tie.  -1 when nothing is applied. */
int moat_gens_view(const struct moat_gens *g);

/* A slot to write a new rule set into: not in `busy`; unused ones first,
 * then ones no interface could roll back to, then the oldest.  -EBUSY. */
int moat_gens_pick(const struct moat_gens *g, uint32_t busy,
		   unsigned int *slot);

/* The next generation number (they only grow). */
uint32_t moat_gens_next_gen(const struct moat_gens *g);

/* A port no record uses (1..MOAT_MAX_PORTS-1), or 0 when all are taken. */
uint32_t moat_port_alloc(const struct moat_iface_rec *v, size_t n);

/* Generation in slot s, 0 when unknown. */
uint32_t moat_gens_gen(const struct moat_gens *g, int s);

/* Zero the candidate counters (cand_stats, cand_rules, shadow_src). */
int moat_cand_reset(struct moat_state *st);

/* Does any recorded interface have a candidate?  Fills *slot with it. */
bool moat_gens_candidate(const struct moat_gens *g, unsigned int *slot);

/* Ports of the records named in devs[0..ndevs) in netns ("" = ours), or
 * of every record when ndevs is 0.  -ENODEV (printed) when one is not
 * attached. */
int moat_gens_ports(const struct moat_gens *g, const char *netns,
		    char (*devs)[16], size_t ndevs, uint64_t *ports);

/* The record of port p, or NULL. */
struct moat_iface_rec *moat_gens_rec(struct moat_gens *g, uint32_t port);

/* Add to ch, for every record in ports with a shadow or canary candidate,
 * the end of that candidate (the slot in force alone).  *cand_gen and
 * *kept_gen get the generations of the (last) candidate and of the rule
 * set kept.  Returns whether there was one. */
bool moat_gens_end_cand(const struct moat_gens *g, uint64_t ports,
			struct moat_config_change *ch, uint32_t *cand_gen,
			uint32_t *kept_gen);

/* Run ch (MOAT_CONFIRM_SET) and record the interfaces (prev updated by
 * the caller).  Returns 0 or -errno. */
int moat_gens_commit(struct moat_state *st, struct moat_gens *g,
		     const struct moat_config_change *ch);

#endif /* MOAT_GENS_H */
