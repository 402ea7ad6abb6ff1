/* SPDX-License-Identifier: GPL-2.0 */
/*
 * parse.h - packet parsing for moat_xdp: Ethernet, up to two VLAN tags,
 * IPv4 (options skipped), IPv6 (bounded extension-header walk), and the
 * first bytes of TCP/UDP/SCTP/ICMP/ICMPv6.  Every read is bounds-checked
 * against data_end.  moat_parse() returns 0 or the MOAT_STAT_DROP_* reason
 * the packet is dropped for.
 */
#ifndef MOAT_XDP_PARSE_H
#define MOAT_XDP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "moat.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#define MOAT_IPPROTO_ICMPV6 58
#define MOAT_NH_HOPOPTS 0
#define MOAT_NH_ROUTING 43
#define MOAT_NH_FRAGMENT 44
#define MOAT_NH_AH 51
#define MOAT_NH_DSTOPTS 60

/*
 * Offsets into the packet are kept below this bound so the verifier can
 * prove pointer arithmetic safe.  The linear part of an XDP frame is at
 * most a page, so an offset this large is beyond data_end anyway: treating
 * it as "cut short" changes no verdict.
 */
#define MOAT_MAX_OFF 0x3fff

/* What classification needs from a packet. */
struct moat_pkt {
	__u32 saddr[4]; /* network byte order; IPv4 uses saddr[0] */
	__u32 daddr[4];
	__u16 ethertype; /* host order, after VLAN tags */
	__u16 vlan; /* outer VID or MOAT_VLAN_NONE */
	__u16 sport, dport; /* host order; valid for TCP/UDP/SCTP with L4 */
	__u8 family; /* 4, 6, or 0 for non-IP */
	__u8 proto; /* L4 protocol (IP) */
	__u8 has_l4; /* L4 header present and parsed */
	__u8 tcp_flags;
	__u8 icmp_type, icmp_code;
	__u8 nonfirst_frag;
	__u8 ct; /* enum moat_ct_state (ct.h), 0 = not tracked */
	/* the fields above are the flow cache key (fcache.h) */
	__u16 l4_off; /* offset of the L4 header when has_l4 */
	__u16 pad[3];
} __attribute__((aligned(8)));

static __always_inline int moat_is_vlan(__u16 proto_be)
{
	return proto_be == bpf_htons(ETH_P_8021Q) ||
	       proto_be == bpf_htons(ETH_P_8021AD);
}

static __always_inline int moat_ip6_is_ext(__u8 nh)
{
	return nh == MOAT_NH_HOPOPTS || nh == MOAT_NH_ROUTING ||
	       nh == MOAT_NH_FRAGMENT || nh == MOAT_NH_DSTOPTS ||
	       nh == MOAT_NH_AH;
}

/* Parse the L4 header at `off`; drop reason or 0. */
static __always_inline int moat_parse_l4(void *data, void *data_end, __u32 off,
					 struct moat_pkt *p)
{
	__u8 *l4;

	if (off > MOAT_MAX_OFF)
		return MOAT_STAT_DROP_TRUNC_L4;
	l4 = data + off;
	p->l4_off = off;

	switch (p->proto) {
	case IPPROTO_TCP:
		if ((void *)(l4 + 20) > data_end)
			return MOAT_STAT_DROP_TRUNC_L4;
		p->tcp_flags = l4[13];
		break;
	case IPPROTO_UDP:
		if ((void *)(l4 + 8) > data_end)
			return MOAT_STAT_DROP_TRUNC_L4;
		break;
	case IPPROTO_SCTP:
		if ((void *)(l4 + 12) > data_end)
			return MOAT_STAT_DROP_TRUNC_L4;
		break;
	case IPPROTO_ICMP:
		if (p->family != 4)
			return 0;
		goto icmp;
	case MOAT_IPPROTO_ICMPV6:
		if (p->family != 6)
			return 0;
icmp:
		if ((void *)(l4 + 4) > data_end)
			return MOAT_STAT_DROP_TRUNC_L4;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		p->has_l4 = 1;
		return 0;
	default:
		return 0; /* unknown protocol: no L4 fields */
	}
	/* TCP, UDP, SCTP: ports at 0 and 2 */
	p->sport = ((__u16)l4[0] << 8) | l4[1];
	p->dport = ((__u16)l4[2] << 8) | l4[3];
	p->has_l4 = 1;
	return 0;
}

