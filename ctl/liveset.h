/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveset.h - live changes to the sets of the rule set in force
 * (`moat set add|del|flush|load`), kept in the pinned state (blob "sets")
 * as an overlay on the sets of the rule file:
 *
 *   base   the file's elements, none (flush) or a replacement list (load)
 *   adds   elements added, each with an expiry time (0 = none)
 *   dels   file elements removed
 *
 * Every build of a rule file (apply, set commands) applies the overlay of
 * a set whose declaration - its elements in the file - is the one the
 * overlay was made against; a changed declaration drops the overlay (the
 * file wins).  Expired additions are dropped at every build.
 */
#ifndef MOAT_LIVESET_H
#define MOAT_LIVESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ruleset.h"

enum moat_live_base {
	MOAT_LIVE_FILE = 0, /* the file's elements */
	MOAT_LIVE_FLUSHED, /* none */
	MOAT_LIVE_LOADED, /* base[] */
};

struct moat_live_add {
	struct moat_prefix p;
	int64_t expires; /* unix seconds, 0 = never */
};

struct moat_live_set {
	char *name;
	uint64_t decl; /* hash of the declaration the overlay applies to */
	enum moat_live_base base_kind;
	struct moat_prefix *base;
	size_t nbase;
	struct moat_live_add *adds;
	size_t nadds;
	struct moat_prefix *dels;
	size_t ndels;
};

struct moat_live {
	struct moat_live_set *sets;
	size_t n;
};

/* Hash of a set's declared elements (order and duplicates ignored). */
uint64_t moat_live_decl_hash(const struct moat_set *s);

/* The blob path under the state root. */
void moat_live_path(const char *root, char *buf, size_t len);

/* Read (an absent blob is an empty overlay) / write (atomic). */
int moat_live_read(const char *root, struct moat_live *lv);
int moat_live_write(const char *root, const struct moat_live *lv);
void moat_live_free(struct moat_live *lv);

/* The overlay of set `name`, created when absent (decl from s). */
struct moat_live_set *moat_live_get(struct moat_live *lv, const char *name,
				    const struct moat_set *s, bool create);

/*
 * Apply the overlay to rs: sets whose overlay matches their declaration
 * get their live elements (expired additions left out).  Overlays of sets
 * whose declaration changed are removed from lv (*dropped counts them).
 * Returns 0 or -ENOMEM.
 */
int moat_live_overlay(struct moat_live *lv, struct moat_ruleset *rs,
		      int64_t now, size_t *dropped);

/* Drop expired additions; returns how many; *next gets the earliest
 * remaining expiry (0 = none). */
size_t moat_live_expire(struct moat_live *lv, int64_t now, int64_t *next);

/* Equal prefixes (family, length, masked address). */
bool moat_prefix_eq(const struct moat_prefix *a, const struct moat_prefix *b);

#endif /* MOAT_LIVESET_H */
