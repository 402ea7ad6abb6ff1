// SPDX-License-Identifier: GPL-2.0
/*
 * layout.c - the kernel layout of a compiled image (see layout.h and
 * docs/design.md, "Kernel layout").
 *
 * Union prefixes: the image's prefixes of one family, source and
 * destination, sorted by (address, length) - a pre-order of the prefix
 * tree - and walked with one nesting stack per direction.  Each distinct
 * prefix P gets the leaf (class of the top of the source stack, class of
 * the top of the destination stack) after pushing P's own entries.  For an
 * address x, the longest union prefix containing x has the classes of the
 * longest source and destination prefixes containing x (a longer one would
 * be a longer union prefix).
 *
 * IPv4 cells: union prefixes <= /24 fill their range of /24 cells in
 * pre-order, so nested prefixes overwrite their parents; longer ones are
 * kept in long4 and mark the lengths present in their /24 cell, whose leaf
 * becomes (leaf, lens).  A /24's longer prefixes go together into its a4x
 * bucket (include/moat.h) while it has room, in pre-order; else the cell's
 * lens gets MOAT_A4_LENS_HASH and they go to a4long.  moat_a4x_place
 * fills the buckets the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bigalloc.h"
#include "hash.h"
#include "layout.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd

struct uitem {
	uint64_t hi, lo;
	uint32_t cls;
	uint8_t plen, dir;
};

static inline uint64_t mask_hi(unsigned int plen)
{
	return plen >= 64 ? ~0ULL : plen ? ~0ULL << (64 - plen) : 0;
}

static inline uint64_t mask_lo(unsigned int plen)
{
	return plen <= 64 ? 0 : plen >= 128 ? ~0ULL : ~0ULL << (128 - plen);
}

static inline uint64_t be64(const uint8_t *a, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 8; i++)
		v = v << 8 | (i < n ? a[i] : 0);
	return v;
}

static int ucmp(const struct uitem *x, const struct uitem *y)
{
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return 0;
}

static int ucmp_q(const void *a, const void *b)
{
	int c = ucmp(a, b);

	if (c)
		return c;
	/* stable for equal prefixes: keep input order (later wins) */
	return a < b ? -1 : a > b;
}

static inline bool ucontains(const struct uitem *p, const struct uitem *q)
{
	return p->plen <= q->plen && !((p->hi ^ q->hi) & mask_hi(p->plen)) &&
	       !((p->lo ^ q->lo) & mask_lo(p->plen));
}

/* ---- leaf interning: (scls, dcls, lens) -> index ---- */

struct leaftab {
	struct moat_aleaf *v;
	size_t n, cap;
	uint32_t *tab; /* index + 1 */
	size_t tabcap;
};

static uint64_t leaf_hash(uint32_t s, uint32_t d, uint32_t lens)
{
	return moat_mix64(((uint64_t)s << 32 | d) ^ moat_mix64(lens + 1));
}

static int leaf_rehash(struct leaftab *t, size_t cap)
{
	uint32_t *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t h = leaf_hash(t->v[i].scls, t->v[i].dcls, t->v[i].lens) &
			   (cap - 1);

		while (tab[h])
			h = (h + 1) & (cap - 1);
		tab[h] = (uint32_t)i + 1;
	}
	free(t->tab);
	t->tab = tab;
	t->tabcap = cap;
	return 0;
}

static int64_t leaf_get(struct leaftab *t, uint32_t s, uint32_t d,
			uint32_t lens)
{
	size_t h;

	if ((t->n + 1) * 2 > t->tabcap &&
	    leaf_rehash(t, t->tabcap ? t->tabcap * 2 : 1024))
		return -ENOMEM;
	h = leaf_hash(s, d, lens) & (t->tabcap - 1);
	while (t->tab[h]) {
		struct moat_aleaf *l = &t->v[t->tab[h] - 1];

		if (l->scls == s && l->dcls == d && l->lens == lens)
			return t->tab[h] - 1;
		h = (h + 1) & (t->tabcap - 1);
	}
	if (t->n >= MOAT_MAX_LEAVES) /* ids < MOAT_A4_DESCEND */
		return -E2BIG;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		void *p = realloc(t->v, nc * sizeof(*t->v));

		if (!p)
			return -ENOMEM;
		t->v = p;
		t->cap = nc;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].scls = s;
	t->v[t->n].dcls = d;
	t->v[t->n].lens = lens;
	t->tab[h] = (uint32_t)t->n + 1;
	return (int64_t)t->n++;
}

