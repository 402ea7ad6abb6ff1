// SPDX-License-Identifier: GPL-2.0
/*
 * progrun - per-packet cost of the moat XDP program with BPF_PROG_TEST_RUN.
 *
 *   progrun [-r REPEAT] [-R ROUNDS] [-k NKEYS] -d OBJDIR floor
 *   progrun [-r REPEAT] [-R ROUNDS] [-k NKEYS] [-S] -d OBJDIR NAME KIND FILE [KEYS]
 *
 * floor: the bare XDP_DROP program (OBJDIR/xdp_drop.bpf.o).
 * NAME KIND FILE: the real pipeline, as `moat apply` runs it without the
 * attach: moat_parse_file -> moat_compile -> moat_slot_write ->
 * moat_slot_activate on the program and maps of the skeleton.  KIND:
 *   rules  packets first (198.18.200.1), last (198.18.0.5), policy (port 10)
 *   set4   first = a source inside the set (first line of KEYS)
 *   set6   the same in IPv6: fd00::5 -> fd00::6 port 9
 * and for every kind "random": the source address changes on every run
 * (NKEYS pseudo-random addresses; IPv6 ones inside 2001:db8::/32), and for
 * set kinds "random_hit": every source is inside the set (lines of KEYS).
 * Varying packets go through OBJDIR/vary.bpf.o, which rewrites the source
 * and tail-calls the program; its cost (measured by tail-calling the bare
 * XDP_DROP program with the same keys) is subtracted and the floor added.
 *
 * -S: FILE is also loaded as a shadow candidate (slot 1, config mode
 * SHADOW), so every packet is classified twice: the cost of `apply --shadow`.
 *
 * -T SETFILE (set4, set6): the baseline, in the same run: a plain BPF LPM
 * trie holding SETFILE's prefixes (OBJDIR/trie4.bpf.o or trie6.bpf.o:
 * source address lookup, nothing else), timed with the "last" packet (a
 * fixed source outside
 * the set: "trie_last") and the same random keys: "trie_random" and
 * "trie_random_hit".  Its like-for-like counterpart: moat's own source
 * address lookup alone (OBJDIR/lookup.bpf.o, xdp/classify.h on the maps
 * just written), "lookup_last", "lookup_random", "lookup_random_hit".
 *
 * Output: one JSON object per line:
 *   {"name":..,"packet":..,"ns":..,"verdict":..,"load_s":..}
 * ns = median over ROUNDS of (wall time of one test run call / REPEAT).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "moat.skel.h"
#include "compile.h"
#include "diag.h"
#include "mapwrite.h"
#include "parse.h"

static unsigned int repeat = 1000000, rounds = 3, nkeys = 1 << 16;
static int shadow; /* -S: the same rule set also as a shadow candidate */
static const char *triefile; /* -T: baseline trie of these prefixes */
static const char *objdir = "build/bench";

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, ap) : 0;
}

static uint16_t csum16(const void *b, int len)
{
	const uint16_t *p = b;
	uint32_t s = 0;

	for (; len > 1; len -= 2)
		s += *p++;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* 60-byte Eth/IPv4/UDP frame (64 on the wire), or 66-byte Eth/IPv6/UDP */
static size_t build(uint8_t *p, int v6, const char *src, const char *dst,
		    int dport)
{
	size_t l3, len;
	uint8_t *u;

	memset(p, 0, 128);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (!v6) {
		len = 60;
		p[12] = 0x08;
		l3 = 14;
		p[l3] = 0x45;
		p[l3 + 2] = 0;
		p[l3 + 3] = len - 14;
		p[l3 + 8] = 64;
		p[l3 + 9] = 17;
		if (inet_pton(AF_INET, src, p + l3 + 12) != 1 ||
		    inet_pton(AF_INET, dst, p + l3 + 16) != 1)
			return 0;
		*(uint16_t *)(p + l3 + 10) = csum16(p + l3, 20);
		u = p + l3 + 20;
	} else {
		len = 66;
		p[12] = 0x86;
		p[13] = 0xdd;
		l3 = 14;
		p[l3] = 0x60;
		p[l3 + 5] = len - 54;
		p[l3 + 6] = 17;
		p[l3 + 7] = 64;
		if (inet_pton(AF_INET6, src, p + l3 + 8) != 1 ||
		    inet_pton(AF_INET6, dst, p + l3 + 24) != 1)
			return 0;
		u = p + l3 + 40;
	}
	u[0] = 1024 >> 8;
	u[1] = 1024 & 255;
	u[2] = dport >> 8;
	u[3] = dport & 255;
	u[5] = len - (u - p);
	return len;
}

/* median over rounds of ns per run; *verdict gets the XDP return code */
static double timed(int fd, const uint8_t *pkt, size_t len, unsigned int rep,
		    int *verdict)
{
	double v[16], t0, t;
	unsigned int r, i, j;
	uint8_t buf[256];

	for (r = 0; r < rounds && r < 16; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o);

		memcpy(buf, pkt, len);
		o.data_in = buf;
		o.data_size_in = len;
		o.repeat = rep;
		t0 = now();
		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "progrun: test run: %s\n",
				strerror(errno));
			exit(2);
		}
		t = (now() - t0) * 1e9 / rep;
		if (verdict)
			*verdict = o.retval;
		for (i = r; i > 0 && v[i - 1] > t; i--)
			v[i] = v[i - 1];
		v[i] = t;
	}
	j = r;
	return j % 2 ? v[j / 2] : (v[j / 2 - 1] + v[j / 2]) / 2;
}

