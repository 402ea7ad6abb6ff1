// SPDX-License-Identifier: GPL-2.0
/* cmd_stats.c - `moat stats`: per-rule, policy and drop-reason counters. */
#include <inttypes.h>
#include <string.h>
#include "cmd.h"
#include "counters.h"
#include "ct.h"
#include "log.h"
#include "out.h"

static void counter_obj(const char *key, const struct moat_counter *c)
{
	out_obj_open(key);
	out_u64("packets", "%12" PRIu64, c->packets);
	out_u64("bytes", " %14" PRIu64, c->bytes);
	out_obj_close();
}

static int stats_main(struct moat_ctx *ctx, int argc, char **argv)
{
	__u64 sp[MOAT_STAT_MAX], sb[MOAT_STAT_MAX];
	struct moat_counter c, pol;
	struct moat_active a;
	int rc, err;

	rc = moat_active_require(ctx, argc, argv, "moat stats [--json]", false,
				 &a);
	if (rc)
		return rc;
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_u64("generation", NULL, a.meta.gen);
	out_text("%12s %14s  %s\n", "packets", "bytes", "rule");
	out_arr_open("rules");
	for (size_t i = 0; i < a.meta.nrules; i++) {
		const struct moat_meta_rule *r = &a.meta.rules[i];

		err = moat_counter_read(a.st.fds.rule_stats, r->id, &c);
		if (err) {
			pr_err("cannot read counters: %s\n", strerror(-err));
			rc = EXIT_SYS;
			break;
		}
		out_obj_open(NULL);
		out_u64("packets", "%12" PRIu64, c.packets);
		out_u64("bytes", " %14" PRIu64, c.bytes);
		out_str("file", "  %s", r->file);
		out_u64("line", ":%" PRIu64, r->line);
		out_str("text", ": %s\n", r->text);
		out_u64("id", NULL, r->id);
		out_str("rule", NULL, r->norm);
		out_obj_close();
	}
	out_arr_close();

	memset(&pol, 0, sizeof(pol));
	moat_counter_read(a.st.fds.stats, a.meta.policy == MOAT_ACT_DROP ?
						  MOAT_STAT_DROP_POLICY :
						  MOAT_STAT_POLICY_PASS,
			  &pol);
	out_obj_open("policy");
	out_u64("packets", "%12" PRIu64, pol.packets);
	out_u64("bytes", " %14" PRIu64, pol.bytes);
	out_str("verdict", "  policy %s\n", moat_action_name(a.meta.policy));
	out_obj_close();

	for (int s = 0; s < MOAT_STAT_MAX; s++) {
		memset(&c, 0, sizeof(c));
		moat_counter_read(a.st.fds.stats, s, &c);
		sp[s] = c.packets;
		sb[s] = c.bytes;
	}
	moat_stats_fill_rx(sp, sb); /* not counted per packet */
	out_text("\ncounters:\n");
	out_obj_open("counters");
	for (int s = 0; s < MOAT_STAT_MAX; s++) {
		if (s == MOAT_STAT_FIRST_DROP) {
			out_obj_close();
			out_text("drop reasons:\n");
			out_obj_open("drop_reasons");
		}
		c.packets = sp[s];
		c.bytes = sb[s];
		counter_obj(moat_stat_names[s], &c);
		out_text("  %s\n", moat_stat_names[s]);
	}
	out_obj_close();
	moat_ct_stats_out(a.st.root); /* flow tables: fill, evictions */
	out_obj_close();
	out_finish();
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_stats = {
	.name = "stats",
	.fn = stats_main,
	.summary = "per-rule, policy and drop-reason counters",
	.usage = "usage: moat stats [--json]\n"
		 "\n"
		 "Packets and bytes matched by each rule in force (with its file, line\n"
		 "and text), by the policy, and the global counters including every\n"
		 "drop reason.  Counters are per-CPU in the kernel and summed here.\n"
		 "A rule keeps its counters across applies while its text is unchanged.\n"
		 "JSON: {\"rules\": [{\"file\", \"line\", \"text\", \"packets\", \"bytes\", ...}],\n"
		 "\"policy\": {...}, \"counters\": {...}, \"drop_reasons\": {...}}\n",
};
