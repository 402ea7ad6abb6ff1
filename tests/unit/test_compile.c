// SPDX-License-Identifier: GPL-2.0
/*
 * test_compile.c - the compiler (ctl/compile.c): targeted tests per field
 * kind and limit, a randomised differential test (imagesim over the
 * compiled image vs refeval over the rule set), and a scale test.
 *
 * MOAT_SEED=N fixes the random seed of the differential test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "compile.h"
#include "imagesim.h"
#include "parse.h"
#include "refeval.h"
#include "ruleset.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* building rule sets in C                                            */

static const char *test_file = "t.rules";

/* capacity for n + 1 elements, doubling (n is the current count) */
static void *grow1(void *v, size_t n, size_t elem)
{
	if (n && (n & (n - 1)))
		return v; /* not a power of two: room is left */
	return realloc(v, (n ? 2 * n : 1) * elem);
}

static struct moat_ruleset *rs_new(int policy)
{
	struct moat_ruleset *rs = calloc(1, sizeof(*rs));

	rs->policy = policy;
	return rs;
}

static void rs_free(struct moat_ruleset *rs)
{
	moat_ruleset_free(rs);
	free(rs);
}

/* New rule at the end; the pointer is valid until the next rs_rule(). */
static struct moat_rule_ast *rs_rule(struct moat_ruleset *rs, int action)
{
	struct moat_rule_ast *r;
	char buf[64];

	rs->rules = grow1(rs->rules, rs->nrules, sizeof(*rs->rules));
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->action = action;
	r->loc.file = test_file;
	r->loc.line = (unsigned int)rs->nrules;
	r->loc.col = 1;
	snprintf(buf, sizeof(buf), "rule %zu", rs->nrules);
	r->text = strdup(buf);
	r->icmp_type = -1;
	r->icmp_code = -1;
	r->vlan = -1;
	return r;
}

static struct moat_prefix pfx(const char *s)
{
	struct moat_prefix p;
	char buf[64];
	char *slash;

	memset(&p, 0, sizeof(p));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (strchr(buf, ':')) {
		p.family = 6;
		inet_pton(AF_INET6, buf, p.addr);
		p.plen = slash ? (uint8_t)atoi(slash + 1) : 128;
	} else {
		p.family = 4;
		inet_pton(AF_INET, buf, p.addr);
		p.plen = slash ? (uint8_t)atoi(slash + 1) : 32;
	}
	/* clear host bits */
	for (unsigned int b = p.plen; b < (p.family == 4 ? 32u : 128u); b++)
		p.addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	return p;
}

static void addr_push(struct moat_addr_list *l, struct moat_addr a)
{
	l->v = grow1(l->v, l->n, sizeof(*l->v));
	l->v[l->n++] = a;
}

static void r_addr(struct moat_addr_list *l, const char *s)
{
	struct moat_addr a;

	memset(&a, 0, sizeof(a));
	a.kind = MOAT_ADDR_PREFIX;
	a.prefix = pfx(s);
	addr_push(l, a);
}

static void r_set(struct moat_addr_list *l, unsigned int set)
{
	struct moat_addr a;

	memset(&a, 0, sizeof(a));
	a.kind = MOAT_ADDR_SET;
	a.set = set;
	addr_push(l, a);
}

static void r_port(struct moat_port_list *l, unsigned int lo, unsigned int hi)
{
	l->v = grow1(l->v, l->n, sizeof(*l->v));
	l->v[l->n].lo = (uint16_t)lo;
	l->v[l->n].hi = (uint16_t)hi;
	l->n++;
}

static void r_proto(struct moat_rule_ast *r, uint8_t p)
{
	r->protos[r->nprotos++] = p;
}

/* elems: NULL-terminated list of prefixes */
static unsigned int rs_set(struct moat_ruleset *rs, const char *name,
			   const char *const *elems)
{
	struct moat_set *s;

	rs->sets = grow1(rs->sets, rs->nsets, sizeof(*rs->sets));
	s = &rs->sets[rs->nsets];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->loc.file = test_file;
	s->loc.line = 1000 + (unsigned int)rs->nsets;
	for (size_t i = 0; elems && elems[i]; i++) {
		s->elems = grow1(s->elems, s->n, sizeof(*s->elems));
		s->elems[s->n++] = pfx(elems[i]);
	}
	return (unsigned int)rs->nsets++;
}

/* ------------------------------------------------------------------ */
/* compiling and looking up                                           */

static unsigned int fake_ifindex(const char *name, void *ctx)
{
	if (!strcmp(name, "eth0"))
		return 1;
	if (!strcmp(name, "eth1"))
		return 2;
	if (!strcmp(name, "veth0"))
		return 10;
	if (!strcmp(name, "veth1"))
		return 11;
	return 0;
}

static const struct moat_compile_opts fake_opts = { fake_ifindex, NULL };

struct compiled {
	struct moat_image img;
	struct moat_diags diags;
	struct moat_imagesim *sim;
	int err;
};

static struct compiled *compile(const struct moat_ruleset *rs)
{
	struct compiled *c = calloc(1, sizeof(*c));

	c->err = moat_compile(rs, &fake_opts, &c->img, &c->diags);
	if (!c->err)
		c->sim = moat_imagesim_new(&c->img);
	return c;
}

static void compiled_free(struct compiled *c)
{
	if (!c)
		return;
	moat_imagesim_free(c->sim);
	moat_image_free(&c->img);
	moat_diags_free(&c->diags);
	free(c);
}

/* the first diagnostic of a level, or NULL */
static const struct moat_diag *diag_of(const struct compiled *c,
				       enum moat_diag_level level)
{
	for (size_t i = 0; i < c->diags.n; i++)
		if (c->diags.v[i].level == level)
			return &c->diags.v[i];
	return NULL;
}

static const char *first_error(const struct compiled *c)
{
	const struct moat_diag *d = diag_of(c, MOAT_DIAG_ERROR);

	return d ? d->msg : NULL;
}

static struct moat_pkt pkt(const char *src, const char *dst, uint8_t proto,
			   uint16_t sport, uint16_t dport)
{
	struct moat_pkt p;
	struct moat_prefix s = pfx(src), d = pfx(dst);

	memset(&p, 0, sizeof(p));
	p.ethertype = s.family == 4 ? 0x0800 : 0x86dd;
	p.ifindex = 1;
	p.vlan = MOAT_VLAN_NONE;
	p.proto = proto;
	memcpy(p.src, s.addr, 16);
	memcpy(p.dst, d.addr, 16);
	p.sport = sport;
	p.dport = dport;
	p.has_l4 = proto == 6 || proto == 17 || proto == 132 ||
		   (proto == 1 && s.family == 4) ||
		   (proto == 58 && s.family == 6);
	return p;
}

static int look(const struct compiled *c, const struct moat_pkt *p)
{
	return moat_imagesim_lookup(c->sim, p);
}

/* every entry of the image has this ethertype / none has */
static size_t count_ethertype(const struct moat_image *img, uint16_t et)
{
	size_t n = 0;

	for (size_t i = 0; i < img->ncls; i++)
		n += img->cls[i].key.ethertype == et;
	return n;
}

#define COMPILE_OK(c, rs)                                                      \
	do {                                                                   \
		c = compile(rs);                                               \
		if (c->err) {                                                  \
			TEST_FAIL("compile failed: %d: %s", c->err,            \
				  first_error(c) ? first_error(c) : "");       \
			compiled_free(c);                                      \
			rs_free(rs);                                           \
			return;                                                \
		}                                                              \
	} while (0)

/* ASSERT that also frees (tests keep going only on success) */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			TEST_FAIL("expected true: %s", #cond);                 \
			goto out;                                              \
		}                                                              \
	} while (0)
#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			TEST_FAIL("%s == %s: got %lld, want %lld", #a, #b, _a, \
				  _b);                                         \
			goto out;                                              \
		}                                                              \
	} while (0)
#define CHECK_CONTAINS(hay, needle)                                            \
	do {                                                                   \
		const char *_h = (hay), *_n = (needle);                        \
		if (!_h || !strstr(_h, _n)) {                                  \
			TEST_FAIL("%s contains \"%s\": got \"%s\"", #hay, _n,  \
				  _h ? _h : "(null)");                         \
			goto out;                                              \
		}                                                              \
	} while (0)

/* ------------------------------------------------------------------ */
/* targeted tests                                                     */

