// SPDX-License-Identifier: GPL-2.0
/*
 * test_diff.c - differential testing of the data plane.
 *
 * Random rule files (tests/lib/rulegen.c) go through the real pipeline:
 * moat_parse_string -> moat_compile -> moat_slot_write into the loaded
 * program, slots alternating.  Random raw frames (aimed at rules,
 * random, truncated at header boundaries, malformed, mutated) run through
 * the program with BPF_PROG_TEST_RUN (each also again, when the
 * microflow cache answers it if it can, and a twin of it, which must not
 * take the cached answer unless it deserves it), and through an independent
 * reference (tests/lib/rawref.c: own raw-frame decoder + refeval over the
 * parsed rule set).  After every frame the verdict, the matched rule's
 * counter (packets and bytes) and every global counter must have moved
 * exactly as the reference says; after every rule set every rule's
 * counter must equal the reference's totals.
 *
 *   MOAT_SEED=N           seed (printed; rerun with it to reproduce)
 *   MOAT_DIFF_SETS=N      rule sets (default 120)
 *   MOAT_DIFF_PKTS=N      frames per rule set (default 500; each runs
 *                         three times: as generated, again, and a twin
 *                         cut short or with a header byte changed)
 *   MOAT_DIFF_ONLY=K      run only rule set K of the seed
 *   MOAT_DIFF_SECONDS=S   run rule sets until S seconds have passed
 *   MOAT_DIFF_KEEP=DIR    write each failing rule set there
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "test.h"
#include "bpfbatch.h"
#include "bpfrun.h"
#include "compile.h"
#include "parse.h"
#include "rawref.h"
#include "rulegen.h"

static struct bpfrun R;
static int R_ok;
static char setdir[] = "/tmp/moat-diff.XXXXXX";
static const char *const ifnames[] = { "md0", "md1", "md2", "md3" };
#define NIF 4
static uint32_t ifx[NIF + 1]; /* + loopback */
static uint32_t missing_target; /* in rules, not in redirect_map */

static unsigned int resolve(const char *name, void *ctx)
{
	for (int i = 0; i < NIF; i++)
		if (!strcmp(name, ifnames[i]))
			return ifx[i];
	return 0;
}

