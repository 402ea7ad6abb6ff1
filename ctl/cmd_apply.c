// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_apply.c - `moat apply FILE`: compile, write the inactive generation
 * slot, attach where not yet attached, then swap slots in one store.
 * Anything failing before the swap leaves the running rule set untouched.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include "attach.h"
#include "cmd.h"
#include "log.h"
#include "netns.h"
#include "out.h"
#include "redirect_check.h"
#include "confirm.h"
#include "guard.h"
#include "ruleid.h"
#include "ct.h"
#include "gens.h"

#define MAX_TARGETS 64
#define META_SET_ELEMS 64 /* sets up to this size are listed in full */

struct target {
	char name[IF_NAMESIZE];
	enum moat_mode mode;
};

static int parse_mode(const char *s, enum moat_mode *m)
{
	if (!strcmp(s, "native"))
		*m = MOAT_MODE_NATIVE;
	else if (!strcmp(s, "skb"))
		*m = MOAT_MODE_SKB;
	else if (!strcmp(s, "auto"))
		*m = MOAT_MODE_AUTO;
	else
		return -EINVAL;
	return 0;
}

/*
 * Some map pins are gone (deleted by hand) while moat's program still runs
 * on a recorded interface: pin that program's maps again under their
 * names, so this apply writes the maps the program reads instead of fresh
 * ones it never sees.  Returns the number of pins restored.
 */
static int repin_maps(struct moat_state *st)
{
	struct moat_iface_rec *recs = NULL;
	size_t nrecs = 0;
	int restored = 0;

	if (moat_ifaces_read(st, &recs, &nrecs))
		return 0;
	for (size_t i = 0; i < nrecs && !restored; i++) {
		struct bpf_prog_info pi = { 0 };
		__u32 ids[64], len = sizeof(pi);
		int pfd = bpf_prog_get_fd_by_id(recs[i].prog_id);

		if (pfd < 0)
			continue;
		pi.nr_map_ids = 64;
		pi.map_ids = (__u64)(unsigned long)ids;
		if (bpf_obj_get_info_by_fd(pfd, &pi, &len) ||
		    strcmp(pi.name, "moat_xdp")) {
			close(pfd);
			continue;
		}
		for (__u32 m = 0; m < pi.nr_map_ids && m < 64; m++) {
			struct bpf_map_info mi = { 0 };
			__u32 mlen = sizeof(mi);
			char path[512];
			int mfd = bpf_map_get_fd_by_id(ids[m]);

			if (mfd < 0)
				continue;
			if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) &&
			    mi.name[0] && !strchr(mi.name, '.')) {
				snprintf(path, sizeof(path), "%s/maps/%s",
					 st->root, mi.name);
				if (access(path, F_OK) && !bpf_obj_pin(mfd, path)) {
					pr_warn("re-pinned map %s of the running program\n",
						mi.name);
					restored++;
				}
			}
			close(mfd);
		}
		close(pfd);
	}
	free(recs);
	return restored;
}

/*
 * The interface records were lost (deleted by hand) but moat's own program,
 * reading the pinned maps, still runs on ifname: take it back into the
 * records instead of refusing it as a foreign program.  Returns 0 when
 * ifname runs moat's program on these maps, with *rec filled.
 */
static int adopt_running(struct moat_state *st, const char *ifname,
			 struct moat_iface_rec *rec)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info pi = { 0 };
	struct bpf_map_info ci = { 0 };
	__u32 ids[64], len = sizeof(pi), clen = sizeof(ci);
	unsigned int ifindex = if_nametoindex(ifname);
	int pfd, ret = -ENOENT;

	if (!ifindex || bpf_xdp_query((int)ifindex, 0, &q) || !q.prog_id ||
	    bpf_obj_get_info_by_fd(st->fds.config, &ci, &clen))
		return -ENOENT;
	pfd = bpf_prog_get_fd_by_id(q.prog_id);
	if (pfd < 0)
		return -ENOENT;
	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(pfd, &pi, &len) &&
	    !strcmp(pi.name, "moat_xdp"))
		for (__u32 m = 0; m < pi.nr_map_ids && m < 64; m++)
			if (ids[m] == ci.id)
				ret = 0;
	close(pfd);
	if (ret)
		return ret;
	memset(rec, 0, sizeof(*rec));
	if (moat_prog_port(q.prog_id, &rec->port) || !rec->port)
		return -ENOENT;
	rec->prev = -1;
	snprintf(rec->name, sizeof(rec->name), "%.*s",
		 (int)sizeof(rec->name) - 1, ifname);
	rec->ifindex = ifindex;
	rec->mode = q.attach_mode == XDP_ATTACHED_SKB ? MOAT_MODE_SKB :
							MOAT_MODE_NATIVE;
	rec->legacy = true;
	rec->prog_id = q.prog_id;
	rec->attached = time(NULL);
	pr_warn("%s: moat's program was running there unrecorded; taking it back\n",
		ifname);
	return 0;
}