static struct bpf_object *open_obj(const char *name)
{
	char path[512];
	struct bpf_object *o;

	snprintf(path, sizeof(path), "%s/%s", objdir, name);
	o = bpf_object__open_file(path, NULL);
	if (!o) {
		fprintf(stderr, "progrun: open %s: %s\n", path,
			strerror(errno));
		exit(2);
	}
	return o;
}

static int floor_fd(void)
{
	static int fd = -1;
	struct bpf_object *o;

	if (fd >= 0)
		return fd;
	o = open_obj("xdp_drop.bpf.o");
	if (bpf_object__load(o)) {
		fprintf(stderr, "progrun: load xdp_drop: %s\n", strerror(errno));
		exit(2);
	}
	fd = bpf_program__fd(bpf_object__find_program_by_name(o, "xdp_drop"));
	return fd;
}

/* vary wrapper with keys loaded, tail-calling target */
struct vary {
	struct bpf_object *o;
	int fd, jmp;
};

static void vary_open(struct vary *v, const uint8_t (*keys)[16], uint32_t n)
{
	struct bpf_map *km;
	uint32_t i;

	v->o = open_obj("vary.bpf.o");
	km = bpf_object__find_map_by_name(v->o, "keys");
	bpf_map__set_max_entries(km, n);
	if (bpf_object__load(v->o)) {
		fprintf(stderr, "progrun: load vary: %s\n", strerror(errno));
		exit(2);
	}
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(bpf_map__fd(km), &i, keys[i], 0)) {
			fprintf(stderr, "progrun: keys: %s\n", strerror(errno));
			exit(2);
		}
	v->fd = bpf_program__fd(bpf_object__find_program_by_name(v->o, "vary"));
	v->jmp = bpf_object__find_map_fd_by_name(v->o, "jmp");
}

static double vary_run(struct vary *v, int target, const uint8_t *pkt,
		       size_t len, int *verdict)
{
	uint32_t k = 0;

	if (bpf_map_update_elem(v->jmp, &k, &target, 0)) {
		fprintf(stderr, "progrun: tail call target: %s\n",
			strerror(errno));
		exit(2);
	}
	return timed(v->fd, pkt, len, repeat, verdict);
}

static uint64_t xs = 0x2545f4914f6cdd1dULL;
static uint32_t xrnd(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return (uint32_t)(xs >> 11);
}

static int stats_fd = -1;
static void dbg_stats(void)
{
	struct moat_counter v[64];
	uint32_t i;
	int c, ncpu = libbpf_num_possible_cpus();

	if (!getenv("PROGRUN_DEBUG"))
		return;
	for (i = 0; i < MOAT_STAT_MAX; i++) {
		uint64_t p = 0;

		if (bpf_map_lookup_elem(stats_fd, &i, v))
			return;
		for (c = 0; c < ncpu; c++)
			p += v[c].packets;
		if (p)
			fprintf(stderr, "  %s=%llu", moat_stat_names[i],
				(unsigned long long)p);
	}
	fprintf(stderr, "\n");
}

static void out(const char *name, const char *pkt, double ns, int verdict,
		double load)
{
	dbg_stats();
	printf("{\"name\":\"%s\",\"packet\":\"%s\",\"ns\":%.2f,\"verdict\":%d,\"load_s\":%.3f}\n",
	       name, pkt, ns, verdict, load);
	fflush(stdout);
}

static uint8_t (*read_keys(const char *path, int v6, uint32_t *n))[16]
{
	uint8_t (*k)[16] = calloc(nkeys, 16);
	char line[128];
	FILE *f = fopen(path, "r");
	uint32_t i = 0;

	if (!f || !k) {
		fprintf(stderr, "progrun: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (i < nkeys && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n/")] = 0;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, line, k[i]) == 1)
			i++;
	}
	fclose(f);
	*n = i;
	return k;
}

/* the baseline: trie4.bpf.o or trie6.bpf.o with the prefixes of path (one
 * a line) */
