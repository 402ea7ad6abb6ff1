// SPDX-License-Identifier: GPL-2.0
/*
 * test_setcache.c - the cache of big sets across runs (ctl/setcache.c and
 * its users in parse.c and compile.c): a build served from the cache is
 * identical to a fresh one (image, hash and kernel layout, field by
 * field), and a set file whose content changed - same size, same or
 * touched timestamps - or a damaged cache entry gives the fresh result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "layout.h"
#include "parse.h"
#include "setcache.h"
#include "test.h"

static char dir[256], cachedir[300], setpath[300], rulepath[300];

static uint64_t rnd_state = 0x1234567;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 2685821657736338717ULL) >> 32);
}

/* a set file: IPv4 prefixes of every length (some nested, some longer
 * than /24) and a few IPv6 ones, some shorter than /48; line 1 is
 * "10.1.2.0/24" */
static void write_set(const char *path)
{
	FILE *f = fopen(path, "w");

	fprintf(f, "10.1.2.0/24\n# a comment\n10.0.0.0/8\n");
	for (int i = 0; i < 3000; i++) {
		unsigned int plen = 8 + rnd() % 25;
		uint32_t a = rnd() & (plen ? ~0U << (32 - plen) : 0);

		fprintf(f, "%u.%u.%u.%u/%u\n", a >> 24, (a >> 16) & 255,
			(a >> 8) & 255, a & 255, plen);
	}
	for (int i = 0; i < 40; i++)
		fprintf(f, "2001:db8:%x:%x::/%u\n", rnd() & 0xffff,
			rnd() & 0xffff, 64 + rnd() % 17);
	/* IPv6 lengths < 48 and a /16 (a6short, a6top) */
	fprintf(f, "2001:db8:ab00::/40\n3ffe::/16\n2001:db8::/33\n");
	fclose(f);
}

static void write_rules(const char *path)
{
	FILE *f = fopen(path, "w");

	fprintf(f, "policy drop\n"
		   "set big file \"big.txt\"\n"
		   "set small { 192.0.2.0/24, 10.1.2.128/25 }\n"
		   "drop from @big to any port 22\n"
		   "pass from 10.1.0.0/16 to @big\n"
		   "pass tcp from @small to port { 80, 443 }\n"
		   "pass udp to 198.51.100.7 port 53\n");
	fclose(f);
}

struct build {
	struct moat_ruleset rs;
	struct moat_image img;
	int err;
};

static void build(struct build *b, bool cache)
{
	struct moat_diags d = {};
	struct moat_compile_opts o = {};

	setenv("MOAT_CACHE_DIR", cache ? cachedir : "off", 1);
	memset(b, 0, sizeof(*b));
	b->err = moat_parse_file(rulepath, &b->rs, &d);
	if (!b->err)
		b->err = moat_compile(&b->rs, &o, &b->img, &d);
	moat_diags_free(&d);
}

static void build_free(struct build *b)
{
	moat_image_free(&b->img);
	moat_ruleset_free(&b->rs);
}

static bool same(const void *x, const void *y, size_t n)
{
	return !n || !memcmp(x, y, n);
}