/* ---- union prefixes of one family ---- */

/* items of family fam, direction dir, sorted */
static int collect(const struct moat_image *img, int fam, int dir,
		   struct uitem **out, size_t *nout)
{
	size_t n = fam == 4 ? img->nlpm4 : img->nlpm6, k = 0;
	struct uitem *v = moat_calloc_big(n, sizeof(*v)); /* padding hashed */
	bool sorted = true;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct uitem *u = &v[k];
		unsigned int plen;

		if (fam == 4) {
			const struct moat_lpm4_entry *e = &img->lpm4[i];

			if (e->key.dir != dir)
				continue;
			plen = e->key.prefixlen - 8;
			if (e->key.prefixlen < 8 || plen > 32)
				goto inval;
			u->hi = be64(e->key.addr, 4);
			u->lo = 0;
			u->cls = e->cls;
		} else {
			const struct moat_lpm6_entry *e = &img->lpm6[i];

			if (e->key.dir != dir)
				continue;
			plen = e->key.prefixlen - 8;
			if (e->key.prefixlen < 8 || plen > 128)
				goto inval;
			u->hi = be64(e->key.addr, 8);
			u->lo = be64(e->key.addr + 8, 8);
			u->cls = e->cls;
		}
		u->hi &= mask_hi(plen);
		u->lo &= mask_lo(plen);
		u->plen = (uint8_t)plen;
		u->dir = (uint8_t)dir;
		if (k && ucmp(&v[k - 1], u) > 0)
			sorted = false;
		k++;
	}
	if (!sorted)
		qsort(v, k, sizeof(*v), ucmp_q);
	*out = v;
	*nout = k;
	return 0;
inval:
	free(v);
	return -EINVAL;
}

struct uout {
	struct uitem p;
	uint32_t leaf;
};

/* Merge the two directions of family fam into union prefixes with leaves. */
static int union_fam(const struct moat_image *img, int fam,
		     struct leaftab *lt, struct uout **out, size_t *nout)
{
	struct uitem *d0 = NULL, *d1 = NULL, *stk[2][130];
	size_t n0 = 0, n1 = 0, i = 0, j = 0, n = 0, sp[2] = { 0, 0 };
	struct uout *o = NULL;
	int err;

	err = collect(img, fam, 0, &d0, &n0);
	if (!err)
		err = collect(img, fam, 1, &d1, &n1);
	if (err)
		goto out;
	o = moat_calloc_big(n0 + n1 + 1, sizeof(*o));
	if (!o) {
		err = -ENOMEM;
		goto out;
	}
	while (i < n0 || j < n1) {
		const struct uitem *p;
		uint32_t cls[2];
		int64_t leaf;

		if (j >= n1 || (i < n0 && ucmp(&d0[i], &d1[j]) <= 0))
			p = &d0[i];
		else
			p = &d1[j];
		for (int d = 0; d < 2; d++)
			while (sp[d] && !ucontains(stk[d][sp[d] - 1], p))
				sp[d]--;
		/* own entries of p in each direction (the last one wins) */
		while (i < n0 && !ucmp(&d0[i], p)) {
			if (sp[0] && !ucmp(stk[0][sp[0] - 1], &d0[i]))
				stk[0][sp[0] - 1] = &d0[i];
			else if (sp[0] < 130)
				stk[0][sp[0]++] = &d0[i];
			i++;
		}
		while (j < n1 && !ucmp(&d1[j], p)) {
			if (sp[1] && !ucmp(stk[1][sp[1] - 1], &d1[j]))
				stk[1][sp[1] - 1] = &d1[j];
			else if (sp[1] < 130)
				stk[1][sp[1]++] = &d1[j];
			j++;
		}
		for (int d = 0; d < 2; d++)
			cls[d] = sp[d] ? stk[d][sp[d] - 1]->cls : 0;
		leaf = leaf_get(lt, cls[0], cls[1], 0);
		if (leaf < 0) {
			err = (int)leaf;
			goto out;
		}
		o[n].p = *p;
		o[n].leaf = (uint32_t)leaf;
		n++;
	}
	*out = o;
	*nout = n;
	o = NULL;
out:
	free(o);
	free(d0);
	free(d1);
	return err;
}

