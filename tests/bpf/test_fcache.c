// SPDX-License-Identifier: GPL-2.0
/*
 * test_fcache.c - the flow cache in front of classification (xdp/fcache.h).
 *
 * Checks, with BPF_PROG_TEST_RUN:
 *   - a classified packet leaves a line tagged with its slot's epoch,
 *     holding its key words, ingress ifindex and rule position;
 *   - the data plane takes a line's position when key, ifindex and epoch
 *     match (a line forged with another position decides), and ignores a
 *     line of an older epoch or another interface;
 *   - every slot write gets a larger epoch, so after a rule-set swap the
 *     first packet of a cached flow gets the new verdict;
 *   - an `on IFACE` rule: one flow arriving on two interfaces gets each
 *     interface's verdict, cached apart;
 *   - with a shadow candidate, a packet's answers from both slots are kept
 *     on two lines (they do not evict each other);
 *   - 20,000 random flows (many lines shared), each run three times in
 *     shuffled order: every verdict equals the first-run one, and the
 *     rule counters add up to the packets.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <net/if.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "bpfrun.h"
#include "compile.h"
#include "pkt.h"
#include "moat.skel.h"

static struct bpfrun R;
static int R_ok;
static uint32_t ifx2; /* a second interface (veth) in a private netns */

static const char RS_A[] = "policy pass\n"
			   "drop udp to port 1\n"
			   "pass udp to port 2\n"
			   "drop on lo udp to port 3\n"
			   "drop udp from 10.0.0.0/8 to port 4\n";
static const char RS_B[] = "policy drop\n"
			   "pass udp to port 1\n"
			   "drop udp to port 2\n";

static int fc_fd(void)
{
	return bpf_map__fd(R.skel->maps.fcache);
}

static size_t fc_size(void)
{
	return (size_t)R.ncpu * sizeof(struct moat_fc);
}

static int run_udp(const char *src, uint16_t dport, uint32_t ifindex,
		   int *verdict)
{
	struct pkt_spec s = {.src = src,
			     .dst = "198.51.100.1",
			     .proto = 17,
			     .sport = 4000,
			     .dport = dport,
			     .payload = 8,
			     /* a shape the microflow cache in front does not
			      * take (IPv4 options, test_mflow.c): this cache
			      * answers */
			     .ip4_optlen = 4};
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(&s, buf, NULL);

	return bpfrun_run(&R, buf, len, ifindex, 1, verdict, NULL);
}

static uint64_t slot_epoch(uint32_t slot)
{
	struct moat_gen_info gi;

	if (bpf_map_lookup_elem(R.fds.gen_info, &slot, &gi))
		return 0;
	return gi.epoch;
}

/* Lines (over all CPUs) whose ifindex and destination port are these and
 * whose epoch is `epoch`: their count, the last one in *out. */
static int find_lines(const struct moat_fc *all, uint32_t ifindex,
		      uint16_t dport, uint64_t epoch, struct moat_fc_line *out)
{
	int n = 0;

	for (int c = 0; c < R.ncpu; c++)
		for (unsigned int i = 0; i < MOAT_FC_LINES; i++) {
			const struct moat_fc_line *l = &all[c].line[i];
			struct moat_fc_key p;

			memcpy(&p, l->key, sizeof(l->key));
			if (l->epoch != epoch || l->ifindex != ifindex ||
			    p.dport != dport || p.proto != 17)
				continue;
			if (out)
				*out = *l;
			n++;
		}
	return n;
}

static int fc_read(struct moat_fc *all)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(fc_fd(), &zero, all);
}

static int fc_write(const struct moat_fc *all)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(fc_fd(), &zero, all, BPF_EXIST);
}

TEST(load)
{
	struct moat_image a;

	ASSERT_EQ(unshare(CLONE_NEWNET), 0);
	ASSERT_EQ(system("ip link set lo up && ip link add mf0 type veth peer "
			 "name mf1 && "
			 "ip link set mf0 up"),
		  0);
	ifx2 = if_nametoindex("mf0");
	ASSERT_TRUE(ifx2 > 1);
	ASSERT_EQ(bpfrun_open(&R), 0);
	ASSERT_EQ(bpfrun_compile("fc.rules", RS_A, 100, &a), 0);
	ASSERT_EQ(bpfrun_write(&R, 0, &a, 1), 0);
	moat_image_free(&a);
	ASSERT_TRUE(slot_epoch(0) > 0);
	R_ok = 1;
}

