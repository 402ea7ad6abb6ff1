// SPDX-License-Identifier: GPL-2.0
/*
 * test_swap.c - atomic rule-set swap under traffic.
 *
 * A traffic thread runs UDP frames to ports 1-5 through the program
 * (BPF_PROG_TEST_RUN) without pause while the main thread alternates
 * between rule sets A and B 1,000 times the way `moat apply` does: write
 * the inactive slot (moat_slot_write), then flip config.active.
 *
 *   A: policy pass; drop 1, pass 2, drop 3, pass 4; port 5: policy pass
 *   B: policy drop; (drop 9), pass 1, drop 2, pass 3, drop 4; 5: policy drop
 *
 * Every port gets opposite verdicts from A and B, from rules with
 * distinct ids (A 100+, B 200+).  Per frame, exactly one of the two
 * candidate counters (A's rule or policy counter for that port, B's) must
 * move, by one, and the verdict must be the one of the set whose counter
 * moved: a frame judged by a mixture of the two slots (classes of one,
 * classifier or rules of the other) breaks that.  Both sets must have been
 * seen many times.
 *
 * Writing a slot costs tens of milliseconds (inner maps, the 128K-entry
 * port class array), so by default two swaps in 50 (one per rule set)
 * rewrite the slot they activate and the others flip between the two
 * written slots.  After each swap a few frames run before the next.
 *
 *   MOAT_SWAPS=N          number of swaps (default 1000)
 *   MOAT_SWAP_REWRITE=N   rewrite the slot every N swaps (default 50; 1:
 *                         every swap, as `moat apply` does)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <linux/bpf.h>

#include "test.h"
#include "bpfrun.h"
#include "compile.h"
#include "parse.h"
#include "pkt.h"

static struct bpfrun R;
static int R_ok;

static const char RS_A[] = "policy pass\n"
			   "drop udp to port 1\n"
			   "pass udp to port 2\n"
			   "drop udp to port 3\n"
			   "pass udp to port 4\n";
static const char RS_B[] = "policy drop\n"
			   "drop udp to port 9\n"
			   "pass udp to port 1\n"
			   "drop udp to port 2\n"
			   "pass udp to port 3\n"
			   "drop udp to port 4\n";

/* per port 1..5: verdict and counter under A and under B; counters are
 * rule ids, or -1 - stat for the policy counters */
static const struct {
	int va, vb;
	int ca, cb;
} expect[6] = {
	[1] = { XDP_DROP, XDP_PASS, 100, 201 },
	[2] = { XDP_PASS, XDP_DROP, 101, 202 },
	[3] = { XDP_DROP, XDP_PASS, 102, 203 },
	[4] = { XDP_PASS, XDP_DROP, 103, 204 },
	[5] = { XDP_PASS, XDP_DROP, -1 - MOAT_STAT_POLICY_PASS,
		-1 - MOAT_STAT_DROP_POLICY },
};

static atomic_int stop;
static unsigned long long seen_a, seen_b, frames;
static atomic_ullong nframes;
static char failure[512];

static uint64_t counter(int c)
{
	uint64_t p = 0;

	if (c >= 0)
		bpfrun_rule_stat(&R, (uint32_t)c, &p, NULL);
	else
		bpfrun_stat(&R, (uint32_t)(-1 - c), &p, NULL);
	return p;
}

static void *traffic(void *arg)
{
	uint8_t buf[6][PKT_MAX];
	size_t len[6];

	for (int p = 1; p <= 5; p++) {
		struct pkt_spec s = { .src = "192.0.2.1", .dst = "198.51.100.1",
				      .proto = 17, .sport = 999,
				      .dport = (uint16_t)p, .payload = 16 };

		len[p] = pkt_build(&s, buf[p], NULL);
	}
	while (!atomic_load(&stop)) {
		for (int p = 1; p <= 5; p++) {
			uint64_t a0 = counter(expect[p].ca);
			uint64_t b0 = counter(expect[p].cb);
			uint64_t da, db;
			int v = -1;

			if (bpfrun_run(&R, buf[p], len[p], 0, 1, &v, NULL)) {
				snprintf(failure, sizeof(failure),
					 "test run failed");
				return NULL;
			}
			da = counter(expect[p].ca) - a0;
			db = counter(expect[p].cb) - b0;
			frames++;
			atomic_fetch_add(&nframes, 1);
			if (da == 1 && db == 0 && v == expect[p].va) {
				seen_a++;
			} else if (da == 0 && db == 1 && v == expect[p].vb) {
				seen_b++;
			} else {
				snprintf(failure, sizeof(failure),
					 "frame %llu to port %d: verdict %d, A counter +%llu, B counter +%llu: neither A (%d) nor B (%d)",
					 frames, p, v, (unsigned long long)da,
					 (unsigned long long)db, expect[p].va,
					 expect[p].vb);
				return NULL;
			}
		}
	}
	return NULL;
}

TEST(swap_under_traffic)
{
	struct moat_image a, b;
	unsigned long swaps = 1000, every = 50, rewrites = 0;
	pthread_t th;
	struct timespec t0, t1;
	unsigned long i;
	int err = 0;

	if (!R_ok)
		SKIP("BPF program could not be loaded");
	if (getenv("MOAT_SWAPS"))
		swaps = strtoul(getenv("MOAT_SWAPS"), NULL, 0);
	if (getenv("MOAT_SWAP_REWRITE"))
		every = strtoul(getenv("MOAT_SWAP_REWRITE"), NULL, 0);
	if (!every)
		every = 1;
	ASSERT_EQ(bpfrun_compile("swap.rules", RS_A, 100, &a), 0);
	ASSERT_EQ(bpfrun_compile("swap.rules", RS_B, 200, &b), 0);
	ASSERT_EQ(bpfrun_write(&R, 1, &b, 0), 0);
	ASSERT_EQ(bpfrun_write(&R, 0, &a, 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(pthread_create(&th, NULL, traffic, NULL), 0);
	for (i = 1; i <= swaps && !err && !failure[0]; i++) {
		/* swap i puts B (odd) or A (even) into force in slot i & 1 */
		unsigned long long f0 = atomic_load(&nframes);

		if (i % every < 2 || i == swaps) {
			err = bpfrun_write(&R, i & 1, i & 1 ? &b : &a, 1);
			rewrites++;
		} else {
			err = moat_slot_activate(&R.fds, i & 1);
		}
		/* let a few frames see this rule set */
		while (!err && !failure[0] && atomic_load(&nframes) < f0 + 5)
			sched_yield();
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	moat_image_free(&a);
	moat_image_free(&b);
	printf("# %lu swaps (%lu with a slot rewrite) in %.2f s; %llu frames: %llu judged by A, %llu by B\n",
	       i - 1, rewrites,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       frames, seen_a, seen_b);
	if (failure[0])
		TEST_FAIL("%s", failure);
	ASSERT_EQ(err, 0);
	ASSERT_EQ(i - 1, swaps);
	/* both rule sets were in force for many frames */
	ASSERT_TRUE(seen_a >= 100);
	ASSERT_TRUE(seen_b >= 100);
}

int main(void)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	err = bpfrun_open(&R);
	if (err)
		fprintf(stderr, "# bpfrun_open: %s\n", strerror(-err));
	R_ok = !err;
	RUN(swap_under_traffic);
	bpfrun_close(&R);
	return test_summary("swap");
}
