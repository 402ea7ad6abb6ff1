/* SPDX-License-Identifier: GPL-2.0 */
/*
 * classify.h - per-field class lookups and the tuple space search.
 *
 * moat_classify(slot, ...) maps the packet's fields to class ids and tuple
 * masks (addresses: a4tab/a4long or a6mid/a6long/lpm6 give a leaf in aleaf; ports and
 * flags: l4cls), ANDs the masks to the candidate tuples, then probes the
 * classifier hash once per candidate, in order of the tuple's best rule
 * position, stopping as soon as no remaining tuple can beat the best match.
 * It takes the slot as a parameter so it can be run for more than one rule
 * set per packet.
 *
 * Expects the maps gen_info, l4cls, cls, aleaf, a4tab, a4x, a4long and lpm6
 * declared before it is included (xdp/maps.h).
 */
#ifndef MOAT_XDP_CLASSIFY_H
#define MOAT_XDP_CLASSIFY_H

#include "parse.h"

#define MOAT_NO_MATCH 0xffffffffU

static __always_inline const struct moat_aleaf *moat_leaf(__u32 slot,
							  __u32 leaf)
{
	__u32 idx = slot * MOAT_LEAF_SLOT + (leaf & (MOAT_LEAF_SLOT - 1));

	return bpf_map_lookup_elem(&aleaf, &idx);
}

/* Leaf of an IPv4 address (network order): one a4tab line, then, only in
 * a /24 holding prefixes longer than 24, its a4x bucket (one line), or
 * for a /24 that did not fit there one a4long probe per length present,
 * longest first. */
static __always_inline const struct moat_aleaf *
moat_addr4(__u32 slot, __u32 atab, __u32 addr_be)
{
	__u32 a = bpf_ntohl(addr_be);
	__u32 idx = atab * MOAT_A4_TOP_LINES + (a >> 21);
	const struct moat_aleaf *lf;
	struct moat_a4long_key k;
	struct moat_a4line *line;
	__u32 lens, *v;
	__u16 top;
	int l;

	/* a /16 holding one leaf throughout: one read of a small table */
	line = bpf_map_lookup_elem(&a4top, &idx);
	if (!line)
		return 0;
	top = line->leaf[(a >> 16) & (MOAT_A4_LINE - 1)];
	if (top != MOAT_A4_DESCEND)
		return moat_leaf(slot, top);
	idx = atab * MOAT_A4_LINES + (a >> 13);
	line = bpf_map_lookup_elem(&a4tab, &idx);
	if (!line)
		return 0;
	lf = moat_leaf(slot, line->leaf[(a >> 8) & (MOAT_A4_LINE - 1)]);
	if (!lf || !lf->lens)
		return lf;
	lens = lf->lens;
	if (!(lens & MOAT_A4_LENS_HASH)) {
		struct moat_a4x *b;
		__u32 best = 0, bl = 0;

		idx = atab * MOAT_A4X_BUCKETS + moat_a4x_home(a >> 8);
		b = bpf_map_lookup_elem(&a4x, &idx);
		if (!b)
			return lf;
#pragma clang loop unroll(full)
		for (l = 0; l < MOAT_A4X_WAYS; l++) {
			__u64 e = b->e[l];
			__u32 pl = (__u32)(e >> 32) & 63;

			if (pl > bl && pl <= 32 &&
			    !(((__u32)e ^ a) >> (32 - pl))) {
				bl = pl;
				best = (__u32)(e >> 40);
			}
		}
		return bl ? moat_leaf(slot, best) : lf;
	}
#pragma clang loop unroll(full)
	for (l = 32; l >= 25; l--) {
		if (!(lens & (1U << (l - 25))))
			continue;
		k.tab_len = atab << 8 | l;
		k.addr = a & (0xffffffffU << (32 - l));
		v = bpf_map_lookup_elem(&a4long, &k);
		if (v)
			return moat_leaf(slot, *v);
	}
	return lf;
}

struct moat_a6addr {
	__u32 a[4]; /* network order */
};

