// SPDX-License-Identifier: GPL-2.0
/* ct.c - connection tracking, control-plane side (see ct.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ct.h"
#include "out.h"

/* Defaults modelled on the kernel's nf_conntrack. */
const uint32_t moat_ct_default_timeout[MOAT_CT_T_MAX] = {
	[MOAT_CT_T_TCP_SYN] = 120,	  [MOAT_CT_T_TCP_EST] = 432000,
	[MOAT_CT_T_TCP_FIN] = 120,	  [MOAT_CT_T_TCP_TIME_WAIT] = 120,
	[MOAT_CT_T_TCP_CLOSE] = 10,	  [MOAT_CT_T_UDP] = 30,
	[MOAT_CT_T_UDP_STREAM] = 120,	  [MOAT_CT_T_ICMP] = 30,
	[MOAT_CT_T_GENERIC] = 600,
};

uint32_t moat_ct_max_hint;

static uint64_t mix(uint64_t h, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void moat_ct_config_build(const struct moat_ruleset *rs,
			  struct moat_ct_config *c, uint64_t *hash)
{
	const struct moat_ct_settings *cs = &rs->conntrack;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < rs->nrules; i++)
		if (rs->rules[i].ct_states)
			c->enabled = 1;
	if (rs->nrules) {
		const struct moat_rule_ast *r = &rs->rules[0];

		if (r->action == MOAT_ACT_PASS && r->ct_states &&
		    !r->on_if[0] && !r->family && !r->nprotos && !r->src.n &&
		    !r->dst.n && !r->sport.n && !r->dport.n &&
		    !r->has_flags && r->icmp_type < 0 && r->icmp_code < 0 &&
		    r->vlan < 0 && !r->ethertype)
			c->fast = r->ct_states;
	}
	c->max = cs->max ? cs->max : MOAT_CT_DEFAULT_MAX;
	for (int t = 0; t < MOAT_CT_T_MAX; t++)
		c->timeout[t] = cs->timeout[t] ? cs->timeout[t] :
						 moat_ct_default_timeout[t];
	if (cs->given && hash) {
		*hash = mix(*hash, 0x6374); /* "ct" */
		*hash = mix(*hash, c->max);
		for (int t = 0; t < MOAT_CT_T_MAX; t++)
			*hash = mix(*hash, c->timeout[t]);
	}
}

int moat_ct_config_write(int fd, unsigned int slot,
			 const struct moat_ct_config *c)
{
	__u32 k = slot;

	if (slot >= MOAT_SLOTS)
		return -EINVAL;
	return bpf_map_update_elem(fd, &k, c, BPF_ANY) ? -errno : 0;
}

static uint32_t pinned_max(const char *root, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

int moat_ct_prepare_obj(struct bpf_object *obj, const char *root)
{
	uint32_t max = moat_ct_max_hint ? moat_ct_max_hint :
					  MOAT_CT_DEFAULT_MAX;
	struct bpf_map *m;
	int err;

	m = bpf_object__find_map_by_name(obj, "ct_est");
	if (m) {
		uint32_t n = pinned_max(root, "ct_est");

		err = bpf_map__set_max_entries(m, n ? n : max);
		if (err)
			return err;
	}
	m = bpf_object__find_map_by_name(obj, "ct_new");
	if (m) {
		uint32_t n = pinned_max(root, "ct_new");

		if (!n)
			n = max / MOAT_CT_NEW_DIV < MOAT_CT_MIN_MAX ?
				    MOAT_CT_MIN_MAX :
				    max / MOAT_CT_NEW_DIV;
		err = bpf_map__set_max_entries(m, n);
		if (err)
			return err;
	}
	return 0;
}

static int read_one(int fd, bool est, struct moat_ct_entry **v, size_t *n,
		    size_t *cap)
{
	struct moat_ct_key key, next, *prev = NULL;

	if (fd < 0)
		return 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct moat_ct_entry *e;

		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 256;

			e = realloc(*v, nc * sizeof(**v));
			if (!e)
				return -ENOMEM;
			*v = e;
			*cap = nc;
		}
		e = &(*v)[*n];
		memset(e, 0, sizeof(*e));
		if (bpf_map_lookup_elem(fd, &next, &e->val) == 0) {
			e->key = next;
			e->est = est;
			(*n)++;
		}
		key = next;
		prev = &key;
	}
	return 0;
}

int moat_ct_read(int est_fd, int new_fd, struct moat_ct_entry **v, size_t *n)
{
	size_t cap = 0;
	int err;

	*v = NULL;
	*n = 0;
	err = read_one(est_fd, true, v, n, &cap);
	if (!err)
		err = read_one(new_fd, false, v, n, &cap);
	if (err) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return err;
}

