// SPDX-License-Identifier: GPL-2.0
/* cmd_status.c - `moat status`: what is in force, where, since when. */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "confirm.h"
#include "ct.h"
#include "cmd.h"
#include "liveset.h"
#include "log.h"
#include "netns.h"
#include "out.h"

static bool rec_attached(const struct moat_iface_rec *r)
{
	int saved, err;
	bool yes;

	err = moat_netns_enter(r->netns, &saved);
	if (err)
		return false;
	yes = moat_is_attached(r);
	moat_netns_restore(saved);
	return yes;
}

/* the TC egress program on r's interface (connection tracking), 0 if none */
static uint32_t tc_prog(const struct moat_iface_rec *r)
{
	uint32_t id = 0;
	int saved;

	if (moat_netns_enter(r->netns, &saved))
		return 0;
	if (r->ifindex == if_nametoindex(r->name))
		id = moat_tc_prog_id(r->ifindex);
	moat_netns_restore(saved);
	return id;
}

static void confirm_status(struct moat_active *a)
{
	const struct moat_confirm c = a->gens.confirm;
	uint64_t now = moat_mono_ns();

	if (c.state == MOAT_CONFIRM_IDLE)
		return;
	out_obj_open("confirm");
	out_str("state", "  change   %s", moat_confirm_state_name(c.state));
	out_u64("generation", ": generation %" PRIu64, c.gen);
	out_u64("revert_to_generation", ", previous generation %" PRIu64,
		c.revert_gen);
	if (c.state == MOAT_CONFIRM_PENDING) {
		out_u64("seconds_left", ", reverts in %" PRIu64 "s",
			c.deadline_ns > now ? (c.deadline_ns - now) / 1000000000ull :
					      0);
		out_text(" unless `moat confirm` runs");
	} else if (c.done_ns && now > c.done_ns) {
		out_u64("seconds_ago", " (%" PRIu64 "s ago)",
			(now - c.done_ns) / 1000000000ull);
	}
	out_text("\n");
	out_obj_close();
}