TEST(empty_ruleset)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_DROP);
	struct compiled *c;
	struct moat_pkt p = pkt("10.0.0.1", "10.0.0.2", 6, 1, 2);

	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.info.policy, MOAT_ACT_DROP);
	CHECK_EQ(c->img.info.ntuples, 0);
	CHECK_EQ(c->img.ncls, 0);
	CHECK_EQ(c->img.nrules, 0);
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(src_prefix)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;

	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->src, "10.0.0.0/8");
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.info.ntuples, 1);
	CHECK_EQ(c->img.info.tuples[0].fields, MOAT_F_SRC);
	CHECK_EQ(c->img.info.tuples[0].min_pos, 0);
	CHECK_EQ(c->img.ncls, 1);
	CHECK_EQ(c->img.cls[0].key.ethertype, 0x0800);
	CHECK_EQ(c->img.nlpm4, 1);
	CHECK_EQ(c->img.lpm4[0].key.prefixlen, 16);
	CHECK_EQ(c->img.lpm4[0].key.dir, MOAT_DIR_SRC);
	CHECK_EQ(c->img.lpm4[0].key.addr[0], 10);
	CHECK(c->img.lpm4[0].cls != 0);
	CHECK_EQ(c->img.rules[0].action, MOAT_ACT_DROP);
	p = pkt("10.1.2.3", "1.1.1.1", 17, 5, 6);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("11.1.2.3", "1.1.1.1", 17, 5, 6);
	CHECK_EQ(look(c, &p), -1);
	/* destination does not count */
	p = pkt("1.1.1.1", "10.1.2.3", 17, 5, 6);
	CHECK_EQ(look(c, &p), -1);
	p = pkt("2001:db8::1", "::1", 17, 5, 6);
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(nested_prefixes_v4)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;

	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->src, "10.1.2.3/32"); /* 0 */
	r_addr(&rs_rule(rs, MOAT_ACT_PASS)->src, "10.0.0.0/8"); /* 1 */
	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->src, "0.0.0.0/0"); /* 2 */
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.nlpm4, 3);
	/* classes: {/32,/8,/0}, {/8,/0}, {/0} */
	CHECK_EQ(c->img.naddr_classes, 3);
	p = pkt("10.1.2.3", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("10.1.2.4", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("192.0.2.1", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("::1", "::2", 6, 1, 2);
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(nested_prefixes_v6_and_order)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;

	/* wider first: the /128 rule after it is shadowed for its address */
	r_addr(&rs_rule(rs, MOAT_ACT_PASS)->dst, "2001:db8::/32"); /* 0 */
	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->dst, "2001:db8::1/128"); /* 1 */
	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->dst, "::/0"); /* 2 */
	r_addr(&rs_rule(rs, MOAT_ACT_DROP)->dst, "2001:db9::1/128"); /* 3 */
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.nlpm6, 4);
	CHECK_EQ(c->img.nlpm4, 0);
	CHECK_EQ(count_ethertype(&c->img, 0x0800), 0);
	p = pkt("::1", "2001:db8::1", 17, 1, 2);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("::1", "2001:db9::1", 17, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("::1", "fe80::1", 17, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("10.0.0.1", "10.0.0.2", 17, 1, 2);
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(set_and_literal_overlap)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	static const char *const bad[] = { "192.0.2.0/24", "198.51.100.7",
					   "10.0.0.0/16", "2001:db8::/48",
					   NULL };
	unsigned int s = rs_set(rs, "bad", bad);
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_PASS); /* 0: pass from 10.0.0.5 */
	r_addr(&r->src, "10.0.0.5");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: drop from @bad */
	r_set(&r->src, s);
	r = rs_rule(rs, MOAT_ACT_PASS); /* 2: pass from 10.0.0.0/8 */
	r_addr(&r->src, "10.0.0.0/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 3: drop to @bad */
	r_set(&r->dst, s);
	COMPILE_OK(c, rs);
	p = pkt("10.0.0.5", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("10.0.1.5", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("10.1.0.5", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("198.51.100.7", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("198.51.100.8", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), -1);
	p = pkt("1.1.1.1", "192.0.2.200", 6, 1, 2);
	CHECK_EQ(look(c, &p), 3);
	p = pkt("2001:db8:0:1::1", "::1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("2001:db8:1::1", "::1", 6, 1, 2);
	CHECK_EQ(look(c, &p), -1);
	p = pkt("::1", "2001:db8::1", 58, 0, 0);
	CHECK_EQ(look(c, &p), 3);
	/* the set holds both families: rule 1 has v4 and v6 entries */
	CHECK(count_ethertype(&c->img, 0x86dd) >= 2);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(ports_overlapping)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_PASS); /* 0: tcp dport 80 */
	r_proto(r, 6);
	r_port(&r->dport, 80, 80);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: dport 1-1024 (tcp/udp/sctp) */
	r_port(&r->dport, 1, 1024);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 2: udp dport 443, 8000-9000 */
	r_proto(r, 17);
	r_port(&r->dport, 443, 443);
	r_port(&r->dport, 8000, 9000);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 3: sport 53 */
	r_port(&r->sport, 53, 53);
	COMPILE_OK(c, rs);
	/* dport atoms 80, 1-1024, 443, 8000-9000: classes
	 * {1-1024}, {80,1-1024}, {443,1-1024}, {8000-9000}; sport {53} */
	CHECK_EQ(c->img.nport_classes, 5);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_DPORT + 0], 0);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_DPORT + 65535], 0);
	CHECK(c->img.l4cls[MOAT_L4CLS_DPORT + 80] !=
	      c->img.l4cls[MOAT_L4CLS_DPORT + 81]);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_DPORT + 81],
		 c->img.l4cls[MOAT_L4CLS_DPORT + 1024]);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_DPORT + 1025], 0);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 1000, 80);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("1.1.1.1", "2.2.2.2", 17, 1000, 80);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("1.1.1.1", "2.2.2.2", 132, 1000, 1024);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("1.1.1.1", "2.2.2.2", 17, 1000, 1025);
	CHECK_EQ(look(c, &p), -1);
	p = pkt("1.1.1.1", "2.2.2.2", 17, 1000, 8500);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 1000, 8500);
	CHECK_EQ(look(c, &p), -1);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 53, 8500);
	CHECK_EQ(look(c, &p), 3);
	/* no L4 header (fragment): port rules never match */
	p = pkt("1.1.1.1", "2.2.2.2", 6, 53, 80);
	p.has_l4 = false;
	CHECK_EQ(look(c, &p), -1);
	/* a protocol without ports */
	p = pkt("1.1.1.1", "2.2.2.2", 47, 53, 80);
	CHECK_EQ(look(c, &p), -1);
	/* implied protocols: rule 1 has tcp, udp, sctp x 2 families */
	{
		size_t n = 0;

		for (size_t i = 0; i < c->img.ncls; i++)
			n += c->img.cls[i].val.pos == 1;
		/* 3 dport classes contain 1-1024 ({1-1024}, {80,..}, {443,..})
		 * x 3 protos x 2 families, minus tcp/{80,..} taken by rule 0
		 * in both families */
		CHECK_EQ(n, 3 * 3 * 2 - 2);
	}
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(flags)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_DROP); /* 0: flags S/SA (syn, not ack) */
	r->has_flags = true;
	r->flags = 0x02;
	r->flags_mask = 0x12;
	r = rs_rule(rs, MOAT_ACT_PASS); /* 1: flags A/A dport 22 */
	r->has_flags = true;
	r->flags = 0x10;
	r->flags_mask = 0x10;
	r_port(&r->dport, 22, 22);
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.nflag_classes, 2);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_FLAGS + 0x00], 0);
	CHECK(c->img.l4cls[MOAT_L4CLS_FLAGS + 0x02] != 0);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_FLAGS + 0x02],
		 c->img.l4cls[MOAT_L4CLS_FLAGS + 0x03]);
	CHECK_EQ(c->img.l4cls[MOAT_L4CLS_FLAGS + 0x12],
		 c->img.l4cls[MOAT_L4CLS_FLAGS + 0x10]);
	/* only tcp entries */
	for (size_t i = 0; i < c->img.ncls; i++)
		CHECK_EQ(c->img.cls[i].key.proto, 6);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 1000, 22);
	p.tcpflags = 0x02;
	CHECK_EQ(look(c, &p), 0);
	p.tcpflags = 0x12;
	CHECK_EQ(look(c, &p), 1);
	p.tcpflags = 0x18;
	CHECK_EQ(look(c, &p), 1);
	p.dport = 23;
	CHECK_EQ(look(c, &p), -1);
	p.tcpflags = 0x03; /* syn+fin, no ack */
	CHECK_EQ(look(c, &p), 0);
	p = pkt("1.1.1.1", "2.2.2.2", 17, 1000, 22);
	p.tcpflags = 0x02; /* not tcp: flags do not exist */
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(flags_too_many_classes)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;

	/* 256 exact flag tests: 256 classes, one more than a u8 holds */
	for (unsigned int b = 0; b < 256; b++) {
		struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_DROP);

		r->has_flags = true;
		r->flags = (uint8_t)b;
		r->flags_mask = 0xff;
	}
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "TCP-flags classes");
	CHECK_CONTAINS(first_error(c), "the limit is 255");
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(icmp_type_code)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_PASS); /* 0: icmp-type 8 code 0 (both) */
	r->icmp_type = 8;
	r->icmp_code = 0;
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: icmp-type 3 (v4: icmp) */
	r->family = 4;
	r->icmp_type = 3;
	r = rs_rule(rs, MOAT_ACT_DROP); /* 2: proto icmpv6 icmp-type 128 */
	r_proto(r, 58);
	r->icmp_type = 128;
	r = rs_rule(rs, MOAT_ACT_DROP); /* 3: proto icmp (no L4 fields) */
	r_proto(r, 1);
	COMPILE_OK(c, rs);
	for (size_t i = 0; i < c->img.ncls; i++) {
		const struct moat_cls_key *k = &c->img.cls[i].key;

		if (k->ethertype == 0x0800)
			CHECK_EQ(k->proto, 1);
		else
			CHECK_EQ(k->proto, 58);
	}
	p = pkt("1.1.1.1", "2.2.2.2", 1, 0, 0);
	p.icmp_type = 8;
	CHECK_EQ(look(c, &p), 0);
	p.icmp_code = 1;
	CHECK_EQ(look(c, &p), 3);
	p.icmp_type = 3;
	CHECK_EQ(look(c, &p), 1);
	p = pkt("::1", "::2", 58, 0, 0);
	p.icmp_type = 8;
	CHECK_EQ(look(c, &p), 0);
	p.icmp_type = 128;
	CHECK_EQ(look(c, &p), 2);
	p.icmp_type = 3;
	CHECK_EQ(look(c, &p), -1);
	/* ICMP in IPv6 is not ICMPv6: no type is read */
	p = pkt("::1", "::2", 1, 0, 0);
	p.icmp_type = 8;
	CHECK_EQ(look(c, &p), -1);
	/* non-first fragment of an echo request: rule 3 (no L4) matches */
	p = pkt("1.1.1.1", "2.2.2.2", 1, 0, 0);
	p.icmp_type = 8;
	p.has_l4 = false;
	CHECK_EQ(look(c, &p), 3);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(ethertype_rules)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_DROP);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_DROP); /* 0: ethertype arp on eth1 */
	r->ethertype = 0x0806;
	snprintf(r->on_if, sizeof(r->on_if), "eth1");
	r = rs_rule(rs, MOAT_ACT_PASS); /* 1: ethertype arp */
	r->ethertype = 0x0806;
	r = rs_rule(rs, MOAT_ACT_PASS); /* 2: any ip */
	COMPILE_OK(c, rs);
	memset(&p, 0, sizeof(p));
	p.ethertype = 0x0806;
	p.vlan = MOAT_VLAN_NONE;
	p.ifindex = 1;
	CHECK_EQ(look(c, &p), 1);
	p.ifindex = 2;
	CHECK_EQ(look(c, &p), 0);
	p.ethertype = 0x88cc;
	CHECK_EQ(look(c, &p), -1);
	/* the match-everything IP rule: one entry per family, no fields */
	CHECK_EQ(count_ethertype(&c->img, 0x0800), 1);
	CHECK_EQ(count_ethertype(&c->img, 0x86dd), 1);
	p = pkt("1.1.1.1", "2.2.2.2", 47, 0, 0);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("::1", "::2", 0, 0, 0);
	CHECK_EQ(look(c, &p), 2);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(vlan_and_on)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_DROP); /* 0: on veth0 vlan 100 */
	snprintf(r->on_if, sizeof(r->on_if), "veth0");
	r->vlan = 100;
	r = rs_rule(rs, MOAT_ACT_PASS); /* 1: vlan 0 */
	r->vlan = 0;
	r = rs_rule(rs, MOAT_ACT_REDIRECT); /* 2: redirect eth1 on veth1 */
	snprintf(r->on_if, sizeof(r->on_if), "veth1");
	snprintf(r->redirect_if, sizeof(r->redirect_if), "eth1");
	r = rs_rule(rs, MOAT_ACT_REDIRECT); /* 3: redirect eth1 on eth0 tcp*/
	snprintf(r->on_if, sizeof(r->on_if), "eth0");
	snprintf(r->redirect_if, sizeof(r->redirect_if), "eth1");
	r_proto(r, 6);
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.nredirect, 1);
	CHECK_EQ(c->img.redirect_ifindex[0], 2);
	CHECK_EQ(c->img.rules[2].ifindex, 2);
	CHECK_EQ(c->img.rules[2].action, MOAT_ACT_REDIRECT);
	CHECK_EQ(c->img.rules[0].ifindex, 0);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 1, 2);
	p.ifindex = 10;
	p.vlan = 100;
	CHECK_EQ(look(c, &p), 0);
	p.vlan = MOAT_VLAN_NONE;
	CHECK_EQ(look(c, &p), -1);
	p.vlan = 0;
	CHECK_EQ(look(c, &p), 1);
	p.ifindex = 11;
	p.vlan = MOAT_VLAN_NONE;
	CHECK_EQ(look(c, &p), 2);
	p.ifindex = 1;
	CHECK_EQ(look(c, &p), 3);
	p.proto = 17;
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(family_inference)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;
	static const char *const mixed[] = { "2001:db8::/32", "203.0.113.0/24",
					     NULL };
	static const char *const only4[] = { "198.18.0.0/15", NULL };
	unsigned int sm = rs_set(rs, "mixed", mixed);
	unsigned int s4 = rs_set(rs, "only4", only4);

	r = rs_rule(rs, MOAT_ACT_DROP); /* 0: from 10/8 to @only4: v4 only */
	r_addr(&r->src, "10.0.0.0/8");
	r_set(&r->dst, s4);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: from {10.9/16, fd00::/8} */
	r_addr(&r->src, "10.9.0.0/16");
	r_addr(&r->src, "fd00::/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 2: to @mixed */
	r_set(&r->dst, sm);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 3: inet6 from 10/8: never */
	r->family = 6;
	r_addr(&r->src, "10.0.0.0/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 4: from fd00::/8 to 10/8: never */
	r_addr(&r->src, "fd00::/8");
	r_addr(&r->dst, "10.0.0.0/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 5: proto icmp: v4 only */
	r_proto(r, 1);
	COMPILE_OK(c, rs);
	for (size_t i = 0; i < c->img.ncls; i++) {
		const struct moat_cls_entry *e = &c->img.cls[i];

		if (e->val.pos == 0 || e->val.pos == 5)
			CHECK_EQ(e->key.ethertype, 0x0800);
		CHECK(e->val.pos != 3 && e->val.pos != 4);
	}
	/* warnings for the two impossible rules, at their lines */
	{
		size_t nw = 0;

		for (size_t i = 0; i < c->diags.n; i++) {
			if (c->diags.v[i].level != MOAT_DIAG_WARNING)
				continue;
			CHECK_CONTAINS(c->diags.v[i].msg,
				       "rule can never match");
			CHECK(c->diags.v[i].loc.line == 4 ||
			      c->diags.v[i].loc.line == 5);
			nw++;
		}
		CHECK_EQ(nw, 2);
	}
	p = pkt("10.1.1.1", "198.19.0.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("10.9.1.1", "1.1.1.1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("fd00::1", "::1", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
	p = pkt("fe00::1", "2001:db8::5", 6, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("9.9.9.9", "203.0.113.9", 6, 1, 2);
	CHECK_EQ(look(c, &p), 2);
	p = pkt("9.9.9.9", "1.1.1.1", 1, 0, 0);
	CHECK_EQ(look(c, &p), 5);
	p = pkt("::9", "::1", 1, 0, 0);
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(empty_set_never_matches)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	unsigned int s = rs_set(rs, "empty", NULL);
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_DROP);
	r_set(&r->src, s);
	rs_rule(rs, MOAT_ACT_PASS);
	COMPILE_OK(c, rs);
	CHECK(diag_of(c, MOAT_DIAG_WARNING) != NULL);
	CHECK_CONTAINS(diag_of(c, MOAT_DIAG_WARNING)->msg,
		       "rule can never match");
	CHECK_EQ(diag_of(c, MOAT_DIAG_WARNING)->loc.line, 1);
	p = pkt("1.1.1.1", "2.2.2.2", 6, 1, 2);
	CHECK_EQ(look(c, &p), 1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(first_match_collisions)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_PASS); /* 0: tcp from 10/8 */
	r_proto(r, 6);
	r_addr(&r->src, "10.0.0.0/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: same key set */
	r_proto(r, 6);
	r_addr(&r->src, "10.0.0.0/8");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 2: {tcp,udp} from 10/8 */
	r_proto(r, 6);
	r_proto(r, 17);
	r_addr(&r->src, "10.0.0.0/8");
	COMPILE_OK(c, rs);
	/* tcp key once (pos 0), udp key (pos 2) */
	CHECK_EQ(c->img.ncls, 2);
	for (size_t i = 0; i < c->img.ncls; i++)
		CHECK_EQ(c->img.cls[i].val.pos,
			 c->img.cls[i].key.proto == 6 ? 0 : 2);
	p = pkt("10.0.0.1", "2.2.2.2", 6, 1, 2);
	CHECK_EQ(look(c, &p), 0);
	p.proto = 17;
	CHECK_EQ(look(c, &p), 2);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(tuple_ordering)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_pkt p;
	struct moat_rule_ast *r;
	static const char *const none[] = { NULL };
	unsigned int s = rs_set(rs, "none", none);

	r = rs_rule(rs, MOAT_ACT_DROP); /* 0: from @none: no entries */
	r_set(&r->src, s);
	r = rs_rule(rs, MOAT_ACT_DROP); /* 1: dst 10.0.0.1 */
	r_addr(&r->dst, "10.0.0.1");
	r = rs_rule(rs, MOAT_ACT_DROP); /* 2: tcp dport 80 */
	r_proto(r, 6);
	r_port(&r->dport, 80, 80);
	r = rs_rule(rs, MOAT_ACT_PASS); /* 3: dst 10.0.0.2 (tuple of 1) */
	r_addr(&r->dst, "10.0.0.2");
	r = rs_rule(rs, MOAT_ACT_PASS); /* 4: any */
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.info.ntuples, 3);
	CHECK_EQ(c->img.info.tuples[0].fields, MOAT_F_DST);
	CHECK_EQ(c->img.info.tuples[0].min_pos, 1);
	CHECK_EQ(c->img.info.tuples[1].fields,
		 MOAT_F_PROTO | MOAT_F_DPORT);
	CHECK_EQ(c->img.info.tuples[1].min_pos, 2);
	CHECK_EQ(c->img.info.tuples[2].fields, 0);
	CHECK_EQ(c->img.info.tuples[2].min_pos, 4);
	for (size_t i = 0; i < c->img.ncls; i++) {
		const struct moat_cls_entry *e = &c->img.cls[i];

		CHECK(e->key.tuple < c->img.info.ntuples);
		CHECK(e->val.pos >=
		      c->img.info.tuples[e->key.tuple].min_pos);
	}
	/* early exit: a packet hitting rule 1 probes only tuple 0 */
	p = pkt("1.1.1.1", "10.0.0.1", 6, 1, 80);
	CHECK_EQ(look(c, &p), 1);
	CHECK_EQ(moat_imagesim_probes(c->sim, &p), 1);
	p = pkt("1.1.1.1", "10.0.0.2", 6, 1, 80);
	CHECK_EQ(look(c, &p), 2);
	CHECK_EQ(moat_imagesim_probes(c->sim, &p), 2);
	p = pkt("1.1.1.1", "10.0.0.2", 6, 1, 81);
	CHECK_EQ(look(c, &p), 3);
	p = pkt("1.1.1.1", "10.0.0.3", 6, 1, 81);
	CHECK_EQ(look(c, &p), 4);
	/* destination and port in no atom: the tuple masks leave only the
	 * catch-all tuple */
	CHECK_EQ(moat_imagesim_probes(c->sim, &p), 1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(rule_info_and_image_fields)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_DROP);
	struct compiled *c;
	struct moat_rule_ast *r;

	r = rs_rule(rs, MOAT_ACT_PASS);
	r_proto(r, 6);
	r_port(&r->dport, 22, 22);
	free(r->text);
	r->text = strdup("pass tcp to port 22");
	r->loc.line = 7;
	r->loc.col = 3;
	COMPILE_OK(c, rs);
	CHECK_EQ(c->img.nrules, 1);
	CHECK_EQ(c->img.info.nrules, 1);
	CHECK_EQ(c->img.rules[0].id, 0);
	CHECK_EQ(c->img.rule_info[0].line, 7);
	CHECK_EQ(c->img.rule_info[0].col, 3);
	CHECK(c->img.rule_info[0].file == test_file);
	CHECK(!strcmp(c->img.rule_info[0].text, "pass tcp to port 22"));
	CHECK(c->img.rule_info[0].norm != NULL);
	CHECK_CONTAINS(c->img.rule_info[0].norm, "22");
out:
	compiled_free(c);
	rs_free(rs);
}

static uint64_t hash_of(struct moat_ruleset *rs)
{
	struct moat_image img;
	struct moat_diags d = { 0 };
	uint64_t h = 0;

	if (!moat_compile(rs, &fake_opts, &img, &d))
		h = img.hash;
	moat_image_free(&img);
	moat_diags_free(&d);
	return h;
}

TEST(hash)
{
	static const char *const a[] = { "10.0.0.0/8", "192.0.2.1", NULL };
	static const char *const b[] = { "192.0.2.1", "10.0.0.0/8", NULL };
	static const char *const cc[] = { "192.0.2.2", "10.0.0.0/8", NULL };
	struct moat_ruleset *r1 = rs_new(MOAT_ACT_PASS);
	struct moat_ruleset *r2 = rs_new(MOAT_ACT_PASS);
	struct moat_ruleset *r3 = rs_new(MOAT_ACT_PASS);
	struct moat_ruleset *r4 = rs_new(MOAT_ACT_DROP);
	uint64_t h1, h2, h3, h4;

	r_set(&rs_rule(r1, MOAT_ACT_DROP)->src, rs_set(r1, "s", a));
	r_set(&rs_rule(r2, MOAT_ACT_DROP)->src, rs_set(r2, "s", b));
	r_set(&rs_rule(r3, MOAT_ACT_DROP)->src, rs_set(r3, "s", cc));
	r_set(&rs_rule(r4, MOAT_ACT_DROP)->src, rs_set(r4, "s", a));
	/* rule text as written does not count; only the meaning */
	free(r2->rules[0].text);
	r2->rules[0].text = strdup("drop   from @s");
	h1 = hash_of(r1);
	h2 = hash_of(r2);
	h3 = hash_of(r3);
	h4 = hash_of(r4);
	rs_free(r1);
	rs_free(r2);
	rs_free(r3);
	rs_free(r4);
	ASSERT_NE(h1, 0);
	ASSERT_EQ(h1, h2);
	ASSERT_NE(h1, h3);
	ASSERT_NE(h1, h4);
}

/* ------------------------------------------------------------------ */
/* errors and limits                                                  */

TEST(unknown_interfaces)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_rule_ast *r;
	int seen_on = 0, seen_redir = 0;

	r = rs_rule(rs, MOAT_ACT_DROP);
	snprintf(r->on_if, sizeof(r->on_if), "veth9");
	r->on_loc = (struct moat_loc){ test_file, 1, 6 };
	r = rs_rule(rs, MOAT_ACT_REDIRECT);
	snprintf(r->redirect_if, sizeof(r->redirect_if), "nope0");
	r->redirect_loc = (struct moat_loc){ test_file, 2, 10 };
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_EQ(c->diags.nerrors, 2);
	for (size_t i = 0; i < c->diags.n; i++) {
		const struct moat_diag *d = &c->diags.v[i];

		if (d->level != MOAT_DIAG_ERROR)
			continue;
		if (strstr(d->msg, "unknown interface 'veth9'") &&
		    d->loc.line == 1 && d->loc.col == 6)
			seen_on = 1;
		if (strstr(d->msg, "unknown interface 'nope0'") &&
		    d->loc.line == 2 && d->loc.col == 10)
			seen_redir = 1;
	}
	CHECK(seen_on);
	CHECK(seen_redir);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(default_resolver_loopback)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct moat_image img;
	struct moat_diags d = { 0 };
	struct moat_rule_ast *r;
	unsigned int lo = if_nametoindex("lo");
	int err;

	if (!lo)
		SKIP("no loopback interface");
	r = rs_rule(rs, MOAT_ACT_DROP);
	snprintf(r->on_if, sizeof(r->on_if), "lo");
	err = moat_compile(rs, NULL, &img, &d);
	if (!err && img.ncls == 1 && img.cls[0].key.ifindex != lo)
		err = -1;
	moat_image_free(&img);
	moat_diags_free(&d);
	rs_free(rs);
	ASSERT_EQ(err, 0);
}

TEST(limit_rules)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;

	for (unsigned int i = 0; i < MOAT_MAX_RULES + 1; i++)
		rs_rule(rs, MOAT_ACT_DROP);
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "16385 rules; the limit is 16384");
	CHECK_EQ(diag_of(c, MOAT_DIAG_ERROR)->loc.line, MOAT_MAX_RULES + 1);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(limit_tuples)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;

	/* 65 distinct field sets: subsets of vlan/on/src/dst/sport/dport */
	for (unsigned int m = 0; m < 65; m++) {
		struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_DROP);

		if (m & 1)
			r->vlan = 1;
		if (m & 2)
			snprintf(r->on_if, sizeof(r->on_if), "eth0");
		if (m & 4)
			r_addr(&r->src, "10.0.0.0/8");
		if (m & 8)
			r_addr(&r->dst, "10.0.0.0/8");
		if (m & 16)
			r_port(&r->sport, 1, 1);
		if (m & 32)
			r_port(&r->dport, 1, 1);
		if (m & 64)
			r->icmp_type = 1;
	}
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "65 match shapes");
	CHECK_CONTAINS(first_error(c), "the limit is 64");
	CHECK_EQ(diag_of(c, MOAT_DIAG_ERROR)->loc.line, 65);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(limit_cls_entries)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_rule_ast *r;
	char buf[64];

	/* 1024 nested-free src prefixes x 1024 sport classes: 1M x ... */
	r = rs_rule(rs, MOAT_ACT_PASS); /* a small rule first */
	r_port(&r->dport, 80, 80);
	r = rs_rule(rs, MOAT_ACT_DROP);
	r_proto(r, 6);
	for (unsigned int i = 0; i < 1100; i++) {
		snprintf(buf, sizeof(buf), "10.%u.%u.0/24", i / 256, i % 256);
		r_addr(&r->src, buf);
	}
	for (unsigned int p = 0; p < 1000; p++)
		r_port(&r->sport, 1000 + p * 2, 1000 + p * 2);
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "classifier entries; the limit is 1048576 (rule at this line expands to 1100000: narrow its port ranges or address lists)");
	CHECK_EQ(diag_of(c, MOAT_DIAG_ERROR)->loc.line, 2);
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(limit_cls_entries_sum)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	char buf[64];

	/* three rules of 400000 entries each: each fits, the sum does not */
	for (unsigned int k = 0; k < 3; k++) {
		struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_DROP);

		r_proto(r, 6);
		for (unsigned int i = 0; i < 400; i++) {
			snprintf(buf, sizeof(buf), "%u.%u.%u.0/24", 10 + k,
				 i / 256, i % 256);
			r_addr(&r->src, buf);
		}
		for (unsigned int p = 0; p < 1000; p++)
			r_port(&r->dport, 1000 + p * 2 + k * 5000,
			       1000 + p * 2 + k * 5000);
	}
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "rule set needs 1200000 classifier entries; the limit is 1048576");
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(limit_sets)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	char name[32];

	for (unsigned int i = 0; i < MOAT_MAX_SETS + 1; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		rs_set(rs, name, NULL);
	}
	rs_rule(rs, MOAT_ACT_DROP);
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "257 sets; the limit is 256");
out:
	compiled_free(c);
	rs_free(rs);
}

