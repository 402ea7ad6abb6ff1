// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - the moat command line: global options, then one subcommand
 * (one file each: ctl/cmd_*.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "cmd.h"
#include "log.h"
#include "netns.h"

#define MOAT_VERSION "0.1.0"

static const struct moat_cmd *const cmds[] = {
	&cmd_check,  &cmd_apply,   &cmd_diff,	   &cmd_promote,
	&cmd_discard, &cmd_confirm, &cmd_rollback, &cmd_status,
	&cmd_stats,  &cmd_show,	   &cmd_detach,   &cmd_conntrack,
	&cmd_set,
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: moat [-n NETNS] [-v] [-j] COMMAND [ARGS]\n"
		"\n"
		"moat: an XDP firewall.  Rule files compile into BPF maps that are\n"
		"swapped in atomically; the firewall keeps running after moat exits.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f, "  %-8s %s\n", "help", "help on a command: moat help COMMAND");
	fprintf(f,
		"\n"
		"global options:\n"
		"  -n, --netns NETNS  act on interfaces in network namespace NETNS\n"
		"                     (/run/netns/NETNS; pins stay in this bpffs)\n"
		"  -v, --verbose      more detail (repeat for debug output)\n"
		"  -q, --quiet        only errors\n"
		"  -j, --json         JSON output where a command prints data\n"
		"  -V, --version      print the version\n"
		"  -h, --help         this text\n"
		"\n"
		"exit status: 0 ok, 1 user error (bad rule file or argument),\n"
		"2 system error.  State: /sys/fs/bpf/moat.\n");
}

static const struct moat_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
}

static int cmd_help(const char *name)
{
	const struct moat_cmd *c;

	if (!name) {
		usage(stdout);
		return EXIT_OK;
	}
	c = find_cmd(name);
	if (!c) {
		pr_err("no such command '%s'; see `moat help`\n", name);
		return EXIT_USER;
	}
	fputs(c->usage, stdout);
	return EXIT_OK;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (moat_log_level < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	if (moat_log_level < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct moat_ctx ctx = { .prog = "moat" };
	const struct moat_cmd *c;
	int opt, saved = -1, err, rc;

	while ((opt = getopt_long(argc, argv, "+n:vqjVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ctx.netns = optarg;
			break;
		case 'v':
			moat_log_level++;
			break;
		case 'q':
			moat_log_level = LOG_ERR;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'V':
			printf("moat %s\n", MOAT_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USER;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USER;
	}
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);

	if (!strcmp(argv[optind], "help"))
		return cmd_help(optind + 1 < argc ? argv[optind + 1] : NULL);
	c = find_cmd(argv[optind]);
	if (!c) {
		pr_err("unknown command '%s'; see `moat help`\n", argv[optind]);
		return EXIT_USER;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(c->usage, stdout);
			return EXIT_OK;
		}
	}
	if (ctx.netns) {
		err = moat_netns_enter(ctx.netns, &saved);
		if (err) {
			pr_err("cannot enter network namespace '%s': %s\n",
			       ctx.netns, strerror(-err));
			return moat_explain_privileges(err, moat_exit_for(err));
		}
	}
	/* getopt for the subcommand starts afresh */
	optind++;
	rc = c->fn(&ctx, argc - optind + 1, argv + optind - 1);
	if (saved >= 0)
		close(saved);
	return rc;
}
