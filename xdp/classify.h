/* SPDX-License-Identifier: GPL-2.0 */
/*
 * classify.h - per-field class lookups and the tuple space search.
 *
 * moat_classify(slot, ...) maps the packet's fields to class ids using the
 * slot's LPM tries and l4cls ranges, then probes the slot's classifier hash
 * once per tuple, in order of the tuple's best rule position, stopping as
 * soon as no remaining tuple can beat the best match.  It takes the slot as
 * a parameter so it can be run for more than one rule set per packet.
 *
 * Expects the maps gen_info, l4cls, gen_cls, gen_lpm4, gen_lpm6 declared
 * before it is included (see moat.bpf.c).
 */
#ifndef MOAT_XDP_CLASSIFY_H
#define MOAT_XDP_CLASSIFY_H

#include "parse.h"

#define MOAT_NO_MATCH 0xffffffffU

/* class id of the LPM entry covering addr, 0 on a miss */
static __always_inline __u32 moat_addr_cls(void *trie4, void *trie6,
					   const struct moat_pkt *p,
					   const __u32 *addr, __u8 dir)
{
	__u32 *cls;

	if (p->family == 4) {
		struct moat_lpm4_key k4;

		if (!trie4)
			return 0;
		k4.prefixlen = 8 + 32;
		k4.dir = dir;
		__builtin_memcpy(k4.addr, addr, 4);
		cls = bpf_map_lookup_elem(trie4, &k4);
	} else {
		struct moat_lpm6_key k6;

		if (!trie6)
			return 0;
		k6.prefixlen = 8 + 128;
		k6.dir = dir;
		__builtin_memcpy(k6.addr, addr, 16);
		cls = bpf_map_lookup_elem(trie6, &k6);
	}
	return cls ? *cls : 0;
}

static __always_inline __u16 moat_l4cls(__u32 idx)
{
	__u16 *c = bpf_map_lookup_elem(&l4cls, &idx);

	return c ? *c : 0;
}

/* all-ones if `bit` is set in fields, else 0 (branch free key masking) */
#define MOAT_MASK(fields, bit) (-(__u32)(((fields) & (bit)) != 0))

/*
 * Tuple space search over the slot's tuples: one hash probe per tuple, in
 * order of the tuple's best rule position, stopping once no remaining
 * tuple can beat the best match.  A global (separately verified) function,
 * so the verifier walks the loop once rather than once per parse path.
 * full: the packet's complete key (all fields); has_l4: L4 fields valid.
 * Returns the matched rule position or MOAT_NO_MATCH.
 */
__attribute__((noinline)) int moat_tss(const struct moat_cls_key *full,
				       __u32 slot, __u32 has_l4)
{
	struct moat_gen_info *gi;
	struct moat_cls_key key;
	__u32 best = MOAT_NO_MATCH, n, i;
	void *cls_map;

	if (!full)
		return MOAT_NO_MATCH;
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	cls_map = bpf_map_lookup_elem(&gen_cls, &slot);
	if (!gi || !cls_map)
		return MOAT_NO_MATCH;
	n = gi->ntuples;
	if (n > MOAT_MAX_TUPLES)
		n = MOAT_MAX_TUPLES;

#pragma clang loop unroll(disable)
	for (i = 0; i < MOAT_MAX_TUPLES; i++) {
		const struct moat_tuple *t;
		struct moat_cls_val *v;
		__u32 f;

		if (i >= n)
			break;
		t = &gi->tuples[i];
		if (t->min_pos >= best)
			break;
		f = t->fields;
		if ((f & MOAT_F_L4) && !has_l4)
			continue;
		key.tuple = i;
		key.ifindex = full->ifindex & MOAT_MASK(f, MOAT_F_IFINDEX);
		key.src = full->src & MOAT_MASK(f, MOAT_F_SRC);
		key.dst = full->dst & MOAT_MASK(f, MOAT_F_DST);
		key.sport = full->sport & MOAT_MASK(f, MOAT_F_SPORT);
		key.dport = full->dport & MOAT_MASK(f, MOAT_F_DPORT);
		key.ethertype = full->ethertype;
		key.vlan = full->vlan & MOAT_MASK(f, MOAT_F_VLAN);
		key.proto = full->proto & MOAT_MASK(f, MOAT_F_PROTO);
		key.flags = full->flags & MOAT_MASK(f, MOAT_F_FLAGS);
		key.icmp_type = full->icmp_type & MOAT_MASK(f, MOAT_F_ICMP_TYPE);
		key.icmp_code = full->icmp_code & MOAT_MASK(f, MOAT_F_ICMP_CODE);
		key.ct = full->ct & MOAT_MASK(f, MOAT_F_STATE);
		key.pad[0] = key.pad[1] = key.pad[2] = 0;
		v = bpf_map_lookup_elem(cls_map, &key);
		if (v && v->pos < best)
			best = v->pos;
	}
	return best;
}

/*
 * First-match classification of p against the rule set in `slot`: the
 * per-field class lookups, then the tuple space search.  Returns the
 * matched rule position or MOAT_NO_MATCH.
 */
static __always_inline __u32 moat_classify(__u32 slot,
					   const struct moat_pkt *p,
					   __u32 ifindex)
{
	struct moat_cls_key full = {};
	void *trie4 = 0, *trie6 = 0;

	full.ifindex = ifindex;
	full.ethertype = p->ethertype;
	full.vlan = p->vlan;
	full.ct = p->ct;
	if (p->family) {
		if (p->family == 4)
			trie4 = bpf_map_lookup_elem(&gen_lpm4, &slot);
		else
			trie6 = bpf_map_lookup_elem(&gen_lpm6, &slot);
		full.proto = p->proto;
		full.src = moat_addr_cls(trie4, trie6, p, p->saddr,
					 MOAT_DIR_SRC);
		full.dst = moat_addr_cls(trie4, trie6, p, p->daddr,
					 MOAT_DIR_DST);
		if (p->has_l4) {
			__u32 base = slot * MOAT_L4CLS_SIZE;

			switch (p->proto) {
			case IPPROTO_TCP:
				full.flags = moat_l4cls(base + MOAT_L4CLS_FLAGS +
							p->tcp_flags);
				/* fallthrough */
			case IPPROTO_UDP:
			case IPPROTO_SCTP:
				full.sport = moat_l4cls(base + MOAT_L4CLS_SPORT +
							p->sport);
				full.dport = moat_l4cls(base + MOAT_L4CLS_DPORT +
							p->dport);
				break;
			default: /* ICMP / ICMPv6 */
				full.icmp_type = p->icmp_type;
				full.icmp_code = p->icmp_code;
				break;
			}
		}
	}
	return (__u32)moat_tss(&full, slot, p->has_l4);
}

#endif /* MOAT_XDP_CLASSIFY_H */
