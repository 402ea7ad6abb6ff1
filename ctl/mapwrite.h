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
	int cls, aleaf, a4top, a4tab, a4x, a4long, lpm6, a6top, a6mid, a6long;
	int rule_stats, stats, redirect_map;
};

/* Names of the maps, in the order of struct moat_map_fds (the pin names). */
#define MOAT_NMAPS 17
extern const char *const moat_map_names[MOAT_NMAPS];
int *moat_map_fd_slot(struct moat_map_fds *fds, size_t i);

/* Fill fds from a loaded object's maps (tests, bench).  0 or -ENOENT. */
struct bpf_object;
int moat_map_fds_from_obj(struct bpf_object *obj, struct moat_map_fds *fds);

/*
 * Fill slot `slot` with img: derive the kernel layout (layout.h), remove
 * the slot's old classifier entries, write the new ones, the slot's
 * leaves, l4cls range, rules and gen_info.  The address tables (a4tab,
 * a4long, lpm6) are numbered apart from slots: when the active slot's
 * table (or the slot's own previous one) holds the same address layout it
 * is reused as is; otherwise a table the active slot does not use is
 * rewritten.  Does NOT touch config.active, so the slot is not in force
 * until moat_slot_activate().  Adds img's redirect targets to
 * redirect_map.  Returns 0 or -errno (-E2BIG: over a limit); on failure
 * the active slot is untouched.  Treats config[0]'s slot as the one in
 * use (tests).
 */
/* config[port] = *c, its tag stamped from its slot's epoch (mode NONE;
 * include/moat.h).  Interfaces' entries are written by the moat_ctl
 * program (confirm.c), which stamps them the same way; this is for port 0
 * (test runs). */
int moat_config_write(const struct moat_map_fds *fds, uint32_t port,
		      const struct moat_config *c);
int moat_slot_write(const struct moat_map_fds *fds, unsigned int slot,
		    const struct moat_image *img);

/*
 * The same, for ctl: `live` has bit s set for every slot some interface
 * (or a candidate) uses.  The address table chosen is one no live slot
 * reads, unless it already holds the same layout; slots other than
 * `slot` that used a table being rewritten are marked unusable
 * (gen_info.atab = MOAT_ATABS).  -EBUSY: `slot` is live, or every
 * address table is read by a live slot with another layout.
 */
int moat_slot_write_live(const struct moat_map_fds *fds, unsigned int slot,
			 const struct moat_image *img, uint32_t live);

/* Tests and benchmarks (port 0, BPF_PROG_TEST_RUN): config[0].slot =
 * slot, no candidate.  ctl changes config through the moat_ctl program. */
int moat_slot_activate(const struct moat_map_fds *fds, unsigned int slot);

/* Read config[0].slot. */
int moat_slot_active(const struct moat_map_fds *fds, unsigned int *slot);

/* Zero the per-CPU counters of rule `id`. */
int moat_rule_stats_reset(const struct moat_map_fds *fds, uint32_t id);

#endif /* MOAT_MAPWRITE_H */
