// SPDX-License-Identifier: GPL-2.0
/*
 * imagesim.c - userspace model of the data plane's classification over a
 * compiled image.  Follows the contract in include/moat.h step by step:
 * field classes (LPM tries, l4cls array), then tuples in order with the
 * early exit on min_pos, one exact-match lookup per tuple.
 */
#include <stdlib.h>
#include <string.h>

#include "imagesim.h"
#include "layout.h"

#define IPP_ICMP 1
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_ICMPV6 58
#define IPP_SCTP 132

struct lpm_key {
	uint8_t fam, dir, plen, pad;
	uint8_t addr[16];
};

struct moat_imagesim {
	const struct moat_image *img;
	struct moat_layout lo;
	/* long IPv4 prefixes and IPv6 union prefixes: exact tables per
	 * (family, plen), longest first (dir unused) */
	struct lpm_key *lk;
	uint32_t *lv;
	uint32_t *ltab; /* index + 1 */
	size_t lcap;
	uint8_t plens[3][129]; /* [v4 long, a6long, lpm6][plen] present */
	/* classifier */
	uint32_t *ctab; /* index into img->cls + 1 */
	size_t ccap;
};

static uint64_t h64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	return h;
}

static size_t pow2(size_t n)
{
	size_t c = 16;

	while (c < 2 * n)
		c *= 2;
	return c;
}

