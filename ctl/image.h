/* SPDX-License-Identifier: GPL-2.0 */
/*
 * image.h - the compiled map image: output of the compiler (compile.c),
 * input of the map writer (mapwrite.c).  Plain data in the shapes of
 * include/moat.h; one image fills one generation slot.
 */
#ifndef MOAT_IMAGE_H
#define MOAT_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "../include/moat.h"

struct moat_cls_entry {
	struct moat_cls_key key;
	struct moat_cls_val val;
};

struct moat_lpm4_entry {
	struct moat_lpm4_key key;
	uint32_t cls;
};

struct moat_lpm6_entry {
	struct moat_lpm6_key key;
	uint32_t cls;
};

/* What the control plane keeps about each rule (not read by the program). */
struct moat_rule_info {
	const char *file; /* points into the rule set's interned names */
	unsigned int line, col;
	char *text; /* rule as written */
	char *norm; /* normalised text; stable rule identity is derived from it */
};

struct moat_layout;

struct moat_image {
	/* gen_info for the slot (gen number filled in by the loader) */
	struct moat_gen_info info;
	/* rules[pos], pos = file order; .id is filled in by the loader */
	struct moat_rule *rules;
	struct moat_rule_info *rule_info;
	size_t nrules;
	/* classifier hash */
	struct moat_cls_entry *cls;
	size_t ncls;
	/* address classes */
	struct moat_lpm4_entry *lpm4;
	size_t nlpm4;
	struct moat_lpm6_entry *lpm6;
	size_t nlpm6;
	/* port and TCP-flags classes, laid out as one slot of the l4cls map */
	uint16_t l4cls[MOAT_L4CLS_SIZE];
	/* redirect targets (ifindexes), distinct */
	uint32_t *redirect_ifindex;
	size_t nredirect;
	/* statistics of the compile, for status/--verbose */
	uint32_t naddr_classes, nport_classes, nflag_classes;
	/* 64-bit hash of the normalised rule set (policy, sets, rules) */
	uint64_t hash;
	/* connection tracking for the slot (ct_config[slot], ctl/ct.c) */
	struct moat_ct_config ct;
	/* the kernel layout (layout.h), built by the compiler to check its
	 * limits and kept for the map writer; NULL: derived when needed */
	struct moat_layout *layout;
};

void moat_image_free(struct moat_image *img);

#endif /* MOAT_IMAGE_H */
