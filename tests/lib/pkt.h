/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pkt.h - a small packet builder for the data-plane tests.
 *
 * Describe a frame in a struct pkt_spec (designated initialisers, zero =
 * default) and pkt_build() writes it; truncation is done by running a
 * shorter prefix of the buffer, with pkt_layout giving the header offsets.
 */
#ifndef MOAT_TEST_PKT_H
#define MOAT_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 1600
#define PKT_MAX_VLAN 3
#define PKT_MAX_EXT 10

struct pkt_spec {
	/* addresses ("192.0.2.1" or "2001:db8::1"); NULL src and dst with
	 * an ethertype (or arp) make a non-IP frame */
	const char *src, *dst;
	uint16_t ethertype; /* non-IP frame's ethertype (host order) */
	int arp; /* ARP request body (ethertype 0x0806) */

	int nvlan; /* 0..3 tags */
	uint16_t vid[PKT_MAX_VLAN];
	uint16_t tpid[PKT_MAX_VLAN]; /* 0 = 0x8100 */

	uint8_t proto; /* IPPROTO_*; 0 with ports etc. unset = no L4 */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	size_t payload; /* bytes after the L4 header */

	/* IPv4 */
	uint8_t ip4_optlen; /* option bytes, multiple of 4, <= 40 */
	uint16_t frag; /* fragment offset in 8-byte units (v4 and v6) */
	int mf, df;
	int ip_version; /* override the version nibble (0 = correct) */
	int ihl; /* override IHL (0 = computed) */
	int tot_len; /* override tot_len (0 = computed) */

	/* IPv6 extension headers, in order: 0, 43, 44 (fragment: uses
	 * frag/mf), 51 (AH), 60, or any other value */
	int next;
	uint8_t ext[PKT_MAX_EXT];
	uint8_t ext_len[PKT_MAX_EXT]; /* hdr ext len byte (not for 44) */
};

struct pkt_layout {
	size_t len; /* full frame length */
	size_t vlan[PKT_MAX_VLAN]; /* offset of each VLAN tag */
	size_t l3; /* start of the IP header (or non-IP payload) */
	size_t ext[PKT_MAX_EXT]; /* start of each IPv6 extension header */
	size_t l4; /* start of the L4 header */
	size_t l4_len; /* L4 header length */
};

/* Build s into buf (PKT_MAX bytes).  Returns the frame length, or 0 on a
 * bad spec.  lay may be NULL. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf,
		 struct pkt_layout *lay);

#endif /* MOAT_TEST_PKT_H */
