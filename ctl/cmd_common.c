// SPDX-License-Identifier: GPL-2.0
/* cmd_common.c - helpers shared by the subcommands. */
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include "cmd.h"
#include "gens.h"
#include "log.h"
#include "privs.h"
#include "parse.h"
#include "liveset.h"

/* Live set changes (`moat set`, liveset.h) recorded in the state: applied
 * to the sets whose declaration they were made against. */
static int live_overlay(struct moat_ruleset *rs)
{
	const char *env = getenv("MOAT_BPFFS_DIR");
	struct moat_live lv;
	size_t dropped = 0;
	int err;

	if (moat_live_read(env && *env ? env : MOAT_PIN_ROOT, &lv))
		return 0; /* no state (or not readable): the file alone */
	err = moat_live_overlay(&lv, rs, time(NULL), &dropped);
	if (dropped)
		pr_info("live changes to %zu set(s) dropped: the file changed their declaration\n",
			dropped);
	moat_live_free(&lv);
	return err;
}

int moat_build(const char *path, struct moat_ruleset *rs,
	       struct moat_image *img, struct moat_diags *diags)
{
	struct moat_compile_opts copts = {};
	int err;

	memset(rs, 0, sizeof(*rs));
	memset(img, 0, sizeof(*img));
	err = moat_parse_file(path, rs, diags);
	if (!err)
		err = live_overlay(rs);
	if (!err)
		err = moat_compile(rs, &copts, img, diags);
	moat_diags_print(diags, stderr);
	if (!err)
		return EXIT_OK;
	moat_image_free(img);
	moat_ruleset_free(rs);
	if (err == -EINVAL || diags->nerrors) {
		fprintf(stderr, "%s: %zu error%s; nothing was changed\n", path,
			diags->nerrors, diags->nerrors == 1 ? "" : "s");
		return EXIT_USER;
	}
	pr_err("%s: %s\n", path, strerror(-err));
	return moat_exit_for(err);
}

int moat_exit_for(int err)
{
	switch (-err) {
	case 0:
		return EXIT_OK;
	case EPERM:
	case EACCES:
	case ENOENT:
	case ENODEV:
	case EINVAL:
	case ENOTDIR:
	case EISDIR:
		return EXIT_USER;
	default:
		return EXIT_SYS;
	}
}

int moat_explain_privileges(int err, int rc)
{
	char miss[64] = "";
	uint64_t eff;
	bool known;

	if (err != -EPERM && err != -EACCES)
		return rc;
	/* root whose capabilities can be read: name what it lacks */
	known = geteuid() == 0 && !moat_caps_effective(&eff);
	if (!known || *moat_caps_missing(eff, miss, sizeof(miss))) {
		pr_err("permission denied: moat needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)\n");
		if (known)
			pr_err("this process lacks %s\n", miss);
		return EXIT_USER;
	}
	/* root with every capability moat needs: not a missing privilege */
	pr_err("the kernel refused although moat runs as root with CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN: its verifier rejected the program, or lockdown or a security module (SELinux, AppArmor) forbids the operation; `moat -vv` prints the kernel's log\n");
	return EXIT_SYS;
}

bool moat_opt_json(struct moat_ctx *ctx, const char *arg)
{
	if (strcmp(arg, "--json") && strcmp(arg, "-j"))
		return false;
	ctx->json = true;
	return true;
}

int moat_parse_duration(const char *s, uint64_t *ns)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v > 1000000ull)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		*ns = v * 1000000000ull;
	else if (!strcmp(end, "ms"))
		*ns = v * 1000000ull;
	else if (!strcmp(end, "m"))
		*ns = v * 60000000000ull;
	else if (!strcmp(end, "h"))
		*ns = v * 3600000000000ull;
	else
		return -EINVAL;
	return 0;
}

void moat_test_pause(const char *step)
{
	const char *want = getenv("MOAT_TEST_PAUSE");

	if (!want || strcmp(want, step))
		return;
	fprintf(stderr, "moat: test: paused at %s\n", step);
	fflush(stderr);
	pause();
}

const char *moat_action_name(int action)
{
	switch (action) {
	case MOAT_ACT_PASS:
		return "pass";
	case MOAT_ACT_DROP:
		return "drop";
	case MOAT_ACT_REDIRECT:
		return "redirect";
	default:
		return "?";
	}
}

void moat_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Anything pinned under root: maps or interface records. */
static bool some_pins(const char *root)
{
	char path[512];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/ifaces", root);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/maps", root);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = e->d_name[0] != '.';
	closedir(d);
	return found;
}

