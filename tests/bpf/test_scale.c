// SPDX-License-Identifier: GPL-2.0
/*
 * test_scale.c - correctness of the classifier at scale and of the address
 * structures (docs/design.md: tuple masks, leaves, DIR-24 + a4long, a6top +
 * a6mid lines + a6long + lpm6, address tables shared between slots).
 *
 *   rules_10k     random 10,000-rule sets (prefixes of varied lengths,
 *                 IPv4 and IPv6, ports and ranges, protocols, sets) and
 *                 thousands of random packets, each run twice (classified,
 *                 then from the flow cache): verdict and matched rule
 *                 (its counter) of the program vs refeval, and imagesim
 *                 agreeing with both
 *   set_edges     overlapping prefixes, /0, /32, /128, IPv4-mapped IPv6,
 *                 lengths above /24 and /48 in one /24 or /48, written into
 *                 both slots in turn (shared and rewritten address tables)
 *
 *   MOAT_SEED=N         seed (printed)
 *   MOAT_SCALE_PKTS=N   packets per rule set (default 3000)
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>

#include "test.h"
#include "bpfrun.h"
#include "compile.h"
#include "imagesim.h"
#include "parse.h"
#include "pkt.h"
#include "refeval.h"
#include "rulegen.h"

static struct bpfrun R;
static int R_ok;
static uint64_t seed;

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n >= 0 && b->n + (size_t)n < b->cap)
			break;
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	b->n += (size_t)n;
}

static bool edges; /* set_edges: addresses near the sets' edges */

/* addresses inside the generated prefixes, for aimed packets */
#define POOL 65536
static char pool[2][POOL][64];
static unsigned int npool[2];

static void pool_add(bool v6, const char *a)
{
	if (npool[v6] < POOL)
		snprintf(pool[v6][npool[v6]++], 64, "%s", a);
}

static bool pool_pick(struct rg_rng *r, bool v6, char *buf, size_t len)
{
	if (!npool[v6] || edges || rg_n(r, 2))
		return false;
	snprintf(buf, len, "%s", pool[v6][rg_n(r, npool[v6])]);
	return true;
}

/* address pools: packets are drawn from them so rules get hit */
static void v4_addr(struct rg_rng *r, char *buf, size_t len)
{
	if (edges && rg_n(r, 4)) {
		if (rg_n(r, 8) == 0)
			snprintf(buf, len, "10.%u.%u.%u", rg_n(r, 256),
				 rg_n(r, 256), rg_n(r, 256));
		else
			snprintf(buf, len, "10.%u.%u.%u", 1 + rg_n(r, 2) * 8,
				 2 + rg_n(r, 2), rg_n(r, 2) ? 200 + rg_n(r, 8) :
							      rg_n(r, 256));
		return;
	}
	/* 10.x.y.z mostly inside a few /16s, sometimes anywhere */
	if (rg_n(r, 4))
		snprintf(buf, len, "10.%u.%u.%u", rg_n(r, 256), rg_n(r, 256),
			 rg_n(r, 256));
	else
		snprintf(buf, len, "%u.%u.%u.%u", rg_n(r, 256), rg_n(r, 256),
			 rg_n(r, 256), rg_n(r, 256));
}

static void v6_addr(struct rg_rng *r, char *buf, size_t len)
{
	if (edges && rg_n(r, 4)) {
		static const char *const pre[] = {
			"2001:db8:1::", "2001:db8:1:0:8000::", "2001:db8:2:0:",
			"2001:db8:1:2:3::", "2001:db8:1:2::", "::ffff:10.9.9.",
			"2001:db8:3::", "2001:db8:2:8000::", "2001:db8:5::",
			"2001:db8:5:0:8000::",
		};
		unsigned int k = rg_n(r, 10);

		if (k == 5)
			snprintf(buf, len, "%s%u", pre[k], 8 + rg_n(r, 3));
		else if (k == 2)
			snprintf(buf, len, "%s%x::%x", pre[k], rg_n(r, 65536),
				 rg_n(r, 4));
		else
			snprintf(buf, len, "%s%x", pre[k], rg_n(r, 4));
		return;
	}
	snprintf(buf, len, "2001:db8:%x:%x:%x::%x", rg_n(r, 256),
		 rg_n(r, 65536), rg_n(r, 65536), rg_n(r, 65536));
}

/* min_plen4/6: the shortest length allowed (a rule gets at most one
 * short prefix, which keeps its cross product small) */
