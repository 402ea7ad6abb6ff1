/* SPDX-License-Identifier: GPL-2.0 */
/*
 * layout.h - the kernel layout of a compiled image: what the map writer
 * stores and what imagesim models.  Derived from the image alone:
 *
 *   - tuple masks per field class (see include/moat.h), and the gen_info
 *     masks (non-IP, L4, class 0, family x protocol);
 *   - leaves: the source and destination prefixes of a family merged into
 *     one set of "union" prefixes, each with the leaf (source class,
 *     destination class) of the longest prefix of each direction
 *     containing it;
 *   - IPv4: the DIR-24 cells (leaf of the longest union prefix <= /24 over
 *     each /24; cells holding longer prefixes get a leaf whose `lens` lists
 *     their lengths) and the longer prefixes themselves;
 *   - IPv6: the a6mid lines (per /48 holding union prefixes: its covering
 *     leaf, the prefixes up to /64 inline, the lengths > 64 present; per
 *     prefix < 48 its leaf), the prefixes > 64 (exact, per length) and
 *     what the trie holds (dense /48s; many lengths < 48).
 */
#ifndef MOAT_LAYOUT_H
#define MOAT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "image.h"

#define MOAT_A4_CELLS (1U << 24)

struct moat_long4 {
	uint32_t addr; /* host order, masked */
	uint8_t plen; /* 25..32 */
	uint32_t leaf;
};

struct moat_union6 {
	uint8_t addr[16];
	uint8_t plen;
	uint32_t leaf;
};

struct moat_layout {
	struct moat_gen_info info; /* img->info plus the masks */
	/* tuple masks per class: address (as source, as destination),
	 * sport, dport, flags */
	uint64_t *smask, *dmask;
	size_t naddr; /* address classes (max id + 1) */
	uint64_t *pmask[3]; /* [0] sport, [1] dport, [2] flags: 65536 each */
	/* leaves (aleaf of the slot); [0] = in no prefix */
	struct moat_aleaf *leaves;
	size_t nleaves;
	/* IPv4: MOAT_A4_CELLS leaf indexes, NULL when all 0; a4top: per
	 * /16 its leaf when all its cells hold it, else MOAT_A4_DESCEND */
	uint16_t *a4;
	uint16_t a4top[65536];
	struct moat_long4 *long4;
	size_t nlong4;
	/* IPv6 union prefixes: all (u6), those of the lpm6 trie (dense
	 * /48s with their covering /48, and those < 48 when a6short is
	 * MOAT_A6_SHORT_TRIE: short6), those > 64 in a6long (long6), and the
	 * a6mid lines (sorted by key, not yet placed: mid6); the lengths < 48
	 * probed as lines are in a6short */
	struct moat_union6 *u6;
	size_t nu6;
	struct moat_union6 *short6, *long6;
	size_t nshort6, nlong6;
	struct moat_a6mid *mid6;
	size_t nmid6;
	/* a6top: per /16 its leaf when it holds no union prefix longer than
	 * /16, else MOAT_A4_DESCEND */
	uint16_t a6top[65536];
	/* gen_info.a6short and a6bits of the layout (include/moat.h) */
	uint64_t a6short;
	uint32_t a6bits;
	/* hash of the address layout (cells, long4, u6 with leaf indexes) */
	uint64_t ahash;
	/* a mapping (of a cache entry, setcache.h) that the address arrays
	 * above may point into instead of owning memory; unmapped on free */
	void *map;
	size_t maplen;
};

/* Build; -E2BIG when the image needs more than MOAT_MAX_LEAVES leaves,
 * -EINVAL on a malformed image, -ENOMEM. */
int moat_layout_build(const struct moat_image *img, struct moat_layout *lo);
/*
 * The rest of a build whose address part - leaves (their classes and lens),
 * a4, a4top, long4, u6, short6, long6, mid6, ahash: all of it follows from
 * the image's lpm4/lpm6 alone - is already in lo (from a cache): the tuple
 * masks, gen_info masks and the leaves' masks.  On error lo is freed.
 */
int moat_layout_finish(const struct moat_image *img, struct moat_layout *lo);
void moat_layout_free(struct moat_layout *lo);

/* Zero the MOAT_A4X_BUCKETS buckets b and place the layout's prefixes
 * longer than /24 in them (those of /24s not marked MOAT_A4_LENS_HASH:
 * see layout.c).  moat_a4x_hashed: is addr's /24 one whose longer
 * prefixes are in a4long instead? */
void moat_a4x_place(struct moat_a4x *b, const struct moat_layout *lo);
bool moat_a4x_hashed(const struct moat_layout *lo, uint32_t addr);

/* Zero lines[0..MOAT_A6_LINES) and place the layout's a6mid lines as the
 * program searches them; -E2BIG when a line lies past MOAT_A6_PROBE. */
int moat_a6_place(struct moat_a6mid *lines, const struct moat_layout *lo);

#endif /* MOAT_LAYOUT_H */
