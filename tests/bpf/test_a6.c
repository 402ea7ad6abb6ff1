// SPDX-License-Identifier: GPL-2.0
/*
 * test_a6.c - IPv6 address lookup of the program (include/moat.h, a6mid:
 * lines of /48s with inline prefixes, a6long, lengths < 48 as lines or in
 * the trie) against a straightforward longest-prefix reference.
 *
 * Each case draws overlapping IPv6 prefixes (nested chains, /0, /128,
 * IPv4-mapped, many lengths up to /48 and above it, dense /48s) and makes
 * one rule per prefix, longest first ("pass"/"drop" alternating, policy
 * pass), so the rule a packet matches is its source's longest prefix.
 * Random sources (inside a prefix, just outside one, anywhere near the
 * prefixes) are run through BPF_PROG_TEST_RUN: verdict and the matched
 * rule's counter must be those of a linear scan over the prefixes, and
 * imagesim must agree.
 *
 *   few_short    up to 8 lengths < 48: probed as a6mid lines
 *   many_short   more than 8 lengths < 48: those in the trie
 *   dense        /48s with more than 8 inline prefixes or 6 long lengths
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

#define NPFX 1200
#define NPKT 3000

struct pfx {
	uint8_t a[16];
	unsigned int plen;
};

static struct bpfrun R;
static int R_ok;
static uint64_t seed;
static struct pfx P[NPFX + 64];
static unsigned int np;

static void mask(uint8_t *a, unsigned int plen)
{
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int keep = plen >= 8 * (i + 1) ? 8 :
				    plen > 8 * i    ? plen - 8 * i :
						      0;

		a[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static bool contains(const struct pfx *p, const uint8_t *a)
{
	uint8_t x[16];

	memcpy(x, a, 16);
	mask(x, p->plen);
	return !memcmp(x, p->a, 16);
}

static void rnd_bytes(struct rg_rng *r, uint8_t *a, unsigned int from)
{
	for (unsigned int i = from; i < 16; i++)
		a[i] = (uint8_t)rg_u32(r);
}

static void add(const uint8_t *a, unsigned int plen)
{
	struct pfx p;

	memcpy(p.a, a, 16);
	p.plen = plen;
	mask(p.a, plen);
	for (unsigned int i = 0; i < np; i++)
		if (P[i].plen == p.plen && !memcmp(P[i].a, p.a, 16))
			return;
	if (np < NPFX + 64)
		P[np++] = p;
}

/* four /32 regions; lengths from short[] (< 48) or 49..128, a third of
 * them nested in an earlier prefix */
static void draw(struct rg_rng *r, const unsigned int *shortl,
		 unsigned int nshort, bool dense)
{
	uint8_t base[4][16], a[16];

	np = 0;
	for (int b = 0; b < 4; b++) {
		rnd_bytes(r, base[b], 0);
		base[b][0] = 0x20;
	}
	memset(a, 0, 16);
	add(a, 0);
	a[10] = a[11] = 0xff; /* IPv4-mapped 192.0.2.7 */
	a[12] = 192, a[13] = 0, a[14] = 2, a[15] = 7;
	add(a, 128);
	while (np < NPFX) {
		unsigned int plen, k = rg_n(r, 10);

		if (np > 8 && rg_n(r, 3) == 0) {
			const struct pfx *o = &P[rg_n(r, np)];

			if (o->plen >= 128)
				continue;
			memcpy(a, o->a, 16);
			rnd_bytes(r, a, o->plen / 8 + (o->plen % 8 != 0));
			plen = o->plen + 1 + rg_n(r, 128 - o->plen);
			if (plen < MOAT_A6_MID) { /* keep to the case's lengths */
				unsigned int c = shortl[rg_n(r, nshort)];

				plen = c > o->plen ? c : 49 + rg_n(r, 16);
			}
		} else {
			memcpy(a, base[rg_n(r, 4)], 4);
			rnd_bytes(r, a, 4);
			plen = k < 3 ? shortl[rg_n(r, nshort)] :
			       k < 8 ? 49 + rg_n(r, 16) :
			       k < 9 ? 65 + rg_n(r, 63) :
				       128;
			if (plen < 32)
				memcpy(a, base[rg_n(r, 4)], 4);
		}
		add(a, plen);
	}
	if (dense) { /* two dense /48s: 10 inline prefixes; 7 long lengths */
		memcpy(a, base[0], 6);
		rnd_bytes(r, a, 6);
		for (unsigned int i = 0; i < 10; i++) {
			a[6] = (uint8_t)(i * 25);
			add(a, 52 + i);
		}
		memcpy(a, base[1], 6);
		rnd_bytes(r, a, 6);
		for (unsigned int i = 0; i < 7; i++)
			add(a, 66 + 9 * i);
		add(a, 48);
	}
}

static int by_len_desc(const void *x, const void *y)
{
	const struct pfx *a = x, *b = y;

	return (int)b->plen - (int)a->plen;
}

