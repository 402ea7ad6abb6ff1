// SPDX-License-Identifier: GPL-2.0
/*
 * test_xdp.c - table-driven BPF_PROG_TEST_RUN tests of the moat XDP
 * program and the map writer.
 *
 * Part 1 uses hand-built images (struct moat_image written directly) to
 * pin down the data plane: parsing and drop reasons, the tuple space
 * search, actions, counters, slot swaps.  Part 2 is a table of rule text +
 * packet + expected verdict/rule/counters that goes through the real
 * pipeline: moat_parse_string -> moat_compile -> moat_slot_write.
 *
 * Every case checks the verdict and that the global counters moved by
 * exactly the expected entries (RX plus one verdict/reason entry, plus
 * non_first_fragment where expected), packets and bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>

/* tables leave trailing fields zero on purpose */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Woverride-init"

#include "test.h"
#include "pkt.h"
#include "bpfrun.h"
#include "compile.h"
#include "parse.h"

static struct bpfrun R;
static int R_ok;

/* ------------------------------------------------------------------ */
/* running packets and checking counters                              */

#define END (-1)

/* Run the frame; check the verdict and that the global counters moved by
 * exactly RX + the stats in `want` (END-terminated), 1 packet and len
 * bytes each.  Returns 0 or -1 (after TEST_FAIL). */
static int check_run(const char *what, const uint8_t *pkt, size_t len,
		     uint32_t ifx, int verdict, const int *want)
{
	uint64_t before[MOAT_STAT_MAX], after[MOAT_STAT_MAX];
	uint64_t bb[MOAT_STAT_MAX], ba[MOAT_STAT_MAX];
	uint64_t exp[MOAT_STAT_MAX] = { 0 };
	int v = -1, err, i, ndrop = 0;

	if (bpfrun_stats(&R, before, bb)) {
		TEST_FAIL("%s: read stats", what);
		return -1;
	}
	err = bpfrun_run(&R, pkt, len, ifx, 1, &v, NULL);
	if (err) {
		TEST_FAIL("%s: test run failed: %d", what, err);
		return -1;
	}
	if (bpfrun_stats(&R, after, ba)) {
		TEST_FAIL("%s: read stats", what);
		return -1;
	}
	exp[MOAT_STAT_RX] = 1;
	for (i = 0; want[i] != END; i++)
		exp[want[i]]++;
	/* answered by the microflow cache or not (test_mflow checks which) */
	if (after[MOAT_STAT_SLOW_PATH] - before[MOAT_STAT_SLOW_PATH] <= 1)
		exp[MOAT_STAT_SLOW_PATH] =
			after[MOAT_STAT_SLOW_PATH] - before[MOAT_STAT_SLOW_PATH];
	if (v != verdict) {
		TEST_FAIL("%s (len %zu): verdict %d, want %d", what, len, v,
			  verdict);
		return -1;
	}
	for (i = 0; i < MOAT_STAT_MAX; i++) {
		if (after[i] - before[i] != exp[i] ||
		    ba[i] - bb[i] != exp[i] * len) {
			TEST_FAIL("%s (len %zu): stat %s moved by %llu pkts %llu bytes, want %llu",
				  what, len, moat_stat_names[i],
				  (unsigned long long)(after[i] - before[i]),
				  (unsigned long long)(ba[i] - bb[i]),
				  (unsigned long long)exp[i]);
			return -1;
		}
		if (i >= MOAT_STAT_FIRST_DROP)
			ndrop += exp[i];
	}
	if ((verdict == XDP_DROP) != (ndrop == 1)) {
		TEST_FAIL("%s: a drop must count exactly one drop reason", what);
		return -1;
	}
	return 0;
}

#define CHECK(what, pkt, len, ifx, verdict, ...)                              \
	do {                                                                   \
		const int _w[] = { __VA_ARGS__, END };                         \
		if (check_run(what, pkt, len, ifx, verdict, _w))               \
			return;                                                \
	} while (0)

/* ------------------------------------------------------------------ */
/* hand-built images                                                  */

#define HMAX 64

struct himg {
	struct moat_image img;
	struct moat_rule rules[HMAX];
	struct moat_cls_entry cls[HMAX * 4];
	struct moat_lpm4_entry lpm4[HMAX];
	struct moat_lpm6_entry lpm6[HMAX];
	uint32_t redir[8];
};

static struct himg *himg_new(int policy)
{
	struct himg *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->img.info.policy = policy;
	h->img.rules = h->rules;
	h->img.cls = h->cls;
	h->img.lpm4 = h->lpm4;
	h->img.lpm6 = h->lpm6;
	h->img.redirect_ifindex = h->redir;
	return h;
}

/* rule at the next position; id = 1000 + position */
static unsigned int himg_rule(struct himg *h, int action, uint32_t ifx)
{
	unsigned int pos = h->img.nrules++;

	h->rules[pos].action = action;
	h->rules[pos].ifindex = ifx;
	h->rules[pos].id = 1000 + pos;
	h->img.info.nrules = h->img.nrules;
	if (action == MOAT_ACT_REDIRECT)
		h->redir[h->img.nredirect++] = ifx;
	return pos;
}

/* tuples must be added in order of their first rule position */
static unsigned int himg_tuple(struct himg *h, uint32_t fields)
{
	unsigned int t = h->img.info.ntuples++;

	h->img.info.tuples[t].fields = fields;
	h->img.info.tuples[t].min_pos = ~0u;
	return t;
}

static void himg_cls(struct himg *h, unsigned int t, struct moat_cls_key k,
		     unsigned int pos)
{
	struct moat_cls_entry *e = &h->cls[h->img.ncls++];

	k.tuple = t;
	e->key = k;
	e->val.pos = pos;
	if (pos < h->img.info.tuples[t].min_pos)
		h->img.info.tuples[t].min_pos = pos;
}

static void himg_addr(struct himg *h, int dir, const char *pfx,
		      unsigned int plen, uint32_t cls)
{
	if (strchr(pfx, ':')) {
		struct moat_lpm6_entry *e = &h->lpm6[h->img.nlpm6++];

		inet_pton(AF_INET6, pfx, e->key.addr);
		e->key.prefixlen = 8 + plen;
		e->key.dir = dir;
		e->cls = cls;
	} else {
		struct moat_lpm4_entry *e = &h->lpm4[h->img.nlpm4++];

		inet_pton(AF_INET, pfx, e->key.addr);
		e->key.prefixlen = 8 + plen;
		e->key.dir = dir;
		e->cls = cls;
	}
}

static void himg_l4(struct himg *h, unsigned int base, unsigned int lo,
		    unsigned int hi, uint16_t cls)
{
	for (unsigned int v = lo; v <= hi; v++)
		h->img.l4cls[base + v] = cls;
}

static int write_active(struct himg *h, unsigned int slot)
{
	return bpfrun_write(&R, slot, &h->img, 1);
}

#define NEED_R()                                                               \
	do {                                                                   \
		if (!R_ok)                                                     \
			SKIP("program did not load");                          \
	} while (0)

/* ------------------------------------------------------------------ */
/* part 1: parsing and drop reasons (empty rule set, policy pass)       */

struct parse_case {
	const char *name;
	struct pkt_spec s;
	/* run prefixes of the frame: [lo, hi) relative to anchor */
	int anchor; /* 0 = absolute, 1 = l3, 2 = l4, 3 = full length */
	int lo, hi;
	int verdict;
	int stat; /* drop reason or pass event */
	int frag; /* non-first fragment counted too */
};

enum { A_ABS, A_L3, A_L4, A_END };

#define TCP4 .src = "192.0.2.1", .dst = "198.51.100.1", .proto = 6, \
	     .sport = 1234, .dport = 22
#define TCP6 .src = "2001:db8::1", .dst = "2001:db8::2", .proto = 6, \
	     .sport = 1234, .dport = 22

