// SPDX-License-Identifier: GPL-2.0
/* cmd_discard.c - `moat discard`: drop the shadow or canary candidate. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <inttypes.h>
#include "cmd.h"
#include "out.h"
#include "log.h"

static int discard_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct moat_config_change ch = {};
	char devs[MOAT_MAX_PORTS][IF_NAMESIZE];
	uint32_t gen = 0, kept = 0;
	size_t ndevs = 0;
	struct moat_gens *g;
	struct moat_active a;
	uint64_t ports;
	int rc, err, opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+d:j", opts, NULL)) != -1) {
		if (opt == 'j') {
			ctx->json = true;
		} else if (opt == 'd' && ndevs < MOAT_MAX_PORTS &&
			   strlen(optarg) < IF_NAMESIZE) {
			snprintf(devs[ndevs++], IF_NAMESIZE, "%s", optarg);
		} else {
			pr_err("usage: moat discard [--dev IFACE]...\n");
			return EXIT_USER;
		}
	}
	if (optind != argc) {
		pr_err("usage: moat discard [--dev IFACE]...\n");
		return EXIT_USER;
	}
	rc = moat_active_open(&a, true);
	if (rc)
		return rc;
	if (!a.loaded) {
		pr_err("moat is not active: nothing applied yet\n");
		rc = EXIT_USER;
		goto out;
	}
	g = &a.gens;
	if (g->confirm.state == MOAT_CONFIRM_PENDING) {
		pr_err("a change awaits confirmation: `moat rollback` undoes it (a canary on probation ends)\n");
		rc = EXIT_USER;
		goto out;
	}
	err = moat_gens_ports(g, ctx->netns ? ctx->netns : "", devs, ndevs,
			      &ports);
	if (err) {
		rc = EXIT_USER;
		goto out;
	}
	for (size_t i = 0; i < g->nrecs; i++) {
		uint32_t p = g->recs[i].port;
		const struct moat_config *c = &g->cfg[p];

		if (!((ports >> p) & 1) || c->mode == MOAT_CAND_NONE)
			continue;
		ch.ports |= 1ULL << p;
		ch.want[p].slot = c->slot;
		gen = moat_gens_gen(g, c->cand);
		kept = moat_gens_gen(g, c->slot);
	}
	if (!ch.ports) {
		pr_err("nothing to discard: no shadow or canary candidate\n");
		rc = EXIT_USER;
		goto out;
	}
	moat_test_pause("discarding");
	err = moat_gens_commit(&a.st, g, &ch);
	if (err) {
		pr_err("cannot discard: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_u64("discarded_generation", "discarded generation %" PRIu64, gen);
	out_u64("generation", "; generation %" PRIu64 " decides every packet\n",
		kept);
	out_obj_close();
	out_finish();
out:
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_discard = {
	.name = "discard",
	.fn = discard_main,
	.summary = "drop the shadow or canary candidate",
	.usage = "usage: moat discard [--dev IFACE]... [--json]\n"
		 "\n"
		 "Drop the candidate loaded with `moat apply --shadow` or `--canary`:\n"
		 "the rule set in force decides every packet again.  The rule set in\n"
		 "force, and what `moat rollback` returns to, do not change.\n",
};