static int build_meta(const struct moat_ruleset *rs,
		      const struct moat_image *img, const char *path,
		      struct moat_gen_meta *m)
{
	char rp[PATH_MAX], buf[64];

	memset(m, 0, sizeof(*m));
	m->gen = img->info.gen;
	m->applied = time(NULL);
	m->source = strdup(realpath(path, rp) ? rp : path);
	m->hash = img->hash;
	m->policy = rs->policy;
	m->ntuples = img->info.ntuples;
	m->ncls = img->ncls;
	m->redirects = calloc(img->nredirect + 1, sizeof(*m->redirects));
	if (!m->redirects)
		return -ENOMEM;
	if (img->nredirect) /* redirect_ifindex is NULL without targets */
		memcpy(m->redirects, img->redirect_ifindex,
		       img->nredirect * sizeof(*m->redirects));
	m->nredirects = img->nredirect;
	m->rules = calloc(img->nrules + 1, sizeof(*m->rules));
	m->sets = calloc(rs->nsets + 1, sizeof(*m->sets));
	if (!m->source || !m->rules || !m->sets)
		return -ENOMEM;
	for (size_t i = 0; i < img->nrules; i++) {
		struct moat_meta_rule *r = &m->rules[m->nrules++];
		const struct moat_rule_info *ri = &img->rule_info[i];

		r->id = img->rules[i].id;
		r->file = strdup(ri->file ? ri->file : "");
		r->line = ri->line;
		r->col = ri->col;
		r->norm = strdup(ri->norm ? ri->norm : "");
		r->text = strdup(ri->text ? ri->text : "");
		if (!r->file || !r->norm || !r->text)
			return -ENOMEM;
	}
	for (size_t i = 0; i < rs->nsets; i++) {
		const struct moat_set *s = &rs->sets[i];
		struct moat_meta_set *ms = &m->sets[m->nsets++];

		ms->name = strdup(s->name);
		ms->count = s->n;
		ms->file = s->file ? strdup(s->file) : NULL;
		if (!ms->name)
			return -ENOMEM;
		if (s->n <= META_SET_ELEMS) {
			size_t cap = s->n * 48 + 1, len = 0;

			ms->elems = calloc(1, cap);
			if (!ms->elems)
				return -ENOMEM;
			for (size_t j = 0; j < s->n; j++) {
				moat_prefix_format(&s->elems[j], buf,
						   sizeof(buf));
				len += snprintf(ms->elems + len, cap - len,
						"%s%s", j ? " " : "", buf);
			}
		}
	}
	return 0;
}

/* Forget redirect targets that no rule set held (in force, candidate or
 * kept for rollback) uses. */
static void prune_redirects(int fd, const struct moat_image *img,
			    const struct moat_gens *g)
{
	__u32 key, next, *prev = NULL;
	__u32 gone[MOAT_MAX_IFACES];
	size_t ngone = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0 &&
	       ngone < MOAT_MAX_IFACES) {
		bool used = false;

		for (size_t i = 0; i < img->nredirect; i++)
			if (img->redirect_ifindex[i] == next)
				used = true;
		for (int s = 0; s < MOAT_SLOTS; s++)
			for (size_t i = 0; g->have[s] && i < g->meta[s].nredirects;
			     i++)
				if (g->meta[s].redirects[i] == next)
					used = true;
		if (!used)
			gone[ngone++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < ngone; i++)
		bpf_map_delete_elem(fd, &gone[i]);
}

/* Re-attach recorded interfaces that lost the program (repair). */
static void repair_recs(struct moat_state *st, struct moat_iface_rec *v,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct moat_iface_rec rec;
		int saved;

		if (moat_netns_enter(v[i].netns, &saved))
			continue;
		if (v[i].ifindex == if_nametoindex(v[i].name) &&
		    moat_is_attached(&v[i])) {
			moat_netns_restore(saved);
			continue;
		}
		if (if_nametoindex(v[i].name) &&
		    !moat_attach(st, v[i].name, v[i].mode, v[i].port, &rec)) {
			pr_info("%s: moat was no longer attached; re-attached\n",
				v[i].name);
			snprintf(rec.netns, sizeof(rec.netns), "%s", v[i].netns);
			rec.prev = v[i].prev;
			v[i] = rec;
		} else {
			pr_warn("%s%s%s: moat is not attached and cannot be re-attached\n",
				v[i].name, *v[i].netns ? " in netns " : "",
				v[i].netns);
		}
		moat_netns_restore(saved);
	}
}