/* The candidate beside the rule set in force, if any. */
static void candidate_status(struct moat_active *a)
{
	const struct moat_gens *g = &a->gens;

	for (size_t i = 0; i < g->nrecs; i++) {
		const struct moat_config *c = &g->cfg[g->recs[i].port];
		uint64_t x100;

		if (c->mode == MOAT_CAND_NONE)
			continue;
		x100 = moat_canary_x100(c->canary);
		out_obj_open("candidate");
		out_str("mode", "  candidate %s",
			c->mode == MOAT_CAND_SHADOW ? "shadow" : "canary");
		out_u64("generation", ": generation %" PRIu64,
			moat_gens_gen(g, c->cand));
		if (g->have[c->cand])
			out_str("source", " (%s)", g->meta[c->cand].source);
		if (c->mode == MOAT_CAND_CANARY) {
			out_u64("canary_percent_x100", NULL, x100);
			out_text(", %" PRIu64 ".%02" PRIu64 "%% of flows",
				 x100 / 100, x100 % 100);
		}
		out_text("%s\n", c->mode == MOAT_CAND_SHADOW ?
					 ", counted only (`moat diff`)" :
					 "");
		out_obj_close();
		return;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print the rules of `a` (sorted) that are not in `b` (sorted). */
static size_t list_missing(const char *key, const char *label, char **a,
			   size_t na, char **b, size_t nb)
{
	size_t i = 0, j = 0, n = 0;

	out_arr_open(key);
	while (i < na) {
		int c = j < nb ? strcmp(a[i], b[j]) : -1;

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			out_str(NULL, label, a[i++]);
			n++;
		} else {
			j++;
		}
	}
	out_arr_close();
	return n;
}

/* `moat status --verify FILE`: does the rule set in force equal FILE? */
static int verify(struct moat_ctx *ctx, struct moat_active *a,
		  const char *path)
{
	struct moat_diags diags = {};
	struct moat_ruleset rs;
	struct moat_image img;
	char h1[32], h2[32], **infile = NULL, **inforce = NULL;
	bool same;
	int rc;

	rc = moat_build(path, &rs, &img, &diags);
	moat_diags_free(&diags);
	if (rc)
		return rc;
	snprintf(h1, sizeof(h1), "%016" PRIx64, a->meta.hash);
	snprintf(h2, sizeof(h2), "%016" PRIx64, img.hash);
	same = a->meta.hash == img.hash;
	for (size_t i = 0; i < a->gens.nrecs; i++) {
		const struct moat_config *c = &a->gens.cfg[a->gens.recs[i].port];

		if (!a->gens.have[c->slot] ||
		    a->gens.meta[c->slot].hash != img.hash ||
		    c->mode != MOAT_CAND_NONE)
			same = false;
	}
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_bool("match", NULL, same);
	out_str("file", same ? "in force: %s" : "differs: %s", path);
	out_u64("generation", same ? " is generation %" PRIu64 : " vs generation %" PRIu64,
		a->meta.gen);
	out_str("hash", " (hash %s", h1);
	out_str("file_hash", same ? ")\n" : ", file compiles to %s)\n", h2);
	if (!same) {
		infile = calloc(img.nrules + 1, sizeof(*infile));
		inforce = calloc(a->meta.nrules + 1, sizeof(*inforce));
		if (!infile || !inforce) {
			rc = EXIT_SYS;
			goto out;
		}
		for (size_t i = 0; i < img.nrules; i++)
			infile[i] = img.rule_info[i].norm;
		for (size_t i = 0; i < a->meta.nrules; i++)
			inforce[i] = a->meta.rules[i].norm;
		qsort(infile, img.nrules, sizeof(*infile), cmp_str);
		qsort(inforce, a->meta.nrules, sizeof(*inforce), cmp_str);
		if (rs.policy != a->meta.policy)
			out_str("policy", "  policy: in force %s",
				moat_action_name(a->meta.policy));
		if (rs.policy != a->meta.policy)
			out_text(", file %s\n", moat_action_name(rs.policy));
		size_t n = list_missing("only_in_file", "  + %s\n", infile,
					img.nrules, inforce, a->meta.nrules);
		n += list_missing("only_in_force", "  - %s\n", inforce,
				  a->meta.nrules, infile, img.nrules);
		out_arr_open("interfaces");
		for (size_t i = 0; i < a->gens.nrecs; i++) {
			const struct moat_iface_rec *r = &a->gens.recs[i];
			const struct moat_config *c = &a->gens.cfg[r->port];

			if (c->slot == a->slot && c->mode == MOAT_CAND_NONE)
				continue;
			out_obj_open(NULL);
			out_str("name", "  interface %s", r->name);
			out_u64("generation", " enforces generation %" PRIu64,
				moat_gens_gen(&a->gens, c->slot));
			out_bool("candidate", NULL, c->mode != MOAT_CAND_NONE);
			out_text("%s\n", c->mode != MOAT_CAND_NONE ?
						 " with a candidate beside it" :
						 "");
			out_obj_close();
			n++;
		}
		out_arr_close();
		if (!n && rs.policy == a->meta.policy)
			out_text("  same rules in another order, or set contents differ\n");
		rc = EXIT_USER;
	}
out:
	out_obj_close();
	out_finish();
	free(infile);
	free(inforce);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	return rc;
}

/* bytes_memlock (fdinfo "memlock") of every map pinned under root/maps */
static uint64_t maps_memory(const char *root)
{
	char dir[512], path[1024], line[256];
	uint64_t total = 0;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/maps", root);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		FILE *f;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if (sscanf(line, "memlock: %llu", &v) == 1)
				total += v;
		}
		if (f)
			fclose(f);
		close(fd);
	}
	closedir(d);
	return total;
}

/* A per-CPU cache of answers (the flow cache, xdp/fcache.h, and the
 * microflow cache, xdp/mflow.h: one element of `lines` lines of line_size
 * bytes, a line's slot epoch at epoch_off, or with tag32 its tag in the
 * upper half of the word there): its lines over all CPUs, and how many
 * hold an answer of a rule set some interface reads (its slot's epoch). */