/* ---- tuple masks ---- */

static int build_masks(const struct moat_image *img, struct moat_layout *lo)
{
	struct moat_gen_info *gi = &lo->info;
	uint64_t nt_src = 0, nt_dst = 0, nt_f[3] = { 0, 0, 0 };
	uint64_t anyproto[2] = { 0, 0 };
	uint32_t maxa = 0;
	size_t i;

	if (gi->ntuples > MOAT_MAX_TUPLES)
		return -EINVAL;
	for (i = 0; i < img->nlpm4; i++)
		if (img->lpm4[i].cls > maxa)
			maxa = img->lpm4[i].cls;
	for (i = 0; i < img->nlpm6; i++)
		if (img->lpm6[i].cls > maxa)
			maxa = img->lpm6[i].cls;
	for (i = 0; i < img->ncls; i++) {
		if (img->cls[i].key.src > maxa)
			maxa = img->cls[i].key.src;
		if (img->cls[i].key.dst > maxa)
			maxa = img->cls[i].key.dst;
	}
	lo->naddr = (size_t)maxa + 1;
	lo->smask = calloc(lo->naddr, sizeof(uint64_t));
	lo->dmask = calloc(lo->naddr, sizeof(uint64_t));
	for (int k = 0; k < 3; k++)
		lo->pmask[k] = calloc(65536, sizeof(uint64_t));
	if (!lo->smask || !lo->dmask || !lo->pmask[0] || !lo->pmask[1] ||
	    !lo->pmask[2])
		return -ENOMEM;

	for (uint32_t t = 0; t < gi->ntuples; t++) {
		uint32_t f = gi->tuples[t].fields;
		uint64_t b = 1ULL << t;

		if (!(f & MOAT_F_SRC))
			nt_src |= b;
		if (!(f & MOAT_F_DST))
			nt_dst |= b;
		if (!(f & MOAT_F_SPORT))
			nt_f[0] |= b;
		if (!(f & MOAT_F_DPORT))
			nt_f[1] |= b;
		if (!(f & MOAT_F_FLAGS))
			nt_f[2] |= b;
		if (f & MOAT_F_L4)
			gi->l4_mask |= b;
	}
	for (i = 0; i < img->ncls; i++) {
		const struct moat_cls_key *k = &img->cls[i].key;
		uint32_t f;
		uint64_t b;
		int fam;

		if (k->tuple >= gi->ntuples)
			return -EINVAL;
		f = gi->tuples[k->tuple].fields;
		b = 1ULL << k->tuple;
		if (k->ethertype != ETH_P_IPV4 && k->ethertype != ETH_P_IPV6) {
			gi->nonip_mask |= b;
			continue;
		}
		fam = k->ethertype == ETH_P_IPV6;
		if (f & MOAT_F_PROTO)
			gi->proto_mask[fam][k->proto] |= b;
		else
			anyproto[fam] |= b;
		if (f & MOAT_F_SRC)
			lo->smask[k->src] |= b;
		if (f & MOAT_F_DST)
			lo->dmask[k->dst] |= b;
		if (f & MOAT_F_SPORT)
			lo->pmask[0][k->sport] |= b;
		if (f & MOAT_F_DPORT)
			lo->pmask[1][k->dport] |= b;
		if (f & MOAT_F_FLAGS)
			lo->pmask[2][k->flags] |= b;
	}
	for (i = 0; i < 256; i++) {
		gi->proto_mask[0][i] |= anyproto[0];
		gi->proto_mask[1][i] |= anyproto[1];
	}
	for (i = 0; i < lo->naddr; i++) {
		lo->smask[i] |= nt_src;
		lo->dmask[i] |= nt_dst;
	}
	for (int k = 0; k < 3; k++)
		for (i = 0; i < 65536; i++)
			lo->pmask[k][i] |= nt_f[k];
	gi->sport0_mask = lo->pmask[0][0];
	gi->dport0_mask = lo->pmask[1][0];
	gi->flags0_mask = lo->pmask[2][0];
	return 0;
}