static void sleep_until(uint64_t when_ns)
{
	uint64_t now = moat_mono_ns();
	struct timespec ts;

	if (when_ns <= now)
		return;
	ts.tv_sec = (when_ns - now) / 1000000000ull;
	ts.tv_nsec = (when_ns - now) % 1000000000ull;
	nanosleep(&ts, NULL);
}

/*
 * --health: run CMD now and every `interval` seconds while the change is on
 * probation.  The first failure rolls back at once; when the checks pass
 * for the whole window, the change is confirmed.  If moat dies meanwhile,
 * the kernel's timer still reverts the change.
 */
static int moat_health_watch(struct moat_state *st, const char *cmd,
			     unsigned int interval, uint32_t gen)
{
	const uint64_t margin = 500000000ull; /* confirm before the timer */
	struct moat_confirm c;
	uint64_t next;
	int status, err;

	err = moat_confirm_read(st, &c);
	if (err)
		return EXIT_SYS;
	flock(st->lock_fd, LOCK_UN); /* let status run meanwhile */
	for (next = moat_mono_ns();; next += interval * 1000000000ull) {
		if (next + margin >= c.deadline_ns)
			break;
		sleep_until(next);
		status = system(cmd);
		flock(st->lock_fd, LOCK_EX);
		err = moat_confirm_read(st, &c);
		if (err || c.state != MOAT_CONFIRM_PENDING || c.gen != gen) {
			pr_warn("the change was confirmed or undone meanwhile (%s); health checks stop\n",
				moat_confirm_state_name(c.state));
			return EXIT_OK;
		}
		if (status != 0) {
			err = moat_confirm_run(st, MOAT_CONFIRM_ROLLBACK, NULL,
					       0);
			pr_err("health check `%s` failed (%s %d): %s\n", cmd,
			       WIFEXITED(status) ? "exit" : "status",
			       WIFEXITED(status) ? WEXITSTATUS(status) : status,
			       err ? "ROLLBACK FAILED; the kernel timer will still revert" :
				     "rolled back to the previous rule set");
			return err ? EXIT_SYS : EXIT_USER;
		}
		flock(st->lock_fd, LOCK_UN);
	}
	flock(st->lock_fd, LOCK_EX);
	err = moat_confirm_run(st, MOAT_CONFIRM_CONFIRM, NULL, 0);
	if (err) {
		pr_err("health checks passed but the change could not be confirmed (%s); it reverts when its window ends\n",
		       strerror(-err));
		return EXIT_SYS;
	}
	printf("health checks passed for the whole window: change confirmed\n");
	return EXIT_OK;
}

/* Lockout guard over the interfaces the rule set will run on.  Returns
 * nonzero when the apply must stop. */
static int guard(const struct moat_ruleset *rs, const struct moat_image *img,
		 const struct target *t, size_t nt,
		 const struct moat_iface_rec *recs, size_t nrecs,
		 const char *netns, bool force)
{
	uint32_t ifx[MAX_TARGETS * 2];
	size_t n = 0;
	int r;

	for (size_t i = 0; i < nt && n < MAX_TARGETS * 2; i++)
		ifx[n++] = if_nametoindex(t[i].name);
	for (size_t i = 0; i < nrecs && n < MAX_TARGETS * 2; i++)
		if (!strcmp(recs[i].netns, netns))
			ifx[n++] = recs[i].ifindex;
	r = moat_guard_check(rs, img, ifx, n);
	if (r < 0) {
		pr_err("lockout guard failed: %s\n", strerror(-r));
		return force ? 0 : 1;
	}
	if (r == 0)
		return 0;
	if (force) {
		pr_warn("--force: applying although the lockout guard objects\n");
		return 0;
	}
	pr_err("refusing to apply: the new rule set would cut off the traffic above; fix the rules, or use --force; nothing was changed\n");
	return 1;
}

