// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_pkt.c - fuzz target: frames through the real XDP program
 * (BPF_PROG_TEST_RUN on compiled maps) and the reference
 * (tests/lib/rawref.c) together.
 *
 * Input: byte 0 picks one of the rule sets below, byte 1 the ingress
 * interface, the rest is the frame (at least 14 bytes), run twice (the
 * second time from the microflow cache where it keeps the frame).  The
 * verdict and every global counter must move as the reference says each
 * time, and the matched rule's counter by one.  Needs root (BPF, a private network namespace
 * with veths md0-md3 for `on` and `redirect`); without it the target does
 * nothing.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fuzz.h"
#include "bpfbatch.h"
#include "bpfrun.h"
#include "compile.h"
#include "parse.h"
#include "rawref.h"
#include "rulegen.h"

#define NSETS 4
#define NIF 4

static const char *const ifnames[NIF] = { "md0", "md1", "md2", "md3" };
static uint32_t ifx[NIF + 1];
static struct bpfrun R[NSETS];
static struct moat_ruleset RS[NSETS];
static int ready;

static const char handwritten[] =
	"policy drop\n"
	"set bad { 192.0.2.128/25, 2001:db8:bad::/48 }\n"
	"drop from 10.1.0.0/16\n"
	"pass tcp to port 22\n"
	"redirect md1 vlan 100\n"
	"redirect md3 udp to port 7\n" /* md3 is not in redirect_map */
	"drop ethertype arp\n"
	"pass from 10.0.0.0/8\n"
	"drop tcp flags S/SA\n"
	"pass icmp icmp-type echo-request\n"
	"drop icmpv6 icmp-type neighbour-solicitation code 0\n"
	"pass on md0 udp to 198.51.100.0/24\n"
	"pass udp from port 53 to port 80-81\n"
	"drop proto gre\n"
	"pass inet6 from 2001:db8:5::/48 to 2001:db8:6::1\n"
	"pass sctp to port 9000-9100\n"
	"drop from @bad\n"
	"pass { tcp, udp } to port { 443, 8443 }\n"
	"pass vlan 7 inet6\n"
	"pass ethertype lldp vlan 5\n";

static unsigned int resolve(const char *name, void *ctx)
{
	for (int i = 0; i < NIF; i++)
		if (!strcmp(name, ifnames[i]))
			return ifx[i];
	return 0;
}

static bool redirect_ok(uint32_t ifindex, void *ctx)
{
	return ifindex && ifindex != ifx[3];
}

static int load(int k, const char *text)
{
	struct moat_compile_opts co = { .ifindex = resolve };
	struct moat_image img;
	struct moat_diags d;
	int err;

	memset(&img, 0, sizeof(img));
	memset(&d, 0, sizeof(d));
	err = moat_parse_string("fuzz.rules", text, NULL, &RS[k], &d);
	if (!err)
		err = moat_compile(&RS[k], &co, &img, &d);
	if (err) {
		moat_diags_print(&d, stderr);
		goto out;
	}
	for (size_t i = 0; i < img.nrules; i++)
		img.rules[i].id = (uint32_t)i;
	err = bpfrun_open(&R[k]);
	if (!err)
		err = bpfrun_write(&R[k], 1, &img, 1);
	if (!err)
		bpf_map_delete_elem(R[k].fds.redirect_map, &ifx[3]);
out:
	moat_image_free(&img);
	moat_diags_free(&d);
	return err;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) ||
	    system("ip link set lo up && "
		   "ip link add md0 type veth peer name md1 && "
		   "ip link add md2 type veth peer name md3 && "
		   "for i in md0 md1 md2 md3; do ip link set $i up; done")) {
		fprintf(stderr, "fuzz_pkt: needs root and a private netns; doing nothing\n");
		return 0;
	}
	for (int i = 0; i < NIF; i++)
		ifx[i] = if_nametoindex(ifnames[i]);
	ifx[NIF] = 1;
	if (load(0, handwritten))
		abort();
	for (int k = 1; k < NSETS; k++) {
		struct rg_rng rng;
		struct rulegen_opts o = { .nrules = 20 + 20 * (unsigned int)k,
					  .ifnames = ifnames,
					  .nifnames = NIF };
		char *t;

		rg_seed(&rng, 1000 + (uint64_t)k);
		t = rulegen_text(&rng, &o);
		/* a generated set may be over a limit: try the next seed */
		for (int s = 0; load(k, t); s++) {
			moat_ruleset_free(&RS[k]);
			bpfrun_close(&R[k]);
			free(t);
			if (s > 20)
				abort();
			rg_seed(&rng, 2000 + (uint64_t)(k * 100 + s));
			t = rulegen_text(&rng, &o);
		}
		free(t);
	}
	ready = 1;
	return 0;
}