static const struct parse_case parse_cases[] = {
	/* Ethernet and VLAN */
	{ "vlan1 short", { TCP4, .nvlan = 1, .vid = { 5 } }, A_ABS, 14, 18,
	  XDP_DROP, MOAT_STAT_DROP_TRUNC_VLAN },
	{ "vlan2 short", { TCP4, .nvlan = 2, .vid = { 5, 6 } }, A_ABS, 14, 22,
	  XDP_DROP, MOAT_STAT_DROP_TRUNC_VLAN },
	{ "vlan2 qinq short",
	  { TCP4, .nvlan = 2, .vid = { 5, 6 }, .tpid = { 0x88a8, 0x8100 } },
	  A_ABS, 18, 22, XDP_DROP, MOAT_STAT_DROP_TRUNC_VLAN },
	{ "vlan3", { TCP4, .nvlan = 3, .vid = { 5, 6, 7 } }, A_ABS, 22, 23,
	  XDP_DROP, MOAT_STAT_DROP_VLAN_DEPTH },
	{ "vlan3 full", { TCP4, .nvlan = 3, .vid = { 5, 6, 7 } }, A_END, 0, 1,
	  XDP_DROP, MOAT_STAT_DROP_VLAN_DEPTH },
	{ "vlan2 ok", { TCP4, .nvlan = 2, .vid = { 5, 6 } }, A_END, 0, 1,
	  XDP_PASS, MOAT_STAT_POLICY_PASS },
	/* IPv4 */
	{ "ip4 short", { TCP4 }, A_L3, 0, 20, XDP_DROP, MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 vlan short", { TCP4, .nvlan = 1 }, A_L3, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 options short", { TCP4, .ip4_optlen = 12 }, A_L3, 20, 32,
	  XDP_DROP, MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 version", { TCP4, .ip_version = 6 }, A_END, 0, 1, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 ihl 4", { TCP4, .ihl = 4 }, A_END, 0, 1, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 ihl 0", { TCP4, .ihl = 0xf0 }, A_END, 0, 1, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 tot_len < ihl", { TCP4, .tot_len = 19 }, A_END, 0, 1, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 opts tot_len < ihl", { TCP4, .ip4_optlen = 8, .tot_len = 24 },
	  A_END, 0, 1, XDP_DROP, MOAT_STAT_DROP_BAD_IP4 },
	{ "ip4 options ok", { TCP4, .ip4_optlen = 40 }, A_END, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "tcp4 short", { TCP4 }, A_L4, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "tcp4 exact", { TCP4 }, A_L4, 20, 21, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "tcp4 opts short", { TCP4, .ip4_optlen = 4 }, A_L4, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "udp4 short", { TCP4, .proto = 17 }, A_L4, 0, 8, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "udp4 exact", { TCP4, .proto = 17 }, A_L4, 8, 9, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "sctp4 short", { TCP4, .proto = 132 }, A_L4, 0, 12, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "sctp4 exact", { TCP4, .proto = 132 }, A_L4, 12, 13, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "icmp4 short", { TCP4, .proto = 1 }, A_L4, 0, 4, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "icmp4 4 bytes", { TCP4, .proto = 1 }, A_L4, 4, 9, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "icmpv6 in ip4: no L4", { TCP4, .proto = 58 }, A_L4, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "gre4 no L4", { TCP4, .proto = 47 }, A_L4, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "first fragment short", { TCP4, .mf = 1 }, A_L4, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "first fragment", { TCP4, .mf = 1 }, A_END, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "non-first fragment no L4", { TCP4, .frag = 100, .mf = 1 }, A_L4, 0,
	  1, XDP_PASS, MOAT_STAT_POLICY_PASS, 1 },
	{ "last fragment", { TCP4, .frag = 3, .payload = 5 }, A_END, 0, 1,
	  XDP_PASS, MOAT_STAT_POLICY_PASS, 1 },
	{ "df unfragmented", { TCP4, .df = 1 }, A_END, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	/* IPv6 */
	{ "ip6 short", { TCP6 }, A_L3, 0, 40, XDP_DROP, MOAT_STAT_DROP_BAD_IP6 },
	{ "ip6 version", { TCP6, .ip_version = 4 }, A_END, 0, 1, XDP_DROP,
	  MOAT_STAT_DROP_BAD_IP6 },
	{ "tcp6 short", { TCP6 }, A_L4, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "udp6 short", { TCP6, .proto = 17 }, A_L4, 0, 8, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "sctp6 short", { TCP6, .proto = 132 }, A_L4, 0, 12, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "icmpv6 short", { TCP6, .proto = 58, .icmp_type = 128 }, A_L4, 0, 4,
	  XDP_DROP, MOAT_STAT_DROP_TRUNC_L4 },
	{ "icmp in ip6: no L4", { TCP6, .proto = 1 }, A_L4, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "ext hbh short", { TCP6, .next = 1, .ext = { 0 }, .ext_len = { 1 } },
	  A_L3, 40, 56, XDP_DROP, MOAT_STAT_DROP_BAD_IP6_EXT },
	{ "ext hbh then tcp short",
	  { TCP6, .next = 1, .ext = { 0 }, .ext_len = { 1 } }, A_L4, 0, 20,
	  XDP_DROP, MOAT_STAT_DROP_TRUNC_L4 },
	{ "ext ah short", { TCP6, .next = 1, .ext = { 51 }, .ext_len = { 4 } },
	  A_L3, 40, 64, XDP_DROP, MOAT_STAT_DROP_BAD_IP6_EXT },
	{ "ext ah ok", { TCP6, .next = 1, .ext = { 51 }, .ext_len = { 4 } },
	  A_END, 0, 1, XDP_PASS, MOAT_STAT_POLICY_PASS },
	{ "ext frag short", { TCP6, .next = 1, .ext = { 44 } }, A_L3, 40, 48,
	  XDP_DROP, MOAT_STAT_DROP_BAD_IP6_EXT },
	{ "ext routing+dst short",
	  { TCP6, .next = 2, .ext = { 43, 60 }, .ext_len = { 2, 0 } }, A_L3,
	  64, 72, XDP_DROP, MOAT_STAT_DROP_BAD_IP6_EXT },
	{ "ext chain of 6",
	  { TCP6, .next = 6, .ext = { 0, 60, 43, 44, 51, 60 } }, A_END, 0, 1,
	  XDP_PASS, MOAT_STAT_POLICY_PASS },
	{ "ext chain of 7",
	  { TCP6, .next = 7, .ext = { 0, 60, 43, 44, 51, 60, 60 } }, A_END, 0,
	  1, XDP_DROP, MOAT_STAT_DROP_BAD_IP6_EXT },
	{ "ext chain of 6, tcp short",
	  { TCP6, .next = 6, .ext = { 0, 60, 43, 44, 51, 60 } }, A_L4, 0, 20,
	  XDP_DROP, MOAT_STAT_DROP_TRUNC_L4 },
	{ "ip6 first fragment",
	  { TCP6, .next = 1, .ext = { 44 }, .mf = 1 }, A_END, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	{ "ip6 first fragment short",
	  { TCP6, .next = 1, .ext = { 44 }, .mf = 1 }, A_L4, 0, 20, XDP_DROP,
	  MOAT_STAT_DROP_TRUNC_L4 },
	{ "ip6 non-first fragment",
	  { TCP6, .next = 1, .ext = { 44 }, .frag = 7 }, A_L4, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS, 1 },
	{ "ip6 non-first fragment ends the walk",
	  { TCP6, .next = 7, .ext = { 0, 44, 60, 60, 60, 60, 60 }, .frag = 7 },
	  A_END, 0, 1, XDP_PASS, MOAT_STAT_POLICY_PASS, 1 },
	{ "ip6 no next header", { TCP6, .proto = 59 }, A_L4, 0, 1, XDP_PASS,
	  MOAT_STAT_POLICY_PASS },
	/* non-IP */
	{ "arp", { .arp = 1 }, A_END, 0, 1, XDP_PASS, MOAT_STAT_NONIP_PASS },
	{ "arp vlan", { .arp = 1, .nvlan = 1, .vid = { 9 } }, A_END, 0, 1,
	  XDP_PASS, MOAT_STAT_NONIP_PASS },
	{ "lldp, header only", { .ethertype = 0x88cc }, A_ABS, 14, 15,
	  XDP_PASS, MOAT_STAT_NONIP_PASS },
};

TEST(parse_table)
{
	struct himg *h = himg_new(MOAT_ACT_PASS);
	uint8_t buf[PKT_MAX];
	size_t i;
	int n = 0;

	NEED_R();
	ASSERT_EQ(write_active(h, 0), 0);
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct pkt_layout lay;
		size_t len = pkt_build(&c->s, buf, &lay), base;
		int l;

		if (!len) {
			TEST_FAIL("%s: bad packet spec", c->name);
			goto out;
		}
		base = c->anchor == A_L3 ? lay.l3 :
		       c->anchor == A_L4 ? lay.l4 : 0;
		for (l = c->lo; l < c->hi; l++) {
			size_t rl = c->anchor == A_END ? len : base + l;

			if (rl > len) {
				TEST_FAIL("%s: length %zu beyond frame %zu",
					  c->name, rl, len);
				goto out;
			}
			{
				const int w1[] = { c->stat, END };
				const int w2[] = { c->stat, MOAT_STAT_FRAGMENT,
						   END };
				if (check_run(c->name, buf, rl, 0, c->verdict,
					      c->frag ? w2 : w1))
					goto out;
			}
			n++;
		}
	}
	printf("# parse_table: %d packets\n", n);
out:
	free(h);
}

/*
 * Frames shorter than 14 bytes: the kernel refuses to run XDP on them
 * (BPF_PROG_TEST_RUN returns -EINVAL, adjust_head/tail keep 14 bytes), so
 * the program's MOAT_STAT_DROP_TRUNC_ETH check is defensive only.  Check
 * that such a run is refused and counts nothing.
 */
TEST(eth_short_refused)
{
	uint64_t b[MOAT_STAT_MAX], a[MOAT_STAT_MAX];
	uint8_t buf[PKT_MAX] = { 0 };
	int len, i;

	NEED_R();
	ASSERT_EQ(bpfrun_stats(&R, b, NULL), 0);
	for (len = 0; len < 14; len++)
		ASSERT_EQ(bpfrun_run(&R, buf, len, 0, 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(bpfrun_stats(&R, a, NULL), 0);
	for (i = 0; i < MOAT_STAT_MAX; i++)
		ASSERT_EQ(a[i], b[i]);
}

/* ------------------------------------------------------------------ */
/* part 1: classification with a hand-built image (policy drop)         */

static uint32_t veth_a, veth_b; /* ifindexes of the test veth pair */

#define F(x) MOAT_F_##x
#define K(...) ((struct moat_cls_key){ __VA_ARGS__ })
#define E4 .ethertype = 0x0800
#define E6 .ethertype = 0x86dd
#define MISSING_IF 999999

static struct himg *hand_image(void)
{
	struct himg *h = himg_new(MOAT_ACT_DROP);
	unsigned int t0, t1, t2, t3, t4, t5, t6, t7, t9, t10, v;

	/* address classes: src 10.1/16 -> 1 (in 10.1/16 and 10/8),
	 * 10/8 -> 2, 2001:db8:1::/48 -> 3; dst 198.51.100/24 -> 1 */
	himg_addr(h, MOAT_DIR_SRC, "10.1.0.0", 16, 1);
	himg_addr(h, MOAT_DIR_SRC, "10.0.0.0", 8, 2);
	himg_addr(h, MOAT_DIR_SRC, "2001:db8:1::", 48, 3);
	himg_addr(h, MOAT_DIR_DST, "198.51.100.0", 24, 1);
	/* port classes: dport 22 -> 1, dport 80-81 -> 2, sport 53 -> 1 */
	himg_l4(h, MOAT_L4CLS_DPORT, 22, 22, 1);
	himg_l4(h, MOAT_L4CLS_DPORT, 80, 81, 2);
	himg_l4(h, MOAT_L4CLS_SPORT, 53, 53, 1);
	/* flags class 1: SYN set, ACK clear */
	for (v = 0; v < 256; v++)
		if ((v & 0x12) == 0x02)
			h->img.l4cls[MOAT_L4CLS_FLAGS + v] = 1;

	/* p0 drop from 10.1.0.0/16 */
	himg_rule(h, MOAT_ACT_DROP, 0);
	t0 = himg_tuple(h, F(SRC));
	himg_cls(h, t0, K(E4, .src = 1), 0);
	/* p1 pass tcp dport 22 */
	himg_rule(h, MOAT_ACT_PASS, 0);
	t1 = himg_tuple(h, F(PROTO) | F(DPORT));
	himg_cls(h, t1, K(E4, .proto = 6, .dport = 1), 1);
	himg_cls(h, t1, K(E6, .proto = 6, .dport = 1), 1);
	/* p2 redirect to veth_a on vlan 100 */
	himg_rule(h, MOAT_ACT_REDIRECT, veth_a);
	t2 = himg_tuple(h, F(VLAN));
	himg_cls(h, t2, K(E4, .vlan = 100), 2);
	himg_cls(h, t2, K(E6, .vlan = 100), 2);
	/* p3 drop ethertype arp */
	himg_rule(h, MOAT_ACT_DROP, 0);
	t3 = himg_tuple(h, 0);
	himg_cls(h, t3, K(.ethertype = 0x0806), 3);
	/* p4 pass from 10.0.0.0/8 (10.1/16 keeps p0) */
	himg_rule(h, MOAT_ACT_PASS, 0);
	himg_cls(h, t0, K(E4, .src = 2), 4);
	/* p5 drop tcp flags syn/syn,ack */
	himg_rule(h, MOAT_ACT_DROP, 0);
	t4 = himg_tuple(h, F(PROTO) | F(FLAGS));
	himg_cls(h, t4, K(E4, .proto = 6, .flags = 1), 5);
	himg_cls(h, t4, K(E6, .proto = 6, .flags = 1), 5);
	/* p6 pass icmp echo-request */
	himg_rule(h, MOAT_ACT_PASS, 0);
	t5 = himg_tuple(h, F(PROTO) | F(ICMP_TYPE));
	himg_cls(h, t5, K(E4, .proto = 1, .icmp_type = 8), 6);
	/* p7 drop icmpv6 neighbour-solicitation code 0 */
	himg_rule(h, MOAT_ACT_DROP, 0);
	t6 = himg_tuple(h, F(PROTO) | F(ICMP_TYPE) | F(ICMP_CODE));
	himg_cls(h, t6, K(E6, .proto = 58, .icmp_type = 135), 7);
	/* p8 pass on veth_b udp to 198.51.100.0/24 */
	himg_rule(h, MOAT_ACT_PASS, 0);
	t7 = himg_tuple(h, F(IFINDEX) | F(DST) | F(PROTO));
	himg_cls(h, t7, K(E4, .ifindex = veth_b, .dst = 1, .proto = 17), 8);
	/* p9 redirect to a missing interface from 2001:db8:1::/48 */
	himg_rule(h, MOAT_ACT_REDIRECT, MISSING_IF);
	h->img.nredirect--; /* not in redirect_map */
	himg_cls(h, t0, K(E6, .src = 3), 9);
	/* p10 pass udp sport 53 dport 80-81 */
	himg_rule(h, MOAT_ACT_PASS, 0);
	t9 = himg_tuple(h, F(PROTO) | F(SPORT) | F(DPORT));
	himg_cls(h, t9, K(E4, .proto = 17, .sport = 1, .dport = 2), 10);
	/* p11 drop proto gre */
	himg_rule(h, MOAT_ACT_DROP, 0);
	t10 = himg_tuple(h, F(PROTO));
	himg_cls(h, t10, K(E4, .proto = 47), 11);
	return h;
}

struct cls_case {
	const char *name;
	struct pkt_spec s;
	int ifx; /* 0 = lo, 1 = veth_a, 2 = veth_b */
	int verdict;
	int pos; /* matched rule position, -1 = none */
	int stat;
	int frag;
};

#define V4(s_, d_) .src = s_, .dst = d_
#define TCP(sp, dp, fl) .proto = 6, .sport = sp, .dport = dp, .tcp_flags = fl
#define UDP(sp, dp) .proto = 17, .sport = sp, .dport = dp
#define ACK 0x10
#define SYN 0x02

static const struct cls_case cls_cases[] = {
	{ "first match: p0 before p1", { V4("10.1.2.3", "192.0.2.1"),
	  TCP(1000, 22, ACK) }, 0, XDP_DROP, 0, MOAT_STAT_DROP_RULE },
	{ "p1 before p4", { V4("10.2.0.1", "192.0.2.1"), TCP(1000, 22, ACK) },
	  0, XDP_PASS, 1, MOAT_STAT_RULE_PASS },
	{ "p4 src /8", { V4("10.2.0.1", "192.0.2.1"), UDP(1000, 9) }, 0,
	  XDP_PASS, 4, MOAT_STAT_RULE_PASS },
	{ "p1 before vlan p2", { V4("192.0.2.9", "192.0.2.1"),
	  TCP(1000, 22, ACK), .nvlan = 1, .vid = { 100 } }, 0, XDP_PASS, 1,
	  MOAT_STAT_RULE_PASS },
	{ "vlan 100 redirect", { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9),
	  .nvlan = 1, .vid = { 100 } }, 0, XDP_REDIRECT, 2,
	  MOAT_STAT_REDIRECT },
	{ "outer vid counts", { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9),
	  .nvlan = 2, .vid = { 100, 200 }, .tpid = { 0x88a8 } }, 0,
	  XDP_REDIRECT, 2, MOAT_STAT_REDIRECT },
	{ "inner vid ignored", { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9),
	  .nvlan = 2, .vid = { 200, 100 } }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "vlan 101 policy", { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9),
	  .nvlan = 1, .vid = { 101 } }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "vlan6 redirect", { .src = "2001:db8:9::1", .dst = "2001:db8::2",
	  UDP(1, 9), .nvlan = 1, .vid = { 100 } }, 0, XDP_REDIRECT, 2,
	  MOAT_STAT_REDIRECT },
	{ "arp dropped by rule", { .arp = 1 }, 0, XDP_DROP, 3,
	  MOAT_STAT_DROP_RULE },
	{ "arp on vlan 100: ip-only vlan rule skipped", { .arp = 1,
	  .nvlan = 1, .vid = { 100 } }, 0, XDP_DROP, 3, MOAT_STAT_DROP_RULE },
	{ "lldp passes policy drop", { .ethertype = 0x88cc, .payload = 40 },
	  0, XDP_PASS, -1, MOAT_STAT_NONIP_PASS },
	{ "syn dropped", { V4("192.0.2.9", "192.0.2.1"), TCP(1, 23, SYN) }, 0,
	  XDP_DROP, 5, MOAT_STAT_DROP_RULE },
	{ "syn+ack policy", { V4("192.0.2.9", "192.0.2.1"),
	  TCP(1, 23, SYN | ACK) }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "syn+fin dropped", { V4("192.0.2.9", "192.0.2.1"),
	  TCP(1, 23, SYN | 1) }, 0, XDP_DROP, 5, MOAT_STAT_DROP_RULE },
	{ "syn6 dropped", { .src = "2001:db8:9::1", .dst = "2001:db8::2",
	  TCP(1, 23, SYN) }, 0, XDP_DROP, 5, MOAT_STAT_DROP_RULE },
	{ "echo request", { V4("192.0.2.9", "192.0.2.1"), .proto = 1,
	  .icmp_type = 8 }, 0, XDP_PASS, 6, MOAT_STAT_RULE_PASS },
	{ "echo reply policy", { V4("192.0.2.9", "192.0.2.1"), .proto = 1,
	  .icmp_type = 0 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "ns dropped by rule", { .src = "fe80::1", .dst = "ff02::1:ff00:2",
	  .proto = 58, .icmp_type = 135 }, 0, XDP_DROP, 7,
	  MOAT_STAT_DROP_RULE },
	{ "ns code 1 nd pass", { .src = "fe80::1", .dst = "ff02::1",
	  .proto = 58, .icmp_type = 135, .icmp_code = 1 }, 0, XDP_PASS, -1,
	  MOAT_STAT_ND_PASS },
	{ "na nd pass", { .src = "fe80::1", .dst = "ff02::1", .proto = 58,
	  .icmp_type = 136 }, 0, XDP_PASS, -1, MOAT_STAT_ND_PASS },
	{ "rs nd pass", { .src = "fe80::1", .dst = "ff02::2", .proto = 58,
	  .icmp_type = 133 }, 0, XDP_PASS, -1, MOAT_STAT_ND_PASS },
	{ "redirect137 nd pass", { .src = "fe80::1", .dst = "ff02::2",
	  .proto = 58, .icmp_type = 137 }, 0, XDP_PASS, -1,
	  MOAT_STAT_ND_PASS },
	{ "icmpv6 138 policy", { .src = "fe80::1", .dst = "ff02::2",
	  .proto = 58, .icmp_type = 138 }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "icmpv6 132 policy", { .src = "fe80::1", .dst = "ff02::2",
	  .proto = 58, .icmp_type = 132 }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "ifindex match", { V4("192.0.2.9", "198.51.100.7"), UDP(1, 9) }, 2,
	  XDP_PASS, 8, MOAT_STAT_RULE_PASS },
	{ "ifindex mismatch", { V4("192.0.2.9", "198.51.100.7"), UDP(1, 9) },
	  1, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "dst mismatch", { V4("192.0.2.9", "198.51.101.7"), UDP(1, 9) }, 2,
	  XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "src-as-dst mismatch", { V4("198.51.100.7", "192.0.2.9"),
	  UDP(1, 9) }, 2, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "redirect target missing", { .src = "2001:db8:1::5",
	  .dst = "2001:db8::2", UDP(1, 9) }, 0, XDP_DROP, 9,
	  MOAT_STAT_DROP_REDIRECT },
	{ "sport+dport range", { V4("192.0.2.9", "192.0.2.1"), UDP(53, 81) },
	  0, XDP_PASS, 10, MOAT_STAT_RULE_PASS },
	{ "dport out of range", { V4("192.0.2.9", "192.0.2.1"), UDP(53, 82) },
	  0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "ports swapped", { V4("192.0.2.9", "192.0.2.1"), UDP(80, 53) }, 0,
	  XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "non-first fragment vs port rule", { V4("192.0.2.9", "192.0.2.1"),
	  UDP(53, 80), .frag = 10 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY,
	  1 },
	{ "first fragment vs port rule", { V4("192.0.2.9", "192.0.2.1"),
	  UDP(53, 80), .mf = 1 }, 0, XDP_PASS, 10, MOAT_STAT_RULE_PASS },
	{ "gre dropped", { V4("192.0.2.9", "192.0.2.1"), .proto = 47,
	  .payload = 20 }, 0, XDP_DROP, 11, MOAT_STAT_DROP_RULE },
	{ "gre fragment: proto rule matches", { V4("192.0.2.9", "192.0.2.1"),
	  .proto = 47, .frag = 4, .payload = 20 }, 0, XDP_DROP, 11,
	  MOAT_STAT_DROP_RULE, 1 },
	{ "non-first fragment vs address rule", { V4("10.1.0.9",
	  "192.0.2.1"), TCP(1, 22, 0), .frag = 2 }, 0, XDP_DROP, 0,
	  MOAT_STAT_DROP_RULE, 1 },
	{ "fragment skips port rule p1", { V4("10.2.0.9", "192.0.2.1"),
	  TCP(1, 22, 0), .frag = 2, .mf = 1 }, 0, XDP_PASS, 4,
	  MOAT_STAT_RULE_PASS, 1 },
	{ "tcp6 dport 22", { .src = "2001:db8:2::1", .dst = "2001:db8::2",
	  TCP(1, 22, ACK) }, 0, XDP_PASS, 1, MOAT_STAT_RULE_PASS },
	{ "tcp6 dport 22 behind ext headers", { .src = "2001:db8:2::1",
	  .dst = "2001:db8::2", TCP(1, 22, ACK), .next = 3,
	  .ext = { 0, 43, 60 } }, 0, XDP_PASS, 1, MOAT_STAT_RULE_PASS },
	{ "ip6 non-first fragment skips p1", { .src = "2001:db8:2::1",
	  .dst = "2001:db8::2", TCP(1, 22, ACK), .next = 1, .ext = { 44 },
	  .frag = 9 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY, 1 },
	{ "v4 addr class not used for v6", { .src = "::ffff:10.1.0.1",
	  .dst = "2001:db8::2", UDP(1, 9) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
};

TEST(classify_table)
{
	struct himg *h;
	uint64_t exp_p[HMAX] = { 0 }, exp_b[HMAX] = { 0 };
	uint64_t p0[HMAX], b0[HMAX];
	uint8_t buf[PKT_MAX];
	size_t i;

	NEED_R();
	if (!veth_a)
		SKIP("no veth pair");
	h = hand_image();
	ASSERT_EQ(write_active(h, 0), 0);
	for (i = 0; i < h->img.nrules; i++)
		ASSERT_EQ(bpfrun_rule_stat(&R, 1000 + i, &p0[i], &b0[i]), 0);
	for (i = 0; i < sizeof(cls_cases) / sizeof(cls_cases[0]); i++) {
		const struct cls_case *c = &cls_cases[i];
		uint32_t ifx = c->ifx == 1 ? veth_a : c->ifx == 2 ? veth_b : 0;
		size_t len = pkt_build(&c->s, buf, NULL);
		const int w1[] = { c->stat, END };
		const int w2[] = { c->stat, MOAT_STAT_FRAGMENT, END };

		if (!len) {
			TEST_FAIL("%s: bad packet spec", c->name);
			goto out;
		}
		if (check_run(c->name, buf, len, ifx, c->verdict,
			      c->frag ? w2 : w1))
			goto out;
		if (c->pos >= 0) {
			exp_p[c->pos]++;
			exp_b[c->pos] += len;
		}
	}
	/* per-rule counters: exact packets and bytes */
	for (i = 0; i < h->img.nrules; i++) {
		uint64_t p, b;

		ASSERT_EQ(bpfrun_rule_stat(&R, 1000 + i, &p, &b), 0);
		if (p - p0[i] != exp_p[i] || b - b0[i] != exp_b[i]) {
			TEST_FAIL("rule %zu: %llu pkts %llu bytes, want %llu %llu",
				  i, (unsigned long long)(p - p0[i]),
				  (unsigned long long)(b - b0[i]),
				  (unsigned long long)exp_p[i],
				  (unsigned long long)exp_b[i]);
			goto out;
		}
	}
	/* and reset */
	ASSERT_EQ(moat_rule_stats_reset(&R.fds, 1000), 0);
	{
		uint64_t p = 1, b = 1;

		ASSERT_EQ(bpfrun_rule_stat(&R, 1000, &p, &b), 0);
		ASSERT_EQ(p, 0);
		ASSERT_EQ(b, 0);
	}
out:
	free(h);
}

/* ------------------------------------------------------------------ */
/* slots                                                              */

TEST(slot_swap)
{
	struct himg *a = himg_new(MOAT_ACT_DROP), *b = himg_new(MOAT_ACT_PASS);
	struct pkt_spec s = { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9) };
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);
	unsigned int active = 9;

	NEED_R();
	/* b: one rule dropping udp, so both policy and rules differ */
	himg_rule(b, MOAT_ACT_DROP, 0);
	himg_cls(b, himg_tuple(b, F(PROTO)), K(E4, .proto = 17), 0);
	b->rules[0].id = 7;

	ASSERT_EQ(write_active(a, 0), 0);
	ASSERT_EQ(moat_slot_active(&R.fds, &active), 0);
	ASSERT_EQ(active, 0);
	CHECK("slot 0", buf, len, 0, XDP_DROP, MOAT_STAT_DROP_POLICY);
	ASSERT_EQ(bpfrun_write(&R, 1, &b->img, 0), 0);
	CHECK("slot 1 written, 0 active", buf, len, 0, XDP_DROP,
	      MOAT_STAT_DROP_POLICY);
	ASSERT_EQ(moat_slot_activate(&R.fds, 1), 0);
	ASSERT_EQ(moat_slot_active(&R.fds, &active), 0);
	ASSERT_EQ(active, 1);
	CHECK("slot 1 active", buf, len, 0, XDP_DROP, MOAT_STAT_DROP_RULE);
	s.proto = 6;
	len = pkt_build(&s, buf, NULL);
	CHECK("slot 1 policy", buf, len, 0, XDP_PASS, MOAT_STAT_POLICY_PASS);
	/* rewrite slot 0 while 1 is active: no effect until activated */
	a->img.info.policy = MOAT_ACT_PASS;
	ASSERT_EQ(bpfrun_write(&R, 0, &a->img, 0), 0);
	s.proto = 17;
	len = pkt_build(&s, buf, NULL);
	CHECK("slot 0 rewritten, 1 active", buf, len, 0, XDP_DROP,
	      MOAT_STAT_DROP_RULE);
	ASSERT_EQ(moat_slot_activate(&R.fds, 0), 0);
	CHECK("slot 0 active again", buf, len, 0, XDP_PASS,
	      MOAT_STAT_POLICY_PASS);
	/* bad arguments */
	ASSERT_EQ(moat_slot_activate(&R.fds, MOAT_SLOTS), -EINVAL);
	ASSERT_EQ(moat_slot_write(&R.fds, MOAT_SLOTS, &a->img), -EINVAL);
	/* a slot in use is never rewritten */
	ASSERT_EQ(moat_slot_write_live(&R.fds, 0, &a->img, 1U << 0), -EBUSY);
	free(a);
	free(b);
}

TEST(mapwrite_rejects_bad_images)
{
	struct himg *h = himg_new(MOAT_ACT_DROP);
	struct pkt_spec s = { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9) };
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);
	unsigned int t;

	NEED_R();
	ASSERT_EQ(write_active(h, 0), 0);
	CHECK("before", buf, len, 0, XDP_DROP, MOAT_STAT_DROP_POLICY);
	himg_rule(h, MOAT_ACT_PASS, 0);
	t = himg_tuple(h, F(PROTO));
	himg_cls(h, t, K(E4, .proto = 17), 5); /* position out of range */
	ASSERT_EQ(moat_slot_write(&R.fds, 0, &h->img), -EINVAL);
	h->cls[0].val.pos = 0;
	h->img.info.policy = 7;
	ASSERT_EQ(moat_slot_write(&R.fds, 0, &h->img), -EINVAL);
	h->img.info.policy = MOAT_ACT_DROP;
	h->rules[0].id = MOAT_RULE_IDS;
	ASSERT_EQ(moat_slot_write(&R.fds, 0, &h->img), -EINVAL);
	h->rules[0].id = 1;
	h->img.info.ntuples = MOAT_MAX_TUPLES + 1;
	ASSERT_EQ(moat_slot_write(&R.fds, 0, &h->img), -E2BIG);
	h->img.info.ntuples = 1;
	/* a redirect target that does not exist fails the write */
	h->rules[0].action = MOAT_ACT_REDIRECT;
	h->rules[0].ifindex = MISSING_IF;
	h->redir[0] = MISSING_IF;
	h->img.nredirect = 1;
	ASSERT_TRUE(moat_slot_write(&R.fds, 1, &h->img) < 0);
	/* the active slot is untouched by the failures */
	CHECK("after", buf, len, 0, XDP_DROP, MOAT_STAT_DROP_POLICY);
	free(h);
}