TEST(limit_port_classes)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_DROP);

	/* every port its own range: 65536 classes, class ids are u16 */
	for (unsigned int p = 0; p < 65536; p++)
		r_port(&r->sport, p, p);
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "source port classes");
out:
	compiled_free(c);
	rs_free(rs);
}

/* "rN" -> 100 + N */
static unsigned int num_ifindex(const char *name, void *ctx)
{
	return name[0] == 'r' ? 100 + (unsigned int)atoi(name + 1) : 0;
}

TEST(limit_redirect_targets)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct moat_compile_opts opts = { num_ifindex, NULL };
	struct moat_image img;
	struct moat_diags d = { 0 };
	const struct moat_diag *e = NULL;
	int err;

	for (unsigned int i = 0; i <= MOAT_MAX_IFACES; i++) {
		struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_REDIRECT);

		snprintf(r->redirect_if, sizeof(r->redirect_if), "r%u", i);
		r->redirect_loc = r->loc;
		r_port(&r->dport, i, i);
	}
	err = moat_compile(rs, &opts, &img, &d);
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].level == MOAT_DIAG_ERROR)
			e = &d.v[i];
	if (err != -EINVAL || !e || !strstr(e->msg, "more than 64 interfaces") ||
	    e->loc.line != MOAT_MAX_IFACES + 1)
		TEST_FAIL("err %d, msg %s", err, e ? e->msg : "(none)");
	moat_image_free(&img);
	moat_diags_free(&d);
	rs_free(rs);
}

