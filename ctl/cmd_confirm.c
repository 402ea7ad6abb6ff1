// SPDX-License-Identifier: GPL-2.0
/* cmd_confirm.c - `moat confirm`: keep a change applied with --confirm. */
#include <errno.h>
#include <string.h>
#include "cmd.h"
#include "confirm.h"
#include "log.h"

static int confirm_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_active a;
	struct moat_confirm c;
	int rc, err;

	rc = moat_active_require(ctx, argc, argv, "moat confirm", true, &a);
	if (rc)
		return rc;
	err = moat_confirm_read(&a.st, &c);
	if (!err && c.state != MOAT_CONFIRM_PENDING) {
		pr_err("nothing awaits confirmation (last change: %s)\n",
		       moat_confirm_state_name(c.state));
		rc = EXIT_USER;
		goto out;
	}
	if (!err)
		err = moat_confirm_run(&a.st, MOAT_CONFIRM_CONFIRM, NULL, 0);
	if (err == -ENOENT) {
		pr_err("too late: the change was reverted before it could be confirmed\n");
		rc = EXIT_USER;
		goto out;
	}
	if (err) {
		pr_err("cannot confirm: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	printf("generation %u confirmed: it stays in force\n", c.gen);
out:
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_confirm = {
	.name = "confirm",
	.fn = confirm_main,
	.summary = "keep a change applied with --confirm",
	.usage = "usage: moat confirm\n"
		 "\n"
		 "Keep the rule set applied with `moat apply --confirm DURATION`.\n"
		 "Without it, the kernel restores the previous rule set when DURATION\n"
		 "ends, whether or not any moat process (or your shell) is alive.\n",
};
