// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctparse.c - the `state` matcher and the `conntrack { }` statement:
 * parsing, normalised text, errors, compilation (key.ct, tuples, the
 * ct_config of the slot) and imagesim == refeval over packet states.
 */
#include <arpa/inet.h>
#include <string.h>

#include "test.h"
#include "compile.h"
#include "ct.h"
#include "imagesim.h"
#include "parse.h"
#include "refeval.h"

static int parse(const char *text, struct moat_ruleset *rs,
		 struct moat_diags *d)
{
	memset(d, 0, sizeof(*d));
	return moat_parse_string("t.rules", text, NULL, rs, d);
}

/* the first error message, or "" */
static char errbuf[1024];
static const char *parse_err(const char *text)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	FILE *f;

	errbuf[0] = 0;
	if (!parse(text, &rs, &d)) {
		moat_ruleset_free(&rs);
		moat_diags_free(&d);
		return "";
	}
	f = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	moat_diags_print(&d, f);
	fclose(f);
	moat_diags_free(&d);
	return errbuf;
}

static char *fmt_rule(const char *text)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	char *s = NULL;

	if (parse(text, &rs, &d)) {
		moat_diags_free(&d);
		return NULL;
	}
	if (rs.nrules)
		s = moat_rule_format(&rs, &rs.rules[0]);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	return s;
}