TEST(duplicate_list_items)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	struct moat_rule_ast *r = rs_rule(rs, MOAT_ACT_DROP);
	struct moat_pkt p;

	r_addr(&r->src, "10.0.0.0/8");
	r_addr(&r->src, "10.0.0.0/8");
	r_addr(&r->src, "10.1.0.0/16");
	r_port(&r->dport, 80, 80);
	r_port(&r->dport, 80, 80);
	r_proto(r, 6);
	r_proto(r, 6);
	COMPILE_OK(c, rs);
	/* classes {10/8}, {10/8, 10.1/16}: 2 x 1 port class x 1 proto */
	CHECK_EQ(c->img.ncls, 2);
	p = pkt("10.1.0.1", "1.1.1.1", 6, 1, 80);
	CHECK_EQ(look(c, &p), 0);
	p = pkt("10.2.0.1", "1.1.1.1", 6, 1, 80);
	CHECK_EQ(look(c, &p), 0);
out:
	compiled_free(c);
	rs_free(rs);
}

static struct moat_prefix *big_v4_set(size_t n, uint32_t seed)
{
	struct moat_prefix *el = calloc(n, sizeof(*el));
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		uint32_t a;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		el[i].family = 4;
		el[i].plen = (uint8_t)(i % 4 == 0 ? 32 : 16 + (x >> 40) % 16);
		a = (uint32_t)(x >> 8);
		a &= el[i].plen ? ~0u << (32 - el[i].plen) : 0;
		el[i].addr[0] = (uint8_t)(a >> 24);
		el[i].addr[1] = (uint8_t)(a >> 16);
		el[i].addr[2] = (uint8_t)(a >> 8);
		el[i].addr[3] = (uint8_t)a;
	}
	return el;
}