static void prefix(struct rg_rng *r, bool v6, bool narrow, char *buf,
		   size_t len)
{
	char a[64];
	unsigned int plen, k = rg_n(r, 50);

	if (v6) {
		v6_addr(r, a, sizeof(a));
		plen = narrow || k < 30 ? 96 + rg_n(r, 33) :
		       k < 49		? 64 + rg_n(r, 32) :
					  48 + rg_n(r, 16);
	} else {
		v4_addr(r, a, sizeof(a));
		plen = narrow || k < 30 ? 28 + rg_n(r, 5) :
		       k < 49		? 24 + rg_n(r, 4) :
					  16 + rg_n(r, 8);
	}
	pool_add(v6, a);
	{
		uint8_t b[16];
		char o[64];

		inet_pton(v6 ? AF_INET6 : AF_INET, a, b);
		for (unsigned int i = 0; i < 16; i++) {
			unsigned int bit = i * 8;

			if (bit >= plen)
				b[i] = 0;
			else if (bit + 8 > plen)
				b[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
		}
		inet_ntop(v6 ? AF_INET6 : AF_INET, b, o, sizeof(o));
		snprintf(buf, len, "%s/%u", o, plen);
	}
}

static void ports(struct rg_rng *r, struct sbuf *b, const char *dir)
{
	unsigned int lo = rg_n(r, 2) ? rg_n(r, 64) : rg_n(r, 65536);
	unsigned int hi = lo + rg_n(r, 8);

	if (rg_n(r, 2))
		sb_add(b, "%s port %u", dir, lo);
	else
		sb_add(b, "%s port %u-%u", dir, lo, hi > 65535 ? 65535 : hi);
}

static char *gen_rules(struct rg_rng *r, unsigned int n)
{
	static const char *const protos[] = { "", "tcp ", "udp ",
					      "proto { tcp, udp } ", "icmp ",
					      "sctp " };
	struct sbuf b = { 0 };
	char p[80];

	sb_add(&b, "policy %s\n", rg_n(r, 2) ? "drop" : "pass");
	/* two sets, overlapping each other and the rules' prefixes */
	for (int s = 0; s < 2; s++) {
		sb_add(&b, "set s%d {", s);
		for (int i = 0; i < 200; i++) {
			prefix(r, rg_n(r, 3) == 0, true, p, sizeof(p));
			sb_add(&b, "%s %s", i ? "," : "", p);
		}
		sb_add(&b, " }\n");
	}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int pi = rg_n(r, 6);
		bool v6 = rg_n(r, 3) == 0, l4 = pi != 4 && pi != 0, any = pi;
		bool narrow = false;

		sb_add(&b, "%s %s", rg_n(r, 3) ? "drop" : "pass",
		       pi == 4 && v6 ? "icmpv6 " : protos[pi]);
		for (int dir = 0; dir < 2; dir++) {
			bool addr = rg_n(r, 4) != 0, port = l4 && rg_n(r, 2);

			if (dir == 1 && !narrow)
				addr = true; /* every rule names an address */

			if (dir == 0 && rg_n(r, 3) == 0)
				port = false;
			if (!addr && !port)
				continue;
			sb_add(&b, "%s", dir ? " to" : " from");
			if (addr && rg_n(r, 20) == 0) {
				sb_add(&b, " @s%u", rg_n(r, 2));
			} else if (addr) {
				prefix(r, v6, narrow, p, sizeof(p));
				narrow = true;
				sb_add(&b, " %s", p);
			}
			if (port)
				ports(r, &b, "");
			any = true;
		}
		sb_add(&b, "%s\n", any ? "" : " all");
	}
	return b.s;
}

/* One random packet: spec + the decoded form refeval wants. */
static size_t gen_pkt(struct rg_rng *r, uint8_t *buf, struct moat_pkt *d)
{
	static const uint8_t protos[] = { 6, 17, 132, 1, 58, 47 };
	struct pkt_spec s;
	char src[64], dst[64];
	bool v6 = rg_n(r, 3) == 0;
	size_t len;

	memset(&s, 0, sizeof(s));
	if (!pool_pick(r, v6, src, sizeof(src))) {
		if (v6)
			v6_addr(r, src, sizeof(src));
		else
			v4_addr(r, src, sizeof(src));
	}
	if (!pool_pick(r, v6, dst, sizeof(dst))) {
		if (v6)
			v6_addr(r, dst, sizeof(dst));
		else
			v4_addr(r, dst, sizeof(dst));
	}
	s.src = src;
	s.dst = dst;
	s.proto = protos[rg_n(r, 6)];
	if (s.proto == 1 && v6)
		s.proto = 58;
	if (s.proto == 58 && !v6)
		s.proto = 1;
	s.sport = rg_n(r, 2) ? rg_n(r, 64) : rg_n(r, 65536);
	s.dport = rg_n(r, 2) ? rg_n(r, 64) : rg_n(r, 65536);
	s.tcp_flags = 0x10;
	s.icmp_type = 8;
	len = pkt_build(&s, buf, NULL);

	memset(d, 0, sizeof(*d));
	d->ethertype = v6 ? 0x86dd : 0x0800;
	d->vlan = MOAT_VLAN_NONE;
	d->proto = s.proto;
	d->has_l4 = s.proto != 47;
	inet_pton(v6 ? AF_INET6 : AF_INET, src, d->src);
	inet_pton(v6 ? AF_INET6 : AF_INET, dst, d->dst);
	d->sport = s.sport;
	d->dport = s.dport;
	d->tcpflags = s.tcp_flags;
	d->icmp_type = s.icmp_type;
	return len;
}