/* Index of the a6mid line holding key in table tab, or -1: linear
 * probing from its home, an empty line ends the search.  A global
 * function (verified once: its loop is not multiplied by the caller's). */
__attribute__((noinline)) int moat_a6_find(__u32 tab, __u64 key, __u32 bits)
{
	__u32 h, idx, j;
	struct moat_a6mid *m;

	if (bits < MOAT_A6_MIN_BITS || bits > MOAT_A6_BITS)
		bits = MOAT_A6_BITS;
	h = moat_a6_home(key, bits);
#pragma clang loop unroll(disable)
	for (j = 0; j < MOAT_A6_PROBE; j++) {
		idx = tab * MOAT_A6_LINES + ((h + j) & ((1U << bits) - 1));
		m = bpf_map_lookup_elem(&a6mid, &idx);
		if (!m || !m->key)
			return -1;
		if (m->key == key)
			return (int)idx;
	}
	return -1;
}

/* The a6mid line of key, or NULL */
static __always_inline struct moat_a6mid *moat_a6_line(__u32 tab, __u64 key,
						       __u32 bits)
{
	int idx = moat_a6_find(tab, key, bits);
	__u32 i = (__u32)idx;

	if (idx < 0)
		return 0;
	return bpf_map_lookup_elem(&a6mid, &i);
}

static __always_inline int moat_a6_trie(const struct moat_a6addr *ad,
					__u32 tab)
{
	struct moat_lpm6_key k;
	__u32 *v;

	k.prefixlen = 8 + 128;
	k.dir = tab;
	__builtin_memcpy(k.addr, ad->a, 16);
	v = bpf_map_lookup_elem(&lpm6, &k);
	return v ? *v : 0;
}

/*
 * Leaf index of an IPv6 address in table tab (include/moat.h, a6mid): its
 * /16's a6top cell when the /16 is uniform, else the line of its /48
 * (inline prefixes up to /64, a6long probes for longer lengths, or the
 * trie for a dense /48); without one, the lines of the lengths < 48 in
 * shortl, longest first (or the trie).  A global function: verified once,
 * its bounded loops not multiplied by the callers' paths.  Loop counters
 * are 64-bit: spilled around the calls, a 32-bit counter loses its bounds.
 */
__attribute__((noinline)) int moat_a6_leaf(const struct moat_a6addr *ad,
					   __u32 tab, __u64 shortl, __u32 bits)
{
	struct moat_a6long_key lk;
	struct moat_a4line *top;
	struct moat_a6mid *m;
	__u32 *v, l, n, b, ti;
	__u64 hi, lo, i;
	__u16 t;

	if (!ad)
		return 0;
	if (bits < MOAT_A6_MIN_BITS || bits > MOAT_A6_BITS)
		bits = MOAT_A6_BITS;
	hi = (__u64)bpf_ntohl(ad->a[0]) << 32 | bpf_ntohl(ad->a[1]);
	lo = (__u64)bpf_ntohl(ad->a[2]) << 32 | bpf_ntohl(ad->a[3]);
	/* a /16 holding one leaf throughout: one read of a small table */
	ti = tab * MOAT_A6_TOP_LINES + (__u32)(hi >> 53);
	top = bpf_map_lookup_elem(&a6top, &ti);
	if (!top)
		return 0;
	t = top->leaf[(hi >> 48) & (MOAT_A4_LINE - 1)];
	if (t != MOAT_A4_DESCEND)
		return t;
	m = moat_a6_line(tab, moat_a6_key(hi, MOAT_A6_MID), bits);
	if (m) {
		if (m->n == MOAT_A6_DENSE)
			return moat_a6_trie(ad, tab);
		n = m->nl;
#pragma clang loop unroll(disable)
		for (i = 0; i < MOAT_A6_NLONG; i++) {
			if (i >= n)
				break;
			l = m->len[i];
			lk.tab_len = tab << 8 | l;
			lk.pad = 0;
			lk.hi = hi;
			lk.lo = l >= 128 ? lo : lo & ~(~0ULL >> ((l - 64) & 63));
			v = bpf_map_lookup_elem(&a6long, &lk);
			if (v)
				return *v;
		}
		n = m->n;
#pragma clang loop unroll(disable)
		for (i = 0; i < MOAT_A6_NIN; i++) {
			if (i >= n)
				break;
			/* bits 48..63 of the address, masked to plen */
			l = 64 - m->plen[i];
			if ((hi & (0xffffULL << (l & 15)) & 0xffff) == m->mid[i])
				return m->ileaf[i];
		}
		return m->leaf;
	}
	if (shortl == MOAT_A6_SHORT_TRIE)
		return moat_a6_trie(ad, tab);
#pragma clang loop unroll(disable)
	for (i = 0; i < MOAT_A6_NSHORT; i++) {
		b = (shortl >> (8 * i)) & 0xff;
		if (!b)
			break;
		m = moat_a6_line(tab, moat_a6_key(hi, b - 1), bits);
		if (m)
			return m->leaf;
	}
	return 0;
}