TEST(limit_lpm4)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_PASS);
	struct compiled *c;
	unsigned int s1 = rs_set(rs, "big", NULL);
	struct moat_rule_ast *r;

	/* 1.1M distinct-ish prefixes used as source and destination */
	rs->sets[s1].n = 1100000;
	rs->sets[s1].elems = big_v4_set(rs->sets[s1].n, 7);
	r = rs_rule(rs, MOAT_ACT_DROP);
	r_set(&r->src, s1);
	r = rs_rule(rs, MOAT_ACT_DROP);
	r_set(&r->dst, s1);
	c = compile(rs);
	CHECK_EQ(c->err, -EINVAL);
	CHECK_CONTAINS(first_error(c), "IPv4 prefixes");
	CHECK_CONTAINS(first_error(c), "the limit is 2097152");
	CHECK_CONTAINS(first_error(c), "'big'");
out:
	compiled_free(c);
	rs_free(rs);
}

static moat_ifindex_fn cur_ifindex;
static uint64_t rng;
static uint32_t rndn(uint32_t n);
static void rnd_pkt(const struct moat_ruleset *rs, struct moat_pkt *p);
static void aimed_pkt(const struct moat_ruleset *rs,
		      const struct moat_rule_ast *r, struct moat_pkt *p);
static void print_pkt(const struct moat_pkt *p);

/* ------------------------------------------------------------------ */
/* through the parser                                                 */

static const char parsed_text[] =
	"policy drop\n"
	"set trusted { 192.0.2.0/24, 2001:db8::/32, 198.51.100.7 }\n"
	"pass tcp from @trusted to any port 22\n" /* 0 */
	"drop tcp to port 22\n" /* 1 */
	"pass tcp to port { 80, 443, 8000-8099 }\n" /* 2 */
	"drop udp from 10.0.0.0/8 to port 53\n" /* 3 */
	"pass icmp icmp-type echo-request\n" /* 4 */
	"pass on veth1 udp to 192.0.2.10 port 5000\n" /* 5 */
	"redirect veth0 tcp to port 9000\n" /* 6 */
	"drop inet6 proto 47\n" /* 7 */
	"pass tcp flags S/SA to port 25\n" /* 8 */
	"drop ethertype arp\n" /* 9 */
	"pass { tcp, udp } from { 10.0.0.0/8, fd00::/8 } to port 53\n" /* 10 */
	"pass all\n"; /* 11 */

TEST(parsed_rules)
{
	struct moat_ruleset rs = { 0 };
	struct moat_diags d = { 0 };
	struct compiled *c = NULL;
	static const struct {
		const char *src, *dst;
		uint8_t proto;
		uint16_t sport, dport;
		uint8_t flags, icmp_type;
		uint32_t ifindex;
		int want;
	} cases[] = {
		{ "192.0.2.9", "10.0.0.1", 6, 1000, 22, 0x02, 0, 1, 0 },
		{ "2001:db8::9", "::1", 6, 1000, 22, 0x02, 0, 1, 0 },
		{ "198.51.100.7", "10.0.0.1", 6, 1000, 22, 0x02, 0, 1, 0 },
		{ "198.51.100.8", "10.0.0.1", 6, 1000, 22, 0x02, 0, 1, 1 },
		{ "1.1.1.1", "2.2.2.2", 6, 1000, 8050, 0x10, 0, 1, 2 },
		{ "1.1.1.1", "2.2.2.2", 17, 1000, 8050, 0, 0, 1, 11 },
		{ "10.9.9.9", "2.2.2.2", 17, 1000, 53, 0, 0, 1, 3 },
		{ "fd00::9", "::2", 17, 1000, 53, 0, 0, 1, 10 },
		{ "1.1.1.1", "2.2.2.2", 1, 0, 0, 0, 8, 1, 4 },
		{ "1.1.1.1", "2.2.2.2", 1, 0, 0, 0, 0, 1, 11 },
		{ "::1", "::2", 58, 0, 0, 0, 8, 1, 11 },
		{ "1.1.1.1", "192.0.2.10", 17, 1, 5000, 0, 0, 11, 5 },
		{ "1.1.1.1", "192.0.2.10", 17, 1, 5000, 0, 0, 10, 11 },
		{ "1.1.1.1", "2.2.2.2", 6, 1, 9000, 0, 0, 1, 6 },
		{ "::1", "::2", 47, 0, 0, 0, 0, 1, 7 },
		{ "1.1.1.1", "2.2.2.2", 47, 0, 0, 0, 0, 1, 11 },
		{ "1.1.1.1", "2.2.2.2", 6, 1, 25, 0x02, 0, 1, 8 },
		{ "1.1.1.1", "2.2.2.2", 6, 1, 25, 0x12, 0, 1, 11 },
	};
	struct moat_pkt p;
	int err;

	err = moat_parse_string("parsed.rules", parsed_text, NULL, &rs, &d);
	if (err) {
		TEST_FAIL("parse failed: %d: %s", err,
			  d.n ? d.v[0].msg : "");
		goto out;
	}
	c = compile(&rs);
	CHECK_EQ(c->err, 0);
	CHECK_EQ(c->img.nrules, 12);
	CHECK_EQ(c->img.info.policy, MOAT_ACT_DROP);
	CHECK_EQ(c->img.rules[6].action, MOAT_ACT_REDIRECT);
	CHECK_EQ(c->img.rules[6].ifindex, 10);
	CHECK_EQ(c->img.nredirect, 1);
	CHECK_EQ(c->img.rule_info[3].line, 6);
	CHECK(!strcmp(c->img.rule_info[3].file, "parsed.rules"));
	CHECK_CONTAINS(c->img.rule_info[3].norm, "drop udp from 10.0.0.0/8");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = pkt(cases[i].src, cases[i].dst, cases[i].proto,
			cases[i].sport, cases[i].dport);
		p.tcpflags = cases[i].flags;
		p.icmp_type = cases[i].icmp_type;
		p.ifindex = cases[i].ifindex;
		if (look(c, &p) != cases[i].want ||
		    refeval_match(&rs, &p, fake_ifindex, NULL) !=
			    cases[i].want) {
			TEST_FAIL("case %zu: image %d, reference %d, want %d",
				  i, look(c, &p),
				  refeval_match(&rs, &p, fake_ifindex, NULL),
				  cases[i].want);
			goto out;
		}
	}
	memset(&p, 0, sizeof(p));
	p.ethertype = 0x0806;
	p.vlan = MOAT_VLAN_NONE;
	CHECK_EQ(look(c, &p), 9);
	p.ethertype = 0x88cc;
	CHECK_EQ(look(c, &p), -1);