static __always_inline int moat_parse_ip4(void *data, void *data_end,
					  __u32 off, struct moat_pkt *p)
{
	struct iphdr *ip = data + off;
	__u32 ihl;

	if ((void *)(ip + 1) > data_end)
		return MOAT_STAT_DROP_BAD_IP4;
	if (ip->version != 4 || ip->ihl < 5)
		return MOAT_STAT_DROP_BAD_IP4;
	ihl = ip->ihl * 4;
	if ((void *)ip + ihl > data_end)
		return MOAT_STAT_DROP_BAD_IP4;
	if (bpf_ntohs(ip->tot_len) < ihl)
		return MOAT_STAT_DROP_BAD_IP4;

	p->family = 4;
	p->proto = ip->protocol;
	p->saddr[0] = ip->saddr;
	p->daddr[0] = ip->daddr;
	if (ip->frag_off & bpf_htons(0x1fff)) {
		p->nonfirst_frag = 1; /* no L4 header in this fragment */
		return 0;
	}
	return moat_parse_l4(data, data_end, off + ihl, p);
}

static __always_inline int moat_parse_ip6(void *data, void *data_end,
					  __u32 off, struct moat_pkt *p)
{
	struct ipv6hdr *ip6 = data + off;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return MOAT_STAT_DROP_BAD_IP6;
	if (ip6->version != 6)
		return MOAT_STAT_DROP_BAD_IP6;

	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	off += sizeof(*ip6);

	/* Walk at most MOAT_MAX_IPV6_EXT extension headers. */
#pragma clang loop unroll(full)
	for (i = 0; i < MOAT_MAX_IPV6_EXT; i++) {
		__u8 *h;
		__u32 len;

		if (!moat_ip6_is_ext(nh))
			break;
		if (off > MOAT_MAX_OFF)
			return MOAT_STAT_DROP_BAD_IP6_EXT;
		h = data + off;
		if ((void *)(h + 8) > data_end) /* every ext header >= 8 */
			return MOAT_STAT_DROP_BAD_IP6_EXT;
		if (nh == MOAT_NH_FRAGMENT) {
			/* h[2..3]: offset (13 bits) << 3 | res | M */
			nh = h[0];
			if ((((__u16)h[2] << 8) | h[3]) & 0xfff8) {
				p->proto = nh;
				p->nonfirst_frag = 1;
				return 0;
			}
			off += 8;
			continue;
		}
		if (nh == MOAT_NH_AH)
			len = ((__u32)h[1] + 2) * 4;
		else
			len = ((__u32)h[1] + 1) * 8;
		if ((void *)(h + len) > data_end)
			return MOAT_STAT_DROP_BAD_IP6_EXT;
		nh = h[0];
		off += len;
	}
	if (moat_ip6_is_ext(nh))
		return MOAT_STAT_DROP_BAD_IP6_EXT; /* chain too long */
	p->proto = nh;
	return moat_parse_l4(data, data_end, off, p);
}

/* Parse the frame into p; returns 0 or a MOAT_STAT_DROP_* reason. */
static __always_inline int moat_parse(void *data, void *data_end,
				      struct moat_pkt *p)
{
	struct ethhdr *eth = data;
	__u16 proto;
	__u32 off;

	if ((void *)(eth + 1) > data_end)
		return MOAT_STAT_DROP_TRUNC_ETH;
	proto = eth->h_proto;
	off = sizeof(*eth);
	p->vlan = MOAT_VLAN_NONE;

	if (moat_is_vlan(proto)) {
		__u8 *tag = data + off;

		if ((void *)(tag + 4) > data_end)
			return MOAT_STAT_DROP_TRUNC_VLAN;
		p->vlan = (((__u16)tag[0] << 8) | tag[1]) & 0x0fff;
		proto = *(__u16 *)(tag + 2);
		off += 4;
		if (moat_is_vlan(proto)) {
			tag = data + off;
			if ((void *)(tag + 4) > data_end)
				return MOAT_STAT_DROP_TRUNC_VLAN;
			proto = *(__u16 *)(tag + 2);
			off += 4;
			if (moat_is_vlan(proto))
				return MOAT_STAT_DROP_VLAN_DEPTH;
		}
	}

	p->ethertype = bpf_ntohs(proto);
	if (proto == bpf_htons(ETH_P_IP))
		return moat_parse_ip4(data, data_end, off, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return moat_parse_ip6(data, data_end, off, p);
	return 0; /* non-IP: ethertype only */
}

#endif /* MOAT_XDP_PARSE_H */
