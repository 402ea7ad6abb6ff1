// SPDX-License-Identifier: GPL-2.0
/*
 * gen-rules - deterministic rule sets for the moat benchmark.
 *
 *   gen-rules FORMAT N SEED [ARG]
 *
 * FORMAT:
 *   moat      N mixed rules as a moat rule file (policy pass)
 *   moat-var  the same file with one rule changed (for re-apply timing)
 *   nft       N rules, one nft rule each, in a netdev ingress chain on
 *             device ARG (table `netdev ARG2`, see below)
 *   nft-set   the same N rules the idiomatic nft way: one concatenated
 *             interval set per family (ip saddr . ip daddr . l4proto . th
 *             dport), one lookup rule each
 *   ipt       N IPv4 rules for iptables-restore (raw PREROUTING)
 *   set4      N disjoint IPv4 prefixes, one per line
 *   set6      N disjoint IPv6 prefixes in 2001:db8::/32, one per line
 *   keys4     N IPv4 addresses, each inside one of the set4 prefixes
 *   keys6     N IPv6 addresses, each inside one of the set6 prefixes
 *
 * For nft/nft-set ARG is "TABLE:DEVICE".  For keys4/keys6, N and SEED are
 * those of the set; ARG is the number of keys.
 *
 * Traffic of the benchmark is UDP 198.18.0.5 -> 198.18.0.6 port 9 (and
 * fd00::5 -> fd00::6 port 9).  Every generated rule set has
 *   rule 1:  drop udp from 198.18.200.0/24 to 198.18.0.6 port 9 ("first")
 *   rule N:  drop udp to 198.18.0.6 port 9                        ("last")
 * and N-2 rules that match none of the benchmark's packets, whatever
 * their source address or source port: each random rule either names a
 * destination outside 198.18.0.0/15 and fd00::/8, or a protocol other
 * than UDP.  A UDP packet to port 10 falls through to the policy.
 * With N == 1 the only rule is `drop udp to port 9` (the single-port
 * deny also given to xdp-filter).
 *
 * The same seed gives the same rules in every format.  xorshift64*, no
 * dependence on libc's rand().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs;
static uint32_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (uint32_t)((rs * 2685821657736338717ULL) >> 32);
}
static void seed(uint64_t s)
{
	rs = s * 0x9e3779b97f4a7c15ULL + 0x1234567;
	if (!rs)
		rs = 1;
	for (int i = 0; i < 8; i++)
		rnd();
}

enum { P_ANY = 0, P_TCP = 6, P_UDP = 17, P_SCTP = 132, P_ICMP = 1,
       P_GRE = 47 };

struct pfx {
	int fam; /* 0 = none */
	int plen;
	uint8_t a[16];
};

struct rule {
	int drop;
	int fam; /* 4 or 6 */
	int proto;
	struct pfx src, dst;
	int splo, sphi; /* 0 = none */
	int dplo, dphi;
};

static void rand_pfx(struct pfx *p, int fam)
{
	memset(p, 0, sizeof(*p));
	p->fam = fam;
	if (fam == 4) {
		uint32_t a;
		uint8_t o;

		do
			o = 1 + rnd() % 223;
		while (o == 127 || o == 198 || o == 10);
		a = ((uint32_t)o << 24) | (rnd() & 0xffffff);
		p->plen = 12 + rnd() % 21; /* 12..32 */
		if (p->plen < 32)
			a &= ~((1u << (32 - p->plen)) - 1);
		p->a[0] = a >> 24;
		p->a[1] = a >> 16;
		p->a[2] = a >> 8;
		p->a[3] = a;
	} else {
		int i;

		p->a[0] = 0x20;
		p->a[1] = 0x01;
		p->a[2] = 0x0d;
		p->a[3] = 0xb8;
		for (i = 4; i < 16; i++)
			p->a[i] = rnd();
		p->plen = 48 + rnd() % 81; /* 48..128 */
		for (i = p->plen; i < 128; i++)
			p->a[i / 8] &= ~(0x80 >> (i % 8));
	}
}