/* ------------------------------------------------------------------ */
/* redirect to a live veth                                            */

TEST(redirect_veth)
{
	struct himg *h = himg_new(MOAT_ACT_DROP);
	struct pkt_spec s = { V4("192.0.2.9", "192.0.2.1"), UDP(1, 9) };
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);
	uint32_t v = 0, k;

	NEED_R();
	if (!veth_b)
		SKIP("no veth pair");
	himg_rule(h, MOAT_ACT_REDIRECT, veth_b);
	himg_cls(h, himg_tuple(h, F(PROTO)), K(E4, .proto = 17), 0);
	ASSERT_EQ(write_active(h, 0), 0);
	k = veth_b;
	ASSERT_EQ(bpf_map_lookup_elem(R.fds.redirect_map, &k, &v), 0);
	ASSERT_EQ(v, veth_b);
	CHECK("redirect", buf, len, veth_a, XDP_REDIRECT, MOAT_STAT_REDIRECT);
	/* target removed from the devmap: dropped, counted */
	ASSERT_EQ(bpf_map_delete_elem(R.fds.redirect_map, &k), 0);
	CHECK("redirect gone", buf, len, veth_a, XDP_DROP,
	      MOAT_STAT_DROP_REDIRECT);
	free(h);
}

/* ------------------------------------------------------------------ */
/* malformed input sweep                                              */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

