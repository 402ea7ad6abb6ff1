// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_rollback.c - `moat rollback`: undo the last change at once.  A
 * change on probation (--confirm) is undone by the kernel's command; a
 * canary or shadow candidate is ended; otherwise each interface goes back
 * to the rule set it enforced before.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "cmd.h"
#include "confirm.h"
#include "log.h"

/* the rule set's redirect targets may have been pruned since */
static void restore_redirects(struct moat_state *st,
			      const struct moat_gen_meta *m)
{
	for (size_t i = 0; i < m->nredirects; i++)
		bpf_map_update_elem(st->fds.redirect_map, &m->redirects[i],
				    &m->redirects[i], BPF_ANY);
}

static int rollback_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_config_change ch = {};
	struct moat_devs devs;
	struct moat_gens *g;
	struct moat_active a;
	uint64_t ports;
	uint32_t undone = 0, back = 0;
	int rc, err;

	rc = moat_change_args(ctx, argc, argv, "moat rollback [--dev IFACE]...",
			      &devs, NULL, &a);
	if (rc)
		return rc;
	g = &a.gens;
	if (g->confirm.state == MOAT_CONFIRM_PENDING) {
		if (devs.n)
			pr_warn("a change is on probation: rolling it back on every interface it moved\n");
		for (uint32_t p = 0; p < MOAT_MAX_PORTS; p++) {
			const struct moat_config *r = &g->confirm.revert[p];

			if ((g->confirm.ports >> p) & 1 && r->slot < MOAT_SLOTS &&
			    g->have[r->slot])
				restore_redirects(&a.st, &g->meta[r->slot]);
		}
		err = moat_confirm_run(&a.st, MOAT_CONFIRM_ROLLBACK, NULL, 0);
		if (err)
			goto sys_err;
		printf("rolled back: generation %u is in force again (generation %u was undone)\n",
		       g->confirm.revert_gen, g->confirm.gen);
		goto out;
	}
	err = moat_gens_ports(g, ctx->netns ? ctx->netns : "", devs.name, devs.n,
			      &ports);
	if (err) {
		rc = EXIT_USER;
		goto out;
	}
	/* a candidate: end it */
	if (moat_gens_end_cand(g, ports, &ch, &undone, &back)) {
		err = moat_gens_commit(&a.st, g, &ch);
		if (err)
			goto sys_err;
		printf("rolled back: the candidate generation %u is gone; generation %u decides every packet again\n",
		       undone, back);
		goto out;
	}
	for (size_t i = 0; i < g->nrecs; i++) {
		struct moat_iface_rec *r = &g->recs[i];
		const struct moat_config *c = &g->cfg[r->port];

		if (!((ports >> r->port) & 1) || r->prev < 0 ||
		    r->prev == c->slot || !g->have[r->prev])
			continue;
		ch.ports |= 1ULL << r->port;
		ch.want[r->port].slot = r->prev;
		restore_redirects(&a.st, &g->meta[r->prev]);
		undone = moat_gens_gen(g, c->slot);
		back = moat_gens_gen(g, r->prev);
		r->prev = c->slot;
	}
	if (!ch.ports) {
		pr_err("there is no previous rule set to roll back to\n");
		rc = EXIT_USER;
		goto out;
	}
	err = moat_gens_commit(&a.st, g, &ch);
	if (err)
		goto sys_err;
	printf("rolled back: generation %u is in force again (generation %u was undone)\n",
	       back, undone);
	goto out;
sys_err:
	pr_err("cannot roll back: %s\n", strerror(-err));
	rc = EXIT_SYS;
out:
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_rollback = {
	.name = "rollback",
	.fn = rollback_main,
	.summary = "undo the last change at once",
	.usage = "usage: moat rollback [--dev IFACE]...\n"
		 "\n"
		 "Undo the last change, atomically for each packet:\n"
		 "  - during a --confirm window: the change on probation is undone\n"
		 "    and its timer cancelled (a canary on probation ends);\n"
		 "  - with a canary or shadow candidate: the candidate is dropped,\n"
		 "    the rule set in force decides every packet again;\n"
		 "  - otherwise: each interface (those named by --dev, default all)\n"
		 "    goes back to the rule set it enforced before.\n"
		 "Rules keep their counters.\n",
};
