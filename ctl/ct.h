/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ct.h - connection tracking, control-plane side: the per-slot config
 * (timeouts, table size, whether any rule uses `state`), the flow tables'
 * sizes, and reading the tables for `moat conntrack` and `moat stats`.
 */
#ifndef MOAT_CTL_CT_H
#define MOAT_CTL_CT_H

#include <stdbool.h>
#include <stdint.h>
#include "ruleset.h"

extern const uint32_t moat_ct_default_timeout[MOAT_CT_T_MAX];

/* The slot's ct_config from the rule set: defaults where the file's
 * `conntrack { }` says nothing; enabled when a rule uses `state`; fast
 * when rule 0 is `pass state ...` alone.  Mixes the settings into *hash
 * when the file has a conntrack statement. */
void moat_ct_config_build(const struct moat_ruleset *rs,
			  struct moat_ct_config *c, uint64_t *hash);

/* ct_config[slot] = c (fd of the ct_config map). */
int moat_ct_config_write(int fd, unsigned int slot,
			 const struct moat_ct_config *c);

/* Size of the flow tables when moat creates its maps (0 = default). */
extern uint32_t moat_ct_max_hint;

/* Before loading a moat object whose maps are pinned under root/maps:
 * size ct_est / ct_new like the pinned ones (or from moat_ct_max_hint
 * when not pinned yet), so libbpf can reuse or create them. */
struct bpf_object;
int moat_ct_prepare_obj(struct bpf_object *obj, const char *root);

struct moat_ct_entry {
	struct moat_ct_key key;
	struct moat_ct_val val;
	bool est; /* in ct_est (else ct_new) */
};

/* Every entry of both tables (map fds), expired ones too.  Caller frees
 * *v.  Returns 0 or -errno. */
int moat_ct_read(int est_fd, int new_fd, struct moat_ct_entry **v, size_t *n);

/* Seconds until e expires (negative: expired) given the config in force
 * and now (CLOCK_MONOTONIC ns). */
int64_t moat_ct_expires_in(const struct moat_ct_entry *e,
			   const struct moat_ct_config *c, uint64_t now);

/* Print the conntrack part of `moat stats` (out.h, inside an open object):
 * table fill, evictions, per-state packets.  root: the state directory. */
void moat_ct_stats_out(const char *root);

#endif /* MOAT_CTL_CT_H */

/* The TC egress program on ifindex (clsact egress, handle/prio
 * MOAT_TC_HANDLE): attach (replacing ours), detach (ENOENT is fine),
 * query (prog id, 0 when absent).  Current network namespace. */
struct moat_state;
int moat_tc_attach(struct moat_state *st, unsigned int ifindex,
		   uint32_t port);
int moat_tc_detach(unsigned int ifindex);
uint32_t moat_tc_prog_id(unsigned int ifindex);