TEST(malformed_sweep)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8,
					  0x0806 };
	uint64_t b[MOAT_STAT_MAX], a[MOAT_STAT_MAX], ev = 0, drops = 0;
	uint64_t ndrop_v = 0, n = 0, bytes_b[MOAT_STAT_MAX];
	uint64_t bytes_a[MOAT_STAT_MAX], total = 0;
	struct himg *h;
	uint8_t buf[256];
	int len, it, j, v;

	NEED_R();
	h = hand_image();
	if (!veth_a)
		h->img.nredirect = 0; /* the vlan rule's target is absent */
	ASSERT_EQ(write_active(h, 0), 0);
	ASSERT_EQ(bpfrun_stats(&R, b, bytes_b), 0);
	for (len = ETH_HLEN; len <= 128; len++) {
		for (it = 0; it < 60; it++) {
			for (j = 0; j < len; j++)
				buf[j] = rnd();
			/* most runs get a plausible L2/L3 start so the
			 * deeper parsers see garbage too */
			if (len >= 14 && it % 4) {
				uint16_t t = types[rnd() % 5];

				buf[12] = t >> 8;
				buf[13] = t & 0xff;
				if (len >= 18 && (t == 0x8100 || t == 0x88a8)) {
					t = types[rnd() % 5];
					buf[16] = t >> 8;
					buf[17] = t & 0xff;
				}
				if (len >= 15 && t == 0x0800 && it % 2)
					buf[14] = 0x45;
				if (len >= 15 && t == 0x86dd && it % 2)
					buf[14] = 0x60;
			}
			v = -1;
			if (bpfrun_run(&R, buf, len, 0, 1, &v, NULL)) {
				TEST_FAIL("run failed at len %d", len);
				goto out;
			}
			if (v != XDP_PASS && v != XDP_DROP &&
			    v != XDP_REDIRECT) {
				TEST_FAIL("verdict %d at len %d", v, len);
				goto out;
			}
			ndrop_v += v == XDP_DROP;
			n++;
			total += len;
		}
	}
	ASSERT_EQ(bpfrun_stats(&R, a, bytes_a), 0);
	for (j = 0; j < MOAT_STAT_MAX; j++) {
		if (j == MOAT_STAT_RX || j == MOAT_STAT_FRAGMENT ||
		    j == MOAT_STAT_SLOW_PATH)
			continue;
		ev += a[j] - b[j];
		if (j >= MOAT_STAT_FIRST_DROP)
			drops += a[j] - b[j];
	}
	ASSERT_EQ(a[MOAT_STAT_RX] - b[MOAT_STAT_RX], n);
	ASSERT_EQ(bytes_a[MOAT_STAT_RX] - bytes_b[MOAT_STAT_RX], total);
	ASSERT_EQ(ev, n); /* exactly one verdict counter per packet */
	ASSERT_EQ(drops, ndrop_v);
	printf("# malformed_sweep: %llu packets, %llu dropped\n",
	       (unsigned long long)n, (unsigned long long)drops);
