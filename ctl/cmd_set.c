// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_set.c - `moat set add|del|list|flush|load NAME ...`: live changes to
 * a set of the rule set in force, like ipset.  The change is recorded in
 * the live-set overlay (liveset.h) and the rule file in force is applied
 * again with it: a normal apply (inactive slot written, one atomic swap),
 * which reuses the address tables when they come out the same.  Timed
 * additions expire on their own: a detached helper runs `moat set expire`
 * when the first one is due.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cmd.h"
#include "liveset.h"
#include "log.h"
#include "out.h"
#include "parse.h"

int moat_live_parse_prefix(const char *s, struct moat_prefix *p);

static const char usage[] =
	"usage: moat set add NAME ELEM... [timeout DURATION]\n"
	"       moat set del NAME ELEM...\n"
	"       moat set list NAME [--json]\n"
	"       moat set flush NAME\n"
	"       moat set load NAME FILE\n";

/* Parse the rule file in force and find set `name`. */
static int load_source(const struct moat_active *a, const char *name,
		       struct moat_ruleset *rs, struct moat_set **s)
{
	struct moat_diags d = {};
	int err;

	err = moat_parse_file(a->meta.source, rs, &d);
	if (err) {
		moat_diags_print(&d, stderr);
		moat_diags_free(&d);
		pr_err("the rule file in force (%s) no longer parses; fix it or apply another\n",
		       a->meta.source);
		return EXIT_USER;
	}
	moat_diags_free(&d);
	*s = NULL;
	for (size_t i = 0; i < rs->nsets; i++)
		if (!strcmp(rs->sets[i].name, name))
			*s = &rs->sets[i];
	if (!*s) {
		pr_err("set '%s' is not declared in %s\n", name,
		       a->meta.source);
		moat_ruleset_free(rs);
		return EXIT_USER;
	}
	return EXIT_OK;
}

