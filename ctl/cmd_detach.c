// SPDX-License-Identifier: GPL-2.0
/* cmd_detach.c - `moat detach --dev IFACE | --all`. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "attach.h"
#include "cmd.h"
#include "log.h"
#include "netns.h"

static int detach_rec(const struct moat_iface_rec *r)
{
	int saved, err;

	err = moat_netns_enter(r->netns, &saved);
	if (err) {
		pr_warn("%s: network namespace '%s' is gone (%s); forgetting the interface\n",
			r->name, r->netns, strerror(-err));
		return 0;
	}
	err = moat_detach(r);
	moat_netns_restore(saved);
	if (err == -ENOENT) {
		pr_info("%s: moat was no longer attached\n", r->name);
		return 0;
	}
	if (err)
		pr_err("%s: cannot detach: %s\n", r->name, strerror(-err));
	return err;
}

static int detach_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "all", no_argument, NULL, 'a' },
		{}
	};
	const char *netns = ctx->netns ? ctx->netns : "";
	struct moat_iface_rec *recs = NULL;
	char **devs = NULL;
	size_t ndevs = 0, nrecs = 0, keep = 0;
	bool all = false;
	struct moat_state st;
	int opt, err, rc = EXIT_OK;

	devs = calloc(argc, sizeof(*devs));
	if (!devs)
		return EXIT_SYS;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+d:a", opts, NULL)) != -1) {
		if (opt == 'd')
			devs[ndevs++] = optarg;
		else if (opt == 'a')
			all = true;
		else {
			free(devs);
			return EXIT_USER;
		}
	}
	if (optind != argc || (!ndevs && !all) || (ndevs && all)) {
		pr_err("usage: moat detach --dev IFACE... | --all\n");
		free(devs);
		return EXIT_USER;
	}
	err = moat_state_open(&st, false, true);
	if (err == -ENOENT) {
		if (all) {
			pr_info("moat is not active: nothing to detach\n");
			free(devs);
			return EXIT_OK;
		}
		pr_err("moat is not attached to %s\n", devs[0]);
		free(devs);
		return EXIT_USER;
	}
	if (err) {
		pr_err("cannot open moat state: %s\n", strerror(-err));
		free(devs);
		return moat_explain_privileges(err, moat_exit_for(err));
	}
	err = moat_ifaces_read(&st, &recs, &nrecs);
	if (err) {
		pr_err("cannot read interface records: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	for (size_t i = 0; i < ndevs; i++) {
		bool found = false;

		for (size_t j = 0; j < nrecs; j++)
			if (!strcmp(recs[j].name, devs[i]) &&
			    !strcmp(recs[j].netns, netns))
				found = true;
		if (!found) {
			pr_err("moat is not attached to %s%s%s\n", devs[i],
			       *netns ? " in network namespace " : "", netns);
			rc = EXIT_USER;
			goto out;
		}
	}
	for (size_t j = 0; j < nrecs; j++) {
		bool match = all;

		for (size_t i = 0; i < ndevs; i++)
			if (!strcmp(recs[j].name, devs[i]) &&
			    !strcmp(recs[j].netns, netns))
				match = true;
		if (match && !detach_rec(&recs[j])) {
			printf("detached %s\n", recs[j].name);
			continue;
		}
		if (match)
			rc = EXIT_SYS;
		recs[keep++] = recs[j];
	}
	if (keep == 0) {
		/* nothing attached any more: remove every pin */
		err = moat_state_remove(&st);
		if (err) {
			pr_err("cannot remove %s: %s\n", st.root,
			       strerror(-err));
			rc = EXIT_SYS;
		}
	} else {
		err = moat_ifaces_write(&st, recs, keep);
		if (err) {
			pr_err("cannot update interface records: %s\n",
			       strerror(-err));
			rc = EXIT_SYS;
		}
	}
out:
	free(recs);
	free(devs);
	moat_state_close(&st);
	return rc;
}

const struct moat_cmd cmd_detach = {
	.name = "detach",
	.fn = detach_main,
	.summary = "remove moat from interfaces (and its pins with the last)",
	.usage = "usage: moat detach --dev IFACE... | --all\n"
		 "\n"
		 "Detach moat's XDP program from IFACE (in the namespace given by -n),\n"
		 "or from every interface with --all.  When no interface is left,\n"
		 "everything moat pinned under /sys/fs/bpf/moat is removed.\n",
};