out:
	free(h);
}

/* ------------------------------------------------------------------ */
/* scale: 1,000,000 LPM entries                                       */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(mapwrite_1m_lpm)
{
	struct himg *h = himg_new(MOAT_ACT_DROP);
	struct moat_lpm4_entry *big;
	struct pkt_spec s = { V4("10.3.4.5", "192.0.2.1"), UDP(1, 9) };
	uint8_t buf[PKT_MAX];
	size_t len, i, n = 1000000;
	double t;

	NEED_R();
	big = calloc(n, sizeof(*big));
	ASSERT_TRUE(big != NULL);
	for (i = 0; i < n; i++) {
		uint32_t a = htonl(0x0a000000 + i * 7);

		big[i].key.prefixlen = 8 + 32;
		big[i].key.dir = MOAT_DIR_SRC;
		memcpy(big[i].key.addr, &a, 4);
		big[i].cls = 1;
	}
	h->img.lpm4 = big;
	h->img.nlpm4 = n;
	himg_rule(h, MOAT_ACT_PASS, 0);
	himg_cls(h, himg_tuple(h, F(SRC)), K(E4, .src = 1), 0);
	t = now();
	if (write_active(h, 0)) {
		free(big);
		free(h);
		TEST_FAIL("write of 1M LPM entries failed");
		return;
	}
	t = now() - t;
	printf("# mapwrite_1m_lpm: %.2f s\n", t);
	/* 10.0.0.0 + 7 * 100000 = 10.10.174.96 is in; +1 is not */
	s.src = "10.10.174.96";
	len = pkt_build(&s, buf, NULL);
	CHECK("in set", buf, len, 0, XDP_PASS, MOAT_STAT_RULE_PASS);
	s.src = "10.10.174.97";
	len = pkt_build(&s, buf, NULL);
	CHECK("not in set", buf, len, 0, XDP_DROP, MOAT_STAT_DROP_POLICY);
	free(big);
	free(h);
	if (t > 10)
		TEST_FAIL("1M LPM entries took %.1f s", t);
}