static void mask_addr(uint8_t *a, unsigned int plen, unsigned int alen)
{
	for (unsigned int i = 0; i < alen; i++) {
		unsigned int bit = i * 8;

		if (bit >= plen)
			a[i] = 0;
		else if (bit + 8 > plen)
			a[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

static int lpm_insert(struct moat_imagesim *s, size_t idx)
{
	size_t h = h64(&s->lk[idx], sizeof(s->lk[idx])) & (s->lcap - 1);

	while (s->ltab[h]) {
		if (!memcmp(&s->lk[s->ltab[h] - 1], &s->lk[idx],
			    sizeof(s->lk[idx]))) {
			s->ltab[h] = (uint32_t)idx + 1; /* last one wins */
			return 0;
		}
		h = (h + 1) & (s->lcap - 1);
	}
	s->ltab[h] = (uint32_t)idx + 1;
	return 0;
}

struct moat_imagesim *moat_imagesim_new(const struct moat_image *img)
{
	struct moat_imagesim *s = calloc(1, sizeof(*s));
	size_t nl, k = 0;

	if (!s)
		return NULL;
	s->img = img;
	if (moat_layout_build(img, &s->lo)) {
		free(s);
		return NULL;
	}
	nl = s->lo.nlong4 + s->lo.nlong6 + s->lo.nshort6;
	s->lcap = pow2(nl);
	s->lk = calloc(nl ? nl : 1, sizeof(*s->lk));
	s->lv = calloc(nl ? nl : 1, sizeof(*s->lv));
	s->ltab = calloc(s->lcap, sizeof(*s->ltab));
	s->ccap = pow2(img->ncls);
	s->ctab = calloc(s->ccap, sizeof(*s->ctab));
	if (!s->lk || !s->lv || !s->ltab || !s->ctab) {
		moat_imagesim_free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->lo.nlong4; i++, k++) {
		const struct moat_long4 *e = &s->lo.long4[i];

		s->lk[k].fam = 0;
		s->lk[k].plen = e->plen;
		for (int b = 0; b < 4; b++)
			s->lk[k].addr[b] = (uint8_t)(e->addr >> (24 - 8 * b));
		mask_addr(s->lk[k].addr, e->plen, 4);
		s->lv[k] = e->leaf;
		s->plens[0][e->plen] = 1;
		lpm_insert(s, k);
	}
	for (size_t i = 0; i < s->lo.nlong6 + s->lo.nshort6; i++, k++) {
		bool trie = i >= s->lo.nlong6;
		const struct moat_union6 *e =
			trie ? &s->lo.short6[i - s->lo.nlong6] : &s->lo.long6[i];

		s->lk[k].fam = trie ? 2 : 1;
		s->lk[k].plen = e->plen;
		memcpy(s->lk[k].addr, e->addr, 16);
		mask_addr(s->lk[k].addr, e->plen, 16);
		s->lv[k] = e->leaf;
		s->plens[trie ? 2 : 1][e->plen] = 1;
		lpm_insert(s, k);
	}
	for (size_t i = 0; i < img->ncls; i++) {
		const struct moat_cls_key *key = &img->cls[i].key;
		size_t h = h64(key, sizeof(*key)) & (s->ccap - 1);

		while (s->ctab[h] &&
		       memcmp(&img->cls[s->ctab[h] - 1].key, key, sizeof(*key)))
			h = (h + 1) & (s->ccap - 1);
		s->ctab[h] = (uint32_t)i + 1; /* last one wins, like an update */
	}
	return s;
}

void moat_imagesim_free(struct moat_imagesim *s)
{
	if (!s)
		return;
	free(s->lk);
	free(s->lv);
	free(s->ltab);
	free(s->ctab);
	moat_layout_free(&s->lo);
	free(s);
}

/* exact lookup of (fam, plen, addr masked) in the long/u6 tables */
static bool exact(const struct moat_imagesim *s, int fam, int plen,
		  const uint8_t *addr, uint32_t *leaf)
{
	unsigned int alen = fam ? 16 : 4;
	struct lpm_key k;
	size_t h;

	memset(&k, 0, sizeof(k));
	k.fam = (uint8_t)fam;
	k.plen = (uint8_t)plen;
	memcpy(k.addr, addr, alen);
	mask_addr(k.addr, (unsigned int)plen, alen);
	h = h64(&k, sizeof(k)) & (s->lcap - 1);
	while (s->ltab[h]) {
		uint32_t i = s->ltab[h] - 1;

		if (!memcmp(&s->lk[i], &k, sizeof(k))) {
			*leaf = s->lv[i];
			return true;
		}
		h = (h + 1) & (s->lcap - 1);
	}
	return false;
}

/* The leaf of an address, as the program finds it: IPv4 through the /24
 * cell and the long prefixes its `lens` names; IPv6 longest union prefix. */
/* the a6mid line of key (mid6 is sorted by key), or NULL */
static const struct moat_a6mid *a6_line(const struct moat_layout *lo,
					uint64_t key)
{
	size_t a = 0, b = lo->nmid6;

	while (a < b) {
		size_t m = (a + b) / 2;

		if (lo->mid6[m].key == key)
			return &lo->mid6[m];
		if (lo->mid6[m].key < key)
			a = m + 1;
		else
			b = m;
	}
	return NULL;
}

static const struct moat_aleaf *addr_leaf(const struct moat_imagesim *s,
					  int fam, const uint8_t *addr)
{
	const struct moat_layout *lo = &s->lo;
	uint32_t leaf = 0;

	if (!fam) {
		uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
			     (uint32_t)addr[2] << 8 | addr[3];
		const struct moat_aleaf *lf;

		if (lo->a4top[a >> 16] != MOAT_A4_DESCEND)
			return &lo->leaves[lo->a4top[a >> 16]];
		leaf = lo->a4 ? lo->a4[a >> 8] : 0;
		lf = &lo->leaves[leaf];
		for (int l = 32; l >= 25 && lf->lens; l--) {
			if (!(lf->lens & (1U << (l - 25))))
				continue;
			if (exact(s, 0, l, addr, &leaf))
				return &lo->leaves[leaf];
		}
		return lf;
	}
	/* IPv6: the a6mid lines (mid6, sorted by key), as the program */
	uint64_t hi = 0;
	const struct moat_a6mid *m;

	for (int i = 0; i < 8; i++)
		hi = hi << 8 | addr[i];
	if (lo->a6top[hi >> 48] != MOAT_A4_DESCEND)
		return &lo->leaves[lo->a6top[hi >> 48]];
	m = a6_line(lo, moat_a6_key(hi, MOAT_A6_MID));
	if (m && m->n != MOAT_A6_DENSE) {
		for (int i = 0; i < m->nl && i < MOAT_A6_NLONG; i++)
			if (exact(s, 1, m->len[i], addr, &leaf))
				return &lo->leaves[leaf];
		for (int i = 0; i < m->n && i < MOAT_A6_NIN; i++) {
			uint16_t mask = (uint16_t)(0xffffU << (64 - m->plen[i]));

			if ((hi & mask) == m->mid[i])
				return &lo->leaves[m->ileaf[i]];
		}
		return &lo->leaves[m->leaf];
	}
	if (!m && lo->a6short != MOAT_A6_SHORT_TRIE) {
		for (int i = 0; i < MOAT_A6_NSHORT; i++) {
			unsigned int b = (lo->a6short >> (8 * i)) & 0xff;

			if (!b)
				break;
			m = a6_line(lo, moat_a6_key(hi, b - 1));
			if (m)
				return &lo->leaves[m->leaf];
		}
		return &lo->leaves[0];
	}
	/* a dense /48, or the prefixes < 48 in the trie */
	for (int plen = 128; plen >= 0; plen--) {
		if (s->plens[2][plen] && exact(s, 2, plen, addr, &leaf))
			break;
	}
	return &lo->leaves[leaf < lo->nleaves ? leaf : 0];
}

/* the packet's classes and candidate tuple mask */
static uint64_t classes(const struct moat_imagesim *s,
			const struct moat_pkt *p, struct moat_pkt_classes *out)
{
	const struct moat_image *img = s->img;
	const struct moat_layout *lo = &s->lo;
	const struct moat_gen_info *gi = &lo->info;
	bool ip4 = p->ethertype == 0x0800, ip6 = p->ethertype == 0x86dd;
	/* L4 fields exist for TCP, UDP, SCTP, and for ICMP in IPv4 and
	 * ICMPv6 in IPv6 (as xdp/parse.h parses them) */
	bool known = p->proto == IPP_TCP || p->proto == IPP_UDP ||
		     p->proto == IPP_SCTP ||
		     (ip4 && p->proto == IPP_ICMP) ||
		     (ip6 && p->proto == IPP_ICMPV6);
	const struct moat_aleaf *sl, *dl;
	uint64_t cand;

	memset(out, 0, sizeof(*out));
	cand = gi->ntuples >= 64 ? ~0ULL : (1ULL << gi->ntuples) - 1;
	if (!ip4 && !ip6)
		return cand & gi->nonip_mask;
	cand &= gi->proto_mask[ip6][p->proto];
	sl = addr_leaf(s, ip6, p->src);
	dl = addr_leaf(s, ip6, p->dst);
	out->src = sl->scls;
	out->dst = dl->dcls;
	cand &= sl->smask & dl->dmask;
	out->has_l4 = p->has_l4 && known;
	if (!out->has_l4)
		return cand & ~gi->l4_mask;
	if (p->proto == IPP_TCP || p->proto == IPP_UDP ||
	    p->proto == IPP_SCTP) {
		out->sport = img->l4cls[MOAT_L4CLS_SPORT + p->sport];
		out->dport = img->l4cls[MOAT_L4CLS_DPORT + p->dport];
		cand &= lo->pmask[0][out->sport] & lo->pmask[1][out->dport];
	} else {
		cand &= gi->sport0_mask & gi->dport0_mask;
	}
	if (p->proto == IPP_TCP) {
		out->flags = (uint8_t)img->l4cls[MOAT_L4CLS_FLAGS + p->tcpflags];
		cand &= lo->pmask[2][out->flags];
	} else {
		cand &= gi->flags0_mask;
	}
	return cand;
}

void moat_imagesim_classes(const struct moat_imagesim *s,
			   const struct moat_pkt *p,
			   struct moat_pkt_classes *out)
{
	classes(s, p, out);
}

static int lookup(const struct moat_imagesim *s, const struct moat_pkt *p,
		  unsigned int *probes)
{
	const struct moat_image *img = s->img;
	const struct moat_gen_info *info = &img->info;
	bool ip = p->ethertype == 0x0800 || p->ethertype == 0x86dd;
	bool icmp = (p->ethertype == 0x0800 && p->proto == IPP_ICMP) ||
		    (p->ethertype == 0x86dd && p->proto == IPP_ICMPV6);
	struct moat_pkt_classes pc;
	uint32_t best = UINT32_MAX;
	uint64_t cand;

	*probes = 0;
	cand = classes(s, p, &pc);
	while (cand) {
		uint32_t i = (uint32_t)__builtin_ctzll(cand);
		const struct moat_tuple *t = &info->tuples[i];
		struct moat_cls_key k;
		size_t h;

		cand &= cand - 1;
		if (t->min_pos >= best)
			break;
		memset(&k, 0, sizeof(k));
		k.tuple = i;
		k.ethertype = p->ethertype;
		if (t->fields & MOAT_F_IFINDEX)
			k.ifindex = p->ifindex;
		if (t->fields & MOAT_F_VLAN)
			k.vlan = p->vlan;
		if (ip) {
			if (t->fields & MOAT_F_PROTO)
				k.proto = p->proto;
			if (t->fields & MOAT_F_SRC)
				k.src = pc.src;
			if (t->fields & MOAT_F_DST)
				k.dst = pc.dst;
			if (t->fields & MOAT_F_SPORT)
				k.sport = pc.sport;
			if (t->fields & MOAT_F_DPORT)
				k.dport = pc.dport;
			if (t->fields & MOAT_F_FLAGS)
				k.flags = pc.flags;
			if ((t->fields & MOAT_F_ICMP_TYPE) && icmp)
				k.icmp_type = p->icmp_type;
			if ((t->fields & MOAT_F_ICMP_CODE) && icmp)
				k.icmp_code = p->icmp_code;
			if (t->fields & MOAT_F_STATE)
				k.ct = p->ct;
		}
		(*probes)++;
		h = h64(&k, sizeof(k)) & (s->ccap - 1);
		while (s->ctab[h]) {
			const struct moat_cls_entry *e =
				&img->cls[s->ctab[h] - 1];

			if (!memcmp(&e->key, &k, sizeof(k))) {
				if (e->val.pos < best)
					best = e->val.pos;
				break;
			}
			h = (h + 1) & (s->ccap - 1);
		}
	}
	return best == UINT32_MAX ? -1 : (int)best;
}

int moat_imagesim_lookup(const struct moat_imagesim *s,
			 const struct moat_pkt *p)
{
	unsigned int probes;

	return lookup(s, p, &probes);
}

unsigned int moat_imagesim_probes(const struct moat_imagesim *s,
				  const struct moat_pkt *p)
{
	unsigned int probes;

	lookup(s, p, &probes);
	return probes;
}