int64_t moat_ct_expires_in(const struct moat_ct_entry *e,
			   const struct moat_ct_config *c, uint64_t now)
{
	const struct moat_ct_val *v = &e->val;
	__u32 t = moat_ct_timeout_of(e->key.proto, v, now);

	return ((int64_t)v->last_ns + (int64_t)c->timeout[t] * 1000000000LL -
		(int64_t)now) /
	       1000000000LL;
}

static int open_pin(const char *root, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/maps/%s", root, name);
	return bpf_obj_get(path);
}

static uint32_t map_max(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

static uint64_t ct_stat(int fd, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, sum = 0;

	if (fd < 0 || ncpu <= 0)
		return 0;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(fd, &idx, v))
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

static uint64_t count_keys(int fd)
{
	struct moat_ct_key key, next, *prev = NULL;
	uint64_t n = 0;

	if (fd < 0)
		return 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		n++;
		key = next;
		prev = &key;
	}
	return n;
}

void moat_ct_stats_out(const char *root)
{
	int est = open_pin(root, "ct_est"), nw = open_pin(root, "ct_new");
	int st = open_pin(root, "ct_stats");
	static const char *const pk[] = { "new", "established", "related",
					  "invalid" };
	uint64_t ne, nn, ie, in, de, dn, ev_e, ev_n;

	if (est < 0 || nw < 0 || st < 0)
		goto out;
	ne = count_keys(est);
	nn = count_keys(nw);
	ie = ct_stat(st, MOAT_CT_STAT_EST_INSERT);
	in = ct_stat(st, MOAT_CT_STAT_NEW_INSERT);
	de = ct_stat(st, MOAT_CT_STAT_EST_DELETE);
	dn = ct_stat(st, MOAT_CT_STAT_NEW_DELETE);
	/* flushes count in EST/NEW deletes too (see cmd_conntrack.c) */
	ev_e = ie > de + ne ? ie - de - ne : 0;
	ev_n = in > dn + nn ? in - dn - nn : 0;
	out_text("\nconntrack:\n");
	out_obj_open("conntrack");
	out_obj_open("established");
	out_u64("entries", "  established flows %" PRIu64, ne);
	out_u64("max", " / %" PRIu64, map_max(est));
	out_u64("evictions", ", evicted %" PRIu64 "\n", ev_e);
	out_obj_close();
	out_obj_open("embryonic");
	out_u64("entries", "  embryonic flows   %" PRIu64, nn);
	out_u64("max", " / %" PRIu64, map_max(nw));
	out_u64("evictions", ", evicted %" PRIu64 "\n", ev_n);
	out_obj_close();
	out_u64("insert_failed", "  insert failures %" PRIu64 "\n",
		ct_stat(st, MOAT_CT_STAT_INSERT_FAIL));
	out_u64("egress_packets", "  egress packets seen %" PRIu64 "\n",
		ct_stat(st, MOAT_CT_STAT_EGRESS));
	out_obj_open("packets");
	out_text("  packets by state:");
	for (int i = 0; i < 4; i++) {
		char fmt[48];

		snprintf(fmt, sizeof(fmt), " %s %%" PRIu64, pk[i]);
		out_u64(pk[i], fmt, ct_stat(st, MOAT_CT_STAT_PKT_NEW + i));
	}
	out_text("\n");
	out_obj_close();
	out_obj_close();
out:
	if (est >= 0)
		close(est);
	if (nw >= 0)
		close(nw);
	if (st >= 0)
		close(st);
}

/* ---- the TC egress program ---- */

#include "state.h"
#include "moat.skel.h"

int moat_tc_attach(struct moat_state *st, unsigned int ifindex,
		   uint32_t port)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MOAT_TC_HANDLE,
		    .priority = MOAT_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	struct bpf_program *p;
	struct moat_bpf *skel;
	int err;

	skel = moat_bpf__open();
	if (!skel)
		return errno ? -errno : -EINVAL;
	skel->rodata->moat_port = port;
	err = moat_state_reuse_maps(st, skel->obj);
	if (err)
		goto out;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.moat_tc_egress);
	err = bpf_object__load(skel->obj);
	if (err)
		goto out;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		goto out;
	opts.prog_fd = bpf_program__fd(skel->progs.moat_tc_egress);
	err = bpf_tc_attach(&hook, &opts);
out:
	moat_bpf__destroy(skel);
	return err;
}

int moat_tc_detach(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MOAT_TC_HANDLE,
		    .priority = MOAT_TC_PRIO);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

uint32_t moat_tc_prog_id(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MOAT_TC_HANDLE,
		    .priority = MOAT_TC_PRIO);

	if (bpf_tc_query(&hook, &opts))
		return 0;
	return opts.prog_id;
}
