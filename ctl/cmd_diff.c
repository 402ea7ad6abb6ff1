// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_diff.c - `moat diff`: what the shadow or canary candidate does
 * compared with the rule set in force, from the data plane's counters
 * (cand_stats, cand_rules, shadow_src; include/moat.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cmd.h"
#include "counters.h"
#include "log.h"
#include "out.h"

struct src_ent {
	struct moat_src_key k;
	struct moat_src_val v;
};

static int cmp_src(const void *a, const void *b)
{
	const struct src_ent *x = a, *y = b;
	uint64_t tx = x->v.pass_to_drop + x->v.drop_to_pass;
	uint64_t ty = y->v.pass_to_drop + y->v.drop_to_pass;

	return tx < ty ? 1 : tx > ty ? -1 : memcmp(&x->k, &y->k, sizeof(x->k));
}

static void put_verdicts(const char *key, const char *label,
			 const struct moat_counter *c)
{
	out_obj_open(key);
	out_text("  %-22s", label);
	out_u64("pass", " %12" PRIu64, c[MOAT_ACT_PASS].packets);
	out_u64("drop", " %12" PRIu64, c[MOAT_ACT_DROP].packets);
	out_u64("redirect", " %12" PRIu64 "\n", c[MOAT_ACT_REDIRECT].packets);
	out_obj_close();
}

/* Sources whose verdict would change, most affected first. */
static int put_sources(struct moat_state *st, unsigned int top)
{
	struct src_ent *v = NULL;
	struct moat_src_key k, pk, *prev = NULL;
	size_t n = 0, cap = 0;
	char buf[INET6_ADDRSTRLEN];
	int fd = moat_pin_open(st, "shadow_src");

	if (fd < 0)
		return fd;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (n == cap) {
			struct src_ent *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n].k = k;
		if (!bpf_map_lookup_elem(fd, &k, &v[n].v))
			n++;
		pk = k;
		prev = &pk;
	}
	close(fd);
	if (n)
		qsort(v, n, sizeof(*v), cmp_src);
	out_text("top sources with a changed verdict:\n");
	out_arr_open("sources");
	for (size_t i = 0; i < n && i < top; i++) {
		inet_ntop(v[i].k.family == 6 ? AF_INET6 : AF_INET, v[i].k.addr,
			  buf, sizeof(buf));
		out_obj_open(NULL);
		out_str("address", "  %-40s", buf);
		out_u64("pass_to_drop", " pass->drop %-10" PRIu64,
			v[i].v.pass_to_drop);
		out_u64("drop_to_pass", " drop->pass %" PRIu64 "\n",
			v[i].v.drop_to_pass);
		out_obj_close();
	}
	if (!n)
		out_text("  (none)\n");
	out_arr_close();
	free(v);
	return 0;
}

