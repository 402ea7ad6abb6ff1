/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fcache.h - the flow cache in front of classification.
 *
 * A per-CPU, direct-mapped table of MOAT_FC_LINES lines (include/moat.h,
 * struct moat_fc: one per-CPU array element of 32 KiB, so one lookup and
 * few pages): a packet whose classification input (the first
 * MOAT_FC_WORDS words of struct moat_pkt), ingress ifindex and slot epoch
 * equal a line's takes the line's rule position without classification.
 * Otherwise it is classified and the line rewritten.  Per CPU, so no
 * locking: an XDP program is not re-entered on its CPU.  Lines need no
 * invalidation: ctl gives each slot it writes a new epoch, and a slot in
 * force is never written (the address tables it shares are not either).
 *
 * Expects the map fcache declared before it is included.
 */
#ifndef MOAT_XDP_FCACHE_H
#define MOAT_XDP_FCACHE_H

#include <stddef.h>
#include "parse.h"

#define MOAT_FC_SAME(f)                                                        \
	_Static_assert(offsetof(struct moat_pkt, f) ==                         \
			       offsetof(struct moat_fc_key, f),                \
		       "struct moat_pkt begins with struct moat_fc_key")
MOAT_FC_SAME(daddr);
MOAT_FC_SAME(ethertype);
MOAT_FC_SAME(vlan);
MOAT_FC_SAME(sport);
MOAT_FC_SAME(dport);
MOAT_FC_SAME(family);
MOAT_FC_SAME(proto);
MOAT_FC_SAME(has_l4);
MOAT_FC_SAME(tcp_flags);
MOAT_FC_SAME(icmp_type);
MOAT_FC_SAME(icmp_code);
MOAT_FC_SAME(nonfirst_frag);
MOAT_FC_SAME(ct);
_Static_assert(sizeof(struct moat_fc_key) == MOAT_FC_WORDS * 8 &&
		       offsetof(struct moat_pkt, l4_off) == MOAT_FC_WORDS * 8,
	       "the flow cache key is struct moat_pkt up to l4_off");

/* The line for key k (the packet's first words) and ifindex; hit: 1. */
static __always_inline int moat_fc_probe(struct moat_fc_line **line,
					 const __u64 *k, __u32 ifindex,
					 __u64 epoch)
{
	__u32 zero = 0, idx = moat_fc_index(k, ifindex, epoch) &
			     (MOAT_FC_LINES - 1);
	struct moat_fc *fc = bpf_map_lookup_elem(&fcache, &zero);
	struct moat_fc_line *l = fc ? &fc->line[idx] : 0;

	*line = l;
	if (!l)
		return 0;
	return l->epoch == epoch && l->ifindex == ifindex &&
	       !((l->key[0] ^ k[0]) | (l->key[1] ^ k[1]) | (l->key[2] ^ k[2]) |
		 (l->key[3] ^ k[3]) | (l->key[4] ^ k[4]) | (l->key[5] ^ k[5]));
}

static __always_inline void moat_fc_fill(struct moat_fc_line *l, const __u64 *k,
					 __u32 ifindex, __u64 epoch, __u32 pos)
{
	__builtin_memcpy(l->key, k, sizeof(l->key));
	l->epoch = epoch;
	l->ifindex = ifindex;
	l->pos = pos;
}

#endif /* MOAT_XDP_FCACHE_H */
