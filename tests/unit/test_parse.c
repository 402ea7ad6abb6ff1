// SPDX-License-Identifier: GPL-2.0
/*
 * test_parse.c - the rule-language parser (ctl/parse.c) and rule
 * formatting (ctl/ruleset.c): every statement and matcher, includes, set
 * files, every error message, recovery, format round trips, robustness.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "../include/moat.h"
#include "parse.h"

static char root[2048]; /* repository root */
static char fix[2100]; /* tests/unit/fixtures */
static struct moat_ruleset rs;
static struct moat_diags dg;
static int ret;

static void reset(void)
{
	moat_ruleset_free(&rs);
	moat_diags_free(&dg);
}

static int parse(const char *text)
{
	reset();
	ret = moat_parse_string("t.rules", text, fix, &rs, &dg);
	return ret;
}

static int parse_file(const char *path)
{
	reset();
	ret = moat_parse_file(path, &rs, &dg);
	return ret;
}

static const char *diags_text(void)
{
	static char buf[16384];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	buf[0] = 0;
	if (f) {
		moat_diags_print(&dg, f);
		fclose(f);
	}
	return buf;
}

/* Normalised text of rule i (static buffer). */
static const char *fmt(size_t i)
{
	static char buf[4096];
	char *s;

	if (i >= rs.nrules)
		return "(no such rule)";
	s = moat_rule_format(&rs, &rs.rules[i]);
	snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
	free(s);
	return buf;
}

static const char *pfx(const struct moat_prefix *p)
{
	static char buf[64];

	moat_prefix_format(p, buf, sizeof(buf));
	return buf;
}

static const char *fixpath(const char *rel)
{
	static char buf[2][PATH_MAX];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", fix, rel);
	return buf[k];
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

#define PARSE_OK(text)                                                         \
	do {                                                                   \
		if (parse(text)) {                                             \
			TEST_FAIL("parse failed (%d):\n%s", ret,               \
				  diags_text());                               \
			return;                                                \
		}                                                              \
	} while (0)

#define PARSE_FILE_OK(path)                                                    \
	do {                                                                   \
		if (parse_file(path)) {                                        \
			TEST_FAIL("parse of %s failed (%d):\n%s", path, ret,   \
				  diags_text());                               \
			return;                                                \
		}                                                              \
	} while (0)

/* The index of the first diagnostic of `level`, or -1. */
static int first_diag(enum moat_diag_level level)
{
	size_t i;

	for (i = 0; i < dg.n; i++)
		if (dg.v[i].level == level)
			return i;
	return -1;
}

/* Check diagnostic k: file suffix, line, col and message substring. */
static bool diag_is(int k, const char *file, unsigned int line,
		    unsigned int col, const char *msg)
{
	const struct moat_diag *d;

	if (k < 0 || (size_t)k >= dg.n)
		return false;
	d = &dg.v[k];
	if (file && (!d->loc.file || !ends_with(d->loc.file, file)))
		return false;
	if (!file && d->loc.file)
		return false;
	return d->loc.line == line && d->loc.col == col && d->msg &&
	       strstr(d->msg, msg);
}

/* ---- statements ---- */

TEST(policy)
{
	PARSE_OK("pass all\n");
	ASSERT_EQ(rs.policy, MOAT_ACT_PASS);
	PARSE_OK("policy drop\npass all\n");
	ASSERT_EQ(rs.policy, MOAT_ACT_DROP);
	PARSE_OK("policy pass\n");
	ASSERT_EQ(rs.policy, MOAT_ACT_PASS);
	ASSERT_EQ(rs.nrules, 0);
}

TEST(empty_input)
{
	PARSE_OK("");
	ASSERT_EQ(rs.nrules, 0);
	PARSE_OK("\n\n# only comments\n;;\n   \n");
	ASSERT_EQ(rs.nrules, 0);
	ASSERT_EQ(dg.n, 0);
}

TEST(statement_separators)
{
	PARSE_OK("pass tcp to port 1; drop udp to port 2 ;pass all");
	ASSERT_EQ(rs.nrules, 3);
	ASSERT_STREQ(fmt(0), "pass tcp to port 1");
	ASSERT_STREQ(fmt(1), "drop udp to port 2");
	ASSERT_STREQ(fmt(2), "pass all");
	ASSERT_EQ(rs.rules[1].loc.col, 21);
	ASSERT_EQ(rs.rules[2].loc.col, 41);
}

TEST(set_inline)
{
	PARSE_OK("set trusted { 192.0.2.0/24, 2001:db8::/32, 198.51.100.7 }\n"
		 "pass from @trusted\n");
	ASSERT_EQ(rs.nsets, 1);
	ASSERT_STREQ(rs.sets[0].name, "trusted");
	ASSERT_TRUE(rs.sets[0].file == NULL);
	ASSERT_EQ(rs.sets[0].n, 3);
	ASSERT_EQ(rs.sets[0].elems[0].family, 4);
	ASSERT_EQ(rs.sets[0].elems[0].plen, 24);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[0]), "192.0.2.0/24");
	ASSERT_EQ(rs.sets[0].elems[1].family, 6);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[1]), "2001:db8::/32");
	ASSERT_EQ(rs.sets[0].elems[2].plen, 32);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[2]), "198.51.100.7");
	ASSERT_EQ(rs.sets[0].loc.line, 1);
	ASSERT_EQ(rs.sets[0].loc.col, 1);
	ASSERT_STREQ(rs.sets[0].loc.file, "t.rules");
	ASSERT_EQ(rs.rules[0].src.n, 1);
	ASSERT_EQ(rs.rules[0].src.v[0].kind, MOAT_ADDR_SET);
	ASSERT_EQ(rs.rules[0].src.v[0].set, 0);
}

TEST(set_list_separators)
{
	/* commas and/or whitespace and newlines; trailing comma */
	PARSE_OK("set a {\n  10.0.0.1\n  10.0.0.2, 10.0.0.3 10.0.0.4,\n"
		 "  # comment inside\n  10.0.0.5,\n}\npass from @a\n");
	ASSERT_EQ(rs.nsets, 1);
	ASSERT_EQ(rs.sets[0].n, 5);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[4]), "10.0.0.5");
	ASSERT_EQ(rs.nrules, 1);
	ASSERT_EQ(rs.rules[0].loc.line, 7);
}

TEST(set_file)
{
	PARSE_OK("set blocked file \"sets/good.txt\"\ndrop from @blocked\n");
	ASSERT_EQ(rs.nsets, 1);
	ASSERT_STREQ(rs.sets[0].file, fixpath("sets/good.txt"));
	ASSERT_EQ(rs.sets[0].n, 5);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[0]), "192.0.2.1");
	ASSERT_STREQ(pfx(&rs.sets[0].elems[1]), "198.51.100.0/24");
	ASSERT_STREQ(pfx(&rs.sets[0].elems[2]), "2001:db8::/32");
	/* IPv4-mapped IPv6 stays IPv6 */
	ASSERT_EQ(rs.sets[0].elems[3].family, 6);
	ASSERT_EQ(rs.sets[0].elems[3].plen, 128);
	ASSERT_STREQ(pfx(&rs.sets[0].elems[3]), "::ffff:192.0.2.9");
	ASSERT_STREQ(pfx(&rs.sets[0].elems[4]), "10.0.0.0/8");
	ASSERT_EQ(dg.n, 0);
}

TEST(set_file_empty_is_warning)
{
	PARSE_FILE_OK(fixpath("sets/uses_empty.rules"));
	ASSERT_EQ(rs.nsets, 1);
	ASSERT_EQ(rs.sets[0].n, 0);
	ASSERT_EQ(rs.nrules, 1);
	ASSERT_EQ(dg.nerrors, 0);
	ASSERT_EQ(dg.n, 1);
	ASSERT_EQ(dg.v[0].level, MOAT_DIAG_WARNING);
	ASSERT_TRUE(diag_is(0, "sets/uses_empty.rules", 1, 18,
			    "set file '"));
	ASSERT_CONTAINS(dg.v[0].msg, "empty.txt' is empty");
}

TEST(set_file_errors)
{
	ASSERT_EQ(parse_file(fixpath("sets/uses_bad.rules")), -EINVAL);
	ASSERT_EQ(dg.nerrors, 6);
	ASSERT_TRUE(diag_is(0, "sets/bad.txt", 2, 3,
			    "10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?"));
	ASSERT_TRUE(diag_is(1, "sets/bad.txt", 3, 1,
			    "invalid address '192.0.2.300'"));
	ASSERT_TRUE(diag_is(2, "sets/bad.txt", 5, 1,
			    "prefix length 129 out of range for IPv6 (0-128)"));
	ASSERT_TRUE(diag_is(3, "sets/bad.txt", 6, 11,
			    "one address or prefix per line"));
	ASSERT_TRUE(diag_is(4, "sets/bad.txt", 7, 1,
			    "zone ids are not supported ('fe80::1%eth0')"));
	ASSERT_TRUE(diag_is(5, "sets/uses_bad.rules", 3, 18,
			    "nope.txt': No such file or directory"));
	/* the broken set still resolves: no "not defined" cascade */
	ASSERT_TRUE(strstr(diags_text(), "not defined") == NULL);
	/* on failure the rule set is left empty */
	ASSERT_EQ(rs.nrules, 0);
	ASSERT_TRUE(rs.files == NULL);
}

