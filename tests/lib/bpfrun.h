/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpfrun.h - data-plane test helper: open and load the moat skeleton
 * without attaching it, write images into slots, run packets through the
 * program with BPF_PROG_TEST_RUN, and read the per-CPU counters summed
 * over all CPUs.
 */
#ifndef MOAT_TEST_BPFRUN_H
#define MOAT_TEST_BPFRUN_H

#include <stddef.h>
#include <stdint.h>

#include "mapwrite.h"

struct moat_bpf;

struct bpfrun {
	struct moat_bpf *skel;
	struct moat_map_fds fds;
	int prog_fd;
	int ncpu;
};

/* Parse and compile rule text (diagnostics printed) into img, giving the
 * rules ids idbase, idbase + 1, ...  Returns 0 or -errno. */
int bpfrun_compile(const char *name, const char *text, uint32_t idbase,
		   struct moat_image *img);

/* Open and load the program (not attached).  Returns 0 or -errno. */
int bpfrun_open(struct bpfrun *r);
void bpfrun_close(struct bpfrun *r);

/* moat_slot_write(slot, img), then moat_slot_activate(slot) if activate. */
int bpfrun_write(struct bpfrun *r, unsigned int slot,
		 const struct moat_image *img, int activate);

/*
 * Run one frame of len bytes arriving on ingress_ifindex (0 = loopback).
 * The kernel refuses frames shorter than an Ethernet header (-EINVAL), as
 * no XDP program can ever see one (bpf_xdp_adjust_head/tail keep 14 bytes
 * too).  *verdict gets the XDP return code.
 * repeat > 1 runs it that many times; *ns_per_run (may be NULL) gets the
 * kernel's average duration.  Returns 0 or -errno.
 */
int bpfrun_run(struct bpfrun *r, const void *pkt, size_t len,
	       uint32_t ingress_ifindex, uint32_t repeat, int *verdict,
	       uint32_t *ns_per_run);

/* bpfrun_run once on ifindex 1, and how far rule_stats[rule] moved over
 * it in *moved (rule < 0: no rule expected, *moved 0).  0 or -errno. */
int bpfrun_run_rule(struct bpfrun *r, const void *pkt, size_t len, int rule,
		    int *verdict, int64_t *moved);

struct moat_imagesim;
struct moat_pkt;

/* One source of a longest-prefix test (test_a4, test_a6): the rule sim
 * gives p (if sim) and the rule the program counts for frame pkt must be
 * `want` (< 0: none; rule plen's prefix length for messages), its verdict
 * drop for even rules, else pass.  0, or -1 with why[n] saying what
 * differed. */
int bpfrun_check_lpm(struct bpfrun *r, const struct moat_imagesim *sim,
		     const struct moat_pkt *p, const void *pkt, size_t len,
		     int want, unsigned int plen, char *why, size_t n);

/* Global counter idx (enum moat_stat), summed over CPUs. */
int bpfrun_stat(struct bpfrun *r, uint32_t idx, uint64_t *packets,
		uint64_t *bytes);
/* All global counters: packets[MOAT_STAT_MAX], bytes may be NULL. */
int bpfrun_stats(struct bpfrun *r, uint64_t *packets, uint64_t *bytes);
/* Per-rule counter rule_stats[id], summed over CPUs. */
int bpfrun_rule_stat(struct bpfrun *r, uint32_t id, uint64_t *packets,
		     uint64_t *bytes);
/* Zero every global counter. */
int bpfrun_stats_reset(struct bpfrun *r);
/* Empty the microflow cache (mflow) on every CPU: the next packet of any
 * flow takes the slow path. */
int bpfrun_mf_clear(struct bpfrun *r);

#endif /* MOAT_TEST_BPFRUN_H */
