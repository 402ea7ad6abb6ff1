/* SPDX-License-Identifier: GPL-2.0 */
/* cmd.h - what the subcommands (ctl/cmd_*.c) share. */
#ifndef MOAT_CMD_H
#define MOAT_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include "compile.h"
#include "diag.h"
#include "gens.h"
#include "image.h"
#include "ruleset.h"
#include "state.h"

/* exit codes */
#define EXIT_OK 0
#define EXIT_USER 1 /* bad rule file, bad argument, missing interface */
#define EXIT_SYS 2 /* the system failed us */

struct moat_ctx {
	const char *netns; /* -n NETNS, or NULL */
	bool json;
	const char *prog; /* argv[0] for messages */
};

struct moat_cmd {
	const char *name;
	int (*fn)(struct moat_ctx *ctx, int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text */
};

extern const struct moat_cmd cmd_check, cmd_apply, cmd_status, cmd_stats,
	cmd_show, cmd_detach, cmd_confirm, cmd_rollback, cmd_conntrack,
	cmd_set, cmd_diff, cmd_promote, cmd_discard;

/* apply: write the slot's connection-tracking config (cmd_conntrack.c). */
int moat_ct_apply(struct moat_state *st, unsigned int slot,
		  const struct moat_image *img);

/* Parse and compile FILE; prints every diagnostic to stderr.  Returns 0,
 * EXIT_USER or EXIT_SYS.  On 0, rs and img must be freed by the caller. */
int moat_build(const char *path, struct moat_ruleset *rs,
	       struct moat_image *img, struct moat_diags *diags);

/* Exit code for a -errno from the system side: permissions and missing
 * things the user named are user errors, the rest system errors. */
int moat_exit_for(int err);

/* The exit code for err: an EPERM/EACCES is explained, as the
 * capabilities moat lacks (EXIT_USER) or, with all of them, as the kernel
 * refusing for another reason (EXIT_SYS: its verifier, lockdown, a
 * security module); any other err prints nothing and gets rc. */
int moat_explain_privileges(int err, int rc);

/* Open the state for reading (maps + active slot + its metadata).  Prints
 * "not active" style messages itself.  Returns 0, or an exit code. */
struct moat_active {
	struct moat_state st;
	unsigned int slot; /* shown as "the" rule set (moat_gens_view) */
	struct moat_gen_meta meta;
	struct moat_gens gens; /* per interface */
	bool loaded, have_gens;
};
int moat_active_open(struct moat_active *a, bool exclusive);
void moat_active_close(struct moat_active *a);

/* For commands that act on what is in force and take no argument but
 * --json: check the arguments (printing `usage` on others), open the state
 * and require that something was applied.  Returns 0 with a open, or an
 * exit code with a closed. */
int moat_active_require(struct moat_ctx *ctx, int argc, char **argv,
			const char *usage, bool exclusive,
			struct moat_active *a);

/* Interfaces named with --dev (rollback, promote, discard). */
struct moat_devs {
	char name[MOAT_MAX_PORTS][IF_NAMESIZE];
	size_t n;
};

/* rollback, promote, discard: parse [--dev IFACE]... [--json], and
 * --canary PERCENT into *canary (1/100 percent, 0 when not given) when
 * canary is not NULL; open the state for a change (exclusive) and require
 * that something is applied.  Returns 0 with a open, or an exit code with
 * a closed. */
int moat_change_args(struct moat_ctx *ctx, int argc, char **argv,
		     const char *usage, struct moat_devs *devs,
		     uint32_t *canary, struct moat_active *a);

/* Common option handling: returns true when argv[i] was --json/-j. */
bool moat_opt_json(struct moat_ctx *ctx, const char *arg);

/* Parse a share of flows, "10", "12.5", "0.25%": above 0 and below 100,
 * to 1/100 percent.  *x100 = percent * 100. */
int moat_parse_percent(const char *s, uint32_t *x100);

/* Parse "30", "30s", "5m", "1h", "500ms" into nanoseconds. */
int moat_parse_duration(const char *s, uint64_t *ns);

/* Test-only: when MOAT_TEST_PAUSE names `step`, print
 * "moat: test: paused at STEP" to stderr and wait for a signal, so tests can
 * kill moat at every step of a transition. */
void moat_test_pause(const char *step);

const char *moat_action_name(int action);
void moat_format_time(int64_t t, char *buf, size_t len);

#endif /* MOAT_CMD_H */