TEST(interface_decls)
{
	PARSE_OK("interface veth0 mode native\ninterface veth1\n"
		 "interface eth2 mode skb\ninterface eth3 mode auto\n");
	ASSERT_EQ(rs.nifaces, 4);
	ASSERT_STREQ(rs.ifaces[0].name, "veth0");
	ASSERT_EQ(rs.ifaces[0].mode, MOAT_MODE_NATIVE);
	ASSERT_EQ(rs.ifaces[1].mode, MOAT_MODE_AUTO);
	ASSERT_EQ(rs.ifaces[2].mode, MOAT_MODE_SKB);
	ASSERT_EQ(rs.ifaces[3].mode, MOAT_MODE_AUTO);
	ASSERT_EQ(rs.ifaces[1].loc.line, 2);
	ASSERT_EQ(rs.ifaces[1].loc.col, 11);
}

/* ---- includes ---- */

TEST(include_glob_nested_relative)
{
	static const int ports[] = { 1, 10, 20, 21 };
	size_t i;

	PARSE_FILE_OK(fixpath("inc/main.rules"));
	ASSERT_EQ(rs.policy, MOAT_ACT_DROP);
	ASSERT_EQ(rs.nrules, 7);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(rs.rules[i].dport.n, 1);
		ASSERT_EQ(rs.rules[i].dport.v[0].lo, ports[i]);
	}
	/* glob matches spliced in sorted order, README not matched */
	ASSERT_TRUE(ends_with(rs.rules[1].loc.file,
			      "inc/rules.d/10-first.rules"));
	ASSERT_TRUE(ends_with(rs.rules[2].loc.file,
			      "inc/rules.d/20-second.rules"));
	ASSERT_EQ(rs.rules[3].loc.line, 2);
	/* nested include relative to the including file */
	ASSERT_TRUE(ends_with(rs.rules[4].loc.file,
			      "inc/sub/deeper/leaf.rules"));
	ASSERT_STREQ(fmt(4), "drop from @leafset");
	ASSERT_STREQ(fmt(5), "drop from @subset");
	ASSERT_TRUE(ends_with(rs.rules[6].loc.file, "inc/main.rules"));
	ASSERT_EQ(rs.rules[6].loc.line, 6);
	/* set file relative to the file declaring it */
	ASSERT_EQ(rs.nsets, 2);
	ASSERT_STREQ(rs.sets[0].name, "subset");
	ASSERT_STREQ(rs.sets[0].file, fixpath("inc/sub/addrs.txt"));
	ASSERT_EQ(rs.sets[0].n, 1);
	/* a set used before its definition (in leaf.rules) */
	ASSERT_STREQ(rs.sets[1].name, "leafset");
	ASSERT_EQ(rs.rules[4].src.v[0].set, 1);
	/* file names are interned: one copy each */
	ASSERT_EQ(rs.nfiles, 5);
	ASSERT_TRUE(rs.rules[2].loc.file == rs.rules[3].loc.file);
}

TEST(include_from_string_uses_basedir)
{
	PARSE_OK("include \"inc/rules.d/*.rules\"\npass all\n");
	ASSERT_EQ(rs.nrules, 4);
	ASSERT_STREQ(fmt(0), "pass tcp to port 10");
	ASSERT_STREQ(fmt(3), "pass all");
	PARSE_OK("include \"inc/rules.d/10-first.rules\"\n");
	ASSERT_EQ(rs.nrules, 1);
}

TEST(include_cycle)
{
	char a[PATH_MAX];

	snprintf(a, sizeof(a), "%s", fixpath("cycle/a.rules"));
	ASSERT_EQ(parse_file(a), -EINVAL);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_TRUE(diag_is(0, "cycle/b.rules", 2, 9, "include cycle: "));
	ASSERT_CONTAINS(dg.v[0].msg, "cycle/a.rules includes itself via ");
	ASSERT_TRUE(ends_with(dg.v[0].msg, "cycle/b.rules"));

	ASSERT_EQ(parse_file(fixpath("self/self.rules")), -EINVAL);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_TRUE(diag_is(0, "self/self.rules", 2, 9, "include cycle: "));
	ASSERT_TRUE(ends_with(dg.v[0].msg, "self/self.rules includes itself"));
}

TEST(include_errors)
{
	ASSERT_EQ(parse("include \"nodir/*.rules\"\n"), -EINVAL);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 9,
			    "include pattern 'nodir/*.rules' matches no file"));
	ASSERT_EQ(parse("pass all\n  include \"missing.rules\"\n"), -EINVAL);
	ASSERT_TRUE(diag_is(0, "t.rules", 2, 11, "cannot open '"));
	ASSERT_CONTAINS(dg.v[0].msg,
			"missing.rules': No such file or directory");
	ASSERT_EQ(parse("include \"inc\"\n"), -EINVAL);
	ASSERT_CONTAINS(dg.v[0].msg, "Is a directory");
	ASSERT_EQ(parse("include inc\n"), -EINVAL);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 9, "expected a quoted file name"));
}

TEST(include_too_deep)
{
	char dir[] = "/tmp/moat_test_incXXXXXX", path[PATH_MAX];
	FILE *f;
	int i;

	ASSERT_TRUE(mkdtemp(dir));
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/%d.rules", dir, i);
		f = fopen(path, "w");
		ASSERT_TRUE(f);
		fprintf(f, "pass tcp to port %d\ninclude \"%d.rules\"\n", i,
			i + 1);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/0.rules", dir);
	ASSERT_EQ(parse_file(path), -EINVAL);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/%d.rules", dir, i);
		unlink(path);
	}
	rmdir(dir);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_TRUE(diag_is(0, "/16.rules", 2, 9,
			    "includes nested too deeply (more than 16 levels)"));
}

TEST(top_file_missing)
{
	ASSERT_EQ(parse_file("/nonexistent/moat.rules"), -ENOENT);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_TRUE(diag_is(0, NULL, 0, 0,
			    "cannot open '/nonexistent/moat.rules': No such file or directory"));
}

/* ---- rules and matchers ---- */

TEST(actions)
{
	PARSE_OK("pass all\ndrop all\nredirect veth2 tcp to port 9000\n");
	ASSERT_EQ(rs.nrules, 3);
	ASSERT_EQ(rs.rules[0].action, MOAT_ACT_PASS);
	ASSERT_EQ(rs.rules[1].action, MOAT_ACT_DROP);
	ASSERT_EQ(rs.rules[2].action, MOAT_ACT_REDIRECT);
	ASSERT_STREQ(rs.rules[2].redirect_if, "veth2");
	ASSERT_EQ(rs.rules[2].redirect_loc.line, 3);
	ASSERT_EQ(rs.rules[2].redirect_loc.col, 10);
	ASSERT_EQ(rs.rules[2].loc.col, 1);
	ASSERT_STREQ(fmt(2), "redirect veth2 tcp to port 9000");
}

TEST(all_matches_everything)
{
	const struct moat_rule_ast *r;

	PARSE_OK("pass all\n");
	r = &rs.rules[0];
	ASSERT_EQ(r->family, 0);
	ASSERT_EQ(r->nprotos, 0);
	ASSERT_EQ(r->src.n + r->dst.n + r->sport.n + r->dport.n, 0);
	ASSERT_FALSE(r->has_flags);
	ASSERT_EQ(r->icmp_type, -1);
	ASSERT_EQ(r->icmp_code, -1);
	ASSERT_EQ(r->vlan, -1);
	ASSERT_EQ(r->ethertype, 0);
	ASSERT_STREQ(r->on_if, "");
}

TEST(on_interface)
{
	PARSE_OK("pass on veth1 udp to 192.0.2.10 port 5000\n"
		 "drop on eth0 all\n");
	ASSERT_STREQ(rs.rules[0].on_if, "veth1");
	ASSERT_EQ(rs.rules[0].on_loc.col, 9);
	ASSERT_STREQ(fmt(0), "pass on veth1 udp to 192.0.2.10 port 5000");
	ASSERT_STREQ(fmt(1), "drop on eth0 all");
	/* 15 characters is the limit */
	PARSE_OK("pass on abcdefghijklmno all\n");
	ASSERT_STREQ(rs.rules[0].on_if, "abcdefghijklmno");
}

TEST(families)
{
	PARSE_OK("pass inet\ndrop inet6\n");
	ASSERT_EQ(rs.rules[0].family, 4);
	ASSERT_EQ(rs.rules[1].family, 6);
	ASSERT_STREQ(fmt(0), "pass inet");
	ASSERT_STREQ(fmt(1), "drop inet6");
	/* implied by icmp / icmpv6 */
	PARSE_OK("pass icmp\npass icmpv6\npass ipv6-icmp\npass proto 1\n");
	ASSERT_EQ(rs.rules[0].family, 4);
	ASSERT_EQ(rs.rules[1].family, 6);
	ASSERT_EQ(rs.rules[2].family, 6);
	ASSERT_EQ(rs.rules[2].protos[0], 58);
	ASSERT_EQ(rs.rules[3].family, 4);
	/* not implied by anything else */
	PARSE_OK("pass tcp\npass to 2001:db8::1\npass { icmp, icmpv6 }\n");
	ASSERT_EQ(rs.rules[0].family, 0);
	ASSERT_EQ(rs.rules[1].family, 0);
	ASSERT_EQ(rs.rules[2].family, 0);
}

