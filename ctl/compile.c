// SPDX-License-Identifier: GPL-2.0
/*
 * compile.c - struct moat_ruleset -> struct moat_image.
 *
 * See docs/design.md for the design.  In short:
 *
 *  1. Atoms: every distinct address spec (prefix literal or set) used in a
 *     source position and, separately, in a destination position; every
 *     distinct port range per direction; every distinct TCP-flags test.
 *  2. Classes: a value's class is the set of atoms containing it.  Address
 *     classes are computed per trie prefix with a sort + nesting stack (the
 *     longest trie prefix matching a packet address determines exactly the
 *     atoms containing that address); port and flag classes by a sweep.
 *  3. Rules: each rule expands to the cross product of the classes that
 *     contain one of its atoms, per ethertype and protocol, as exact-match
 *     keys of one tuple (= the set of fields the rule compares).  Tuples
 *     are numbered by the lowest rule position they hold; on a key
 *     collision the lower position wins (first match).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/uio.h>

#include "bigalloc.h"
#include "hash.h"
#include "compile.h"
#include "ct.h"
#include "layout.h"
#include "setcache.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd

#define IPP_ICMP 1
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_ICMPV6 58
#define IPP_SCTP 132

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

static int vgrow(void *vp, size_t *cap, size_t need, size_t elem)
{
	void **v = vp;
	size_t nc;
	void *p;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	p = realloc(*v, nc * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
}

static uint64_t hash_bytes(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

/* fast hash of a fixed-size key (multiple of 4 bytes or not) */
static uint64_t key_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = moat_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
	}
	if (i < len) {
		uint64_t w = 0;

		memcpy(&w, p + i, len - i);
		h = moat_mix64(h ^ w);
	}
	return moat_mix64(h);
}

/* ------------------------------------------------------------------ */
/* keymap: fixed-size keys -> dense index, insertion order kept        */

struct keymap {
	size_t ksize;
	unsigned char *keys;
	size_t n, cap;
	uint32_t *tab; /* index + 1, 0 = empty */
	size_t tabcap; /* power of two */
};

static void keymap_init(struct keymap *m, size_t ksize)
{
	memset(m, 0, sizeof(*m));
	m->ksize = ksize;
}

static void keymap_free(struct keymap *m)
{
	free(m->keys);
	free(m->tab);
	memset(m, 0, sizeof(*m));
}

static inline const void *keymap_key(const struct keymap *m, size_t i)
{
	return m->keys + i * m->ksize;
}

static int keymap_rehash(struct keymap *m, size_t tabcap)
{
	uint32_t *tab = calloc(tabcap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		size_t h = key_hash(keymap_key(m, i), m->ksize) & (tabcap - 1);

		while (tab[h])
			h = (h + 1) & (tabcap - 1);
		tab[h] = (uint32_t)i + 1;
	}
	free(m->tab);
	m->tab = tab;
	m->tabcap = tabcap;
	return 0;
}

/* Find key; insert it when absent.  *idx = its index, returns 1 when it
 * was added, 0 when it was there, or -errno. */
static int keymap_put(struct keymap *m, const void *key, uint32_t *idx)
{
	size_t h;
	int err;

	if ((m->n + 1) * 2 > m->tabcap) {
		err = keymap_rehash(m, m->tabcap ? m->tabcap * 2 : 64);
		if (err)
			return err;
	}
	h = key_hash(key, m->ksize) & (m->tabcap - 1);
	while (m->tab[h]) {
		uint32_t i = m->tab[h] - 1;

		if (!memcmp(keymap_key(m, i), key, m->ksize)) {
			*idx = i;
			return 0;
		}
		h = (h + 1) & (m->tabcap - 1);
	}
	err = vgrow(&m->keys, &m->cap, m->n + 1, m->ksize);
	if (err)
		return err;
	memcpy(m->keys + m->n * m->ksize, key, m->ksize);
	m->tab[h] = (uint32_t)m->n + 1;
	*idx = (uint32_t)m->n++;
	return 1;
}

/* ------------------------------------------------------------------ */
/* interner: sorted atom-id sets -> class ids (0 = the empty set)      */

struct cls_span {
	uint32_t off, len;
};

struct interner {
	uint32_t *pool;
	size_t npool, cappool;
	struct cls_span *cls; /* cls[0] = empty set */
	size_t ncls, capcls;
	uint32_t *tab; /* class id, 0 = empty slot */
	size_t tabcap;
};

static uint64_t atoms_hash(const uint32_t *a, size_t n)
{
	return key_hash(a, n * sizeof(*a));
}

static int interner_init(struct interner *in)
{
	memset(in, 0, sizeof(*in));
	if (vgrow(&in->cls, &in->capcls, 1, sizeof(*in->cls)))
		return -ENOMEM;
	in->cls[0].off = 0;
	in->cls[0].len = 0;
	in->ncls = 1;
	return 0;
}

static void interner_free(struct interner *in)
{
	free(in->pool);
	free(in->cls);
	free(in->tab);
	memset(in, 0, sizeof(*in));
}

static int interner_rehash(struct interner *in, size_t tabcap)
{
	uint32_t *tab = calloc(tabcap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t c = 1; c < in->ncls; c++) {
		size_t h = atoms_hash(in->pool + in->cls[c].off,
				      in->cls[c].len) &
			   (tabcap - 1);

		while (tab[h])
			h = (h + 1) & (tabcap - 1);
		tab[h] = (uint32_t)c;
	}
	free(in->tab);
	in->tab = tab;
	in->tabcap = tabcap;
	return 0;
}

/* a must be sorted and distinct.  Returns class id >= 0 or -errno. */
static int64_t intern(struct interner *in, const uint32_t *a, size_t n)
{
	size_t h;
	int err;

	if (!n)
		return 0;
	if (in->ncls * 2 > in->tabcap) {
		err = interner_rehash(in, in->tabcap ? in->tabcap * 2 : 64);
		if (err)
			return err;
	}
	h = atoms_hash(a, n) & (in->tabcap - 1);
	while (in->tab[h]) {
		uint32_t c = in->tab[h];

		if (in->cls[c].len == n &&
		    !memcmp(in->pool + in->cls[c].off, a, n * sizeof(*a)))
			return c;
		h = (h + 1) & (in->tabcap - 1);
	}
	if (in->ncls >= UINT32_MAX - 1)
		return -E2BIG;
	if (vgrow(&in->pool, &in->cappool, in->npool + n, sizeof(*a)) ||
	    vgrow(&in->cls, &in->capcls, in->ncls + 1, sizeof(*in->cls)))
		return -ENOMEM;
	memcpy(in->pool + in->npool, a, n * sizeof(*a));
	in->cls[in->ncls].off = (uint32_t)in->npool;
	in->cls[in->ncls].len = (uint32_t)n;
	in->npool += n;
	in->tab[h] = (uint32_t)in->ncls;
	return (int64_t)in->ncls++;
}

/* Inverted index: for each atom, the classes whose set holds it (CSR). */
struct inverse {
	uint32_t *off; /* natoms + 1 */
	uint32_t *cls;
};

static void inverse_free(struct inverse *iv)
{
	free(iv->off);
	free(iv->cls);
	memset(iv, 0, sizeof(*iv));
}