/* a packet leaves its line; a forged position on that line decides */
TEST(line_written_and_used)
{
	struct moat_fc *all = calloc(1, fc_size());
	struct moat_fc_line l;
	uint64_t e = slot_epoch(0);
	int v, found = 0;

	ASSERT_TRUE(R_ok && all);
	ASSERT_EQ(run_udp("192.0.2.1", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP);
	ASSERT_EQ(fc_read(all), 0);
	ASSERT_EQ(find_lines(all, 1, 1, e, &l), 1);
	ASSERT_EQ(l.pos, 0); /* rule 1: drop udp to port 1 */
	{
		struct moat_fc_key p;

		memcpy(&p, l.key, sizeof(l.key));
		ASSERT_EQ(p.saddr[0], inet_addr("192.0.2.1"));
		ASSERT_EQ(p.family, 4);
		ASSERT_EQ(p.sport, 4000);
	}
	/* forge: the same line says rule 2 (pass) -> the packet passes */
	for (int c = 0; c < R.ncpu; c++)
		for (unsigned int i = 0; i < MOAT_FC_LINES; i++)
			if (all[c].line[i].epoch == e &&
			    !memcmp(all[c].line[i].key, l.key, sizeof(l.key)) &&
			    all[c].line[i].ifindex == 1) {
				all[c].line[i].pos = 1;
				found++;
			}
	ASSERT_EQ(found, 1);
	ASSERT_EQ(fc_write(all), 0);
	ASSERT_EQ(run_udp("192.0.2.1", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_PASS);
	/* the same forged line from an older epoch is ignored (and then
	 * rewritten by the classification) */
	for (int c = 0; c < R.ncpu; c++)
		for (unsigned int i = 0; i < MOAT_FC_LINES; i++)
			if (all[c].line[i].epoch == e &&
			    all[c].line[i].ifindex == 1 &&
			    all[c].line[i].pos == 1)
				all[c].line[i].epoch = e - 1;
	ASSERT_EQ(fc_write(all), 0);
	ASSERT_EQ(run_udp("192.0.2.1", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP);
	ASSERT_EQ(fc_read(all), 0);
	ASSERT_EQ(find_lines(all, 1, 1, e, &l), 1);
	ASSERT_EQ(l.pos, 0);
	free(all);
}

/* `on lo`: the same flow on lo (1) is dropped, on mf0 passed; each
 * interface's answer is cached apart and kept */
TEST(ifindex_is_part_of_the_key)
{
	struct moat_fc *all = calloc(1, fc_size());
	uint64_t e = slot_epoch(0);
	int v;

	ASSERT_TRUE(R_ok && all);
	for (int rep = 0; rep < 3; rep++) {
		ASSERT_EQ(run_udp("192.0.2.9", 3, 1, &v), 0);
		ASSERT_EQ(v, XDP_DROP);
		ASSERT_EQ(run_udp("192.0.2.9", 3, ifx2, &v), 0);
		ASSERT_EQ(v, XDP_PASS);
	}
	ASSERT_EQ(fc_read(all), 0);
	ASSERT_EQ(find_lines(all, 1, 3, e, NULL), 1);
	ASSERT_EQ(find_lines(all, ifx2, 3, e, NULL), 1);
	free(all);
}

/* a slot write gets a larger epoch: cached flows follow the swap at once */
TEST(swap_invalidates)
{
	struct moat_image a, b;
	uint64_t e0 = slot_epoch(0), e1;
	int v;

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_compile("fc-b.rules", RS_B, 200, &b), 0);
	ASSERT_EQ(bpfrun_compile("fc.rules", RS_A, 100, &a), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(run_udp("192.0.2.2", 1, 1, &v), 0);
		ASSERT_EQ(v, XDP_DROP); /* A */
		ASSERT_EQ(run_udp("192.0.2.2", 2, 1, &v), 0);
		ASSERT_EQ(v, XDP_PASS);
	}
	ASSERT_EQ(bpfrun_write(&R, 1, &b, 1), 0);
	e1 = slot_epoch(1);
	ASSERT_TRUE(e1 > e0);
	ASSERT_EQ(run_udp("192.0.2.2", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_PASS); /* B, first packet after the swap */
	ASSERT_EQ(run_udp("192.0.2.2", 2, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP);
	/* back to slot 0 unchanged: its lines are still good */
	ASSERT_EQ(moat_slot_activate(&R.fds, 0), 0);
	ASSERT_EQ(run_udp("192.0.2.2", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP);
	/* slot 0 rewritten with B: a new epoch above both */
	ASSERT_EQ(bpfrun_write(&R, 0, &b, 1), 0);
	ASSERT_TRUE(slot_epoch(0) > e1);
	ASSERT_EQ(run_udp("192.0.2.2", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_PASS);
	ASSERT_EQ(run_udp("192.0.2.2", 3, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP); /* B's policy */
	/* and A again, for the next tests */
	ASSERT_EQ(bpfrun_write(&R, 0, &a, 1), 0);
	ASSERT_EQ(run_udp("192.0.2.2", 1, 1, &v), 0);
	ASSERT_EQ(v, XDP_DROP);
	moat_image_free(&a);
	moat_image_free(&b);
}

/* a shadow candidate beside the slot in force: one packet has a line for
 * each (the epoch is part of the line index), both found again */
TEST(shadow_has_its_own_line)
{
	struct moat_fc *all = calloc(1, fc_size());
	struct moat_config c = { .slot = 0, .cand = 1,
				 .mode = MOAT_CAND_SHADOW };
	struct moat_image b;
	struct moat_fc_line l0, l1;
	uint32_t zero = 0;
	int cfd = bpf_map__fd(R.skel->maps.config), v;

	ASSERT_TRUE(R_ok && all);
	ASSERT_EQ(bpfrun_compile("fc-b.rules", RS_B, 200, &b), 0);
	ASSERT_EQ(bpfrun_write(&R, 1, &b, 0), 0);
	moat_image_free(&b);
	ASSERT_EQ(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(run_udp("192.0.2.3", 2, 1, &v), 0);
		ASSERT_EQ(v, XDP_PASS); /* A decides; B would drop */
	}
	c.mode = MOAT_CAND_NONE;
	c.cand = 0;
	ASSERT_EQ(moat_config_write(&R.fds, 0, &c), 0);
	ASSERT_EQ(fc_read(all), 0);
	ASSERT_EQ(find_lines(all, 1, 2, slot_epoch(0), &l0), 1);
	ASSERT_EQ(find_lines(all, 1, 2, slot_epoch(1), &l1), 1);
	ASSERT_EQ(l0.pos, 1); /* A: pass udp to port 2 */
	ASSERT_EQ(l1.pos, 1); /* B: drop udp to port 2 */
	free(all);
}

/* many flows sharing lines, repeated in shuffled order: the same verdict
 * every time, counted once per packet */
TEST(many_flows_repeated)
{
	enum { NF = 20000, REPS = 3 };
	static int first[NF];
	static uint32_t order[NF * REPS];
	uint64_t pk[MOAT_STAT_MAX], drops = 0, passes = 0, rp, rb;
	uint64_t rule_pk = 0;
	unsigned int seed = 1234, bad = 0;
	char src[32];
	int v;

	ASSERT_TRUE(R_ok);
	ASSERT_EQ(bpfrun_stats_reset(&R), 0);
	for (uint32_t id = 100; id < 104; id++) { /* counted from here */
		ASSERT_EQ(bpfrun_rule_stat(&R, id, &rp, &rb), 0);
		rule_pk -= rp;
	}
	for (uint32_t i = 0; i < NF * REPS; i++)
		order[i] = i % NF;
	for (uint32_t i = NF * REPS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand_r(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t i = 0; i < NF; i++)
		first[i] = -1;
	for (uint32_t n = 0; n < NF * REPS; n++) {
		uint32_t f = order[n];

		/* half in 10.0.0.0/8 (rule 4 for port 4), ports 1..5 */
		snprintf(src, sizeof(src), "%u.%u.%u.%u", f % 2 ? 10U : 192U,
			 (f >> 1) & 255, (f >> 9) & 255, 1 + f % 7);
		ASSERT_EQ(run_udp(src, 1 + f % 5, ifx2, &v), 0);
		if (first[f] < 0)
			first[f] = v;
		if (v != first[f] && bad++ < 10)
			TEST_FAIL("flow %u (%s port %u) got %d, first %d", f,
				  src, 1 + f % 5, v, first[f]);
		if (v == XDP_DROP)
			drops++;
		else
			passes++;
	}
	/* the verdicts the rules give: port 1 drop, 2 pass, 3 pass (not on
	 * lo), 4 drop from 10/8, 5 policy pass */
	for (uint32_t f = 0; f < NF; f++) {
		int want = (f % 5 == 0 || (f % 5 == 3 && f % 2)) ? XDP_DROP
								 : XDP_PASS;

		if (first[f] != want && bad++ < 20)
			TEST_FAIL("flow %u: verdict %d, want %d", f, first[f],
				  want);
	}
	ASSERT_EQ(bpfrun_stats(&R, pk, NULL), 0);
	ASSERT_EQ(pk[MOAT_STAT_RX], (uint64_t)NF * REPS);
	ASSERT_EQ(pk[MOAT_STAT_DROP_RULE], drops);
	for (uint32_t id = 100; id < 104; id++) {
		ASSERT_EQ(bpfrun_rule_stat(&R, id, &rp, &rb), 0);
		rule_pk += rp;
	}
	ASSERT_EQ(rule_pk + pk[MOAT_STAT_POLICY_PASS], (uint64_t)NF * REPS);
	ASSERT_EQ(passes, pk[MOAT_STAT_RULE_PASS] + pk[MOAT_STAT_POLICY_PASS]);
}

int main(void)
{
	RUN(load);
	RUN(line_written_and_used);
	RUN(ifindex_is_part_of_the_key);
	RUN(swap_invalidates);
	RUN(shadow_has_its_own_line);
	RUN(many_flows_repeated);
	bpfrun_close(&R);
	return test_summary("fcache");
}