TEST(state_forms)
{
	struct moat_ruleset rs;
	struct moat_diags d;

	ASSERT_EQ(parse("pass state established\n"
			"pass state { established, related }\n"
			"pass tcp to port 22 state new\n"
			"drop state invalid; pass state {new,invalid} from 10.0.0.0/8\n",
			&rs, &d),
		  0);
	ASSERT_EQ(rs.nrules, 5);
	ASSERT_EQ(rs.rules[0].ct_states, 1 << MOAT_CT_ESTABLISHED);
	ASSERT_EQ(rs.rules[1].ct_states,
		  (1 << MOAT_CT_ESTABLISHED) | (1 << MOAT_CT_RELATED));
	ASSERT_EQ(rs.rules[2].ct_states, 1 << MOAT_CT_NEW);
	ASSERT_EQ(rs.rules[2].dport.n, 1);
	ASSERT_EQ(rs.rules[3].ct_states, 1 << MOAT_CT_INVALID);
	ASSERT_EQ(rs.rules[4].ct_states,
		  (1 << MOAT_CT_NEW) | (1 << MOAT_CT_INVALID));
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

TEST(state_format)
{
	char *s;

	s = fmt_rule("pass state { related, established, related }\n");
	ASSERT_STREQ(s, "pass state { established, related }");
	free(s);
	s = fmt_rule("pass tcp to port ssh state new\n");
	ASSERT_STREQ(s, "pass tcp to port 22 state new");
	free(s);
}

TEST(state_errors)
{
	ASSERT_CONTAINS(parse_err("pass state bogus\n"),
			"t.rules:1:12: error: unknown state 'bogus'");
	ASSERT_CONTAINS(parse_err("pass state\n"), "expected a state after 'state'");
	ASSERT_CONTAINS(parse_err("pass state new state invalid\n"),
			"duplicate 'state' in rule");
	ASSERT_CONTAINS(parse_err("pass state { }\n"), "empty list");
	ASSERT_CONTAINS(parse_err("pass ethertype arp state new\n"),
			"'ethertype' cannot be combined with IP matchers ('state')");
	ASSERT_CONTAINS(parse_err("pass all state new\n"),
			"'all' cannot be combined with other matchers");
	ASSERT_CONTAINS(parse_err("pass stat new\n"), "did you mean 'state'");
}

TEST(conntrack_statement)
{
	struct moat_ruleset rs;
	struct moat_diags d;
	struct moat_ct_config c;
	uint64_t h1 = 1, h2 = 1;

	ASSERT_EQ(parse("conntrack { max 262144; tcp-established 3600; udp 30; udp-stream 120; icmp 30 }\n"
			"conntrack_x_is_not_here: \n",
			&rs, &d) != 0,
		  1); /* second line is an error: check it does not crash */
	moat_diags_free(&d);
	ASSERT_EQ(parse("conntrack {\n max 8192\n tcp-established 3600;\n udp 5 }\npass state established\n",
			&rs, &d),
		  0);
	ASSERT_TRUE(rs.conntrack.given);
	ASSERT_EQ(rs.conntrack.max, 8192);
	ASSERT_EQ(rs.conntrack.timeout[MOAT_CT_T_TCP_EST], 3600);
	ASSERT_EQ(rs.conntrack.timeout[MOAT_CT_T_UDP], 5);
	moat_ct_config_build(&rs, &c, &h1);
	ASSERT_EQ(c.enabled, 1);
	ASSERT_EQ(c.fast, 1 << MOAT_CT_ESTABLISHED);
	ASSERT_EQ(c.max, 8192);
	ASSERT_EQ(c.timeout[MOAT_CT_T_UDP], 5);
	ASSERT_EQ(c.timeout[MOAT_CT_T_UDP_STREAM], 120); /* default */
	ASSERT_EQ(c.timeout[MOAT_CT_T_TCP_SYN], 120);
	ASSERT_NE(h1, 1); /* settings are part of the hash */
	moat_ruleset_free(&rs);
	moat_diags_free(&d);

	ASSERT_EQ(parse("pass tcp to port 22\n", &rs, &d), 0);
	moat_ct_config_build(&rs, &c, &h2);
	ASSERT_EQ(c.enabled, 0); /* no `state`: no flow lookup at all */
	ASSERT_EQ(c.fast, 0);
	ASSERT_EQ(c.max, MOAT_CT_DEFAULT_MAX);
	ASSERT_EQ(h2, 1);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
	/* fast path only for a lone `pass state ...` as rule 0 */
	ASSERT_EQ(parse("pass tcp state established\n", &rs, &d), 0);
	moat_ct_config_build(&rs, &c, NULL);
	ASSERT_EQ(c.fast, 0);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

TEST(conntrack_errors)
{
	ASSERT_CONTAINS(parse_err("conntrack { maxx 5 }\n"),
			"unknown conntrack setting 'maxx'; expected 'max'");
	ASSERT_CONTAINS(parse_err("conntrack { maxx 5 }\n"), "did you mean 'max'");
	ASSERT_CONTAINS(parse_err("conntrack { udp 0 }\n"),
			"conntrack timeout udp '0' out of range (1-31536000 seconds)");
	ASSERT_CONTAINS(parse_err("conntrack { max 10 }\n"),
			"conntrack max '10' out of range (1024-16777216 flows)");
	ASSERT_CONTAINS(parse_err("conntrack { icmp x }\n"), "out of range");
	ASSERT_CONTAINS(parse_err("conntrack { udp 5; udp 6 }\n"),
			"duplicate conntrack setting 'udp'");
	ASSERT_CONTAINS(parse_err("conntrack { udp 5 }\nconntrack { udp 6 }\n"),
			"t.rules:2:1: error: duplicate 'conntrack' (first at t.rules:1)");
	ASSERT_CONTAINS(parse_err("conntrack { udp 5\npass all\n"),
			"unterminated '{'");
	ASSERT_CONTAINS(parse_err("conntrack udp 5\n"),
			"expected '{' after 'conntrack'");
	/* every error of the block is reported */
	{
		const char *e = parse_err("conntrack { bogus 1; udp 0; max 5 }\n");

		ASSERT_CONTAINS(e, "'bogus'");
		ASSERT_CONTAINS(e, "udp '0'");
		ASSERT_CONTAINS(e, "max '5'");
	}
}

static struct moat_pkt mk(const char *src, const char *dst, uint8_t proto,
			  uint16_t dport, uint8_t ct)
{
	struct moat_pkt p = { 0 };

	p.ethertype = strchr(src, ':') ? 0x86dd : 0x0800;
	inet_pton(p.ethertype == 0x86dd ? AF_INET6 : AF_INET, src, p.src);
	inet_pton(p.ethertype == 0x86dd ? AF_INET6 : AF_INET, dst, p.dst);
	p.vlan = MOAT_VLAN_NONE;
	p.proto = proto;
	p.has_l4 = true;
	p.sport = 40000;
	p.dport = dport;
	p.tcpflags = 0x02;
	p.ct = ct;
	return p;
}

TEST(compile_state_dimension)
{
	static const char *text =
		"policy drop\n"
		"pass state { established, related }\n"
		"pass tcp to port 22 state new\n"
		"drop from 10.0.0.0/8 state invalid\n"
		"pass udp from 10.0.0.0/8\n"
		"pass state { new, invalid } to 192.0.2.0/24\n";
	const char *srcs[] = { "10.1.1.1", "192.0.2.5", "2001:db8::1" };
	const char *dsts[] = { "192.0.2.1", "10.0.0.1", "2001:db8::2" };
	uint8_t protos[] = { 6, 17, 1 };
	uint16_t ports[] = { 22, 80 };
	struct moat_ruleset rs;
	struct moat_diags d;
	struct moat_image img;
	struct moat_imagesim *sim;
	size_t n = 0, with_ct = 0;

	ASSERT_EQ(parse(text, &rs, &d), 0);
	ASSERT_EQ(moat_compile(&rs, NULL, &img, &d), 0);
	ASSERT_EQ(img.ct.enabled, 1);
	ASSERT_EQ(img.ct.fast,
		  (1 << MOAT_CT_ESTABLISHED) | (1 << MOAT_CT_RELATED));
	ASSERT_EQ(img.info.tuples[0].fields, MOAT_F_STATE);
	ASSERT_EQ(img.info.tuples[0].min_pos, 0);
	for (size_t i = 0; i < img.ncls; i++) {
		if (img.cls[i].key.ct)
			with_ct++;
		ASSERT_EQ(img.cls[i].key.pad[0] | img.cls[i].key.pad[1] |
				  img.cls[i].key.pad[2],
			  0);
	}
	ASSERT_TRUE(with_ct >= 4 * 2); /* rule 0: 2 states x 2 families */
	sim = moat_imagesim_new(&img);
	ASSERT_TRUE(sim != NULL);
	for (int s = 0; s < 3; s++)
		for (int t = 0; t < 3; t++)
			for (int pr = 0; pr < 3; pr++)
				for (int po = 0; po < 2; po++)
					for (int ct = 0; ct < MOAT_CT_NSTATES;
					     ct++) {
						struct moat_pkt p;
						int a, b;

						if (!!strchr(srcs[s], ':') !=
						    !!strchr(dsts[t], ':'))
							continue;
						p = mk(srcs[s], dsts[t],
						       protos[pr] == 1 &&
								       strchr(srcs[s],
									      ':') ?
							       58 :
							       protos[pr],
						       ports[po], ct);
						a = moat_imagesim_lookup(sim,
									 &p);
						b = refeval_match(&rs, &p, NULL,
								  NULL);
						n++;
						if (a != b) {
							TEST_FAIL("src %s dst %s proto %u port %u ct %d: image %d, reference %d",
								  srcs[s],
								  dsts[t],
								  p.proto,
								  p.dport, ct,
								  a, b);
							goto out;
						}
					}
	ASSERT_TRUE(n > 100);
	/* spot checks */
	{
		struct moat_pkt p = mk("10.1.1.1", "10.0.0.1", 6, 80,
				       MOAT_CT_ESTABLISHED);

		ASSERT_EQ(moat_imagesim_lookup(sim, &p), 0);
		ASSERT_EQ(moat_imagesim_probes(sim, &p), 1); /* early exit */
		p.ct = MOAT_CT_INVALID;
		ASSERT_EQ(moat_imagesim_lookup(sim, &p), 2);
		p.ct = MOAT_CT_NEW;
		ASSERT_EQ(moat_imagesim_lookup(sim, &p), -1);
		p.dport = 22;
		ASSERT_EQ(moat_imagesim_lookup(sim, &p), 1);
		p.ct = MOAT_CT_NONE; /* not tracked: state rules never match */
		ASSERT_EQ(moat_imagesim_lookup(sim, &p), -1);
	}
out:
	moat_imagesim_free(sim);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

int main(void)
{
	RUN(state_forms);
	RUN(state_format);
	RUN(state_errors);
	RUN(conntrack_statement);
	RUN(conntrack_errors);
	RUN(compile_state_dimension);
	return test_summary("ctparse");
}