/* "" when a and b are the same build, else what differs */
static const char *diff(const struct build *a, const struct build *b)
{
	const struct moat_image *x = &a->img, *y = &b->img;
	const struct moat_layout *p = x->layout, *q = y->layout;

	if (a->err || b->err)
		return "a build failed";
	if (x->hash != y->hash)
		return "hash";
	if (memcmp(&x->info, &y->info, sizeof(x->info)))
		return "gen_info";
	if (x->nrules != y->nrules || x->ncls != y->ncls ||
	    x->nlpm4 != y->nlpm4 || x->nlpm6 != y->nlpm6 ||
	    x->naddr_classes != y->naddr_classes ||
	    x->nport_classes != y->nport_classes ||
	    x->nflag_classes != y->nflag_classes)
		return "counts";
	if (!same(x->rules, y->rules, x->nrules * sizeof(*x->rules)))
		return "rules";
	for (size_t i = 0; i < x->ncls; i++)
		if (memcmp(&x->cls[i].key, &y->cls[i].key,
			   sizeof(x->cls[i].key)) ||
		    x->cls[i].val.pos != y->cls[i].val.pos)
			return "classifier entries";
	for (size_t i = 0; i < x->nlpm4; i++)
		if (memcmp(&x->lpm4[i].key, &y->lpm4[i].key,
			   sizeof(x->lpm4[i].key)) ||
		    x->lpm4[i].cls != y->lpm4[i].cls)
			return "lpm4";
	for (size_t i = 0; i < x->nlpm6; i++)
		if (memcmp(&x->lpm6[i].key, &y->lpm6[i].key,
			   sizeof(x->lpm6[i].key)) ||
		    x->lpm6[i].cls != y->lpm6[i].cls)
			return "lpm6";
	if (memcmp(x->l4cls, y->l4cls, sizeof(x->l4cls)))
		return "l4cls";
	if (!p || !q)
		return "no layout";
	if (memcmp(&p->info, &q->info, sizeof(p->info)) || p->ahash != q->ahash)
		return "layout info/ahash";
	if (p->naddr != q->naddr || !same(p->smask, q->smask, p->naddr * 8) ||
	    !same(p->dmask, q->dmask, p->naddr * 8))
		return "address masks";
	for (int k = 0; k < 3; k++)
		if (memcmp(p->pmask[k], q->pmask[k], 65536 * 8))
			return "port/flag masks";
	if (p->nleaves != q->nleaves ||
	    !same(p->leaves, q->leaves, p->nleaves * sizeof(*p->leaves)))
		return "leaves";
	if (!p->a4 != !q->a4 || memcmp(p->a4top, q->a4top, sizeof(p->a4top)))
		return "a4top";
	if (p->a4 && memcmp(p->a4, q->a4, MOAT_A4_CELLS * sizeof(*p->a4)))
		return "a4 cells";
	if (p->nlong4 != q->nlong4)
		return "long4 count";
	for (size_t i = 0; i < p->nlong4; i++)
		if (p->long4[i].addr != q->long4[i].addr ||
		    p->long4[i].plen != q->long4[i].plen ||
		    p->long4[i].leaf != q->long4[i].leaf)
			return "long4";
	{
		const struct moat_union6 *u[3][2] = {
			{ p->u6, q->u6 }, { p->short6, q->short6 },
			{ p->long6, q->long6 }
		};
		size_t n[3][2] = { { p->nu6, q->nu6 },
				   { p->nshort6, q->nshort6 },
				   { p->nlong6, q->nlong6 } };

		for (int k = 0; k < 3; k++) {
			if (n[k][0] != n[k][1])
				return "u6/short6/long6 count";
			for (size_t i = 0; i < n[k][0]; i++)
				if (memcmp(u[k][0][i].addr, u[k][1][i].addr,
					   16) ||
				    u[k][0][i].plen != u[k][1][i].plen ||
				    u[k][0][i].leaf != u[k][1][i].leaf)
					return "u6/short6/long6";
		}
	}
	if (p->nmid6 != q->nmid6)
		return "mid6 count";
	for (size_t i = 0; i < p->nmid6; i++)
		if (memcmp(&p->mid6[i], &q->mid6[i], sizeof(p->mid6[i])))
			return "mid6";
	if (memcmp(p->a6top, q->a6top, sizeof(p->a6top)))
		return "a6top";
	if (p->a6short != q->a6short || p->a6bits != q->a6bits)
		return "a6short/a6bits";
	return "";
}

/* a fresh and a cached build of the files as they are now agree */
static bool fresh_equals_cached(const char **why)
{
	struct build f, c;
	bool same;

	build(&f, false);
	build(&c, true);
	*why = diff(&f, &c);
	same = !**why;
	build_free(&f);
	build_free(&c);
	return same;
}

static uint64_t hash_now(bool cache)
{
	struct build b;
	uint64_t h;

	build(&b, cache);
	h = b.err ? 0 : b.img.hash;
	build_free(&b);
	return h;
}

/* replace the first occurrence of from by to (same length) in path,
 * keeping the file's timestamps */
static void edit_same_size(const char *path, const char *from, const char *to)
{
	struct stat st;
	struct timespec ts[2];
	char buf[1 << 17];
	ssize_t n;
	char *hit;
	int fd = open(path, O_RDWR);

	fstat(fd, &st);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	hit = strstr(buf, from);
	if (hit)
		pwrite(fd, to, strlen(to), hit - buf);
	close(fd);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	utimensat(AT_FDCWD, path, ts, 0);
}

TEST(cached_build_equals_fresh)
{
	struct moat_cache_stats s0 = moat_cache_stats;
	const char *why;

	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	/* the first cached build missed and stored: the set file, the
	 * address part and the set's share of the hash */
	ASSERT_TRUE(moat_cache_stats.stores >= s0.stores + 3);
	s0 = moat_cache_stats;
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	ASSERT_TRUE(moat_cache_stats.hits >= s0.hits + 3);
	ASSERT_EQ(moat_cache_stats.stores, s0.stores);
}

