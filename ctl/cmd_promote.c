// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_promote.c - `moat promote [--canary PERCENT]`: enforce the shadow or
 * canary candidate on every flow (atomically per packet), or change the
 * share of flows a canary decides (a shadow becomes a canary).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <inttypes.h>
#include "cmd.h"
#include "out.h"
#include "counters.h"
#include "log.h"

/* A shadow's matches were only counted: give its rules that the rule set
 * in force does not share (by id) those counts, so they keep them. */
static void keep_shadow_counts(struct moat_state *st,
			       const struct moat_gen_meta *cand,
			       const struct moat_gen_meta *old)
{
	int cfd = moat_pin_open(st, "cand_rules");

	if (cfd < 0)
		return;
	for (size_t i = 0; i < cand->nrules && i < MOAT_MAX_RULES; i++) {
		struct moat_cand_rule c;
		bool shared = false;

		for (size_t j = 0; old && j < old->nrules && !shared; j++)
			shared = old->rules[j].id == cand->rules[i].id;
		if (shared || moat_cand_rule_read(cfd, i, &c) || !c.packets)
			continue;
		moat_counter_add(st->fds.rule_stats, cand->rules[i].id,
				 c.packets, c.bytes);
	}
	close(cfd);
}

static int promote_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_config_change ch = {};
	struct moat_devs devs;
	uint32_t x100 = 0, gen = 0, oldgen = 0;
	struct moat_gens *g;
	struct moat_active a;
	uint64_t ports;
	int rc, err;

	rc = moat_change_args(ctx, argc, argv,
			      "moat promote [--canary PERCENT] [--dev IFACE]...",
			      &devs, &x100, &a);
	if (rc)
		return rc;
	g = &a.gens;
	err = moat_gens_ports(g, ctx->netns ? ctx->netns : "", devs.name, devs.n,
			      &ports);
	if (err) {
		rc = EXIT_USER;
		goto out;
	}
	if (g->confirm.state == MOAT_CONFIRM_PENDING) {
		if (!x100) {
			pr_err("a change awaits confirmation: run `moat confirm` (or `moat rollback`) before promoting\n");
			rc = EXIT_USER;
			goto out;
		}
		/* widen a canary on probation: the revert stays as armed,
		 * and so do the ports it names */
		ports = g->confirm.ports;
		memcpy(ch.revert, g->confirm.revert, sizeof(ch.revert));
		memcpy(ch.want, g->cfg, sizeof(ch.want));
	}
	for (size_t i = 0; i < g->nrecs; i++) {
		struct moat_iface_rec *r = &g->recs[i];
		const struct moat_config *c = &g->cfg[r->port];

		if (!((ports >> r->port) & 1) || c->mode == MOAT_CAND_NONE)
			continue;
		ch.ports |= 1ULL << r->port;
		ch.want[r->port] = *c;
		gen = moat_gens_gen(g, c->cand);
		oldgen = moat_gens_gen(g, c->slot);
		if (x100) {
			ch.want[r->port].mode = MOAT_CAND_CANARY;
			ch.want[r->port].canary = moat_canary_threshold(x100);
			continue;
		}
		if (c->mode == MOAT_CAND_SHADOW && g->have[c->cand])
			keep_shadow_counts(&a.st, &g->meta[c->cand],
					   g->have[c->slot] ? &g->meta[c->slot] :
							      NULL);
		memset(&ch.want[r->port], 0, sizeof(ch.want[r->port]));
		ch.want[r->port].slot = c->cand;
		r->prev = c->slot;
	}
	if (!ch.ports) {
		pr_err("nothing to promote: no shadow or canary candidate (load one with `moat apply --shadow` or `--canary`)\n");
		rc = EXIT_USER;
		goto out;
	}
	if (g->confirm.state == MOAT_CONFIRM_PENDING)
		ch.ports = g->confirm.ports; /* unchanged ports keep theirs */
	moat_test_pause("promoting");
	err = moat_gens_commit(&a.st, g, &ch);
	if (err) {
		pr_err("cannot promote: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_u64("generation", "generation %" PRIu64, gen);
	if (x100) {
		out_str("mode", NULL, "canary");
		out_u64("canary_percent_x100", NULL, x100);
		out_text(" now decides %u.%02u%% of flows (generation %u the rest)\n",
			 x100 / 100, x100 % 100, oldgen);
	} else {
		out_str("mode", NULL, "enforce");
		out_u64("previous_generation",
			" is in force on every flow; generation %" PRIu64
			" is kept for `moat rollback`\n",
			oldgen);
	}
	out_obj_close();
	out_finish();
out:
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_promote = {
	.name = "promote",
	.fn = promote_main,
	.summary = "enforce the shadow or canary candidate, or widen a canary",
	.usage = "usage: moat promote [--canary PERCENT] [--dev IFACE]... [--json]\n"
		 "\n"
		 "Without --canary: enforce the candidate loaded with `moat apply\n"
		 "--shadow` or `--canary` on every flow, atomically per packet.  A\n"
		 "shadow's rules keep the packets they matched in their counters.  The\n"
		 "rule set it replaces stays for `moat rollback`.\n"
		 "\n"
		 "  --canary PERCENT  let the candidate decide PERCENT of flows (by\n"
		 "                    flow hash; a flow in the canary stays in it as it\n"
		 "                    widens); turns a shadow into a canary\n"
		 "  --dev IFACE       only on IFACE (repeatable; default every\n"
		 "                    interface with a candidate)\n",
};