out:
	compiled_free(c);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

/* any interface name resolves (example.rules names veth0..veth2) */
static unsigned int any_ifindex(const char *name, void *ctx)
{
	unsigned int h = 0;

	while (*name)
		h = h * 31 + (unsigned char)*name++;
	return 1 + h % 3;
}

TEST(example_rules_differential)
{
	struct moat_ruleset rs = { 0 };
	struct moat_diags d = { 0 };
	struct moat_compile_opts opts = { any_ifindex, NULL };
	struct moat_image img;
	struct moat_imagesim *sim = NULL;
	unsigned int mism = 0, matched = 0;
	int err;

	memset(&img, 0, sizeof(img));
	err = moat_parse_file("rules/example.rules", &rs, &d);
	if (err == -ENOENT)
		SKIP("rules/example.rules not found (run from the repo root)");
	if (err) {
		TEST_FAIL("parse failed: %d: %s", err, d.n ? d.v[0].msg : "");
		goto out;
	}
	err = moat_compile(&rs, &opts, &img, &d);
	CHECK_EQ(err, 0);
	sim = moat_imagesim_new(&img);
	CHECK(sim != NULL);
	rng = 4242;
	cur_ifindex = any_ifindex;
	for (unsigned int i = 0; i < 20000; i++) {
		struct moat_pkt p;
		int want, got;

		if (rndn(4))
			aimed_pkt(&rs, &rs.rules[rndn((uint32_t)rs.nrules)], &p);
		else
			rnd_pkt(&rs, &p);
		want = refeval_match(&rs, &p, any_ifindex, NULL);
		got = moat_imagesim_lookup(sim, &p);
		matched += want >= 0;
		if (want != got && mism++ < 5) {
			printf("# MISMATCH example.rules packet %u: image %d, reference %d\n",
			       i, got, want);
			print_pkt(&p);
		}
	}
	cur_ifindex = fake_ifindex;
	CHECK_EQ(mism, 0);
	CHECK(matched > 1000);
out:
	cur_ifindex = fake_ifindex;
	moat_imagesim_free(sim);
	moat_image_free(&img);
	moat_ruleset_free(&rs);
	moat_diags_free(&d);
}

/* ------------------------------------------------------------------ */
/* randomised differential test: imagesim(compile(rs)) == refeval(rs)   */

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint32_t rndn(uint32_t n)
{
	return n ? rnd() % n : 0;
}

/* a random prefix of family fam near a few base addresses: mostly long
 * prefixes that overlap and nest, rarely a very wide one */
static struct moat_prefix rnd_prefix(int fam)
{
	struct moat_prefix p;
	unsigned int alen = fam == 4 ? 4 : 16, bits = alen * 8;

	memset(&p, 0, sizeof(p));
	p.family = (uint8_t)fam;
	if (fam == 4) {
		switch (rndn(4)) {
		case 0:
			p.addr[0] = 192;
			p.addr[2] = 2;
			break;
		case 1:
			p.addr[0] = 198;
			p.addr[1] = 51;
			p.addr[2] = 100;
			break;
		default:
			p.addr[0] = 10;
			p.addr[1] = (uint8_t)rndn(16);
			p.addr[2] = (uint8_t)rndn(16);
			break;
		}
		p.addr[3] = (uint8_t)rndn(64);
		p.plen = (uint8_t)(rndn(8) ? 24 + rndn(9) : 16 + rndn(8));
	} else {
		p.addr[0] = 0x20;
		p.addr[1] = 0x01;
		p.addr[2] = 0x0d;
		p.addr[3] = 0xb8;
		p.addr[4] = (uint8_t)rndn(8);
		p.addr[5] = (uint8_t)rndn(16);
		p.addr[7] = (uint8_t)rndn(4);
		p.addr[15] = (uint8_t)rndn(32);
		static const uint8_t pl[] = { 36, 48, 56, 62, 64, 120, 124, 127,
					      128, 128 };

		p.plen = pl[rndn(sizeof(pl))];
	}
	if (!rndn(40))
		p.plen = (uint8_t)(rndn(2) ? 0 : 8 * (1 + rndn(2)));
	for (unsigned int b = p.plen; b < bits; b++)
		p.addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	return p;
}

static const uint16_t port_vals[] = { 0,    1,     22,   53,   80,
				      443,  1023,  1024, 8080, 65534,
				      65535 };

static void rnd_ports(struct moat_port_list *l)
{
	unsigned int n = 1 + rndn(3);

	for (unsigned int i = 0; i < n; i++) {
		uint16_t a = port_vals[rndn(sizeof(port_vals) / 2)];
		uint16_t b = rndn(2) ? a : port_vals[rndn(sizeof(port_vals) / 2)];

		if (!rndn(5))
			b = (uint16_t)(a + rndn(100));
		if (b < a) {
			uint16_t t = a;

			a = b;
			b = t;
		}
		r_port(l, a, b);
	}
}

static void rnd_addrs(struct moat_addr_list *l, unsigned int nsets, int fam)
{
	unsigned int n = 1 + rndn(2);

	for (unsigned int i = 0; i < n; i++) {
		if (nsets && !rndn(4)) {
			r_set(l, rndn(nsets));
		} else {
			struct moat_addr a;

			memset(&a, 0, sizeof(a));
			a.kind = MOAT_ADDR_PREFIX;
			a.prefix = rnd_prefix(fam ? fam : (rndn(3) ? 4 : 6));
			addr_push(l, a);
		}
	}
}

static struct moat_ruleset *rnd_ruleset(unsigned int nrules)
{
	struct moat_ruleset *rs = rs_new(rndn(2) ? MOAT_ACT_DROP : MOAT_ACT_PASS);
	unsigned int nsets = rndn(5);
	static const uint8_t protos[] = { 6, 17, 132, 1, 58, 47 };