static void cache_status(struct moat_active *a, const char *pin,
			 const char *obj, const char *label, size_t lines,
			 size_t line_size, size_t epoch_off, bool tag32)
{
	uint64_t live[MOAT_SLOTS], in_use = 0, e;
	uint32_t used = moat_gens_live(&a->gens), zero = 0;
	int fd = moat_pin_open(&a->st, pin);
	int ncpu = libbpf_num_possible_cpus();
	struct moat_gen_info gi;
	unsigned char *v = NULL;
	size_t nlive = 0;
	char fmt[64];

	if (fd < 0 || ncpu <= 0)
		goto out;
	for (__u32 s = 0; s < MOAT_SLOTS; s++)
		if ((used & (1U << s)) &&
		    !bpf_map_lookup_elem(a->st.fds.gen_info, &s, &gi) &&
		    gi.epoch)
			live[nlive++] = gi.epoch;
	v = calloc((size_t)ncpu * lines, line_size);
	if (!v || bpf_map_lookup_elem(fd, &zero, v))
		goto out;
	for (size_t i = 0; i < (size_t)ncpu * lines; i++) {
		memcpy(&e, v + i * line_size + epoch_off, sizeof(e));
		if (tag32 && !(e >> 32))
			continue; /* empty */
		for (size_t k = 0; k < nlive; k++)
			in_use += tag32 ? e >> 32 == (uint32_t)live[k] :
					  e == live[k];
	}
	snprintf(fmt, sizeof(fmt), "  %s %%" PRIu64 " lines", label);
	out_obj_open(obj);
	out_u64("lines", fmt, (uint64_t)ncpu * lines);
	out_u64("in_use", ", %" PRIu64 " hold answers of the rule sets in use\n",
		in_use);
	out_obj_close();
out:
	free(v);
	if (fd >= 0)
		close(fd);
}

/* Sets changed live (`moat set`) that differ from their rule file. */
static void live_status(struct moat_active *a)
{
	static const char *const kinds[] = { "file", "flushed", "loaded" };
	struct moat_live lv;

	out_arr_open("live_sets");
	if (!moat_live_read(a->st.root, &lv)) {
		for (size_t i = 0; i < lv.n; i++) {
			const struct moat_live_set *s = &lv.sets[i];

			out_obj_open(NULL);
			out_str("name", "  set %s differs from its file (live:",
				s->name);
			out_str("base", " base %s", kinds[s->base_kind]);
			out_u64("added", ", +%" PRIu64, s->nadds);
			out_u64("removed", " -%" PRIu64 ")\n", s->ndels);
			out_obj_close();
		}
		moat_live_free(&lv);
	}
	out_arr_close();
}