/* ------------------------------------------------------------------ */
/* speed                                                              */

TEST(bench_policy_packet)
{
	struct himg *h;
	struct pkt_spec s = { V4("192.0.2.9", "192.0.2.1"), TCP(1, 443, ACK),
			      .payload = 32 };
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);
	uint32_t ns = 0;
	int v = -1;

	NEED_R();
	h = hand_image();
	if (!veth_a)
		h->img.nredirect = 0;
	ASSERT_EQ(write_active(h, 0), 0);
	ASSERT_EQ(bpfrun_run(&R, buf, len, 0, 1000000, &v, &ns), 0);
	ASSERT_EQ(v, XDP_DROP);
	printf("# bench: policy packet, %u rules / %u tuples: %u ns/packet\n",
	       (unsigned int)h->img.nrules, h->img.info.ntuples, ns);
	free(h);
}

/* ------------------------------------------------------------------ */
/* part 2: rule text -> parse -> compile -> slot -> packets             */

static const char RS_MAIN[] =
	"policy drop\n"
	"set bad { 192.0.2.128/25, 2001:db8:bad::/48 }\n"
	"drop from 10.1.0.0/16\n"				/* 0 */
	"pass tcp to port 22\n"					/* 1 */
	"redirect mt1 vlan 100\n"				/* 2 */
	"drop ethertype arp\n"					/* 3 */
	"pass from 10.0.0.0/8\n"				/* 4 */
	"drop tcp flags S/SA\n"					/* 5 */
	"pass icmp icmp-type echo-request\n"			/* 6 */
	"drop icmpv6 icmp-type neighbour-solicitation code 0\n"	/* 7 */
	"pass on mt1 udp to 198.51.100.0/24\n"			/* 8 */
	"pass udp from port 53 to port 80-81\n"			/* 9 */
	"drop proto gre\n"					/* 10 */
	"pass inet6 from 2001:db8:5::/48 to 2001:db8:6::1\n"	/* 11 */
	"pass sctp to port 9000-9100\n"				/* 12 */
	"drop from @bad\n"					/* 13 */
	"pass { tcp, udp } to port { 443, 8443 }\n"		/* 14 */
	"pass vlan 7 inet6\n";					/* 15 */

static const char RS_PASS[] =
	"policy pass\n"
	"drop tcp to port 23\n"					/* 0 */
	"drop inet from 203.0.113.0/24 to port 53\n";		/* 1 */

static const char RS_ND[] =
	"policy drop\n"
	"pass tcp to port 22\n";				/* 0 */

static const char RS_ND_DROP[] =
	"policy drop\n"
	"drop icmpv6 icmp-type neighbor-advertisement\n"	/* 0 */
	"drop all\n";						/* 1 */

struct rule_case {
	const char *name;
	const char *rules;
	struct pkt_spec s;
	int ifx; /* 0 = lo, 1 = mt0, 2 = mt1 */
	int verdict;
	int pos; /* matched rule position, -1 = none */
	int stat;
	int frag;
};

#define S4 .src = "192.0.2.9", .dst = "192.0.2.1"
#define S6 .src = "2001:db8:9::1", .dst = "2001:db8::2"