/* Load text into slot and check npkts random packets. */
static int check_set(const char *what, const char *text, unsigned int slot,
		     struct rg_rng *r, unsigned int npkts)
{
	struct moat_diags d = { 0 };
	struct moat_ruleset rs;
	struct moat_image img;
	struct moat_imagesim *sim = NULL;
	unsigned int bad = 0, hits = 0;
	uint64_t possum = 0;
	int err;

	err = moat_parse_string("scale.rules", text, NULL, &rs, &d);
	if (!err)
		err = moat_compile(&rs, NULL, &img, &d);
	if (err) {
		moat_diags_print(&d, stdout);
		TEST_FAIL("%s: does not compile: %s", what, strerror(-err));
		moat_diags_free(&d);
		return -1;
	}
	for (size_t i = 0; i < img.nrules; i++)
		img.rules[i].id = (uint32_t)i;
	err = bpfrun_write(&R, slot, &img, 1);
	if (err) {
		TEST_FAIL("%s: slot write: %s", what, strerror(-err));
		goto out;
	}
	sim = moat_imagesim_new(&img);
	for (unsigned int i = 0; i < npkts && bad < 3; i++) {
		uint8_t buf[PKT_MAX];
		struct moat_pkt p;
		uint64_t p0 = 0, p1 = 0, b;
		size_t len = gen_pkt(r, buf, &p);
		int want = refeval_match(&rs, &p, NULL, NULL), xdp = -1, exp;
		int xdp2 = -1;

		if (sim && moat_imagesim_lookup(sim, &p) != want) {
			TEST_FAIL("%s: seed %llu packet %u: imagesim %d, reference %d",
				  what, (unsigned long long)seed, i,
				  moat_imagesim_lookup(sim, &p), want);
			bad++;
			continue;
		}
		hits += want >= 0;
		possum += want >= 0 ? (uint64_t)want : 0;
		if (want >= 0)
			bpfrun_rule_stat(&R, (uint32_t)want, &p0, &b);
		/* twice: classified, then from the flow cache (fcache.h) */
		if (bpfrun_run(&R, buf, len, 1, 1, &xdp, NULL) ||
		    bpfrun_run(&R, buf, len, 1, 1, &xdp2, NULL)) {
			TEST_FAIL("%s: test run failed", what);
			bad++;
			continue;
		}
		exp = want >= 0 ? (rs.rules[want].action == MOAT_ACT_PASS ?
					   XDP_PASS :
					   XDP_DROP) :
				  (p.ethertype == 0x86dd && p.proto == 58 &&
				   p.icmp_type >= 133 && p.icmp_type <= 137) ||
						  rs.policy == MOAT_ACT_PASS ?
				  XDP_PASS :
				  XDP_DROP;
		if (want >= 0)
			bpfrun_rule_stat(&R, (uint32_t)want, &p1, &b);
		if (xdp != exp || xdp2 != exp || (want >= 0 && p1 != p0 + 2)) {
			char *rt = want >= 0 ?
					   moat_rule_format(&rs, &rs.rules[want]) :
					   NULL;

			TEST_FAIL("%s: seed %llu packet %u: verdicts %d then %d, want %d (reference rule %d: %s; its counter moved by %lld of 2)",
				  what, (unsigned long long)seed, i, xdp, xdp2, exp,
				  want, rt ? rt : "policy",
				  (long long)(p1 - p0));
			free(rt);
			bad++;
		}
	}
	printf("# %s: %zu rules, %zu classifier entries, %u tuples; %u of %u packets matched a rule (mean position %llu)\n",
	       what, img.nrules, img.ncls, img.info.ntuples, hits, npkts,
	       (unsigned long long)(hits ? possum / hits : 0));
out:
	moat_imagesim_free(sim);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	return bad ? -1 : 0;
}