static struct moat_iface_rec *find_rec(struct moat_iface_rec *v, size_t n,
				       const char *netns, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].netns, netns) && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static int apply_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "confirm", required_argument, NULL, 'c' },
		{ "health", required_argument, NULL, 'H' },
		{ "health-interval", required_argument, NULL, 'I' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "shadow", no_argument, NULL, 'S' },
		{ "canary", required_argument, NULL, 'C' },
		{}
	};
	const char *netns = ctx->netns ? ctx->netns : "";
	struct target targets[MAX_TARGETS];
	size_t ntargets = 0, nrecs = 0, nnew = 0;
	struct moat_iface_rec *recs = NULL, *newrecs = NULL;
	struct moat_gen_meta meta = {};
	struct moat_config_change ch = {};
	struct moat_gens g = {};
	bool have_gens = false, reuse;
	uint64_t confirm_ns = 0, moved = 0;
	uint32_t live, canary = 0, canary_x100 = 0;
	int base, cand_mode = MOAT_CAND_NONE;
	unsigned int base_slot;
	const char *health = NULL;
	unsigned int health_interval = 5;
	enum moat_mode mode = MOAT_MODE_AUTO;
	struct moat_diags diags = {};
	struct moat_state st = { .lock_fd = -1 };
	bool mode_given = false, dry_run = false;
	bool force = false, attached_now = false;
	bool state_open = false;
	uint32_t *fresh = NULL;
	size_t nfresh = 0;
	struct moat_ruleset rs;
	struct moat_image img;
	unsigned int slot = 0;
	const char *path;
	char devs[MAX_TARGETS][IF_NAMESIZE];
	size_t ndevs = 0;
	int opt, err, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+d:m:j", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (ndevs == MAX_TARGETS ||
			    strlen(optarg) >= IF_NAMESIZE) {
				pr_err("--dev '%s': too many interfaces or name too long\n",
				       optarg);
				return EXIT_USER;
			}
			snprintf(devs[ndevs++], IF_NAMESIZE, "%s", optarg);
			break;
		case 'm':
			if (parse_mode(optarg, &mode)) {
				pr_err("--mode must be native, skb or auto, not '%s'\n",
				       optarg);
				return EXIT_USER;
			}
			mode_given = true;
			break;
		case 'D':
			dry_run = true;
			break;
		case 'f':
			force = true;
			break;
		case 'c':
			if (moat_parse_duration(optarg, &confirm_ns) ||
			    confirm_ns < 1000000000ull) {
				pr_err("--confirm takes a duration of at least 1s, like 30s, 5m or 1h, not '%s'\n",
				       optarg);
				return EXIT_USER;
			}
			break;
		case 'H':
			health = optarg;
			break;
		case 'I': {
			uint64_t ns;

			if (moat_parse_duration(optarg, &ns) ||
			    ns < 1000000000ull) {
				pr_err("--health-interval takes a duration of at least 1s, not '%s'\n",
				       optarg);
				return EXIT_USER;
			}
			health_interval = ns / 1000000000ull;
			break;
		}
		case 'j':
			ctx->json = true;
			break;
		case 'S':
			cand_mode = MOAT_CAND_SHADOW;
			break;
		case 'C':
			if (moat_parse_percent(optarg, &canary_x100)) {
				pr_err("--canary takes a share of flows above 0 and below 100 percent, like 10 or 0.5, not '%s'\n",
				       optarg);
				return EXIT_USER;
			}
			canary = moat_canary_threshold(canary_x100);
			cand_mode = MOAT_CAND_CANARY;
			break;
		default:
			return EXIT_USER;
		}
	}
	if (cand_mode == MOAT_CAND_SHADOW && (confirm_ns || canary_x100)) {
		pr_err("--shadow enforces nothing, so it takes neither --confirm nor --canary\n");
		return EXIT_USER;
	}
	if (optind != argc - 1) {
		pr_err("usage: moat apply [--dev IFACE]... [--mode native|skb|auto] [--shadow | --canary PERCENT] [--confirm DURATION [--health CMD]] [--dry-run] FILE\n");
		return EXIT_USER;
	}
	if (health && !confirm_ns) {
		pr_err("--health needs --confirm DURATION: the window in which it runs\n");
		return EXIT_USER;
	}
	path = argv[optind];

	rc = moat_build(path, &rs, &img, &diags);
	moat_diags_free(&diags);
	if (rc)
		return rc;

	/* interfaces: --dev overrides the file's `interface` lines */
	if (ndevs) {
		for (size_t i = 0; i < ndevs; i++) {
			memcpy(targets[ntargets].name, devs[i], IF_NAMESIZE);
			targets[ntargets++].mode = mode;
		}
	} else {
		for (size_t i = 0; i < rs.nifaces && ntargets < MAX_TARGETS;
		     i++) {
			snprintf(targets[ntargets].name, IF_NAMESIZE, "%s",
				 rs.ifaces[i].name);
			targets[ntargets++].mode =
				mode_given ? mode : rs.ifaces[i].mode;
		}
	}
	for (size_t i = 0; i < ntargets; i++) {
		if (!if_nametoindex(targets[i].name)) {
			pr_err("interface '%s' does not exist%s%s; nothing was changed\n",
			       targets[i].name,
			       *netns ? " in network namespace " : "", netns);
			rc = EXIT_USER;
			goto out;
		}
	}
	moat_redirect_check(&img);
	if (dry_run) {
		if (guard(&rs, &img, targets, ntargets, NULL, 0, netns, force))
			rc = EXIT_USER;
		out_init(stdout, ctx->json);
		out_obj_open(NULL);
		out_str("file", "%s: ", path);
		out_u64("rules", "would apply %" PRIu64 " rules", img.nrules);
		out_str("policy", ", policy %s", moat_action_name(rs.policy));
		out_u64("interfaces", " on %" PRIu64 " new interface(s)\n",
			ntargets);
		out_obj_close();
		out_finish();
		goto out;
	}

	err = moat_state_open(&st, true, true);
	if (err) {
		pr_err("cannot open moat state in %s: %s\n", st.root,
		       strerror(-err));
		rc = moat_explain_privileges(err, moat_exit_for(err));
		goto out;
	}
	state_open = true;
	moat_test_pause("locked");
	moat_ct_max_hint = img.ct.max; /* flow tables are sized once */
	err = moat_state_open_maps(&st);
	if (err == -ENOENT && repin_maps(&st) > 0)
		err = moat_state_open_maps(&st);
	if (err == -ENOENT)
		err = moat_state_create_maps(&st);
	if (err) {
		pr_err("cannot set up the moat maps: %s; nothing was changed\n",
		       strerror(-err));
		rc = moat_explain_privileges(err, EXIT_SYS);
		goto out;
	}
	err = moat_ifaces_read(&st, &recs, &nrecs);
	if (err) {
		pr_warn("interface records unreadable (%s); rebuilding them\n",
			strerror(-err));
		recs = NULL;
		nrecs = 0;
	}
	if (!ntargets && !nrecs) {
		pr_err("no interface to attach to: name one with --dev IFACE or an `interface` line in %s\n",
		       path);
		rc = EXIT_USER;
		goto out;
	}
	if (cand_mode != MOAT_CAND_SHADOW &&
	    guard(&rs, &img, targets, ntargets, recs, nrecs, netns, force)) {
		rc = EXIT_USER;
		goto out;
	}

	err = moat_gens_load(&st, &g);
	if (err)
		goto sys_err;
	have_gens = true;
	if (g.confirm.state == MOAT_CONFIRM_PENDING) {
		pr_err("a change awaits confirmation: run `moat confirm` to keep it or `moat rollback` to undo it first; nothing was changed\n");
		rc = EXIT_USER;
		goto out;
	}

	/* the interfaces this apply moves: --dev names them (staged
	 * rollout), else every attached one and the file's */
	newrecs = calloc(g.nrecs + ntargets + 1, sizeof(*newrecs));
	if (!newrecs) {
		err = -ENOMEM;
		goto sys_err;
	}
	if (g.nrecs)
		memcpy(newrecs, g.recs, g.nrecs * sizeof(*newrecs));
	nrecs = nnew = g.nrecs;
	for (size_t i = 0; i < nrecs; i++)
		if (!ndevs)
			moved |= 1ULL << newrecs[i].port;
	for (size_t i = 0; i < ntargets; i++) {
		struct moat_iface_rec *r =
			find_rec(newrecs, nrecs, netns, targets[i].name);

		if (r)
			moved |= 1ULL << r->port;
	}
	for (size_t i = 0; i < nrecs; i++) {
		const struct moat_config *c = &g.cfg[newrecs[i].port];

		if ((moved >> newrecs[i].port) & 1 && c->mode != MOAT_CAND_NONE) {
			pr_err("%s has a %s candidate (generation %u): run `moat promote` or `moat discard` first; nothing was changed\n",
			       newrecs[i].name,
			       c->mode == MOAT_CAND_SHADOW ? "shadow" : "canary",
			       moat_gens_gen(&g, c->cand));
			rc = EXIT_USER;
			goto out;
		}
	}

	/* the rule set the moved interfaces leave (for ids, output, and
	 * for interfaces attached now): the newest among theirs */
	base = moat_gens_view(&g);
	for (size_t i = 0; i < nrecs; i++) {
		int sl = g.cfg[newrecs[i].port].slot;

		if ((moved >> newrecs[i].port) & 1 && g.have[sl] &&
		    (base < 0 || !g.have[base] ||
		     g.meta[sl].gen > g.meta[base].gen))
			base = sl;
	}
	if (base < 0 || !g.have[base])
		base = -1;
	if (cand_mode && base < 0) {
		pr_err("--%s needs a rule set in force to stand beside: apply one first (a file with just `policy pass` lets everything through, as no moat does); nothing was changed\n",
		       cand_mode == MOAT_CAND_SHADOW ? "shadow" : "canary");
		rc = EXIT_USER;
		goto out;
	}
	live = moat_gens_live(&g);
	/* a first apply: slot 0 is the empty one new interfaces start on */
	base_slot = base >= 0 ? (unsigned int)base : 0;
	live |= 1U << base_slot;

	/* staged rollout: another interface already runs this very rule
	 * set; move these to it instead of writing it again */
	reuse = false;
	for (size_t i = 0; ndevs && !cand_mode && i < nrecs; i++) {
		int sl = g.cfg[newrecs[i].port].slot;

		if (!((moved >> newrecs[i].port) & 1) && g.have[sl] &&
		    g.meta[sl].hash == img.hash) {
			slot = sl;
			reuse = true;
		}
	}
	if (!reuse) {
		err = moat_gens_pick(&g, live, &slot);
		if (err) {
			pr_err("every generation slot is in use (interfaces on different rule sets, candidates): bring interfaces to one rule set, or promote or discard the candidate, first; nothing was changed\n");
			rc = EXIT_USER;
			goto out;
		}
		img.info.gen = moat_gens_next_gen(&g);
		{
			const struct moat_gen_meta *keep[MOAT_SLOTS];
			size_t nkeep = 0;

			for (int s2 = 0; s2 < MOAT_SLOTS; s2++)
				if (g.have[s2] && s2 != (int)slot && s2 != base)
					keep[nkeep++] = &g.meta[s2];
			err = moat_assign_ids_keep(base >= 0 ? &g.meta[base] : NULL,
						   keep, nkeep, &img, &fresh,
						   &nfresh);
		}
		if (err)
			goto sys_err;
		for (size_t i = 0; i < nfresh; i++) {
			err = moat_rule_stats_reset(&st.fds, fresh[i]);
			if (err)
				goto sys_err;
		}
		err = moat_slot_write_live(&st.fds, slot, &img, live);
		if (err == -EBUSY) {
			pr_err("no free address table: interfaces (or a candidate) run rule sets with two other address layouts; bring them to one rule set first; nothing was changed\n");
			rc = EXIT_USER;
			goto out;
		}
		if (err) {
			pr_err("cannot write the new rule set into the maps: %s\n",
			       strerror(-err));
			goto sys_err;
		}
		err = moat_ct_apply(&st, slot, &img);
		if (err) {
			pr_err("cannot write the connection tracking settings: %s\n",
			       strerror(-err));
			goto sys_err;
		}
		moat_test_pause("slot-written");
		err = build_meta(&rs, &img, path, &meta);
		if (!err)
			err = moat_meta_write(&st, slot, &meta);
		if (err) {
			pr_err("cannot record the new rule set: %s\n",
			       strerror(-err));
			goto sys_err;
		}
		/* slots whose address table the write took are gone */
		for (__u32 s2 = 0; s2 < MOAT_SLOTS; s2++) {
			struct moat_gen_info gi;

			if (s2 == slot || !g.have[s2] ||
			    bpf_map_lookup_elem(st.fds.gen_info, &s2, &gi) ||
			    gi.atab < MOAT_ATABS)
				continue;
			pr_info("generation %u (kept for rollback) gave up its address table\n",
				g.meta[s2].gen);
			moat_meta_remove(&st, s2);
			g.have[s2] = false;
		}
	} else {
		img.info.gen = g.meta[slot].gen;
		pr_info("generation %u is this rule set already: moving to it\n",
			img.info.gen);
	}
	moat_test_pause("meta-written");
	if (cand_mode) {
		err = moat_cand_reset(&st);
		if (err)
			goto sys_err;
	}

	/* attach where needed: new interfaces start on the old rule set */
	for (size_t i = 0; i < ntargets; i++) {
		struct moat_iface_rec *r =
			find_rec(newrecs, nnew, netns, targets[i].name);
		struct moat_config_change pre = {};
		struct moat_iface_rec rec;
		uint32_t port;

		if (r && r->ifindex == if_nametoindex(r->name) &&
		    moat_is_attached(r)) {
			if (targets[i].mode != MOAT_MODE_AUTO &&
			    (int)targets[i].mode != r->mode)
				pr_warn("%s is attached in %s mode; detach it to change the mode\n",
					r->name, moat_mode_name(r->mode));
			continue;
		}
		err = adopt_running(&st, targets[i].name, &rec);
		if (err) {
			port = r ? r->port : moat_port_alloc(newrecs, nnew);
			if (!port) {
				pr_err("moat is attached to %d interfaces already\n",
				       MOAT_MAX_PORTS - 1);
				err = -ENOSPC;
			} else {
				pre.ports = 1ULL << port;
				pre.want[port].slot = base_slot;
				err = moat_confirm_run(&st, MOAT_CONFIRM_SET,
						       &pre, 0);
			}
			if (!err)
				err = moat_attach(&st, targets[i].name,
						  targets[i].mode, port, &rec);
		}
		if (err) {
			/* undo the attachments made by this run */
			for (size_t j = nrecs; j < nnew; j++)
				moat_detach(&newrecs[j]);
			rc = err == -EEXIST || err == -EBUSY || err == -ENOSPC ?
				     EXIT_USER :
				     EXIT_SYS;
			rc = moat_explain_privileges(err, rc);
			pr_err("nothing was changed\n");
			goto out;
		}
		snprintf(rec.netns, sizeof(rec.netns), "%s", netns);
		attached_now = true;
		moved |= 1ULL << rec.port;
		if (r) {
			rec.prev = r->prev;
			*r = rec; /* stale record of a recreated interface */
		} else {
			newrecs[nnew++] = rec;
		}
	}

	/* record new attachments at once: a crash from here on must not
	 * leave a program on an interface that moat does not know about */
	if (attached_now) {
		err = moat_ifaces_write(&st, newrecs, nnew);
		if (err) {
			for (size_t j = nrecs; j < nnew; j++)
				moat_detach(&newrecs[j]);
			goto sys_err;
		}
	}
	moat_test_pause("attached");

	/* the change, port by port */
	for (size_t i = 0; i < nnew; i++) {
		uint32_t pt = newrecs[i].port;
		struct moat_config old_c = g.cfg[pt];

		if (!((moved >> pt) & 1))
			continue;
		if (i >= nrecs || old_c.slot >= MOAT_SLOTS) {
			memset(&old_c, 0, sizeof(old_c));
			old_c.slot = base_slot;
		}
		ch.ports |= 1ULL << pt;
		ch.revert[pt] = old_c;
		ch.want[pt] = old_c;
		if (cand_mode) {
			ch.want[pt].cand = slot;
			ch.want[pt].mode = cand_mode;
			ch.want[pt].canary = canary;
		} else {
			ch.want[pt].slot = slot;
			if (old_c.slot != slot) /* re-applying keeps its prev */
				newrecs[i].prev = old_c.slot;
		}
	}
	ch.gen = img.info.gen;
	ch.revert_gen = base >= 0 ? g.meta[base].gen : 0;
	if (!ch.ports) {
		pr_err("no interface to apply to\n");
		rc = EXIT_USER;
		goto out;
	}
	if (confirm_ns)
		err = moat_confirm_run(&st, MOAT_CONFIRM_ARM, &ch, confirm_ns);
	else
		err = moat_confirm_run(&st, MOAT_CONFIRM_SET, &ch, 0);
	if (err) {
		for (size_t j = nrecs; j < nnew; j++)
			moat_detach(&newrecs[j]);
		if (attached_now)
			moat_ifaces_write(&st, newrecs, nrecs);
		goto sys_err;
	}
	moat_test_pause("activated");
	prune_redirects(st.fds.redirect_map, &img, &g);
	repair_recs(&st, newrecs, nnew);
	moat_test_pause("repaired");
	err = moat_ifaces_write(&st, newrecs, nnew);
	if (err)
		pr_warn("rule set applied, but the interface records could not be written: %s\n",
			strerror(-err));

	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_text("%s ", cand_mode ? "loaded" : "applied");
	out_str("file", "%s: ", path);
	out_u64("generation", "generation %" PRIu64, img.info.gen);
	out_u64("rules", ", %" PRIu64 " rules", img.nrules);
	out_str("policy", ", policy %s", moat_action_name(rs.policy));
	{
		char h[32];

		snprintf(h, sizeof(h), "%016" PRIx64, img.hash);
		out_str("hash", ", hash %s", h);
	}
	out_str("mode", NULL, cand_mode == MOAT_CAND_SHADOW ? "shadow" :
			      cand_mode == MOAT_CAND_CANARY ? "canary" :
							      "enforce");
	out_arr_open("interfaces");
	out_text(", on");
	for (size_t i = 0; i < nnew; i++) {
		if (!((moved >> newrecs[i].port) & 1))
			continue;
		out_obj_open(NULL);
		out_str("name", " %s", newrecs[i].name);
		out_str("netns", NULL, newrecs[i].netns);
		out_str("mode", " (%s", moat_mode_name(newrecs[i].mode));
		out_bool("dispatcher", NULL, !newrecs[i].legacy);
		out_text(")");
		out_obj_close();
	}
	out_arr_close();
	out_text("\n");
	if (nnew > (size_t)__builtin_popcountll(ch.ports)) {
		out_text("other interfaces keep their rule sets (`moat status` shows each)\n");
	}
	if (cand_mode == MOAT_CAND_SHADOW)
		out_text("shadow: generation %u is classified beside generation %u and only counted; `moat diff` shows what it would change, `moat promote` enforces it, `moat discard` drops it\n",
			 img.info.gen, ch.revert_gen);
	if (cand_mode == MOAT_CAND_CANARY) {
		out_u64("canary_percent_x100", NULL, canary_x100);
		out_text("canary: generation %u decides %u.%02u%% of flows (by flow hash), generation %u the rest; `moat diff` compares them, `moat promote [--canary PERCENT]` widens, `moat rollback` ends it\n",
			 img.info.gen, canary_x100 / 100, canary_x100 % 100,
			 ch.revert_gen);
	}
	if (confirm_ns) {
		out_text("generation %u is on probation: ", img.info.gen);
		out_u64("confirm_seconds",
			"unless `moat confirm` runs within %" PRIu64 "s",
			confirm_ns / 1000000000ull);
		if (cand_mode)
			out_text(", the kernel ends the canary by itself\n");
		else
			out_text(", the kernel restores generation %u by itself\n",
				 ch.revert_gen);
	}
	out_obj_close();
	out_finish();
	rc = EXIT_OK;
	if (health) {
		/* the lock is not needed while we watch; confirm/rollback
		 * take it themselves */
		rc = moat_health_watch(&st, health, health_interval,
				       img.info.gen);
	}
	goto out;

