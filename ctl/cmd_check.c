// SPDX-License-Identifier: GPL-2.0
/* cmd_check.c - `moat check FILE`: parse and compile, touch nothing. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include "cmd.h"
#include "log.h"
#include "out.h"

static int check_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct moat_diags diags = {};
	struct moat_ruleset rs;
	struct moat_image img;
	const char *path;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+j", opts, NULL)) != -1) {
		if (opt == 'j')
			ctx->json = true;
		else
			return EXIT_USER;
	}
	if (optind != argc - 1) {
		pr_err("usage: moat check [--json] FILE\n");
		return EXIT_USER;
	}
	path = argv[optind];
	rc = moat_build(path, &rs, &img, &diags);

	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_str("file", "%s: ", path);
	out_bool("ok", NULL, rc == EXIT_OK);
	if (rc == EXIT_OK) {
		out_u64("rules", "ok: %" PRIu64 " rules", img.nrules);
		out_u64("sets", ", %" PRIu64 " sets", rs.nsets);
		out_str("policy", ", policy %s", moat_action_name(rs.policy));
		out_u64("tuples", ", %" PRIu64 " tuples", img.info.ntuples);
		out_u64("classifier_entries", ", %" PRIu64 " classifier entries",
			img.ncls);
		out_u64("prefixes", ", %" PRIu64 " prefixes",
			img.nlpm4 + img.nlpm6);
		out_text("\n");
	} else {
		out_text("failed\n");
	}
	if (ctx->json) {
		out_u64("errors", NULL, diags.nerrors);
		out_arr_open("diagnostics");
		for (size_t i = 0; i < diags.n; i++) {
			const struct moat_diag *d = &diags.v[i];

			out_obj_open(NULL);
			out_str("level", NULL,
				d->level == MOAT_DIAG_ERROR	? "error" :
				d->level == MOAT_DIAG_WARNING ? "warning" :
								  "note");
			out_str("file", NULL, d->loc.file);
			out_u64("line", NULL, d->loc.line);
			out_u64("col", NULL, d->loc.col);
			out_str("message", NULL, d->msg);
			out_obj_close();
		}
		out_arr_close();
	}
	out_obj_close();
	out_finish();
	if (rc == EXIT_OK) {
		moat_image_free(&img);
		moat_ruleset_free(&rs);
	}
	moat_diags_free(&diags);
	return rc;
}

const struct moat_cmd cmd_check = {
	.name = "check",
	.fn = check_main,
	.summary = "parse and compile a rule file; change nothing",
	.usage = "usage: moat check [--json] FILE\n"
		 "\n"
		 "Parse and compile FILE (following includes and set files) without\n"
		 "touching the kernel.  Every error is printed as\n"
		 "FILE:LINE:COL: error: message.  Interfaces named by `on` and\n"
		 "`redirect` must exist (in the namespace given by -n).\n"
		 "Exit 0 when the file is good, 1 when it has errors.\n",
};