static const struct rule_case rule_cases[] = {
	/* first match and address prefixes */
	{ "10.1/16 drop beats port 22", RS_MAIN, { V4("10.1.2.3", "192.0.2.1"),
	  TCP(1000, 22, ACK) }, 0, XDP_DROP, 0, MOAT_STAT_DROP_RULE },
	{ "port 22 before 10/8", RS_MAIN, { V4("10.2.0.1", "192.0.2.1"),
	  TCP(1000, 22, ACK) }, 0, XDP_PASS, 1, MOAT_STAT_RULE_PASS },
	{ "10/8", RS_MAIN, { V4("10.2.0.1", "192.0.2.1"), UDP(1000, 9) }, 0,
	  XDP_PASS, 4, MOAT_STAT_RULE_PASS },
	{ "10.1/16 edge", RS_MAIN, { V4("10.1.255.255", "192.0.2.1"),
	  UDP(1, 9) }, 0, XDP_DROP, 0, MOAT_STAT_DROP_RULE },
	{ "10/8 edge", RS_MAIN, { V4("10.255.0.0", "192.0.2.1"), UDP(1, 9) },
	  0, XDP_PASS, 4, MOAT_STAT_RULE_PASS },
	{ "11/8 policy", RS_MAIN, { V4("11.0.0.0", "192.0.2.1"), UDP(1, 9) },
	  0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "10/8 as destination: no", RS_MAIN, { V4("192.0.2.9", "10.2.0.1"),
	  UDP(1, 9) }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "tcp6 port 22", RS_MAIN, { S6, TCP(1, 22, ACK) }, 0, XDP_PASS, 1,
	  MOAT_STAT_RULE_PASS },
	{ "udp port 22: no", RS_MAIN, { S4, UDP(1, 22) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	/* vlan */
	{ "vlan 100 redirect", RS_MAIN, { S4, UDP(1, 9), .nvlan = 1,
	  .vid = { 100 } }, 0, XDP_REDIRECT, 2, MOAT_STAT_REDIRECT },
	{ "vlan 100 v6 redirect", RS_MAIN, { S6, UDP(1, 9), .nvlan = 1,
	  .vid = { 100 } }, 0, XDP_REDIRECT, 2, MOAT_STAT_REDIRECT },
	{ "port 22 before vlan", RS_MAIN, { S4, TCP(1, 22, ACK), .nvlan = 1,
	  .vid = { 100 } }, 0, XDP_PASS, 1, MOAT_STAT_RULE_PASS },
	{ "qinq outer 100", RS_MAIN, { S4, UDP(1, 9), .nvlan = 2,
	  .vid = { 100, 5 }, .tpid = { 0x88a8 } }, 0, XDP_REDIRECT, 2,
	  MOAT_STAT_REDIRECT },
	{ "qinq inner 100: no", RS_MAIN, { S4, UDP(1, 9), .nvlan = 2,
	  .vid = { 5, 100 }, .tpid = { 0x88a8 } }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "vlan 7 inet6", RS_MAIN, { S6, UDP(1, 9), .nvlan = 1,
	  .vid = { 7 } }, 0, XDP_PASS, 15, MOAT_STAT_RULE_PASS },
	{ "vlan 7 inet: no", RS_MAIN, { S4, UDP(1, 9), .nvlan = 1,
	  .vid = { 7 } }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "untagged inet6: no", RS_MAIN, { S6, UDP(1, 9) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "three tags", RS_MAIN, { S4, UDP(1, 9), .nvlan = 3,
	  .vid = { 100, 7, 7 } }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_VLAN_DEPTH },
	/* non-IP */
	{ "arp dropped by ethertype rule", RS_MAIN, { .arp = 1 }, 0, XDP_DROP,
	  3, MOAT_STAT_DROP_RULE },
	{ "arp vlan 100 still ethertype rule", RS_MAIN, { .arp = 1,
	  .nvlan = 1, .vid = { 100 } }, 0, XDP_DROP, 3,
	  MOAT_STAT_DROP_RULE },
	{ "lldp passes policy drop", RS_MAIN, { .ethertype = 0x88cc,
	  .payload = 30 }, 0, XDP_PASS, -1, MOAT_STAT_NONIP_PASS },
	{ "arp passes policy drop", RS_ND, { .arp = 1 }, 0, XDP_PASS, -1,
	  MOAT_STAT_NONIP_PASS },
	/* tcp flags */
	{ "syn", RS_MAIN, { S4, TCP(1, 25, SYN) }, 0, XDP_DROP, 5,
	  MOAT_STAT_DROP_RULE },
	{ "syn|psh", RS_MAIN, { S4, TCP(1, 25, SYN | 0x08) }, 0, XDP_DROP, 5,
	  MOAT_STAT_DROP_RULE },
	{ "syn|ack", RS_MAIN, { S4, TCP(1, 25, SYN | ACK) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "syn6", RS_MAIN, { S6, TCP(1, 25, SYN) }, 0, XDP_DROP, 5,
	  MOAT_STAT_DROP_RULE },
	{ "syn to 443 passes first", RS_MAIN, { S4, TCP(1, 443, SYN) }, 0,
	  XDP_DROP, 5, MOAT_STAT_DROP_RULE },
	{ "ack to 443", RS_MAIN, { S4, TCP(1, 443, ACK) }, 0, XDP_PASS, 14,
	  MOAT_STAT_RULE_PASS },
	/* icmp */
	{ "echo-request", RS_MAIN, { S4, .proto = 1, .icmp_type = 8 }, 0,
	  XDP_PASS, 6, MOAT_STAT_RULE_PASS },
	{ "echo-reply", RS_MAIN, { S4, .proto = 1, .icmp_type = 0 }, 0,
	  XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "icmpv6 echo-request: icmp rule is v4", RS_MAIN, { S6, .proto = 58,
	  .icmp_type = 128 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "ns code 0 dropped by rule", RS_MAIN, { .src = "fe80::1",
	  .dst = "ff02::1:ff00:1", .proto = 58, .icmp_type = 135 }, 0,
	  XDP_DROP, 7, MOAT_STAT_DROP_RULE },
	{ "ns code 1 nd pass", RS_MAIN, { .src = "fe80::1",
	  .dst = "ff02::1:ff00:1", .proto = 58, .icmp_type = 135,
	  .icmp_code = 1 }, 0, XDP_PASS, -1, MOAT_STAT_ND_PASS },
	{ "na nd pass", RS_MAIN, { .src = "fe80::1", .dst = "fe80::2",
	  .proto = 58, .icmp_type = 136 }, 0, XDP_PASS, -1,
	  MOAT_STAT_ND_PASS },
	{ "nd pass under policy drop", RS_ND, { .src = "fe80::1",
	  .dst = "fe80::2", .proto = 58, .icmp_type = 135 }, 0, XDP_PASS, -1,
	  MOAT_STAT_ND_PASS },
	{ "ra nd pass under policy drop", RS_ND, { .src = "fe80::1",
	  .dst = "ff02::1", .proto = 58, .icmp_type = 134 }, 0, XDP_PASS, -1,
	  MOAT_STAT_ND_PASS },
	{ "icmpv6 echo under policy drop", RS_ND, { .src = "fe80::1",
	  .dst = "ff02::1", .proto = 58, .icmp_type = 128 }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "na dropped by rule", RS_ND_DROP, { .src = "fe80::1",
	  .dst = "fe80::2", .proto = 58, .icmp_type = 136 }, 0, XDP_DROP, 0,
	  MOAT_STAT_DROP_RULE },
	{ "ns dropped by drop all", RS_ND_DROP, { .src = "fe80::1",
	  .dst = "fe80::2", .proto = 58, .icmp_type = 135 }, 0, XDP_DROP, 1,
	  MOAT_STAT_DROP_RULE },
	{ "arp not matched by drop all", RS_ND_DROP, { .arp = 1 }, 0,
	  XDP_PASS, -1, MOAT_STAT_NONIP_PASS },
	{ "tcp dropped by drop all", RS_ND_DROP, { S4, TCP(1, 2, 0) }, 0,
	  XDP_DROP, 1, MOAT_STAT_DROP_RULE },
	/* interface */
	{ "on mt1", RS_MAIN, { V4("192.0.2.9", "198.51.100.7"), UDP(1, 9) },
	  2, XDP_PASS, 8, MOAT_STAT_RULE_PASS },
	{ "on mt0: no", RS_MAIN, { V4("192.0.2.9", "198.51.100.7"),
	  UDP(1, 9) }, 1, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "on mt1 tcp: no", RS_MAIN, { V4("192.0.2.9", "198.51.100.7"),
	  TCP(1, 9, ACK) }, 2, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	/* ports */
	{ "sport 53 dport 80", RS_MAIN, { S4, UDP(53, 80) }, 0, XDP_PASS, 9,
	  MOAT_STAT_RULE_PASS },
	{ "sport 53 dport 81", RS_MAIN, { S4, UDP(53, 81) }, 0, XDP_PASS, 9,
	  MOAT_STAT_RULE_PASS },
	{ "sport 53 dport 82", RS_MAIN, { S4, UDP(53, 82) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "sport 54 dport 80", RS_MAIN, { S4, UDP(54, 80) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "sctp 9000", RS_MAIN, { S4, .proto = 132, .sport = 1,
	  .dport = 9000 }, 0, XDP_PASS, 12, MOAT_STAT_RULE_PASS },
	{ "sctp6 9100", RS_MAIN, { S6, .proto = 132, .sport = 1,
	  .dport = 9100 }, 0, XDP_PASS, 12, MOAT_STAT_RULE_PASS },
	{ "sctp 9101", RS_MAIN, { S4, .proto = 132, .sport = 1,
	  .dport = 9101 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "udp 8443", RS_MAIN, { S4, UDP(1, 8443) }, 0, XDP_PASS, 14,
	  MOAT_STAT_RULE_PASS },
	{ "udp6 443", RS_MAIN, { S6, UDP(1, 443) }, 0, XDP_PASS, 14,
	  MOAT_STAT_RULE_PASS },
	{ "sctp 443: no", RS_MAIN, { S4, .proto = 132, .sport = 1,
	  .dport = 443 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	/* protocols without L4 */
	{ "gre", RS_MAIN, { S4, .proto = 47, .payload = 8 }, 0, XDP_DROP, 10,
	  MOAT_STAT_DROP_RULE },
	{ "gre6", RS_MAIN, { S6, .proto = 47, .payload = 8 }, 0, XDP_DROP, 10,
	  MOAT_STAT_DROP_RULE },
	{ "esp: policy", RS_MAIN, { S4, .proto = 50, .payload = 8 }, 0,
	  XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	/* IPv6 addresses and sets */
	{ "inet6 src+dst", RS_MAIN, { .src = "2001:db8:5:ffff::1",
	  .dst = "2001:db8:6::1", .proto = 17, .sport = 1, .dport = 9 }, 0,
	  XDP_PASS, 11, MOAT_STAT_RULE_PASS },
	{ "inet6 dst off by one", RS_MAIN, { .src = "2001:db8:5::1",
	  .dst = "2001:db8:6::2", UDP(1, 9) }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY },
	{ "set v4", RS_MAIN, { V4("192.0.2.200", "192.0.2.1"), UDP(1, 9) },
	  0, XDP_DROP, 13, MOAT_STAT_DROP_RULE },
	{ "set v4 outside", RS_MAIN, { V4("192.0.2.127", "192.0.2.1"),
	  UDP(1, 9) }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY },
	{ "set v6", RS_MAIN, { .src = "2001:db8:bad:1::1",
	  .dst = "2001:db8::1", UDP(1, 9) }, 0, XDP_DROP, 13,
	  MOAT_STAT_DROP_RULE },
	{ "set before 443 rule", RS_MAIN, { V4("192.0.2.200", "192.0.2.1"),
	  UDP(1, 443) }, 0, XDP_DROP, 13, MOAT_STAT_DROP_RULE },
	/* fragments */
	{ "non-first fragment vs port rule", RS_MAIN, { S4, UDP(53, 80),
	  .frag = 20 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY, 1 },
	{ "first fragment vs port rule", RS_MAIN, { S4, UDP(53, 80),
	  .mf = 1 }, 0, XDP_PASS, 9, MOAT_STAT_RULE_PASS },
	{ "non-first fragment vs address rule", RS_MAIN, {
	  V4("10.1.0.1", "192.0.2.1"), TCP(1, 22, 0), .frag = 20 }, 0,
	  XDP_DROP, 0, MOAT_STAT_DROP_RULE, 1 },
	{ "non-first fragment skips port rule", RS_MAIN, {
	  V4("10.2.0.1", "192.0.2.1"), TCP(1, 22, 0), .frag = 20 }, 0,
	  XDP_PASS, 4, MOAT_STAT_RULE_PASS, 1 },
	{ "non-first fragment vs flags rule", RS_MAIN, { S4, TCP(1, 25, SYN),
	  .frag = 20 }, 0, XDP_DROP, -1, MOAT_STAT_DROP_POLICY, 1 },
	{ "non-first fragment vs proto rule", RS_MAIN, { S4, .proto = 47,
	  .frag = 20 }, 0, XDP_DROP, 10, MOAT_STAT_DROP_RULE, 1 },
	{ "v6 non-first fragment vs address rule", RS_MAIN, {
	  .src = "2001:db8:5::1", .dst = "2001:db8:6::1", UDP(1, 9),
	  .next = 1, .ext = { 44 }, .frag = 3 }, 0, XDP_PASS, 11,
	  MOAT_STAT_RULE_PASS, 1 },
	{ "v6 non-first fragment vs port rule", RS_MAIN, { S6, UDP(1, 443),
	  .next = 1, .ext = { 44 }, .frag = 3 }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_POLICY, 1 },
	{ "v6 first fragment vs port rule", RS_MAIN, { S6, UDP(1, 443),
	  .next = 2, .ext = { 0, 44 }, .mf = 1 }, 0, XDP_PASS, 14,
	  MOAT_STAT_RULE_PASS },
	{ "v6 ext chain of 6 vs port rule", RS_MAIN, { S6, UDP(1, 443),
	  .next = 6, .ext = { 0, 60, 43, 44, 51, 60 } }, 0, XDP_PASS, 14,
	  MOAT_STAT_RULE_PASS },
	{ "v6 ext chain of 7", RS_MAIN, { S6, UDP(1, 443), .next = 7,
	  .ext = { 0, 60, 43, 44, 51, 60, 60 } }, 0, XDP_DROP, -1,
	  MOAT_STAT_DROP_BAD_IP6_EXT },
	/* policy pass */
	{ "policy pass", RS_PASS, { S4, TCP(1, 22, ACK) }, 0, XDP_PASS, -1,
	  MOAT_STAT_POLICY_PASS },
	{ "policy pass, rule drop", RS_PASS, { S4, TCP(1, 23, ACK) }, 0,
	  XDP_DROP, 0, MOAT_STAT_DROP_RULE },
	{ "policy pass, v6 rule drop", RS_PASS, { S6, TCP(1, 23, ACK) }, 0,
	  XDP_DROP, 0, MOAT_STAT_DROP_RULE },
	{ "inet rule vs v6", RS_PASS, { .src = "2001:db8::1",
	  .dst = "2001:db8::2", UDP(1, 53) }, 0, XDP_PASS, -1,
	  MOAT_STAT_POLICY_PASS },
	{ "inet rule", RS_PASS, { V4("203.0.113.5", "192.0.2.1"),
	  UDP(1, 53) }, 0, XDP_DROP, 1, MOAT_STAT_DROP_RULE },
	{ "inet rule, tcp too", RS_PASS, { V4("203.0.113.5", "192.0.2.1"),
	  TCP(1, 53, ACK) }, 0, XDP_DROP, 1, MOAT_STAT_DROP_RULE },
	{ "truncated tcp under policy pass", RS_PASS, { S4, .proto = 6,
	  .tot_len = 40 }, 0, XDP_PASS, -1, MOAT_STAT_POLICY_PASS },
};

/* parse + compile + write + activate; rule ids are 2000 + position */
static int apply_text(const char *text, struct moat_image *img,
		      unsigned int slot)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	size_t i;
	int err;

	memset(&rs, 0, sizeof(rs));
	memset(&d, 0, sizeof(d));
	err = moat_parse_string("test.rules", text, NULL, &rs, &d);
	if (!err)
		err = moat_compile(&rs, NULL, img, &d);
	if (err) {
		moat_diags_print(&d, stdout);
		goto out;
	}
	for (i = 0; i < img->nrules; i++)
		img->rules[i].id = 2000 + i;
	err = bpfrun_write(&R, slot, img, 1);
out:
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	return err;
}

TEST(rule_table)
{
	const char *cur = NULL;
	struct moat_image img;
	uint8_t buf[PKT_MAX];
	size_t i, j;
	int n = 0;

	NEED_R();
	if (!veth_a)
		SKIP("no veth pair");
	memset(&img, 0, sizeof(img));
	for (i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *c = &rule_cases[i];
		uint32_t ifx = c->ifx == 1 ? veth_a : c->ifx == 2 ? veth_b : 0;
		const int w1[] = { c->stat, END };
		const int w2[] = { c->stat, MOAT_STAT_FRAGMENT, END };
		uint64_t p0[64], b0[64], p, b;
		size_t len;
		int err;

		if (c->rules != cur) {
			moat_image_free(&img);
			err = apply_text(c->rules, &img, (unsigned int)i & 1);
			if (err) {
				TEST_FAIL("%s: rule set did not apply: %d",
					  c->name, err);
				goto out;
			}
			cur = c->rules;
		}
		len = pkt_build(&c->s, buf, NULL);
		if (!len) {
			TEST_FAIL("%s: bad packet spec", c->name);
			goto out;
		}
		for (j = 0; j < img.nrules && j < 64; j++)
			bpfrun_rule_stat(&R, 2000 + j, &p0[j], &b0[j]);
		if (check_run(c->name, buf, len, ifx, c->verdict,
			      c->frag ? w2 : w1))
			goto out;
		/* exactly the matched rule's counter moved, by 1 / len */
		for (j = 0; j < img.nrules && j < 64; j++) {
			uint64_t wp = (int)j == c->pos;

			bpfrun_rule_stat(&R, 2000 + j, &p, &b);
			if (p - p0[j] != wp || b - b0[j] != wp * len) {
				TEST_FAIL("%s: rule %zu counter moved %llu/%llu, want %llu/%llu",
					  c->name, j,
					  (unsigned long long)(p - p0[j]),
					  (unsigned long long)(b - b0[j]),
					  (unsigned long long)wp,
					  (unsigned long long)(wp * len));
				goto out;
			}
		}
		n++;
	}
	printf("# rule_table: %d cases\n", n);
out:
	moat_image_free(&img);
}

TEST(bench_rule_text)
{
	static const char ten[] =
		"policy drop\n"
		"drop from 10.1.0.0/16\n"
		"pass tcp to port 22\n"
		"pass tcp from 192.0.2.0/24 to port { 80, 443 }\n"
		"pass udp to port 53\n"
		"pass icmp icmp-type echo-request\n"
		"pass icmpv6 icmp-type echo-request\n"
		"drop tcp flags S/SA to port 25\n"
		"pass inet6 from 2001:db8::/32\n"
		"pass on mt1 udp to 198.51.100.0/24\n"
		"drop ethertype arp\n";
	struct pkt_spec s = { V4("203.0.113.9", "192.0.2.1"),
			      TCP(1, 8080, ACK), .payload = 32 };
	struct moat_image img;
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);
	uint32_t ns = 0;
	int v = -1;

	NEED_R();
	if (!veth_a)
		SKIP("no veth pair");
	memset(&img, 0, sizeof(img));
	ASSERT_EQ(apply_text(ten, &img, 0), 0);
	ASSERT_EQ(bpfrun_run(&R, buf, len, 0, 1000000, &v, &ns), 0);
	ASSERT_EQ(v, XDP_DROP);
	printf("# bench: policy packet, 10-rule set (%u tuples): %u ns/packet\n",
	       img.info.ntuples, ns);
	moat_image_free(&img);
}

/* ------------------------------------------------------------------ */

static int setup_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link set lo up && "
		   "ip link add mt0 type veth peer name mt1 && "
		   "ip link set mt0 up && ip link set mt1 up"))
		return -1;
	veth_a = if_nametoindex("mt0");
	veth_b = if_nametoindex("mt1");
	return veth_a && veth_b ? 0 : -1;
}

int main(void)
{
	int err;

	if (setup_netns())
		fprintf(stderr, "# no private netns/veth: some tests skip\n");
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;

	RUN(parse_table);
	RUN(eth_short_refused);
	RUN(classify_table);
	RUN(slot_swap);
	RUN(mapwrite_rejects_bad_images);
	RUN(redirect_veth);
	RUN(malformed_sweep);
	RUN(mapwrite_1m_lpm);
	RUN(bench_policy_packet);
	RUN(rule_table);
	RUN(bench_rule_text);

	bpfrun_close(&R);
	return test_summary("xdp");
}