sys_err:
	pr_err("apply failed: %s; the previous rule set is still in force\n",
	       strerror(-err));
	rc = moat_explain_privileges(err, EXIT_SYS);
out:
	free(fresh);
	free(recs);
	free(newrecs);
	moat_meta_free(&meta);
	if (have_gens)
		moat_gens_free(&g);
	if (state_open)
		moat_state_close(&st);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	return rc;
}

const struct moat_cmd cmd_apply = {
	.name = "apply",
	.fn = apply_main,
	.summary = "compile a rule file and put it in force atomically",
	.usage =
		"usage: moat apply [--dev IFACE]... [--mode native|skb|auto]\n"
		"                  [--shadow | --canary PERCENT] [--confirm DURATION\n"
		"                  [--health CMD [--health-interval S]]] [--force] [--dry-run] [--json] FILE\n"
		"\n"
		"Compile FILE, attach where moat is not attached yet, and put it in force\n"
		"in one atomic step per interface: each packet sees the whole old rule\n"
		"set or the whole new one.  Without --dev: on every attached interface\n"
		"and those of the file's `interface` lines.  With --dev: on the named\n"
		"interfaces only (staged rollout; the others keep their rule sets, and\n"
		"an interface joining another's identical rule set joins its generation).\n"
		"Any error leaves the previous rule set in force, untouched.\n"
		"\n"
		"  --dev IFACE   only IFACE, attaching if needed (repeatable)\n"
		"  --mode MODE   native, skb, or auto (native, else skb; default)\n"
		"  --dry-run     compile and check interfaces; change nothing\n"
		"  --shadow      load FILE beside the rule set in force: every packet is\n"
		"                classified by both, only the rules in force decide;\n"
		"                `moat diff` shows what FILE would change, `moat promote`\n"
		"                enforces it, `moat discard` drops it\n"
		"  --canary PERCENT  FILE decides PERCENT (0.01..99.99) of flows, chosen by\n"
		"                a stable flow hash; `moat promote [--canary N]` widens,\n"
		"                `moat rollback` ends it\n"
		"  --confirm DURATION  enforce on probation: unless `moat confirm` runs\n"
		"                within DURATION (30s, 5m, 1h), the kernel itself\n"
		"                restores the previous rule set (ends a canary)\n"
		"  --health CMD  with --confirm: run CMD (sh -c) now and every\n"
		"                --health-interval (default 5s); the first failure\n"
		"                rolls back at once, passing the whole window confirms\n"
		"  --force       apply even if the lockout guard objects\n"
		"  --json        print the result as JSON\n"
		"\n"
		"Rules keep their counters across applies while their text is unchanged.\n"
		"\n"
		"Lockout guard: before anything changes, the SSH connection in\n"
		"$SSH_CONNECTION and every `guard` line of FILE are run through the new\n"
		"rule set (also for a canary; not for a shadow, which enforces nothing);\n"
		"if one would be dropped, apply refuses (exit 1) and names the rule that\n"
		"drops it, unless --force.\n",
};
