// SPDX-License-Identifier: GPL-2.0
/*
 * refeval.c - reference evaluator (see refeval.h).  The semantics, rule by
 * rule, field by field:
 *
 *  - `ethertype X` rules match frames with that ethertype (after VLAN
 *    tags), subject only to `on` and `vlan`.
 *  - Other rules match IPv4 and IPv6 packets only.  `inet`/`inet6` limits
 *    the family; with no family, a protocol list made only of icmp means
 *    IPv4, only of icmpv6 means IPv6.
 *  - An address list matches when one of its prefixes (literal, or an
 *    element of a named set) contains the address; prefixes of the other
 *    family never do.
 *  - Protocol list: the packet's protocol is in it.  Without one, ports
 *    imply tcp/udp/sctp, flags imply tcp, icmp-type/code imply icmp
 *    (IPv4) or icmpv6 (IPv6).
 *  - Ports, flags and ICMP type/code need the packet's L4 header: a first
 *    or unfragmented TCP/UDP/SCTP packet for ports, TCP for flags
 *    ((flags & mask) == value), ICMP in IPv4 / ICMPv6 in IPv6 for type
 *    and code.
 */
#include <stdbool.h>
#include <string.h>
#include <net/if.h>

#include "refeval.h"

static bool in_prefix(const struct moat_prefix *pf, int fam,
		      const uint8_t *addr)
{
	unsigned int bits = pf->plen;

	if (pf->family != fam)
		return false;
	for (unsigned int b = 0; b < bits; b++) {
		unsigned int byte = b / 8, sh = 7 - b % 8;

		if (((pf->addr[byte] >> sh) & 1) != ((addr[byte] >> sh) & 1))
			return false;
	}
	return true;
}

static bool in_list(const struct moat_ruleset *rs,
		    const struct moat_addr_list *l, int fam,
		    const uint8_t *addr)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct moat_addr *a = &l->v[i];

		if (a->kind == MOAT_ADDR_PREFIX) {
			if (in_prefix(&a->prefix, fam, addr))
				return true;
			continue;
		}
		if (a->set >= rs->nsets)
			continue;
		for (size_t e = 0; e < rs->sets[a->set].n; e++)
			if (in_prefix(&rs->sets[a->set].elems[e], fam, addr))
				return true;
	}
	return false;
}

static bool in_ports(const struct moat_port_list *l, uint16_t port)
{
	for (size_t i = 0; i < l->n; i++) {
		uint16_t lo = l->v[i].lo, hi = l->v[i].hi;

		if (lo > hi) {
			uint16_t t = lo;

			lo = hi;
			hi = t;
		}
		if (port >= lo && port <= hi)
			return true;
	}
	return false;
}

int refeval_rule_matches(const struct moat_ruleset *rs,
			 const struct moat_rule_ast *r,
			 const struct moat_pkt *p, moat_ifindex_fn ifindex,
			 void *ctx)
{
	int fam;
	bool ports = r->sport.n || r->dport.n;
	bool icmp = r->icmp_type >= 0 || r->icmp_code >= 0;
	bool is_tcp, is_portproto, is_icmp;

	if (r->on_if[0]) {
		unsigned int ifi = ifindex ? ifindex(r->on_if, ctx)
					   : if_nametoindex(r->on_if);

		if (!ifi || ifi != p->ifindex)
			return 0;
	}
	if (r->vlan >= 0 && p->vlan != r->vlan)
		return 0;
	if (r->ethertype)
		return p->ethertype == r->ethertype;

	if (p->ethertype == 0x0800)
		fam = 4;
	else if (p->ethertype == 0x86dd)
		fam = 6;
	else
		return 0;

	if (r->family && r->family != fam)
		return 0;
	if (!r->family && r->nprotos) {
		bool all1 = true, all58 = true;

		for (size_t i = 0; i < r->nprotos; i++) {
			all1 = all1 && r->protos[i] == 1;
			all58 = all58 && r->protos[i] == 58;
		}
		if ((all1 && fam != 4) || (all58 && fam != 6))
			return 0;
	}

	/* `state`: the packet's tracking state is one of the rule's */
	if (r->ct_states && !(p->ct && ((r->ct_states >> p->ct) & 1)))
		return 0;
	if (r->src.n && !in_list(rs, &r->src, fam, p->src))
		return 0;
	if (r->dst.n && !in_list(rs, &r->dst, fam, p->dst))
		return 0;

	/* protocol */
	if (r->nprotos) {
		bool found = false;

		for (size_t i = 0; i < r->nprotos; i++)
			found = found || r->protos[i] == p->proto;
		if (!found)
			return 0;
	} else if (icmp) {
		if (p->proto != (fam == 4 ? 1 : 58))
			return 0;
	} else if (r->has_flags) {
		if (p->proto != 6)
			return 0;
	} else if (ports) {
		if (p->proto != 6 && p->proto != 17 && p->proto != 132)
			return 0;
	}

	is_tcp = p->has_l4 && p->proto == 6;
	is_portproto = p->has_l4 &&
		       (p->proto == 6 || p->proto == 17 || p->proto == 132);
	is_icmp = p->has_l4 &&
		  ((fam == 4 && p->proto == 1) || (fam == 6 && p->proto == 58));

	if (ports && !is_portproto)
		return 0;
	if (r->sport.n && !in_ports(&r->sport, p->sport))
		return 0;
	if (r->dport.n && !in_ports(&r->dport, p->dport))
		return 0;
	if (r->has_flags &&
	    (!is_tcp || (p->tcpflags & r->flags_mask) != r->flags))
		return 0;
	if (icmp && !is_icmp)
		return 0;
	if (r->icmp_type >= 0 && p->icmp_type != r->icmp_type)
		return 0;
	if (r->icmp_code >= 0 && p->icmp_code != r->icmp_code)
		return 0;
	return 1;
}

int refeval_match(const struct moat_ruleset *rs, const struct moat_pkt *p,
		  moat_ifindex_fn ifindex, void *ctx)
{
	for (size_t i = 0; i < rs->nrules; i++)
		if (refeval_rule_matches(rs, &rs->rules[i], p, ifindex, ctx))
			return (int)i;
	return -1;
}