static int status_main(struct moat_ctx *ctx, int argc, char **argv)
{
	const char *verify_file = NULL;
	struct moat_iface_rec *recs = NULL;
	struct moat_active a;
	size_t nrecs = 0;
	char when[64], hash[32];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verify") && i + 1 < argc) {
			verify_file = argv[++i];
		} else if (!moat_opt_json(ctx, argv[i])) {
			pr_err("usage: moat status [--json] [--verify FILE]\n");
			return EXIT_USER;
		}
	}
	rc = moat_active_open(&a, false);
	if (rc)
		return rc;
	if (verify_file) {
		if (a.loaded) {
			rc = verify(ctx, &a, verify_file);
		} else {
			pr_err("differs: nothing is in force\n");
			rc = EXIT_USER;
		}
		moat_active_close(&a);
		return rc;
	}
	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	if (!a.loaded) {
		out_bool("active", "moat is not active (nothing applied)\n",
			 false);
		out_obj_close();
		out_finish();
		moat_active_close(&a);
		return EXIT_OK;
	}
	recs = a.gens.recs;
	nrecs = a.gens.nrecs;
	moat_format_time(a.meta.applied, when, sizeof(when));
	snprintf(hash, sizeof(hash), "%016" PRIx64, a.meta.hash);

	out_bool("active", NULL, true);
	out_u64("generation", "generation %" PRIu64, a.meta.gen);
	out_u64("slot", " (slot %" PRIu64 ")", a.slot);
	out_str("applied", ", applied %s\n", when);
	out_str("source", "  source   %s\n", a.meta.source);
	out_u64("rules", "  rules    %" PRIu64, a.meta.nrules);
	out_str("policy", ", policy %s\n", moat_action_name(a.meta.policy));
	out_u64("sets", "  sets     %" PRIu64 "\n", a.meta.nsets);
	out_str("hash", "  hash     %s\n", hash);
	out_u64("tuples", "  classifier %" PRIu64 " tuples", a.meta.ntuples);
	out_u64("classifier_entries", ", %" PRIu64 " entries\n", a.meta.ncls);
	out_str("pin_dir", "  pins     %s\n", a.st.root);
	out_u64("map_memory", "  memory   %" PRIu64 " bytes in maps",
		maps_memory(a.st.root));
	out_text(" (all slots, address tables, counters)\n");
	cache_status(&a, "mflow", "microflow_cache", "microflow cache",
		     MOAT_MF_LINES, sizeof(struct moat_mf_line),
		     offsetof(struct moat_mf_line, tagif), true);
	cache_status(&a, "fcache", "flow_cache", "flow cache", MOAT_FC_LINES,
		     sizeof(struct moat_fc_line),
		     offsetof(struct moat_fc_line, epoch), false);
	live_status(&a);
	confirm_status(&a);
	candidate_status(&a);
	out_text("interfaces:\n");
	out_arr_open("interfaces");
	for (size_t i = 0; i < nrecs; i++) {
		const struct moat_iface_rec *r = &recs[i];
		bool att = rec_attached(r);

		moat_format_time(r->attached, when, sizeof(when));
		out_obj_open(NULL);
		out_str("name", "  %-12s", r->name);
		out_u64("port", NULL, r->port);
		out_str("netns", " netns %-10s", *r->netns ? r->netns : "-");
		out_u64("ifindex", NULL, r->ifindex);
		const struct moat_config *c = &a.gens.cfg[r->port];

		out_u64("generation", " gen %-4" PRIu64,
			moat_gens_gen(&a.gens, c->slot));
		if (c->mode != MOAT_CAND_NONE)
			out_u64("candidate_generation", "+%" PRIu64 " ",
				moat_gens_gen(&a.gens, c->cand));
		out_str("mode", " mode %-6s", moat_mode_name(r->mode));
		out_u64("prog_id", " prog %-6" PRIu64, r->prog_id);
		out_u64("tc_prog_id", " tc %-6" PRIu64, tc_prog(r));
		out_bool("dispatcher", NULL, !r->legacy);
		out_text(" %s", r->legacy ? "libxdp fallback (no dispatcher)" :
					    "libxdp dispatcher");
		out_bool("attached", NULL, att);
		out_text("%s\n", att ? "" : "  NOT ATTACHED (run `moat apply` to repair)");
		out_str("since", NULL, when);
		out_obj_close();
	}
	if (!nrecs)
		out_text("  (none)\n");
	out_arr_close();
	out_obj_close();
	out_finish();
	moat_active_close(&a);
	return EXIT_OK;
}

const struct moat_cmd cmd_status = {
	.name = "status",
	.fn = status_main,
	.summary = "show what is in force: generation, rules, interfaces",
	.usage = "usage: moat status [--json] [--verify FILE]\n"
		 "\n"
		 "Show the rule set in force (generation, source file, rule count,\n"
		 "policy, hash of the normalised rule set, when it was applied) and\n"
		 "the interfaces moat is attached to, each with the generation it\n"
		 "enforces (and a candidate's, gen N+M), its mode, XDP and TC program\n"
		 "ids and whether the libxdp dispatcher is in use; how many flow\n"
		 "cache lines hold answers of the rule sets in use; a change\n"
		 "awaiting confirmation; a shadow or canary candidate.\n"
		 "\n"
		 "  --verify FILE  exit 0 when the rule set in force is what FILE\n"
		 "                compiles to on every interface (no candidate), 1\n"
		 "                with the differences otherwise\n"
		 "                (for config management's check mode, drift alarms)\n",
};
