/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow.h - the microflow cache, read before the packet is parsed.
 *
 * The flow cache (fcache.h) saves classification but not parsing: the
 * parser writes struct moat_pkt field by field and the cache then reads
 * it back.  For packets of the common plain shapes (include/moat.h, mflow)
 * the key is read straight from the frame at fixed offsets instead, and a
 * hit returns the line's answer with its counters: no parse, no
 * classification, no rules lookup.
 *
 * Safe because, for a frame moat_mf_probe reads a key from:
 *   - the parser accepts it too (every check the parser makes that can
 *     fail on such a frame is made here: header lengths against data_end,
 *     a complete VLAN tag, version, IHL 5, tot_len >= 20, complete L4
 *     header), so no drop reason is skipped;
 *   - everything the parser would put in struct moat_pkt is a function of
 *     the key (VLAN: none, or tagged and the outer VID; ethertype, family,
 *     addresses, protocol, ports, TCP flags, ICMP type and code, has_l4,
 *     first fragment), so equal keys get the same rule of the same slot;
 *   - lines are written only for slots without connection tracking and
 *     interfaces without a candidate, and used only while that still holds
 *     and the tag in the config word is the line's, the low 32 bits of the
 *     epoch of the slot that answered (a rewritten slot gets a new epoch:
 *     lines need no invalidation, as in fcache.h; a config word is
 *     stamped with its slot's tag when written, include/moat.h).
 * Anything else goes the slow path (parse, fcache, classify) and, if
 * eligible, leaves its answer on the line.
 *
 * Expects the maps mflow, gen_info, rules, rule_stats, stats and
 * redirect_map declared before it is included (xdp/maps.h).  A hit reads
 * no gen_info: the config word has the tag.
 */
#ifndef MOAT_XDP_MFLOW_H
#define MOAT_XDP_MFLOW_H

#include "parse.h"
#include "action.h"
#include "cand.h"

/* The L4 word of key[4] for protocol `proto` of family `fam` whose header
 * starts at l4; 0 when that header is cut short (not eligible). */
static __always_inline int moat_mf_l4(__u8 *l4, void *data_end, __u8 proto,
				      __u8 fam, __u64 *w)
{
	switch (proto) {
	case IPPROTO_TCP:
		if ((void *)(l4 + 20) > data_end)
			return 0;
		*w = *(__u32 *)l4 | (__u64)l4[13] << 32;
		return 1;
	case IPPROTO_UDP:
		if ((void *)(l4 + 8) > data_end)
			return 0;
		*w = *(__u32 *)l4;
		return 1;
	case IPPROTO_SCTP:
		if ((void *)(l4 + 12) > data_end)
			return 0;
		*w = *(__u32 *)l4;
		return 1;
	case IPPROTO_ICMP:
	case MOAT_IPPROTO_ICMPV6:
		if (proto != (fam == 4 ? IPPROTO_ICMP : MOAT_IPPROTO_ICMPV6))
			break; /* the other family's ICMP: no L4 fields */
		if ((void *)(l4 + 4) > data_end)
			return 0;
		*w = *(__u16 *)l4;
		return 1;
	}
	*w = 0; /* no L4 fields */
	return 1;
}

/* key[4]'s VLAN bits of a frame whose outer tag's TCI is tci (network
 * order): tagged, and the VID the parser records (PCP, DEI left out). */
static __always_inline __u64 moat_mf_vlan(__u16 tci)
{
	return MOAT_MF_TAGGED | (__u64)(bpf_ntohs(tci) & 0x0fff)
					<< MOAT_MF_VID_SHIFT;
}

/* The frame's microflow key in k; its family (4 or 6), or 0 if it is not
 * of a cached shape.  VLAN tags (802.1Q or 802.1ad) in front of the IP
 * header, as many as the parser takes (2), are read past: d then stands 4
 * or 8 bytes on, as if they were not there, and the outer VID (the one the
 * parser records) goes in key[4]. */
static __always_inline int moat_mf_key(void *data, void *data_end, __u64 *k)
{
	__u8 *d = data;
	__u64 vl = 0;
	__u16 et;
	__u8 proto;
	__u64 w;

	if ((void *)(d + 34) > data_end)
		return 0;
	et = *(__u16 *)(d + 12);
	if (et != bpf_htons(ETH_P_IP) && et != bpf_htons(ETH_P_IPV6)) {
		/* a tag, complete; then IPv4 or IPv6, or one more complete
		 * tag and then IPv4 or IPv6 (a third tag is dropped by the
		 * parser: the slow path) */
		if (!moat_is_vlan(et) || (void *)(d + 38) > data_end)
			return 0;
		vl = moat_mf_vlan(*(__u16 *)(d + 14));
		et = *(__u16 *)(d + 16);
		d += 4;
		if (moat_is_vlan(et)) {
			if ((void *)(d + 38) > data_end)
				return 0;
			et = *(__u16 *)(d + 16);
			d += 4;
		}
	}
	if (et == bpf_htons(ETH_P_IP)) {
		/* version 4, IHL 5; not a non-first fragment; tot_len >= 20 */
		if (d[14] != 0x45 ||
		    (*(__u16 *)(d + 20) & bpf_htons(0x1fff)) ||
		    (((__u16)d[16] << 8) | d[17]) < 20)
			return 0;
		proto = d[23];
		if (!moat_mf_l4(d + 34, data_end, proto, 4, &w))
			return 0;
		k[0] = *(__u64 *)(d + 26);
		k[1] = k[2] = k[3] = 0;
		k[4] = w | (__u64)proto << 40 | (__u64)4 << 48 | vl;
		return 4;
	}
	if (et != bpf_htons(ETH_P_IPV6))
		return 0;
	/* version 6, no extension header */
	if ((void *)(d + 54) > data_end || (d[14] >> 4) != 6)
		return 0;
	proto = d[20];
	if (moat_ip6_is_ext(proto) || !moat_mf_l4(d + 54, data_end, proto, 6, &w))
		return 0;
	k[0] = *(__u64 *)(d + 22);
	k[1] = *(__u64 *)(d + 30);
	k[2] = *(__u64 *)(d + 38);
	k[3] = *(__u64 *)(d + 46);
	k[4] = w | (__u64)proto << 40 | (__u64)6 << 48 | vl;
	return 6;
}

/* The frame's line, its key in k and its family in *fam; NULL if the frame
 * is not of a cached shape.  The per-CPU table is looked up before the
 * frame is read, so no call comes between the key and its use. */
static __always_inline struct moat_mf_line *
moat_mf_line(struct xdp_md *ctx, __u32 ifindex, __u64 *k, int *fam)
{
	__u32 zero = 0;
	struct moat_mf *mf = bpf_map_lookup_elem(&mflow, &zero);

	if (!mf)
		return NULL;
	*fam = moat_mf_key((void *)(long)ctx->data,
			   (void *)(long)ctx->data_end, k);
	if (!*fam)
		return NULL;
	return &mf->line[moat_mf_index(k[0], k[1], k[2], k[3], k[4], ifindex)];
}

/*
 * The line answering the frame arriving on ifindex under config word
 * cfgw, or NULL.  Nothing is kept for the slow path (it reads the key
 * again if it will leave an answer), so a miss is just a return.  An IPv4
 * key's words 1-3 are 0 and the family is in word 4: an IPv4 line is
 * told by words 0 and 4 alone.  The slot's tag and the ifindex are one
 * word (tagif), taken from the config word: no gen_info read.
 */
static __always_inline struct moat_mf_line *
moat_mf_probe(struct xdp_md *ctx, __u32 ifindex, __u64 cfgw)
{
	struct moat_mf_line *l;
	__u64 k[MOAT_MF_WORDS];
	int fam = 0;

	if (MOAT_CFG_MODE(cfgw) != MOAT_CAND_NONE)
		return NULL; /* a candidate: not used, not written */
	l = moat_mf_line(ctx, ifindex, k, &fam);
	if (!l || (l->key[0] ^ k[0]) | (l->key[4] ^ k[4]) |
			  (l->tagif ^ MOAT_CFG_TAGIF(cfgw, ifindex)))
		return NULL;
	if (fam == 6 &&
	    ((l->key[1] ^ k[1]) | (l->key[2] ^ k[2]) | (l->key[3] ^ k[3])))
		return NULL;
	return l;
}

/* A hit: count the packet as the slow path would have, return the verdict. */
static __always_inline int moat_mf_answer(const struct moat_mf_line *l,
					  __u64 bytes)
{
	if (l->rule)
		return moat_rule_act(l->id, l->action, l->rif, bytes);
	return moat_verdict(l->action == MOAT_ACT_DROP ? XDP_DROP : XDP_PASS,
			    l->stat, bytes);
}

/* Leave p's answer from `slot` (rule position pos or MOAT_NO_MATCH) on
 * line l for key k; 0, or -1 if it cannot be cached (a slot never written,
 * or pos out of range: the line is left as it was).  Only for a slot
 * without connection tracking on an interface without a candidate (the
 * caller checks). */
static __always_inline int moat_mf_fill(struct moat_mf_line *l, const __u64 *k,
					__u32 ifindex, __u32 slot, __u32 pos,
					const struct moat_pkt *p)
{
	struct moat_gen_info *gi = bpf_map_lookup_elem(&gen_info, &slot);
	__u32 idx = slot * MOAT_MAX_RULES + pos;
	struct moat_rule *r;

	if (!gi || !gi->epoch)
		return -1;
	if (pos != MOAT_NO_MATCH) {
		r = bpf_map_lookup_elem(&rules, &idx);
		if (!r)
			return -1;
		l->rule = 1;
		l->id = r->id;
		l->action = r->action;
		l->rif = r->ifindex;
		l->stat = 0;
	} else {
		l->rule = 0;
		l->id = 0;
		l->rif = 0;
		l->stat = moat_no_match_stat(slot, p);
		l->action = l->stat == MOAT_STAT_DROP_POLICY ? MOAT_ACT_DROP :
							       MOAT_ACT_PASS;
	}
	__builtin_memcpy(l->key, k, sizeof(l->key));
	l->tagif = moat_mf_tagif(gi->epoch, ifindex);
	return 0;
}

#endif /* MOAT_XDP_MFLOW_H */