static void rand_ports(int *lo, int *hi)
{
	if (rnd() % 10 < 7) {
		*lo = *hi = 1 + rnd() % 65535;
	} else {
		*lo = 1 + rnd() % 65000;
		*hi = *lo + 1 + rnd() % 256;
	}
}

/* One random rule that matches no benchmark packet (see top). */
static void rand_rule(struct rule *r, int v4only)
{
	static const int l4[] = { P_TCP, P_UDP };
	static const int other[] = { P_TCP, P_SCTP, P_GRE, P_ICMP };
	int shape = rnd() % 8;

	memset(r, 0, sizeof(*r));
	r->drop = rnd() % 10 != 0;
	r->fam = (!v4only && rnd() % 10 < 3) ? 6 : 4;
	switch (shape) {
	case 0: /* proto src dst dport */
	case 1:
		r->proto = l4[rnd() % 2];
		rand_pfx(&r->src, r->fam);
		rand_pfx(&r->dst, r->fam);
		rand_ports(&r->dplo, &r->dphi);
		break;
	case 2: /* src dst, any protocol */
		rand_pfx(&r->src, r->fam);
		rand_pfx(&r->dst, r->fam);
		break;
	case 3: /* proto dst dport */
		r->proto = l4[rnd() % 2];
		rand_pfx(&r->dst, r->fam);
		rand_ports(&r->dplo, &r->dphi);
		break;
	case 4: /* proto src sport dst dport */
		r->proto = l4[rnd() % 2];
		rand_pfx(&r->src, r->fam);
		rand_ports(&r->splo, &r->sphi);
		rand_pfx(&r->dst, r->fam);
		rand_ports(&r->dplo, &r->dphi);
		break;
	case 5: /* tcp to port */
		r->proto = P_TCP;
		rand_ports(&r->dplo, &r->dphi);
		break;
	case 6: /* non-UDP protocol only, or with a source */
		r->proto = other[1 + rnd() % 3];
		if (rnd() % 2)
			rand_pfx(&r->src, r->fam);
		break;
	default: /* dst only */
		rand_pfx(&r->dst, r->fam);
		break;
	}
}

static void fixed_rules(struct rule *first, struct rule *var,
			struct rule *last, int variant)
{
	memset(first, 0, sizeof(*first));
	first->drop = 1;
	first->fam = 4;
	first->proto = P_UDP;
	first->src = (struct pfx){ 4, 24, { 198, 18, 200, 0 } };
	first->dst = (struct pfx){ 4, 32, { 198, 18, 0, 6 } };
	first->dplo = first->dphi = 9;
	/* the rule the re-apply benchmark changes */
	memset(var, 0, sizeof(*var));
	var->drop = 1;
	var->fam = 4;
	var->proto = P_TCP;
	var->src = (struct pfx){ 4, 24, { 203, 0, 113, 0 } };
	var->dplo = var->dphi = variant ? 23 : 22;
	*last = *first;
	last->src.fam = 0;
}

static void put_pfx(const struct pfx *p)
{
	char b[64];

	if (p->fam == 4)
		snprintf(b, sizeof(b), "%u.%u.%u.%u", p->a[0], p->a[1], p->a[2],
			 p->a[3]);
	else {
		int i, n = 0;

		for (i = 0; i < 16; i += 2)
			n += snprintf(b + n, sizeof(b) - n, "%s%x", i ? ":" : "",
				      p->a[i] << 8 | p->a[i + 1]);
	}
	if (p->plen == (p->fam == 4 ? 32 : 128))
		printf("%s", b);
	else
		printf("%s/%d", b, p->plen);
}

static void put_ports(int lo, int hi)
{
	if (lo == hi)
		printf("%d", lo);
	else
		printf("%d-%d", lo, hi);
}

static const char *pname(int p)
{
	switch (p) {
	case P_TCP: return "tcp";
	case P_UDP: return "udp";
	case P_SCTP: return "sctp";
	case P_GRE: return "gre";
	case P_ICMP: return "icmp";
	}
	return "?";
}