/* Leaf of an IPv6 address. */
static __always_inline const struct moat_aleaf *
moat_addr6(__u32 slot, const struct moat_gen_info *gi, const __u32 *addr)
{
	struct moat_a6addr ad;

	__builtin_memcpy(ad.a, addr, 16);
	return moat_leaf(slot, (__u32)moat_a6_leaf(&ad, gi->atab, gi->a6short,
						   gi->a6bits));
}

static __always_inline const struct moat_l4cls *moat_l4cls(__u32 idx)
{
	return bpf_map_lookup_elem(&l4cls, &idx);
}

/* all-ones if `bit` is set in fields, else 0 (branch free key masking) */
#define MOAT_MASK(fields, bit) (-(__u32)(((fields) & (bit)) != 0))

/*
 * Tuple space search over the candidate tuples of the slot (bits of
 * cand), in order of the tuple's best rule position, stopping once no
 * remaining tuple can beat the best match.  A global (separately verified)
 * function, so the verifier walks the loop once rather than once per parse
 * path.  full: the packet's complete key (all fields).  Returns the
 * matched rule position or MOAT_NO_MATCH.
 */
__attribute__((noinline)) int moat_tss(const struct moat_cls_key *full,
				       __u32 slot, __u64 cand)
{
	struct moat_gen_info *gi;
	struct moat_cls_key key;
	__u32 best = MOAT_NO_MATCH, i;

	if (!full || slot >= MOAT_SLOTS)
		return MOAT_NO_MATCH;
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	if (!gi)
		return MOAT_NO_MATCH;

#pragma clang loop unroll(disable)
	for (i = 0; i < MOAT_MAX_TUPLES; i++) {
		const struct moat_tuple *tp;
		struct moat_cls_val *v;
		__u64 b;
		__u32 f, t = 0;

		if (!cand)
			break;
		b = cand & -cand; /* lowest candidate = best min_pos */
		cand &= cand - 1;
		if (!(b & 0xffffffffULL)) {
			t += 32;
			b >>= 32;
		}
		if (!(b & 0xffff)) {
			t += 16;
			b >>= 16;
		}
		if (!(b & 0xff)) {
			t += 8;
			b >>= 8;
		}
		if (!(b & 0xf)) {
			t += 4;
			b >>= 4;
		}
		if (!(b & 0x3)) {
			t += 2;
			b >>= 2;
		}
		if (!(b & 0x1))
			t += 1;
		t &= MOAT_MAX_TUPLES - 1;
		tp = &gi->tuples[t];
		if (tp->min_pos >= best)
			break;
		f = tp->fields;
		/* the whole key (fields added later default to "compared") */
		__builtin_memcpy(&key, full, sizeof(key));
		key.tuple = slot * MOAT_MAX_TUPLES + t;
		key.ifindex = full->ifindex & MOAT_MASK(f, MOAT_F_IFINDEX);
		key.src = full->src & MOAT_MASK(f, MOAT_F_SRC);
		key.dst = full->dst & MOAT_MASK(f, MOAT_F_DST);
		key.sport = full->sport & MOAT_MASK(f, MOAT_F_SPORT);
		key.dport = full->dport & MOAT_MASK(f, MOAT_F_DPORT);
		key.vlan = full->vlan & MOAT_MASK(f, MOAT_F_VLAN);
		key.proto = full->proto & MOAT_MASK(f, MOAT_F_PROTO);
		key.flags = full->flags & MOAT_MASK(f, MOAT_F_FLAGS);
		key.icmp_type = full->icmp_type & MOAT_MASK(f, MOAT_F_ICMP_TYPE);
		key.icmp_code = full->icmp_code & MOAT_MASK(f, MOAT_F_ICMP_CODE);
		key.ct = full->ct & MOAT_MASK(f, MOAT_F_STATE);
		v = bpf_map_lookup_elem(&cls, &key);
		if (v && v->pos < best)
			best = v->pos;
	}
	return best;
}