/* One run of frame f through rule set k's program, checked against the
 * reference's verdict v. */
static void run_frame(int k, const uint8_t *f, size_t len, uint32_t ingress,
		      const struct rawref_verdict *vp)
{
	uint64_t p0[MOAT_STAT_MAX], b0[MOAT_STAT_MAX];
	uint64_t p1[MOAT_STAT_MAX], b1[MOAT_STAT_MAX];
	uint64_t rp0 = 0, rb0 = 0, rp1 = 0, rb1 = 0;
	const struct rawref_verdict v = *vp;
	struct bpfrun *r = &R[k];
	int xdp = -1, err;

	if (bpfbatch_stats(r, p0, b0))
		abort();
	if (v.pos >= 0 && bpfrun_rule_stat(r, (uint32_t)v.pos, &rp0, &rb0))
		abort();
	err = bpfrun_run(r, f, len, ingress, 1, &xdp, NULL);
	if (err)
		fuzz_fail("test run of a %zu-byte frame failed: %d", len, err);
	if (xdp != v.xdp) {
		char desc[512];

		rawdec_describe(&v.dec, desc, sizeof(desc));
		fuzz_fail("rule set %d: verdict %d, reference %d (rule %d; %s)",
			  k, xdp, v.xdp, v.pos, desc);
	}
	if (bpfbatch_stats(r, p1, b1))
		abort();
	for (int s = 0; s < MOAT_STAT_MAX; s++) {
		uint64_t want = 0;

		for (int i = 0; i < v.nstats; i++)
			want += v.stats[i] == (uint32_t)s;
		/* the reference has no microflow cache: one or none */
		if (s == MOAT_STAT_SLOW_PATH && p1[s] - p0[s] <= 1)
			want = p1[s] - p0[s];
		if (p1[s] - p0[s] != want || b1[s] - b0[s] != want * len)
			fuzz_fail("rule set %d: counter %s moved by %llu, reference %llu",
				  k, moat_stat_names[s],
				  (unsigned long long)(p1[s] - p0[s]),
				  (unsigned long long)want);
	}
	if (v.pos >= 0) {
		if (bpfrun_rule_stat(r, (uint32_t)v.pos, &rp1, &rb1))
			abort();
		if (rp1 - rp0 != 1 || rb1 - rb0 != len)
			fuzz_fail("rule set %d: the reference's rule %d counted %llu packets",
				  k, v.pos, (unsigned long long)(rp1 - rp0));
	}
}

/* The frame twice: the second run is answered by the microflow cache if
 * the frame is of a shape it keeps (and the fuzzer's next input, often a
 * small mutation of this one, meets the line this one left). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rawref_verdict v;
	uint32_t ingress;
	int k;

	if (!ready || size < 2 + 14 || size > 2 + 3000)
		return 0;
	k = data[0] % NSETS;
	ingress = ifx[data[1] % (NIF + 1)];
	rawref_judge(&RS[k], data + 2, size - 2, ingress, resolve, redirect_ok,
		     NULL, &v);
	run_frame(k, data + 2, size - 2, ingress, &v);
	run_frame(k, data + 2, size - 2, ingress, &v);
	return 0;
}