static bool redirect_ok(uint32_t ifindex, void *ctx)
{
	return ifindex && ifindex != missing_target;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long envul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

struct totals {
	unsigned long long sets, redrawn, rules, pkts, matched, kinds[PG_NKINDS];
	unsigned long long verdicts[5], stats[MOAT_STAT_MAX];
	unsigned long long cached; /* runs the microflow cache answered */
	unsigned int mism;
};

static void keep(uint64_t seed, unsigned int k, const char *text)
{
	const char *dir = getenv("MOAT_DIFF_KEEP");
	char path[4096];
	FILE *f;

	if (!dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/moat-diff-%llu-%u.rules", dir,
		 (unsigned long long)seed, k);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	printf("#   rule set kept in %s\n", path);
}

static const char *kind_name(enum pktgen_kind k)
{
	static const char *const n[] = { "aimed", "random", "truncated",
					  "malformed", "mutated" };

	return k < PG_NKINDS ? n[k] : "?";
}

/* What checking one frame needs from its rule set's run. */
struct fcheck {
	const struct moat_ruleset *rs;
	uint32_t idbase;
	uint64_t *exp_p, *exp_b, *base_p, *base_b; /* per rule */
	uint64_t *sp0, *sb0; /* global counters before the frame (updated) */
	struct totals *t;
	struct rawref_verdict v; /* the reference's, for the report */
};

/* Each frame runs three times: as generated; again (a frame of a cached
 * shape is then answered by the microflow cache); and its twin, cut short
 * or with one header byte changed (it must not take the answer cached for
 * the original unless the reference agrees). */
static const char *const run_names[] = { "as generated", "again", "twin" };

/*
 * Run one frame through the program and the reference: the verdict, every
 * global counter (slow_path: 0 or 1 packets, the reference has no cache)
 * and the matched rule's counter must agree.  Totals into f->t; true if
 * they agree, else false with the reason in why.  The global counters
 * are resynchronised either way, so the next frame is judged on its own.
 */
static bool check_frame(struct fcheck *f, const uint8_t *buf, size_t len,
			uint32_t ingress, enum pktgen_kind kind, char *why,
			size_t whylen)
{
	uint64_t sp1[MOAT_STAT_MAX], sb1[MOAT_STAT_MAX];
	uint64_t want[MOAT_STAT_MAX] = { 0 };
	struct totals *t = f->t;
	bool ok = true;
	int xdp = -1, err;

	rawref_judge(f->rs, buf, len, ingress, resolve, redirect_ok, NULL,
		     &f->v);
	err = bpfrun_run(&R, buf, len, ingress, 1, &xdp, NULL);
	if (err) {
		snprintf(why, whylen, "test run failed: %s", strerror(-err));
		ok = false;
	}
	if (ok && xdp != f->v.xdp) {
		snprintf(why, whylen, "verdict %d, reference %d", xdp,
			 f->v.xdp);
		ok = false;
	}
	if (ok && bpfbatch_stats(&R, sp1, sb1)) {
		snprintf(why, whylen, "reading stats failed");
		ok = false;
	}
	for (int s = 0; s < f->v.nstats; s++)
		want[f->v.stats[s]]++;
	/* the reference has no microflow cache: the frame took the slow
	 * path or not (one packet or none); all else is exact */
	if (ok && sp1[MOAT_STAT_SLOW_PATH] - f->sp0[MOAT_STAT_SLOW_PATH] <= 1)
		want[MOAT_STAT_SLOW_PATH] =
			sp1[MOAT_STAT_SLOW_PATH] - f->sp0[MOAT_STAT_SLOW_PATH];
	for (int s = 0; ok && s < MOAT_STAT_MAX; s++)
		if (sp1[s] - f->sp0[s] != want[s] ||
		    sb1[s] - f->sb0[s] != want[s] * len) {
			snprintf(why, whylen,
				 "counter %s moved by %llu packets %llu bytes, reference %llu",
				 moat_stat_names[s],
				 (unsigned long long)(sp1[s] - f->sp0[s]),
				 (unsigned long long)(sb1[s] - f->sb0[s]),
				 (unsigned long long)want[s]);
			ok = false;
		}
	if (ok && f->v.pos >= 0) {
		uint64_t p = 0, b = 0;
		int pos = f->v.pos;

		f->exp_p[pos]++;
		f->exp_b[pos] += len;
		if (bpfrun_rule_stat(&R, f->idbase + (uint32_t)pos, &p, &b) ||
		    p - f->base_p[pos] != f->exp_p[pos] ||
		    b - f->base_b[pos] != f->exp_b[pos]) {
			snprintf(why, whylen,
				 "counter of rule %d (the reference's match) moved by %lld packets, want %llu",
				 pos, (long long)(p - f->base_p[pos]),
				 (unsigned long long)f->exp_p[pos]);
			f->exp_p[pos]--; /* report once */
			f->exp_b[pos] -= len;
			ok = false;
		}
	}
	if (ok) {
		memcpy(f->sp0, sp1, sizeof(sp1));
		memcpy(f->sb0, sb1, sizeof(sb1));
	} else {
		/* the test run may have moved counters we did not expect */
		bpfbatch_stats(&R, f->sp0, f->sb0);
	}
	t->pkts++;
	t->kinds[kind]++;
	t->matched += f->v.pos >= 0;
	if (xdp >= 0 && xdp < 5)
		t->verdicts[xdp]++;
	for (int s = 0; s < f->v.nstats; s++)
		t->stats[f->v.stats[s]]++;
	t->stats[MOAT_STAT_SLOW_PATH] += want[MOAT_STAT_SLOW_PATH];
	t->cached += ok && !want[MOAT_STAT_SLOW_PATH];
	return ok;
}

/* Run one rule set k of the seed.  Returns 1 if it ran, 0 if the rule set
 * was over a limit (redrawn), -1 after a failure. */
static int run_set(uint64_t seed, unsigned int k, unsigned int npkts,
		   struct totals *t)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	struct moat_image img;
	struct rg_rng rng;
	struct rulegen_opts o = { .ifnames = ifnames, .nifnames = NIF,
				  .setdir = setdir };
	uint64_t *exp_p = NULL, *exp_b = NULL, *got_p = NULL, *got_b = NULL;
	uint64_t *base_p = NULL, *base_b = NULL;
	uint64_t sp0[MOAT_STAT_MAX], sb0[MOAT_STAT_MAX];
	struct fcheck f;
	uint32_t idbase = (k & 1) ? 30000 : 0, slot = k & 1;
	unsigned int bad = 0;
	char *text;
	int ret = -1, err;

	memset(&rs, 0, sizeof(rs));
	memset(&d, 0, sizeof(d));
	memset(&img, 0, sizeof(img));
	rg_seed(&rng, seed ^ ((uint64_t)k << 32) ^ k);
	o.nrules = 1 + rg_n(&rng, rg_n(&rng, 4) ? 80 : 400);
	text = rulegen_text(&rng, &o);
	err = moat_parse_string("gen.rules", text, setdir, &rs, &d);
	if (err) {
		TEST_FAIL("seed %llu set %u: generated rule file does not parse (%d):",
			  (unsigned long long)seed, k, err);
		moat_diags_print(&d, stdout);
		keep(seed, k, text);
		goto out;
	}
	{
		struct moat_compile_opts co = { .ifindex = resolve };

		err = moat_compile(&rs, &co, &img, &d);
	}
	if (err) {
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].level == MOAT_DIAG_ERROR &&
			    (strstr(d.v[i].msg, "match shapes") ||
			     strstr(d.v[i].msg, "classifier entries"))) {
				t->redrawn++;
				ret = 0;
				goto out;
			}
		TEST_FAIL("seed %llu set %u: compile failed (%d):",
			  (unsigned long long)seed, k, err);
		moat_diags_print(&d, stdout);
		keep(seed, k, text);
		goto out;
	}
	if (img.nrules != rs.nrules) {
		TEST_FAIL("seed %llu set %u: image has %zu rules, rule set %zu",
			  (unsigned long long)seed, k, img.nrules, rs.nrules);
		goto out;
	}
	for (size_t i = 0; i < img.nrules; i++)
		img.rules[i].id = idbase + (uint32_t)i;
	err = bpfrun_write(&R, slot, &img, 1);
	if (err) {
		TEST_FAIL("seed %llu set %u: slot write failed: %s",
			  (unsigned long long)seed, k, strerror(-err));
		keep(seed, k, text);
		goto out;
	}
	/* one redirect target goes missing: drop_redirect_failed */
	bpf_map_delete_elem(R.fds.redirect_map, &missing_target);

	exp_p = calloc(rs.nrules, 8);
	exp_b = calloc(rs.nrules, 8);
	got_p = calloc(rs.nrules, 8);
	got_b = calloc(rs.nrules, 8);
	base_p = calloc(rs.nrules, 8);
	base_b = calloc(rs.nrules, 8);
	if (!exp_p || !exp_b || !got_p || !got_b || !base_p || !base_b)
		abort();
	if (bpfbatch_counters(&R, R.fds.rule_stats, idbase,
			      (uint32_t)rs.nrules, base_p, base_b) ||
	    bpfbatch_stats(&R, sp0, sb0)) {
		TEST_FAIL("reading counters failed");
		goto out;
	}
	f = (struct fcheck){ .rs = &rs, .idbase = idbase, .exp_p = exp_p,
			     .exp_b = exp_b, .base_p = base_p,
			     .base_b = base_b, .sp0 = sp0, .sb0 = sb0, .t = t };
	for (unsigned int i = 0; i < npkts && bad < 3; i++) {
		uint8_t buf[4096], twin[4096];
		enum pktgen_kind kind;
		uint32_t ingress;
		size_t len, tlen;

		len = pktgen_frame(&rng, &rs, resolve, NULL, ifx, NIF + 1, buf,
				   sizeof(buf), &ingress, &kind);
		/* the twin: cut short (a test run needs 14 bytes), or one
		 * header byte changed */
		memcpy(twin, buf, len);
		tlen = len;
		if (len > 14 && rg_n(&rng, 2))
			tlen = 14 + rg_n(&rng, (uint32_t)len - 14);
		else if (len)
			twin[rg_n(&rng, len < 80 ? (uint32_t)len : 80)] ^=
				(uint8_t)(1 + rg_n(&rng, 255));
		for (int run = 0; run < 3 && bad < 3; run++) {
			const uint8_t *fr = run < 2 ? buf : twin;
			size_t fl = run < 2 ? len : tlen;
			char why[512] = "";

			if (check_frame(&f, fr, fl, ingress, kind, why,
					sizeof(why)))
				continue;
			bad++;
			t->mism++;
			{
				char desc[512], hex[8300], *rt;

				TEST_FAIL("seed %llu set %u frame %u %s (%s, %zu bytes, ingress %u): %s",
					  (unsigned long long)seed, k, i,
					  run_names[run], kind_name(kind), fl,
					  ingress, why);
				rawdec_describe(&f.v.dec, desc, sizeof(desc));
				printf("#   reference decode: %s\n", desc);
				rt = f.v.pos >= 0 ?
					     moat_rule_format(&rs,
							      &rs.rules[f.v.pos]) :
					     NULL;
				printf("#   reference rule: %d %s (%s:%u)\n",
				       f.v.pos, rt ? rt : "(policy)",
				       f.v.pos >= 0 ? rs.rules[f.v.pos].loc.file :
						      "-",
				       f.v.pos >= 0 ? rs.rules[f.v.pos].loc.line :
						      0);
				free(rt);
				rawref_hexdump(fr, fl, hex, sizeof(hex));
				printf("#   frame: %s\n", hex);
				printf("#   repeat: MOAT_SEED=%llu MOAT_DIFF_ONLY=%u\n",
				       (unsigned long long)seed, k);
				if (bad == 1)
					keep(seed, k, text);
			}
		}
	}
	/* every rule's counter equals the reference's total */
	if (!bad) {
		if (bpfbatch_counters(&R, R.fds.rule_stats, idbase,
				      (uint32_t)rs.nrules, got_p, got_b)) {
			TEST_FAIL("reading rule counters failed");
			goto out;
		}
		for (size_t i = 0; i < rs.nrules; i++)
			if (got_p[i] - base_p[i] != exp_p[i] ||
			    got_b[i] - base_b[i] != exp_b[i]) {
				TEST_FAIL("seed %llu set %u: rule %zu counted %llu packets %llu bytes, reference %llu/%llu",
					  (unsigned long long)seed, k, i,
					  (unsigned long long)(got_p[i] - base_p[i]),
					  (unsigned long long)(got_b[i] - base_b[i]),
					  (unsigned long long)exp_p[i],
					  (unsigned long long)exp_b[i]);
				keep(seed, k, text);
				t->mism++;
				break;
			}
	}
	t->sets++;
	t->rules += rs.nrules;
	ret = bad ? -1 : 1;