static int inverse_build(struct inverse *iv, const struct interner *in,
			 size_t natoms)
{
	uint32_t *fill;

	iv->off = calloc(natoms + 1, sizeof(*iv->off));
	iv->cls = malloc((in->npool ? in->npool : 1) * sizeof(*iv->cls));
	fill = calloc(natoms + 1, sizeof(*fill));
	if (!iv->off || !iv->cls || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (size_t c = 1; c < in->ncls; c++)
		for (uint32_t k = 0; k < in->cls[c].len; k++)
			iv->off[in->pool[in->cls[c].off + k] + 1]++;
	for (size_t a = 0; a < natoms; a++)
		iv->off[a + 1] += iv->off[a];
	for (size_t c = 1; c < in->ncls; c++)
		for (uint32_t k = 0; k < in->cls[c].len; k++) {
			uint32_t a = in->pool[in->cls[c].off + k];

			iv->cls[iv->off[a] + fill[a]++] = (uint32_t)c;
		}
	free(fill);
	return 0;
}

struct stamp {
	uint32_t *v; /* per class */
	uint32_t gen;
	size_t n;
};

static int stamp_init(struct stamp *st, size_t n)
{
	st->v = calloc(n ? n : 1, sizeof(*st->v));
	st->n = n;
	st->gen = 0;
	return st->v ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ */
/* address atoms and classes                                          */

struct aatom_key {
	uint8_t dir, kind, family, plen;
	uint32_t set;
	uint8_t addr[16];
};

/* A trie prefix as two host-order 64-bit halves (IPv4 in the top 32 bits
 * of hi), so sorting and containment are integer operations. */
struct pitem {
	uint64_t hi, lo;
	uint32_t atom;
	uint8_t plen;
};

static int pitem_cmp(const void *a, const void *b)
{
	const struct pitem *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	if (x->atom != y->atom)
		return x->atom < y->atom ? -1 : 1;
	return 0;
}

static inline uint64_t mask_hi(unsigned int plen)
{
	return plen >= 64 ? ~0ULL : plen ? ~0ULL << (64 - plen) : 0;
}

static inline uint64_t mask_lo(unsigned int plen)
{
	return plen <= 64 ? 0 : plen >= 128 ? ~0ULL : ~0ULL << (128 - plen);
}

/* does prefix p contain prefix q? */
static inline bool pitem_contains(const struct pitem *p, const struct pitem *q)
{
	return p->plen <= q->plen && !((p->hi ^ q->hi) & mask_hi(p->plen)) &&
	       !((p->lo ^ q->lo) & mask_lo(p->plen));
}

static inline uint64_t be64_load(const uint8_t *a)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | a[i];
	return v;
}

static inline void be64_store(uint8_t *a, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Byte k of an item's sort key, k = 0 least significant: the key is
 * (hi, lo, plen, atom), so atom bytes come first, hi's top byte last. */
static inline uint8_t pitem_byte(const struct pitem *p, int k)
{
	if (k < 4)
		return (uint8_t)(p->atom >> (8 * k));
	if (k == 4)
		return p->plen;
	if (k < 13)
		return (uint8_t)(p->lo >> (8 * (k - 5)));
	return (uint8_t)(p->hi >> (8 * (k - 13)));
}

#define PITEM_KEY_BYTES 21

/* Scratch item arrays, kept for the whole compile: each build of a trie and
 * each set's hash reuse them instead of faulting in fresh pages. */
struct pscratch {
	struct pitem *it, *tmp;
	size_t capit, captmp;
};

/* Room for n items in *v (contents not kept), on huge pages when big. */
static int scratch_room(struct pitem **v, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	free(*v);
	*v = moat_malloc_big(n * sizeof(**v));
	*cap = *v ? n : 0;
	return *v ? 0 : -ENOMEM;
}

/* Sort items in pitem_cmp order: LSD radix sort, O(n) per key byte, bytes
 * that are equal in every item skipped (an IPv4 set sorts in ~5 passes).
 * v must not be ps->tmp, which is the sort's scratch. */
static int pitem_sort(struct pitem *v, size_t n, struct pscratch *ps)
{
	size_t(*cnt)[256];
	struct pitem *tmp, *src = v, *dst;

	if (n < 256) {
		qsort(v, n, sizeof(*v), pitem_cmp);
		return 0;
	}
	if (scratch_room(&ps->tmp, &ps->captmp, n))
		return -ENOMEM;
	tmp = ps->tmp;
	cnt = calloc(PITEM_KEY_BYTES, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < PITEM_KEY_BYTES; k++)
			cnt[k][pitem_byte(&v[i], k)]++;
	dst = tmp;
	for (int k = 0; k < PITEM_KEY_BYTES; k++) {
		size_t sum = 0;
		bool trivial = false;

		for (int b = 0; b < 256; b++)
			if (cnt[k][b] == n)
				trivial = true;
		if (trivial)
			continue;
		for (int b = 0; b < 256; b++) {
			size_t c = cnt[k][b];

			cnt[k][b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[k][pitem_byte(&src[i], k)]++] = src[i];
		dst = src;
		src = src == v ? tmp : v;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(cnt);
	return 0;
}

/* p -> item (host bits cleared, plen clamped to the family's width) */
static void pitem_set(struct pitem *it, const struct moat_prefix *p,
		      uint32_t atom)
{
	unsigned int max = p->family == 4 ? 32 : 128;
	unsigned int plen = p->plen > max ? max : p->plen;

	if (p->family == 4) {
		it->hi = be64_load(p->addr) & 0xffffffff00000000ULL;
		it->lo = 0;
	} else {
		it->hi = be64_load(p->addr);
		it->lo = be64_load(p->addr + 8);
	}
	it->hi &= mask_hi(plen);
	it->lo &= mask_lo(plen);
	it->plen = (uint8_t)plen;
	it->atom = atom;
}

static void prefix_canon(uint8_t *dst, const struct moat_prefix *p)
{
	unsigned int alen = p->family == 4 ? 4 : 16;
	unsigned int plen = p->plen > alen * 8 ? alen * 8 : p->plen;

	memset(dst, 0, 16);
	memcpy(dst, p->addr, alen);
	for (unsigned int i = 0; i < alen; i++) {
		unsigned int bit = i * 8;

		if (bit >= plen)
			dst[i] = 0;
		else if (bit + 8 > plen)
			dst[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

/* ------------------------------------------------------------------ */
/* compile state                                                      */

struct rref {
	uint32_t src_off, src_n, dst_off, dst_n; /* into c->ratoms */
	uint32_t sp_off, sp_n, dp_off, dp_n;
	int64_t flags_atom; /* -1 = none */
	uint32_t ifindex;
};

struct aatom {
	uint8_t dir, kind, fammask; /* fammask: bit0 v4, bit1 v6 */
	struct moat_prefix prefix;
	uint32_t set;
};

struct cstate {
	const struct moat_ruleset *rs;
	struct moat_image *img;
	struct moat_diags *diags;

	struct rref *rr;
	uint32_t *ratoms;
	size_t nratoms, capratoms;

	/* address atoms */
	struct keymap amap;
	struct aatom *aatoms;
	size_t capaatoms;
	struct interner acls;
	struct inverse ainv;
	uint8_t *apresence; /* per class: bit0 in lpm4, bit1 in lpm6 */

	/* port atoms (per direction) and flag atoms */
	struct keymap pmap[2];
	struct interner pcls[2];
	struct inverse pinv[2];
	struct keymap fmap;
	struct interner fcls;
	struct inverse finv;

	/* lpm building */
	size_t caplpm4, caplpm6;

	/* scratch: de-duplication of collected classes */
	struct stamp astamp, pstamp[2], fstamp;
	/* scratch: trie items */
	struct pscratch ps;

	/* cache of the address part (setcache.h): key 0 = not cached */
	uint64_t salt; /* moat_cache_salt(), 0 = the cache is off */
	uint64_t akey;
	struct moat_cache_entry aentry; /* a hit, until check_layout */
	uint64_t *sethash; /* per set: hash of its elements, 0 = not yet */
};

static const struct moat_loc *rule_loc(const struct moat_ruleset *rs,
				       size_t pos)
{
	return &rs->rules[pos].loc;
}

static int push_ratom(struct cstate *c, uint32_t a)
{
	if (vgrow(&c->ratoms, &c->capratoms, c->nratoms + 1,
		  sizeof(*c->ratoms)))
		return -ENOMEM;
	c->ratoms[c->nratoms++] = a;
	return 0;
}

static int add_addr_atoms(struct cstate *c, const struct moat_addr_list *l,
			  uint8_t dir, uint32_t *off, uint32_t *n)
{
	const struct moat_ruleset *rs = c->rs;
	int err;

	*off = (uint32_t)c->nratoms;
	for (size_t i = 0; i < l->n; i++) {
		const struct moat_addr *ad = &l->v[i];
		struct aatom_key k;
		uint32_t idx;

		memset(&k, 0, sizeof(k));
		k.dir = dir;
		k.kind = (uint8_t)ad->kind;
		if (ad->kind == MOAT_ADDR_SET) {
			if (ad->set >= rs->nsets)
				return -EINVAL;
			k.set = ad->set;
		} else {
			k.family = ad->prefix.family;
			k.plen = ad->prefix.plen;
			prefix_canon(k.addr, &ad->prefix);
		}
		err = keymap_put(&c->amap, &k, &idx);
		if (err < 0)
			return err;
		if (err == 1) {
			struct aatom *at;

			if (vgrow(&c->aatoms, &c->capaatoms, c->amap.n,
				  sizeof(*c->aatoms)))
				return -ENOMEM;
			at = &c->aatoms[idx];
			memset(at, 0, sizeof(*at));
			at->dir = dir;
			at->kind = (uint8_t)ad->kind;
			if (ad->kind == MOAT_ADDR_SET) {
				const struct moat_set *s = &rs->sets[ad->set];
				uint8_t fm = 0;

				at->set = ad->set;
				/* in a local: a store per element otherwise */
				for (size_t e = 0; e < s->n && fm != 3; e++)
					fm |= s->elems[e].family == 4 ? 1 : 2;
				at->fammask = fm;
			} else {
				at->prefix = ad->prefix;
				at->fammask = ad->prefix.family == 4 ? 1 : 2;
			}
		}
		/* an atom twice in one list is harmless: collect_classes()
		 * de-duplicates the classes */
		if (push_ratom(c, idx))
			return -ENOMEM;
	}
	*n = (uint32_t)(c->nratoms - *off);
	return 0;
}

static int add_port_atoms(struct cstate *c, const struct moat_port_list *l,
			  int dir, uint32_t *off, uint32_t *n)
{
	int err;

	*off = (uint32_t)c->nratoms;
	for (size_t i = 0; i < l->n; i++) {
		uint16_t k[2] = { l->v[i].lo, l->v[i].hi };
		uint32_t idx;

		if (k[0] > k[1]) {
			uint16_t t = k[0];

			k[0] = k[1];
			k[1] = t;
		}
		err = keymap_put(&c->pmap[dir], k, &idx);
		if (err < 0)
			return err;
		if (push_ratom(c, idx))
			return -ENOMEM;
	}
	*n = (uint32_t)(c->nratoms - *off);
	return 0;
}

/* Build the trie prefixes of direction dir, family fam. */
static int build_addr_dir_fam(struct cstate *c, uint8_t dir, uint8_t fam)
{
	const struct moat_ruleset *rs = c->rs;
	struct moat_image *img = c->img;
	struct pitem *it;
	size_t n = 0;
	struct {
		const struct pitem *p;
		uint32_t cls;
	} *stack = NULL;
	size_t sp = 0;
	uint32_t *merged = NULL;
	size_t capmerged = 0;
	unsigned int alen = fam == 4 ? 4 : 16;
	int err = -ENOMEM;

	for (size_t a = 0; a < c->amap.n; a++) {
		const struct aatom *at = &c->aatoms[a];

		if (at->dir != dir)
			continue;
		n += at->kind == MOAT_ADDR_PREFIX ? 1 : rs->sets[at->set].n;
	}
	if (scratch_room(&c->ps.it, &c->ps.capit, n ? n : 1))
		return -ENOMEM;
	it = c->ps.it;
	n = 0;
	for (size_t a = 0; a < c->amap.n; a++) {
		const struct aatom *at = &c->aatoms[a];

		if (at->dir != dir)
			continue;
		if (at->kind == MOAT_ADDR_PREFIX) {
			if (at->prefix.family != fam)
				continue;
			pitem_set(&it[n++], &at->prefix, (uint32_t)a);
		} else {
			const struct moat_set *s = &rs->sets[at->set];

			for (size_t e = 0; e < s->n; e++) {
				if (s->elems[e].family != fam)
					continue;
				pitem_set(&it[n++], &s->elems[e], (uint32_t)a);
			}
		}
	}
	if (!n) {
		err = 0;
		goto out;
	}
	if (pitem_sort(it, n, &c->ps))
		goto out;
	stack = malloc((alen * 8 + 2) * sizeof(*stack));
	if (!stack)
		goto out;

	for (size_t i = 0; i < n;) {
		size_t j = i, nm = 0;
		uint32_t parent;
		const struct cls_span *ps;
		int64_t cl;

		while (j < n && it[j].plen == it[i].plen &&
		       it[j].hi == it[i].hi && it[j].lo == it[i].lo)
			j++;
		while (sp && !pitem_contains(stack[sp - 1].p, &it[i]))
			sp--;
		parent = sp ? stack[sp - 1].cls : 0;
		ps = &c->acls.cls[parent];
		/* merged = parent's atoms U own atoms (both sorted) */
		if (vgrow(&merged, &capmerged, ps->len + (j - i),
			  sizeof(*merged)))
			goto out;
		{
			const uint32_t *pa =
				ps->len ? c->acls.pool + ps->off : NULL;
			size_t x = 0, y = i;

			while (x < ps->len || y < j) {
				uint32_t v;

				if (y >= j || (x < ps->len && pa[x] < it[y].atom))
					v = pa[x++];
				else if (x >= ps->len || it[y].atom < pa[x])
					v = it[y++].atom;
				else {
					v = pa[x++];
					y++;
				}
				if (!nm || merged[nm - 1] != v)
					merged[nm++] = v;
			}
		}
		cl = intern(&c->acls, merged, nm);
		if (cl < 0) {
			err = (int)cl;
			goto out;
		}
		stack[sp].p = &it[i];
		stack[sp].cls = (uint32_t)cl;
		sp++;

		if (fam == 4) {
			struct moat_lpm4_entry *e;

			if (vgrow(&img->lpm4, &c->caplpm4, img->nlpm4 + 1,
				  sizeof(*img->lpm4)))
				goto out;
			e = &img->lpm4[img->nlpm4++];
			memset(e, 0, sizeof(*e));
			e->key.prefixlen = 8 + it[i].plen;
			e->key.dir = dir;
			{
				uint8_t a8[8];

				be64_store(a8, it[i].hi);
				memcpy(e->key.addr, a8, 4);
			}
			e->cls = (uint32_t)cl;
		} else {
			struct moat_lpm6_entry *e;

			if (vgrow(&img->lpm6, &c->caplpm6, img->nlpm6 + 1,
				  sizeof(*img->lpm6)))
				goto out;
			e = &img->lpm6[img->nlpm6++];
			memset(e, 0, sizeof(*e));
			e->key.prefixlen = 8 + it[i].plen;
			e->key.dir = dir;
			be64_store(e->key.addr, it[i].hi);
			be64_store(e->key.addr + 8, it[i].lo);
			e->cls = (uint32_t)cl;
		}
		i = j;
	}
	err = 0;
out:
	free(stack);
	free(merged);
	return err;
}

static const struct moat_set *largest_set(const struct moat_ruleset *rs,
					  int fam)
{
	const struct moat_set *best = NULL;
	size_t bestn = 0;

	for (size_t s = 0; s < rs->nsets; s++) {
		size_t n = 0;

		for (size_t e = 0; e < rs->sets[s].n; e++)
			n += rs->sets[s].elems[e].family == fam;
		if (n > bestn) {
			bestn = n;
			best = &rs->sets[s];
		}
	}
	return best;
}

static int addr_cache_load(struct cstate *c);

static int build_addr_classes(struct cstate *c)
{
	struct moat_image *img = c->img;
	int err;

	err = addr_cache_load(c);
	if (err < 0)
		return err;
	if (err != 1) {
		/* room for every prefix at once: the arrays are never moved
		 * (moved pages are touched again at the new place) */
		size_t n4 = 0, n6 = 0;

		for (size_t a = 0; a < c->amap.n; a++) {
			const struct aatom *at = &c->aatoms[a];
			size_t n = at->kind == MOAT_ADDR_PREFIX ?
					   1 :
					   c->rs->sets[at->set].n;

			n4 += at->fammask & 1 ? n : 0;
			n6 += at->fammask & 2 ? n : 0;
		}
		img->lpm4 = moat_malloc_big((n4 + 1) * sizeof(*img->lpm4));
		img->lpm6 = moat_malloc_big((n6 + 1) * sizeof(*img->lpm6));
		if (!img->lpm4 || !img->lpm6)
			return -ENOMEM;
		c->caplpm4 = n4 + 1;
		c->caplpm6 = n6 + 1;
	}
	for (uint8_t dir = 0; dir < 2 && err != 1; dir++) {
		err = build_addr_dir_fam(c, dir, 4);
		if (err)
			return err;
		err = build_addr_dir_fam(c, dir, 6);
		if (err)
			return err;
	}
	if (img->nlpm4 > MOAT_MAX_LPM4) {
		const struct moat_set *s = largest_set(c->rs, 4);

		moat_diag_add(c->diags, MOAT_DIAG_ERROR, s ? &s->loc : NULL,
			      "rule set needs %zu IPv4 prefixes (source and destination tries); the limit is %u%s%s%s",
			      img->nlpm4, (unsigned int)MOAT_MAX_LPM4,
			      s ? " (largest set '" : "", s ? s->name : "",
			      s ? "')" : "");
	}
	if (img->nlpm6 > MOAT_MAX_LPM6) {
		const struct moat_set *s = largest_set(c->rs, 6);

		moat_diag_add(c->diags, MOAT_DIAG_ERROR, s ? &s->loc : NULL,
			      "rule set needs %zu IPv6 prefixes (source and destination tries); the limit is %u%s%s%s",
			      img->nlpm6, (unsigned int)MOAT_MAX_LPM6,
			      s ? " (largest set '" : "", s ? s->name : "",
			      s ? "')" : "");
	}
	c->apresence = calloc(c->acls.ncls, 1);
	if (!c->apresence || stamp_init(&c->astamp, c->acls.ncls))
		return -ENOMEM;
	for (size_t i = 0; i < img->nlpm4; i++)
		c->apresence[img->lpm4[i].cls] |= 1;
	for (size_t i = 0; i < img->nlpm6; i++)
		c->apresence[img->lpm6[i].cls] |= 2;
	img->naddr_classes = (uint32_t)(c->acls.ncls - 1);
	return inverse_build(&c->ainv, &c->acls, c->amap.n);
}

struct pevent {
	uint32_t at; /* 0..65536 */
	uint32_t atom;
	int add;
};

static int pevent_cmp(const void *a, const void *b)
{
	const struct pevent *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return 0;
}

static int build_port_classes(struct cstate *c, int dir)
{
	struct keymap *m = &c->pmap[dir];
	struct interner *in = &c->pcls[dir];
	uint16_t *out = c->img->l4cls +
			(dir ? MOAT_L4CLS_DPORT : MOAT_L4CLS_SPORT);
	struct pevent *ev = calloc(2 * m->n + 1, sizeof(*ev));
	uint32_t *act = calloc(m->n + 1, sizeof(*act));
	size_t nev = 0, nact = 0;
	uint32_t cur = 0;
	int err = -ENOMEM;

	if (!ev || !act)
		goto out;
	for (size_t a = 0; a < m->n; a++) {
		const uint16_t *k = keymap_key(m, a);

		ev[nev++] = (struct pevent){ k[0], (uint32_t)a, 1 };
		ev[nev++] = (struct pevent){ (uint32_t)k[1] + 1, (uint32_t)a,
					     0 };
	}
	qsort(ev, nev, sizeof(*ev), pevent_cmp);
	for (size_t i = 0; i <= nev;) {
		uint32_t x = i < nev ? ev[i].at : 65536;
		int64_t cl;

		if (x > cur) {
			cl = intern(in, act, nact);
			if (cl < 0) {
				err = (int)cl;
				goto out;
			}
			if (cl > UINT16_MAX) {
				moat_diag_add(c->diags, MOAT_DIAG_ERROR, NULL,
					      "rule set needs more than %u %s port classes: too many distinct port ranges",
					      (unsigned int)UINT16_MAX,
					      dir ? "destination" : "source");
				err = 0;
				goto out;
			}
			for (uint32_t p = cur; p < x; p++)
				out[p] = (uint16_t)cl;
			cur = x;
		}
		if (i == nev)
			break;
		for (; i < nev && ev[i].at == x; i++) {
			uint32_t a = ev[i].atom;
			size_t k = 0;

			while (k < nact && act[k] < a)
				k++;
			if (ev[i].add) {
				memmove(act + k + 1, act + k,
					(nact - k) * sizeof(*act));
				act[k] = a;
				nact++;
			} else if (k < nact && act[k] == a) {
				memmove(act + k, act + k + 1,
					(nact - k - 1) * sizeof(*act));
				nact--;
			}
		}
	}
	c->img->nport_classes += (uint32_t)(in->ncls - 1);
	err = stamp_init(&c->pstamp[dir], in->ncls);
	if (!err)
		err = inverse_build(&c->pinv[dir], in, m->n);
out:
	free(ev);
	free(act);
	return err;
}

static int build_flag_classes(struct cstate *c)
{
	uint32_t *act = calloc(c->fmap.n + 1, sizeof(*act));
	uint16_t *out = c->img->l4cls + MOAT_L4CLS_FLAGS;

	if (!act)
		return -ENOMEM;
	for (unsigned int b = 0; b < 256; b++) {
		size_t nact = 0;
		int64_t cl;

		for (size_t a = 0; a < c->fmap.n; a++) {
			const uint8_t *k = keymap_key(&c->fmap, a);

			if ((b & k[1]) == k[0])
				act[nact++] = (uint32_t)a;
		}
		cl = intern(&c->fcls, act, nact);
		if (cl < 0) {
			free(act);
			return (int)cl;
		}
		out[b] = (uint16_t)cl;
	}
	free(act);
	if (c->fcls.ncls - 1 > UINT8_MAX) {
		moat_diag_add(c->diags, MOAT_DIAG_ERROR, NULL,
			      "rule set needs %zu TCP-flags classes; the limit is %u: use fewer distinct flags tests",
			      c->fcls.ncls - 1, (unsigned int)UINT8_MAX);
		return 0;
	}
	c->img->nflag_classes = (uint32_t)(c->fcls.ncls - 1);
	if (stamp_init(&c->fstamp, c->fcls.ncls))
		return -ENOMEM;
	return inverse_build(&c->finv, &c->fcls, c->fmap.n);
}

/* ------------------------------------------------------------------ */
/* rule expansion                                                     */

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

static int u32vec_push(struct u32vec *v, uint32_t x)
{
	if (vgrow(&v->v, &v->cap, v->n + 1, sizeof(*v->v)))
		return -ENOMEM;
	v->v[v->n++] = x;
	return 0;
}

/* Distinct classes (of an interner with inverse iv) containing any of
 * atoms[0..n).  presence != NULL: keep only classes with fambit set in it. */
static int collect_classes(const struct inverse *iv, struct stamp *st,
			   const uint8_t *presence, uint8_t fambit,
			   const uint32_t *atoms, size_t n, struct u32vec *out)
{
	out->n = 0;
	if (++st->gen == 0) {
		memset(st->v, 0, st->n * sizeof(*st->v));
		st->gen = 1;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t a = atoms[i];

		for (uint32_t k = iv->off[a]; k < iv->off[a + 1]; k++) {
			uint32_t cl = iv->cls[k];

			if (presence && !(presence[cl] & fambit))
				continue;
			if (st->v[cl] == st->gen)
				continue;
			st->v[cl] = st->gen;
			if (u32vec_push(out, cl))
				return -ENOMEM;
		}
	}
	return 0;
}

static bool proto_has_ports(uint8_t p)
{
	return p == IPP_TCP || p == IPP_UDP || p == IPP_SCTP;
}

struct expand {
	struct keymap keys; /* struct moat_cls_key, .tuple = fields for now */
	uint32_t *pos; /* per key */
	size_t cappos;
	uint32_t tuple_min[MOAT_F_ALL + 1]; /* per field mask: UINT32_MAX = none */
	size_t total; /* entries needed (estimate once over) */
	bool over;
	uint64_t worst; /* largest expansion of one rule */
	size_t worst_pos;
};

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

static uint32_t rule_fields(const struct moat_rule_ast *r)
{
	uint32_t f = 0;

	if (r->on_if[0])
		f |= MOAT_F_IFINDEX;
	if (r->vlan >= 0)
		f |= MOAT_F_VLAN;
	if (r->ethertype)
		return f;
	if (r->ct_states)
		f |= MOAT_F_STATE;
	if (r->nprotos || r->sport.n || r->dport.n || r->has_flags ||
	    r->icmp_type >= 0 || r->icmp_code >= 0)
		f |= MOAT_F_PROTO;
	if (r->src.n)
		f |= MOAT_F_SRC;
	if (r->dst.n)
		f |= MOAT_F_DST;
	if (r->sport.n)
		f |= MOAT_F_SPORT;
	if (r->dport.n)
		f |= MOAT_F_DPORT;
	if (r->has_flags)
		f |= MOAT_F_FLAGS;
	if (r->icmp_type >= 0)
		f |= MOAT_F_ICMP_TYPE;
	if (r->icmp_code >= 0)
		f |= MOAT_F_ICMP_CODE;
	return f;
}

/* protocols a rule compares for family fam (empty: none can match).
 * Returns false when the rule compares no protocol at all. */
static bool rule_protos(const struct moat_rule_ast *r, int fam,
			uint8_t *out, size_t *nout)
{
	bool ports = r->sport.n || r->dport.n;
	bool tcp = r->has_flags;
	bool icmp = r->icmp_type >= 0 || r->icmp_code >= 0;
	size_t n = 0;

	*nout = 0;
	if (r->nprotos) {
		for (size_t i = 0; i < r->nprotos && i < MOAT_PROTO_MAX; i++) {
			uint8_t p = r->protos[i];
			bool dup = false;

			if (ports && !proto_has_ports(p))
				continue;
			if (tcp && p != IPP_TCP)
				continue;
			/* the data plane reads ICMP type/code only from ICMP
			 * in IPv4 and ICMPv6 in IPv6 */
			if (icmp && p != (fam == 4 ? IPP_ICMP : IPP_ICMPV6))
				continue;
			for (size_t j = 0; j < n; j++)
				dup |= out[j] == p;
			if (!dup)
				out[n++] = p;
		}
		*nout = n;
		return true;
	}
	if (icmp) {
		if (!ports && !tcp)
			out[n++] = fam == 4 ? IPP_ICMP : IPP_ICMPV6;
	} else if (tcp) {
		out[n++] = IPP_TCP;
	} else if (ports) {
		out[n++] = IPP_TCP;
		out[n++] = IPP_UDP;
		out[n++] = IPP_SCTP;
	} else {
		return false;
	}
	*nout = n;
	return true;
}

/* families (bit0 = 4, bit1 = 6) an IP rule can match */
static unsigned int rule_families(const struct moat_rule_ast *r)
{
	bool all1 = true, all58 = true;

	if (r->family == 4)
		return 1;
	if (r->family == 6)
		return 2;
	if (r->nprotos) {
		for (size_t i = 0; i < r->nprotos && i < MOAT_PROTO_MAX; i++) {
			all1 &= r->protos[i] == IPP_ICMP;
			all58 &= r->protos[i] == IPP_ICMPV6;
		}
		if (all1)
			return 1;
		if (all58)
			return 2;
	}
	return 3;
}

struct lists {
	struct u32vec src, dst, sp, dp, fl;
};

static int emit_key(struct cstate *c, struct expand *x,
		    const struct moat_cls_key *k, uint32_t pos, uint32_t fields)
{
	uint32_t idx;
	int err;

	err = keymap_put(&x->keys, k, &idx);
	if (err < 0)
		return err;
	if (err == 1) {
		if (vgrow(&x->pos, &x->cappos, x->keys.n, sizeof(*x->pos)))
			return -ENOMEM;
		x->pos[idx] = pos;
		if (x->tuple_min[fields] == UINT32_MAX)
			x->tuple_min[fields] = pos;
	}
	/* an existing key keeps its (lower) position: first match wins */
	return 0;
}

static int expand_rule(struct cstate *c, struct expand *x, size_t pos,
		       struct lists *L)
{
	const struct moat_rule_ast *r = &c->rs->rules[pos];
	const struct rref *rr = &c->rr[pos];
	uint32_t fields = rule_fields(r);
	struct moat_cls_key k;
	uint64_t product = 0;
	int err;

	memset(&k, 0, sizeof(k));
	k.tuple = fields;
	if (fields & MOAT_F_IFINDEX)
		k.ifindex = rr->ifindex;
	if (fields & MOAT_F_VLAN)
		k.vlan = (uint16_t)r->vlan;

	if (r->ethertype) {
		k.ethertype = r->ethertype;
		product = 1;
		if (x->over || x->keys.n + 1 > MOAT_MAX_CLS_ENTRIES) {
			x->over = true;
			x->total += 1;
		} else {
			err = emit_key(c, x, &k, (uint32_t)pos, fields);
			if (err)
				return err;
			x->total = x->keys.n;
		}
		goto done;
	}

	/* family independent lists */
	if (r->sport.n) {
		err = collect_classes(&c->pinv[0], &c->pstamp[0], NULL, 0,
				      c->ratoms + rr->sp_off, rr->sp_n, &L->sp);
		if (err)
			return err;
	}
	if (r->dport.n) {
		err = collect_classes(&c->pinv[1], &c->pstamp[1], NULL, 0,
				      c->ratoms + rr->dp_off, rr->dp_n, &L->dp);
		if (err)
			return err;
	}
	if (r->has_flags) {
		uint32_t a = (uint32_t)rr->flags_atom;

		err = collect_classes(&c->finv, &c->fstamp, NULL, 0, &a, 1,
				      &L->fl);
		if (err)
			return err;
	}

	unsigned int fams = rule_families(r);
	uint8_t states[MOAT_CT_NSTATES];
	size_t nstates = 0;

	/* `state`: one more dimension of the cross product (key.ct) */
	for (int s = MOAT_CT_NEW; s < MOAT_CT_NSTATES; s++)
		if (r->ct_states & (1u << s))
			states[nstates++] = (uint8_t)s;
	if (!nstates)
		states[nstates++] = 0;

	for (int fi = 0; fi < 2; fi++) {
		int fam = fi ? 6 : 4;
		uint8_t fambit = (uint8_t)(1u << fi);
		uint8_t protos[MOAT_PROTO_MAX + 3];
		size_t nprotos;
		bool hasproto;
		uint64_t prod;

		if (!(fams & fambit))
			continue;
		hasproto = rule_protos(r, fam, protos, &nprotos);
		if (!hasproto) {
			protos[0] = 0;
			nprotos = 1;
		}
		if (r->src.n) {
			err = collect_classes(&c->ainv, &c->astamp,
					      c->apresence, fambit,
					      c->ratoms + rr->src_off,
					      rr->src_n, &L->src);
			if (err)
				return err;
		}
		if (r->dst.n) {
			err = collect_classes(&c->ainv, &c->astamp,
					      c->apresence, fambit,
					      c->ratoms + rr->dst_off,
					      rr->dst_n, &L->dst);
			if (err)
				return err;
		}
		prod = sat_mul(nprotos, nstates);
		prod = sat_mul(prod, r->src.n ? L->src.n : 1);
		prod = sat_mul(prod, r->dst.n ? L->dst.n : 1);
		prod = sat_mul(prod, r->sport.n ? L->sp.n : 1);
		prod = sat_mul(prod, r->dport.n ? L->dp.n : 1);
		prod = sat_mul(prod, r->has_flags ? L->fl.n : 1);
		product = product + prod < product ? UINT64_MAX
						   : product + prod;
		if (!prod)
			continue;
		if (x->over || prod > MOAT_MAX_CLS_ENTRIES) {
			x->over = true;
			x->total = x->total + prod < x->total ? SIZE_MAX
							      : x->total + prod;
			continue;
		}

		k.ethertype = fam == 4 ? ETH_P_IPV4 : ETH_P_IPV6;
		k.icmp_type = r->icmp_type >= 0 ? (uint8_t)r->icmp_type : 0;
		k.icmp_code = r->icmp_code >= 0 ? (uint8_t)r->icmp_code : 0;

		/* odometer over protos x src x dst x sport x dport x flags
		 * x states */
		size_t len[7] = {
			nprotos,
			r->src.n ? L->src.n : 1,
			r->dst.n ? L->dst.n : 1,
			r->sport.n ? L->sp.n : 1,
			r->dport.n ? L->dp.n : 1,
			r->has_flags ? L->fl.n : 1,
			nstates,
		};
		size_t ix[7] = { 0 };
		uint64_t emitted = 0;

		for (;;) {
			k.proto = protos[ix[0]];
			k.src = r->src.n ? L->src.v[ix[1]] : 0;
			k.dst = r->dst.n ? L->dst.v[ix[2]] : 0;
			k.sport = r->sport.n ? (uint16_t)L->sp.v[ix[3]] : 0;
			k.dport = r->dport.n ? (uint16_t)L->dp.v[ix[4]] : 0;
			k.flags = r->has_flags ? (uint8_t)L->fl.v[ix[5]] : 0;
			k.ct = states[ix[6]];
			if (x->keys.n >= MOAT_MAX_CLS_ENTRIES) {
				/* one more would be over: count the rest */
				x->over = true;
				x->total = x->keys.n + (prod - emitted);
				break;
			}
			err = emit_key(c, x, &k, (uint32_t)pos, fields);
			if (err)
				return err;
			emitted++;
			int d = 6;

			while (d >= 0 && ++ix[d] == len[d]) {
				ix[d] = 0;
				d--;
			}
			if (d < 0)
				break;
		}
		if (!x->over)
			x->total = x->keys.n;
	}
done:
	if (product > x->worst) {
		x->worst = product;
		x->worst_pos = pos;
	}
	if (!product)
		moat_diag_add(c->diags, MOAT_DIAG_WARNING, rule_loc(c->rs, pos),
			      "rule can never match");
	return 0;
}

struct tsort {
	uint32_t fields, min_pos;
};

static int tsort_cmp(const void *a, const void *b)
{
	const struct tsort *x = a, *y = b;

	if (x->min_pos != y->min_pos)
		return x->min_pos < y->min_pos ? -1 : 1;
	return x->fields < y->fields ? -1 : x->fields > y->fields;
}

static int build_entries(struct cstate *c)
{
	const struct moat_ruleset *rs = c->rs;
	struct moat_image *img = c->img;
	struct expand *x = calloc(1, sizeof(*x));
	struct lists L;
	struct tsort ts[MOAT_F_ALL + 1];
	size_t nts = 0;
	int map[MOAT_F_ALL + 1];
	int err = 0;

	if (!x)
		return -ENOMEM;
	memset(&L, 0, sizeof(L));
	keymap_init(&x->keys, sizeof(struct moat_cls_key));
	for (int i = 0; i <= MOAT_F_ALL; i++)
		x->tuple_min[i] = UINT32_MAX;

	for (size_t pos = 0; pos < rs->nrules; pos++) {
		err = expand_rule(c, x, pos, &L);
		if (err)
			goto out;
	}
	if (x->over) {
		moat_diag_add(c->diags, MOAT_DIAG_ERROR,
			      rule_loc(rs, x->worst_pos),
			      "rule set needs %zu classifier entries; the limit is %u (rule at this line expands to %llu: narrow its port ranges or address lists)",
			      x->total, (unsigned int)MOAT_MAX_CLS_ENTRIES,
			      (unsigned long long)x->worst);
		goto out;
	}

	for (uint32_t f = 0; f <= MOAT_F_ALL; f++)
		if (x->tuple_min[f] != UINT32_MAX)
			ts[nts++] = (struct tsort){ f, x->tuple_min[f] };
	qsort(ts, nts, sizeof(*ts), tsort_cmp);
	if (nts > MOAT_MAX_TUPLES) {
		moat_diag_add(c->diags, MOAT_DIAG_ERROR,
			      rule_loc(rs, ts[MOAT_MAX_TUPLES].min_pos),
			      "rule set needs %zu match shapes (distinct combinations of matched fields); the limit is %u (the rule at this line adds shape number %u: match on the same fields as earlier rules)",
			      nts, (unsigned int)MOAT_MAX_TUPLES,
			      (unsigned int)MOAT_MAX_TUPLES + 1);
		goto out;
	}
	memset(map, 0, sizeof(map));
	for (size_t t = 0; t < nts; t++) {
		map[ts[t].fields] = (int)t;
		img->info.tuples[t].fields = ts[t].fields;
		img->info.tuples[t].min_pos = ts[t].min_pos;
	}
	img->info.ntuples = (uint32_t)nts;

	img->cls = calloc(x->keys.n ? x->keys.n : 1, sizeof(*img->cls));
	if (!img->cls) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < x->keys.n; i++) {
		struct moat_cls_entry *e = &img->cls[i];

		memcpy(&e->key, keymap_key(&x->keys, i), sizeof(e->key));
		e->key.tuple = (uint32_t)map[e->key.tuple];
		e->val.pos = x->pos[i];
	}
	img->ncls = x->keys.n;
out:
	keymap_free(&x->keys);
	free(x->pos);
	free(x);
	free(L.src.v);
	free(L.dst.v);
	free(L.sp.v);
	free(L.dp.v);
	free(L.fl.v);
	return err;
}

/* ------------------------------------------------------------------ */
/* the address part across runs (setcache.h)                          */

#define ACACHE_VERSION 3 /* 2: IPv6 a6mid lines, a6top, a6short, a6bits;
			   * 3: MOAT_A4_LENS_HASH in leaves (a4x) */

/* hash of set si's elements, computed once per compile */
static uint64_t set_elems_hash(struct cstate *c, size_t si)
{
	const struct moat_set *s = &c->rs->sets[si];
	uint64_t h;

	if (c->sethash[si])
		return c->sethash[si];
	h = moat_hash_mem(s->elems, s->n * sizeof(*s->elems), s->n ^ c->salt);
	c->sethash[si] = h ? h : 1;
	return c->sethash[si];
}

/*
 * The key of the address part: everything build_addr_classes() and the
 * layout of the addresses are computed from - the address atoms in atom
 * order (direction, kind, families; the prefix, or the set's element count
 * and content) - plus the format.  0 (no caching) when the sets are small.
 */
static void addr_key(struct cstate *c)
{
	const struct moat_ruleset *rs = c->rs;
	size_t elems = 0;
	uint64_t h;

	c->akey = 0;
	for (size_t a = 0; a < c->amap.n; a++)
		if (c->aatoms[a].kind == MOAT_ADDR_SET)
			elems += rs->sets[c->aatoms[a].set].n;
	if (elems < moat_cache_min_elems || !elems || !c->salt)
		return;
	/* the format: its version and the sizes of what it stores */
	h = ACACHE_VERSION | sizeof(struct moat_lpm4_entry) << 8 |
	    sizeof(struct moat_aleaf) << 16 | sizeof(struct moat_a6mid) << 32;
	h = moat_mix64(c->salt ^ h);
	h = moat_mix64(h ^ c->amap.n);
	for (size_t a = 0; a < c->amap.n; a++) {
		const struct aatom *at = &c->aatoms[a];
		uint64_t w = (uint64_t)at->dir | (uint64_t)at->kind << 8 |
			     (uint64_t)at->fammask << 16;

		h = moat_mix64(h ^ w);
		if (at->kind == MOAT_ADDR_SET)
			h = moat_mix64(moat_mix64(h ^ rs->sets[at->set].n) ^
				       set_elems_hash(c, at->set));
		else
			h = moat_hash_mem(&at->prefix, sizeof(at->prefix), h);
	}
	c->akey = h ? h : 1;
}

struct acache_hdr {
	uint64_t version, natoms;
	uint64_t nlpm4, nlpm6, ncls, npool, nleaves, has_a4;
	uint64_t nlong4, nu6, nshort6, nlong6, nmid6, ahash;
	uint64_t a6short, a6bits;
};

enum { AS_LPM4, AS_LPM6, AS_CLS, AS_POOL, AS_LEAVES, AS_A4TOP, AS_A4,
       AS_LONG4, AS_U6, AS_SHORT6, AS_LONG6, AS_MID6, AS_A6TOP, AS_N };

/* section sizes and 64-byte aligned offsets (from the payload start) */
static void acache_sections(const struct acache_hdr *h, size_t *off,
			      size_t *len)
{
	size_t o = (sizeof(*h) + 63) & ~(size_t)63;

	len[AS_LPM4] = h->nlpm4 * sizeof(struct moat_lpm4_entry);
	len[AS_LPM6] = h->nlpm6 * sizeof(struct moat_lpm6_entry);
	len[AS_CLS] = h->ncls * sizeof(struct cls_span);
	len[AS_POOL] = h->npool * sizeof(uint32_t);
	len[AS_LEAVES] = h->nleaves * sizeof(struct moat_aleaf);
	len[AS_A4TOP] = 65536 * sizeof(uint16_t);
	len[AS_A4] = h->has_a4 ? (size_t)MOAT_A4_CELLS * sizeof(uint16_t) : 0;
	len[AS_LONG4] = h->nlong4 * sizeof(struct moat_long4);
	len[AS_U6] = h->nu6 * sizeof(struct moat_union6);
	len[AS_SHORT6] = h->nshort6 * sizeof(struct moat_union6);
	len[AS_LONG6] = h->nlong6 * sizeof(struct moat_union6);
	len[AS_MID6] = h->nmid6 * sizeof(struct moat_a6mid);
	len[AS_A6TOP] = 65536 * sizeof(uint16_t);
	for (int i = 0; i < AS_N; i++) {
		off[i] = o;
		o = (o + len[i] + 63) & ~(size_t)63;
	}
}

static void *dup_mem(const void *p, size_t len)
{
	void *q = moat_malloc_big(len);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/*
 * Fill lpm4, lpm6 and the address classes from a cache entry.  Returns 1 on
 * a hit (c->aentry kept for check_layout), 0 on a miss or an entry that does
 * not fit (nothing changed), or -ENOMEM.
 */
static int addr_cache_load(struct cstate *c)
{
	struct moat_cache_entry *e = &c->aentry;
	struct moat_image *img = c->img;
	const struct acache_hdr *h;
	size_t off[AS_N], len[AS_N];
	const struct moat_lpm4_entry *l4;
	const struct moat_lpm6_entry *l6;
	const struct cls_span *cls;
	const uint32_t *pool;
	const char *d;

	if (!c->akey || moat_cache_get("addr", c->akey, e))
		return 0;
	d = e->data;
	h = (const void *)d;
	if (e->len < sizeof(*h) || h->version != ACACHE_VERSION ||
	    h->natoms != c->amap.n || !h->ncls || h->ncls > UINT32_MAX ||
	    h->nlpm4 > MOAT_MAX_LPM4 || h->nlpm6 > MOAT_MAX_LPM6 ||
	    h->npool > UINT32_MAX || h->nleaves > MOAT_LEAF_SLOT ||
	    h->nlong4 > MOAT_MAX_A4LONG || h->nu6 > MOAT_MAX_LPM6 * 2 ||
	    h->nshort6 > 2 * h->nu6 || h->nlong6 > h->nu6 ||
	    h->nmid6 > h->nu6 || h->a6bits < MOAT_A6_MIN_BITS ||
	    h->a6bits > MOAT_A6_BITS)
		goto miss;
	acache_sections(h, off, len);
	for (int i = 0; i < AS_N; i++)
		if (off[i] + len[i] > e->len)
			goto miss;
	/* the class table must be well formed: it indexes arrays */
	cls = (const void *)(d + off[AS_CLS]);
	pool = (const void *)(d + off[AS_POOL]);
	if (cls[0].len)
		goto miss;
	for (size_t i = 0; i < h->ncls; i++)
		if (cls[i].off > h->npool || cls[i].len > h->npool - cls[i].off)
			goto miss;
	for (size_t i = 0; i < h->npool; i++)
		if (pool[i] >= c->amap.n)
			goto miss;
	l4 = (const void *)(d + off[AS_LPM4]);
	l6 = (const void *)(d + off[AS_LPM6]);
	for (size_t i = 0; i < h->nlpm4; i++)
		if (l4[i].cls >= h->ncls)
			goto miss;
	for (size_t i = 0; i < h->nlpm6; i++)
		if (l6[i].cls >= h->ncls)
			goto miss;

	free(c->acls.cls);
	free(c->acls.pool);
	free(c->acls.tab); /* no more interning into acls after this */
	memset(&c->acls, 0, sizeof(c->acls));
	c->acls.cls = dup_mem(cls, len[AS_CLS]);
	c->acls.pool = dup_mem(pool, len[AS_POOL]);
	img->lpm4 = dup_mem(d + off[AS_LPM4], len[AS_LPM4]);
	img->lpm6 = dup_mem(d + off[AS_LPM6], len[AS_LPM6]);
	if (!c->acls.cls || !c->acls.pool || !img->lpm4 || !img->lpm6)
		return -ENOMEM;
	c->acls.ncls = c->acls.capcls = h->ncls;
	c->acls.npool = c->acls.cappool = h->npool;
	img->nlpm4 = c->caplpm4 = h->nlpm4;
	img->nlpm6 = c->caplpm6 = h->nlpm6;
	return 1;
miss:
	moat_cache_release(e);
	return 0;
}

/* The layout's address part from the entry kept by addr_cache_load(): its
 * arrays point into the entry's mapping, which the layout then owns. */
static int layout_from_cache(struct cstate *c, struct moat_layout *lo)
{
	struct moat_cache_entry *e = &c->aentry;
	const struct acache_hdr *h = e->data;
	size_t off[AS_N], len[AS_N];
	char *d = e->data;

	acache_sections(h, off, len);
	memset(lo, 0, sizeof(*lo));
	lo->leaves = (void *)(d + off[AS_LEAVES]);
	lo->nleaves = h->nleaves;
	memcpy(lo->a4top, d + off[AS_A4TOP], sizeof(lo->a4top));
	if (h->has_a4) {
		lo->a4 = (void *)(d + off[AS_A4]);
		lo->long4 = (void *)(d + off[AS_LONG4]);
		lo->nlong4 = h->nlong4;
	}
	lo->u6 = (void *)(d + off[AS_U6]);
	lo->nu6 = h->nu6;
	lo->short6 = (void *)(d + off[AS_SHORT6]);
	lo->nshort6 = h->nshort6;
	lo->long6 = (void *)(d + off[AS_LONG6]);
	lo->nlong6 = h->nlong6;
	lo->mid6 = (void *)(d + off[AS_MID6]);
	lo->nmid6 = h->nmid6;
	memcpy(lo->a6top, d + off[AS_A6TOP], sizeof(lo->a6top));
	lo->a6short = h->a6short;
	lo->a6bits = (uint32_t)h->a6bits;
	lo->ahash = h->ahash;
	lo->map = e->map;
	lo->maplen = e->maplen;
	memset(e, 0, sizeof(*e)); /* the layout owns the mapping now */
	/* leaves must name existing leaves and cells existing leaves */
	for (size_t i = 0; i < lo->nleaves; i++)
		if (lo->leaves[i].scls >= c->acls.ncls ||
		    lo->leaves[i].dcls >= c->acls.ncls)
			goto inval;
	for (size_t i = 0; i < 65536; i++)
		if ((lo->a4top[i] != MOAT_A4_DESCEND &&
		     lo->a4top[i] >= lo->nleaves) ||
		    (lo->a6top[i] != MOAT_A4_DESCEND &&
		     lo->a6top[i] >= lo->nleaves))
			goto inval;
	return moat_layout_finish(c->img, lo);
inval:
	moat_layout_free(lo);
	return -EINVAL;
}

/* Store the address part of a fresh build (errors only cost the cache). */
static void addr_cache_store(struct cstate *c, const struct moat_layout *lo)
{
	static const char zeros[64];
	struct moat_image *img = c->img;
	struct acache_hdr h = {
		.version = ACACHE_VERSION,
		.natoms = c->amap.n,
		.nlpm4 = img->nlpm4,
		.nlpm6 = img->nlpm6,
		.ncls = c->acls.ncls,
		.npool = c->acls.npool,
		.nleaves = lo->nleaves,
		.has_a4 = lo->a4 != NULL,
		.nlong4 = lo->a4 ? lo->nlong4 : 0,
		.nu6 = lo->nu6,
		.nshort6 = lo->nshort6,
		.nlong6 = lo->nlong6,
		.nmid6 = lo->nmid6,
		.ahash = lo->ahash,
		.a6short = lo->a6short,
		.a6bits = lo->a6bits,
	};
	const void *src[AS_N] = {
		img->lpm4,  img->lpm6,	 c->acls.cls, c->acls.pool, lo->leaves,
		lo->a4top,  lo->a4,	 lo->long4,   lo->u6,	    lo->short6,
		lo->long6,  lo->mid6,	 lo->a6top,
	};
	struct iovec iov[2 * AS_N + 2];
	size_t off[AS_N], len[AS_N], at;
	int n = 0;

	acache_sections(&h, off, len);
	iov[n++] = (struct iovec){ (void *)&h, sizeof(h) };
	at = sizeof(h);
	for (int i = 0; i < AS_N; i++) {
		if (off[i] > at)
			iov[n++] = (struct iovec){ (void *)zeros, off[i] - at };
		if (len[i])
			iov[n++] = (struct iovec){ (void *)src[i], len[i] };
		at = off[i] + len[i];
	}
	moat_cache_put("addr", c->akey, iov, n);
}

/* ------------------------------------------------------------------ */
/* rules, interfaces, hash                                            */

static unsigned int resolve_if(const struct moat_compile_opts *opts,
			       const char *name)
{
	if (opts && opts->ifindex)
		return opts->ifindex(name, opts->ctx);
	return if_nametoindex(name);
}

static int build_rules(struct cstate *c, const struct moat_compile_opts *opts)
{
	const struct moat_ruleset *rs = c->rs;
	struct moat_image *img = c->img;
	size_t capredir = 0;
	int err;

	img->rules = calloc(rs->nrules ? rs->nrules : 1, sizeof(*img->rules));
	img->rule_info =
		calloc(rs->nrules ? rs->nrules : 1, sizeof(*img->rule_info));
	c->rr = calloc(rs->nrules ? rs->nrules : 1, sizeof(*c->rr));
	if (!img->rules || !img->rule_info || !c->rr)
		return -ENOMEM;
	img->nrules = rs->nrules;

	for (size_t pos = 0; pos < rs->nrules; pos++) {
		const struct moat_rule_ast *r = &rs->rules[pos];
		struct moat_rule_info *ri = &img->rule_info[pos];
		struct moat_rule *mr = &img->rules[pos];
		struct rref *rr = &c->rr[pos];

		ri->file = r->loc.file;
		ri->line = r->loc.line;
		ri->col = r->loc.col;
		ri->text = strdup(r->text ? r->text : "");
		ri->norm = moat_rule_format(rs, r);
		if (!ri->text || !ri->norm)
			return -ENOMEM;

		mr->action = (uint32_t)r->action;
		if (r->action == MOAT_ACT_REDIRECT) {
			unsigned int ifi = resolve_if(opts, r->redirect_if);
			bool dup = false;

			if (!ifi) {
				moat_diag_add(c->diags, MOAT_DIAG_ERROR,
					      &r->redirect_loc,
					      "unknown interface '%s'",
					      r->redirect_if);
			}
			mr->ifindex = ifi;
			for (size_t i = 0; i < img->nredirect; i++)
				dup |= img->redirect_ifindex[i] == ifi;
			if (ifi && !dup) {
				if (img->nredirect == MOAT_MAX_IFACES) {
					moat_diag_add(c->diags,
						      MOAT_DIAG_ERROR,
						      &r->redirect_loc,
						      "rule set redirects to more than %u interfaces",
						      (unsigned int)MOAT_MAX_IFACES);
				} else {
					if (vgrow(&img->redirect_ifindex,
						  &capredir,
						  img->nredirect + 1,
						  sizeof(uint32_t)))
						return -ENOMEM;
					img->redirect_ifindex
						[img->nredirect++] = ifi;
				}
			}
		}
		if (r->on_if[0]) {
			rr->ifindex = resolve_if(opts, r->on_if);
			if (!rr->ifindex)
				moat_diag_add(c->diags, MOAT_DIAG_ERROR,
					      &r->on_loc,
					      "unknown interface '%s'",
					      r->on_if);
		}
		rr->flags_atom = -1;
		if (r->ethertype)
			continue;
		err = add_addr_atoms(c, &r->src, MOAT_DIR_SRC, &rr->src_off,
				     &rr->src_n);
		if (err)
			return err;
		err = add_addr_atoms(c, &r->dst, MOAT_DIR_DST, &rr->dst_off,
				     &rr->dst_n);
		if (err)
			return err;
		err = add_port_atoms(c, &r->sport, 0, &rr->sp_off, &rr->sp_n);
		if (err)
			return err;
		err = add_port_atoms(c, &r->dport, 1, &rr->dp_off, &rr->dp_n);
		if (err)
			return err;
		if (r->has_flags) {
			uint8_t k[2] = { r->flags, r->flags_mask };
			uint32_t idx;

			err = keymap_put(&c->fmap, k, &idx);
			if (err < 0)
				return err;
			rr->flags_atom = idx;
		}
	}
	return 0;
}

static int set_idx_cmp(const void *a, const void *b, void *arg)
{
	const struct moat_ruleset *rs = arg;
	const char *x = rs->sets[*(const size_t *)a].name;
	const char *y = rs->sets[*(const size_t *)b].name;

	return strcmp(x ? x : "", y ? y : "");
}

/*
 * A big set's part of the rule set hash (its elements sorted and
 * de-duplicated, FNV-1a) from the cache: the FNV state before it and the
 * set's content give the state after it.
 */
struct sethash_rec {
	uint64_t hin, ehash, n, hout;
};

static uint64_t sethash_key(struct cstate *c, size_t si, uint64_t hin)
{
	uint64_t k = moat_mix64(moat_mix64(hin ^ 0x736574) ^
				set_elems_hash(c, si));

	k = moat_mix64(k ^ c->rs->sets[si].n);
	return k ? k : 1;
}

/* 0 with *h advanced past set si, or -ENOENT */
static int sethash_cached(struct cstate *c, size_t si, uint64_t *h)
{
	struct moat_cache_entry e;
	const struct sethash_rec *r;
	int ret = -ENOENT;

	if (moat_cache_get("sethash", sethash_key(c, si, *h), &e))
		return -ENOENT;
	r = e.data;
	if (e.len == sizeof(*r) && r->hin == *h &&
	    r->ehash == set_elems_hash(c, si) && r->n == c->rs->sets[si].n) {
		*h = r->hout;
		ret = 0;
	}
	moat_cache_release(&e);
	return ret;
}

static void sethash_store(struct cstate *c, size_t si, uint64_t hin,
			  uint64_t hout)
{
	struct sethash_rec r = { hin, set_elems_hash(c, si),
				 c->rs->sets[si].n, hout };
	struct iovec iov = { &r, sizeof(r) };

	moat_cache_put("sethash", sethash_key(c, si, hin), &iov, 1);
}

/* FNV-1a over a set's elements, sorted and de-duplicated */
static int hash_set_elems(struct cstate *c, const struct moat_set *s,
			  uint64_t *hp)
{
	uint64_t h = *hp;
	struct pitem *el;

	if (scratch_room(&c->ps.it, &c->ps.capit, s->n ? s->n : 1))
		return -ENOMEM;
	el = c->ps.it;
	/* the family rides in .atom so that IPv4 and IPv6 never compare
	 * equal */
	for (size_t e = 0; e < s->n; e++)
		pitem_set(&el[e], &s->elems[e], s->elems[e].family);
	if (pitem_sort(el, s->n, &c->ps))
		return -ENOMEM;
	for (size_t e = 0; e < s->n; e++) {
		uint8_t rec[18];

		if (e && !pitem_cmp(&el[e - 1], &el[e]))
			continue;
		rec[0] = (uint8_t)el[e].atom;
		rec[1] = el[e].plen;
		be64_store(rec + 2, el[e].hi);
		be64_store(rec + 10, el[e].lo);
		h = hash_bytes(rec, el[e].atom == 4 ? 6 : 18, h);
	}
	*hp = h;
	return 0;
}

static int compute_hash(struct cstate *c)
{
	const struct moat_ruleset *rs = c->rs;
	uint64_t h = FNV_OFFSET, hin;
	char buf[64];
	size_t *order = calloc(rs->nsets ? rs->nsets : 1, sizeof(*order));

	if (!order)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "policy %d\n", rs->policy);
	h = hash_bytes(buf, strlen(buf), h);
	for (size_t s = 0; s < rs->nsets; s++)
		order[s] = s;
	qsort_r(order, rs->nsets, sizeof(*order), set_idx_cmp, (void *)rs);
	for (size_t i = 0; i < rs->nsets; i++) {
		const struct moat_set *s = &rs->sets[order[i]];
		bool big;

		h = hash_bytes("set ", 4, h);
		if (s->name)
			h = hash_bytes(s->name, strlen(s->name) + 1, h);
		big = s->n >= moat_cache_min_elems && c->salt;
		if (!big || sethash_cached(c, order[i], &h)) {
			hin = h;
			if (hash_set_elems(c, s, &h)) {
				free(order);
				return -ENOMEM;
			}
			if (big)
				sethash_store(c, order[i], hin, h);
		}
		h = hash_bytes("\n", 1, h);
	}
	free(order);
	for (size_t pos = 0; pos < rs->nrules; pos++) {
		const char *t = c->img->rule_info[pos].norm;

		h = hash_bytes("rule ", 5, h);
		if (t)
			h = hash_bytes(t, strlen(t), h);
		h = hash_bytes("\n", 1, h);
	}
	c->img->hash = h;
	return 0;
}

/* The kernel layout (layout.c): its limits are checked here, so that
 * `moat check` refuses what the map writer would; the layout is kept in
 * the image for the writer. */
static int check_layout(struct cstate *c)
{
	struct moat_layout *lo = calloc(1, sizeof(*lo));
	int err;

	if (!lo)
		return -ENOMEM;
	/* from the cache; an entry that does not fit is built afresh from
	 * the image (whose lpm4/lpm6 the entry also gave) */
	if (c->aentry.map && !layout_from_cache(c, lo)) {
		c->img->layout = lo;
		return 0;
	}
	moat_cache_release(&c->aentry);
	err = moat_layout_build(c->img, lo);
	if (err == -E2BIG) {
		const struct moat_set *s = largest_set(c->rs, 4);

		moat_diag_add(c->diags, MOAT_DIAG_ERROR, s ? &s->loc : NULL,
			      "rule set needs more than %u address leaves (distinct source/destination class pairs), more than %u IPv4 prefixes longer than /24, or more than %u IPv6 lines (/48s holding longer prefixes, plus prefixes shorter than /48); use fewer distinct addresses",
			      (unsigned int)MOAT_MAX_LEAVES,
			      (unsigned int)MOAT_MAX_A4LONG,
			      (unsigned int)MOAT_A6_MAX_LINES);
		free(lo);
		return -EINVAL;
	}
	if (err) {
		free(lo);
		return err;
	}
	if (c->akey)
		addr_cache_store(c, lo);
	c->img->layout = lo;
	return 0;
}

static void cstate_free(struct cstate *c)
{
	free(c->rr);
	free(c->ratoms);
	keymap_free(&c->amap);
	free(c->aatoms);
	interner_free(&c->acls);
	inverse_free(&c->ainv);
	free(c->apresence);
	free(c->astamp.v);
	free(c->pstamp[0].v);
	free(c->pstamp[1].v);
	free(c->fstamp.v);
	free(c->ps.it);
	free(c->ps.tmp);
	for (int d = 0; d < 2; d++) {
		keymap_free(&c->pmap[d]);
		interner_free(&c->pcls[d]);
		inverse_free(&c->pinv[d]);
	}
	keymap_free(&c->fmap);
	interner_free(&c->fcls);
	inverse_free(&c->finv);
	moat_cache_release(&c->aentry);
	free(c->sethash);
}

int moat_compile(const struct moat_ruleset *rs,
		 const struct moat_compile_opts *opts, struct moat_image *img,
		 struct moat_diags *diags)
{
	struct cstate c;
	size_t nerr0 = diags->nerrors;
	int err;

	memset(img, 0, sizeof(*img));
	memset(&c, 0, sizeof(c));
	c.rs = rs;
	c.img = img;
	c.diags = diags;
	keymap_init(&c.amap, sizeof(struct aatom_key));
	keymap_init(&c.pmap[0], 2 * sizeof(uint16_t));
	keymap_init(&c.pmap[1], 2 * sizeof(uint16_t));
	keymap_init(&c.fmap, 2);
	if (interner_init(&c.acls) || interner_init(&c.pcls[0]) ||
	    interner_init(&c.pcls[1]) || interner_init(&c.fcls)) {
		err = -ENOMEM;
		goto out;
	}

	img->info.policy = (uint32_t)rs->policy;
	img->info.nrules = (uint32_t)rs->nrules;
	if (rs->nrules > MOAT_MAX_RULES) {
		moat_diag_add(diags, MOAT_DIAG_ERROR,
			      rule_loc(rs, MOAT_MAX_RULES),
			      "rule set has %zu rules; the limit is %u (this is rule number %u)",
			      rs->nrules, (unsigned int)MOAT_MAX_RULES,
			      (unsigned int)MOAT_MAX_RULES + 1);
		err = -EINVAL;
		goto out;
	}
	if (rs->nsets > MOAT_MAX_SETS) {
		moat_diag_add(diags, MOAT_DIAG_ERROR,
			      &rs->sets[MOAT_MAX_SETS].loc,
			      "rule set declares %zu sets; the limit is %u",
			      rs->nsets, (unsigned int)MOAT_MAX_SETS);
		err = -EINVAL;
		goto out;
	}

	err = build_rules(&c, opts);
	if (err)
		goto out;
	for (size_t i = 0; i < rs->nsets && !c.salt; i++)
		if (rs->sets[i].n >= moat_cache_min_elems)
			c.salt = moat_cache_salt(); /* only big sets use it */
	c.sethash = calloc(rs->nsets ? rs->nsets : 1, sizeof(*c.sethash));
	if (!c.sethash) {
		err = -ENOMEM;
		goto out;
	}
	addr_key(&c);
	err = build_addr_classes(&c);
	if (err)
		goto out;
	err = build_port_classes(&c, 0);
	if (err)
		goto out;
	err = build_port_classes(&c, 1);
	if (err)
		goto out;
	err = build_flag_classes(&c);
	if (err)
		goto out;
	if (diags->nerrors > nerr0) {
		err = -EINVAL;
		goto out;
	}
	err = build_entries(&c);
	if (err)
		goto out;
	err = compute_hash(&c);
	if (err)
		goto out;
	moat_ct_config_build(rs, &img->ct, &img->hash);
	if (diags->nerrors > nerr0) {
		err = -EINVAL;
		goto out;
	}
	err = check_layout(&c);
out:
	cstate_free(&c);
	return err;
}