TEST(protocols)
{
	static const struct {
		const char *text;
		int proto;
	} cases[] = {
		{ "pass tcp", 6 },	    { "pass udp", 17 },
		{ "pass sctp", 132 },	    { "pass icmp", 1 },
		{ "pass icmpv6", 58 },	    { "pass ipv6-icmp", 58 },
		{ "pass proto 47", 47 },    { "pass proto gre", 47 },
		{ "pass proto esp", 50 },   { "pass proto ah", 51 },
		{ "pass proto ospf", 89 },  { "pass proto 0", 0 },
		{ "pass proto 255", 255 },  { "pass proto tcp", 6 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].text)) {
			TEST_FAIL("'%s': %s", cases[i].text, diags_text());
			return;
		}
		ASSERT_EQ(rs.rules[0].nprotos, 1);
		ASSERT_EQ(rs.rules[0].protos[0], cases[i].proto);
	}
}

TEST(protocol_lists)
{
	PARSE_OK("pass { udp, tcp }\npass { tcp udp, proto gre 50 }\n"
		 "pass proto { sctp, 6 }\npass { tcp, tcp }\n");
	ASSERT_EQ(rs.rules[0].nprotos, 2);
	/* sorted by number */
	ASSERT_EQ(rs.rules[0].protos[0], 6);
	ASSERT_EQ(rs.rules[0].protos[1], 17);
	ASSERT_EQ(rs.rules[1].nprotos, 4);
	ASSERT_EQ(rs.rules[1].protos[2], 47);
	ASSERT_EQ(rs.rules[1].protos[3], 50);
	ASSERT_STREQ(fmt(1), "pass { tcp, udp, proto gre, proto esp }");
	ASSERT_EQ(rs.rules[2].nprotos, 2);
	ASSERT_STREQ(fmt(2), "pass { tcp, sctp }");
	/* duplicates dropped */
	ASSERT_EQ(rs.rules[3].nprotos, 1);
}

TEST(addresses)
{
	const struct moat_rule_ast *r;

	PARSE_OK("pass from 10.0.0.0/8\npass to 2001:db8::1\n");
	r = &rs.rules[0];
	ASSERT_EQ(r->src.n, 1);
	ASSERT_EQ(r->src.v[0].kind, MOAT_ADDR_PREFIX);
	ASSERT_EQ(r->src.v[0].prefix.family, 4);
	ASSERT_EQ(r->src.v[0].prefix.plen, 8);
	ASSERT_EQ(r->src.v[0].prefix.addr[0], 10);
	r = &rs.rules[1];
	ASSERT_EQ(r->src.n, 0);
	ASSERT_EQ(r->dst.v[0].prefix.family, 6);
	ASSERT_EQ(r->dst.v[0].prefix.plen, 128);
	ASSERT_EQ(r->dst.v[0].prefix.addr[0], 0x20);
	ASSERT_EQ(r->dst.v[0].prefix.addr[15], 1);
	ASSERT_EQ(r->family, 0);

	PARSE_OK("pass from any to any port 22\npass from 0.0.0.0/0\n"
		 "pass to ::/0\npass to ::ffff:1.2.3.4\n");
	ASSERT_EQ(rs.rules[0].src.n, 0);
	ASSERT_EQ(rs.rules[0].dst.n, 0);
	ASSERT_EQ(rs.rules[0].dport.n, 1);
	ASSERT_EQ(rs.rules[1].src.v[0].prefix.plen, 0);
	ASSERT_STREQ(fmt(1), "pass from 0.0.0.0/0");
	ASSERT_STREQ(fmt(2), "pass to ::/0");
	ASSERT_EQ(rs.rules[3].dst.v[0].prefix.family, 6);
	ASSERT_STREQ(fmt(3), "pass to ::ffff:1.2.3.4");
}

TEST(address_lists_mixed)
{
	const struct moat_rule_ast *r;

	PARSE_OK("set s { 192.0.2.1 }\n"
		 "pass from { 2001:db8::/32, @s, 10.0.0.0/8 10.0.0.0/8,\n"
		 "  192.0.2.5 } to { @s }\n");
	r = &rs.rules[0];
	/* sorted (IPv4, IPv6, sets) and deduplicated */
	ASSERT_EQ(r->src.n, 4);
	ASSERT_STREQ(pfx(&r->src.v[0].prefix), "10.0.0.0/8");
	ASSERT_STREQ(pfx(&r->src.v[1].prefix), "192.0.2.5");
	ASSERT_STREQ(pfx(&r->src.v[2].prefix), "2001:db8::/32");
	ASSERT_EQ(r->src.v[3].kind, MOAT_ADDR_SET);
	ASSERT_EQ(r->dst.n, 1);
	ASSERT_STREQ(fmt(0),
		     "pass from { 10.0.0.0/8, 192.0.2.5, 2001:db8::/32, @s } to @s");
	ASSERT_STREQ(rs.rules[0].text,
		     "pass from { 2001:db8::/32, @s, 10.0.0.0/8 10.0.0.0/8, 192.0.2.5 } to { @s }");
}

TEST(set_references_any_order)
{
	PARSE_OK("drop from @late to @early\nset early { 10.0.0.1 }\n"
		 "set late { 10.0.0.2 }\npass to @late\n");
	ASSERT_EQ(rs.nsets, 2);
	ASSERT_EQ(rs.rules[0].src.v[0].set, 1);
	ASSERT_EQ(rs.rules[0].dst.v[0].set, 0);
	ASSERT_EQ(rs.rules[1].dst.v[0].set, 1);
	ASSERT_STREQ(fmt(0), "drop from @late to @early");
}

TEST(ports)
{
	const struct moat_rule_ast *r;

	PARSE_OK("pass tcp to port 22\npass tcp to port 8000-8099\n"
		 "pass tcp to port ssh\npass udp to port { 53, domain, 80 }\n"
		 "pass tcp from port 1024-65535 to port { 0, 65535 }\n"
		 "pass sctp to port 5-5\n");
	r = &rs.rules[0];
	ASSERT_EQ(r->dport.n, 1);
	ASSERT_EQ(r->dport.v[0].lo, 22);
	ASSERT_EQ(r->dport.v[0].hi, 22);
	ASSERT_EQ(r->sport.n, 0);
	r = &rs.rules[1];
	ASSERT_EQ(r->dport.v[0].lo, 8000);
	ASSERT_EQ(r->dport.v[0].hi, 8099);
	ASSERT_EQ(rs.rules[2].dport.v[0].lo, 22);
	/* duplicates merged, sorted */
	r = &rs.rules[3];
	ASSERT_EQ(r->dport.n, 2);
	ASSERT_EQ(r->dport.v[0].lo, 53);
	ASSERT_EQ(r->dport.v[1].lo, 80);
	r = &rs.rules[4];
	ASSERT_EQ(r->sport.n, 1);
	ASSERT_EQ(r->sport.v[0].lo, 1024);
	ASSERT_EQ(r->sport.v[0].hi, 65535);
	ASSERT_EQ(r->dport.n, 2);
	ASSERT_EQ(r->dport.v[1].lo, 65535);
	ASSERT_STREQ(fmt(4), "pass tcp from port 1024-65535 to port { 0, 65535 }");
	ASSERT_STREQ(fmt(5), "pass sctp to port 5");
}

TEST(port_ranges_merge)
{
	PARSE_OK("pass tcp to port { 100-200, 150-300, 301, 50, 400-500, 450 }\n");
	ASSERT_EQ(rs.rules[0].dport.n, 3);
	ASSERT_STREQ(fmt(0), "pass tcp to port { 50, 100-301, 400-500 }");
}

TEST(port_without_protocol)
{
	/* the compiler expands to tcp, udp, sctp; the parser leaves it */
	PARSE_OK("pass to port 53\npass from port 53\n");
	ASSERT_EQ(rs.rules[0].nprotos, 0);
	ASSERT_EQ(rs.rules[0].dst.n, 0);
	ASSERT_EQ(rs.rules[0].dport.n, 1);
	ASSERT_STREQ(fmt(0), "pass to port 53");
	ASSERT_STREQ(fmt(1), "pass from port 53");
	PARSE_OK("pass { tcp, udp, sctp } to port 1\n");
	ASSERT_EQ(rs.rules[0].nprotos, 3);
}

