// SPDX-License-Identifier: GPL-2.0
/* cmd_rollback.c - `moat rollback`: back to the previous rule set, now. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "cmd.h"
#include "confirm.h"
#include "log.h"

static int rollback_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_gen_meta prev = {};
	struct moat_active a;
	struct moat_confirm c;
	unsigned int from, to;
	int rc, err;

	rc = moat_active_require(ctx, argc, argv, "moat rollback", true, &a);
	if (rc)
		return rc;
	err = moat_confirm_read(&a.st, &c);
	if (err)
		goto sys_err;
	if (c.state == MOAT_CONFIRM_PENDING) {
		from = c.from_slot;
		to = c.revert_to;
	} else {
		from = a.slot;
		to = a.slot ^ 1;
	}
	err = moat_meta_read(&a.st, to, &prev);
	if (err == -ENOENT || (!err && from == to)) {
		pr_err("there is no previous rule set to roll back to\n");
		rc = EXIT_USER;
		goto out;
	}
	if (err)
		goto sys_err;
	/* the previous rule set's redirect targets may have been pruned */
	for (size_t i = 0; i < prev.nredirects; i++)
		bpf_map_update_elem(a.st.fds.redirect_map, &prev.redirects[i],
				    &prev.redirects[i], BPF_ANY);
	err = moat_confirm_run(&a.st, MOAT_CONFIRM_ROLLBACK, from, to, 0);
	if (err)
		goto sys_err;
	printf("rolled back: generation %u is in force again (generation %u was undone)\n",
	       prev.gen, a.meta.gen);
	goto out;
sys_err:
	pr_err("cannot roll back: %s\n", strerror(-err));
	rc = EXIT_SYS;
out:
	moat_meta_free(&prev);
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_rollback = {
	.name = "rollback",
	.fn = rollback_main,
	.summary = "return to the previous rule set at once",
	.usage = "usage: moat rollback\n"
		 "\n"
		 "Put the previous rule set back in force, atomically.  During a\n"
		 "--confirm window this undoes the change on probation and cancels\n"
		 "its timer.  Rules keep their counters.\n",
};
