// SPDX-License-Identifier: GPL-2.0
/*
 * ruleset.c - freeing and printing the parsed rule set (ruleset.h).
 *
 * moat_rule_format() prints the normalised form of a rule; stable rule
 * identity is derived from it, so two rules meaning the same thing must
 * print the same.  The parser helps: protocol lists are sorted, address
 * lists sorted and deduplicated, port lists sorted and merged, and the
 * family implied by `icmp`/`icmpv6` is stored.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/moat.h"
#include "lex.h"
#include "ruleset.h"

static void rule_free(struct moat_rule_ast *r)
{
	free(r->text);
	free(r->src.v);
	free(r->dst.v);
	free(r->sport.v);
	free(r->dport.v);
}

void moat_ruleset_free(struct moat_ruleset *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->nrules; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nguards; i++)
		rule_free(&rs->guards[i]);
	free(rs->guards);
	for (i = 0; i < rs->nsets; i++) {
		free(rs->sets[i].name);
		free(rs->sets[i].file);
		free(rs->sets[i].elems);
	}
	free(rs->sets);
	free(rs->ifaces);
	for (i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	memset(rs, 0, sizeof(*rs));
}

void moat_prefix_format(const struct moat_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int af = p->family == 6 ? AF_INET6 : AF_INET;
	unsigned int full = p->family == 6 ? 128 : 32;

	if (!len)
		return;
	if (!inet_ntop(af, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (p->plen == full)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->plen);
}

static void put_addr(FILE *f, const struct moat_ruleset *rs,
		     const struct moat_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (a->kind == MOAT_ADDR_SET) {
		if (rs && a->set < rs->nsets)
			fprintf(f, "@%s", rs->sets[a->set].name);
		else
			fprintf(f, "@#%u", a->set);
		return;
	}
	moat_prefix_format(&a->prefix, buf, sizeof(buf));
	fputs(buf, f);
}

static void put_addrs(FILE *f, const struct moat_ruleset *rs,
		      const struct moat_addr_list *l)
{
	size_t i;

	if (l->n == 1) {
		put_addr(f, rs, &l->v[0]);
		return;
	}
	fputs("{ ", f);
	for (i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		put_addr(f, rs, &l->v[i]);
	}
	fputs(" }", f);
}

static void put_range(FILE *f, const struct moat_port_range *r)
{
	if (r->lo == r->hi)
		fprintf(f, "%u", r->lo);
	else
		fprintf(f, "%u-%u", r->lo, r->hi);
}

static void put_ports(FILE *f, const struct moat_port_list *l)
{
	size_t i;

	if (l->n == 1) {
		put_range(f, &l->v[0]);
		return;
	}
	fputs("{ ", f);
	for (i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		put_range(f, &l->v[i]);
	}
	fputs(" }", f);
}

static void put_proto(FILE *f, uint8_t p)
{
	const char *name = moat_name_of(moat_proto_names, p);

	switch (p) {
	case 1:
	case 6:
	case 17:
	case 58:
	case 132:
		fputs(name, f);
		return;
	}
	if (name)
		fprintf(f, "proto %s", name);
	else
		fprintf(f, "proto %u", p);
}

static void put_flags(FILE *f, uint8_t v)
{
	static const char letters[] = "FSRPAUEW";
	int i;

	for (i = 0; i < 8; i++)
		if (v & (1u << i))
			fputc(letters[i], f);
}

static bool protos_all(const struct moat_rule_ast *r, uint8_t p)
{
	size_t i;

	if (!r->nprotos)
		return false;
	for (i = 0; i < r->nprotos; i++)
		if (r->protos[i] != p)
			return false;
	return true;
}

char *moat_rule_format(const struct moat_ruleset *rs,
		       const struct moat_rule_ast *r)
{
	char *out = NULL;
	size_t len = 0;
	bool any = false;
	size_t i;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f)
		return NULL;

	switch (r->action) {
	case MOAT_ACT_DROP:
		fputs("drop", f);
		break;
	case MOAT_ACT_REDIRECT:
		fprintf(f, "redirect %s", r->redirect_if);
		break;
	case MOAT_RULE_GUARD:
		fputs("guard", f);
		break;
	default:
		fputs("pass", f);
		break;
	}
	if (r->on_if[0])
		fprintf(f, " on %s", r->on_if);

	/* the family implied by icmp/icmpv6 is not printed */
	if (r->family == 4 && !protos_all(r, 1)) {
		fputs(" inet", f);
		any = true;
	} else if (r->family == 6 && !protos_all(r, 58)) {
		fputs(" inet6", f);
		any = true;
	} else if (r->family) {
		any = true;
	}

	if (r->nprotos == 1) {
		fputc(' ', f);
		put_proto(f, r->protos[0]);
		any = true;
	} else if (r->nprotos > 1) {
		fputs(" { ", f);
		for (i = 0; i < r->nprotos; i++) {
			if (i)
				fputs(", ", f);
			put_proto(f, r->protos[i]);
		}
		fputs(" }", f);
		any = true;
	}

	if (r->src.n || r->sport.n) {
		fputs(" from", f);
		if (r->src.n) {
			fputc(' ', f);
			put_addrs(f, rs, &r->src);
		}
		if (r->sport.n) {
			fputs(" port ", f);
			put_ports(f, &r->sport);
		}
		any = true;
	}
	if (r->dst.n || r->dport.n) {
		fputs(" to", f);
		if (r->dst.n) {
			fputc(' ', f);
			put_addrs(f, rs, &r->dst);
		}
		if (r->dport.n) {
			fputs(" port ", f);
			put_ports(f, &r->dport);
		}
		any = true;
	}
	if (r->has_flags) {
		fputs(" flags ", f);
		put_flags(f, r->flags);
		if (r->flags_mask != 0xff || !r->flags) {
			fputc('/', f);
			put_flags(f, r->flags_mask);
		}
		any = true;
	}
	if (r->icmp_type >= 0) {
		fprintf(f, " icmp-type %d", r->icmp_type);
		if (r->icmp_code >= 0)
			fprintf(f, " code %d", r->icmp_code);
		any = true;
	}
	if (r->vlan >= 0) {
		fprintf(f, " vlan %d", r->vlan);
		any = true;
	}
	if (r->ethertype) {
		fprintf(f, " ethertype 0x%04x", r->ethertype);
		any = true;
	}
	if (r->ct_states) {
		static const char *const sn[] = { "", "new", "established",
						  "related", "invalid" };
		int n = 0, s;

		for (s = 1; s < 5; s++)
			n += (r->ct_states >> s) & 1;
		fputs(n > 1 ? " state { " : " state ", f);
		for (s = 1, n = 0; s < 5; s++)
			if ((r->ct_states >> s) & 1)
				fprintf(f, "%s%s", n++ ? ", " : "", sn[s]);
		if (n > 1)
			fputs(" }", f);
		any = true;
	}
	if (!any)
		fputs(" all", f);

	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