TEST(flags)
{
	PARSE_OK("pass tcp flags S/SA\npass flags S\npass tcp flags /R\n"
		 "pass tcp flags FSRPAUEW/FSRPAUEW\npass tcp flags SA/SA\n");
	ASSERT_TRUE(rs.rules[0].has_flags);
	ASSERT_EQ(rs.rules[0].flags, 0x02);
	ASSERT_EQ(rs.rules[0].flags_mask, 0x12);
	ASSERT_STREQ(fmt(0), "pass tcp flags S/SA");
	/* S alone: mask is all eight; protocol implied tcp */
	ASSERT_EQ(rs.rules[1].flags, 0x02);
	ASSERT_EQ(rs.rules[1].flags_mask, 0xff);
	ASSERT_EQ(rs.rules[1].nprotos, 1);
	ASSERT_EQ(rs.rules[1].protos[0], 6);
	ASSERT_STREQ(fmt(1), "pass tcp flags S");
	ASSERT_EQ(rs.rules[2].flags, 0);
	ASSERT_EQ(rs.rules[2].flags_mask, 0x04);
	ASSERT_STREQ(fmt(2), "pass tcp flags /R");
	ASSERT_EQ(rs.rules[3].flags, 0xff);
	ASSERT_EQ(rs.rules[3].flags_mask, 0xff);
	ASSERT_STREQ(fmt(3), "pass tcp flags FSRPAUEW");
	ASSERT_EQ(rs.rules[4].flags, 0x12);
}

TEST(icmp_types)
{
	PARSE_OK("pass icmp icmp-type 8\npass icmp icmp-type echo-request\n"
		 "pass icmpv6 icmp-type echo-request\n"
		 "pass icmp icmp-type unreach code 3\n"
		 "pass icmpv6 icmp-type unreach\n"
		 "pass icmpv6 icmp-type neighbour-advertisement\n"
		 "pass inet icmp icmp-type time-exceeded code 0\n"
		 "pass icmpv6 icmp-type packet-too-big\n"
		 "pass proto 58 icmp-type 255 code 255\n");
	ASSERT_EQ(rs.rules[0].icmp_type, 8);
	ASSERT_EQ(rs.rules[0].icmp_code, -1);
	ASSERT_EQ(rs.rules[1].icmp_type, 8);
	ASSERT_EQ(rs.rules[2].icmp_type, 128);
	ASSERT_EQ(rs.rules[3].icmp_type, 3);
	ASSERT_EQ(rs.rules[3].icmp_code, 3);
	/* names resolve against the rule's protocol */
	ASSERT_EQ(rs.rules[4].icmp_type, 1);
	ASSERT_EQ(rs.rules[5].icmp_type, 136);
	ASSERT_EQ(rs.rules[6].icmp_type, 11);
	ASSERT_EQ(rs.rules[6].icmp_code, 0);
	ASSERT_EQ(rs.rules[7].icmp_type, 2);
	ASSERT_EQ(rs.rules[8].icmp_type, 255);
	ASSERT_EQ(rs.rules[8].family, 6);
	ASSERT_STREQ(fmt(3), "pass icmp icmp-type 3 code 3");
	ASSERT_STREQ(fmt(6), "pass icmp icmp-type 11 code 0");
}

TEST(vlan)
{
	PARSE_OK("pass vlan 0\ndrop udp to port 53 vlan 4095\n");
	ASSERT_EQ(rs.rules[0].vlan, 0);
	ASSERT_EQ(rs.rules[1].vlan, 4095);
	ASSERT_STREQ(fmt(0), "pass vlan 0");
	ASSERT_STREQ(fmt(1), "drop udp to port 53 vlan 4095");
}

TEST(ethertype)
{
	PARSE_OK("drop ethertype arp\npass ethertype 0x88cc\n"
		 "pass ethertype 2054\ndrop on veth0 ethertype rarp vlan 7\n"
		 "pass ethertype 0X8035\n");
	ASSERT_EQ(rs.rules[0].ethertype, 0x0806);
	ASSERT_EQ(rs.rules[0].family, 0);
	ASSERT_EQ(rs.rules[0].nprotos, 0);
	ASSERT_EQ(rs.rules[1].ethertype, 0x88cc);
	ASSERT_EQ(rs.rules[2].ethertype, 0x0806);
	ASSERT_EQ(rs.rules[3].ethertype, 0x8035);
	ASSERT_EQ(rs.rules[3].vlan, 7);
	ASSERT_EQ(rs.rules[4].ethertype, 0x8035);
	ASSERT_STREQ(fmt(0), "drop ethertype 0x0806");
	ASSERT_STREQ(fmt(3), "drop on veth0 vlan 7 ethertype 0x8035");
}

TEST(rule_text_and_loc)
{
	PARSE_OK("# leading comment\n"
		 "  pass   tcp   to port {   # comment in a list\n"
		 "\t80,\n"
		 "\t443 }   # trailing\n"
		 "drop  from\t10.0.0.0/8;pass{tcp,udp}\n");
	ASSERT_EQ(rs.nrules, 3);
	ASSERT_STREQ(rs.rules[0].text, "pass tcp to port { 80, 443 }");
	ASSERT_STREQ(rs.rules[0].loc.file, "t.rules");
	ASSERT_EQ(rs.rules[0].loc.line, 2);
	ASSERT_EQ(rs.rules[0].loc.col, 3);
	ASSERT_STREQ(rs.rules[1].text, "drop from 10.0.0.0/8");
	ASSERT_EQ(rs.rules[1].loc.line, 5);
	/* text as written: no spaces added where there were none */
	ASSERT_STREQ(rs.rules[2].text, "pass{tcp,udp}");
	ASSERT_EQ(rs.rules[2].loc.col, 23);
	ASSERT_STREQ(fmt(2), "pass { tcp, udp }");
	/* the file name is interned in the rule set */
	ASSERT_EQ(rs.nfiles, 1);
	ASSERT_TRUE(rs.rules[0].loc.file == rs.files[0]);
}

TEST(language_tour)
{
	PARSE_OK("policy drop\n"
		 "set trusted { 192.0.2.0/24, 2001:db8::/32, 198.51.100.7 }\n"
		 "set blocked file \"sets/good.txt\"\n"
		 "include \"inc/rules.d/*.rules\"\n"
		 "interface veth0 mode native\n"
		 "drop from @blocked\n"
		 "pass tcp from @trusted to any port 22\n"
		 "drop tcp to port 22\n"
		 "pass tcp to port { 80, 443, 8000-8099 }\n"
		 "drop udp from 10.0.0.0/8 to port 53\n"
		 "pass icmp icmp-type 8\n"
		 "pass on veth1 udp to 192.0.2.10 port 5000\n"
		 "redirect veth2 tcp to port 9000\n"
		 "drop inet6 proto 47\n"
		 "drop ethertype arp\n"
		 "pass all\n");
	ASSERT_EQ(rs.nrules, 14);
	ASSERT_STREQ(fmt(3), "drop from @blocked");
	ASSERT_STREQ(fmt(4), "pass tcp from @trusted to port 22");
	ASSERT_STREQ(fmt(5), "drop tcp to port 22");
	ASSERT_STREQ(fmt(6), "pass tcp to port { 80, 443, 8000-8099 }");
	ASSERT_STREQ(fmt(7), "drop udp from 10.0.0.0/8 to port 53");
	ASSERT_STREQ(fmt(8), "pass icmp icmp-type 8");
	ASSERT_STREQ(fmt(9), "pass on veth1 udp to 192.0.2.10 port 5000");
	ASSERT_STREQ(fmt(10), "redirect veth2 tcp to port 9000");
	ASSERT_STREQ(fmt(11), "drop inet6 proto gre");
	ASSERT_STREQ(fmt(12), "drop ethertype 0x0806");
	ASSERT_STREQ(fmt(13), "pass all");
}

/* ---- formatting ---- */