/* ---- IPv4 cells ---- */

static int build_a4(struct moat_layout *lo, const struct uout *u, size_t n,
		    struct leaftab *lt)
{
	/* /16s whose cells were written: the others are all leaf 0 and are
	 * never read, so the pages of lo->a4 behind them stay untouched
	 * (calloc'd zero pages cost nothing until written or read; with huge
	 * pages, per 2 MiB) */
	uint8_t *touched, *fill;
	size_t nlong = 0;

	for (size_t i = 0; i < n; i++)
		nlong += u[i].p.plen > 24;
	if (nlong > MOAT_MAX_A4LONG)
		return -E2BIG;
	memset(lo->a4top, 0, sizeof(lo->a4top));
	if (!n)
		return 0;
	lo->a4 = moat_calloc_big(MOAT_A4_CELLS, sizeof(*lo->a4));
	lo->long4 = moat_malloc_big((nlong ? nlong : 1) * sizeof(*lo->long4));
	touched = calloc(65536, 1);
	if (!lo->a4 || !lo->long4 || !touched) {
		free(touched);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)(u[i].p.hi >> 32);
		unsigned int plen = u[i].p.plen;

		if (plen > 24) {
			struct moat_long4 *l = &lo->long4[lo->nlong4++];

			l->addr = a;
			l->plen = (uint8_t)plen;
			l->leaf = u[i].leaf;
			continue;
		}
		for (uint32_t c = a >> 8, e = c + (1U << (24 - plen)); c < e;
		     c++)
			lo->a4[c] = (uint16_t)u[i].leaf;
		memset(touched + (a >> 16), 1,
		       plen < 16 ? 1U << (16 - plen) : 1);
	}
	fill = lo->nlong4 ? calloc(MOAT_A4X_BUCKETS, 1) : NULL;
	if (lo->nlong4 && !fill) {
		free(touched);
		return -ENOMEM;
	}
	/* long prefixes of one /24 are contiguous (pre-order) */
	for (size_t i = 0; i < lo->nlong4;) {
		uint32_t cell = lo->long4[i].addr >> 8, lens = 0;
		uint32_t home = moat_a4x_home(cell);
		size_t j = i;
		int64_t leaf;

		while (j < lo->nlong4 && lo->long4[j].addr >> 8 == cell)
			lens |= 1U << (lo->long4[j++].plen - 25);
		if (fill[home] + (j - i) <= MOAT_A4X_WAYS)
			fill[home] += (uint8_t)(j - i);
		else
			lens |= MOAT_A4_LENS_HASH;
		leaf = leaf_get(lt, lt->v[lo->a4[cell]].scls,
				lt->v[lo->a4[cell]].dcls, lens);
		if (leaf < 0) {
			free(fill);
			free(touched);
			return (int)leaf;
		}
		lo->a4[cell] = (uint16_t)leaf;
		touched[cell >> 8] = 1;
		i = j;
	}
	for (uint32_t t = 0; t < 65536; t++) {
		const uint16_t *c = lo->a4 + ((size_t)t << 8);
		uint16_t v;

		if (!touched[t]) {
			lo->a4top[t] = 0; /* all leaf 0, which has no lens */
			continue;
		}
		v = c[0];
		for (unsigned int k = 1; k < 256 && v != MOAT_A4_DESCEND; k++)
			if (c[k] != v)
				v = MOAT_A4_DESCEND;
		/* a cell with longer prefixes below must be read */
		if (v != MOAT_A4_DESCEND && lt->v[v].lens)
			v = MOAT_A4_DESCEND;
		lo->a4top[t] = v;
	}
	free(fill);
	free(touched);
	return 0;
}

bool moat_a4x_hashed(const struct moat_layout *lo, uint32_t addr)
{
	return lo->a4 &&
	       (lo->leaves[lo->a4[addr >> 8]].lens & MOAT_A4_LENS_HASH);
}

