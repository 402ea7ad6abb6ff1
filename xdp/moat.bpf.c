// SPDX-License-Identifier: GPL-2.0
/*
 * moat.bpf.c - the moat XDP program.
 *
 * Per packet:
 *
 * 0. Read this interface's config[moat_port] once (one 64-bit load): the
 *    slot in force, and a candidate slot in shadow or canary mode (cand.h).
 *    The microflow cache (mflow.h): a frame of a plain shape (untagged
 *    or one or two VLAN tags; IPv4 without options or IPv6 without
 *    extension headers, L4 header complete) whose raw header key,
 *    interface and slot tag (from the config word) equal a line's is
 *    answered from the line: the rule and verdict counters as below, the
 *    line's verdict.  Not with a candidate, not for a slot doing
 *    connection tracking.  Else the slow path:
 * 1. Count MOAT_STAT_SLOW_PATH (packets and bytes; bytes = data_end -
 *    data).  Every packet ends in exactly one verdict counter (a drop
 *    reason or a pass/redirect), so MOAT_STAT_RX is not counted here:
 *    readers fill it in as their sum (include/moat.h).
 * 2. Parse (parse.h).  Malformed packets are dropped, each counted in one
 *    drop reason:
 *      - shorter than 14 bytes ................ MOAT_STAT_DROP_TRUNC_ETH
 *      - up to two VLAN tags (0x8100, 0x88a8), the OUTER VID is recorded;
 *        a tag cut short ..................... MOAT_STAT_DROP_TRUNC_VLAN
 *        a third tag ......................... MOAT_STAT_DROP_VLAN_DEPTH
 *      - IPv4: < 20 bytes, version != 4, IHL < 5, IHL*4 bytes not present,
 *        tot_len < IHL*4 ..................... MOAT_STAT_DROP_BAD_IP4
 *        Options are skipped.  Fragment offset != 0: a non-first fragment,
 *        no L4 header (counted MOAT_STAT_FRAGMENT, still classified on
 *        addresses/protocol; rules with L4 fields never match it).
 *        Offset 0 with MF set (first fragment) is parsed normally.
 *      - IPv6: < 40 bytes or version != 6 .... MOAT_STAT_DROP_BAD_IP6
 *        At most MOAT_MAX_IPV6_EXT extension headers are walked among
 *        hop-by-hop (0), routing (43), fragment (44, 8 bytes), destination
 *        options (60) and AH (51, (len+2)*4 bytes); hop-by-hop, routing
 *        and destination options are (len+1)*8 bytes.
 *        A header cut short, or still an extension header after the limit
 *        ...................................... MOAT_STAT_DROP_BAD_IP6_EXT
 *        A fragment header with offset != 0 ends the walk: non-first
 *        fragment, protocol = its next header, no L4.
 *      - L4 (first/unfragmented only): TCP needs 20 bytes (ports, flags
 *        byte 13), UDP 8, SCTP 12 (ports), ICMP (IPv4) / ICMPv6 (IPv6) 4
 *        (type, code); cut short ............. MOAT_STAT_DROP_TRUNC_L4
 *        Any other protocol: no L4 fields.
 *      - Non-IP frames: only the ethertype (after VLAN tags) is known.
 * 3. Canary: flows whose moat_flow_hash() is below the share take the
 *    candidate's slot.
 *    The flow cache (fcache.h; not for frames the microflow cache keeps)
 *    answers a packet whose classification
 *    input, interface and slot were seen last on its line; else classify
 *    (classify.h) against that slot, and remember the answer on the line:
 *    address leaves (IPv4: a4tab line + a4long for /24s with longer
 *    prefixes; IPv6: a6mid lines, a6long, lpm6) of the slot's address table, port/flags classes
 *    from the slot's l4cls range, each with a tuple mask; then a tuple
 *    space search over the candidate tuples of gen_info[slot] (first match
 *    = lowest rule position).
 * 4. No candidate, no connection tracking, a frame of a microflow shape:
 *    its answer goes on its line and is acted on from there, as a hit
 *    (step 0).  Else act (action.h):
 *      - matched rule: rule_stats[rule.id] += (1, bytes), then
 *        PASS (MOAT_STAT_RULE_PASS), DROP (MOAT_STAT_DROP_RULE), or
 *        REDIRECT to rule.ifindex via redirect_map (MOAT_STAT_REDIRECT;
 *        target missing: XDP_DROP, MOAT_STAT_DROP_REDIRECT).
 *      - no match: non-IP frame -> PASS (MOAT_STAT_NONIP_PASS); ICMPv6
 *        133-137 (neighbour discovery) -> PASS (MOAT_STAT_ND_PASS); else
 *        the slot's policy: PASS (MOAT_STAT_POLICY_PASS) or DROP
 *        (MOAT_STAT_DROP_POLICY).
 *
 * 5. Shadow: classify again against the candidate slot (moat_cand_pos, a
 *    global function), count its verdict per rule and where it differs
 *    from the verdict applied (cand_stats, cand_rules, shadow_src).  The
 *    packet's fate is the enforced verdict only.
 *
 * Before any rule set is written, every slot is empty with policy PASS.
 * All counters are per-CPU.  A frame shorter than 14 bytes never reaches
 * an XDP program on current kernels; the check is kept as a safety net.
 *
 * Verifier notes: the parser (moat_parse_xdp) is a global function, so
 * the verifier walks the rest of the program once, not once per parse
 * path (380K instructions verified instead of 854K, of the 1M limit; no
 * measurable cost per packet).  The tuple space search (moat_tss in
 * classify.h) is a global function too, verified once on its own, so its
 * 64-iteration bounded loop is not multiplied by its callers.  A plain bounded loop there
 * measured faster than bpf_loop (one callback call per tuple).  Packet
 * offsets are capped at MOAT_MAX_OFF so variable offsets stay provable.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>
#include "moat.h"

/* this program's entry in config (include/moat.h); set by ctl at load */
const volatile __u32 moat_port = 0;
/* what this program expects of the maps (include/moat.h, MOAT_ABI): ctl
 * refuses to write maps that a program of another ABI reads */