TEST(prefix_format)
{
	struct moat_prefix p = { 4, 32, { 192, 0, 2, 7 } };
	char buf[64];

	moat_prefix_format(&p, buf, sizeof(buf));
	ASSERT_STREQ(buf, "192.0.2.7");
	p.plen = 24;
	p.addr[3] = 0;
	moat_prefix_format(&p, buf, sizeof(buf));
	ASSERT_STREQ(buf, "192.0.2.0/24");
	memset(&p, 0, sizeof(p));
	p.family = 6;
	p.plen = 32;
	p.addr[0] = 0x20;
	p.addr[1] = 0x01;
	p.addr[2] = 0x0d;
	p.addr[3] = 0xb8;
	moat_prefix_format(&p, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2001:db8::/32");
	p.plen = 128;
	moat_prefix_format(&p, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2001:db8::");
	/* truncation is safe */
	moat_prefix_format(&p, buf, 5);
	ASSERT_STREQ(buf, "2001");
}

static const struct {
	const char *in, *out;
} fmt_cases[] = {
	{ "pass all", "pass all" },
	{ "drop from 10.0.0.0/8", "drop from 10.0.0.0/8" },
	{ "pass tcp from any to any port 22", "pass tcp to port 22" },
	{ "pass inet tcp to port 80", "pass inet tcp to port 80" },
	{ "pass inet icmp", "pass icmp" },
	{ "pass inet6 icmpv6 icmp-type 128", "pass icmpv6 icmp-type 128" },
	{ "pass inet6 ipv6-icmp", "pass icmpv6" },
	{ "pass proto 6", "pass tcp" },
	{ "pass proto 200", "pass proto 200" },
	{ "pass { proto 200, 201 }", "pass { proto 200, proto 201 }" },
	{ "pass to 192.0.2.1/32", "pass to 192.0.2.1" },
	{ "pass to 2001:db8::1/128", "pass to 2001:db8::1" },
	{ "pass to 2001:DB8:0:0::1", "pass to 2001:db8::1" },
	{ "pass tcp to port { 443, 80, 80 }", "pass tcp to port { 80, 443 }" },
	{ "pass tcp to port { 22 }", "pass tcp to port 22" },
	{ "pass tcp to port { 22, 23 }", "pass tcp to port 22-23" },
	{ "pass tcp flags S/SA to port 80", "pass tcp to port 80 flags S/SA" },
	{ "pass tcp flags AS/AS", "pass tcp flags SA/SA" },
	{ "pass vlan 3 tcp on eth0", "pass on eth0 tcp vlan 3" },
	{ "pass on eth0 all", "pass on eth0 all" },
	{ "pass from any", "pass all" },
	{ "drop vlan 5 ethertype lldp", "drop vlan 5 ethertype 0x88cc" },
	{ "redirect veth2 from { 10.0.0.2, 10.0.0.1 }",
	  "redirect veth2 from { 10.0.0.1, 10.0.0.2 }" },
	{ "pass udp from 10.0.0.0/8 port 53 to port 1024-65535",
	  "pass udp from 10.0.0.0/8 port 53 to port 1024-65535" },
	{ "pass icmp icmp-type echo-reply code 0",
	  "pass icmp icmp-type 0 code 0" },
};

TEST(format_cases)
{
	size_t i;

	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		if (parse(fmt_cases[i].in)) {
			TEST_FAIL("'%s': %s", fmt_cases[i].in, diags_text());
			return;
		}
		if (strcmp(fmt(0), fmt_cases[i].out)) {
			TEST_FAIL("'%s' formats as '%s', want '%s'",
				  fmt_cases[i].in, fmt(0), fmt_cases[i].out);
			return;
		}
	}
}

/* parse -> format -> parse -> format is a fixed point */
static bool round_trip(const char *what)
{
	char **texts;
	size_t n = rs.nrules, i;
	bool ok = true;

	texts = calloc(n + 1, sizeof(*texts));
	if (!texts)
		return false;
	for (i = 0; i < n; i++)
		texts[i] = moat_rule_format(&rs, &rs.rules[i]);
	for (i = 0; i < n && ok; i++) {
		char buf[8192];

		/* the sets of the original rule set, then the rule */
		snprintf(buf, sizeof(buf),
			 "set trusted { 10.0.0.1 }\nset blocked { 10.0.0.2 }\n"
			 "set leafset { 10.0.0.3 }\nset subset { 10.0.0.4 }\n"
			 "set s { 10.0.0.5 }\n%s\n",
			 texts[i]);
		if (parse(buf)) {
			TEST_FAIL("%s: formatted rule '%s' does not parse: %s",
				  what, texts[i], diags_text());
			ok = false;
		} else if (strcmp(fmt(0), texts[i])) {
			TEST_FAIL("%s: '%s' re-formats as '%s'", what,
				  texts[i], fmt(0));
			ok = false;
		}
	}
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	return ok;
}

TEST(format_round_trip)
{
	size_t i;

	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		PARSE_OK(fmt_cases[i].in);
		if (!round_trip(fmt_cases[i].in))
			return;
	}
	PARSE_FILE_OK(fixpath("inc/main.rules"));
	ASSERT_TRUE(round_trip("inc/main.rules"));
}

TEST(format_equivalent_spellings)
{
	static const char *const same[][3] = {
		{ "pass tcp to port 22", "pass  tcp\tto   any port 22 # c",
		  "pass tcp to any port ssh" },
		{ "pass tcp to port { 80, 443 }", "pass tcp to port {443 80}",
		  "pass proto tcp to port { http,\n https }" },
		{ "pass icmp icmp-type 8", "pass inet icmp icmp-type echo-request",
		  "pass proto 1 icmp-type 8" },
		{ "pass flags S/SA", "pass tcp flags S/SA",
		  "pass proto 6 flags S/AS" },
		{ "pass from { 10.0.0.0/8, 192.0.2.1 }",
		  "pass from {192.0.2.1/32,10.0.0.0/8}",
		  "pass from { 10.0.0.0/8 192.0.2.1 10.0.0.0/8 }" },
		{ "drop ethertype arp", "drop ethertype 0x0806",
		  "drop ethertype 2054" },
		{ "pass { tcp, udp } to port 53", "pass { udp, tcp } to port 53",
		  "pass { proto 17, proto tcp } to port domain" },
	};
	size_t i, j;
	char first[1024];

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		for (j = 0; j < 3; j++) {
			if (parse(same[i][j])) {
				TEST_FAIL("'%s': %s", same[i][j],
					  diags_text());
				return;
			}
			if (!j) {
				snprintf(first, sizeof(first), "%s", fmt(0));
			} else if (strcmp(first, fmt(0))) {
				TEST_FAIL("'%s' -> '%s' but '%s' -> '%s'",
					  same[i][0], first, same[i][j],
					  fmt(0));
				return;
			}
		}
	}
}

TEST(shipped_rule_files_parse)
{
	static const char *const files[] = { "rules/example.rules",
					      "rules/demo.rules" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		PARSE_FILE_OK(path);
		ASSERT_TRUE(rs.nrules > 3);
		ASSERT_EQ(dg.n, 0);
		if (!round_trip(files[i]))
			return;
	}
	/* the demo: policy drop, @blocked from blocked.txt with the client */
	snprintf(path, sizeof(path), "%s/rules/demo.rules", root);
	PARSE_FILE_OK(path);
	ASSERT_EQ(rs.policy, MOAT_ACT_DROP);
	ASSERT_EQ(rs.nsets, 1);
	ASSERT_STREQ(rs.sets[0].name, "blocked");
	ASSERT_TRUE(ends_with(rs.sets[0].file, "rules/blocked.txt"));
	ASSERT_STREQ(pfx(&rs.sets[0].elems[0]), "10.200.1.2");
	/* and the set file stands alone too */
	{
		struct moat_prefix *e = NULL;
		size_t n = 0;
		struct moat_diags d = { 0 };

		snprintf(path, sizeof(path), "%s/rules/blocked.txt", root);
		ASSERT_EQ(moat_parse_set_file(path, &e, &n, &d), 0);
		ASSERT_TRUE(n >= 2);
		ASSERT_EQ(d.n, 0);
		free(e);
		moat_diags_free(&d);
	}
}

/* ---- set files on their own ---- */

TEST(set_file_api)
{
	struct moat_prefix *e = NULL;
	size_t n = 99;
	struct moat_diags d = { 0 };

	ASSERT_EQ(moat_parse_set_file(fixpath("sets/good.txt"), &e, &n, &d),
		  0);
	ASSERT_EQ(n, 5);
	ASSERT_EQ(d.n, 0);
	ASSERT_STREQ(pfx(&e[1]), "198.51.100.0/24");
	free(e);

	ASSERT_EQ(moat_parse_set_file(fixpath("sets/crlf.txt"), &e, &n, &d),
		  0);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(pfx(&e[1]), "2001:db8::1");
	free(e);

	ASSERT_EQ(moat_parse_set_file(fixpath("sets/empty.txt"), &e, &n, &d),
		  0);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(d.nerrors, 0);
	ASSERT_EQ(d.n, 1);
	ASSERT_EQ(d.v[0].level, MOAT_DIAG_WARNING);
	free(e);
	moat_diags_free(&d);

	ASSERT_EQ(moat_parse_set_file(fixpath("sets/bad.txt"), &e, &n, &d),
		  -EINVAL);
	ASSERT_EQ(d.nerrors, 5);
	ASSERT_TRUE(e == NULL);
	ASSERT_EQ(n, 0);
	ASSERT_TRUE(ends_with(d.v[1].loc.file, "sets/bad.txt"));
	ASSERT_EQ(d.v[1].loc.line, 3);
	ASSERT_EQ(d.v[1].loc.col, 1);
	moat_diags_free(&d);

	ASSERT_EQ(moat_parse_set_file("/nonexistent.txt", &e, &n, &d),
		  -ENOENT);
	ASSERT_EQ(d.nerrors, 1);
	ASSERT_STREQ(d.v[0].msg,
		     "cannot open '/nonexistent.txt': No such file or directory");
	moat_diags_free(&d);
}

