// SPDX-License-Identifier: GPL-2.0
/*
 * rawref.c - independent raw-frame decoder and reference verdicts (see
 * rawref.h).  Written from the documented semantics only:
 *
 *   Ethernet   < 14 bytes ................................ drop_truncated_ethernet
 *   VLAN       0x8100 / 0x88a8 tags, outer VID recorded; a tag cut
 *              short ...................................... drop_truncated_vlan
 *              a third tag ................................. drop_vlan_too_deep
 *   IPv4       < 20 bytes, version != 4, IHL < 5, IHL*4 bytes not there,
 *              tot_len < IHL*4 ............................ drop_bad_ipv4
 *              fragment offset != 0: non-first fragment, no L4
 *   IPv6       < 40 bytes, version != 6 ................... drop_bad_ipv6
 *              extension headers 0, 43, 60 ((len+1)*8), 44 (8), 51
 *              ((len+2)*4), at most 6 walked; cut short or a 7th
 *              ............................................ drop_bad_ipv6_ext
 *              fragment header with offset != 0 ends the walk: non-first
 *              fragment, protocol = its next header, no L4
 *   L4         TCP 20, UDP 8, SCTP 12, ICMP (v4) / ICMPv6 (v6) 4 bytes;
 *              cut short .................................. drop_truncated_l4
 *              other protocols: no L4 fields
 *
 * Then: first matching rule (refeval) -> its action; no match: non-IP
 * passes, ICMPv6 133-137 passes, else the policy.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include "rawref.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_v6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

static void decode_l4(const uint8_t *f, size_t len, size_t l4,
		      struct rawdec *d)
{
	struct moat_pkt *p = &d->pkt;
	size_t need = 0;
	uint8_t pr = p->proto;

	if (pr == 6)
		need = 20;
	else if (pr == 17)
		need = 8;
	else if (pr == 132)
		need = 12;
	else if ((d->family == 4 && pr == 1) || (d->family == 6 && pr == 58))
		need = 4;
	if (!need)
		return; /* no L4 fields */
	if (l4 > len || len - l4 < need) {
		d->drop = MOAT_STAT_DROP_TRUNC_L4;
		return;
	}
	p->has_l4 = true;
	if (need == 4) {
		p->icmp_type = f[l4];
		p->icmp_code = f[l4 + 1];
		return;
	}
	p->sport = be16(f + l4);
	p->dport = be16(f + l4 + 2);
	if (pr == 6)
		p->tcpflags = f[l4 + 13];
}

static void decode_ip4(const uint8_t *f, size_t len, size_t off,
		       struct rawdec *d)
{
	struct moat_pkt *p = &d->pkt;
	unsigned int ihl;

	if (len - off < 20 || f[off] >> 4 != 4 || (f[off] & 15) < 5) {
		d->drop = MOAT_STAT_DROP_BAD_IP4;
		return;
	}
	ihl = (f[off] & 15) * 4u;
	if (len - off < ihl || be16(f + off + 2) < ihl) {
		d->drop = MOAT_STAT_DROP_BAD_IP4;
		return;
	}
	d->family = 4;
	p->proto = f[off + 9];
	memcpy(p->src, f + off + 12, 4);
	memcpy(p->dst, f + off + 16, 4);
	if (be16(f + off + 6) & 0x1fff) {
		d->nonfirst_frag = true;
		return;
	}
	decode_l4(f, len, off + ihl, d);
}

static void decode_ip6(const uint8_t *f, size_t len, size_t off,
		       struct rawdec *d)
{
	struct moat_pkt *p = &d->pkt;
	unsigned int walked = 0;
	uint8_t nh;

	if (len - off < 40 || f[off] >> 4 != 6) {
		d->drop = MOAT_STAT_DROP_BAD_IP6;
		return;
	}
	d->family = 6;
	memcpy(p->src, f + off + 8, 16);
	memcpy(p->dst, f + off + 24, 16);
	nh = f[off + 6];
	off += 40;
	while (is_v6_ext(nh)) {
		size_t hl;

		if (walked == MOAT_MAX_IPV6_EXT || len - off < 2) {
			d->drop = MOAT_STAT_DROP_BAD_IP6_EXT;
			return;
		}
		if (nh == 44)
			hl = 8;
		else if (nh == 51)
			hl = (f[off + 1] + 2u) * 4;
		else
			hl = (f[off + 1] + 1u) * 8;
		if (len - off < hl) {
			d->drop = MOAT_STAT_DROP_BAD_IP6_EXT;
			return;
		}
		walked++;
		if (nh == 44 && (be16(f + off + 2) >> 3)) {
			p->proto = f[off];
			d->nonfirst_frag = true;
			return;
		}
		nh = f[off];
		off += hl;
	}
	p->proto = nh;
	decode_l4(f, len, off, d);
}

void rawdec_decode(const uint8_t *f, size_t len, uint32_t ifindex,
		   struct rawdec *d)
{
	struct moat_pkt *p = &d->pkt;
	size_t off = 14;
	uint16_t et;

