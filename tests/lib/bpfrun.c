// SPDX-License-Identifier: GPL-2.0
/*
 * bpfrun.c - load the moat program for tests and run packets through it
 * with BPF_PROG_TEST_RUN (see bpfrun.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "moat.skel.h"
#include "bpfrun.h"
#include "compile.h"
#include "imagesim.h"
#include "ct.h"
#include "parse.h"

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_WARN && !strstr(fmt, "skipping unrecognized"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

int bpfrun_open(struct bpfrun *r)
{
	struct moat_bpf *s;
	int err;

	memset(r, 0, sizeof(*r));
	libbpf_set_print(libbpf_quiet);
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0)
		return r->ncpu ? r->ncpu : -EINVAL;
	s = moat_bpf__open();
	if (!s)
		return errno ? -errno : -EINVAL;
	err = moat_bpf__load(s);
	if (err) {
		moat_bpf__destroy(s);
		return err;
	}
	r->skel = s;
	r->prog_fd = bpf_program__fd(s->progs.moat_xdp);
	err = moat_map_fds_from_obj(s->obj, &r->fds);
	if (err) {
		moat_bpf__destroy(s);
		r->skel = NULL;
		return err;
	}
	return 0;
}

void bpfrun_close(struct bpfrun *r)
{
	if (r->skel)
		moat_bpf__destroy(r->skel);
	r->skel = NULL;
}

int bpfrun_write(struct bpfrun *r, unsigned int slot,
		 const struct moat_image *img, int activate)
{
	int err = moat_slot_write(&r->fds, slot, img);

	if (!err) /* connection tracking config of the slot */
		err = moat_ct_config_write(bpf_map__fd(r->skel->maps.ct_config),
					   slot, &img->ct);
	if (!err && activate)
		err = moat_slot_activate(&r->fds, slot);
	return err;
}

int bpfrun_run(struct bpfrun *r, const void *pkt, size_t len,
	       uint32_t ingress_ifindex, uint32_t repeat, int *verdict,
	       uint32_t *ns_per_run)
{
	struct xdp_md ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	ctx.data_end = len;
	ctx.ingress_ifindex = ingress_ifindex;
	opts.data_in = pkt;
	opts.data_size_in = len;
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = repeat;
	err = bpf_prog_test_run_opts(r->prog_fd, &opts);
	if (err)
		return err;
	if (verdict)
		*verdict = opts.retval;
	if (ns_per_run)
		*ns_per_run = opts.duration;
	return 0;
}

static int percpu_sum(struct bpfrun *r, int fd, uint32_t idx,
		      uint64_t *packets, uint64_t *bytes)
{
	struct moat_counter *v = calloc(r->ncpu, sizeof(*v));
	uint64_t p = 0, b = 0;
	int i, err;

	if (!v)
		return -ENOMEM;
	err = bpf_map_lookup_elem(fd, &idx, v);
	if (!err) {
		for (i = 0; i < r->ncpu; i++) {
			p += v[i].packets;
			b += v[i].bytes;
		}
		if (packets)
			*packets = p;
		if (bytes)
			*bytes = b;
	}
	free(v);
	return err;
}

int bpfrun_stat(struct bpfrun *r, uint32_t idx, uint64_t *packets,
		uint64_t *bytes)
{
	uint64_t p[MOAT_STAT_MAX], b[MOAT_STAT_MAX];
	int err;

	if (idx != MOAT_STAT_RX)
		return percpu_sum(r, r->fds.stats, idx, packets, bytes);
	err = bpfrun_stats(r, p, b); /* rx: the verdicts' sum */
	if (!err && packets)
		*packets = p[MOAT_STAT_RX];
	if (!err && bytes)
		*bytes = b[MOAT_STAT_RX];
	return err;
}