TEST(set_file_garbage)
{
	char path[] = "/tmp/moat_test_setXXXXXX";
	int fd = mkstemp(path);
	struct moat_prefix *e = NULL;
	struct moat_diags d = { 0 };
	unsigned int seed = 7;
	char buf[65536];
	size_t n, i;

	ASSERT_TRUE(fd >= 0);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rand_r(&seed);
	ASSERT_EQ(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	ASSERT_EQ(moat_parse_set_file(path, &e, &n, &d), -EINVAL);
	unlink(path);
	ASSERT_TRUE(d.nerrors >= 1);
	ASSERT_TRUE(d.nerrors <= 100);
	ASSERT_EQ(d.v[d.n - 1].level, MOAT_DIAG_NOTE);
	ASSERT_CONTAINS(d.v[d.n - 1].msg, "too many errors");
	moat_diags_free(&d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(set_file_million_lines_fast)
{
	char path[] = "/tmp/moat_test_bigXXXXXX";
	int fd = mkstemp(path);
	struct moat_prefix *e = NULL;
	struct moat_diags d = { 0 };
	size_t n = 0, i;
	double t0, dt;
	FILE *f;
	int r;

	ASSERT_TRUE(fd >= 0);
	f = fdopen(fd, "w");
	ASSERT_TRUE(f);
	for (i = 0; i < 1000000; i++) {
		if (i % 10 == 9)
			fprintf(f, "2001:db8:%zx::/48\n", i & 0xffff);
		else if (i % 10 == 8)
			fprintf(f, "  10.%zu.%zu.0/24   # c\n", (i >> 8) & 255,
				i & 255);
		else
			fprintf(f, "%zu.%zu.%zu.%zu\n", 1 + (i >> 24),
				(i >> 16) & 255, (i >> 8) & 255, i & 255);
	}
	fclose(f);
	t0 = now();
	r = moat_parse_set_file(path, &e, &n, &d);
	dt = now() - t0;
	unlink(path);
	free(e);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(n, 1000000);
	ASSERT_EQ(d.n, 0);
	moat_diags_free(&d);
#if defined(__SANITIZE_ADDRESS__)
	printf("# 1M-line set file: %.3f s (sanitizer build, not timed)\n",
	       dt);
#else
	if (dt >= 1.0)
		TEST_FAIL("1,000,000-line set file took %.3f s", dt);
#endif
}

/* ---- errors ---- */

static const struct err_case {
	const char *text;
	unsigned int line, col;
	const char *msg;
} err_cases[] = {
	/* statements */
	{ "frobnicate all", 1, 1,
	  "unknown statement 'frobnicate'; expected 'pass', 'drop', 'redirect', 'guard', 'policy', 'set', 'include' or 'interface'" },
	{ "pas all", 1, 1, "unknown statement 'pas'; expected 'pass', " },
	{ "pas all", 1, 1, "did you mean 'pass'?" },
	{ "policy drop\npolicy pass", 2, 1,
	  "duplicate 'policy' (first set at t.rules:1)" },
	{ "policy redirect", 1, 8,
	  "unknown policy 'redirect'; expected 'pass' or 'drop'" },
	{ "policy", 1, 7, "expected 'pass' or 'drop' after 'policy', got end of file" },
	{ "policy drop extra", 1, 13,
	  "unexpected 'extra'; expected end of statement" },
	{ "}", 1, 1, "unexpected '}'" },
	{ "\"str\"", 1, 1, "unexpected string \"str\"" },
	/* sets */
	{ "set x { 10.0.0.1 }\nset x { 10.0.0.2 }", 2, 5,
	  "set 'x' already defined at t.rules:1" },
	{ "set x { }", 1, 7, "set 'x' is empty" },
	{ "set 9x { 10.0.0.1 }", 1, 5, "invalid set name '9x'" },
	{ "set x 10.0.0.1", 1, 7,
	  "expected '{' or 'file' after the set name, got '10.0.0.1'" },
	{ "set x file blocked.txt", 1, 12,
	  "expected a quoted file name after 'file'" },
	{ "set x { any }", 1, 9, "'any' cannot be used in a set" },
	{ "set x { @y }", 1, 9, "sets cannot contain other sets ('@y')" },
	{ "set x { 10.0.0.1/40 }", 1, 9,
	  "prefix length 40 out of range for IPv4 (0-32)" },
	{ "set x file \"nope.txt\"", 1, 12, "nope.txt': No such file or directory" },
	{ "drop from @foo", 1, 11, "set 'foo' is not defined" },
	{ "drop from @9", 1, 11, "invalid set name '9'" },
	/* interfaces */
	{ "pass on averyveryverylongname all", 1, 9,
	  "interface name too long ('averyveryverylongname'; at most 15 characters)" },
	{ "pass on a/b all", 1, 9, "invalid interface name 'a/b'" },
	{ "redirect tcp to port 80", 1, 10,
	  "expected an interface name after 'redirect', got keyword 'tcp'" },
	{ "pass on", 1, 8, "expected an interface name after 'on', got end of file" },
	{ "interface eth0 mode turbo", 1, 21,
	  "unknown mode 'turbo'; expected 'native', 'skb' or 'auto'" },
	{ "interface eth0\ninterface eth0", 2, 11,
	  "interface 'eth0' already declared at t.rules:1" },
	{ "interface averyveryverylongname", 1, 11, "interface name too long" },
	/* rule shape */
	{ "pass", 1, 1,
	  "rule has no matchers; write 'pass all' to match every packet" },
	{ "drop on eth0", 1, 1, "rule has no matchers; write 'drop on eth0 all'" },
	{ "pass all tcp", 1, 6, "'all' cannot be combined with other matchers" },
	{ "pass tcp frm 10.0.0.1", 1, 10,
	  "unknown keyword 'frm'; expected 'from', 'to', " },
	{ "pass tcp frm 10.0.0.1", 1, 10, "; did you mean 'from'?" },
	{ "pass gre", 1, 6, "unknown keyword 'gre'; did you mean 'proto gre'?" },
	{ "pass 10.0.0.1", 1, 6,
	  "unexpected address '10.0.0.1'; write 'from 10.0.0.1' or 'to 10.0.0.1'" },
	{ "pass any", 1, 6, "'any' must follow 'from' or 'to'" },
	{ "pass port 22", 1, 6,
	  "'port' must follow 'from' or 'to' (e.g. 'to port 22')" },
	{ "pass icmp code 3", 1, 11, "'code' must follow 'icmp-type N'" },
	{ "pass from 10.0.0.1 from 10.0.0.2", 1, 20, "duplicate 'from' in rule" },
	{ "pass tcp udp", 1, 10, "duplicate protocol matcher" },
	{ "pass inet inet6", 1, 11, "'inet6' conflicts with 'inet'" },
	{ "pass tcp to port 22,", 1, 20,
	  "unexpected ','; expected end of statement" },
	{ "pass tcp \"x\"", 1, 10, "unexpected string \"x\"" },
	/* addresses */
	{ "pass from 10.0.0.1/33", 1, 11,
	  "prefix length 33 out of range for IPv4 (0-32)" },
	{ "pass from 2001:db8::/129", 1, 11,
	  "prefix length 129 out of range for IPv6 (0-128)" },
	{ "pass from 10.0.0.0/x", 1, 11, "invalid prefix length 'x' in '10.0.0.0/x'" },
	{ "pass from 10.1.2.3/8", 1, 11,
	  "10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?" },
	{ "pass to 2001:db8::1/32", 1, 9,
	  "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?" },
	{ "pass from 10.0.0.256", 1, 11, "invalid address '10.0.0.256'" },
	{ "pass from example.com", 1, 11, "invalid address 'example.com'" },
	{ "pass from to 10.0.0.1", 1, 11,
	  "expected an address, prefix, @set or 'any', got keyword 'to'" },
	{ "pass from", 1, 10,
	  "expected an address, prefix, @set or 'any', got end of file" },
	{ "pass from fe80::1%eth0", 1, 11,
	  "zone ids are not supported ('fe80::1%eth0')" },
	{ "pass from !10.0.0.1", 1, 11, "negation ('!') is not supported" },
	{ "pass from { any, 10.0.0.1 }", 1, 13, "'any' cannot be used in a list" },
	{ "pass inet to 2001:db8::1", 1, 14,
	  "address family mismatch: inet rule with IPv6 address" },
	{ "pass inet6 from { 2001:db8::1, 10.0.0.1 }", 1, 32,
	  "address family mismatch: inet6 rule with IPv4 address" },
	{ "pass icmp from 2001:db8::1", 1, 16,
	  "address family mismatch: icmp rule with IPv6 address" },
	{ "pass from 10.0.0.1 to 2001:db8::1", 1, 23,
	  "address family mismatch: 'from' is IPv4 only and 'to' is IPv6 only" },
	/* protocols */
	{ "pass proto 300", 1, 12, "protocol 300 out of range (0-255)" },
	{ "pass proto foo", 1, 12, "unknown protocol 'foo'; expected a number (0-255) or a name" },
	{ "pass proto", 1, 11, "expected a protocol number or name after 'proto'" },
	{ "pass { tcp, bogus }", 1, 13, "unknown protocol 'bogus'" },
	{ "pass inet6 icmp", 1, 12, "'icmp' is IPv4 only; use 'icmpv6' with inet6" },
	{ "pass inet icmpv6", 1, 11, "'icmpv6' is IPv6 only; use 'icmp' with inet" },
	{ "pass inet { tcp, icmpv6 }", 1, 18, "'icmpv6' is IPv6 only" },
	/* ports */
	{ "pass tcp to port 70000", 1, 18, "port 70000 out of range (0-65535)" },
	{ "pass tcp to port 1-99999", 1, 18, "port 99999 out of range (0-65535)" },
	{ "pass tcp to port 90-80", 1, 18,
	  "port range 90-80 is reversed (90 is greater than 80)" },
	{ "pass tcp to port foo", 1, 18,
	  "unknown port 'foo'; expected a number (0-65535), a range N-M or a service name" },
	{ "pass tcp to port 80-", 1, 18, "unknown port '80-'" },
	{ "pass tcp to port { }", 1, 18, "empty list '{ }'" },
	{ "pass tcp to port", 1, 17, "expected a port after 'port', got end of file" },
	{ "pass icmp to port 22", 1, 14, "'port' needs protocol tcp, udp or sctp" },
	{ "pass { tcp, gre } from port 22", 1, 24,
	  "'port' needs protocol tcp, udp or sctp" },
	{ "pass proto 47 to port 22", 1, 18, "'port' needs protocol tcp, udp or sctp" },
	/* flags */
	{ "pass udp flags S/SA", 1, 10, "'flags' needs protocol tcp" },
	{ "pass tcp flags X", 1, 16,
	  "unknown tcp flag 'X' in 'X'; expected letters F, S, R, P, A, U, E, W" },
	{ "pass tcp flags S/A", 1, 16,
	  "flags 'S/A' can never match: every flag set must also be in the mask" },
	{ "pass tcp flags S/", 1, 16, "empty tcp flags mask in 'S/'" },
	{ "pass tcp flags", 1, 15, "expected tcp flags after 'flags'" },
	/* icmp */
	{ "pass icmp-type 8", 1, 6, "'icmp-type' needs protocol icmp or icmpv6" },
	{ "pass tcp icmp-type 8", 1, 10, "'icmp-type' needs protocol icmp or icmpv6" },
	{ "pass { icmp, icmpv6 } icmp-type 8", 1, 23,
	  "'icmp-type' needs protocol icmp or icmpv6" },
	{ "pass icmp icmp-type foo", 1, 21,
	  "unknown icmp type 'foo'; expected a number (0-255) or a name" },
	{ "pass icmp icmp-type packet-too-big", 1, 21,
	  "unknown icmp type 'packet-too-big'" },
	{ "pass icmpv6 icmp-type bogus", 1, 23, "unknown icmpv6 type 'bogus'" },
	{ "pass icmp icmp-type 256", 1, 21, "icmp-type 256 out of range (0-255)" },
	{ "pass icmp icmp-type 3 code 300", 1, 28, "code 300 out of range (0-255)" },
	{ "pass icmp icmp-type 3 code x", 1, 28,
	  "invalid code 'x'; expected a number (0-255)" },
	/* vlan */
	{ "pass vlan 4096", 1, 11, "vlan 4096 out of range (0-4095)" },
	{ "pass vlan x", 1, 11, "invalid vlan 'x'; expected a number (0-4095)" },
	{ "pass vlan", 1, 10, "expected a number after 'vlan'" },
	/* ethertype */
	{ "drop ethertype 0x0800", 1, 16,
	  "ethertype 0x0800 is IPv4; use 'inet' to match IPv4 packets" },
	{ "drop ethertype 34525", 1, 16,
	  "ethertype 0x86dd is IPv6; use 'inet6' to match IPv6 packets" },
	{ "drop ethertype ipv6", 1, 16, "ethertype 0x86dd is IPv6" },
	{ "drop ethertype 0x8100", 1, 16,
	  "ethertype 0x8100 is a VLAN tag; use 'vlan' to match tagged frames" },
	{ "drop ethertype 5", 1, 16, "ethertype 5 out of range (0x0600-0xffff)" },
	{ "drop ethertype 0x10000", 1, 16,
	  "ethertype 0x10000 out of range (0x0600-0xffff)" },
	{ "drop ethertype foo", 1, 16,
	  "unknown ethertype 'foo'; expected a number (e.g. 0x0806) or a name" },
	{ "drop tcp ethertype arp", 1, 10,
	  "'ethertype' cannot be combined with IP matchers ('protocol')" },
	{ "drop inet ethertype arp", 1, 11,
	  "'ethertype' cannot be combined with IP matchers ('inet')" },
	{ "drop ethertype arp from 10.0.0.1", 1, 6,
	  "'ethertype' cannot be combined with IP matchers ('from')" },
	/* lists */
	{ "pass tcp to port { 80, 443", 1, 18, "unterminated '{'" },
	{ "pass tcp to port { 80\npass all", 1, 18, "unterminated '{'" },
	{ "pass tcp to port { 80, { 443 } }", 1, 24,
	  "unexpected '{' in a list (lists do not nest)" },
	{ "pass tcp to port { 80; 443 }", 1, 22, "unexpected ';' in a list" },
	{ "pass { }", 1, 6, "empty list '{ }'" },
	{ "pass { \"tcp\" }", 1, 8, "unexpected string \"tcp\" in a list" },
	/* includes */
	{ "include \"nodir/*.rules\"", 1, 9,
	  "include pattern 'nodir/*.rules' matches no file" },
	{ "include \"x.rules\" extra", 1, 19,
	  "unexpected 'extra'; expected end of statement" },
	/* lexical */
	{ "pass \"unterminated", 1, 6, "unterminated string" },
	{ "pass \x01 all", 1, 6, "invalid character 0x01" },
	{ "pass \xff all", 1, 6, "non-ASCII byte 0xff outside a comment or string" },
};

TEST(error_messages)
{
	size_t i;
	int k;

	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];

		parse(c->text);
		k = first_diag(MOAT_DIAG_ERROR);
		if (ret != -EINVAL || k < 0 ||
		    !diag_is(k, "t.rules", c->line, c->col, c->msg)) {
			TEST_FAIL("case %zu '%s': want %u:%u '%s', ret %d, got:\n%s",
				  i, c->text, c->line, c->col, c->msg, ret,
				  diags_text());
			return;
		}
		/* one mistake, one error: no cascades */
		if (dg.nerrors != 1) {
			TEST_FAIL("case %zu '%s': %zu errors:\n%s", i,
				  c->text, dg.nerrors, diags_text());
			return;
		}
		/* messages are lowercase */
		if (c->msg[0] >= 'A' && c->msg[0] <= 'Z') {
			TEST_FAIL("case %zu: message starts uppercase", i);
			return;
		}
		/* failed parses leave an empty rule set */
		ASSERT_EQ(rs.nrules, 0);
		ASSERT_EQ(rs.nsets, 0);
	}
}

TEST(errors_in_list_elements_all_reported)
{
	ASSERT_EQ(parse("pass tcp to port { 80, 70000, 443, foo, 90-1 }\n"
			"set s { 10.0.0.1, 10.0.0.300, 10.1.0.0/8 }\n"),
		  -EINVAL);
	ASSERT_EQ(dg.nerrors, 5);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 24, "port 70000 out of range"));
	ASSERT_TRUE(diag_is(1, "t.rules", 1, 36, "unknown port 'foo'"));
	ASSERT_TRUE(diag_is(2, "t.rules", 1, 41, "port range 90-1 is reversed"));
	ASSERT_TRUE(diag_is(3, "t.rules", 2, 19, "invalid address '10.0.0.300'"));
	ASSERT_TRUE(diag_is(4, "t.rules", 2, 31, "has host bits set"));
}