int moat_active_open(struct moat_active *a, bool exclusive)
{
	int err, view;

	memset(a, 0, sizeof(*a));
	err = moat_state_open(&a->st, false, exclusive);
	if (err == -ENOENT)
		return EXIT_OK; /* never applied: loaded stays false */
	if (err) {
		pr_err("cannot open moat state in %s: %s\n", a->st.root,
		       strerror(-err));
		return moat_explain_privileges(err, moat_exit_for(err));
	}
	err = moat_state_open_maps(&a->st);
	if (err == -ENOENT && some_pins(a->st.root)) {
		pr_err("moat state in %s is damaged (a pinned map is missing); run `moat apply` to repair it\n",
		       a->st.root);
		return EXIT_SYS;
	}
	if (err == -ENOENT)
		return EXIT_OK;
	if (err) {
		pr_err("cannot open moat maps in %s: %s\n", a->st.root,
		       strerror(-err));
		return moat_explain_privileges(err, moat_exit_for(err));
	}
	err = moat_gens_load(&a->st, &a->gens);
	if (err) {
		pr_err("moat state in %s is damaged (%s); run `moat apply` to repair it\n",
		       a->st.root, strerror(-err));
		return EXIT_SYS;
	}
	a->have_gens = true;
	view = moat_gens_view(&a->gens);
	if (view < 0)
		return EXIT_OK;
	a->slot = view;
	err = moat_meta_read(&a->st, a->slot, &a->meta);
	if (err == -ENOENT)
		return EXIT_OK;
	if (err) {
		pr_err("moat state in %s is damaged (%s); run `moat apply` to repair it\n",
		       a->st.root, strerror(-err));
		return EXIT_SYS;
	}
	a->loaded = true;
	return EXIT_OK;
}

/* moat_active_open, and an error unless something was applied */
static int active_loaded(struct moat_active *a, bool exclusive)
{
	int rc = moat_active_open(a, exclusive);

	if (rc)
		return rc;
	if (!a->loaded) {
		pr_err("moat is not active: nothing applied yet\n");
		moat_active_close(a);
		return EXIT_USER;
	}
	return EXIT_OK;
}

int moat_active_require(struct moat_ctx *ctx, int argc, char **argv,
			const char *usage, bool exclusive,
			struct moat_active *a)
{
	for (int i = 1; i < argc; i++) {
		if (!moat_opt_json(ctx, argv[i])) {
			pr_err("usage: %s\n", usage);
			return EXIT_USER;
		}
	}
	return active_loaded(a, exclusive);
}

void moat_active_close(struct moat_active *a)
{
	if (a->have_gens)
		moat_gens_free(&a->gens);
	moat_meta_free(&a->meta);
	moat_state_close(&a->st);
}

int moat_parse_percent(const char *s, uint32_t *x100)
{
	unsigned long whole = 0, frac = 0;
	int nfrac = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (*p++ - '0');
		if (whole > 100)
			return -EINVAL;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (nfrac == 2) {
				if (*p != '0')
					return -EINVAL; /* finer than 0.01% */
			} else {
				frac = frac * 10 + (*p - '0');
				nfrac++;
			}
			p++;
		}
	}
	if (nfrac == 1)
		frac *= 10;
	if (*p == '%')
		p++;
	if (*p)
		return -EINVAL;
	*x100 = whole * 100 + frac;
	return *x100 == 0 || *x100 >= 10000 ? -ERANGE : 0;
}

int moat_change_args(struct moat_ctx *ctx, int argc, char **argv,
		     const char *usage, struct moat_devs *devs,
		     uint32_t *canary, struct moat_active *a)
{
	static const struct option opts[] = {
		{ "canary", required_argument, NULL, 'C' },
		{ "dev", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	int opt;

	memset(devs, 0, sizeof(*devs));
	if (canary)
		*canary = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+d:j", opts, NULL)) != -1) {
		if (opt == 'j') {
			ctx->json = true;
		} else if (opt == 'C' && canary) {
			if (moat_parse_percent(optarg, canary)) {
				pr_err("--canary takes a share of flows above 0 and below 100 percent, like 10 or 0.5, not '%s'\n",
				       optarg);
				return EXIT_USER;
			}
		} else if (opt == 'd' && devs->n < MOAT_MAX_PORTS &&
			   strlen(optarg) < IF_NAMESIZE) {
			snprintf(devs->name[devs->n++], IF_NAMESIZE, "%s", optarg);
		} else {
			pr_err("usage: %s\n", usage);
			return EXIT_USER;
		}
	}
	if (optind != argc) {
		pr_err("usage: %s\n", usage);
		return EXIT_USER;
	}
	return active_loaded(a, true);
}