/*
 * First-match classification of p against the rule set in `slot`: the
 * per-field class lookups (each giving a class and a tuple mask), then the
 * tuple space search over the tuples left in the AND of the masks.
 * Returns the matched rule position or MOAT_NO_MATCH.
 */
static __always_inline __u32 moat_classify(__u32 slot,
					   const struct moat_gen_info *gi,
					   const struct moat_pkt *p,
					   __u32 ifindex)
{
	struct moat_cls_key full = {};
	const struct moat_aleaf *sl, *dl;
	const struct moat_l4cls *c;
	__u32 n = gi->ntuples, atab = gi->atab;
	__u64 cand;

	if (!n)
		return MOAT_NO_MATCH;
	cand = n >= 64 ? ~0ULL : (1ULL << n) - 1;
	full.ifindex = ifindex;
	full.ethertype = p->ethertype;
	full.vlan = p->vlan;
	full.ct = p->ct; /* connection-tracking state (ct.h) */
	if (!p->family)
		return (__u32)moat_tss(&full, slot, cand & gi->nonip_mask);
	if (atab >= MOAT_ATABS)
		return MOAT_NO_MATCH;
	full.proto = p->proto;
	cand &= gi->proto_mask[p->family == 6][p->proto];
	if (!cand)
		return MOAT_NO_MATCH;
	if (p->family == 4) {
		sl = moat_addr4(slot, atab, p->saddr[0]);
		dl = moat_addr4(slot, atab, p->daddr[0]);
	} else {
		sl = moat_addr6(slot, gi, p->saddr);
		dl = moat_addr6(slot, gi, p->daddr);
	}
	if (!sl || !dl)
		return MOAT_NO_MATCH;
	full.src = sl->scls;
	full.dst = dl->dcls;
	cand &= sl->smask & dl->dmask;
	if (!p->has_l4) {
		cand &= ~gi->l4_mask;
	} else {
		__u32 base = slot * MOAT_L4CLS_SIZE;

		switch (p->proto) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
		case IPPROTO_SCTP:
			c = moat_l4cls(base + MOAT_L4CLS_SPORT + p->sport);
			if (!c)
				return MOAT_NO_MATCH;
			full.sport = c->cls;
			cand &= c->mask;
			c = moat_l4cls(base + MOAT_L4CLS_DPORT + p->dport);
			if (!c)
				return MOAT_NO_MATCH;
			full.dport = c->cls;
			cand &= c->mask;
			if (p->proto != IPPROTO_TCP) {
				cand &= gi->flags0_mask;
				break;
			}
			c = moat_l4cls(base + MOAT_L4CLS_FLAGS + p->tcp_flags);
			if (!c)
				return MOAT_NO_MATCH;
			full.flags = c->cls;
			cand &= c->mask;
			break;
		default: /* ICMP / ICMPv6 */
			full.icmp_type = p->icmp_type;
			full.icmp_code = p->icmp_code;
			cand &= gi->sport0_mask & gi->dport0_mask &
				gi->flags0_mask;
			break;
		}
	}
	if (!cand)
		return MOAT_NO_MATCH;
	return (__u32)moat_tss(&full, slot, cand);
}

#endif /* MOAT_XDP_CLASSIFY_H */