	memset(d, 0, sizeof(*d));
	d->drop = -1;
	p->ifindex = ifindex;
	p->vlan = MOAT_VLAN_NONE;
	if (len < 14) {
		d->drop = MOAT_STAT_DROP_TRUNC_ETH;
		return;
	}
	et = be16(f + 12);
	while (et == 0x8100 || et == 0x88a8) {
		if (d->ntags == MOAT_MAX_VLAN_DEPTH) {
			d->drop = MOAT_STAT_DROP_VLAN_DEPTH;
			return;
		}
		if (len - off < 4) {
			d->drop = MOAT_STAT_DROP_TRUNC_VLAN;
			return;
		}
		if (!d->ntags)
			p->vlan = be16(f + off) & 0x0fff;
		et = be16(f + off + 2);
		off += 4;
		d->ntags++;
	}
	p->ethertype = et;
	if (et == 0x0800)
		decode_ip4(f, len, off, d);
	else if (et == 0x86dd)
		decode_ip6(f, len, off, d);
}

void rawref_judge(const struct moat_ruleset *rs, const uint8_t *frame,
		  size_t len, uint32_t ifindex, moat_ifindex_fn ifname,
		  rawref_redirect_fn redirect_ok, void *ctx,
		  struct rawref_verdict *v)
{
	struct rawdec *d = &v->dec;
	const struct moat_rule_ast *r;

	memset(v, 0, sizeof(*v));
	rawdec_decode(frame, len, ifindex, d);
	v->pos = -1;
	v->stats[v->nstats++] = MOAT_STAT_RX;
	if (d->drop >= 0) {
		v->xdp = XDP_DROP;
		v->stats[v->nstats++] = (uint32_t)d->drop;
		return;
	}
	if (d->nonfirst_frag)
		v->stats[v->nstats++] = MOAT_STAT_FRAGMENT;
	v->pos = refeval_match(rs, &d->pkt, ifname, ctx);
	if (v->pos < 0) {
		const struct moat_pkt *p = &d->pkt;

		if (!d->family) {
			v->xdp = XDP_PASS;
			v->stats[v->nstats++] = MOAT_STAT_NONIP_PASS;
		} else if (d->family == 6 && p->has_l4 && p->proto == 58 &&
			   p->icmp_type >= 133 && p->icmp_type <= 137) {
			v->xdp = XDP_PASS;
			v->stats[v->nstats++] = MOAT_STAT_ND_PASS;
		} else if (rs->policy == MOAT_ACT_PASS) {
			v->xdp = XDP_PASS;
			v->stats[v->nstats++] = MOAT_STAT_POLICY_PASS;
		} else {
			v->xdp = XDP_DROP;
			v->stats[v->nstats++] = MOAT_STAT_DROP_POLICY;
		}
		return;
	}
	r = &rs->rules[v->pos];
	switch (r->action) {
	case MOAT_ACT_PASS:
		v->xdp = XDP_PASS;
		v->stats[v->nstats++] = MOAT_STAT_RULE_PASS;
		break;
	case MOAT_ACT_REDIRECT: {
		uint32_t t = ifname ? ifname(r->redirect_if, ctx) : 0;

		if (t && redirect_ok && redirect_ok(t, ctx)) {
			v->xdp = XDP_REDIRECT;
			v->stats[v->nstats++] = MOAT_STAT_REDIRECT;
		} else {
			v->xdp = XDP_DROP;
			v->stats[v->nstats++] = MOAT_STAT_DROP_REDIRECT;
		}
		break;
	}
	default:
		v->xdp = XDP_DROP;
		v->stats[v->nstats++] = MOAT_STAT_DROP_RULE;
		break;
	}
}

void rawdec_describe(const struct rawdec *d, char *buf, size_t len)
{
	const struct moat_pkt *p = &d->pkt;
	char s[INET6_ADDRSTRLEN] = "", t[INET6_ADDRSTRLEN] = "";

	if (d->drop >= 0) {
		snprintf(buf, len, "malformed: %s", moat_stat_names[d->drop]);
		return;
	}
	if (d->family) {
		int af = d->family == 4 ? AF_INET : AF_INET6;

		inet_ntop(af, p->src, s, sizeof(s));
		inet_ntop(af, p->dst, t, sizeof(t));
	}
	snprintf(buf, len,
		 "eth 0x%04x if %u vlan %u tags %u fam %d proto %u l4 %d frag %d %s -> %s sport %u dport %u flags 0x%02x icmp %u/%u",
		 p->ethertype, p->ifindex, p->vlan, d->ntags, d->family,
		 p->proto, p->has_l4, d->nonfirst_frag, s, t, p->sport,
		 p->dport, p->tcpflags, p->icmp_type, p->icmp_code);
}

void rawref_hexdump(const uint8_t *frame, size_t len, char *buf, size_t blen)
{
	size_t o = 0;

	if (!blen)
		return;
	buf[0] = 0;
	for (size_t i = 0; i < len && o + 3 < blen; i++)
		o += (size_t)snprintf(buf + o, blen - o, "%02x", frame[i]);
}