out:
	free(exp_p);
	free(exp_b);
	free(got_p);
	free(got_b);
	free(base_p);
	free(base_b);
	free(text);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	return ret;
}

TEST(differential)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	unsigned long nsets = envul("MOAT_DIFF_SETS", 120);
	unsigned long npkts = envul("MOAT_DIFF_PKTS", 500);
	unsigned long secs = envul("MOAT_DIFF_SECONDS", 0);
	const char *only = getenv("MOAT_DIFF_ONLY");
	struct totals t;
	double t0 = now();

	if (!R_ok)
		SKIP("BPF program could not be loaded");
	if (!ifx[0])
		SKIP("no private netns with veths");
	memset(&t, 0, sizeof(t));
	if (getenv("MOAT_SEED"))
		seed = strtoull(getenv("MOAT_SEED"), NULL, 0);
	printf("# differential seed %llu (MOAT_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	if (only) {
		if (run_set(seed, (unsigned int)strtoul(only, NULL, 0),
			    (unsigned int)npkts, &t) < 0)
			return;
	} else {
		for (unsigned int k = 0; t.mism < 10; k++) {
			if (secs ? now() - t0 >= (double)secs :
				   t.sets >= nsets)
				break;
			if (!secs && k > 3 * nsets)
				break;
			run_set(seed, k, (unsigned int)npkts, &t);
			if (secs && t.sets % 100 == 0 && t.sets)
				printf("# ... %llu rule sets, %llu frames, %u mismatches\n",
				       t.sets, t.pkts, t.mism);
		}
	}
	printf("# differential: %llu rule sets (%llu over a limit, redrawn), %llu rules, %llu runs (frames, repeats, twins) in %.1f s, %llu matched a rule, %llu answered by the microflow cache, %u mismatches\n",
	       t.sets, t.redrawn, t.rules, t.pkts, now() - t0, t.matched,
	       t.cached, t.mism);
	printf("#   frames: aimed %llu random %llu truncated %llu malformed %llu mutated %llu; verdicts: pass %llu drop %llu redirect %llu\n",
	       t.kinds[PG_AIMED], t.kinds[PG_RANDOM], t.kinds[PG_TRUNCATED],
	       t.kinds[PG_MALFORMED], t.kinds[PG_MUTATED],
	       t.verdicts[XDP_PASS], t.verdicts[XDP_DROP],
	       t.verdicts[XDP_REDIRECT]);
	printf("#   counters:");
	for (int s = 0; s < MOAT_STAT_MAX; s++)
		printf(" %s=%llu", moat_stat_names[s], t.stats[s]);
	printf("\n");
	ASSERT_EQ(t.mism, 0);
	if (only)
		return;
	ASSERT_TRUE(t.sets >= (secs ? 1 : nsets));
	/* the generator must exercise everything it claims to */
	ASSERT_TRUE(t.matched > t.pkts / 4);
	ASSERT_TRUE(t.matched < t.pkts);
	/* the repeats reach the microflow cache */
	ASSERT_TRUE(t.cached > t.pkts / 10);
	if (t.pkts >= 10000)
		for (int s = 0; s < MOAT_STAT_MAX; s++)
			if (s != MOAT_STAT_DROP_TRUNC_ETH &&
			    s != MOAT_STAT_SLOW_PATH && !t.stats[s])
				TEST_FAIL("no frame ended in counter %s",
					  moat_stat_names[s]);
}

static int setup_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link set lo up && "
		   "ip link add md0 type veth peer name md1 && "
		   "ip link add md2 type veth peer name md3 && "
		   "for i in md0 md1 md2 md3; do ip link set $i up; done"))
		return -1;
	for (int i = 0; i < NIF; i++)
		ifx[i] = if_nametoindex(ifnames[i]);
	ifx[NIF] = 1;
	missing_target = ifx[3];
	return ifx[0] && ifx[1] && ifx[2] && ifx[3] ? 0 : -1;
}

int main(void)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup_netns()) {
		fprintf(stderr, "# no private netns/veth: tests skip\n");
		memset(ifx, 0, sizeof(ifx));
	}
	if (!mkdtemp(setdir)) {
		perror("mkdtemp");
		return 1;
	}
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;

	RUN(differential);

	bpfrun_close(&R);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", setdir);
		if (system(cmd))
			fprintf(stderr, "# could not remove %s\n", setdir);
	}
	return test_summary("diff");
}
