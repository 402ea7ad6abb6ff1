// SPDX-License-Identifier: GPL-2.0
/* guard.c - lockout guard: probe management traffic against a candidate. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "guard.h"
#include "imagesim.h"
#include "log.h"

#define MAX_PROBES 4096
#define TCP_SYN 0x02
#define TCP_ACK 0x10

struct probe {
	struct moat_pkt pkt;
	char what[512];
};

struct probes {
	struct probe *v;
	size_t n;
};

static void add(struct probes *ps, const struct moat_pkt *pkt,
		const char *what)
{
	if (ps->n >= MAX_PROBES)
		return;
	ps->v[ps->n].pkt = *pkt;
	snprintf(ps->v[ps->n].what, sizeof(ps->v[ps->n].what), "%s", what);
	ps->n++;
}

/* representative host of a prefix: its first host address */
static void first_host(const struct moat_prefix *p, uint8_t *out)
{
	unsigned int bits = p->family == 6 ? 128 : 32;

	memcpy(out, p->addr, 16);
	if (p->plen + 2u <= bits)
		out[bits / 8 - 1] |= 1;
}

struct addr_rep {
	uint8_t family;
	uint8_t addr[16];
};

/* Representative addresses of an address list; `any` gives `dflt`. */
static size_t reps(const struct moat_ruleset *rs, const struct moat_addr_list *l,
		   const struct addr_rep *dflt, size_t ndflt,
		   struct addr_rep *out, size_t max)
{
	size_t n = 0;

	if (!l->n) {
		for (size_t i = 0; i < ndflt && n < max; i++)
			out[n++] = dflt[i];
		return n;
	}
	for (size_t i = 0; i < l->n && n < max; i++) {
		const struct moat_prefix *p = &l->v[i].prefix;

		if (l->v[i].kind == MOAT_ADDR_SET) {
			const struct moat_set *s = &rs->sets[l->v[i].set];

			if (!s->n)
				continue;
			p = &s->elems[0];
		}
		out[n].family = p->family;
		first_host(p, out[n].addr);
		n++;
	}
	return n;
}

static void local_addrs(const uint32_t *ifindex, size_t nif,
			struct addr_rep *out, size_t *n, size_t max)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i && *n < max; i = i->ifa_next) {
		unsigned int idx;
		bool ours = !nif;

		if (!i->ifa_addr || !i->ifa_name)
			continue;
		idx = if_nametoindex(i->ifa_name);
		for (size_t k = 0; k < nif; k++)
			if (ifindex[k] == idx)
				ours = true;
		if (!ours)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			out[*n].family = 4;
			memset(out[*n].addr, 0, 16);
			memcpy(out[*n].addr,
			       &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			(*n)++;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			out[*n].family = 6;
			memcpy(out[*n].addr,
			       &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			       16);
			(*n)++;
		}
	}
	freeifaddrs(ifa);
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 132:
		return "sctp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	default:
		return "ip";
	}
}

static void fmt_addr(const struct addr_rep *a, char *buf, size_t len)
{
	inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->addr, buf, len);
}