TEST(multiple_errors_and_recovery)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", fixpath("multi.rules"));
	ASSERT_EQ(parse_file(path), -EINVAL);
	ASSERT_EQ(dg.nerrors, 4);
	ASSERT_EQ(dg.n, 4);
	ASSERT_TRUE(diag_is(0, "multi.rules", 3, 10, "unknown keyword 'frm'"));
	ASSERT_TRUE(diag_is(1, "multi.rules", 5, 18,
			    "port 70000 out of range (0-65535)"));
	ASSERT_TRUE(diag_is(2, "multi.rules", 11, 5,
			    "set 'dup' already defined at "));
	ASSERT_CONTAINS(dg.v[2].msg, "multi.rules:10");
	ASSERT_TRUE(diag_is(3, "multi.rules", 12, 11, "has host bits set"));
	ASSERT_EQ(rs.nrules, 0);
}

TEST(recovery_unterminated_brace)
{
	/* a missing '}' costs one statement, not the rest of the file */
	ASSERT_EQ(parse("set a { 10.0.0.1, 10.0.0.2\n"
			"pass from @a\n"
			"pass tcp to port 99999\n"),
		  -EINVAL);
	ASSERT_EQ(dg.nerrors, 2);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 7, "unterminated '{'"));
	ASSERT_TRUE(diag_is(1, "t.rules", 3, 18, "port 99999 out of range"));
}

TEST(recovery_after_bad_token_mid_rule)
{
	ASSERT_EQ(parse("pass from 10.0.0.1/99 to port { 1, 2\n 3 } ; drop bogus\n"
			"pass all\nfoo\n"),
		  -EINVAL);
	ASSERT_EQ(dg.nerrors, 3);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 11, "prefix length 99"));
	ASSERT_TRUE(diag_is(1, "t.rules", 2, 13, "unknown keyword 'bogus'"));
	ASSERT_TRUE(diag_is(2, "t.rules", 4, 1, "unknown statement 'foo'"));
}

