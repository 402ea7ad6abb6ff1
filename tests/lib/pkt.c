// SPDX-License-Identifier: GPL-2.0
/*
 * pkt.c - packet builder for the data-plane tests (see pkt.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "pkt.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static size_t l4_hdr_len(uint8_t proto)
{
	switch (proto) {
	case 6:
		return 20;
	case 17:
		return 8;
	case 132:
		return 12;
	case 1:
	case 58:
		return 8;
	default:
		return 0;
	}
}

static void build_l4(const struct pkt_spec *s, uint8_t *p)
{
	switch (s->proto) {
	case 6:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		p[12] = 5 << 4; /* data offset */
		p[13] = s->tcp_flags;
		put16(p + 14, 65535);
		break;
	case 17:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, 8 + s->payload);
		break;
	case 132:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		break;
	case 1:
	case 58:
		p[0] = s->icmp_type;
		p[1] = s->icmp_code;
		break;
	}
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf,
		 struct pkt_layout *lay)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct pkt_layout l = { 0 };
	uint8_t src[16] = { 0 }, dst[16] = { 0 };
	size_t off = 12, l4len, i;
	int family = 0;

	memset(buf, 0, PKT_MAX);
	if (s->src || s->dst) {
		const char *a = s->src ? s->src : s->dst;

		family = strchr(a, ':') ? 6 : 4;
		if (s->src && inet_pton(family == 4 ? AF_INET : AF_INET6,
					s->src, src) != 1)
			return 0;
		if (s->dst && inet_pton(family == 4 ? AF_INET : AF_INET6,
					s->dst, dst) != 1)
			return 0;
	}
	if (s->nvlan > PKT_MAX_VLAN || s->next > PKT_MAX_EXT ||
	    s->ip4_optlen > 40 || (s->ip4_optlen & 3))
		return 0;

	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	for (i = 0; i < (size_t)s->nvlan; i++) {
		put16(buf + off, s->tpid[i] ? s->tpid[i] : 0x8100);
		l.vlan[i] = off + 2;
		put16(buf + off + 2, s->vid[i] & 0x0fff);
		off += 4;
	}
	/* off points at the ethertype field */
	if (!family) {
		uint16_t et = s->arp ? 0x0806 : s->ethertype;

		put16(buf + off, et);
		off += 2;
		l.l3 = off;
		if (s->arp) {
			uint8_t *a = buf + off;

			put16(a, 1); /* Ethernet */
			put16(a + 2, 0x0800);
			a[4] = 6;
			a[5] = 4;
			put16(a + 6, 1); /* request */
			memcpy(a + 8, smac, 6);
			off += 28;
		}
		off += s->payload;
		l.l4 = off;
		l.len = off;
		goto out;
	}

	l4len = l4_hdr_len(s->proto);
	if (family == 4) {
		uint8_t *ip;
		size_t ihl = 20 + s->ip4_optlen;
		uint16_t fo = s->frag & 0x1fff;

		put16(buf + off, 0x0800);
		off += 2;
		l.l3 = off;
		ip = buf + off;
		ip[0] = ((s->ip_version ? s->ip_version : 4) << 4) |
			((s->ihl ? s->ihl : (int)ihl / 4) & 0xf);
		put16(ip + 2, s->tot_len ? (size_t)s->tot_len :
					   ihl + l4len + s->payload);
		put16(ip + 4, 0x1234);
		if (s->df)
			fo |= 0x4000;
		if (s->mf)
			fo |= 0x2000;
		put16(ip + 6, fo);
		ip[8] = 64;
		ip[9] = s->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		for (i = 0; i < s->ip4_optlen; i++)
			ip[20 + i] = 1; /* NOP options */
		put16(ip + 10, csum(ip, ihl));
		off += ihl;
		if (s->frag)
			l4len = 0; /* non-first fragment: payload only */
	} else {
		uint8_t *ip, *nhp;
		size_t start;

		put16(buf + off, 0x86dd);
		off += 2;
		l.l3 = off;
		ip = buf + off;
		ip[0] = (s->ip_version ? s->ip_version : 6) << 4;
		ip[6] = s->proto;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		nhp = ip + 6;
		off += 40;
		start = off;
		for (i = 0; i < (size_t)s->next; i++) {
			uint8_t *h = buf + off;
			size_t hl;

			*nhp = s->ext[i];
			l.ext[i] = off;
			if (s->ext[i] == 44) {
				uint16_t fo = (s->frag & 0x1fff) << 3;

				if (s->mf)
					fo |= 1;
				put16(h + 2, fo);
				hl = 8;
				if (s->frag)
					l4len = 0;
			} else if (s->ext[i] == 51) {
				h[1] = s->ext_len[i] ? s->ext_len[i] : 1;
				hl = (h[1] + 2) * 4;
			} else {
				h[1] = s->ext_len[i];
				hl = (h[1] + 1) * 8;
				if (s->ext[i] == 0 || s->ext[i] == 60) {
					h[2] = 1; /* PadN filling the rest */
					h[3] = hl - 4;
				}
			}
			h[0] = s->proto;
			nhp = h;
			off += hl;
			if (off + 64 > PKT_MAX)
				return 0;
		}
		put16(ip + 4, off - start + l4len + s->payload);
	}
	l.l4 = off;
	l.l4_len = l4len;
	if (off + l4len + s->payload > PKT_MAX)
		return 0;
	if (l4len)
		build_l4(s, buf + off);
	off += l4len;
	for (i = 0; i < s->payload; i++)
		buf[off + i] = (uint8_t)i;
	off += s->payload;
	l.len = off;
out:
	if (lay)
		*lay = l;
	return l.len;
}
