/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapwrite.h - write a compiled image into one generation slot of the maps.
 * Knows the map layout of include/moat.h; knows nothing of pinning,
 * attaching or the rule language.
 */
#ifndef MOAT_MAPWRITE_H
#define MOAT_MAPWRITE_H

#include "image.h"

/* File descriptors of the program's maps (see include/moat.h). */
struct moat_map_fds {
	int config, gen_info, rules, l4cls;
	int gen_cls, gen_lpm4, gen_lpm6; /* outer ARRAY_OF_MAPS */
	int rule_stats, stats, redirect_map;
};

/*
 * Fill slot `slot` with img: create inner maps sized to the image, fill them
 * (batched), write rules, l4cls and gen_info for the slot, and install the
 * inner maps in the outer maps.  Does NOT touch config.active, so the slot
 * is not in force until moat_slot_activate().  Adds img's redirect targets
 * to redirect_map.  Returns 0 or -errno; on failure the active slot is
 * untouched.
 */
int moat_slot_write(const struct moat_map_fds *fds, unsigned int slot,
		    const struct moat_image *img);

/* Make `slot` the active one (one 32-bit store: atomic per packet). */
int moat_slot_activate(const struct moat_map_fds *fds, unsigned int slot);

/* Read config.active. */
int moat_slot_active(const struct moat_map_fds *fds, unsigned int *slot);

/* Zero the per-CPU counters of rule `id`. */
int moat_rule_stats_reset(const struct moat_map_fds *fds, uint32_t id);

#endif /* MOAT_MAPWRITE_H */