	for (unsigned int s = 0; s < nsets; s++) {
		char name[16];
		unsigned int idx, n = rndn(4) ? rndn(12) : 0;

		snprintf(name, sizeof(name), "set%u", s);
		idx = rs_set(rs, name, NULL);
		rs->sets[idx].elems = calloc(n + 1, sizeof(struct moat_prefix));
		for (unsigned int e = 0; e < n; e++)
			rs->sets[idx].elems[e] = rnd_prefix(rndn(3) ? 4 : 6);
		rs->sets[idx].n = n;
	}
	for (unsigned int i = 0; i < nrules; i++) {
		struct moat_rule_ast *r =
			rs_rule(rs, (int)rndn(3) /* pass drop redirect */);

		if (r->action == MOAT_ACT_REDIRECT)
			snprintf(r->redirect_if, sizeof(r->redirect_if),
				 "eth1");
		if (!rndn(12))
			snprintf(r->on_if, sizeof(r->on_if),
				 rndn(2) ? "eth0" : "eth1");
		if (!rndn(15))
			r->vlan = rndn(2) ? 0 : 100 + (int)rndn(2);
		if (!rndn(20)) {
			r->ethertype = rndn(2) ? 0x0806 : 0x88cc;
			continue;
		}
		if (!rndn(6))
			r->family = rndn(2) ? 4 : 6;
		switch (rndn(10)) {
		case 0: /* no addresses: a port match then */
			rnd_ports(&r->dport);
			break;
		case 1:
		case 2:
			rnd_addrs(&r->src, nsets, r->family);
			rnd_addrs(&r->dst, nsets, r->family);
			break;
		case 3:
		case 4:
		case 5:
			rnd_addrs(&r->src, nsets, r->family);
			break;
		default:
			rnd_addrs(&r->dst, nsets, r->family);
			break;
		}
		switch (rndn(8)) {
		case 0:
		case 1: /* ports */
			if (rndn(2))
				r_proto(r, rndn(2) ? 6 : 17);
			if (!rndn(5))
				r_proto(r, protos[rndn(6)]);
			if (rndn(2))
				rnd_ports(&r->dport);
			else
				rnd_ports(&r->sport);
			if (!rndn(3))
				rnd_ports(&r->sport);
			if (!rndn(6)) {
				r->has_flags = true;
				r->flags_mask = (uint8_t)rnd();
				r->flags = r->flags_mask & (uint8_t)rnd();
			}
			break;
		case 2: /* flags */
			r->has_flags = true;
			r->flags_mask = (uint8_t)(rndn(2) ? 0x12 : rnd());
			r->flags = r->flags_mask & (uint8_t)rnd();
			if (!rndn(10))
				r->flags = (uint8_t)rnd(); /* maybe impossible */
			break;
		case 3: /* icmp */
			r->icmp_type = (int)rndn(4) + (rndn(2) ? 0 : 128);
			if (rndn(2))
				r->icmp_code = (int)rndn(2);
			if (rndn(2))
				r_proto(r, rndn(2) ? 1 : 58);
			break;
		case 4: /* protocols only */
		{
			unsigned int n = 1 + rndn(3);

			for (unsigned int k = 0; k < n; k++)
				r_proto(r, protos[rndn(6)]);
			break;
		}
		default:
			break;
		}
	}
	return rs;
}

static void rnd_addr_in(uint8_t *out, const struct moat_prefix *p)
{
	unsigned int alen = p->family == 4 ? 4 : 16;

	memset(out, 0, 16);
	for (unsigned int i = 0; i < alen; i++)
		out[i] = (uint8_t)rnd();
	if (rndn(2)) /* stay near the base: low bytes small */
		for (unsigned int i = 0; i + 2 < alen; i++)
			out[i] = 0;
	for (unsigned int b = 0; b < p->plen; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));

		out[b / 8] = (uint8_t)((out[b / 8] & ~m) | (p->addr[b / 8] & m));
	}
}

/* an address of family fam drawn from the rule set's values */
static void rnd_addr(const struct moat_ruleset *rs, int fam, uint8_t *out,
		     int dir)
{
	for (int tries = 0; tries < 8; tries++) {
		const struct moat_rule_ast *r;
		const struct moat_addr_list *l;
		const struct moat_addr *a;
		const struct moat_prefix *p;

		if (!rs->nrules)
			break;
		r = &rs->rules[rndn((uint32_t)rs->nrules)];
		l = dir ? &r->dst : &r->src;
		if (!l->n || !rndn(6))
			l = dir ? &r->src : &r->dst;
		if (!l->n)
			continue;
		a = &l->v[rndn((uint32_t)l->n)];
		if (a->kind == MOAT_ADDR_SET) {
			const struct moat_set *s = &rs->sets[a->set];

			if (!s->n)
				continue;
			p = &s->elems[rndn((uint32_t)s->n)];
		} else {
			p = &a->prefix;
		}
		if (p->family != fam)
			continue;
		rnd_addr_in(out, p);
		return;
	}
	struct moat_prefix any = rnd_prefix(fam);

	rnd_addr_in(out, &any);
}

static void rnd_pkt(const struct moat_ruleset *rs, struct moat_pkt *p)
{
	static const uint8_t protos[] = { 6, 17, 132, 1, 58, 47, 6, 17 };
	int fam;

	memset(p, 0, sizeof(*p));
	p->ifindex = 1 + rndn(3);
	p->vlan = rndn(3) ? MOAT_VLAN_NONE : (uint16_t)(rndn(2) ? 0 : 100 + rndn(2));
	if (!rndn(25)) {
		p->ethertype = rndn(2) ? 0x0806 : 0x88cc;
		return;
	}
	fam = rndn(3) ? 4 : 6;
	p->ethertype = fam == 4 ? 0x0800 : 0x86dd;
	rnd_addr(rs, fam, p->src, 0);
	rnd_addr(rs, fam, p->dst, 1);
	p->proto = protos[rndn(sizeof(protos))];
	p->has_l4 = p->proto == 6 || p->proto == 17 || p->proto == 132 ||
		    (fam == 4 && p->proto == 1) || (fam == 6 && p->proto == 58);
	if (!rndn(15))
		p->has_l4 = false; /* non-first fragment */
	if (p->has_l4 && (p->proto == 6 || p->proto == 17 || p->proto == 132)) {
		p->sport = rndn(2) ? port_vals[rndn(11)] + (uint16_t)rndn(3)
				   : (uint16_t)rnd();
		p->dport = rndn(2) ? port_vals[rndn(11)] + (uint16_t)rndn(3)
				   : (uint16_t)rnd();
		if (p->proto == 6)
			p->tcpflags = rndn(2) ? (uint8_t)rnd()
					      : (uint8_t)(rndn(2) ? 0x02 : 0x12);
	}
	if (p->has_l4 && (p->proto == 1 || p->proto == 58)) {
		p->icmp_type = (uint8_t)(rndn(4) + (rndn(2) ? 0 : 128));
		p->icmp_code = (uint8_t)rndn(3);
	}
}

/* a packet aimed at rule r: every field chosen to satisfy it (when it
 * can be), then maybe one field disturbed */
static void aimed_pkt(const struct moat_ruleset *rs,
		      const struct moat_rule_ast *r, struct moat_pkt *p)
{
	int fam = 4;
	bool ports = r->sport.n || r->dport.n;
	bool icmp = r->icmp_type >= 0 || r->icmp_code >= 0;

	rnd_pkt(rs, p);
	if (r->on_if[0])
		p->ifindex = cur_ifindex(r->on_if, NULL);
	if (r->vlan >= 0)
		p->vlan = (uint16_t)r->vlan;
	if (r->ethertype) {
		p->ethertype = r->ethertype;
		goto disturb;
	}
	fam = r->family ? r->family : (rndn(3) ? 4 : 6);
	if (r->src.n && r->src.v[0].kind == MOAT_ADDR_PREFIX && !r->family)
		fam = r->src.v[rndn((uint32_t)r->src.n)].prefix.family;
	else if (r->dst.n && r->dst.v[0].kind == MOAT_ADDR_PREFIX &&
		 !r->family)
		fam = r->dst.v[rndn((uint32_t)r->dst.n)].prefix.family;
	p->ethertype = fam == 4 ? 0x0800 : 0x86dd;
	for (int dir = 0; dir < 2; dir++) {
		const struct moat_addr_list *l = dir ? &r->dst : &r->src;
		uint8_t *out = dir ? p->dst : p->src;
		bool done = false;

		for (size_t t = 0; t < 4 && l->n && !done; t++) {
			const struct moat_addr *a = &l->v[rndn((uint32_t)l->n)];
			const struct moat_prefix *pf = &a->prefix;

			if (a->kind == MOAT_ADDR_SET) {
				const struct moat_set *st = &rs->sets[a->set];

				if (!st->n)
					continue;
				pf = &st->elems[rndn((uint32_t)st->n)];
			}
			if (pf->family != fam)
				continue;
			rnd_addr_in(out, pf);
			done = true;
		}
		if (!done)
			rnd_addr(rs, fam, out, dir);
	}
	if (r->nprotos)
		p->proto = r->protos[rndn((uint32_t)r->nprotos)];
	else if (icmp)
		p->proto = fam == 4 ? 1 : 58;
	else if (r->has_flags)
		p->proto = 6;
	else if (ports)
		p->proto = rndn(3) ? (rndn(2) ? 6 : 17) : 132;
	p->has_l4 = p->proto == 6 || p->proto == 17 || p->proto == 132 ||
		    (fam == 4 && p->proto == 1) || (fam == 6 && p->proto == 58);
	if (r->sport.n) {
		const struct moat_port_range *pr =
			&r->sport.v[rndn((uint32_t)r->sport.n)];

		p->sport = (uint16_t)(pr->lo + rndn(pr->hi - pr->lo + 1u));
	}
	if (r->dport.n) {
		const struct moat_port_range *pr =
			&r->dport.v[rndn((uint32_t)r->dport.n)];

		p->dport = (uint16_t)(pr->lo + rndn(pr->hi - pr->lo + 1u));
	}
	if (r->has_flags)
		p->tcpflags = (uint8_t)((rnd() & ~r->flags_mask) | r->flags);
	if (r->icmp_type >= 0)
		p->icmp_type = (uint8_t)r->icmp_type;
	if (r->icmp_code >= 0)
		p->icmp_code = (uint8_t)r->icmp_code;
disturb:
	switch (rndn(12)) {
	case 0:
		p->has_l4 = false;
		break;
	case 1:
		p->sport ^= (uint16_t)(1u << rndn(16));
		break;
	case 2:
		p->dport ^= (uint16_t)(1u << rndn(16));
		break;
	case 3:
		p->src[rndn(fam == 4 ? 4 : 16)] ^= (uint8_t)(1u << rndn(8));
		break;
	case 4:
		p->dst[rndn(fam == 4 ? 4 : 16)] ^= (uint8_t)(1u << rndn(8));
		break;
	case 5:
		p->tcpflags ^= (uint8_t)(1u << rndn(8));
		break;
	case 6:
		p->icmp_type ^= (uint8_t)(1u << rndn(8));
		break;
	case 7:
		p->vlan = rndn(2) ? MOAT_VLAN_NONE : (uint16_t)rndn(200);
		break;
	case 8:
		p->ifindex = 1 + rndn(3);
		break;
	default:
		break;
	}
}