static unsigned int npkts(void)
{
	const char *e = getenv("MOAT_SCALE_PKTS");

	return e ? (unsigned int)strtoul(e, NULL, 0) : 3000;
}

TEST(rules_10k)
{
	struct rg_rng r;

	if (!R_ok)
		SKIP("cannot load the program (not root?)");
	rg_seed(&r, seed);
	for (unsigned int k = 0; k < 2; k++) {
		char *text;

		npool[0] = npool[1] = 0;
		text = gen_rules(&r, 10000);
		char what[32];

		snprintf(what, sizeof(what), "10k rules #%u", k);
		check_set(what, text, k & 1, &r, npkts());
		free(text);
	}
}

TEST(set_edges)
{
	static const char *const texts[] = {
		/* overlapping, /0, /32, /128, mapped, long prefixes */
		"policy pass\n"
		"set a { 0.0.0.0/0, 10.0.0.0/8, 10.1.2.0/24, 10.1.2.128/25,\n"
		"  10.1.2.192/26, 10.1.2.200/30, 10.1.2.201/32, 10.1.3.7/32,\n"
		"  ::ffff:10.9.9.9/128, 2001:db8::/32, 2001:db8:1::/48,\n"
		"  2001:db8:1:0:8000::/65, 2001:db8:1::1/128, 2001:db8:2::/49 }\n"
		"set b { 10.1.2.0/27, 10.0.0.0/9, ::/0, 2001:db8:1::/64 }\n"
		/* a dense /48: more prefixes than an a6mid line holds */
		"set d { 2001:db8:5::/49, 2001:db8:5::/50, 2001:db8:5::/52,\n"
		"  2001:db8:5::/54, 2001:db8:5::/56, 2001:db8:5::/58,\n"
		"  2001:db8:5::/60, 2001:db8:5::/62, 2001:db8:5::/64,\n"
		"  2001:db8:5::/72, 2001:db8:5::/80, 2001:db8:5::/96,\n"
		"  2001:db8:5::/112, 2001:db8:5::1/128 }\n"
		"drop tcp from @d\n"
		"pass from 10.1.2.201 to 10.1.2.200/29\n"
		"drop from @a to @b\n"
		"pass udp to @a port 1-40\n"
		"drop from @b\n",
		/* the same addresses, another rule: the layout is shared */
		"policy pass\n"
		"set a { 0.0.0.0/0, 10.0.0.0/8, 10.1.2.0/24, 10.1.2.128/25,\n"
		"  10.1.2.192/26, 10.1.2.200/30, 10.1.2.201/32, 10.1.3.7/32,\n"
		"  ::ffff:10.9.9.9/128, 2001:db8::/32, 2001:db8:1::/48,\n"
		"  2001:db8:1:0:8000::/65, 2001:db8:1::1/128, 2001:db8:2::/49 }\n"
		"set b { 10.1.2.0/27, 10.0.0.0/9, ::/0, 2001:db8:1::/64 }\n"
		"pass from 10.1.2.201 to 10.1.2.200/29\n"
		"drop from @a to @b\n"
		"pass tcp to @a port 1-50\n"
		"drop udp from @b\n",
		/* different addresses: a table rewritten */
		"policy drop\n"
		"set a { 10.1.2.64/26, 10.1.2.65/32, 2001:db8:1:2::/64,\n"
		"  2001:db8:1:2:3::/80, 2001:db8:3::/48 }\n"
		"pass from @a\n"
		"pass tcp to 10.0.0.0/10 port 5-60\n",
	};
	struct rg_rng r;

	if (!R_ok)
		SKIP("cannot load the program (not root?)");
	rg_seed(&r, seed ^ 0x5e75);
	edges = true;
	/* slots 0 1 0 1 0 with texts 0 1 2 0 1: reuse, rewrite, reuse */
	for (unsigned int k = 0; k < 5; k++) {
		char what[32];

		snprintf(what, sizeof(what), "set edges #%u", k);
		check_set(what, texts[k % 3], k & 1, &r, npkts() / 3);
	}
	edges = false;
}

int main(void)
{
	const char *e = getenv("MOAT_SEED");
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	printf("# scale seed %llu (MOAT_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;
	RUN(rules_10k);
	RUN(set_edges);
	bpfrun_close(&R);
	return test_summary("scale");
}
