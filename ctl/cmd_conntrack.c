// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_conntrack.c - `moat conntrack list|count|flush`: the flow tables of
 * the `state` matcher (xdp/ct.h), and the per-slot conntrack config that
 * `moat apply` writes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cmd.h"
#include "ct.h"
#include "log.h"
#include "out.h"

static int open_pin(const char *root, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/maps/%s", root, name);
	return bpf_obj_get(path);
}

int moat_ct_apply(struct moat_state *st, unsigned int slot,
		  const struct moat_image *img)
{
	int fd = open_pin(st->root, "ct_config"), est, err;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0)
		return -errno;
	err = moat_ct_config_write(fd, slot, &img->ct);
	close(fd);
	est = open_pin(st->root, "ct_est");
	if (est >= 0 && !bpf_obj_get_info_by_fd(est, &info, &len) &&
	    info.max_entries != img->ct.max)
		pr_warn("conntrack max %u: the flow tables keep their size (%u flows) until moat is detached from every interface and applied again\n",
			img->ct.max, info.max_entries);
	if (est >= 0)
		close(est);
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

static const char *tcp_name(uint8_t s)
{
	static const char *const n[] = { "-",	      "syn-sent",  "syn-recv",
					 "established", "fin-wait", "time-wait",
					 "close" };

	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

struct filter {
	bool have_addr;
	int fam;
	uint8_t addr[16];
	int port; /* -1 = any */
	int proto; /* -1 = any */
};

static bool match(const struct filter *f, const struct moat_ct_entry *e)
{
	size_t alen = e->key.family == 6 ? 16 : 4;

	if (f->proto >= 0 && e->key.proto != f->proto)
		return false;
	if (f->port >= 0 && e->key.pa != f->port && e->key.pb != f->port)
		return false;
	if (f->have_addr &&
	    (f->fam != e->key.family ||
	     (memcmp(e->key.a, f->addr, alen) && memcmp(e->key.b, f->addr, alen))))
		return false;
	return true;
}

static void addr_str(const struct moat_ct_key *k, const __u32 *a, char *buf,
		     size_t len)
{
	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, a, buf, len);
}