static void moat_rule(const struct rule *r)
{
	printf("%s", r->drop ? "drop" : "pass");
	if (r->fam == 6 && !r->src.fam && !r->dst.fam)
		printf(" inet6");
	else if (r->fam == 4 && !r->src.fam && !r->dst.fam && r->proto != P_ICMP)
		printf(" inet");
	if (r->proto == P_ICMP && r->fam == 6)
		printf(" icmpv6");
	else if (r->proto == P_GRE)
		printf(" proto gre");
	else if (r->proto)
		printf(" %s", pname(r->proto));
	if (r->src.fam || r->splo) {
		printf(" from ");
		if (r->src.fam)
			put_pfx(&r->src);
		else
			printf("any");
		if (r->splo) {
			printf(" port ");
			put_ports(r->splo, r->sphi);
		}
	}
	if (r->dst.fam || r->dplo) {
		printf(" to ");
		if (r->dst.fam)
			put_pfx(&r->dst);
		else
			printf("any");
		if (r->dplo) {
			printf(" port ");
			put_ports(r->dplo, r->dphi);
		}
	}
	printf("\n");
}

static void nft_rule(const struct rule *r)
{
	const char *ip = r->fam == 4 ? "ip" : "ip6";

	printf("  ");
	if (r->src.fam) {
		printf("%s saddr ", ip);
		put_pfx(&r->src);
		printf(" ");
	}
	if (r->dst.fam) {
		printf("%s daddr ", ip);
		put_pfx(&r->dst);
		printf(" ");
	}
	if (r->proto == P_ICMP)
		printf("meta l4proto %s ", r->fam == 4 ? "icmp" : "icmpv6");
	else if (r->proto && (r->splo || r->dplo))
		printf("meta protocol %s ", r->fam == 4 ? "ip" : "ip6");
	else if (r->proto)
		printf("meta protocol %s meta l4proto %s ",
		       r->fam == 4 ? "ip" : "ip6", pname(r->proto));
	else if (!r->src.fam && !r->dst.fam)
		printf("meta protocol %s ", r->fam == 4 ? "ip" : "ip6");
	if (r->splo) {
		printf("%s sport ", pname(r->proto));
		put_ports(r->splo, r->sphi);
		printf(" ");
	}
	if (r->dplo) {
		printf("%s dport ", pname(r->proto));
		put_ports(r->dplo, r->dphi);
		printf(" ");
	}
	printf("%s\n", r->drop ? "drop" : "accept");
}

static void ipt_rule(const struct rule *r)
{
	printf("-A PREROUTING");
	if (r->src.fam) {
		printf(" -s ");
		put_pfx(&r->src);
	}
	if (r->dst.fam) {
		printf(" -d ");
		put_pfx(&r->dst);
	}
	if (r->proto)
		printf(" -p %s", pname(r->proto));
	if (r->splo) {
		printf(" --sport %d", r->splo);
		if (r->sphi != r->splo)
			printf(":%d", r->sphi);
	}
	if (r->dplo) {
		printf(" --dport %d", r->dplo);
		if (r->dphi != r->dplo)
			printf(":%d", r->dphi);
	}
	printf(" -j %s\n", r->drop ? "DROP" : "ACCEPT");
}

/* nft-set element: saddr . daddr . l4proto . dport, all as intervals */
static void nft_elem(const struct rule *r, int *first)
{
	struct pfx any = { r->fam, 0, { 0 } };
	const struct pfx *s = r->src.fam ? &r->src : &any;
	const struct pfx *d = r->dst.fam ? &r->dst : &any;

	printf("%s\n    ", *first ? "" : ",");
	*first = 0;
	if (!s->plen)
		printf(r->fam == 4 ? "0.0.0.0/0" : "::/0");
	else
		put_pfx(s);
	printf(" . ");
	if (!d->plen)
		printf(r->fam == 4 ? "0.0.0.0/0" : "::/0");
	else
		put_pfx(d);
	if (r->proto == P_ICMP)
		printf(" . %s", r->fam == 4 ? "icmp" : "icmpv6");
	else
		printf(" . %s", r->proto ? pname(r->proto) : "0-255");
	printf(" . ");
	if (r->dplo)
		put_ports(r->dplo, r->dphi);
	else
		printf("0-65535");
}

