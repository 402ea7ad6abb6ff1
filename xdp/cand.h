/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cand.h - this interface's config word, and the candidate rule set beside
 * the one in force (include/moat.h): shadow classification and the
 * counters of both modes.  Off the fast path unless a candidate is set.
 *
 * Expects the maps config, gen_info, rules, ct_config, cand_stats,
 * cand_rules and shadow_src declared before it is included, and the
 * read-only constant moat_port.
 */
#ifndef MOAT_XDP_CAND_H
#define MOAT_XDP_CAND_H

#include "classify.h"

/*
 * config[moat_port] as one 64-bit load (the moat_ctl program writes it
 * with one 64-bit store; it checks slots are < MOAT_SLOTS).  Fields are
 * taken from the word with masks, not branches, so the verifier carries
 * one state through the parse paths.
 */
#define MOAT_CFG_SLOT(w) ((__u32)(w) & (MOAT_SLOTS - 1))
#define MOAT_CFG_CAND(w) ((__u32)((w) >> 8) & (MOAT_SLOTS - 1))
#define MOAT_CFG_MODE(w) ((__u32)((w) >> 16) & 0xff)
#define MOAT_CFG_CANARY(w) ((__u32)((w) >> 32))
/* mode NONE: the slot's tag with ifindex, as a microflow line holds them
 * (moat_mf_tagif) */
#define MOAT_CFG_TAGIF(w, ifindex) \
	(((w) & 0xffffffff00000000ULL) | (__u32)(ifindex))

static __always_inline __u64 moat_config_read(void)
{
	__u32 key = moat_port & (MOAT_MAX_PORTS - 1);
	struct moat_config *cfg = bpf_map_lookup_elem(&config, &key);

	return cfg ? *(volatile __u64 *)cfg : 0;
}

