// SPDX-License-Identifier: GPL-2.0
/*
 * test_cand.c - the candidate beside the rule set in force (xdp/cand.h):
 * shadow classification counts exactly what would change, per rule and
 * per source, and never changes a verdict; a canary splits flows by
 * moat_flow_hash() (computed here by the same include/moat.h code), keeps
 * every flow on one side for all its packets and both directions, and
 * counts each side; the moat_ctl program refuses a bad config.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "bpfrun.h"
#include "compile.h"
#include "counters.h"
#include "parse.h"
#include "pkt.h"
#include "moat.skel.h"

static struct bpfrun R;
static int R_ok;

/* in force: slot 0; candidate: slot 1 */
static const char RS_A[] = "policy pass\n"
			   "drop udp to port 1\n" /* 0 */
			   "pass udp to port 2\n" /* 1 */
			   "drop udp to port 4\n"; /* 2 */
static const char RS_B[] = "policy drop\n"
			   "pass udp to port 1\n" /* 0 */
			   "drop udp to port 2\n" /* 1 */
			   "pass udp to port 3\n" /* 2 */
			   "drop udp to port 4\n"; /* 3 */

static int set_config(uint32_t slot, uint32_t cand, uint32_t mode,
		      uint32_t canary)
{
	struct moat_config c = { .slot = slot, .cand = cand, .mode = mode,
				 .canary = canary };

	return moat_config_write(&R.fds, 0, &c);
}

static void reset_cand(void)
{
	struct moat_src_key k;

	moat_percpu_zero(bpf_map__fd(R.skel->maps.cand_stats), 0, MOAT_CS_MAX,
			 sizeof(struct moat_counter));
	moat_percpu_zero(bpf_map__fd(R.skel->maps.cand_rules), 0, 8,
			 sizeof(struct moat_cand_rule));
	moat_percpu_zero(bpf_map__fd(R.skel->maps.cand_rules),
			 MOAT_CAND_NOMATCH, 1, sizeof(struct moat_cand_rule));
	while (!bpf_map_get_next_key(bpf_map__fd(R.skel->maps.shadow_src),
				     NULL, &k))
		bpf_map_delete_elem(bpf_map__fd(R.skel->maps.shadow_src), &k);
}

static uint64_t cs(uint32_t idx)
{
	struct moat_counter c;

	moat_counter_read(bpf_map__fd(R.skel->maps.cand_stats), idx, &c);
	return c.packets;
}

static struct moat_cand_rule crule(uint32_t pos)
{
	struct moat_cand_rule c;

	moat_cand_rule_read(bpf_map__fd(R.skel->maps.cand_rules), pos, &c);
	return c;
}

static int run_udp(const char *src, const char *dst, uint16_t sport,
		   uint16_t dport, int *verdict)
{
	struct pkt_spec s = { .src = src, .dst = dst, .proto = 17,
			      .sport = sport, .dport = dport, .payload = 8 };
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);

	return bpfrun_run(&R, buf, len, 0, 1, verdict, NULL);
}

TEST(load)
{
	struct moat_image a, b;

	ASSERT_EQ(bpfrun_open(&R), 0);
	ASSERT_EQ(bpfrun_compile("cand.rules", RS_A, 100, &a), 0);
	ASSERT_EQ(bpfrun_compile("cand.rules", RS_B, 200, &b), 0);
	ASSERT_EQ(bpfrun_write(&R, 0, &a, 1), 0);
	ASSERT_EQ(bpfrun_write(&R, 1, &b, 0), 0);
	moat_image_free(&a);
	moat_image_free(&b);
	R_ok = 1;
}