static int ct_main(struct moat_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{}
	};
	struct filter f = { .port = -1, .proto = -1 };
	struct moat_ct_entry *v = NULL;
	struct moat_ct_config cfg;
	struct moat_active a;
	const char *sub;
	uint64_t now;
	size_t n = 0, shown = 0;
	int opt, rc, est = -1, nw = -1, cfd = -1, err;

	if (argc < 2) {
		pr_err("usage: moat conntrack list|count|flush [--json] [--addr A] [--port P] [--proto P]\n");
		return EXIT_USER;
	}
	sub = argv[1];
	optind = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "+j", opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'j':
			ctx->json = true;
			break;
		case 'a':
			f.have_addr = true;
			if (inet_pton(AF_INET, optarg, f.addr) == 1)
				f.fam = 4;
			else if (inet_pton(AF_INET6, optarg, f.addr) == 1)
				f.fam = 6;
			else {
				pr_err("--addr '%s' is not an IPv4 or IPv6 address\n",
				       optarg);
				return EXIT_USER;
			}
			break;
		case 'p': {
			char *end;
			long p = strtol(optarg, &end, 10);

			if (*end || p < 0 || p > 65535) {
				pr_err("--port '%s' is not a port (0-65535)\n",
				       optarg);
				return EXIT_USER;
			}
			f.port = (int)p;
			break;
		}
		case 'P':
			f.proto = !strcmp(optarg, "tcp")    ? 6 :
				  !strcmp(optarg, "udp")    ? 17 :
				  !strcmp(optarg, "icmp")   ? 1 :
				  !strcmp(optarg, "icmpv6") ? 58 :
							      atoi(optarg);
			break;
		default:
			return EXIT_USER;
		}
	}
	if (optind + 1 != argc || (strcmp(sub, "list") &&
				   strcmp(sub, "count") &&
				   strcmp(sub, "flush"))) {
		pr_err("usage: moat conntrack list|count|flush [--json] [--addr A] [--port P] [--proto P]\n");
		return EXIT_USER;
	}
	rc = moat_active_open(&a, !strcmp(sub, "flush"));
	if (rc)
		return rc;
	if (!a.loaded) {
		pr_err("moat is not active: nothing applied yet\n");
		moat_active_close(&a);
		return EXIT_USER;
	}
	est = open_pin(a.st.root, "ct_est");
	nw = open_pin(a.st.root, "ct_new");
	cfd = open_pin(a.st.root, "ct_config");
	memset(&cfg, 0, sizeof(cfg));
	if (est < 0 || nw < 0 || cfd < 0 ||
	    bpf_map_lookup_elem(cfd, &a.slot, &cfg)) {
		pr_err("cannot open the flow tables in %s: %s (apply again with this version of moat)\n",
		       a.st.root, strerror(errno));
		rc = EXIT_SYS;
		goto out;
	}
	err = moat_ct_read(est, nw, &v, &n);
	if (err) {
		pr_err("cannot read the flow tables: %s\n", strerror(-err));
		rc = EXIT_SYS;
		goto out;
	}
	now = mono_ns();

	if (!strcmp(sub, "flush")) {
		uint64_t del[2] = { 0, 0 };

		for (size_t i = 0; i < n; i++)
			if (match(&f, &v[i]) &&
			    !bpf_map_delete_elem(v[i].est ? est : nw,
						 &v[i].key))
				del[v[i].est]++;
		/* keep `inserts - deletes - entries` = evictions right */
		{
			int sfd = open_pin(a.st.root, "ct_stats");
			int ncpu = libbpf_num_possible_cpus();
			uint32_t idx[2] = { MOAT_CT_STAT_NEW_DELETE,
					    MOAT_CT_STAT_EST_DELETE };
			uint64_t *pc = ncpu > 0 ? calloc(ncpu, 8) : NULL;

			for (int t = 0; sfd >= 0 && pc && t < 2; t++) {
				if (bpf_map_lookup_elem(sfd, &idx[t], pc))
					continue;
				pc[0] += del[t];
				bpf_map_update_elem(sfd, &idx[t], pc, BPF_ANY);
			}
			free(pc);
			if (sfd >= 0)
				close(sfd);
		}
		out_init(stdout, ctx->json);
		out_obj_open(NULL);
		out_u64("flushed", "flushed %" PRIu64 " flows\n",
			del[0] + del[1]);
		out_obj_close();
		out_finish();
		goto out;
	}

	out_init(stdout, ctx->json);
	out_obj_open(NULL);
	if (!strcmp(sub, "list"))
		out_arr_open("flows");
	for (size_t i = 0; i < n; i++) {
		const struct moat_ct_entry *e = &v[i];
		const struct moat_ct_key *k = &e->key;
		int64_t exp = moat_ct_expires_in(e, &cfg, now);
		char s[64], d[64], pb[8];
		const __u32 *sa = e->val.init_b ? k->b : k->a;
		const __u32 *da = e->val.init_b ? k->a : k->b;
		unsigned int sp = e->val.init_b ? k->pb : k->pa;
		unsigned int dp = e->val.init_b ? k->pa : k->pb;

		if (exp < 0 || !match(&f, e))
			continue;
		shown++;
		if (strcmp(sub, "list"))
			continue;
		addr_str(k, sa, s, sizeof(s));
		addr_str(k, da, d, sizeof(d));
		out_obj_open(NULL);
		out_str("proto", "%-6s", proto_name(k->proto, pb, sizeof(pb)));
		out_u64("family", NULL, k->family);
		out_str("src", " %s", s);
		out_u64("sport", k->proto == 1 || k->proto == 58 ? " id %" PRIu64 :
								     ":%" PRIu64,
			sp);
		out_str("dst", " -> %s", d);
		out_u64("dport", k->proto == 1 || k->proto == 58 ? NULL :
								     ":%" PRIu64,
			dp);
		out_str("table", "  %s",
			e->est ? "established" : "embryonic");
		if (k->proto == 6)
			out_str("tcp_state", " %s", tcp_name(e->val.tcp));
		out_bool("replied", NULL, e->val.flags & MOAT_CT_F_REPLIED);
		out_str("origin", " (%s)",
			e->val.flags & MOAT_CT_F_EGRESS ? "host" : "inbound");
		out_i64("expires", " expires in %" PRId64 "s", exp);
		out_u64("packets_orig", " packets %" PRIu64,
			e->val.packets[0]);
		out_u64("packets_reply", "/%" PRIu64 "\n", e->val.packets[1]);
		out_obj_close();
	}
	if (!strcmp(sub, "list"))
		out_arr_close();
	out_u64("count", strcmp(sub, "list") ? "%" PRIu64 "\n" : NULL,
		shown);
	out_obj_close();
	out_finish();
	rc = EXIT_OK;
out:
	free(v);
	if (est >= 0)
		close(est);
	if (nw >= 0)
		close(nw);
	if (cfd >= 0)
		close(cfd);
	moat_active_close(&a);
	return rc;
}

const struct moat_cmd cmd_conntrack = {
	.name = "conntrack",
	.fn = ct_main,
	.summary = "list, count or flush the tracked connections",
	.usage =
		"usage: moat conntrack list [--json] [--addr A] [--port P] [--proto P]\n"
		"       moat conntrack count [--json] [filters]\n"
		"       moat conntrack flush [filters]\n"
		"\n"
		"The flow tables behind the `state` matcher.  Flows the host starts are\n"
		"recorded by a TC egress program on each attached interface; flows that\n"
		"arrive and are passed are recorded by the XDP program.  Embryonic flows\n"
		"(handshake not completed, no reply yet) and established ones live in\n"
		"separate LRU tables, so a flood of new flows cannot evict established\n"
		"ones.  list prints each live flow as initiator -> responder with its\n"
		"table, TCP state, origin (host or inbound), seconds until it expires and\n"
		"packets each way.  --addr/--port/--proto keep flows with that address,\n"
		"port (either side) or protocol.  flush removes the (matching) flows:\n"
		"their next packets are judged as if new (TCP: invalid unless a SYN).\n",
};