void moat_a4x_place(struct moat_a4x *b, const struct moat_layout *lo)
{
	memset(b, 0, (size_t)MOAT_A4X_BUCKETS * sizeof(*b));
	for (size_t i = 0; i < lo->nlong4; i++) {
		const struct moat_long4 *l = &lo->long4[i];
		struct moat_a4x *h = &b[moat_a4x_home(l->addr >> 8)];
		unsigned int w = 0;

		if (moat_a4x_hashed(lo, l->addr))
			continue;
		while (w < MOAT_A4X_WAYS - 1 && h->e[w])
			w++;
		h->e[w] = moat_a4x_entry(l->addr, l->plen, l->leaf);
	}
}

/* IPv6 (include/moat.h, a6mid): a line per /48 that is a union prefix or
 * holds longer ones (its covering leaf from a stack over the pre-order,
 * prefixes up to /64 inline, lengths > 64 listed, or dense: the trie), and
 * a line per prefix < 48, or those in the trie when there are more than
 * MOAT_A6_NSHORT lengths of them. */
static int a6_line_cmp(const void *a, const void *b)
{
	const struct moat_a6mid *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* The fewest lines (1 << bits) that keep the load <= 1/2 and every line
 * within MOAT_A6_PROBE of its home; a dry run of moat_a6_place. */
static int a6_bits(struct moat_layout *lo)
{
	unsigned int bits = MOAT_A6_MIN_BITS;
	uint8_t *used = NULL;

	while (bits < MOAT_A6_BITS && lo->nmid6 > 1U << (bits - 1))
		bits++;
	for (; bits <= MOAT_A6_BITS; bits++) {
		uint32_t size = 1U << bits;
		size_t i;

		free(used);
		used = calloc(size, 1);
		if (!used)
			return -ENOMEM;
		for (i = 0; i < lo->nmid6; i++) {
			uint32_t h = moat_a6_home(lo->mid6[i].key, bits), j;

			for (j = 0; j < MOAT_A6_PROBE; j++) {
				uint8_t *u = &used[(h + j) & (size - 1)];

				if (!*u) {
					*u = 1;
					break;
				}
			}
			if (j == MOAT_A6_PROBE)
				break;
		}
		if (i == lo->nmid6)
			break;
	}
	free(used);
	if (bits > MOAT_A6_BITS)
		return -E2BIG;
	lo->a6bits = bits;
	return 0;
}

static int build_a6(struct moat_layout *lo)
{
	const struct moat_union6 *stk[MOAT_A6_MID + 2];
	size_t sp = 0, n = lo->nu6, nshort = 0;
	bool seen_short[MOAT_A6_MID] = { false };
	bool trie_short;
	uint64_t shortl = 0;

	for (size_t i = 0; i < n; i++)
		if (lo->u6[i].plen < MOAT_A6_MID && !seen_short[lo->u6[i].plen]) {
			seen_short[lo->u6[i].plen] = true;
			nshort++;
		}
	trie_short = nshort > MOAT_A6_NSHORT;
	for (int l = MOAT_A6_MID - 1, k = 0; l >= 0 && !trie_short; l--)
		if (seen_short[l])
			shortl |= (uint64_t)(l + 1) << (8 * k++);
	lo->a6short = trie_short ? MOAT_A6_SHORT_TRIE : shortl;
	/* a6top: prefixes up to /16 fill their /16s in pre-order (nested
	 * ones overwrite), then a /16 holding a longer one descends */
	memset(lo->a6top, 0, sizeof(lo->a6top));
	for (size_t i = 0; i < n; i++) {
		const struct moat_union6 *u = &lo->u6[i];
		uint32_t c = (uint32_t)u->addr[0] << 8 | u->addr[1];

		if (u->plen > 16)
			continue;
		for (uint32_t e = c + (1U << (16 - u->plen)); c < e; c++)
			lo->a6top[c] = (uint16_t)u->leaf;
	}
	for (size_t i = 0; i < n; i++)
		if (lo->u6[i].plen > 16)
			lo->a6top[lo->u6[i].addr[0] << 8 | lo->u6[i].addr[1]] =
				MOAT_A4_DESCEND;

	lo->short6 = calloc(2 * n + 1, sizeof(*lo->short6));
	lo->long6 = calloc(n + 1, sizeof(*lo->long6));
	lo->mid6 = calloc(n + 1, sizeof(*lo->mid6));
	if (!lo->short6 || !lo->long6 || !lo->mid6)
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		const struct moat_union6 *u = &lo->u6[i];
		unsigned int nin = 0, nlong = 0;
		bool seen[129] = { false };
		struct moat_a6mid *m;
		size_t j, k;

		while (sp) {
			const struct moat_union6 *t = stk[sp - 1];
			unsigned int full = t->plen / 8, rem = t->plen % 8;

			if (!memcmp(t->addr, u->addr, full) &&
			    (!rem || !((t->addr[full] ^ u->addr[full]) &
				       (0xff << (8 - rem)))))
				break;
			sp--;
		}
		if (u->plen < MOAT_A6_MID) {
			if (trie_short) {
				lo->short6[lo->nshort6++] = *u;
			} else {
				m = &lo->mid6[lo->nmid6++];
				m->key = moat_a6_key(be64(u->addr, 8), u->plen);
				m->leaf = (uint16_t)u->leaf;
			}
			if (sp < MOAT_A6_MID + 2)
				stk[sp++] = u;
			i++;
			continue;
		}
		/* this /48 (if a union prefix) and the longer prefixes below
		 * it: contiguous in pre-order */
		m = &lo->mid6[lo->nmid6++];
		m->key = moat_a6_key(be64(u->addr, 8), MOAT_A6_MID);
		m->leaf = (uint16_t)(u->plen == MOAT_A6_MID ? u->leaf :
				     sp ? stk[sp - 1]->leaf : 0);
		j = u->plen == MOAT_A6_MID ? i + 1 : i;
		for (k = j; k < n && lo->u6[k].plen > MOAT_A6_MID &&
			    !memcmp(lo->u6[k].addr, u->addr, 6);
		     k++) {
			if (lo->u6[k].plen <= 64)
				nin++;
			else if (!seen[lo->u6[k].plen]) {
				seen[lo->u6[k].plen] = true;
				nlong++;
			}
		}
		if (nin > MOAT_A6_NIN || nlong > MOAT_A6_NLONG) {
			struct moat_union6 *c = &lo->short6[lo->nshort6++];

			m->n = MOAT_A6_DENSE;
			memset(c, 0, sizeof(*c));
			memcpy(c->addr, u->addr, 6);
			c->plen = MOAT_A6_MID;
			c->leaf = m->leaf;
			for (; j < k; j++)
				lo->short6[lo->nshort6++] = lo->u6[j];
			i = k;
			continue;
		}
		/* inline, longest first (stable) */
		for (int l = 64; l > MOAT_A6_MID; l--)
			for (size_t x = j; x < k; x++) {
				const struct moat_union6 *e = &lo->u6[x];

				if (e->plen != l)
					continue;
				m->plen[m->n] = e->plen;
				m->mid[m->n] = (uint16_t)(e->addr[6] << 8 |
							  e->addr[7]);
				m->ileaf[m->n++] = (uint16_t)e->leaf;
			}
		for (int l = 128; l > 64; l--)
			if (seen[l])
				m->len[m->nl++] = (uint8_t)l;
		for (; j < k; j++)
			if (lo->u6[j].plen > 64)
				lo->long6[lo->nlong6++] = lo->u6[j];
		i = k;
	}
	if (lo->nmid6 > MOAT_A6_MAX_LINES)
		return -E2BIG;
	qsort(lo->mid6, lo->nmid6, sizeof(*lo->mid6), a6_line_cmp);
	return a6_bits(lo);
}

