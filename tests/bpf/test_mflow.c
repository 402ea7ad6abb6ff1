// SPDX-License-Identifier: GPL-2.0
/*
 * test_mflow.c - the microflow cache read before parsing (xdp/mflow.h).
 *
 * Checks, with BPF_PROG_TEST_RUN, counting `slow_path` (packets the cache
 * did not answer) and every other counter exactly:
 *   - for each plain shape (IPv4/IPv6, untagged or behind one or two
 *     802.1Q/802.1ad tags; UDP, TCP, SCTP, ICMP, ICMPv6, a protocol
 *     without L4 fields; rule verdicts, the policy, neighbour discovery),
 *     the first packet takes the slow path and the next ones
 *     are answered by the cache with the same verdict and the same
 *     counters, also when bytes outside the key change (TTL, ID,
 *     checksums, lengths, TCP sequence, payload, a tag's priority bits);
 *   - a change in any key field (addresses, ports, TCP flags, ICMP type,
 *     protocol, outer VID, tagged or not) is a different flow, with its
 *     own verdict; the inner tag of two is not part of the key (the
 *     parser records the outer VID only);
 *   - frames of other shapes always take the slow path (three VLAN tags,
 *     tag type 0x9100, IPv4 options, non-first fragments, IPv6 extension
 *     headers), and a malformed twin of a cached flow (bad length or
 *     version, L4 header or a VLAN tag cut short) is still dropped for
 *     its reason;
 *   - a rule-set swap, a shadow or canary candidate and connection
 *     tracking each stop the cache from answering;
 *   - one flow on two interfaces gets each interface's verdict;
 *   - a line holds what include/moat.h says; a forged answer on it
 *     decides, but not with another ifindex, epoch or key word;
 *   - 4,000 random flows repeated in shuffled order keep their verdicts.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <net/if.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "bpfrun.h"
#include "compile.h"
#include "pkt.h"
#include "rulegen.h"
#include "moat.skel.h"

static struct bpfrun R;
static int R_ok;
static uint32_t ifx2; /* a second interface (veth) in a private netns */

#define IDB 100 /* rule ids: IDB + line of the rule below, from 0 */
static const char RS[] = "policy drop\n"
			 "pass udp to port 53\n" /* 100 */
			 "drop udp from 192.0.2.66\n" /* 101 */
			 "pass tcp to port 80 flags S/SA\n" /* 102 */
			 "drop tcp to port 80\n" /* 103 */
			 "pass icmp icmp-type echo-request\n" /* 104 */
			 "pass proto gre\n" /* 105 */
			 "pass icmpv6 icmp-type echo-request\n" /* 106 */
			 "pass sctp to port 9\n" /* 107 */
			 "drop on lo udp to port 7\n" /* 108 */
			 "pass udp to port 7\n" /* 109 */
			 "pass tcp from 2001:db8::/32 to port 22\n" /* 110 */
			 "pass udp to port 5353 vlan 7\n"; /* 111 */
static const char RS_B[] = "policy pass\n"
			   "drop udp to port 53\n"; /* 200 */

#define NONE (-1)

/* A frame: the spec, and what the rule set RS makes of it. */
struct flow {
	const char *what;
	struct pkt_spec s;
	int verdict;
	int stat; /* the verdict's enum moat_stat */
	int rule; /* rule id counted, or NONE */
};