const volatile __u32 moat_abi = MOAT_ABI;

#include "maps.h"

#include "parse.h"
#include "classify.h"
#include "action.h"
#include "confirm.h"
#include "ct.h"
#include "fcache.h"
#include "cand.h"
#include "mflow.h"

/* moat_parse as a global function: verified once, and so is the rest of
 * moat_xdp (not once per parse path: 380K instead of 850K instructions
 * to verify, of the verifier's 1M). */
__attribute__((noinline)) int moat_parse_xdp(struct xdp_md *ctx,
					     struct moat_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (!p)
		return MOAT_STAT_DROP_TRUNC_ETH;
	return moat_parse(data, data_end, p);
}

/* Never needed together: a slot that tracks connections leaves no
 * microflow lines, so the microflow key (read again for the fill) shares
 * its stack with the connection-tracking tuple.  The verifier's 512-byte
 * stack over the deepest call chain has no room for both. */
union moat_xdp_scratch {
	struct moat_ct_pkt cp; /* connection tracking: the tuple */
	__u64 mk[MOAT_MF_WORDS]; /* the microflow key */
};

struct {
	__uint(priority, MOAT_XDP_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(moat_xdp);

/* The microflow cache had no answer: parse, classify, act. */
static __always_inline int moat_slow(struct xdp_md *ctx, __u64 cfgw,
				     __u64 bytes, __u32 ifindex)
{
	union moat_xdp_scratch u;
	struct moat_mf_line *ml = NULL;
	struct moat_pkt p = {};
	__u32 slot, pos, cpos, ct_slot;
	int drop, ret, fam, ct_on = 0;

	moat_count(MOAT_STAT_SLOW_PATH, bytes);

	drop = moat_parse_xdp(ctx, &p);
	if (drop)
		return moat_verdict(XDP_DROP, drop, bytes);
	if (p.nonfirst_frag)
		moat_count(MOAT_STAT_FRAGMENT, bytes);

	slot = moat_canary_slot(cfgw, &p);

	/* connection tracking, only when a rule of the slot (or of the
	 * shadow candidate) uses `state` */
	ct_slot = moat_ct_slot(cfgw, slot);
	if (ct_slot < MOAT_SLOTS) {
		__builtin_memset(&u.cp, 0, sizeof(u.cp));
		moat_ct_extract((void *)(long)ctx->data,
				(void *)(long)ctx->data_end, &p, &u.cp);
		p.ct = moat_ct_track(&u.cp, ct_slot, 0);
		ct_on = 1;
	}
	/* a frame the microflow cache will keep: its line (key read again) */
	if (!ct_on && MOAT_CFG_MODE(cfgw) == MOAT_CAND_NONE)
		ml = moat_mf_line(ctx, ifindex, u.mk, &fam);
	/* classify (a global function, verified once for every parse path;
	 * it takes the `pass state` fast path); the flow cache only for
	 * what the microflow cache will not keep */
	pos = (__u32)moat_rule_pos(&p, slot, ifindex, !ml);
	/* a frame the microflow cache keeps: its answer goes on the line and
	 * is taken from there, counted as a hit is (one rules lookup, one
	 * way of counting; no candidate, no tracking to account below) */
	if (ml && !moat_mf_fill(ml, u.mk, ifindex, slot, pos, &p))
		return moat_mf_answer(ml, bytes);
	if (pos != MOAT_NO_MATCH)
		ret = moat_apply_rule(slot, pos, bytes);
	else
		ret = moat_no_match(slot, &p, bytes);
	if (MOAT_CFG_MODE(cfgw) != MOAT_CAND_NONE) {
		cpos = MOAT_NO_MATCH;
		if (MOAT_CFG_MODE(cfgw) == MOAT_CAND_SHADOW)
			cpos = (__u32)moat_rule_pos(&p, MOAT_CFG_CAND(cfgw),
						    ifindex, 1);
		moat_cand_account(&p, cfgw, slot << 8 | (__u32)ret,
				  (__u64)pos << 32 | cpos, bytes);
	}
	if (ct_on && p.ct == MOAT_CT_NEW && ret == XDP_PASS)
		moat_ct_create(&u.cp);
	return ret;
}

SEC("xdp")
int moat_xdp(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	__u32 ifindex = ctx->ingress_ifindex;
	struct moat_mf_line *ml;
	__u64 cfgw;

#ifdef MOAT_TEST_REJECTED
	/* tests only (`make tests`: build/rejected/moat): a frame read without
	 * a data_end check, which the verifier refuses */
	if (*(volatile __u8 *)(long)ctx->data == 0xff)
		return XDP_DROP;
#endif
	/* the microflow cache (mflow.h): a hit is the whole answer */
	cfgw = moat_config_read();
	ml = moat_mf_probe(ctx, ifindex, cfgw);
	if (ml)
		return moat_mf_answer(ml, bytes);
	return moat_slow(ctx, cfgw, bytes, ifindex);
}

/*
 * TC egress (clsact) on every interface moat is attached to: records the
 * flows the host starts, and advances flows with the host's packets, so
 * their replies arriving at XDP are `established`.  Never drops.
 */
SEC("tc")
int moat_tc_egress(struct __sk_buff *skb)
{
	struct moat_ct_config *ctc;
	struct moat_ct_pkt cp = {};
	struct moat_pkt p = {};
	void *data, *data_end;
	__u32 slot, want;
	__u64 cfgw;

	cfgw = moat_config_read();
	slot = MOAT_CFG_SLOT(cfgw); /* a canary's flows: the set in force */
	ctc = bpf_map_lookup_elem(&ct_config, &slot);
	if ((!ctc || !ctc->enabled) && MOAT_CFG_MODE(cfgw) != MOAT_CAND_NONE) {
		slot = MOAT_CFG_CAND(cfgw); /* only the candidate uses `state` */
		ctc = bpf_map_lookup_elem(&ct_config, &slot);
	}
	if (!ctc || !ctc->enabled)
		return 0; /* TC_ACT_OK */
	moat_ct_stat(MOAT_CT_STAT_EGRESS);
	want = skb->len < 160 ? skb->len : 160;
	if (skb->data_end - skb->data < want)
		bpf_skb_pull_data(skb, want);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (moat_parse(data, data_end, &p))
		return 0;
	moat_ct_extract(data, data_end, &p, &cp);
	moat_ct_track(&cp, slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
