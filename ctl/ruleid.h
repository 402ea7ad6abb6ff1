/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ruleid.h - stable rule identity across applies.  A rule keeps its id (and
 * so its counters) when a rule with the same normalised text was in force;
 * the k-th occurrence of a text maps to the k-th old one.  Other rules get
 * fresh ids: ids no rule in force uses.
 */
#ifndef MOAT_RULEID_H
#define MOAT_RULEID_H

#include "image.h"
#include "state.h"

/* Fill img->rules[].id.  old (the rule set in force) may be NULL (first
 * apply).  prev (the previous generation, kept for rollback) may be NULL:
 * its ids are never handed out fresh, so a rollback finds its counters.
 * *fresh lists the ids given to new rules (their counters must be zeroed
 * before use).  Returns 0 or -errno (-ENOSPC: id space exhausted). */
int moat_assign_ids(const struct moat_gen_meta *old,
		    const struct moat_gen_meta *prev, struct moat_image *img,
		    uint32_t **fresh, size_t *nfresh);

/* The same with every rule set held in a slot (candidate, kept for
 * rollback) in keep[0..nkeep): none of their ids is handed out fresh. */
int moat_assign_ids_keep(const struct moat_gen_meta *old,
			 const struct moat_gen_meta *const *keep, size_t nkeep,
			 struct moat_image *img, uint32_t **fresh,
			 size_t *nfresh);

#endif /* MOAT_RULEID_H */