/* ports 1..5 from two sources: A decides, B is only counted */
TEST(shadow_counts_exactly)
{
	/* per destination port: verdict under A, under B; B's position */
	static const struct {
		int va, vb;
		uint32_t bpos;
	} e[6] = {
		[1] = { XDP_DROP, XDP_PASS, 0 },
		[2] = { XDP_PASS, XDP_DROP, 1 },
		[3] = { XDP_PASS, XDP_PASS, 2 },
		[4] = { XDP_DROP, XDP_DROP, 3 },
		[5] = { XDP_PASS, XDP_DROP, MOAT_CAND_NOMATCH },
	};
	const char *srcs[2] = { "192.0.2.7", "2001:db8::7" };
	const char *dsts[2] = { "198.51.100.1", "2001:db8::1" };
	uint64_t p2d = 0, d2p = 0, n[6] = { 0 };
	struct moat_src_key k = { 0 };
	struct moat_src_val sv;
	int v;

	ASSERT_TRUE(R_ok);
	reset_cand();
	ASSERT_EQ(set_config(0, 1, MOAT_CAND_SHADOW, 0), 0);
	for (int rep = 0; rep < 7; rep++)
		for (int f = 0; f < 2; f++)
			for (int p = 1; p <= 5; p++) {
				if (f == 1 && p == 5 && rep >= 3)
					continue; /* uneven counts */
				ASSERT_EQ(run_udp(srcs[f], dsts[f], 999, p, &v), 0);
				ASSERT_EQ(v, e[p].va); /* A decides */
				n[p]++;
				if (e[p].va == XDP_PASS && e[p].vb == XDP_DROP)
					p2d++;
				if (e[p].va == XDP_DROP && e[p].vb == XDP_PASS)
					d2p++;
			}
	ASSERT_EQ(cs(MOAT_CS_PASS_TO_DROP), p2d);
	ASSERT_EQ(cs(MOAT_CS_DROP_TO_PASS), d2p);
	ASSERT_EQ(cs(MOAT_CS_OTHER_CHANGE), 0);
	ASSERT_EQ(cs(MOAT_CS_ENFORCED + MOAT_ACT_PASS), n[2] + n[3] + n[5]);
	ASSERT_EQ(cs(MOAT_CS_ENFORCED + MOAT_ACT_DROP), n[1] + n[4]);
	ASSERT_EQ(cs(MOAT_CS_SHADOW + MOAT_ACT_PASS), n[1] + n[3]);
	ASSERT_EQ(cs(MOAT_CS_SHADOW + MOAT_ACT_DROP), n[2] + n[4] + n[5]);
	ASSERT_EQ(cs(MOAT_CS_CANARY + MOAT_ACT_PASS), 0);
	for (int p = 1; p <= 5; p++) {
		struct moat_cand_rule c = crule(e[p].bpos);

		ASSERT_EQ(c.packets, n[p]);
		ASSERT_EQ(c.pass_to_drop,
			  e[p].va == XDP_PASS && e[p].vb == XDP_DROP ? n[p] : 0);
		ASSERT_EQ(c.drop_to_pass,
			  e[p].va == XDP_DROP && e[p].vb == XDP_PASS ? n[p] : 0);
	}
	/* per source: IPv4 7 x (port 2, 5) pass->drop, 7 x port 1 */
	k.family = 4;
	inet_pton(AF_INET, srcs[0], k.addr);
	ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(R.skel->maps.shadow_src), &k,
				      &sv),
		  0);
	ASSERT_EQ(sv.pass_to_drop, 14);
	ASSERT_EQ(sv.drop_to_pass, 7);
	memset(&k, 0, sizeof(k));
	k.family = 6;
	inet_pton(AF_INET6, srcs[1], k.addr);
	ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(R.skel->maps.shadow_src), &k,
				      &sv),
		  0);
	ASSERT_EQ(sv.pass_to_drop, 7 + 3);
	ASSERT_EQ(sv.drop_to_pass, 7);
	/* no candidate: nothing is counted */
	ASSERT_EQ(set_config(0, 1, MOAT_CAND_NONE, 0), 0);
	ASSERT_EQ(run_udp(srcs[0], dsts[0], 999, 2, &v), 0);
	ASSERT_EQ(cs(MOAT_CS_PASS_TO_DROP), p2d);
}

/* 50% canary over 20,000 flows: the split follows moat_flow_hash, is
 * within 4 standard deviations of half, and is the same for every packet
 * of a flow and for its reply direction */