static int trie_open(const char *path, int v6, struct bpf_object **obj)
{
	struct { __u32 plen; uint8_t a[16]; } k;
	unsigned int max = v6 ? 128 : 32;
	char line[128], *sl;
	uint32_t one = 1;
	FILE *f;
	int mfd;

	*obj = open_obj(v6 ? "trie6.bpf.o" : "trie4.bpf.o");
	if (bpf_object__load(*obj)) {
		fprintf(stderr, "progrun: load trie: %s\n", strerror(errno));
		exit(2);
	}
	mfd = bpf_object__find_map_fd_by_name(*obj, "trie");
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "progrun: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		sl = strchr(line, '/');
		k.plen = max;
		if (sl) {
			*sl = 0;
			k.plen = strtoul(sl + 1, NULL, 10);
		}
		if (inet_pton(v6 ? AF_INET6 : AF_INET, line, k.a) != 1 ||
		    k.plen > max)
			continue;
		if (bpf_map_update_elem(mfd, &k, &one, BPF_ANY)) {
			fprintf(stderr, "progrun: trie: %s\n", strerror(errno));
			exit(2);
		}
	}
	fclose(f);
	return bpf_program__fd(bpf_object__find_program_by_name(*obj, "trie_src"));
}

/* moat's address lookup alone (lookup.bpf.o) on the maps of moat's
 * object: every map of the lookup program is moat's, by name */
static int lookup_open(struct bpf_object *moat, struct bpf_object **obj)
{
	struct bpf_map *m;

	*obj = open_obj("lookup.bpf.o");
	bpf_object__for_each_map(m, *obj) {
		struct bpf_map *mm;

		if (bpf_map__is_internal(m))
			continue;
		mm = bpf_object__find_map_by_name(moat, bpf_map__name(m));
		if (!mm || bpf_map__reuse_fd(m, bpf_map__fd(mm))) {
			fprintf(stderr, "progrun: lookup: map %s\n",
				bpf_map__name(m));
			exit(2);
		}
	}
	if (bpf_object__load(*obj)) {
		fprintf(stderr, "progrun: load lookup: %s\n", strerror(errno));
		exit(2);
	}
	return bpf_program__fd(
		bpf_object__find_program_by_name(*obj, "lookup_src"));
}

