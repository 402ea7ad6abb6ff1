// SPDX-License-Identifier: GPL-2.0
/*
 * test_a4.c - IPv4 prefixes longer than /24 in the program (include/moat.h:
 * a /24's longer prefixes in its a4x bucket, or in a4long when they did
 * not fit: MOAT_A4_LENS_HASH) against a straightforward longest-prefix
 * reference.
 *
 * Each case draws /24s holding prefixes /25../32 (nested, overlapping,
 * under covering prefixes of /8../24 or none) and makes one rule per
 * prefix, longest first ("drop"/"pass" alternating, policy pass), so the
 * rule a packet matches is its source's longest prefix.  Sources inside a
 * prefix, just past one's edge, or anywhere in its /24 run through
 * BPF_PROG_TEST_RUN: verdict and the matched rule's counter must be those
 * of a linear scan over the prefixes, and imagesim must agree.
 *
 *   buckets    up to 8 longer prefixes per /24: all in a4x
 *   overflow   /24s with 9..24 of them, and /24s whose bucket another
 *              /24 filled first: those in a4long, the rest in a4x
 *
 *   MOAT_SEED=N  seed (printed)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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
#include "layout.h"
#include "parse.h"
#include "pkt.h"
#include "rulegen.h"

#define MAXPFX 4096
#define NPKT 3000

struct pfx4 {
	uint32_t a; /* host order, masked */
	unsigned int plen;
};

static struct bpfrun R;
static int R_ok;
static uint64_t seed;
static struct pfx4 P[MAXPFX];
static unsigned int np;

static uint32_t mask4(unsigned int plen)
{
	return plen ? 0xffffffffU << (32 - plen) : 0;
}

static void add(uint32_t a, unsigned int plen)
{
	a &= mask4(plen);
	for (unsigned int i = 0; i < np; i++)
		if (P[i].plen == plen && P[i].a == a)
			return;
	if (np < MAXPFX)
		P[np++] = (struct pfx4){ a, plen };
}

/* k prefixes /25../32 in /24 `cell`, a third nested in an earlier one */
static void fill_cell(struct rg_rng *r, uint32_t cell, unsigned int k)
{
	unsigned int first = np;

	while (np - first < k && np < MAXPFX) {
		uint32_t a = cell << 8 | (rg_u32(r) & 0xff);
		unsigned int plen = 25 + rg_n(r, 8);

		if (np > first && rg_n(r, 3) == 0) {
			const struct pfx4 *o = &P[first + rg_n(r, np - first)];

			if (o->plen == 32)
				continue;
			a = o->a | (rg_u32(r) & ~mask4(o->plen));
			plen = o->plen + 1 + rg_n(r, 32 - o->plen);
		}
		add(a, plen);
	}
}

static uint32_t used[512];
static unsigned int nused;

/* a /24 of cells [lo, lo + span) not used yet, and (for the buckets case)
 * whose a4x bucket no used /24 has */
static uint32_t pick_cell(struct rg_rng *r, uint32_t lo, uint32_t span,
			  bool own_bucket)
{
	for (;;) {
		uint32_t c = lo + rg_n(r, span);
		bool ok = true;

		for (unsigned int i = 0; i < nused && ok; i++)
			ok = used[i] != c &&
			     (!own_bucket ||
			      moat_a4x_home(used[i]) != moat_a4x_home(c));
		if (ok) {
			if (nused < 512)
				used[nused++] = c;
			return c;
		}
	}
}

/* a /24 after `from` whose a4x bucket is that of `cell` */
static uint32_t same_bucket(uint32_t cell, uint32_t from)
{
	for (uint32_t c = from + 1; c != from; c = (c + 1) & 0xffffff)
		if (c != cell && moat_a4x_home(c) == moat_a4x_home(cell))
			return c;
	return cell;
}

static void draw(struct rg_rng *r, bool overflow)
{
	uint32_t base = 0x0a000000U | (rg_u32(r) & 0x00ff0000U); /* 10.x/16 */

	np = 0;
	nused = 0;
	add(0x0a000000U, 8);
	add(base, 16);
	for (unsigned int i = 0; i < 200; i++) {
		uint32_t cell = pick_cell(r, base >> 8, 256, !overflow);

		if (rg_n(r, 4) == 0) /* a covering /20 or /24 */
			add(cell << 8, rg_n(r, 2) ? 24 : 20);
		fill_cell(r, cell, 1 + rg_n(r, 8));
	}
	/* far from 10/8, no covering prefix: in 192.0.0.0/16 */
	fill_cell(r, pick_cell(r, 0xc00000U, 256, !overflow), 8);
	if (!overflow)
		return;
	for (unsigned int i = 0; i < 30; i++) /* in 100.0.0.0/8 */
		fill_cell(r, pick_cell(r, 0x640000U, 65536, false),
			  9 + rg_n(r, 16));
	for (unsigned int i = 0; i < 20; i++) { /* a full bucket first */
		uint32_t c1 = pick_cell(r, 0xac1000U, 4096, false);
		uint32_t c2 = same_bucket(c1, c1);

		fill_cell(r, c1, 5 + rg_n(r, 4));
		fill_cell(r, c2, 4);
	}
}

static int by_len_desc(const void *x, const void *y)
{
	const struct pfx4 *a = x, *b = y;

	return (int)b->plen - (int)a->plen;
}