/* Start a detached process that runs `moat set expire` at `when`. */
static void spawn_expiry(struct moat_ctx *ctx, int64_t when)
{
	char exe[PATH_MAX], delay[32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	pid_t pid;

	if (n <= 0)
		return;
	exe[n] = 0;
	pid = fork();
	if (pid < 0)
		return;
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	snprintf(delay, sizeof(delay), "%lld",
		 (long long)(when - time(NULL) + 1));
	{
		long long d = atoll(delay);

		if (d > 0)
			sleep((unsigned int)d);
	}
	if (ctx->netns)
		execl(exe, "moat", "-n", ctx->netns, "set", "expire", NULL);
	else
		execl(exe, "moat", "set", "expire", NULL);
	_exit(127);
}

/* Apply the rule file in force again (the overlay comes in through
 * moat_build). */
static int reapply(struct moat_ctx *ctx, const char *source)
{
	char *argv[] = { "apply", (char *)source, NULL };
	bool json = ctx->json;
	int rc;

	ctx->json = false;
	rc = cmd_apply.fn(ctx, 2, argv);
	ctx->json = json;
	return rc;
}

static void print_list(struct moat_ctx *ctx, const char *name,
		       const struct moat_set *s, const struct moat_live_set *ls)
{
	char buf[64];
	int64_t now = time(NULL);

	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	out_str("set", "set %s", name);
	out_u64("count", " (%" PRIu64 " elements", s->n);
	out_bool("live", ls ? ", live changes: differs from the file)\n" :
			      ")\n",
		 ls != NULL);
	out_arr_open("elements");
	for (size_t i = 0; i < s->n; i++) {
		int64_t exp = 0;

		for (size_t k = 0; ls && k < ls->nadds; k++)
			if (moat_prefix_eq(&ls->adds[k].p, &s->elems[i]))
				exp = ls->adds[k].expires;
		moat_prefix_format(&s->elems[i], buf, sizeof(buf));
		out_obj_open(NULL);
		out_str("elem", "  %s", buf);
		if (exp)
			out_u64("timeout", " timeout %" PRIu64 "s",
				(uint64_t)(exp > now ? exp - now : 0));
		out_text("\n");
		out_obj_close();
	}
	out_arr_close();
	out_obj_close();
	out_finish();
}

static int set_main(struct moat_ctx *ctx, int argc, char **argv)
{
	struct moat_ruleset rs = {};
	struct moat_live lv = {};
	struct moat_live_set *ls;
	struct moat_active a;
	struct moat_set *s = NULL;
	const char *op, *name = NULL;
	char *source = NULL;
	uint64_t timeout_ns = 0;
	int64_t next = 0;
	size_t dropped;
	int rc, err, nelem;

	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USER;
	}
	op = argv[1];
	if (strcmp(op, "expire")) {
		if (argc < 3) {
			fputs(usage, stderr);
			return EXIT_USER;
		}
		name = argv[2];
	}
	for (int i = 3; i < argc; i++)
		if (moat_opt_json(ctx, argv[i])) {
			memmove(&argv[i], &argv[i + 1],
				(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	nelem = argc - 3;
	if (!strcmp(op, "add") && nelem >= 2 &&
	    !strcmp(argv[argc - 2], "timeout")) {
		if (moat_parse_duration(argv[argc - 1], &timeout_ns) ||
		    timeout_ns < 1000000000ull) {
			pr_err("timeout takes a duration of at least 1s, like 30s, 5m or 1h, not '%s'\n",
			       argv[argc - 1]);
			return EXIT_USER;
		}
		nelem -= 2;
	}
	if ((!strcmp(op, "add") || !strcmp(op, "del")) && nelem < 1) {
		fputs(usage, stderr);
		return EXIT_USER;
	}
	if ((!strcmp(op, "list") || !strcmp(op, "flush")) && nelem != 0) {
		fputs(usage, stderr);
		return EXIT_USER;
	}
	if (!strcmp(op, "load") && nelem != 1) {
		fputs(usage, stderr);
		return EXIT_USER;
	}
	if (strcmp(op, "add") && strcmp(op, "del") && strcmp(op, "list") &&
	    strcmp(op, "flush") && strcmp(op, "load") && strcmp(op, "expire")) {
		pr_err("unknown set command '%s'\n", op);
		fputs(usage, stderr);
		return EXIT_USER;
	}

	rc = moat_active_require(ctx, 1, argv, usage,
				 strcmp(op, "list") != 0, &a);
	if (rc)
		return rc;
	source = strdup(a.meta.source ? a.meta.source : "");
	err = moat_live_read(a.st.root, &lv);
	if (err) {
		pr_err("cannot read the live sets: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	if (!strcmp(op, "expire")) {
		size_t gone = moat_live_expire(&lv, time(NULL), &next);

		if (gone && moat_live_write(a.st.root, &lv)) {
			rc = EXIT_SYS;
			goto out;
		}
		moat_active_close(&a);
		if (next)
			spawn_expiry(ctx, next);
		rc = gone ? reapply(ctx, source) : EXIT_OK;
		goto done;
	}
	rc = load_source(&a, name, &rs, &s);
	if (rc)
		goto out;
	ls = moat_live_get(&lv, name, s, false);
	if (ls && ls->decl != moat_live_decl_hash(s)) {
		/* the file changed the set since: start from the file */
		ls->nbase = ls->nadds = ls->ndels = 0;
		ls->base_kind = MOAT_LIVE_FILE;
		ls->decl = moat_live_decl_hash(s);
	}
	if (!strcmp(op, "list")) {
		err = moat_live_overlay(&lv, &rs, time(NULL), &dropped);
		if (err) {
			rc = EXIT_SYS;
			goto out;
		}
		ls = moat_live_get(&lv, name, NULL, false);
		print_list(ctx, name, s, ls);
		rc = EXIT_OK;
		goto out;
	}
	ls = moat_live_get(&lv, name, s, true);
	if (!ls) {
		rc = EXIT_SYS;
		goto out;
	}
	if (!strcmp(op, "flush") || !strcmp(op, "load")) {
		struct moat_prefix *elems = NULL;
		size_t n = 0;

		if (!strcmp(op, "load")) {
			struct moat_diags d = {};

			err = moat_parse_set_file(argv[3], &elems, &n, &d);
			moat_diags_print(&d, stderr);
			moat_diags_free(&d);
			if (err) {
				pr_err("%s: not loaded; the set is unchanged\n",
				       argv[3]);
				rc = EXIT_USER;
				goto out;
			}
		}
		free(ls->base);
		ls->base = elems;
		ls->nbase = n;
		ls->base_kind = elems ? MOAT_LIVE_LOADED : MOAT_LIVE_FLUSHED;
		ls->nadds = ls->ndels = 0;
	} else {
		for (int i = 3; i < 3 + nelem; i++) {
			struct moat_prefix p;
			size_t k, w = 0;

			if (moat_live_parse_prefix(argv[i], &p)) {
				pr_err("'%s' is not an address or prefix; nothing was changed\n",
				       argv[i]);
				rc = EXIT_USER;
				goto out;
			}
			/* forget earlier changes of this element */
			for (k = 0; k < ls->nadds; k++)
				if (!moat_prefix_eq(&ls->adds[k].p, &p))
					ls->adds[w++] = ls->adds[k];
			ls->nadds = w;
			for (k = 0, w = 0; k < ls->ndels; k++)
				if (!moat_prefix_eq(&ls->dels[k], &p))
					ls->dels[w++] = ls->dels[k];
			ls->ndels = w;
			if (!strcmp(op, "add")) {
				void *np = realloc(ls->adds, (ls->nadds + 1) *
								     sizeof(*ls->adds));

				if (!np) {
					rc = EXIT_SYS;
					goto out;
				}
				ls->adds = np;
				ls->adds[ls->nadds].p = p;
				ls->adds[ls->nadds++].expires =
					timeout_ns ? time(NULL) +
							     (int64_t)((timeout_ns + 999999999ull) /
								       1000000000ull) :
						     0;
			} else {
				void *np = realloc(ls->dels, (ls->ndels + 1) *
								     sizeof(*ls->dels));

				if (!np) {
					rc = EXIT_SYS;
					goto out;
				}
				ls->dels = np;
				ls->dels[ls->ndels++] = p;
			}
		}
	}
	err = moat_live_write(a.st.root, &lv);
	if (err) {
		pr_err("cannot record the change: %s; nothing was changed\n",
		       strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	moat_live_expire(&lv, time(NULL), &next);
	moat_ruleset_free(&rs);
	moat_active_close(&a);
	rc = reapply(ctx, source);
	if (rc == EXIT_OK && timeout_ns && next)
		spawn_expiry(ctx, next);
	goto done;
out:
	if (rs.rules || rs.sets)
		moat_ruleset_free(&rs);
	moat_active_close(&a);
done:
	moat_live_free(&lv);
	free(source);
	return rc;
}

const struct moat_cmd cmd_set = {
	.name = "set",
	.fn = set_main,
	.summary = "change a set of the rule set in force (add, del, list, flush, load)",
	.usage = "usage: moat set add NAME ELEM... [timeout DURATION]\n"
		 "       moat set del NAME ELEM...\n"
		 "       moat set list NAME [--json]\n"
		 "       moat set flush NAME\n"
		 "       moat set load NAME FILE\n"
		 "\n"
		 "Live changes to set NAME of the rule set in force, like ipset.  Each\n"
		 "change applies the rule file in force again with the set changed:\n"
		 "the new rule set is written beside the old one and swapped in\n"
		 "atomically.  ELEM is an address or prefix (IPv4 or IPv6).  Elements\n"
		 "added with a timeout expire on their own.  `load` replaces the whole\n"
		 "set with FILE (one address or prefix per line), `flush` empties it.\n"
		 "Live changes survive `moat apply` of a file that declares the set\n"
		 "with the same elements; a file that changes the set's declaration\n"
		 "wins.  `moat status` shows sets that differ from their file.\n",
};