/* address range of a prefix (or all of the family) as big-endian bytes */
static void pfx_range(const struct pfx *p, int fam, uint8_t *lo, uint8_t *hi)
{
	int i, len = fam == 4 ? 4 : 16, plen = p->fam ? p->plen : 0;

	memset(lo, 0, 16);
	memset(hi, 0, 16);
	for (i = 0; i < len * 8; i++) {
		int bit = p->fam ? (p->a[i / 8] >> (7 - i % 8)) & 1 : 0;

		if (i < plen) {
			lo[i / 8] |= bit << (7 - i % 8);
			hi[i / 8] |= bit << (7 - i % 8);
		} else {
			hi[i / 8] |= 1 << (7 - i % 8);
		}
	}
}

static int range_meet(const uint8_t *alo, const uint8_t *ahi,
		      const uint8_t *blo, const uint8_t *bhi)
{
	return memcmp(alo, bhi, 16) <= 0 && memcmp(blo, ahi, 16) <= 0;
}

/* pipapo (interval + concatenation) rejects overlapping elements: does r
 * overlap q in every field of the verdict-map key? */
static int elem_overlap(const struct rule *r, const struct rule *q)
{
	uint8_t a[4][16], b[4][16];
	int rp0 = r->proto ? r->proto : 0, rp1 = r->proto ? r->proto : 255;
	int qp0 = q->proto ? q->proto : 0, qp1 = q->proto ? q->proto : 255;
	int rd0 = r->dplo ? r->dplo : 0, rd1 = r->dplo ? r->dphi : 65535;
	int qd0 = q->dplo ? q->dplo : 0, qd1 = q->dplo ? q->dphi : 65535;

	if (r->fam != q->fam || rp1 < qp0 || qp1 < rp0 || rd1 < qd0 ||
	    qd1 < rd0)
		return 0;
	pfx_range(&r->src, r->fam, a[0], a[1]);
	pfx_range(&r->dst, r->fam, a[2], a[3]);
	pfx_range(&q->src, q->fam, b[0], b[1]);
	pfx_range(&q->dst, q->fam, b[2], b[3]);
	return range_meet(a[0], a[1], b[0], b[1]) &&
	       range_meet(a[2], a[3], b[2], b[3]);
}

/* N disjoint prefixes: the space (v4: all of it, v6: bits 32..63 under
 * 2001:db8::/32) is cut into 2^k >= N bins; N bins are picked at random,
 * each gets one prefix no shorter than the bin.  Bins that overlap
 * 198.18.0.0/15 are never picked (v4). */
static uint32_t *pick_prefixes(int n, int fam, int **plens)
{
	int k = 0, i, j;
	uint32_t nb, *out;
	uint8_t *used;

	while ((1ULL << k) < (uint64_t)n * 5 / 4 + 16)
		k++;
	nb = 1U << k;
	used = calloc(nb, 1);
	out = calloc(n, sizeof(*out));
	*plens = calloc(n, sizeof(int));
	if (!used || !out || !*plens)
		exit(2);
	if (fam == 4) {
		/* 198.18.0.0/15 */
		uint32_t lo = 0xc6120000u >> (32 - k), hi = 0xc613ffffu >> (32 - k);

		for (uint32_t b = lo; b <= hi; b++)
			used[b] = 1;
	}
	for (i = 0; i < n; i++) {
		uint32_t b;
		int plen;

		do
			b = rnd() & (nb - 1);
		while (used[b]);
		used[b] = 1;
		plen = k + rnd() % (33 - k > 13 ? 13 : 33 - k);
		if (plen > 32)
			plen = 32;
		/* one in four is a host address */
		if (rnd() % 4 == 0)
			plen = 32;
		j = plen;
		out[i] = (b << (32 - k)) | (k < 32 ? rnd() & ((1U << (32 - k)) - 1) : 0);
		if (j < 32)
			out[i] &= ~((1U << (32 - j)) - 1);
		(*plens)[i] = plen;
	}
	free(used);
	return out;
}

