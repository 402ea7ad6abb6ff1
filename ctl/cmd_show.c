// SPDX-License-Identifier: GPL-2.0
/* cmd_show.c - `moat show`: the rule set in force, normalised. */
#include <inttypes.h>
#include "cmd.h"
#include "log.h"
#include "out.h"

static int show_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_active a;
	int rc;

	rc = moat_active_require(ctx, argc, argv, "moat show [--json]", false,
				 &a);
	if (rc)
		return rc;
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_text("# generation %u from %s\n", a.meta.gen, a.meta.source);
	out_u64("generation", NULL, a.meta.gen);
	out_str("source", NULL, a.meta.source);
	out_str("policy", "policy %s\n", moat_action_name(a.meta.policy));
	out_arr_open("sets");
	for (size_t i = 0; i < a.meta.nsets; i++) {
		const struct moat_meta_set *s = &a.meta.sets[i];

		out_obj_open(NULL);
		out_str("name", "set %s ", s->name);
		if (s->file)
			out_str("file", "file \"%s\"", s->file);
		else
			out_null("file", NULL);
		if (s->elems)
			out_str("elements", s->file ? "" : "{ %s }", s->elems);
		out_u64("count", "  # %" PRIu64 " elements\n", s->count);
		out_obj_close();
	}
	out_arr_close();
	out_arr_open("rules");
	for (size_t i = 0; i < a.meta.nrules; i++) {
		const struct moat_meta_rule *r = &a.meta.rules[i];

		out_obj_open(NULL);
		out_str("rule", "%s", r->norm);
		out_str("file", "  # %s", r->file);
		out_u64("line", ":%" PRIu64 "\n", r->line);
		out_u64("id", NULL, r->id);
		out_obj_close();
	}
	out_arr_close();
	out_obj_close();
	out_finish();
	moat_active_close(&a);
	return EXIT_OK;
}

const struct moat_cmd cmd_show = {
	.name = "show",
	.fn = show_main,
	.summary = "print the rule set in force, normalised",
	.usage = "usage: moat show [--json]\n"
		 "\n"
		 "Print the rule set in force in normalised form: the policy, the sets\n"
		 "(small sets in full, large ones by size and file) and every rule with\n"
		 "the file and line it came from.\n",
};