TEST(error_cap)
{
	char *text = malloc(150 * 16);
	size_t i, o = 0;

	ASSERT_TRUE(text);
	for (i = 0; i < 150; i++)
		o += sprintf(text + o, "bogus %zu\n", i);
	parse(text);
	free(text);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_EQ(dg.nerrors, 100);
	ASSERT_EQ(dg.n, 101);
	ASSERT_EQ(dg.v[99].loc.line, 100);
	ASSERT_EQ(dg.v[100].level, MOAT_DIAG_NOTE);
	ASSERT_TRUE(dg.v[100].loc.file == NULL);
	ASSERT_STREQ(dg.v[100].msg, "too many errors (100), stopping");
}

TEST(diags_survive_ruleset)
{
	/* locations in diagnostics stay valid after the rule set is gone */
	struct moat_ruleset r2;
	struct moat_diags d2 = { 0 };
	char name[] = "volatile.rules";

	ASSERT_EQ(moat_parse_string(name, "pass bogus\n", NULL, &r2, &d2),
		  -EINVAL);
	moat_ruleset_free(&r2);
	name[0] = 'X';
	ASSERT_STREQ(d2.v[0].loc.file, "volatile.rules");
	moat_diags_free(&d2);
	/* a prior error in diags does not fail a good parse */
	{
		struct moat_loc l = { "other", 1, 1 };

		moat_diag_add(&d2, MOAT_DIAG_ERROR, &l, "earlier");
		ASSERT_EQ(moat_parse_string("x", "pass all", NULL, &r2, &d2),
			  0);
		ASSERT_EQ(r2.nrules, 1);
		moat_ruleset_free(&r2);
		moat_ruleset_free(&r2); /* freeing twice is harmless */
		moat_diags_free(&d2);
	}
}

/* ---- robustness ---- */

TEST(binary_garbage)
{
	char path[] = "/tmp/moat_test_binXXXXXX";
	int fd = mkstemp(path), round;
	unsigned int seed = 1;
	char buf[65536];
	size_t i;

	ASSERT_TRUE(fd >= 0);
	close(fd);
	for (round = 0; round < 20; round++) {
		FILE *f = fopen(path, "w");

		ASSERT_TRUE(f);
		for (i = 0; i < sizeof(buf); i++) {
			/* half the rounds: mostly text with stray bytes */
			if (round & 1)
				buf[i] = rand_r(&seed);
			else
				buf[i] = "pass drop{},;# \n\"@/:.-0123tcpfromto"
					[rand_r(&seed) % 36] ^
					 (rand_r(&seed) % 50 ? 0 : 0x80);
		}
		fwrite(buf, 1, sizeof(buf), f);
		fclose(f);
		parse_file(path);
		if (ret != -EINVAL || !dg.nerrors || dg.nerrors > 100) {
			TEST_FAIL("round %d: ret %d, %zu errors", round, ret,
				  dg.nerrors);
			unlink(path);
			return;
		}
	}
	unlink(path);
}

TEST(megabyte_single_line)
{
	size_t n = 1 << 20, i;
	char *s = malloc(n + 64);

	ASSERT_TRUE(s);
	/* one huge word */
	memset(s, 'a', n);
	s[n] = 0;
	parse(s);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_CONTAINS(dg.v[0].msg, "word too long");
	/* a huge list on one line, then a good rule */
	strcpy(s, "pass tcp to port {");
	for (i = strlen(s); i < n - 8; i += 4)
		memcpy(s + i, " 80,", 4);
	strcpy(s + i, "}\npass all");
	parse(s);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_TRUE(dg.nerrors >= 1);
	ASSERT_TRUE(dg.nerrors <= 2);
	ASSERT_CONTAINS(diags_text(), "line too long (more than 65536 characters)");
	/* a huge run of spaces */
	memset(s, ' ', n);
	strcpy(s + n - 10, "pass all");
	parse(s);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_EQ(dg.nerrors, 1);
	ASSERT_CONTAINS(dg.v[0].msg, "line too long");
	free(s);
}

TEST(deeply_nested_braces)
{
	size_t n = 200000, i;
	char *s = malloc(2 * n + 64);

	ASSERT_TRUE(s);
	/* many lines of open braces: one error, not a stack overflow */
	strcpy(s, "pass to port ");
	for (i = 13; i < n; i++)
		s[i] = (i % 1000) ? '{' : '\n';
	s[n] = 0;
	parse(s);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_TRUE(dg.nerrors >= 1);
	ASSERT_TRUE(dg.nerrors <= 100);
	ASSERT_TRUE(diag_is(0, "t.rules", 1, 15,
			    "unexpected '{' in a list (lists do not nest)"));
	/* and closing ones */
	for (i = 0; i < n; i++)
		s[i] = (i % 1000) ? '}' : '\n';
	s[n] = 0;
	parse(s);
	ASSERT_EQ(ret, -EINVAL);
	ASSERT_TRUE(dg.nerrors >= 1);
	ASSERT_TRUE(dg.nerrors <= 100);
	free(s);
}

TEST(many_rules)
{
	size_t n = 20000, i, o = 0;
	char *s = malloc(n * 64);

	ASSERT_TRUE(s);
	for (i = 0; i < n; i++)
		o += sprintf(s + o, "pass tcp from 10.%zu.%zu.0/24 to port %zu\n",
			     i >> 8, i & 255, i % 65536);
	PARSE_OK(s);
	free(s);
	ASSERT_EQ(rs.nrules, n);
	ASSERT_EQ(rs.rules[n - 1].loc.line, n);
	ASSERT_STREQ(fmt(n - 1), "pass tcp from 10.78.31.0/24 to port 19999");
}

static void find_paths(const char *argv0)
{
	char exe[PATH_MAX];
	ssize_t n;
	int up;

	if (!access("tests/unit/fixtures", F_OK)) {
		if (!getcwd(root, sizeof(root)))
			root[0] = 0;
	} else {
		/* build/tests/test_parse -> repository root */
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		for (up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');

			if (slash)
				*slash = 0;
		}
		snprintf(root, sizeof(root), "%.2000s", exe);
	}
	snprintf(fix, sizeof(fix), "%s/tests/unit/fixtures", root);
}

TEST(guard_lines_are_kept_apart)
{
	struct moat_ruleset rs;
	struct moat_diags d = {};

	ASSERT_EQ(moat_parse_string("g.rules",
				    "set adm { 192.0.2.0/24 }\n"
				    "guard tcp from @adm to any port 22\n"
				    "pass tcp to port 22\n"
				    "guard icmp\n",
				    NULL, &rs, &d),
		  0);
	ASSERT_EQ(rs.nrules, 1);
	ASSERT_EQ(rs.nguards, 2);
	ASSERT_EQ(rs.guards[0].action, MOAT_RULE_GUARD);
	ASSERT_EQ(rs.guards[0].loc.line, 2);
	ASSERT_EQ(rs.guards[0].src.n, 1);
	ASSERT_EQ(rs.guards[0].src.v[0].kind, MOAT_ADDR_SET);
	ASSERT_EQ(rs.guards[0].dport.v[0].lo, 22);
	ASSERT_EQ(rs.guards[1].loc.line, 4);
	ASSERT_EQ(rs.rules[0].loc.line, 3);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	ASSERT_NE(moat_parse_string("g.rules", "guard\n", NULL, &rs, &d), 0);
	ASSERT_EQ(d.nerrors, 1);
	moat_diags_free(&d);
}


int main(int argc, char **argv)
{
	find_paths(argv[0]);

	RUN(policy);
	RUN(empty_input);
	RUN(statement_separators);
	RUN(set_inline);
	RUN(set_list_separators);
	RUN(set_file);
	RUN(set_file_empty_is_warning);
	RUN(set_file_errors);
	RUN(interface_decls);
	RUN(include_glob_nested_relative);
	RUN(include_from_string_uses_basedir);
	RUN(include_cycle);
	RUN(include_errors);
	RUN(include_too_deep);
	RUN(top_file_missing);
	RUN(actions);
	RUN(all_matches_everything);
	RUN(on_interface);
	RUN(families);
	RUN(protocols);
	RUN(protocol_lists);
	RUN(addresses);
	RUN(address_lists_mixed);
	RUN(set_references_any_order);
	RUN(ports);
	RUN(port_ranges_merge);
	RUN(port_without_protocol);
	RUN(flags);
	RUN(icmp_types);
	RUN(vlan);
	RUN(ethertype);
	RUN(rule_text_and_loc);
	RUN(language_tour);
	RUN(prefix_format);
	RUN(format_cases);
	RUN(format_round_trip);
	RUN(format_equivalent_spellings);
	RUN(shipped_rule_files_parse);
	RUN(set_file_api);
	RUN(set_file_garbage);
	RUN(set_file_million_lines_fast);
	RUN(error_messages);
	RUN(errors_in_list_elements_all_reported);
	RUN(multiple_errors_and_recovery);
	RUN(recovery_unterminated_brace);
	RUN(recovery_after_bad_token_mid_rule);
	RUN(error_cap);
	RUN(diags_survive_ruleset);
	RUN(binary_garbage);
	RUN(megabyte_single_line);
	RUN(deeply_nested_braces);
	RUN(many_rules);
	reset();
	RUN(guard_lines_are_kept_apart);
	return test_summary("parse");
}