TEST(canary_split_by_flow)
{
	const uint32_t nflows = 20000, thr = moat_canary_threshold(5000);
	uint32_t ncanary = 0, mismatch = 0, unstable = 0, asym = 0;
	uint64_t pkts_canary = 0, pkts_base = 0;
	char src[32], dst[32] = "198.51.100.9";

	ASSERT_TRUE(R_ok);
	reset_cand();
	ASSERT_EQ(set_config(0, 1, MOAT_CAND_CANARY, thr), 0);
	srand(7);
	for (uint32_t f = 0; f < nflows; f++) {
		uint32_t sa[4] = { 0 }, da[4] = { 0 };
		uint16_t sport = 1024 + (uint16_t)(rand() % 60000);
		int v1, v2, vr;
		bool want;

		snprintf(src, sizeof(src), "10.%u.%u.%u", f >> 16 & 255,
			 f >> 8 & 255, f & 255);
		inet_pton(AF_INET, src, sa);
		inet_pton(AF_INET, dst, da);
		/* port 2: A passes, B drops, so the verdict tells the side */
		want = moat_flow_hash(sa, da, sport, 2, 17) < thr;
		ASSERT_EQ(run_udp(src, dst, sport, 2, &v1), 0);
		ASSERT_EQ(run_udp(src, dst, sport, 2, &v2), 0);
		/* the reply direction: port 2 from port sport; B drops udp
		 * from any port by policy unless to 1/3, A passes it */
		ASSERT_EQ(run_udp(dst, src, 2, sport, &vr), 0);
		if ((v1 == XDP_DROP) != want)
			mismatch++;
		if (v1 != v2)
			unstable++;
		if (sport != 1 && sport != 3 && sport != 4 && (vr == XDP_DROP) != want)
			asym++;
		if (want) {
			ncanary++;
			pkts_canary += 3;
		} else {
			pkts_base += 3;
		}
	}
	printf("# canary 50%%: %u of %u flows on the candidate\n", ncanary,
	       nflows);
	ASSERT_EQ(mismatch, 0);
	ASSERT_EQ(unstable, 0);
	ASSERT_EQ(asym, 0);
	/* binomial(20000, 0.5): sd 70.7 */
	ASSERT_TRUE(ncanary > 10000 - 283 && ncanary < 10000 + 283);
	ASSERT_EQ(cs(MOAT_CS_CANARY + MOAT_ACT_DROP), pkts_canary);
	ASSERT_EQ(cs(MOAT_CS_ENFORCED + MOAT_ACT_PASS), pkts_base);
	ASSERT_EQ(crule(1).packets, 2ULL * ncanary);
	/* widening keeps every canary flow in the canary (monotone) */
	ASSERT_TRUE(moat_canary_threshold(7000) > (uint64_t)thr);
	set_config(0, 0, MOAT_CAND_NONE, 0);
}

/* the moat_ctl program checks slots before it writes anything */
TEST(ctl_rejects_bad_config)
{
	struct moat_confirm_val v;
	struct moat_gen_info gi;
	struct moat_config c;
	unsigned char pkt[64] = { 0 };
	__u32 zero = 0, one = 1;
	int cfd, fd;
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = 1);

	ASSERT_TRUE(R_ok);
	fd = bpf_map__fd(R.skel->maps.confirm);
	cfd = bpf_map__fd(R.skel->maps.config);
	ASSERT_EQ(set_config(0, 0, MOAT_CAND_NONE, 0), 0);
	ASSERT_EQ(bpf_map_lookup_elem(fd, &zero, &v), 0);
	v.c.cmd = MOAT_CONFIRM_SET;
	v.c.ports = 1 | 2;
	memset(v.c.want, 0, sizeof(v.c.want));
	v.c.want[0].slot = 1;
	v.c.want[1].slot = 1;
	v.c.want[1].mode = MOAT_CAND_SHADOW;
	v.c.want[1].cand = MOAT_SLOTS; /* bad */
	ASSERT_EQ(bpf_map_update_elem(fd, &zero, &v, BPF_EXIST), 0);
	ASSERT_EQ(bpf_prog_test_run_opts(
			  bpf_program__fd(R.skel->progs.moat_ctl), &topts),
		  0);
	ASSERT_EQ(bpf_map_lookup_elem(fd, &zero, &v), 0);
	ASSERT_EQ(v.c.result, -EINVAL);
	ASSERT_EQ(bpf_map_lookup_elem(cfd, &zero, &c), 0);
	ASSERT_EQ(c.slot, 0); /* port 0 untouched: all or nothing */
	/* a good one writes both ports */
	v.c.cmd = MOAT_CONFIRM_SET;
	v.c.want[1].cand = 0;
	ASSERT_EQ(bpf_map_update_elem(fd, &zero, &v, BPF_EXIST), 0);
	ASSERT_EQ(bpf_prog_test_run_opts(
			  bpf_program__fd(R.skel->progs.moat_ctl), &topts),
		  0);
	ASSERT_EQ(bpf_map_lookup_elem(fd, &zero, &v), 0);
	ASSERT_EQ(v.c.result, 0);
	ASSERT_EQ(bpf_map_lookup_elem(cfd, &zero, &c), 0);
	ASSERT_EQ(c.slot, 1);
	/* no candidate: stamped with slot 1's tag (include/moat.h) */
	ASSERT_EQ(bpf_map_lookup_elem(R.fds.gen_info, &one, &gi), 0);
	ASSERT_TRUE(gi.epoch != 0);
	ASSERT_EQ(c.tag, (uint32_t)gi.epoch);
	ASSERT_EQ(bpf_map_lookup_elem(cfd, &one, &c), 0);
	ASSERT_EQ(c.mode, MOAT_CAND_SHADOW);
	ASSERT_EQ(c.canary, 0); /* a candidate's entry keeps its share */
	set_config(0, 0, MOAT_CAND_NONE, 0);
}

int main(void)
{
	RUN(load);
	RUN(shadow_counts_exactly);
	RUN(canary_split_by_flow);
	RUN(ctl_rejects_bad_config);
	bpfrun_close(&R);
	return test_summary("cand");
}