static char *rules_text(void)
{
	size_t cap = 64 + (size_t)np * 48, n;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	n = (size_t)snprintf(t, cap, "policy pass\n");
	for (unsigned int i = 0; i < np; i++) {
		uint32_t a = P[i].a;

		n += (size_t)snprintf(t + n, cap - n, "%s from %u.%u.%u.%u/%u\n",
				      i % 2 ? "pass" : "drop", a >> 24,
				      (a >> 16) & 255, (a >> 8) & 255, a & 255,
				      P[i].plen);
	}
	return t;
}

/* a source: inside a prefix, just past one's edge, or in its /24 */
static uint32_t source(struct rg_rng *r)
{
	const struct pfx4 *p = &P[rg_n(r, np)];
	uint32_t a = p->a | (rg_u32(r) & ~mask4(p->plen));

	switch (rg_n(r, 4)) {
	case 2:
		if (p->plen)
			a ^= 1U << (32 - p->plen);
		break;
	case 3:
		a = (a & 0xffffff00U) | (rg_u32(r) & 0xff);
		break;
	}
	return a;
}

static void run_case(const char *what, bool overflow)
{
	struct moat_diags d = { 0 };
	struct moat_imagesim *sim = NULL;
	struct moat_ruleset rs;
	struct moat_image img;
	unsigned int bad = 0, hits = 0;
	size_t hashed = 0, bucketed = 0;
	struct rg_rng r;
	char *text;
	int err;

	if (!R_ok)
		SKIP("cannot load the program (not root?)");
	rg_seed(&r, seed ^ (uint64_t)overflow << 40);
	draw(&r, overflow);
	qsort(P, np, sizeof(P[0]), by_len_desc);
	text = rules_text();
	if (!text) {
		TEST_FAIL("%s: out of memory", what);
		return;
	}
	err = moat_parse_string("a4.rules", text, NULL, &rs, &d);
	if (!err)
		err = moat_compile(&rs, NULL, &img, &d);
	free(text);
	if (err) {
		moat_diags_print(&d, stdout);
		TEST_FAIL("%s: does not compile: %s", what, strerror(-err));
		moat_diags_free(&d);
		return;
	}
	/* the case reaches the structures it is about */
	if (img.layout) {
		const struct moat_layout *lo = img.layout;

		for (size_t i = 0; i < lo->nlong4; i++) {
			if (moat_a4x_hashed(lo, lo->long4[i].addr))
				hashed++;
			else
				bucketed++;
		}
	}
	printf("# %s: %zu prefixes > /24 in a4x buckets, %zu in a4long\n",
	       what, bucketed, hashed);
	if (!bucketed || (overflow && hashed < 30) || (!overflow && hashed)) {
		TEST_FAIL("%s: layout: %zu in a4x, %zu in a4long", what,
			  bucketed, hashed);
		goto out;
	}
	for (size_t i = 0; i < img.nrules; i++)
		img.rules[i].id = (uint32_t)i;
	err = bpfrun_write(&R, 0, &img, 1);
	if (err) {
		TEST_FAIL("%s: slot write: %s", what, strerror(-err));
		goto out;
	}
	sim = moat_imagesim_new(&img);
	ASSERT_TRUE(sim != NULL);
	for (unsigned int i = 0; i < NPKT && bad < 3; i++) {
		char src[INET_ADDRSTRLEN];
		struct pkt_spec s = { 0 };
		char why[256];
		uint8_t buf[PKT_MAX];
		struct moat_pkt p = { 0 };
		int want = -1;
		uint32_t a = source(&r), an = htonl(a);
		size_t len;

		for (unsigned int j = 0; j < np && want < 0; j++)
			if ((a & mask4(P[j].plen)) == P[j].a)
				want = (int)j;
		inet_ntop(AF_INET, &an, src, sizeof(src));
		s.src = src;
		s.dst = "198.18.0.6";
		s.proto = 17;
		s.sport = 1024;
		s.dport = 9;
		len = pkt_build(&s, buf, NULL);
		p.ethertype = 0x0800;
		p.vlan = MOAT_VLAN_NONE;
		p.proto = 17;
		p.has_l4 = 1;
		memcpy(p.src, &an, 4);
		inet_pton(AF_INET, "198.18.0.6", p.dst);
		p.sport = 1024;
		p.dport = 9;
		if (bpfrun_check_lpm(&R, sim, &p, buf, len, want,
				     want >= 0 ? P[want].plen : 0, why,
				     sizeof(why))) {
			TEST_FAIL("%s: seed %llu source %s: %s", what,
				  (unsigned long long)seed, src, why);
			bad++;
			continue;
		}
		hits += want >= 0 && P[want].plen > 24;
	}
	printf("# %s: %u prefixes, %u of %u sources in a prefix longer than /24\n",
	       what, np, hits, NPKT);
	if (hits < NPKT / 4)
		TEST_FAIL("%s: only %u sources in a prefix longer than /24",
			  what, hits);
out:
	moat_imagesim_free(sim);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

TEST(buckets)
{
	run_case("buckets", false);
}

TEST(overflow)
{
	run_case("overflow", true);
}

int main(void)
{
	const char *e = getenv("MOAT_SEED");
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	printf("# a4 seed %llu (MOAT_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;
	RUN(buckets);
	RUN(overflow);
	bpfrun_close(&R);
	return test_summary("a4");
}