int moat_a6_place(struct moat_a6mid *lines, const struct moat_layout *lo)
{
	memset(lines, 0, MOAT_A6_LINES * sizeof(*lines));
	for (size_t i = 0; i < lo->nmid6; i++) {
		uint32_t bits = lo->a6bits, h, j;

		if (bits < MOAT_A6_MIN_BITS || bits > MOAT_A6_BITS)
			return -EINVAL;
		h = moat_a6_home(lo->mid6[i].key, bits);
		for (j = 0; j < MOAT_A6_PROBE; j++) {
			struct moat_a6mid *m =
				&lines[(h + j) & ((1U << bits) - 1)];

			if (!m->key) {
				*m = lo->mid6[i];
				break;
			}
		}
		if (j == MOAT_A6_PROBE)
			return -E2BIG;
	}
	return 0;
}

static uint64_t hash_words(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return moat_mix64(h);
}

/* tuple masks and gen_info masks (lo->info from the image) */
static int layout_masks(const struct moat_image *img, struct moat_layout *lo)
{
	lo->info = img->info;
	lo->info.nonip_mask = lo->info.l4_mask = 0;
	memset(lo->info.proto_mask, 0, sizeof(lo->info.proto_mask));
	return build_masks(img, lo);
}

/* the leaves' masks, from their classes */
static int leaf_masks(struct moat_layout *lo)
{
	for (size_t i = 0; i < lo->nleaves; i++) {
		struct moat_aleaf *l = &lo->leaves[i];

		if (l->scls >= lo->naddr || l->dcls >= lo->naddr)
			return -EINVAL;
		l->smask = lo->smask[l->scls];
		l->dmask = lo->dmask[l->dcls];
	}
	lo->info.nleaves = (uint32_t)lo->nleaves;
	return 0;
}