static void guard_probes(const struct moat_ruleset *rs,
			 const struct moat_rule_ast *g, const uint32_t *ifindex,
			 size_t nif, struct probes *ps)
{
	static const struct addr_rep any_src[] = {
		{ 4, { 198, 51, 100, 1 } },
		{ 6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
	};
	struct addr_rep src[32], dst[64];
	size_t nsrc, ndst = 0;
	uint8_t protos[MOAT_PROTO_MAX];
	size_t nprotos = g->nprotos;
	char a1[64], a2[64], what[512];

	memcpy(protos, g->protos, sizeof(protos));
	if (!nprotos) {
		protos[0] = g->icmp_type >= 0 ? (g->family == 6 ? 58 : 1) : 6;
		nprotos = 1;
	}
	nsrc = reps(rs, &g->src, any_src, 2, src, 32);
	if (g->dst.n)
		ndst = reps(rs, &g->dst, NULL, 0, dst, 64);
	else
		local_addrs(ifindex, nif, dst, &ndst, 64);
	for (size_t pi = 0; pi < nprotos; pi++) {
		for (size_t s = 0; s < nsrc; s++) {
			for (size_t d = 0; d < ndst; d++) {
				struct moat_pkt pkt = {};
				uint8_t pr = protos[pi];

				if (src[s].family != dst[d].family)
					continue;
				if (g->family && g->family != src[s].family)
					continue;
				if ((pr == 1 && src[s].family != 4) ||
				    (pr == 58 && src[s].family != 6))
					continue;
				pkt.ethertype =
					src[s].family == 6 ? 0x86dd : 0x0800;
				pkt.vlan = g->vlan >= 0 ? g->vlan :
							  MOAT_VLAN_NONE;
				pkt.proto = pr;
				memcpy(pkt.src, src[s].addr, 16);
				memcpy(pkt.dst, dst[d].addr, 16);
				pkt.has_l4 = true;
				pkt.sport = g->sport.n ? g->sport.v[0].lo :
							 40000;
				pkt.dport = g->dport.n ? g->dport.v[0].lo : 22;
				pkt.tcpflags = g->has_flags ? g->flags :
							      TCP_SYN;
				pkt.ct = MOAT_CT_NEW; /* a new connection */
				if (pr == 1 || pr == 58) {
					pkt.icmp_type = g->icmp_type >= 0 ?
								g->icmp_type :
							pr == 1 ? 8 :
								  128;
					pkt.icmp_code = g->icmp_code >= 0 ?
								g->icmp_code :
								0;
					pkt.sport = pkt.dport = 0;
				}
				fmt_addr(&src[s], a1, sizeof(a1));
				fmt_addr(&dst[d], a2, sizeof(a2));
				snprintf(what, sizeof(what),
					 "%s:%u: guard: %s %s -> %s port %u",
					 g->loc.file, g->loc.line,
					 proto_name(pr), a1, a2, pkt.dport);
				add(ps, &pkt, what);
			}
		}
	}
}

static int ssh_probes(struct probes *ps)
{
	const char *env = getenv("SSH_CONNECTION");
	char cli[64], srv[64], what[160];
	unsigned int cport, sport;
	struct moat_pkt pkt = {};
	int fam = 4;

	if (!env || !*env)
		return 0;
	if (sscanf(env, "%63s %u %63s %u", cli, &cport, srv, &sport) != 4 ||
	    cport > 65535 || sport > 65535) {
		pr_warn("SSH_CONNECTION is not 'CLIENT CPORT SERVER SPORT'; the lockout guard cannot check it\n");
		return 0;
	}
	if (inet_pton(AF_INET, cli, pkt.src) == 1 &&
	    inet_pton(AF_INET, srv, pkt.dst) == 1) {
		fam = 4;
	} else if (inet_pton(AF_INET6, cli, pkt.src) == 1 &&
		   inet_pton(AF_INET6, srv, pkt.dst) == 1) {
		fam = 6;
	} else {
		pr_warn("SSH_CONNECTION holds addresses moat cannot read; the lockout guard cannot check it\n");
		return 0;
	}
	pkt.ethertype = fam == 6 ? 0x86dd : 0x0800;
	pkt.vlan = MOAT_VLAN_NONE;
	pkt.proto = 6;
	pkt.has_l4 = true;
	pkt.sport = cport;
	pkt.dport = sport;
	pkt.tcpflags = TCP_ACK;
	pkt.ct = MOAT_CT_ESTABLISHED; /* picked up by the TC egress program */
	snprintf(what, sizeof(what), "your SSH session %s:%u -> %s:%u", cli,
		 cport, srv, sport);
	add(ps, &pkt, what);
	pkt.tcpflags = TCP_SYN;
	pkt.ct = MOAT_CT_NEW;
	snprintf(what, sizeof(what), "a new SSH connection %s -> %s:%u", cli,
		 srv, sport);
	add(ps, &pkt, what);
	return 0;
}

int moat_guard_check(const struct moat_ruleset *rs,
		     const struct moat_image *img, const uint32_t *ifindex,
		     size_t nif)
{
	struct moat_imagesim *sim;
	struct probes ps = {};
	int dropped = 0;
	size_t nifs = nif ? nif : 1;

	ps.v = calloc(MAX_PROBES, sizeof(*ps.v));
	if (!ps.v)
		return -ENOMEM;
	ssh_probes(&ps);
	for (size_t i = 0; i < rs->nguards; i++)
		guard_probes(rs, &rs->guards[i], ifindex, nif, &ps);
	if (!ps.n) {
		free(ps.v);
		return 0;
	}
	sim = moat_imagesim_new(img);
	if (!sim) {
		free(ps.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ps.n && dropped < 10; i++) {
		for (size_t k = 0; k < nifs; k++) {
			char ifn[IF_NAMESIZE] = "any interface";
			struct moat_pkt pkt = ps.v[i].pkt;
			int pos, action;

			pkt.ifindex = nif ? ifindex[k] : 0;
			if (nif)
				if_indextoname(ifindex[k], ifn);
			pos = moat_imagesim_lookup(sim, &pkt);
			action = pos >= 0 ? (int)img->rules[pos].action :
					    (int)img->info.policy;
			if (action == MOAT_ACT_PASS)
				continue;
			dropped++;
			if (pos >= 0)
				pr_err("lockout guard: %s on %s would be %s by %s:%u: %s\n",
				       ps.v[i].what, ifn,
				       action == MOAT_ACT_DROP ? "dropped" :
								 "redirected",
				       img->rule_info[pos].file,
				       img->rule_info[pos].line,
				       img->rule_info[pos].text);
			else
				pr_err("lockout guard: %s on %s would be dropped by the policy (no rule passes it)\n",
				       ps.v[i].what, ifn);
			break;
		}
	}
	moat_imagesim_free(sim);
	free(ps.v);
	return dropped ? 1 : 0;
}