static int diff_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },
		{}
	};
	struct moat_counter cs[MOAT_CS_MAX];
	const struct moat_gen_meta *cm, *em;
	const struct moat_config *c = NULL;
	struct moat_cand_rule nm;
	unsigned int top = 10;
	bool all = false;
	struct moat_gens *g;
	struct moat_active a;
	uint64_t x100, seen = 0;
	int rc, opt, sfd = -1, rfd = -1;
	char *end;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+j", opts, NULL)) != -1) {
		if (opt == 'j') {
			ctx->json = true;
		} else if (opt == 'a') {
			all = true;
		} else if (opt == 't') {
			top = strtoul(optarg, &end, 10);
			if (*end || !*optarg || top > 100000) {
				pr_err("--top takes a count, not '%s'\n", optarg);
				return EXIT_USER;
			}
		} else {
			pr_err("usage: moat diff [--top N] [--all] [--json]\n");
			return EXIT_USER;
		}
	}
	if (optind != argc) {
		pr_err("usage: moat diff [--top N] [--all] [--json]\n");
		return EXIT_USER;
	}
	rc = moat_active_open(&a, false);
	if (rc)
		return rc;
	g = &a.gens;
	for (size_t i = 0; a.loaded && i < g->nrecs && !c; i++)
		if (g->cfg[g->recs[i].port].mode != MOAT_CAND_NONE)
			c = &g->cfg[g->recs[i].port];
	if (!c || !g->have[c->cand]) {
		pr_err("no candidate to compare: load one with `moat apply --shadow FILE` or `moat apply --canary PERCENT FILE`\n");
		rc = EXIT_USER;
		goto out;
	}
	cm = &g->meta[c->cand];
	em = g->have[c->slot] ? &g->meta[c->slot] : NULL; /* NULL: nothing
							     * applied yet */
	sfd = moat_pin_open(&a.st, "cand_stats");
	rfd = moat_pin_open(&a.st, "cand_rules");
	if (sfd < 0 || rfd < 0) {
		pr_err("cannot read the candidate counters: %s\n",
		       strerror(-(sfd < 0 ? sfd : rfd)));
		rc = EXIT_SYS;
		goto out;
	}
	for (uint32_t i = 0; i < MOAT_CS_MAX; i++)
		if (moat_counter_read(sfd, i, &cs[i])) {
			rc = EXIT_SYS;
			goto out;
		}
	for (int i = 0; i < 3; i++)
		seen += cs[MOAT_CS_ENFORCED + i].packets +
			cs[MOAT_CS_CANARY + i].packets;

	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_str("mode", "%s: ", c->mode == MOAT_CAND_SHADOW ? "shadow" : "canary");
	out_u64("generation", "generation %" PRIu64, cm->gen);
	out_str("source", " (%s)", cm->source);
	out_u64("enforced_generation", " beside generation %" PRIu64,
		em ? em->gen : 0);
	out_str("enforced_source", " (%s)\n",
		em ? em->source : "none: no rule set, every packet passes");
	x100 = moat_canary_x100(c->canary);
	if (c->mode == MOAT_CAND_CANARY) {
		out_u64("canary_percent_x100", NULL, x100);
		out_text("  the candidate decides %" PRIu64 ".%02" PRIu64
			 "%% of flows\n",
			 x100 / 100, x100 % 100);
	}
	out_u64("packets", "  packets                %12" PRIu64 "\n", seen);
	out_text("  verdicts (packets)          pass         drop     redirect\n");
	put_verdicts("enforced", c->mode == MOAT_CAND_SHADOW ?
					 "in force" :
					 "in force (rest)",
		     &cs[MOAT_CS_ENFORCED]);
	if (c->mode == MOAT_CAND_SHADOW)
		put_verdicts("candidate", "shadow would", &cs[MOAT_CS_SHADOW]);
	else
		put_verdicts("candidate", "canary", &cs[MOAT_CS_CANARY]);
	if (c->mode == MOAT_CAND_SHADOW) {
		out_u64("pass_to_drop", "  pass -> drop           %12" PRIu64
					" packets would be dropped\n",
			cs[MOAT_CS_PASS_TO_DROP].packets);
		out_u64("drop_to_pass", "  drop -> pass           %12" PRIu64
					" packets would pass\n",
			cs[MOAT_CS_DROP_TO_PASS].packets);
		out_u64("other_changes", "  other changes          %12" PRIu64
					 " (pass <-> redirect)\n",
			cs[MOAT_CS_OTHER_CHANGE].packets);
	}
	out_text("candidate rules%s:\n", all ? "" : " that matched");
	out_arr_open("rules");
	for (size_t i = 0; i < cm->nrules && i < MOAT_MAX_RULES; i++) {
		const struct moat_meta_rule *r = &cm->rules[i];
		struct moat_cand_rule v;

		if (moat_cand_rule_read(rfd, i, &v) || (!v.packets && !all))
			continue;
		out_obj_open(NULL);
		out_str("file", "  %s", r->file);
		out_u64("line", ":%" PRIu64, r->line);
		out_str("text", "  %s\n", r->text);
		out_u64("id", NULL, r->id);
		out_u64("packets", "      packets %" PRIu64, v.packets);
		out_u64("bytes", ", bytes %" PRIu64, v.bytes);
		out_u64("pass_to_drop", ", pass->drop %" PRIu64, v.pass_to_drop);
		out_u64("drop_to_pass", ", drop->pass %" PRIu64 "\n",
			v.drop_to_pass);
		out_obj_close();
	}
	out_arr_close();
	if (!moat_cand_rule_read(rfd, MOAT_CAND_NOMATCH, &nm)) {
		out_obj_open("no_rule");
		out_str("policy", "  no rule matched (policy %s",
			moat_action_name(cm->policy));
		out_u64("packets", ", non-IP, neighbour discovery): packets %" PRIu64,
			nm.packets);
		out_u64("pass_to_drop", ", pass->drop %" PRIu64, nm.pass_to_drop);
		out_u64("drop_to_pass", ", drop->pass %" PRIu64 "\n",
			nm.drop_to_pass);
		out_obj_close();
	}
	if (c->mode == MOAT_CAND_SHADOW)
		put_sources(&a.st, top);
	out_obj_close();
	out_finish();
out:
	if (sfd >= 0)
		close(sfd);
	if (rfd >= 0)
		close(rfd);
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_diff = {
	.name = "diff",
	.fn = diff_main,
	.summary = "what the shadow or canary candidate does, against the rules in force",
	.usage = "usage: moat diff [--top N] [--all] [--json]\n"
		 "\n"
		 "Compare the candidate (`moat apply --shadow` or `--canary`) with the\n"
		 "rule set in force, from the data plane's counters since it was\n"
		 "loaded.\n"
		 "Shadow: every packet is classified by both; the totals of packets\n"
		 "whose verdict would change (pass -> drop, drop -> pass), the\n"
		 "candidate rules that matched with the changes each is responsible\n"
		 "for, and the sources most affected.\n"
		 "Canary: each side's verdicts, and the candidate rules that matched\n"
		 "on its side.\n"
		 "\n"
		 "  --top N   sources to list (default 10)\n"
		 "  --all     list every candidate rule, also those that matched nothing\n"
		 "  --json    JSON: mode, generation, packets, pass_to_drop,\n"
		 "            drop_to_pass, enforced/candidate verdicts, rules[] (file,\n"
		 "            line, text, id, packets, bytes, pass_to_drop, drop_to_pass),\n"
		 "            no_rule, sources[]\n",
};