static void print_pkt(const struct moat_pkt *p)
{
	char s[64] = "", d[64] = "";
	int af = p->ethertype == 0x86dd ? AF_INET6 : AF_INET;

	if (p->ethertype == 0x0800 || p->ethertype == 0x86dd) {
		inet_ntop(af, p->src, s, sizeof(s));
		inet_ntop(af, p->dst, d, sizeof(d));
	}
	printf("#   packet: eth 0x%04x if %u vlan %u proto %u l4 %d %s -> %s sport %u dport %u flags 0x%02x icmp %u/%u\n",
	       p->ethertype, p->ifindex, p->vlan, p->proto, p->has_l4, s, d,
	       p->sport, p->dport, p->tcpflags, p->icmp_type, p->icmp_code);
}

static void print_rule(const struct moat_ruleset *rs, int pos)
{
	char *t;

	if (pos < 0) {
		printf("#   (no rule)\n");
		return;
	}
	t = moat_rule_format(rs, &rs->rules[pos]);
	printf("#   rule %d: %s\n", pos, t ? t : "?");
	free(t);
}

TEST(differential_random)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	const char *env = getenv("MOAT_SEED");
	unsigned int nsets = 60, npkts = 2000, mism = 0, ok = 0, big = 0;
	unsigned long long checked = 0, matched = 0, distinct = 0;
	unsigned long long nrules_total = 0;
	static uint8_t hit[MOAT_MAX_RULES];

	if (env)
		seed = strtoull(env, NULL, 0);
	printf("# differential seed %llu (MOAT_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	for (unsigned int k = 0; ok < nsets && k < 2 * nsets && !mism; k++) {
		struct moat_ruleset *rs;
		struct compiled *c;

		rng = seed * 0x9e3779b97f4a7c15ULL + k * 7919 + 1;
		if (!rng)
			rng = 1;
		rs = rnd_ruleset(50 + rndn(350));
		c = compile(rs);
		if (c->err && first_error(c) &&
		    (strstr(first_error(c), "classifier entries") ||
		     strstr(first_error(c), "match shapes") ||
		     strstr(first_error(c), "the limit is"))) {
			/* a legitimately too large rule set: draw another */
			big++;
			compiled_free(c);
			rs_free(rs);
			continue;
		}
		ok++;
		if (c->err) {
			TEST_FAIL("seed %llu set %u: compile failed: %s",
				  (unsigned long long)seed, k,
				  first_error(c) ? first_error(c) : "?");
			compiled_free(c);
			rs_free(rs);
			return;
		}
		memset(hit, 0, sizeof(hit));
		nrules_total += rs->nrules;
		for (unsigned int i = 0; i < npkts; i++) {
			struct moat_pkt p;
			int want, got;

			if (rndn(4))
				aimed_pkt(rs, &rs->rules[rndn((uint32_t)rs->nrules)],
					  &p);
			else
				rnd_pkt(rs, &p);
			want = refeval_match(rs, &p, fake_ifindex, NULL);
			got = look(c, &p);
			checked++;
			matched += want >= 0;
			if (want >= 0 && !hit[want]) {
				hit[want] = 1;
				distinct++;
			}
			if (want != got && mism++ < 5) {
				printf("# MISMATCH seed %llu set %u packet %u: image %d, reference %d\n",
				       (unsigned long long)seed, k, i, got,
				       want);
				print_pkt(&p);
				printf("#   image:");
				print_rule(rs, got);
				printf("#   reference:");
				print_rule(rs, want);
			}
		}
		compiled_free(c);
		rs_free(rs);
	}
	printf("# differential: %u rule sets (%u over a limit, redrawn), %llu rules, %llu packets, %llu matched a rule, %llu distinct rules matched, %u mismatches\n",
	       ok, big, nrules_total, checked, matched, distinct, mism);
	ASSERT_EQ(mism, 0);
	ASSERT_TRUE(ok >= nsets);
	/* the generator must actually exercise rules */
	ASSERT_TRUE(matched > checked / 4);
	ASSERT_TRUE(matched < checked);
	ASSERT_TRUE(distinct > nrules_total / 5);
}

/* ------------------------------------------------------------------ */
/* scale                                                              */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(scale_1m_prefixes)
{
	struct moat_ruleset *rs = rs_new(MOAT_ACT_DROP);
	struct compiled *c;
	unsigned int s = rs_set(rs, "big", NULL);
	struct moat_pkt p;
	double t0, t1;
	char buf[64];

	rs->sets[s].n = 1000000;
	rs->sets[s].elems = big_v4_set(rs->sets[s].n, 42);
	rng = 12345;
	r_set(&rs_rule(rs, MOAT_ACT_DROP)->src, s);
	for (unsigned int i = 0; i < 10000; i++) {
		struct moat_rule_ast *r = rs_rule(rs, (int)rndn(2));

		switch (i % 4) {
		case 0:
			snprintf(buf, sizeof(buf), "172.%u.%u.0/24",
				 16 + (i / 256) % 16, i % 256);
			r_addr(&r->dst, buf);
			r_proto(r, 6);
			r_port(&r->dport, i % 1000 + 1, i % 1000 + 1);
			break;
		case 1:
			snprintf(buf, sizeof(buf), "2001:db8:%x::/48", i);
			r_addr(&r->src, buf);
			break;
		case 2:
			snprintf(buf, sizeof(buf), "100.%u.%u.%u", i / 65536,
				 (i / 256) % 256, i % 256);
			r_addr(&r->src, buf);
			r_port(&r->sport, 1024, 65535);
			break;
		default:
			r->icmp_type = (int)(i % 20);
			if (i % 3 == 0)
				snprintf(r->on_if, sizeof(r->on_if), "eth0");
			break;
		}
	}
	c = calloc(1, sizeof(*c));
	t0 = now();
	c->err = moat_compile(rs, &fake_opts, &c->img, &c->diags);
	t1 = now();
	if (!c->err)
		c->sim = moat_imagesim_new(&c->img);
	printf("# compile of 1000000-prefix set + 10000 rules: %.3f s (%zu cls entries, %zu lpm4, %zu lpm6, %u tuples, %u addr classes)\n",
	       t1 - t0, c->img.ncls, c->img.nlpm4, c->img.nlpm6,
	       c->img.info.ntuples, c->img.naddr_classes);
	CHECK_EQ(c->err, 0);
	CHECK(c->img.ncls <= MOAT_MAX_CLS_ENTRIES);
	CHECK(c->img.nlpm4 <= MOAT_MAX_LPM4);
	CHECK(c->img.nlpm6 <= MOAT_MAX_LPM6);
	CHECK(c->img.info.ntuples <= MOAT_MAX_TUPLES);
	CHECK_EQ(c->img.nrules, 10001);
	/* an element of the set hits rule 0, a packet elsewhere does not */
	memset(&p, 0, sizeof(p));
	p.ethertype = 0x0800;
	p.vlan = MOAT_VLAN_NONE;
	p.proto = 17;
	memcpy(p.src, rs->sets[s].elems[4].addr, 4);
	p.src[3] |= 0; /* a /32 element (i % 4 == 0) */
	CHECK_EQ(look(c, &p), 0);
	CHECK_EQ(refeval_match(rs, &p, fake_ifindex, NULL), 0);
out:
	compiled_free(c);
	rs_free(rs);
}

int main(void)
{
	cur_ifindex = fake_ifindex;
	RUN(empty_ruleset);
	RUN(src_prefix);
	RUN(nested_prefixes_v4);
	RUN(nested_prefixes_v6_and_order);
	RUN(set_and_literal_overlap);
	RUN(ports_overlapping);
	RUN(flags);
	RUN(flags_too_many_classes);
	RUN(icmp_type_code);
	RUN(ethertype_rules);
	RUN(vlan_and_on);
	RUN(family_inference);
	RUN(empty_set_never_matches);
	RUN(first_match_collisions);
	RUN(tuple_ordering);
	RUN(rule_info_and_image_fields);
	RUN(hash);
	RUN(unknown_interfaces);
	RUN(default_resolver_loopback);
	RUN(limit_rules);
	RUN(limit_tuples);
	RUN(limit_cls_entries);
	RUN(limit_cls_entries_sum);
	RUN(limit_sets);
	RUN(limit_port_classes);
	RUN(limit_lpm4);
	RUN(limit_redirect_targets);
	RUN(duplicate_list_items);
	RUN(parsed_rules);
	RUN(example_rules_differential);
	RUN(differential_random);
	RUN(scale_1m_prefixes);
	return test_summary("compile");
}