static char *rules_text(void)
{
	size_t cap = 64 + (size_t)np * 80, n;
	char *t = malloc(cap), buf[INET6_ADDRSTRLEN];

	if (!t)
		return NULL;
	n = (size_t)snprintf(t, cap, "policy pass\n");
	for (unsigned int i = 0; i < np; i++) {
		inet_ntop(AF_INET6, P[i].a, buf, sizeof(buf));
		n += (size_t)snprintf(t + n, cap - n, "%s from %s/%u\n",
				      i % 2 ? "pass" : "drop", buf, P[i].plen);
	}
	return t;
}

/* a source: inside a prefix, just past one's edge, or near the regions */
static void source(struct rg_rng *r, uint8_t *a)
{
	const struct pfx *p = &P[rg_n(r, np)];
	unsigned int k = rg_n(r, 4);

	memcpy(a, p->a, 16);
	if (p->plen < 128)
		rnd_bytes(r, a, p->plen / 8 + (p->plen % 8 != 0));
	if (p->plen % 8) { /* the host bits of the partial byte */
		unsigned int i = p->plen / 8, keep = p->plen % 8;

		a[i] = (uint8_t)((p->a[i] & (0xff00 >> keep)) |
				 (rg_u32(r) & (0xff >> keep)));
	}
	if (k == 2 && p->plen) /* flip the prefix's last bit */
		a[(p->plen - 1) / 8] ^= (uint8_t)(0x80 >> ((p->plen - 1) % 8));
	if (k == 3)
		rnd_bytes(r, a, 2 + rg_n(r, 14));
}

static void run_case(const char *what, const unsigned int *shortl,
		     unsigned int nshort, bool dense)
{
	struct moat_diags d = { 0 };
	struct moat_imagesim *sim = NULL;
	struct moat_ruleset rs;
	struct moat_image img;
	unsigned int bad = 0, hits = 0;
	struct rg_rng r;
	char *text;
	int err;

	if (!R_ok)
		SKIP("cannot load the program (not root?)");
	rg_seed(&r, seed ^ (uint64_t)nshort << 32 ^ dense);
	draw(&r, shortl, nshort, dense);
	qsort(P, np, sizeof(P[0]), by_len_desc);
	text = rules_text();
	if (!text) {
		TEST_FAIL("%s: out of memory", what);
		return;
	}
	err = moat_parse_string("a6.rules", text, NULL, &rs, &d);
	if (!err)
		err = moat_compile(&rs, NULL, &img, &d);
	free(text);
	if (err) {
		moat_diags_print(&d, stdout);
		TEST_FAIL("%s: does not compile: %s", what, strerror(-err));
		moat_diags_free(&d);
		return;
	}
	/* the case reaches the structure it is about */
	if (img.layout) {
		const struct moat_layout *lo = img.layout;
		size_t ndense = 0;

		for (size_t i = 0; i < lo->nmid6; i++)
			ndense += lo->mid6[i].n == MOAT_A6_DENSE;
		if ((lo->a6short == MOAT_A6_SHORT_TRIE) != (nshort > 8) ||
		    (dense && ndense < 2)) {
			TEST_FAIL("%s: layout: a6short %#llx, %zu dense /48s",
				  what, (unsigned long long)lo->a6short,
				  ndense);
			goto out;
		}
		printf("# %s: %zu a6mid lines (%zu dense), 2^%u in use, %zu in a6long, %zu in the trie\n",
		       what, lo->nmid6, ndense, lo->a6bits, lo->nlong6,
		       lo->nshort6);
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
		char src[INET6_ADDRSTRLEN];
		struct pkt_spec s = { 0 };
		char why[256];
		uint8_t buf[PKT_MAX], a[16];
		struct moat_pkt p = { 0 };
		int want = -1;
		size_t len;

		source(&r, a);
		for (unsigned int j = 0; j < np && want < 0; j++)
			if (contains(&P[j], a))
				want = (int)j;
		inet_ntop(AF_INET6, a, src, sizeof(src));
		s.src = src;
		s.dst = "fd00::6";
		s.proto = 17;
		s.sport = 1024;
		s.dport = 9;
		len = pkt_build(&s, buf, NULL);
		p.ethertype = 0x86dd;
		p.vlan = MOAT_VLAN_NONE;
		p.proto = 17;
		p.has_l4 = 1;
		memcpy(p.src, a, 16);
		inet_pton(AF_INET6, "fd00::6", p.dst);
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
		hits += want >= 0 && P[want].plen > 0;
	}
	printf("# %s: %u prefixes, %u of %u sources in a prefix longer than /0\n",
	       what, np, hits, NPKT);
out:
	moat_imagesim_free(sim);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

TEST(few_short)
{
	static const unsigned int s[] = { 12, 16, 24, 32, 40, 44, 47, 48 };

	run_case("few_short", s, 8, false);
}

TEST(many_short)
{
	static const unsigned int s[] = { 3,  8,  11, 16, 19, 23, 29, 32,
					  33, 36, 40, 41, 45, 46, 47, 48 };

	run_case("many_short", s, 16, false);
}

TEST(dense)
{
	static const unsigned int s[] = { 16, 32, 48 };

	run_case("dense", s, 3, true);
}

int main(void)
{
	const char *e = getenv("MOAT_SEED");
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	printf("# a6 seed %llu (MOAT_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;
	RUN(few_short);
	RUN(many_short);
	RUN(dense);
	bpfrun_close(&R);
	return test_summary("a6");
}