int bpfrun_stats(struct bpfrun *r, uint64_t *packets, uint64_t *bytes)
{
	uint64_t p[MOAT_STAT_MAX], b[MOAT_STAT_MAX];
	uint32_t i;
	int err;

	for (i = 0; i < MOAT_STAT_MAX; i++) {
		err = percpu_sum(r, r->fds.stats, i, &p[i], &b[i]);
		if (err)
			return err;
	}
	moat_stats_fill_rx((__u64 *)p, (__u64 *)b); /* as ctl: not counted per packet */
	if (packets)
		memcpy(packets, p, sizeof(p));
	if (bytes)
		memcpy(bytes, b, sizeof(b));
	return 0;
}

int bpfrun_rule_stat(struct bpfrun *r, uint32_t id, uint64_t *packets,
		     uint64_t *bytes)
{
	return percpu_sum(r, r->fds.rule_stats, id, packets, bytes);
}

int bpfrun_run_rule(struct bpfrun *r, const void *pkt, size_t len, int rule,
		    int *verdict, int64_t *moved)
{
	uint64_t p0 = 0, p1 = 0;
	int err;

	if (rule >= 0)
		bpfrun_rule_stat(r, (uint32_t)rule, &p0, NULL);
	err = bpfrun_run(r, pkt, len, 1, 1, verdict, NULL);
	if (!err && rule >= 0)
		bpfrun_rule_stat(r, (uint32_t)rule, &p1, NULL);
	*moved = (int64_t)(p1 - p0);
	return err;
}

int bpfrun_check_lpm(struct bpfrun *r, const struct moat_imagesim *sim,
		     const struct moat_pkt *p, const void *pkt, size_t len,
		     int want, unsigned int plen, char *why, size_t n)
{
	int xdp = -1, exp, got;
	int64_t moved = 0;

	if (sim && (got = moat_imagesim_lookup(sim, p)) != want) {
		snprintf(why, n, "imagesim rule %d, longest prefix rule %d", got,
			 want);
		return -1;
	}
	if (bpfrun_run_rule(r, pkt, len, want, &xdp, &moved)) {
		snprintf(why, n, "test run failed");
		return -1;
	}
	exp = want >= 0 && want % 2 == 0 ? XDP_DROP : XDP_PASS;
	if (xdp != exp || (want >= 0 && moved != 1)) {
		snprintf(why, n,
			 "verdict %d, want %d (longest prefix: rule %d, /%u; its counter moved by %lld)",
			 xdp, exp, want, plen, (long long)moved);
		return -1;
	}
	return 0;
}

int bpfrun_stats_reset(struct bpfrun *r)
{
	struct moat_counter *z = calloc(r->ncpu, sizeof(*z));
	uint32_t i;
	int err = 0;

	if (!z)
		return -ENOMEM;
	for (i = 0; i < MOAT_STAT_MAX && !err; i++)
		err = bpf_map_update_elem(r->fds.stats, &i, z, BPF_ANY);
	free(z);
	return err;
}

int bpfrun_mf_clear(struct bpfrun *r)
{
	struct moat_mf *z = calloc(r->ncpu, sizeof(*z));
	uint32_t zero = 0;
	int err;

	if (!z)
		return -ENOMEM;
	err = bpf_map_update_elem(bpf_map__fd(r->skel->maps.mflow), &zero, z,
				  BPF_ANY);
	free(z);
	return err ? -errno : 0;
}

int bpfrun_compile(const char *name, const char *text, uint32_t idbase,
		   struct moat_image *img)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	int err;

	memset(&rs, 0, sizeof(rs));
	memset(&d, 0, sizeof(d));
	memset(img, 0, sizeof(*img));
	err = moat_parse_string(name, text, NULL, &rs, &d);
	if (!err)
		err = moat_compile(&rs, NULL, img, &d);
	if (err)
		moat_diags_print(&d, stdout);
	for (size_t i = 0; !err && i < img->nrules; i++)
		img->rules[i].id = idbase + (uint32_t)i;
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	return err;
}