int moat_layout_build(const struct moat_image *img, struct moat_layout *lo)
{
	struct leaftab lt = { 0 };
	struct uout *u4 = NULL, *u6 = NULL;
	size_t n4 = 0, n6 = 0;
	uint64_t h;
	int err;

	memset(lo, 0, sizeof(*lo));
	err = layout_masks(img, lo);
	if (err)
		goto out;
	err = leaf_get(&lt, 0, 0, 0) < 0 ? -ENOMEM : 0; /* leaf 0 */
	if (!err)
		err = union_fam(img, 4, &lt, &u4, &n4);
	if (!err)
		err = union_fam(img, 6, &lt, &u6, &n6);
	if (!err)
		err = build_a4(lo, u4, n4, &lt);
	if (err)
		goto out;
	lo->u6 = malloc((n6 ? n6 : 1) * sizeof(*lo->u6));
	if (!lo->u6) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n6; i++) {
		struct moat_union6 *e = &lo->u6[i];

		for (int b = 0; b < 8; b++) {
			e->addr[b] = (uint8_t)(u6[i].p.hi >> (56 - 8 * b));
			e->addr[8 + b] = (uint8_t)(u6[i].p.lo >> (56 - 8 * b));
		}
		e->plen = u6[i].p.plen;
		e->leaf = u6[i].leaf;
	}
	lo->nu6 = n6;
	err = build_a6(lo);
	if (err)
		goto out;

	/* leaves: classes and masks */
	lo->leaves = lt.v;
	lo->nleaves = lt.n;
	lt.v = NULL;
	err = leaf_masks(lo);
	if (err)
		goto out;

	/* the address layout: what a4tab, a4long and lpm6 hold follows from
	 * the union prefixes and their leaves */
	h = 0x6d6f617461646472ULL;
	h = hash_words(u4, n4 * sizeof(*u4), h);
	h = hash_words(u6, n6 * sizeof(*u6), h);
	lo->ahash = h ? h : 1;
out:
	free(u4);
	free(u6);
	free(lt.v);
	free(lt.tab);
	if (err)
		moat_layout_free(lo);
	return err;
}

int moat_layout_finish(const struct moat_image *img, struct moat_layout *lo)
{
	int err = layout_masks(img, lo);

	if (!err)
		err = leaf_masks(lo);
	if (err)
		moat_layout_free(lo);
	return err;
}

/* free p unless it points into the cache mapping */
static void lfree(const struct moat_layout *lo, void *p)
{
	const char *m = lo->map;

	/* an empty array may point just past the end of the mapping */
	if (m && (const char *)p >= m && (const char *)p <= m + lo->maplen)
		return;
	free(p);
}

void moat_layout_free(struct moat_layout *lo)
{
	free(lo->smask);
	free(lo->dmask);
	for (int k = 0; k < 3; k++)
		free(lo->pmask[k]);
	lfree(lo, lo->leaves);
	lfree(lo, lo->a4);
	lfree(lo, lo->long4);
	lfree(lo, lo->u6);
	lfree(lo, lo->short6);
	lfree(lo, lo->long6);
	lfree(lo, lo->mid6);
	if (lo->map)
		munmap(lo->map, lo->maplen);
	memset(lo, 0, sizeof(*lo));
}
