/* SPDX-License-Identifier: GPL-2.0 */
/*
 * action.h - verdicts and counters: per-CPU global stats, per-rule stats,
 * redirect through redirect_map.
 *
 * Expects the maps gen_info, rules, rule_stats, stats and redirect_map declared
 * before it is included (xdp/maps.h).
 */
#ifndef MOAT_XDP_ACTION_H
#define MOAT_XDP_ACTION_H

#include "classify.h"

static __always_inline void moat_count(__u32 idx, __u64 bytes)
{
	struct moat_counter *c = bpf_map_lookup_elem(&stats, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Count the packet under `stat` and return `verdict`. */
static __always_inline int moat_verdict(int verdict, __u32 stat, __u64 bytes)
{
	moat_count(stat, bytes);
	return verdict;
}

/* Count rule counter `id` and carry out a rule's action. */
static __always_inline int moat_rule_act(__u32 id, __u32 action, __u32 ifindex,
					 __u64 bytes)
{
	struct moat_counter *c = bpf_map_lookup_elem(&rule_stats, &id);
	int ret;

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	switch (action) {
	case MOAT_ACT_PASS:
		return moat_verdict(XDP_PASS, MOAT_STAT_RULE_PASS, bytes);
	case MOAT_ACT_REDIRECT:
		ret = bpf_redirect_map(&redirect_map, ifindex, XDP_DROP);
		if (ret == XDP_REDIRECT)
			return moat_verdict(ret, MOAT_STAT_REDIRECT, bytes);
		return moat_verdict(XDP_DROP, MOAT_STAT_DROP_REDIRECT, bytes);
	default:
		return moat_verdict(XDP_DROP, MOAT_STAT_DROP_RULE, bytes);
	}
}

/* Apply rule `pos` of `slot`: per-rule counter, then the rule's action. */
static __always_inline int moat_apply_rule(__u32 slot, __u32 pos, __u64 bytes)
{
	__u32 idx = slot * MOAT_MAX_RULES + pos;
	struct moat_rule *r;

	r = bpf_map_lookup_elem(&rules, &idx);
	if (!r) /* pos out of range: a broken image; fail closed */
		return moat_verdict(XDP_DROP, MOAT_STAT_DROP_RULE, bytes);
	return moat_rule_act(r->id, r->action, r->ifindex, bytes);
}

/* What decides a packet no rule of `slot` matched, as the stat it is
 * counted under: non-IP and neighbour discovery pass, else the slot's
 * policy (MOAT_STAT_DROP_POLICY or MOAT_STAT_POLICY_PASS). */
static __always_inline __u32 moat_no_match_stat(__u32 slot,
						const struct moat_pkt *p)
{
	struct moat_gen_info *gi;

	if (!p->family)
		return MOAT_STAT_NONIP_PASS;
	if (p->family == 6 && p->has_l4 && p->proto == MOAT_IPPROTO_ICMPV6 &&
	    p->icmp_type >= 133 && p->icmp_type <= 137)
		return MOAT_STAT_ND_PASS;
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	if (gi && gi->policy == MOAT_ACT_DROP)
		return MOAT_STAT_DROP_POLICY;
	return MOAT_STAT_POLICY_PASS;
}

/* No rule of `slot` matched: count and return the verdict. */
static __always_inline int moat_no_match(__u32 slot, const struct moat_pkt *p,
					 __u64 bytes)
{
	__u32 stat = moat_no_match_stat(slot, p);

	return moat_verdict(stat == MOAT_STAT_DROP_POLICY ? XDP_DROP : XDP_PASS,
			    stat, bytes);
}

#endif /* MOAT_XDP_ACTION_H */