int main(int argc, char **argv)
{
	const char *name, *kind, *file, *keyfile = NULL;
	struct moat_ruleset rs = { 0 };
	struct moat_diags diags = { 0 };
	struct moat_image img = { 0 };
	struct moat_map_fds fds;
	struct moat_bpf *s;
	uint8_t pkt[3][128], (*keys)[16];
	const char *dst, *last_src;
	char first_src[64];
	size_t len[3];
	struct bpf_object *tobj = NULL, *lobj = NULL;
	struct vary vr;
	int tfd = -1, lfd = -1;
	double t0, load, fl, base, ns;
	int c, v6, fd, verdict, i, err;
	uint32_t n;

	while ((c = getopt(argc, argv, "r:R:k:d:ST:")) != -1) {
		switch (c) {
		case 'S': shadow = 1; break;
		case 'T': triefile = optarg; break;
		case 'r': repeat = strtoul(optarg, NULL, 0); break;
		case 'R': rounds = strtoul(optarg, NULL, 0); break;
		case 'k': nkeys = strtoul(optarg, NULL, 0); break;
		case 'd': objdir = optarg; break;
		default: return 1;
		}
	}
	libbpf_set_print(quiet);
	if (optind < argc && !strcmp(argv[optind], "floor")) {
		build(pkt[0], 0, "198.18.0.5", "198.18.0.6", 9);
		fl = timed(floor_fd(), pkt[0], 60, repeat, &verdict);
		out("xdp_drop", "any", fl, verdict, 0);
		return 0;
	}
	if (argc - optind < 3) {
		fprintf(stderr, "usage: progrun [-r N] [-R N] [-k N] [-d DIR] [-S] [-T SETFILE] floor | NAME rules|set4|set6 FILE [KEYS]\n");
		return 1;
	}
	name = argv[optind];
	kind = argv[optind + 1];
	file = argv[optind + 2];
	if (argc - optind > 3)
		keyfile = argv[optind + 3];
	v6 = !strcmp(kind, "set6");
	if (strcmp(kind, "rules") && !keyfile) {
		fprintf(stderr, "progrun: %s needs a key file\n", kind);
		return 1;
	}

	/* the real pipeline */
	t0 = now();
	s = moat_bpf__open_and_load();
	if (!s) {
		fprintf(stderr, "progrun: load moat: %s\n", strerror(errno));
		return 2;
	}
	if (moat_map_fds_from_obj(s->obj, &fds)) {
		fprintf(stderr, "progrun: moat maps missing\n");
		return 2;
	}
	err = moat_parse_file(file, &rs, &diags);
	if (!err)
		err = moat_compile(&rs, NULL, &img, &diags);
	if (err) {
		moat_diags_print(&diags, stderr);
		fprintf(stderr, "progrun: %s: %s\n", file, strerror(-err));
		return 2;
	}
	err = moat_slot_write(&fds, 0, &img);
	if (!err)
		err = moat_slot_activate(&fds, 0);
	if (!err && shadow) {
		/* every packet classified twice: slot 1 is the shadow */
		struct moat_config cfg = { .slot = 0, .cand = 1,
					   .mode = MOAT_CAND_SHADOW };
		__u32 zero = 0;

		err = moat_slot_write(&fds, 1, &img);
		if (!err && bpf_map_update_elem(fds.config, &zero, &cfg, BPF_ANY))
			err = -errno;
	}
	if (err) {
		fprintf(stderr, "progrun: slot write: %s\n", strerror(-err));
		return 2;
	}
	load = now() - t0;
	stats_fd = fds.stats;
	fd = bpf_program__fd(s->progs.moat_xdp);

	/* fixed packets */
	dst = v6 ? "fd00::6" : "198.18.0.6";
	last_src = v6 ? "fd00::5" : "198.18.0.5";
	snprintf(first_src, sizeof(first_src), "198.18.200.1");
	if (keyfile) {
		FILE *f = fopen(keyfile, "r");

		if (!f || !fgets(first_src, sizeof(first_src), f)) {
			fprintf(stderr, "progrun: %s: no keys\n", keyfile);
			return 2;
		}
		first_src[strcspn(first_src, "\n")] = 0;
		fclose(f);
	}
	len[0] = build(pkt[0], v6, first_src, dst, 9);
	len[1] = build(pkt[1], v6, last_src, dst, 9);
	len[2] = build(pkt[2], v6, last_src, dst, 10);
	if (!len[0] || !len[1] || !len[2]) {
		fprintf(stderr, "progrun: bad address\n");
		return 2;
	}
	for (i = 0; i < 3; i++) {
		double ns = timed(fd, pkt[i], len[i], repeat, &verdict);

		out(name, i == 0 ? "first" : i == 1 ? "last" : "policy", ns,
		    verdict, load);
	}
	fl = timed(floor_fd(), pkt[1], len[1], repeat, NULL);

	/* random sources: the wrapper's cost is subtracted, the floor added */
	keys = calloc(nkeys, 16);
	for (n = 0; n < nkeys; n++) {
		if (v6) {
			memcpy(keys[n], "\x20\x01\x0d\xb8", 4);
			for (i = 4; i < 16; i += 4) {
				uint32_t r = xrnd();

				memcpy(keys[n] + i, &r, 4);
			}
		} else {
			uint32_t r = xrnd();

			memcpy(keys[n], &r, 4);
		}
	}
	if (triefile) {
		tfd = trie_open(triefile, v6, &tobj);
		ns = timed(tfd, pkt[1], len[1], repeat, &verdict);
		out(name, "trie_last", ns, verdict, 0);
		lfd = lookup_open(s->obj, &lobj);
		ns = timed(lfd, pkt[1], len[1], repeat, &verdict);
		out(name, "lookup_last", ns, verdict, 0);
	}
	vary_open(&vr, (const void *)keys, nkeys);
	base = vary_run(&vr, floor_fd(), pkt[1], len[1], NULL);
	ns = vary_run(&vr, fd, pkt[1], len[1], &verdict);
	out(name, "random", ns - base + fl, verdict, load);
	if (tfd >= 0) {
		ns = vary_run(&vr, tfd, pkt[1], len[1], &verdict);
		out(name, "trie_random", ns - base + fl, verdict, 0);
		ns = vary_run(&vr, lfd, pkt[1], len[1], &verdict);
		out(name, "lookup_random", ns - base + fl, verdict, 0);
	}
	bpf_object__close(vr.o);
	free(keys);
	if (keyfile) {
		keys = read_keys(keyfile, v6, &n);
		vary_open(&vr, (const void *)keys, n);
		base = vary_run(&vr, floor_fd(), pkt[1], len[1], NULL);
		ns = vary_run(&vr, fd, pkt[1], len[1], &verdict);
		out(name, "random_hit", ns - base + fl, verdict, load);
		if (tfd >= 0) {
			ns = vary_run(&vr, tfd, pkt[1], len[1], &verdict);
			out(name, "trie_random_hit", ns - base + fl, verdict, 0);
			ns = vary_run(&vr, lfd, pkt[1], len[1], &verdict);
			out(name, "lookup_random_hit", ns - base + fl, verdict,
			    0);
		}
		bpf_object__close(vr.o);
		free(keys);
	}
	if (tobj)
		bpf_object__close(tobj);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&diags);
	moat_bpf__destroy(s);
	return 0;
}