static void put_set_elem(uint32_t a, int plen, int fam)
{
	struct pfx p = { fam, 0, { 0 } };

	if (fam == 4) {
		p.plen = plen;
		p.a[0] = a >> 24;
		p.a[1] = a >> 16;
		p.a[2] = a >> 8;
		p.a[3] = a;
	} else {
		p.plen = 32 + plen;
		p.a[0] = 0x20;
		p.a[1] = 0x01;
		p.a[2] = 0x0d;
		p.a[3] = 0xb8;
		p.a[4] = a >> 24;
		p.a[5] = a >> 16;
		p.a[6] = a >> 8;
		p.a[7] = a;
	}
	put_pfx(&p);
}

int main(int argc, char **argv)
{
	const char *fmt;
	int n, i, v4only = 0, variant;
	struct rule r, rf, rv, rl;
	char table[64] = "moatbench", dev[64] = "eth0";

	if (argc < 4) {
		fprintf(stderr, "usage: gen-rules moat|moat-var|nft|nft-set|ipt|set4|set6|keys4|keys6 N SEED [ARG]\n");
		return 1;
	}
	fmt = argv[1];
	n = atoi(argv[2]);
	seed(strtoull(argv[3], NULL, 0));
	if (n < 1)
		return 1;
	if (argc > 4 && strchr(argv[4], ':')) {
		snprintf(table, sizeof(table), "%.*s",
			 (int)(strchr(argv[4], ':') - argv[4]), argv[4]);
		snprintf(dev, sizeof(dev), "%s", strchr(argv[4], ':') + 1);
	}

	if (!strcmp(fmt, "set4") || !strcmp(fmt, "set6") ||
	    !strcmp(fmt, "keys4") || !strcmp(fmt, "keys6")) {
		int fam = fmt[strlen(fmt) - 1] == '4' ? 4 : 6, *plens;
		uint32_t *p = pick_prefixes(n, fam, &plens);

		if (fmt[0] == 's') {
			for (i = 0; i < n; i++) {
				put_set_elem(p[i], plens[i], fam);
				putchar('\n');
			}
		} else {
			int nk = argc > 4 ? atoi(argv[4]) : n;

			for (i = 0; i < nk; i++) {
				int j = rnd() % n, pl = plens[j];
				uint32_t a = p[j];

				if (pl < 32)
					a |= rnd() & ((1U << (32 - pl)) - 1);
				if (fam == 4)
					printf("%u.%u.%u.%u\n", a >> 24,
					       (a >> 16) & 255, (a >> 8) & 255,
					       a & 255);
				else
					printf("2001:db8:%x:%x:%x:%x:%x:%x\n",
					       a >> 16, a & 0xffff,
					       rnd() & 0xffff, rnd() & 0xffff,
					       rnd() & 0xffff, rnd() & 0xffff);
			}
		}
		return 0;
	}

	v4only = !strcmp(fmt, "ipt");
	variant = !strcmp(fmt, "moat-var");
	fixed_rules(&rf, &rv, &rl, variant);

	if (n == 1) {
		if (!strncmp(fmt, "moat", 4))
			printf("# gen-rules 1 rule\npolicy pass\ndrop udp to port 9\n");
		else if (!strcmp(fmt, "ipt"))
			printf("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp --dport 9 -j DROP\nCOMMIT\n");
		else
			printf("table netdev %s {\n chain in {\n  type filter hook ingress device %s priority -500; policy accept;\n  udp dport 9 drop\n }\n}\n",
			       table, dev);
		return 0;
	}

	if (!strncmp(fmt, "moat", 4)) {
		printf("# gen-rules %s %d %s: %d mixed rules\npolicy pass\n",
		       fmt, n, argv[3], n);
		moat_rule(&rf);
		if (n > 2)
			moat_rule(&rv);
		for (i = 3; i < n; i++) {
			rand_rule(&r, 0);
			moat_rule(&r);
		}
		moat_rule(&rl);
	} else if (!strcmp(fmt, "nft")) {
		printf("table netdev %s {\n chain in {\n  type filter hook ingress device %s priority -500; policy accept;\n",
		       table, dev);
		nft_rule(&rf);
		if (n > 2)
			nft_rule(&rv);
		for (i = 3; i < n; i++) {
			rand_rule(&r, 0);
			nft_rule(&r);
		}
		nft_rule(&rl);
		printf(" }\n}\n");
	} else if (!strcmp(fmt, "nft-set")) {
		/* drop elements and accept elements in separate sets would
		 * change first-match order; the idiomatic translation keeps
		 * one verdict map per family (interval + concatenation). */
		int f4 = 1, f6 = 1;
		struct rule *all = calloc(n, sizeof(*all));

		all[0] = rf;
		if (n > 2)
			all[1] = rv;
		for (i = 3; i < n; i++)
			rand_rule(&all[i - 1], 0);
		all[n - 1] = rl;
		/* leave out elements that overlap an earlier one (the kernel
		 * refuses them); counted in a comment */
		{
			int j, dropped = 0;
			char *skip = calloc(n, 1);

			/* the rule the rig's traffic matches stays; what
			 * overlaps it (the "first" rule among them) goes */
			for (i = 0; i < n - 1; i++)
				if (elem_overlap(&all[i], &all[n - 1]))
					skip[i] = 1;
			for (i = 0; i < n - 1; i++) {
				if (skip[i] || all[i].proto == P_GRE || all[i].proto == P_ICMP ||
				    all[i].proto == P_SCTP)
					continue;
				for (j = 0; j < i && !skip[i]; j++)
					if (!skip[j] && all[j].proto != P_GRE &&
					    all[j].proto != P_ICMP &&
					    all[j].proto != P_SCTP &&
					    elem_overlap(&all[i], &all[j]))
						skip[i] = 1;
			}
			for (i = 0, j = 0; i < n; i++)
				if (!skip[i])
					all[j++] = all[i];
				else
					dropped++;
			printf("# %d of %d rules left out: they overlap an earlier element\n",
			       dropped, n);
			n = j;
			free(skip);
		}
		printf("table netdev %s {\n", table);
		printf(" map m4 {\n  type ipv4_addr . ipv4_addr . inet_proto . inet_service : verdict\n  flags interval\n  elements = {");
		for (i = 0; i < n; i++)
			if (all[i].fam == 4 && all[i].proto != P_GRE &&
			    all[i].proto != P_ICMP && all[i].proto != P_SCTP) {
				nft_elem(&all[i], &f4);
				printf(" : %s", all[i].drop ? "drop" : "accept");
			}
		printf("\n  }\n }\n");
		printf(" map m6 {\n  type ipv6_addr . ipv6_addr . inet_proto . inet_service : verdict\n  flags interval\n  elements = {");
		for (i = 0; i < n; i++)
			if (all[i].fam == 6 && all[i].proto != P_GRE &&
			    all[i].proto != P_ICMP && all[i].proto != P_SCTP) {
				nft_elem(&all[i], &f6);
				printf(" : %s", all[i].drop ? "drop" : "accept");
			}
		printf("\n  }\n }\n");
		printf(" chain in {\n  type filter hook ingress device %s priority -500; policy accept;\n",
		       dev);
		/* protocol-only rules (no port field) stay plain rules */
		for (i = 0; i < n; i++)
			if (all[i].proto == P_GRE || all[i].proto == P_ICMP ||
			    all[i].proto == P_SCTP)
				nft_rule(&all[i]);
		printf("  ip saddr . ip daddr . meta l4proto . th dport vmap @m4\n");
		printf("  ip6 saddr . ip6 daddr . meta l4proto . th dport vmap @m6\n");
		printf(" }\n}\n");
		free(all);
	} else if (!strcmp(fmt, "ipt")) {
		printf("*raw\n:PREROUTING ACCEPT [0:0]\n");
		ipt_rule(&rf);
		if (n > 2)
			ipt_rule(&rv);
		for (i = 3; i < n; i++) {
			rand_rule(&r, v4only);
			ipt_rule(&r);
		}
		ipt_rule(&rl);
		printf("COMMIT\n");
	} else {
		fprintf(stderr, "gen-rules: unknown format %s\n", fmt);
		return 1;
	}
	return 0;
}