#define V4 .src = "192.0.2.1", .dst = "198.51.100.1"
#define V6 .src = "2001:db8::1", .dst = "2001:db8:1::1"
static const struct flow FLOWS[] = {
	{ "udp 53", { V4, .proto = 17, .sport = 4000, .dport = 53,
		      .payload = 20 }, XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
	{ "udp from .66", { .src = "192.0.2.66", .dst = "198.51.100.1",
			    .proto = 17, .sport = 4000, .dport = 54 },
	  XDP_DROP, MOAT_STAT_DROP_RULE, 101 },
	{ "tcp 80 syn", { V4, .proto = 6, .sport = 4000, .dport = 80,
			  .tcp_flags = 0x02 }, XDP_PASS, MOAT_STAT_RULE_PASS, 102 },
	{ "tcp 80 ack", { V4, .proto = 6, .sport = 4000, .dport = 80,
			  .tcp_flags = 0x10, .payload = 100 },
	  XDP_DROP, MOAT_STAT_DROP_RULE, 103 },
	{ "tcp 22", { V4, .proto = 6, .sport = 4000, .dport = 22,
		      .tcp_flags = 0x10 }, XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
	{ "icmp echo", { V4, .proto = 1, .icmp_type = 8, .payload = 56 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 104 },
	{ "icmp echo reply", { V4, .proto = 1, .icmp_type = 0 },
	  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
	{ "gre", { V4, .proto = 47, .payload = 24 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 105 },
	{ "sctp 9", { V4, .proto = 132, .sport = 5, .dport = 9 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 107 },
	{ "proto 58 in ipv4", { V4, .proto = 58, .icmp_type = 128 },
	  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
	{ "udp6 53", { V6, .proto = 17, .sport = 4000, .dport = 53 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
	{ "tcp6 22", { V6, .proto = 6, .sport = 4000, .dport = 22,
		       .tcp_flags = 0x18, .payload = 10 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 110 },
	{ "icmpv6 echo", { V6, .proto = 58, .icmp_type = 128 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 106 },
	{ "icmpv6 neighbour solicitation", { V6, .proto = 58, .icmp_type = 135 },
	  XDP_PASS, MOAT_STAT_ND_PASS, NONE },
	{ "proto 1 in ipv6", { V6, .proto = 1, .icmp_type = 8 },
	  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
	{ "vlan 5 udp 53", { V4, .nvlan = 1, .vid = { 5 }, .proto = 17,
			     .sport = 4000, .dport = 53, .payload = 4 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
	{ "vlan 7 udp 5353", { V4, .nvlan = 1, .vid = { 7 }, .proto = 17,
			       .sport = 4000, .dport = 5353 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 111 },
	{ "802.1ad vlan 7 udp 5353", { V4, .nvlan = 1, .vid = { 7 },
				       .tpid = { 0x88a8 }, .proto = 17,
				       .sport = 4001, .dport = 5353 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 111 },
	{ "vlan 0 tcp 80 ack", { V4, .nvlan = 1, .vid = { 0 }, .proto = 6,
				 .sport = 4000, .dport = 80,
				 .tcp_flags = 0x10 },
	  XDP_DROP, MOAT_STAT_DROP_RULE, 103 },
	{ "vlan 4095 tcp6 22", { V6, .nvlan = 1, .vid = { 4095 }, .proto = 6,
				 .sport = 4000, .dport = 22,
				 .tcp_flags = 0x18 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 110 },
	{ "vlan 5 icmpv6 neighbour solicitation", { V6, .nvlan = 1,
						    .vid = { 5 }, .proto = 58,
						    .icmp_type = 135 },
	  XDP_PASS, MOAT_STAT_ND_PASS, NONE },
	{ "vlan 7 in 802.1ad vlan 300 udp 5353",
	  { V4, .nvlan = 2, .vid = { 300, 7 }, .tpid = { 0x88a8, 0x8100 },
	    .proto = 17, .sport = 4002, .dport = 5353 },
	  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
	{ "vlan 9 in vlan 7 udp 5353", { V4, .nvlan = 2, .vid = { 7, 9 },
					 .proto = 17, .sport = 4003,
					 .dport = 5353 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 111 },
	{ "vlan 9 in vlan 7 tcp6 22", { V6, .nvlan = 2, .vid = { 7, 9 },
					.proto = 6, .sport = 4000, .dport = 22,
					.tcp_flags = 0x10 },
	  XDP_PASS, MOAT_STAT_RULE_PASS, 110 },
};
#define NFLOWS (sizeof(FLOWS) / sizeof(FLOWS[0]))

/*
 * Run the frame on ifindex ifx; check the verdict, and that the counters
 * moved by exactly: rx, slow_path if `slow`, `stat`, rule counter `rule`
 * (NONE: none expected to move), one packet and len bytes each.
 * 0 or -1 after TEST_FAIL.
 */
static int run(const char *what, const uint8_t *buf, size_t len, uint32_t ifx,
	       int verdict, int slow, int stat, int rule)
{
	uint64_t p0[MOAT_STAT_MAX], b0[MOAT_STAT_MAX];
	uint64_t p1[MOAT_STAT_MAX], b1[MOAT_STAT_MAX];
	uint64_t want[MOAT_STAT_MAX] = { 0 };
	uint64_t rp0 = 0, rb0 = 0, rp1 = 0, rb1 = 0;
	int v = -1, err;

	if (bpfrun_stats(&R, p0, b0) ||
	    (rule != NONE && bpfrun_rule_stat(&R, (uint32_t)rule, &rp0, &rb0))) {
		TEST_FAIL("%s: reading counters failed", what);
		return -1;
	}
	err = bpfrun_run(&R, buf, len, ifx, 1, &v, NULL);
	if (err) {
		TEST_FAIL("%s: test run failed: %s", what, strerror(-err));
		return -1;
	}
	if (v != verdict) {
		TEST_FAIL("%s: verdict %d, want %d", what, v, verdict);
		return -1;
	}
	if (bpfrun_stats(&R, p1, b1) ||
	    (rule != NONE && bpfrun_rule_stat(&R, (uint32_t)rule, &rp1, &rb1))) {
		TEST_FAIL("%s: reading counters failed", what);
		return -1;
	}
	want[MOAT_STAT_RX] = 1;
	want[MOAT_STAT_SLOW_PATH] = slow;
	want[stat]++;
	for (int s = 0; s < MOAT_STAT_MAX; s++)
		if (p1[s] - p0[s] != want[s] || b1[s] - b0[s] != want[s] * len) {
			TEST_FAIL("%s (%zu bytes): %s moved by %llu packets, %llu bytes; want %llu packets",
				  what, len, moat_stat_names[s],
				  (unsigned long long)(p1[s] - p0[s]),
				  (unsigned long long)(b1[s] - b0[s]),
				  (unsigned long long)want[s]);
			return -1;
		}
	if (rule != NONE && (rp1 - rp0 != 1 || rb1 - rb0 != len)) {
		TEST_FAIL("%s: rule %d counted %llu packets, %llu bytes; want 1, %zu",
			  what, rule, (unsigned long long)(rp1 - rp0),
			  (unsigned long long)(rb1 - rb0), len);
		return -1;
	}
	return 0;
}

static int write_rules(unsigned int slot, const char *name, const char *text,
		       uint32_t idbase)
{
	struct moat_image img;
	int err = bpfrun_compile(name, text, idbase, &img);

	if (!err)
		err = bpfrun_write(&R, slot, &img, 1);
	moat_image_free(&img);
	return err;
}

static size_t build(const struct pkt_spec *s, uint8_t *buf,
		    struct pkt_layout *lay)
{
	size_t len = pkt_build(s, buf, lay);

	if (!len)
		abort(); /* a bad spec in this file */
	return len;
}

TEST(load)
{
	ASSERT_EQ(unshare(CLONE_NEWNET), 0);
	ASSERT_EQ(system("ip link set lo up && ip link add mf0 type veth peer "
			 "name mf1 && ip link set mf0 up"),
		  0);
	ifx2 = if_nametoindex("mf0");
	ASSERT_TRUE(ifx2 > 1);
	ASSERT_EQ(bpfrun_open(&R), 0);
	ASSERT_EQ(write_rules(0, "mf.rules", RS, IDB), 0);
	R_ok = 1;
}

/* Change bytes no rule can see: the cache must still answer. */
static void scramble_nonkey(uint8_t *buf, const struct pkt_layout *lay,
			    int v6, uint8_t proto, size_t len)
{
	uint8_t *ip = buf + lay->l3, *l4 = buf + lay->l4;

	if (v6) {
		ip[1] ^= 0x0f; /* flow label (traffic class low bits) */
		ip[3] ^= 0x5a;
		ip[4] ^= 0x01; /* payload length: not checked */
		ip[7] ^= 0x3f; /* hop limit */
	} else {
		ip[1] ^= 0xfc; /* DSCP */
		ip[4] ^= 0x12; /* ID */
		ip[6] |= 0x40; /* DF */
		ip[8] ^= 0x3f; /* TTL */
		ip[10] ^= 0xff; /* checksum */
	}
	if (proto == 6) {
		l4[4] ^= 0xa5; /* sequence */
		l4[9] ^= 0x11; /* acknowledgement */
		l4[14] ^= 0x7f; /* window */
		l4[16] ^= 0xff; /* checksum */
	} else if (proto == 17) {
		l4[6] ^= 0xff; /* checksum */
	} else if (proto == 1 || proto == 58) {
		l4[2] ^= 0xff; /* checksum */
		l4[5] ^= 0x01; /* echo sequence */
	}
	if (len > lay->l4 + lay->l4_len)
		buf[len - 1] ^= 0xff; /* payload */
	if (lay->l3 > 14)
		buf[lay->vlan[0]] ^= 0xf0; /* the outer tag's PCP and DEI */
	if (lay->l3 > 18) {
		buf[lay->vlan[1]] ^= 0xef; /* the inner tag: PCP, VID */
		buf[lay->vlan[1] + 1] ^= 0x5a;
	}
}

/* every shape: slow path once, then answered with the same counters */
TEST(hit_after_first)
{
	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);
	for (size_t i = 0; i < NFLOWS; i++) {
		const struct flow *f = &FLOWS[i];
		uint8_t buf[PKT_MAX];
		struct pkt_layout lay;
		size_t len = build(&f->s, buf, &lay);
		int v6 = strchr(f->s.src, ':') != NULL;
		char what[128];

		snprintf(what, sizeof(what), "%s, first", f->what);
		if (run(what, buf, len, 1, f->verdict, 1, f->stat, f->rule))
			return;
		snprintf(what, sizeof(what), "%s, again", f->what);
		if (run(what, buf, len, 1, f->verdict, 0, f->stat, f->rule))
			return;
		scramble_nonkey(buf, &lay, v6, f->s.proto, len);
		snprintf(what, sizeof(what), "%s, other non-key bytes",
			 f->what);
		if (run(what, buf, len, 1, f->verdict, 0, f->stat, f->rule))
			return;
		/* a longer frame of the flow (IPv4 tot_len follows) */
		{
			struct pkt_spec s = f->s;

			s.payload += 300;
			len = build(&s, buf, &lay);
			snprintf(what, sizeof(what), "%s, longer", f->what);
			if (run(what, buf, len, 1, f->verdict, 0, f->stat,
				f->rule))
				return;
		}
	}
}

/* a key field changed: another flow, with its own answer */
TEST(key_fields_miss)
{
	static const struct flow VAR[] = {
		/* from "udp 53" (pass, rule 100) */
		{ "udp 53 -> dport 54", { V4, .proto = 17, .sport = 4000,
					  .dport = 54 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		{ "udp 53 -> saddr .66", { .src = "192.0.2.66",
					   .dst = "198.51.100.1", .proto = 17,
					   .sport = 4000, .dport = 55 },
		  XDP_DROP, MOAT_STAT_DROP_RULE, 101 },
		{ "udp 53 -> tcp 53", { V4, .proto = 6, .sport = 4000,
					.dport = 53, .tcp_flags = 0x10 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		/* from "tcp 80 syn" (pass, 102): flags */
		{ "tcp 80 syn -> syn+ack", { V4, .proto = 6, .sport = 4000,
					     .dport = 80, .tcp_flags = 0x12 },
		  XDP_DROP, MOAT_STAT_DROP_RULE, 103 },
		{ "tcp 80 syn -> dport 81", { V4, .proto = 6, .sport = 4000,
					      .dport = 81, .tcp_flags = 0x02 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		/* from "icmp echo" (pass, 104): type */
		{ "icmp echo -> type 13", { V4, .proto = 1, .icmp_type = 13 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		/* from "tcp6 22" (pass, 110): source outside 2001:db8::/32 */
		{ "tcp6 22 -> from 2001:db9::1", { .src = "2001:db9::1",
						   .dst = "2001:db8:1::1",
						   .proto = 6, .sport = 4000,
						   .dport = 22,
						   .tcp_flags = 0x18 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		/* destination's last byte */
		{ "udp6 53 -> other dst", { .src = "2001:db8::1",
					    .dst = "2001:db8:1::2",
					    .proto = 17, .sport = 4000,
					    .dport = 53 },
		  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
		/* from "vlan 7 udp 5353" (pass, 111): VID, untagged */
		{ "vlan 7 udp 5353 -> vlan 8", { V4, .nvlan = 1,
						 .vid = { 8 }, .proto = 17,
						 .sport = 4000,
						 .dport = 5353 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		{ "vlan 7 udp 5353 -> untagged", { V4, .proto = 17,
						   .sport = 4000,
						   .dport = 5353 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		/* from "vlan 5 udp 53" (pass, 100): another VID, same
		 * answer, its own line */
		{ "vlan 5 udp 53 -> vlan 6", { V4, .nvlan = 1, .vid = { 6 },
					       .proto = 17, .sport = 4000,
					       .dport = 53 },
		  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
	};

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);
	/* cache every flow of FLOWS, then run the variants twice each */
	for (size_t i = 0; i < NFLOWS; i++) {
		uint8_t buf[PKT_MAX];
		size_t len = build(&FLOWS[i].s, buf, NULL);

		if (run(FLOWS[i].what, buf, len, 1, FLOWS[i].verdict, 1,
			FLOWS[i].stat, FLOWS[i].rule))
			return;
	}
	for (size_t i = 0; i < sizeof(VAR) / sizeof(VAR[0]); i++) {
		uint8_t buf[PKT_MAX];
		size_t len = build(&VAR[i].s, buf, NULL);

		if (run(VAR[i].what, buf, len, 1, VAR[i].verdict, 1,
			VAR[i].stat, VAR[i].rule) ||
		    run(VAR[i].what, buf, len, 1, VAR[i].verdict, 0,
			VAR[i].stat, VAR[i].rule))
			return;
	}
}

/* shapes the cache does not take: the slow path every time */
TEST(other_shapes_slow)
{
	static const struct flow SHAPES[] = {
		{ "three tags", { V4, .nvlan = 3, .vid = { 5, 7, 9 },
				  .proto = 17, .sport = 4000, .dport = 53 },
		  XDP_DROP, MOAT_STAT_DROP_VLAN_DEPTH, NONE },
		{ "tag type 0x9100 (not a VLAN tag here)",
		  { V4, .nvlan = 1, .vid = { 5 }, .tpid = { 0x9100 },
		    .proto = 17, .sport = 4000, .dport = 53 },
		  XDP_PASS, MOAT_STAT_NONIP_PASS, NONE },
		{ "ipv4 options", { V4, .ip4_optlen = 4, .proto = 17,
				    .sport = 4000, .dport = 53 },
		  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
		{ "non-first fragment", { V4, .proto = 17, .frag = 100,
					  .payload = 40 },
		  XDP_DROP, MOAT_STAT_DROP_POLICY, NONE },
		{ "ipv6 hop-by-hop", { V6, .proto = 17, .sport = 4000,
				       .dport = 53, .ext = { 0 },
				       .ext_len = { 0 }, .next = 1 },
		  XDP_PASS, MOAT_STAT_RULE_PASS, 100 },
		{ "arp", { .arp = 1 }, XDP_PASS, MOAT_STAT_NONIP_PASS, NONE },
	};

	ASSERT_TRUE(R_ok);
	for (size_t i = 0; i < sizeof(SHAPES) / sizeof(SHAPES[0]); i++) {
		uint8_t buf[PKT_MAX];
		size_t len = build(&SHAPES[i].s, buf, NULL);

		for (int k = 0; k < 3; k++) {
			uint64_t f0, f1, s0, s1, d0, d1, b;
			int v = -1;

			if (!SHAPES[i].s.frag) {
				if (run(SHAPES[i].what, buf, len, 1,
					SHAPES[i].verdict, 1, SHAPES[i].stat,
					SHAPES[i].rule))
					return;
				continue;
			}
			/* a fragment also counts non_first_fragment, which
			 * run() does not expect: by hand */
			ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_FRAGMENT, &f0, &b), 0);
			ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &s0, &b), 0);
			ASSERT_EQ(bpfrun_stat(&R, SHAPES[i].stat, &d0, &b), 0);
			ASSERT_EQ(bpfrun_run(&R, buf, len, 1, 1, &v, NULL), 0);
			ASSERT_EQ(v, SHAPES[i].verdict);
			ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_FRAGMENT, &f1, &b), 0);
			ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &s1, &b), 0);
			ASSERT_EQ(bpfrun_stat(&R, SHAPES[i].stat, &d1, &b), 0);
			ASSERT_EQ(f1 - f0, 1);
			ASSERT_EQ(s1 - s0, 1);
			ASSERT_EQ(d1 - d0, 1);
		}
	}
}

/* The IPv4 frame buf (a cached flow's) with tot_len 19 and with version 5:
 * each dropped as bad IPv4 by the slow path, not answered from the line;
 * what: the names' prefix.  0 or -1 after TEST_FAIL. */
static int bad_ip4_twins(const char *what, const uint8_t *buf, size_t len,
			 const struct pkt_layout *lay)
{
	uint8_t bad[PKT_MAX];
	char name[64];

	memcpy(bad, buf, len);
	bad[lay->l3 + 2] = 0;
	bad[lay->l3 + 3] = 19; /* tot_len 19 < 20 */
	snprintf(name, sizeof(name), "%stot_len 19", what);
	if (run(name, bad, len, 1, XDP_DROP, 1, MOAT_STAT_DROP_BAD_IP4, NONE))
		return -1;
	memcpy(bad, buf, len);
	bad[lay->l3] = 0x55; /* version 5 */
	snprintf(name, sizeof(name), "%sversion 5", what);
	return run(name, bad, len, 1, XDP_DROP, 1, MOAT_STAT_DROP_BAD_IP4,
		   NONE);
}

/* a cached flow's malformed twin: dropped for its reason, not answered */
TEST(malformed_twin)
{
	struct pkt_spec u4 = { V4, .proto = 17, .sport = 4000, .dport = 53 };
	struct pkt_spec t4 = { V4, .proto = 6, .sport = 4000, .dport = 80,
			       .tcp_flags = 0x02 };
	struct pkt_spec t6 = { V6, .proto = 6, .sport = 4000, .dport = 22,
			       .tcp_flags = 0x18 };
	struct pkt_spec v4 = { V4, .nvlan = 1, .vid = { 5 }, .proto = 17,
			       .sport = 4000, .dport = 53 };
	struct pkt_spec q4 = { V4, .nvlan = 2, .vid = { 5, 6 }, .proto = 17,
			       .sport = 4000, .dport = 53 };
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX], bad[PKT_MAX];
	size_t len;

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);

	len = build(&u4, buf, &lay);
	if (run("udp 53", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS, 100) ||
	    run("udp 53 cached", buf, len, 1, XDP_PASS, 0, MOAT_STAT_RULE_PASS,
		100))
		return;
	if (bad_ip4_twins("", buf, len, &lay))
		return;
	if (run("udp header cut short", buf, lay.l4 + 7, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_TRUNC_L4, NONE))
		return;

	len = build(&t4, buf, &lay);
	if (run("tcp 80 syn", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS,
		102) ||
	    run("tcp 80 syn cached", buf, len, 1, XDP_PASS, 0,
		MOAT_STAT_RULE_PASS, 102) ||
	    run("tcp header cut after the flags", buf, lay.l4 + 19, 1, XDP_DROP,
		1, MOAT_STAT_DROP_TRUNC_L4, NONE) ||
	    run("ip header cut short", buf, lay.l3 + 19, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_BAD_IP4, NONE))
		return;

	len = build(&t6, buf, &lay);
	if (run("tcp6 22", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS,
		110) ||
	    run("tcp6 22 cached", buf, len, 1, XDP_PASS, 0, MOAT_STAT_RULE_PASS,
		110) ||
	    run("tcp6 header cut short", buf, lay.l4 + 19, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_TRUNC_L4, NONE) ||
	    run("ipv6 header cut short", buf, lay.l3 + 39, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_BAD_IP6, NONE))
		return;
	memcpy(bad, buf, len);
	bad[lay.l3] = (bad[lay.l3] & 0x0f) | 0x70; /* version 7 */
	if (run("ipv6 version 7", bad, len, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_BAD_IP6, NONE))
		return;

	/* behind a VLAN tag */
	len = build(&v4, buf, &lay);
	if (run("vlan 5 udp 53", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS,
		100) ||
	    run("vlan 5 udp 53 cached", buf, len, 1, XDP_PASS, 0,
		MOAT_STAT_RULE_PASS, 100) ||
	    run("vlan tag cut short", buf, lay.vlan[0] + 3, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_TRUNC_VLAN, NONE) ||
	    run("tagged ip header cut short", buf, lay.l3 + 19, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_BAD_IP4, NONE) ||
	    run("tagged udp header cut short", buf, lay.l4 + 7, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_TRUNC_L4, NONE))
		return;
	if (bad_ip4_twins("tagged ", buf, len, &lay))
		return;

	/* behind two tags: the parser gives what it gave for the one-tag
	 * frame above (outer VID 5; the inner tag is skipped), so the key is
	 * the same and its line answers at once */
	len = build(&q4, buf, &lay);
	if (run("vlan 6 in vlan 5 udp 53", buf, len, 1, XDP_PASS, 0,
		MOAT_STAT_RULE_PASS, 100) ||
	    run("inner tag cut short", buf, lay.vlan[1] + 1, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_TRUNC_VLAN, NONE) ||
	    run("ip header behind two tags cut short", buf, lay.l3 + 19, 1,
		XDP_DROP, 1, MOAT_STAT_DROP_BAD_IP4, NONE) ||
	    run("udp header behind two tags cut short", buf, lay.l4 + 7, 1,
		XDP_DROP, 1, MOAT_STAT_DROP_TRUNC_L4, NONE))
		return;
	memcpy(bad, buf, len);
	bad[lay.l3 - 2] = 0x81; /* inner ethertype 0x8100: a third tag */
	bad[lay.l3 - 1] = 0x00;
	if (run("a third tag", bad, len, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_VLAN_DEPTH, NONE))
		return;
}

/* swap, shadow, canary, conntrack: the cache must not answer */
static uint64_t slot_epoch(uint32_t slot)
{
	struct moat_gen_info gi;

	if (bpf_map_lookup_elem(R.fds.gen_info, &slot, &gi))
		return 0;
	return gi.epoch;
}

TEST(swap_candidates_conntrack)
{
	struct pkt_spec u4 = { V4, .proto = 17, .sport = 4000, .dport = 53 };
	struct moat_config c = { 0 };
	int cfd = bpf_map__fd(R.skel->maps.config);
	uint64_t n0, n1, b;
	uint32_t zero = 0;
	uint8_t buf[PKT_MAX];
	size_t len = build(&u4, buf, NULL);

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);
	if (run("udp 53", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS, 100) ||
	    run("udp 53 cached", buf, len, 1, XDP_PASS, 0, MOAT_STAT_RULE_PASS,
		100))
		return;
	/* a new rule set in force: its answer at once, then cached */
	ASSERT_EQ(write_rules(1, "mf-b.rules", RS_B, 200), 0);
	if (run("after the swap", buf, len, 1, XDP_DROP, 1,
		MOAT_STAT_DROP_RULE, 200) ||
	    run("after the swap, cached", buf, len, 1, XDP_DROP, 0,
		MOAT_STAT_DROP_RULE, 200))
		return;
	/* back to slot 0 (unchanged): its line was overwritten by slot 1's
	 * answer, so the slow path once, then cached again */
	ASSERT_EQ(moat_slot_activate(&R.fds, 0), 0);
	if (run("back", buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS, 100) ||
	    run("back, cached", buf, len, 1, XDP_PASS, 0, MOAT_STAT_RULE_PASS,
		100))
		return;

	/* shadow candidate (slot 1): every packet classified against both */
	c.slot = 0;
	c.cand = 1;
	c.mode = MOAT_CAND_SHADOW;
	ASSERT_EQ(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY), 0);
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_RX, &n0, &b), 0);
	{
		uint64_t s0 = 0, s1 = 0;
		uint32_t k = MOAT_CS_SHADOW + MOAT_ACT_DROP;
		struct moat_counter pc[256];

		ASSERT_TRUE(R.ncpu <= 256);
		ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(R.skel->maps.cand_stats), &k, pc), 0);
		for (int i = 0; i < R.ncpu; i++)
			s0 += pc[i].packets;
		for (int i = 0; i < 3; i++)
			if (run("shadow", buf, len, 1, XDP_PASS, 1,
				MOAT_STAT_RULE_PASS, 100))
				return;
		ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(R.skel->maps.cand_stats), &k, pc), 0);
		for (int i = 0; i < R.ncpu; i++)
			s1 += pc[i].packets;
		ASSERT_EQ(s1 - s0, 3); /* the shadow would drop each */
	}
	/* canary taking every flow: slot 1 decides, never from the cache */
	c.mode = MOAT_CAND_CANARY;
	c.canary = 0xffffffffU;
	ASSERT_EQ(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY), 0);
	for (int i = 0; i < 3; i++)
		if (run("canary", buf, len, 1, XDP_DROP, 1, MOAT_STAT_DROP_RULE,
			200))
			return;
	/* no candidate again, the entry written without its slot's tag (as
	 * by a writer that does not stamp it): every packet the slow path,
	 * the answer still right */
	c.mode = MOAT_CAND_NONE;
	c.cand = 0;
	c.canary = 0;
	ASSERT_EQ(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY), 0);
	for (int i = 0; i < 2; i++)
		if (run("no candidate, no tag", buf, len, 1, XDP_PASS, 1,
			MOAT_STAT_RULE_PASS, 100))
			return;
	/* and with a stale tag (the previous write of slot 1) */
	c.tag = (uint32_t)slot_epoch(1);
	ASSERT_EQ(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY), 0);
	if (run("no candidate, another slot's tag", buf, len, 1, XDP_PASS, 1,
		MOAT_STAT_RULE_PASS, 100))
		return;
	/* stamped: the line slot 0 left before answers */
	ASSERT_EQ(moat_config_write(&R.fds, 0, &c), 0);
	ASSERT_EQ(bpf_map_lookup_elem(cfd, &zero, &c), 0);
	ASSERT_EQ(c.tag, (uint32_t)slot_epoch(0));
	if (run("no candidate", buf, len, 1, XDP_PASS, 0, MOAT_STAT_RULE_PASS,
		100))
		return;

	/* connection tracking: every packet is tracked, never cached */
	ASSERT_EQ(write_rules(1, "mf-ct.rules",
			      "policy drop\npass udp to port 53 state new\n"
			      "pass state established\n",
			      300),
		  0);
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &n0, &b), 0);
	for (int i = 0; i < 3; i++) {
		int v = -1;

		ASSERT_EQ(bpfrun_run(&R, buf, len, 1, 1, &v, NULL), 0);
		ASSERT_EQ(v, XDP_PASS);
	}
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &n1, &b), 0);
	ASSERT_EQ(n1 - n0, 3);
	/* RS again, for the next tests */
	ASSERT_EQ(write_rules(0, "mf.rules", RS, IDB), 0);
}

/* All CPUs' lines (ncpu x struct moat_mf) into *all; 0 or -1. */
static int mf_rw(struct moat_mf *all, int write)
{
	int fd = bpf_map__fd(R.skel->maps.mflow);
	uint32_t zero = 0;

	if (write)
		return bpf_map_update_elem(fd, &zero, all, BPF_EXIST) ? -1 : 0;
	return bpf_map_lookup_elem(fd, &zero, all) ? -1 : 0;
}

/* The one line in use (tagif != 0) over all CPUs, or NULL. */
static struct moat_mf_line *only_line(struct moat_mf *all)
{
	struct moat_mf_line *found = NULL;
	int n = 0;

	for (int c = 0; c < R.ncpu; c++)
		for (unsigned int i = 0; i < MOAT_MF_LINES; i++)
			if (all[c].line[i].tagif) {
				found = &all[c].line[i];
				n++;
			}
	return n == 1 ? found : NULL;
}

/* Clear the cache and run buf once on ifindex 1 (rule 100 passes it, from
 * the slow path): the one line it left, every CPU's lines read into all;
 * NULL (the failure reported) otherwise. */
static struct moat_mf_line *first_line(const char *what, const uint8_t *buf,
				       size_t len, struct moat_mf *all)
{
	struct moat_mf_line *l;

	if (bpfrun_mf_clear(&R)) {
		TEST_FAIL("%s: cannot clear the cache", what);
		return NULL;
	}
	if (run(what, buf, len, 1, XDP_PASS, 1, MOAT_STAT_RULE_PASS, 100))
		return NULL;
	if (mf_rw(all, 0)) {
		TEST_FAIL("%s: cannot read the lines", what);
		return NULL;
	}
	l = only_line(all);
	if (!l)
		TEST_FAIL("%s: not exactly one line in use", what);
	return l;
}

/* the line as include/moat.h describes it, and the data plane using it
 * (a forged answer decides) only with its key, ifindex and tag */
TEST(line_fields)
{
	struct pkt_spec u4 = { V4, .proto = 17, .sport = 4000, .dport = 53 };
	struct moat_mf *all = calloc(R.ncpu, sizeof(*all));
	struct moat_mf_line *l, keep;
	uint8_t buf[PKT_MAX];
	size_t len = build(&u4, buf, NULL);
	uint64_t want0;

	ASSERT_TRUE(R_ok && all);
	l = first_line("udp 53", buf, len, all);
	if (!l)
		goto out;
	memcpy(&want0, buf + 26, 8); /* source, destination as in the frame */
	ASSERT_EQ(l->key[0], want0);
	ASSERT_EQ(l->key[1] | l->key[2] | l->key[3], 0);
	ASSERT_EQ(l->key[4] >> 48, 4);
	ASSERT_EQ((l->key[4] >> 40) & 0xff, 17);
	ASSERT_EQ(l->tagif >> 32, (uint32_t)slot_epoch(0));
	ASSERT_EQ(l->tagif & 0xffffffff, 1); /* ifindex */
	ASSERT_EQ(l->rule, 1);
	ASSERT_EQ(l->id, 100);
	ASSERT_EQ(l->action, MOAT_ACT_PASS);
	keep = *l;
	/* forged: rule 101, drop -> the packet is dropped, 101 counted */
	l->id = 101;
	l->action = MOAT_ACT_DROP;
	ASSERT_EQ(mf_rw(all, 1), 0);
	if (run("forged answer", buf, len, 1, XDP_DROP, 0, MOAT_STAT_DROP_RULE,
		101))
		goto out;
	/* forged: no rule, policy drop */
	l->rule = 0;
	l->stat = MOAT_STAT_DROP_POLICY;
	ASSERT_EQ(mf_rw(all, 1), 0);
	if (run("forged policy", buf, len, 1, XDP_DROP, 0,
		MOAT_STAT_DROP_POLICY, NONE))
		goto out;
	/* the same forged line with another ifindex, an older tag, or
	 * another key word: not used (the slow path rewrites it) */
	for (int k = 0; k < 3; k++) {
		*l = keep;
		l->rule = 0;
		l->stat = MOAT_STAT_DROP_POLICY;
		l->action = MOAT_ACT_DROP;
		if (k == 0)
			l->tagif ^= 1 ^ 2; /* ifindex 2 */
		else if (k == 1)
			l->tagif -= 1ULL << 32;
		else
			l->key[4] ^= 1; /* a port bit */
		ASSERT_EQ(mf_rw(all, 1), 0);
		if (run("forged line, not this packet's", buf, len, 1, XDP_PASS,
			1, MOAT_STAT_RULE_PASS, 100))
			goto out;
	}
	/* IPv6: each of the five words is compared */
	for (int w = 0; w < MOAT_MF_WORDS; w++) {
		struct pkt_spec u6 = { V6, .proto = 17, .sport = 4000,
				       .dport = 53 };

		len = build(&u6, buf, NULL);
		l = first_line("udp6 53", buf, len, all);
		if (!l)
			goto out;
		ASSERT_EQ(l->key[4] >> 48, 6);
		l->rule = 0;
		l->stat = MOAT_STAT_DROP_POLICY;
		l->action = MOAT_ACT_DROP;
		ASSERT_EQ(mf_rw(all, 1), 0);
		if (run("udp6, forged answer", buf, len, 1, XDP_DROP, 0,
			MOAT_STAT_DROP_POLICY, NONE))
			goto out;
		l->key[w] ^= 1;
		ASSERT_EQ(mf_rw(all, 1), 0);
		if (run("udp6, forged line with another word", buf, len, 1,
			XDP_PASS, 1, MOAT_STAT_RULE_PASS, 100))
			goto out;
	}
	/* a tagged frame: its key is the untagged one's plus the tag */
	{
		struct pkt_spec t4 = { V4, .nvlan = 1, .vid = { 0xabc },
				       .proto = 17, .sport = 4000,
				       .dport = 53 };
		struct pkt_layout lay;

		len = build(&t4, buf, &lay);
		l = first_line("vlan 0xabc udp 53", buf, len, all);
		if (!l)
			goto out;
		memcpy(&want0, buf + lay.l3 + 12, 8);
		ASSERT_EQ(l->key[0], want0);
		ASSERT_EQ((l->key[4] >> 48) & 7, 4);
		ASSERT_EQ((l->key[4] >> 40) & 0xff, 17);
		ASSERT_EQ(l->key[4] & MOAT_MF_TAGGED, MOAT_MF_TAGGED);
		ASSERT_EQ(l->key[4] >> MOAT_MF_VID_SHIFT, 0xabc);
	}
out:
	free(all);
}

/* `on lo`: one flow, two interfaces, two answers, both cached */
TEST(ifindex_is_part_of_the_key)
{
	struct pkt_spec u = { V4, .proto = 17, .sport = 4000, .dport = 7 };
	uint8_t buf[PKT_MAX];
	size_t len = build(&u, buf, NULL);

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);
	for (int i = 0; i < 3; i++)
		if (run("on lo", buf, len, 1, XDP_DROP, i == 0,
			MOAT_STAT_DROP_RULE, 108) ||
		    run("on mf0", buf, len, ifx2, XDP_PASS, i == 0,
			MOAT_STAT_RULE_PASS, 109))
			return;
}

/* many flows sharing lines, repeated in shuffled order: the verdict and
 * rule of the first run every time, and many answers from the cache */
TEST(many_flows_repeated)
{
	enum { NF = 4000, REPS = 4 };
	static struct pkt_spec spec[NF];
	static char addr[NF][48];
	static int first[NF];
	static uint32_t order[NF * REPS];
	static const uint16_t ports[] = { 53, 54, 80, 22, 7, 9 };
	static const uint8_t protos[] = { 17, 6, 1, 58, 132, 47 };
	uint64_t s0, s1, n0, n1, b;
	struct rg_rng rng;

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_mf_clear(&R), 0);
	rg_seed(&rng, 0x2545f4914f6cdd1dULL);
	for (unsigned int f = 0; f < NF; f++) {
		uint64_t r = (uint64_t)rg_u32(&rng) << 32 | rg_u32(&rng);
		struct pkt_spec *s = &spec[f];

		memset(s, 0, sizeof(*s));
		if (r & 1) {
			snprintf(addr[f], sizeof(addr[f]), "192.0.%u.%u",
				 (unsigned int)(r >> 8) % 3,
				 (unsigned int)(r >> 16) % 256);
			s->dst = "198.51.100.1";
		} else {
			snprintf(addr[f], sizeof(addr[f]), "2001:db%c::%x",
				 (r >> 8) % 2 ? '8' : '9',
				 (unsigned int)(r >> 16) % 65536);
			s->dst = "2001:db8:1::1";
		}
		s->src = addr[f];
		s->proto = protos[(r >> 32) % 6];
		if (s->proto == 1 || s->proto == 58)
			s->icmp_type = (r >> 40) % 2 ? 8 : 128;
		else if (s->proto != 47) {
			s->sport = 1024 + (r >> 40) % 4;
			s->dport = ports[(r >> 48) % 6];
		}
		if (s->proto == 6)
			s->tcp_flags = (r >> 56) % 2 ? 0x02 : 0x10;
		for (int k = 0; k < REPS; k++)
			order[f * REPS + k] = f;
	}
	for (unsigned int i = NF * REPS - 1; i > 0; i--) {
		unsigned int j = rg_n(&rng, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned int f = 0; f < NF; f++)
		first[f] = -1;
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &s0, &b), 0);
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_RX, &n0, &b), 0);
	for (unsigned int i = 0; i < NF * REPS; i++) {
		unsigned int f = order[i];
		uint8_t buf[PKT_MAX];
		size_t len = build(&spec[f], buf, NULL);
		int v = -1;

		ASSERT_EQ(bpfrun_run(&R, buf, len, 1, 1, &v, NULL), 0);
		if (first[f] < 0)
			first[f] = v;
		else if (v != first[f]) {
			TEST_FAIL("flow %u (%s proto %u port %u) got %d, first %d",
				  f, spec[f].src, spec[f].proto, spec[f].dport,
				  v, first[f]);
			return;
		}
	}
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_SLOW_PATH, &s1, &b), 0);
	ASSERT_EQ(bpfrun_stat(&R, MOAT_STAT_RX, &n1, &b), 0);
	ASSERT_EQ(n1 - n0, (uint64_t)NF * REPS);
	/* every flow's first packet misses; with 4000 flows on 512 lines
	 * per CPU most repeats miss too, but some must hit */
	ASSERT_TRUE(s1 - s0 >= NF);
	ASSERT_TRUE(s1 - s0 < (uint64_t)NF * REPS);
	printf("# many_flows_repeated: %u packets, %llu on the slow path\n",
	       NF * REPS, (unsigned long long)(s1 - s0));
}

int main(void)
{
	RUN(load);
	RUN(hit_after_first);
	RUN(key_fields_miss);
	RUN(other_shapes_slow);
	RUN(malformed_twin);
	RUN(swap_candidates_conntrack);
	RUN(ifindex_is_part_of_the_key);
	RUN(line_fields);
	RUN(many_flows_repeated);
	bpfrun_close(&R);
	return test_summary("mflow");
}