static __always_inline void moat_cand_count(__u32 idx, __u64 bytes)
{
	struct moat_counter *c = bpf_map_lookup_elem(&cand_stats, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Rule position deciding p in `slot` (MOAT_NO_MATCH: none), `pass
 * state` fast path and, if `fc`, the flow cache (fcache.h) included.  A
 * global function: verified once, not once per parse path of the caller. */
__attribute__((noinline)) int moat_rule_pos(const struct moat_pkt *p,
					    __u32 slot, __u32 ifindex, int fc)
{
	struct moat_ct_config *ctc;
	struct moat_gen_info *gi;
	struct moat_fc_line *line;
	const __u64 *k;
	__u64 epoch;
	__u32 pos;

	if (!p || slot >= MOAT_SLOTS)
		return MOAT_NO_MATCH;
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	if (!gi)
		return MOAT_NO_MATCH;
	/* the `pass state` fast path; untracked packets (ct 0, never in
	 * `fast`) skip its lookup */
	if (p->ct && p->ct < 32) {
		ctc = bpf_map_lookup_elem(&ct_config, &slot);
		if (ctc && ctc->enabled && ((ctc->fast >> p->ct) & 1))
			return 0;
	}
	epoch = gi->epoch;
	if (!epoch || !fc)
		return (int)moat_classify(slot, gi, p, ifindex);
	k = (const __u64 *)p; /* 8-byte aligned: its words */
	if (moat_fc_probe(&line, k, ifindex, epoch))
		return (int)line->pos;
	pos = moat_classify(slot, gi, p, ifindex);
	if (line)
		moat_fc_fill(line, k, ifindex, epoch, pos);
	return (int)pos;
}

/* enum moat_action a verdict amounts to */
static __always_inline __u32 moat_xdp_action(int ret)
{
	if (ret == XDP_PASS)
		return MOAT_ACT_PASS;
	if (ret == XDP_REDIRECT)
		return MOAT_ACT_REDIRECT;
	return MOAT_ACT_DROP;
}

static __always_inline void moat_rule_count(__u32 pos, __u64 bytes,
					    __u32 change)
{
	struct moat_cand_rule *r;

	if (pos > MOAT_CAND_NOMATCH)
		pos = MOAT_CAND_NOMATCH;
	r = bpf_map_lookup_elem(&cand_rules, &pos);
	if (!r)
		return;
	r->packets++;
	r->bytes += bytes;
	if (change == MOAT_CS_PASS_TO_DROP)
		r->pass_to_drop++;
	else if (change == MOAT_CS_DROP_TO_PASS)
		r->drop_to_pass++;
}

__attribute__((noinline)) int moat_src_count(const struct moat_pkt *p,
					     __u32 change)
{
	struct moat_src_key k = {};
	struct moat_src_val *v, nv = {};

	if (!p)
		return 0;
	k.family = p->family;
	__builtin_memcpy(k.addr, p->saddr, sizeof(k.addr));
	v = bpf_map_lookup_elem(&shadow_src, &k);
	if (!v) {
		bpf_map_update_elem(&shadow_src, &k, &nv, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&shadow_src, &k);
		if (!v)
			return 0;
	}
	if (change == MOAT_CS_PASS_TO_DROP)
		__sync_fetch_and_add(&v->pass_to_drop, 1);
	else
		__sync_fetch_and_add(&v->drop_to_pass, 1);
	return 0;
}

/* The slot deciding packet p: the candidate's for a canary's share of
 * flows, else the one in force. */
static __always_inline __u32 moat_canary_slot(__u64 w,
					      const struct moat_pkt *p)
{
	__u32 s = MOAT_CFG_SLOT(w);

	if (MOAT_CFG_MODE(w) == MOAT_CAND_CANARY &&
	    moat_flow_hash(p->saddr, p->daddr, p->sport, p->dport, p->proto) <
		    MOAT_CFG_CANARY(w))
		s = MOAT_CFG_CAND(w);
	/* one value range whichever side: the verifier merges the paths */
	return s & (MOAT_SLOTS - 1);
}

/* The slot whose connection-tracking settings apply (MOAT_SLOTS: none
 * uses `state`): the deciding slot's, else a shadow candidate's. */
static __always_inline __u32 moat_ct_slot(__u64 w, __u32 slot)
{
	struct moat_ct_config *ctc = bpf_map_lookup_elem(&ct_config, &slot);
	__u32 cs = MOAT_CFG_CAND(w);

	if (ctc && ctc->enabled)
		return slot;
	if (MOAT_CFG_MODE(w) != MOAT_CAND_SHADOW)
		return MOAT_SLOTS;
	ctc = bpf_map_lookup_elem(&ct_config, &cs);
	return ctc && ctc->enabled ? cs : MOAT_SLOTS;
}

/*
 * Count a packet while a candidate is set (a global function: verified
 * once, off the path of packets without one).  cfgw: the config word;
 * slot_ret: deciding slot << 8 | XDP verdict; pos_cpos: its rule position
 * (or MOAT_NO_MATCH) << 32 | the shadow candidate's (moat_rule_pos).
 * Canary: the side's verdicts, and the candidate's rule on its side.
 * Shadow: classify with the candidate too, count its verdict and the
 * difference.
 */
__attribute__((noinline)) int moat_cand_account(const struct moat_pkt *p,
						__u64 cfgw, __u32 slot_ret,
						__u64 pos_cpos, __u64 bytes)
{
	__u32 ret = slot_ret & 0xff, slot = slot_ret >> 8;
	__u32 pos = pos_cpos >> 32, cpos = (__u32)pos_cpos;
	__u32 act, idx, change = 0;
	__u32 enf = moat_xdp_action(ret), side = MOAT_CS_ENFORCED;
	__u32 cs = MOAT_CFG_CAND(cfgw), mode = MOAT_CFG_MODE(cfgw);
	struct moat_rule *r;

	if (!p)
		return 0;
	if (mode == MOAT_CAND_CANARY && slot == cs && cs != MOAT_CFG_SLOT(cfgw))
		side = MOAT_CS_CANARY;
	moat_cand_count(side + enf, bytes);
	if (side == MOAT_CS_CANARY)
		moat_rule_count(pos, bytes, 0);
	if (mode != MOAT_CAND_SHADOW)
		return 0;

	if (cpos != MOAT_NO_MATCH) {
		idx = cs * MOAT_MAX_RULES + (cpos & (MOAT_MAX_RULES - 1));
		r = bpf_map_lookup_elem(&rules, &idx);
		act = r ? r->action : MOAT_ACT_DROP;
	} else {
		act = moat_no_match_stat(cs, p) == MOAT_STAT_DROP_POLICY ?
			      MOAT_ACT_DROP :
			      MOAT_ACT_PASS;
	}
	if (act > MOAT_ACT_REDIRECT)
		act = MOAT_ACT_DROP;
	moat_cand_count(MOAT_CS_SHADOW + act, bytes);
	if (act != enf) {
		if (act == MOAT_ACT_DROP)
			change = MOAT_CS_PASS_TO_DROP;
		else if (enf == MOAT_ACT_DROP)
			change = MOAT_CS_DROP_TO_PASS;
		else
			change = MOAT_CS_OTHER_CHANGE;
		moat_cand_count(change, bytes);
		if (change != MOAT_CS_OTHER_CHANGE && p->family)
			moat_src_count(p, change);
	}
	moat_rule_count(cpos, bytes, change);
	return 0;
}

#endif /* MOAT_XDP_CAND_H */
