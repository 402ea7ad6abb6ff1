// SPDX-License-Identifier: GPL-2.0
/* cmd_discard.c - `moat discard`: drop the shadow or canary candidate. */
#include <errno.h>
#include <string.h>
#include <inttypes.h>
#include "cmd.h"
#include "out.h"
#include "log.h"

static int discard_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_config_change ch = {};
	struct moat_devs devs;
	uint32_t gen = 0, kept = 0;
	struct moat_gens *g;
	struct moat_active a;
	uint64_t ports;
	int rc, err;

	rc = moat_change_args(ctx, argc, argv, "moat discard [--dev IFACE]...",
			      &devs, NULL, &a);
	if (rc)
		return rc;
	g = &a.gens;
	if (g->confirm.state == MOAT_CONFIRM_PENDING) {
		pr_err("a change awaits confirmation: `moat rollback` undoes it (a canary on probation ends)\n");
		rc = EXIT_USER;
		goto out;
	}
	err = moat_gens_ports(g, ctx->netns ? ctx->netns : "", devs.name, devs.n,
			      &ports);
	if (err) {
		rc = EXIT_USER;
		goto out;
	}
	if (!moat_gens_end_cand(g, ports, &ch, &gen, &kept)) {
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