TEST(same_size_new_content_invalidates)
{
	uint64_t before = hash_now(true);
	struct moat_cache_stats s0;
	const char *why;

	ASSERT_NE(before, 0);
	/* same length, same timestamps, one prefix different */
	edit_same_size(setpath, "10.1.2.0/24", "10.1.3.0/24");
	s0 = moat_cache_stats;
	ASSERT_NE(hash_now(true), before);
	ASSERT_TRUE(moat_cache_stats.stores > s0.stores); /* rebuilt */
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	edit_same_size(setpath, "10.1.3.0/24", "10.1.2.0/24");
	ASSERT_EQ(hash_now(true), before);
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
}

TEST(touched_mtime)
{
	const char *why;
	uint64_t before = hash_now(true);

	/* touched with the same content: the content decides, and the
	 * result is still that of a fresh build */
	ASSERT_EQ(utimensat(AT_FDCWD, setpath, NULL, 0), 0);
	ASSERT_EQ(hash_now(true), before);
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	/* new content, then touched: the new content counts */
	edit_same_size(setpath, "10.1.2.0/24", "10.1.5.0/24");
	ASSERT_EQ(utimensat(AT_FDCWD, setpath, NULL, 0), 0);
	ASSERT_NE(hash_now(true), before);
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	edit_same_size(setpath, "10.1.5.0/24", "10.1.2.0/24");
	ASSERT_EQ(hash_now(true), before);
}

TEST(changed_elements_without_file_change)
{
	/* what a live set change does: the parsed elements differ from the
	 * file's; the address part must not come from the file's entry */
	struct moat_diags d = {};
	struct moat_compile_opts o = {};
	struct build f, c;
	const char *why;

	build(&f, true); /* the file's entry is in the cache */
	build_free(&f);
	for (int k = 0; k < 2; k++) {
		struct build *b = k ? &c : &f;

		setenv("MOAT_CACHE_DIR", k ? cachedir : "off", 1);
		memset(b, 0, sizeof(*b));
		ASSERT_EQ(moat_parse_file(rulepath, &b->rs, &d), 0);
		ASSERT_TRUE(b->rs.sets[0].n > 100);
		b->rs.sets[0].elems[5] = b->rs.sets[0].elems[6];
		b->rs.sets[0].n--;
		b->err = moat_compile(&b->rs, &o, &b->img, &d);
	}
	why = diff(&f, &c);
	if (*why)
		printf("# %s\n", why);
	ASSERT_TRUE(!*why);
	build_free(&f);
	build_free(&c);
	moat_diags_free(&d);
}

/* flip one byte in the middle of every cache entry (not the secret) */
static int damage_entries(void)
{
	char cmd[800];

	snprintf(cmd, sizeof(cmd),
		 "for f in %s/*-*; do s=$(stat -c %%s \"$f\"); printf '\\377' "
		 "| dd of=\"$f\" bs=1 seek=$((s / 2)) conv=notrunc "
		 "status=none; done",
		 cachedir);
	return system(cmd);
}

TEST(damaged_entry_is_a_miss)
{
	struct moat_cache_stats s0;
	const char *why;

	hash_now(true); /* entries present */
	ASSERT_EQ(damage_entries(), 0);
	s0 = moat_cache_stats;
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	ASSERT_EQ(moat_cache_stats.hits, s0.hits); /* all rejected */
	ASSERT_TRUE(moat_cache_stats.stores > s0.stores);
}

TEST(small_sets_are_not_cached)
{
	struct moat_cache_stats s0 = moat_cache_stats;
	size_t min = moat_cache_min_elems;
	const char *why;

	moat_cache_min_elems = 1000000;
	ASSERT_TRUE(fresh_equals_cached(&why) || !printf("# %s\n", why));
	moat_cache_min_elems = min;
	ASSERT_EQ(moat_cache_stats.hits, s0.hits);
	ASSERT_EQ(moat_cache_stats.stores, s0.stores);
}

int main(void)
{
	char cmd[400];
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/moat-setcache.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(cachedir, sizeof(cachedir), "%s/cache", dir);
	snprintf(setpath, sizeof(setpath), "%s/big.txt", dir);
	snprintf(rulepath, sizeof(rulepath), "%s/t.rules", dir);
	write_set(setpath);
	write_rules(rulepath);
	moat_cache_min_elems = 100;

	RUN(cached_build_equals_fresh);
	RUN(same_size_new_content_invalidates);
	RUN(touched_mtime);
	RUN(changed_elements_without_file_change);
	RUN(damaged_entry_is_a_miss);
	RUN(small_sets_are_not_cached);

	rc = test_summary("setcache");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return rc;
}
