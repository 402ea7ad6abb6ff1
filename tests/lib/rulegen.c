// SPDX-License-Identifier: GPL-2.0
/*
 * rulegen.c - random rule files and raw frames (see rulegen.h).
 *
 * Rules are written as text, so the parser is part of what is tested; the
 * text obeys the language's combination rules (rules/REFERENCE.md section
 * 4), so every generated file must parse.  Frames are built byte by byte
 * here (not with pkt.c) so that any header can be bent: every length
 * field, every chain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rulegen.h"

/* ------------------------------------------------------------------ */
/* rng                                                                */

void rg_seed(struct rg_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	if (!r->s)
		r->s = 1;
	for (int i = 0; i < 4; i++)
		rg_u32(r);
}

uint32_t rg_u32(struct rg_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545f4914f6cdd1dULL) >> 32);
}

uint32_t rg_n(struct rg_rng *r, uint32_t n)
{
	return n ? rg_u32(r) % n : 0;
}

/* true with probability num/den */
static bool chance(struct rg_rng *r, uint32_t num, uint32_t den)
{
	return rg_n(r, den) < num;
}

/* ------------------------------------------------------------------ */
/* text buffer                                                        */

struct sb {
	char *s;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void sbf(struct sb *b,
						       const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s ? b->s + b->n : NULL,
			      b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			abort();
		if (b->s && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

/* ------------------------------------------------------------------ */
/* names (rules/REFERENCE.md section 5)                               */

struct nv {
	const char *name;
	unsigned int v;
};

static const struct nv services[] = {
	{ "ftp-data", 20 }, { "ftp", 21 },	 { "ssh", 22 },
	{ "telnet", 23 },   { "smtp", 25 },	 { "domain", 53 },
	{ "dns", 53 },	    { "bootps", 67 },	 { "tftp", 69 },
	{ "http", 80 },	    { "www", 80 },	 { "ntp", 123 },
	{ "bgp", 179 },	    { "https", 443 },	 { "syslog", 514 },
	{ "openvpn", 1194 }, { "mysql", 3306 }, { "http-alt", 8080 },
};

static const struct nv icmp4_names[] = {
	{ "echo-reply", 0 },	 { "unreach", 3 },
	{ "unreachable", 3 },	 { "redirect", 5 },
	{ "echo-request", 8 },	 { "time-exceeded", 11 },
	{ "parameter-problem", 12 }, { "timestamp", 13 },
};

static const struct nv icmp6_names[] = {
	{ "unreach", 1 },
	{ "packet-too-big", 2 },
	{ "echo-request", 128 },
	{ "echo-reply", 129 },
	{ "router-solicitation", 133 },
	{ "router-advertisement", 134 },
	{ "neighbour-solicitation", 135 },
	{ "neighbor-advertisement", 136 },
	{ "redirect", 137 },
};

static const struct nv eth_names[] = {
	{ "arp", 0x0806 },  { "lldp", 0x88cc }, { "wol", 0x0842 },
	{ "rarp", 0x8035 }, { "lacp", 0x8809 }, { "mpls", 0x8847 },
	{ "eapol", 0x888e }, { "ptp", 0x88f7 },
};

static const struct nv other_protos[] = {
	{ "gre", 47 }, { "esp", 50 }, { "ah", 51 }, { "ipip", 4 },
	{ "ospf", 89 }, { "igmp", 2 },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* addresses                                                          */

struct pool {
	uint8_t v4[6][4];
	uint8_t v6[6][16];
	unsigned int nsets;
};

static void pool_init(struct rg_rng *r, struct pool *p)
{
	for (int i = 0; i < 6; i++) {
		uint8_t *a = p->v4[i], *b = p->v6[i];

		switch (rg_n(r, 4)) {
		case 0:
			a[0] = 10;
			a[1] = (uint8_t)rg_n(r, 4);
			break;
		case 1:
			a[0] = 192;
			a[1] = 0;
			a[2] = 2;
			break;
		case 2:
			a[0] = 198;
			a[1] = 51;
			a[2] = 100;
			break;
		default:
			for (int k = 0; k < 4; k++)
				a[k] = (uint8_t)rg_u32(r);
			break;
		}
		a[3] = (uint8_t)rg_u32(r);
		memset(b, 0, 16);
		switch (rg_n(r, 4)) {
		case 0: /* IPv4-mapped */
			b[10] = b[11] = 0xff;
			memcpy(b + 12, a, 4);
			break;
		case 1:
			b[0] = 0xfe;
			b[1] = 0x80;
			b[15] = (uint8_t)rg_u32(r);
			break;
		default:
			b[0] = 0x20;
			b[1] = 0x01;
			b[2] = 0x0d;
			b[3] = 0xb8;
			b[4] = (uint8_t)rg_n(r, 3);
			b[7] = (uint8_t)rg_n(r, 3);
			b[15] = (uint8_t)rg_u32(r);
			break;
		}
	}
}

static void mask(uint8_t *a, unsigned int plen, unsigned int bits)
{
	for (unsigned int b = plen; b < bits; b++)
		a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
}

static void put_prefix(struct rg_rng *r, struct sb *b, const struct pool *p,
		       int fam)
{
	static const uint8_t pl4[] = { 8, 16, 20, 24, 24, 26, 28, 30, 31, 32,
				       32 };
	static const uint8_t pl6[] = { 16, 32, 48, 56, 64, 64, 96, 112,
				       120, 126, 127, 128, 128 };
	uint8_t a[16];
	char t[INET6_ADDRSTRLEN];
	unsigned int plen;

	if (fam == 4) {
		memcpy(a, p->v4[rg_n(r, 6)], 4);
		if (chance(r, 1, 2))
			a[3] = (uint8_t)(a[3] ^ rg_n(r, 8));
		plen = chance(r, 1, 40) ? rg_n(r, 9) : pl4[rg_n(r, NELEM(pl4))];
		mask(a, plen, 32);
		inet_ntop(AF_INET, a, t, sizeof(t));
	} else {
		memcpy(a, p->v6[rg_n(r, 6)], 16);
		if (chance(r, 1, 2))
			a[15] = (uint8_t)(a[15] ^ rg_n(r, 8));
		plen = chance(r, 1, 40) ? rg_n(r, 9) : pl6[rg_n(r, NELEM(pl6))];
		mask(a, plen, 128);
		inet_ntop(AF_INET6, a, t, sizeof(t));
	}
	if (plen == (fam == 4 ? 32u : 128u) && chance(r, 1, 2))
		sbf(b, "%s", t);
	else
		sbf(b, "%s/%u", t, plen);
}

/* An address list of family fam (0: either); literal-only lists report
 * their families in *fams (bit 0: v4, bit 1: v6), lists with a set ref
 * get bit 2. */
static void put_addrs(struct rg_rng *r, struct sb *b, const struct pool *p,
		      int fam, unsigned int *fams)
{
	unsigned int n = chance(r, 2, 3) ? 1 : 2 + rg_n(r, 3);

	*fams = 0;
	if (n > 1)
		sbf(b, "{ ");
	for (unsigned int i = 0; i < n; i++) {
		if (i)
			sbf(b, chance(r, 1, 4) ? " " : ", ");
		if (p->nsets && chance(r, 1, 4)) {
			sbf(b, "@s%u", rg_n(r, p->nsets));
			*fams |= 4;
			continue;
		}
		int f = fam ? fam : chance(r, 2, 3) ? 4 : 6;

		put_prefix(r, b, p, f);
		*fams |= f == 4 ? 1 : 2;
	}
	if (n > 1)
		sbf(b, chance(r, 1, 3) ? ", }" : " }");
}

/* ------------------------------------------------------------------ */
/* rules                                                              */

static unsigned int pick_port(struct rg_rng *r)
{
	static const uint16_t v[] = { 0,    1,	  22,	53,   80,   443,
				      1023, 1024, 5000, 8080, 65534, 65535 };

	return chance(r, 3, 4) ? v[rg_n(r, NELEM(v))] : rg_n(r, 65536);
}

static void put_ports(struct rg_rng *r, struct sb *b)
{
	unsigned int n = chance(r, 2, 3) ? 1 : 2 + rg_n(r, 3);

	if (n > 1)
		sbf(b, "{ ");
	for (unsigned int i = 0; i < n; i++) {
		unsigned int lo, hi;

		if (i)
			sbf(b, chance(r, 1, 3) ? " " : ", ");
		switch (rg_n(r, 4)) {
		case 0:
			sbf(b, "%s", services[rg_n(r, NELEM(services))].name);
			break;
		case 1:
			lo = pick_port(r);
			hi = chance(r, 1, 2) ? lo + rg_n(r, 50) : pick_port(r);
			if (hi > 65535)
				hi = 65535;
			if (hi < lo) {
				unsigned int t = lo;

				lo = hi;
				hi = t;
			}
			sbf(b, "%u-%u", lo, hi);
			break;
		default:
			sbf(b, "%u", pick_port(r));
			break;
		}
	}
	if (n > 1)
		sbf(b, " }");
}

static void put_flags(struct rg_rng *r, struct sb *b)
{
	static const char letters[] = "FSRPAUEW";
	uint8_t m = chance(r, 1, 2) ? 0x12 : (uint8_t)(rg_u32(r) | 1u << rg_n(r, 8));
	uint8_t f = (uint8_t)(m & rg_u32(r));

	sbf(b, "flags ");
	for (int i = 0; i < 8; i++)
		if (f & 1 << i)
			sbf(b, "%c", letters[i]);
	if (m == 0xff && f && chance(r, 1, 2))
		return; /* "flags S": mask is all eight */
	sbf(b, "/");
	for (int i = 0; i < 8; i++)
		if (m & 1 << i)
			sbf(b, "%c", letters[i]);
}

/* chunks of one rule, shuffled before printing */
#define MAXCH 10

static void put_rule(struct rg_rng *r, struct sb *b, const struct pool *p,
		     const struct rulegen_opts *o)
{
	struct sb ch[MAXCH] = { { 0 } };
	unsigned int nch = 0, fams_src = 0, fams_dst = 0;
	int fam = 0, efam, l4;
	bool has_src, has_dst;

	switch (rg_n(r, 5)) {
	case 0:
	case 1:
		sbf(b, "pass");
		break;
	case 2:
	case 3:
		sbf(b, "drop");
		break;
	default:
		sbf(b, "redirect %s", o->ifnames[rg_n(r, o->nifnames)]);
		break;
	}
	if (chance(r, 1, 8))
		sbf(&ch[nch++], "on %s", o->ifnames[rg_n(r, o->nifnames)]);
	if (chance(r, 1, 80)) { /* all */
		for (unsigned int i = 0; i < nch; i++) {
			sbf(b, " %s", ch[i].s);
			free(ch[i].s);
		}
		sbf(b, " all");
		return;
	}
	if (chance(r, 1, 8))
		sbf(&ch[nch++], "vlan %u",
		    chance(r, 1, 2) ? 100 + rg_n(r, 3) : rg_n(r, 4096));
	if (chance(r, 1, 16)) { /* non-IP */
		const struct nv *e = &eth_names[rg_n(r, NELEM(eth_names))];

		if (chance(r, 1, 2))
			sbf(&ch[nch++], "ethertype %s", e->name);
		else {
			unsigned int v = chance(r, 1, 2) ? e->v :
							   0x0600 + rg_n(r, 0xf000);

			/* IP and VLAN tag types are not ethertype rules */
			if (v == 0x0800 || v == 0x86dd || v == 0x8100 ||
			    v == 0x88a8 || v == 0x9100)
				v = 0x88b5;
			sbf(&ch[nch++], "ethertype 0x%04x", v);
		}
		goto out;
	}
	if (chance(r, 1, 4)) {
		fam = chance(r, 1, 2) ? 4 : 6;
		sbf(&ch[nch++], "%s", fam == 4 ? "inet" : "inet6");
	}
	efam = fam;
	l4 = (int)rg_n(r, 10); /* 0-3 ports, 4 flags, 5-6 icmp, 7 protos */
	if (l4 <= 3) {
		static const char *const pp[] = { "tcp", "udp", "sctp" };

		switch (rg_n(r, 4)) {
		case 0:
			break;
		case 1:
			sbf(&ch[nch++], "{ tcp, udp }");
			break;
		case 2:
			sbf(&ch[nch++], "proto { %s, sctp }",
			    chance(r, 1, 2) ? "6" : "udp");
			break;
		default:
			sbf(&ch[nch++], "%s", pp[rg_n(r, 3)]);
			break;
		}
	} else if (l4 == 4) {
		if (chance(r, 1, 2))
			sbf(&ch[nch++], "tcp");
	} else if (l4 <= 6) {
		int icmp6 = fam ? fam == 6 : chance(r, 1, 2);

		efam = icmp6 ? 6 : 4;
		if (icmp6)
			sbf(&ch[nch++], "%s",
			    chance(r, 1, 3) ? "ipv6-icmp" : "icmpv6");
		else
			sbf(&ch[nch++], "%s",
			    chance(r, 1, 3) ? "proto icmp" : "icmp");
	} else if (l4 == 7) {
		unsigned int n = 1 + rg_n(r, 3);
		bool only1 = true, only58 = true;

		if (n > 1)
			sbf(&ch[nch], "{ ");
		for (unsigned int i = 0; i < n; i++) {
			int c = (int)rg_n(r, 6);

			if (i)
				sbf(&ch[nch], ", ");
			if (c == 0 && fam != 6) {
				sbf(&ch[nch], "icmp");
				only58 = false;
			} else if (c == 1 && fam != 4) {
				sbf(&ch[nch], "icmpv6");
				only1 = false;
			} else if (c == 2) {
				const struct nv *x =
					&other_protos[rg_n(r, NELEM(other_protos))];

				/* bare names only inside a list */
				sbf(&ch[nch], "%s%s", n > 1 ? "" : "proto ",
				    x->name);
				only1 = only58 = false;
			} else if (c == 3) {
				sbf(&ch[nch], "proto %u", 200 + rg_n(r, 3));
				only1 = only58 = false;
			} else {
				sbf(&ch[nch], "%s", c == 4 ? "tcp" : "udp");
				only1 = only58 = false;
			}
		}
		if (n > 1)
			sbf(&ch[nch], " }");
		nch++;
		if (!fam && only1)
			efam = 4;
		else if (!fam && only58)
			efam = 6;
	}
	has_src = chance(r, 2, 5);
	has_dst = chance(r, 1, 2) || (l4 > 7 && !has_src);
	if (has_src) {
		struct sb a = { 0 };

		put_addrs(r, &a, p, efam, &fams_src);
		sbf(&ch[nch], "from %s", chance(r, 1, 12) ? "any" : a.s);
		if (strncmp(ch[nch].s, "from any", 8) == 0)
			fams_src = 4;
		free(a.s);
		if (l4 <= 3 && chance(r, 1, 3)) {
			sbf(&ch[nch], " port ");
			put_ports(r, &ch[nch]);
		}
		nch++;
	}
	if (has_dst || (l4 <= 3 && (!has_src || chance(r, 1, 2)))) {
		struct sb a = { 0 };

		if (has_dst) {
			int f = efam;

			/* 'from' IPv4 only and 'to' IPv6 only is an error */
			if (!f && (fams_src == 1 || fams_src == 2))
				f = fams_src == 1 ? 4 : 6;
			put_addrs(r, &a, p, f, &fams_dst);
			sbf(&ch[nch], "to %s", a.s);
		} else {
			sbf(&ch[nch], "to%s", chance(r, 1, 4) ? " any" : "");
		}
		free(a.s);
		if (l4 <= 3) {
			sbf(&ch[nch], " port ");
			put_ports(r, &ch[nch]);
		}
		nch++;
	}
	if (l4 == 4 || (l4 == 0 && chance(r, 1, 4))) {
		/* flags imply tcp: only with no protocol or plain tcp */
		bool ok = true;

		for (unsigned int i = 0; i < nch; i++)
			if (strstr(ch[i].s, "udp") || strstr(ch[i].s, "sctp") ||
			    strstr(ch[i].s, "{ tcp") || strstr(ch[i].s, "proto {"))
				ok = false;
		if (ok)
			put_flags(r, &ch[nch++]);
	}
	if (l4 == 5 || l4 == 6) {
		const struct nv *t = efam == 4 ? icmp4_names : icmp6_names;
		size_t nt = efam == 4 ? NELEM(icmp4_names) : NELEM(icmp6_names);

		if (chance(r, 1, 2))
			sbf(&ch[nch], "icmp-type %s", t[rg_n(r, (uint32_t)nt)].name);
		else
			sbf(&ch[nch], "icmp-type %u",
			    chance(r, 1, 2) ? t[rg_n(r, (uint32_t)nt)].v :
					      rg_n(r, 256));
		if (chance(r, 1, 3))
			sbf(&ch[nch], " code %u", rg_n(r, 3));
		nch++;
	}
out:
	/* a rule needs a matcher besides 'on' */
	if (!nch || (nch == 1 && strncmp(ch[0].s, "on ", 3) == 0))
		sbf(&ch[nch++], "%s", chance(r, 1, 2) ? "all" : "from any");
	/* shuffle sometimes: matchers may be written in any order */
	if (chance(r, 1, 3))
		for (unsigned int i = nch; i > 1; i--) {
			unsigned int j = rg_n(r, i);
			struct sb t = ch[i - 1];

			ch[i - 1] = ch[j];
			ch[j] = t;
		}
	for (unsigned int i = 0; i < nch; i++) {
		sbf(b, " %s", ch[i].s);
		free(ch[i].s);
	}
}

static void put_set(struct rg_rng *r, struct sb *b, const struct pool *p,
		    unsigned int idx, const struct rulegen_opts *o)
{
	unsigned int n = rg_n(r, 6);

	if (o->setdir && chance(r, 1, 4)) {
		char path[4096];
		struct sb f = { 0 };
		FILE *fp;

		snprintf(path, sizeof(path), "%s/s%u.txt", o->setdir, idx);
		sbf(&f, "# set s%u\n", idx);
		for (unsigned int i = 0; i < n; i++) {
			if (chance(r, 1, 5))
				sbf(&f, "\n");
			sbf(&f, chance(r, 1, 5) ? "  " : "");
			put_prefix(r, &f, p, chance(r, 2, 3) ? 4 : 6);
			sbf(&f, "%s", chance(r, 1, 5) ? "  # c\r\n" :
				      chance(r, 1, 5) ? "\r\n" : "\n");
		}
		fp = fopen(path, "w");
		if (!fp || fwrite(f.s, 1, f.n, fp) != f.n)
			abort();
		fclose(fp);
		free(f.s);
		sbf(b, "set s%u file \"%s/s%u.txt\"\n", idx, o->setdir, idx);
		return;
	}
	sbf(b, "set s%u {", idx);
	for (unsigned int i = 0; i < n + 1; i++) {
		sbf(b, i ? (chance(r, 1, 4) ? "\n  " : ", ") : " ");
		put_prefix(r, b, p, chance(r, 2, 3) ? 4 : 6);
	}
	sbf(b, " }\n");
}

char *rulegen_text(struct rg_rng *r, const struct rulegen_opts *o)
{
	struct sb b = { 0 };
	struct pool p;
	unsigned int late;

	memset(&p, 0, sizeof(p));
	pool_init(r, &p);
	p.nsets = rg_n(r, 5);
	late = p.nsets ? rg_n(r, p.nsets + 1) : 0; /* sets defined after use */
	sbf(&b, "# generated\n");
	switch (rg_n(r, 5)) {
	case 0:
		break;
	case 1:
	case 2:
		sbf(&b, "policy pass\n");
		break;
	default:
		sbf(&b, "policy drop\n");
		break;
	}
	for (unsigned int s = late; s < p.nsets; s++)
		put_set(r, &b, &p, s, o);
	for (unsigned int i = 0; i < o->nrules; i++) {
		put_rule(r, &b, &p, o);
		switch (rg_n(r, 20)) {
		case 0:
			sbf(&b, " # comment\n");
			break;
		case 1:
			sbf(&b, "; ");
			break;
		case 2:
			sbf(&b, "\n\n");
			break;
		default:
			sbf(&b, "\n");
			break;
		}
	}
	sbf(&b, "\n");
	for (unsigned int s = 0; s < late; s++)
		put_set(r, &b, &p, s, o);
	return b.s;
}

/* ------------------------------------------------------------------ */
/* frames                                                             */

struct fdesc {
	int nvlan;
	uint16_t tpid[4], vid[4];
	uint16_t ethertype; /* non-IP */
	int family;
	uint8_t src[16], dst[16];
	uint8_t proto;
	/* IPv4 */
	int optlen; /* option bytes */
	bool opt_garbage;
	int version; /* -1 = right */
	int ihl; /* -1 = right */
	int totlen; /* -1 = right */
	uint16_t frag; /* offset in 8-byte units */
	bool mf;
	/* IPv6 */
	int next;
	uint8_t ext[10], extlen[10];
	int fragext; /* index of the fragment header using frag/mf, or -1 */
	/* L4 */
	bool l4; /* write an L4 header */
	uint16_t sport, dport;
	uint8_t flags, icmp_type, icmp_code;
	int payload;
};

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#define MAXB 64

/* Build the frame; bnd[] gets header boundary offsets. */
static size_t build(struct rg_rng *r, const struct fdesc *d, uint8_t *buf,
		    size_t cap, size_t *bnd, unsigned int *nb)
{
	size_t off = 12, l3, ihl, l4len = 0;

	*nb = 0;
#define B(x)                                                                   \
	do {                                                                   \
		if (*nb < MAXB)                                                \
			bnd[(*nb)++] = (x);                                    \
	} while (0)
	if (cap < 1600)
		abort();
	for (int i = 0; i < 12; i++)
		buf[i] = (uint8_t)(i < 6 ? (i == 5 ? 2 : i ? 0 : 2) :
					   (i == 11 ? 1 : i == 6 ? 2 : 0));
	for (int i = 0; i < d->nvlan; i++) {
		B(off);
		put16(buf + off, d->tpid[i]);
		put16(buf + off + 2, d->vid[i] | (rg_n(r, 8) << 13));
		off += 4;
		B(off - 2);
	}
	B(off);
	if (!d->family) {
		put16(buf + off, d->ethertype);
		off += 2;
		for (int i = 0; i < d->payload; i++)
			buf[off++] = (uint8_t)rg_u32(r);
		B(off);
		return off;
	}
	put16(buf + off, d->family == 4 ? 0x0800 : 0x86dd);
	off += 2;
	l3 = off;
	B(l3);
	if (d->l4) {
		switch (d->proto) {
		case 6:
			l4len = 20;
			break;
		case 17:
		case 1:
		case 58:
			l4len = 8;
			break;
		case 132:
			l4len = 12;
			break;
		default:
			l4len = 0;
			break;
		}
	}
	if (d->family == 4) {
		uint8_t *ip = buf + l3;

		ihl = 20 + (size_t)d->optlen;
		memset(ip, 0, ihl);
		ip[0] = (uint8_t)((d->version >= 0 ? d->version : 4) << 4 |
				  (d->ihl >= 0 ? d->ihl : (int)ihl / 4));
		put16(ip + 2, d->totlen >= 0 ? (unsigned int)d->totlen :
			      (unsigned int)(ihl + l4len + (size_t)d->payload));
		put16(ip + 4, rg_u32(r));
		put16(ip + 6, (d->frag & 0x1fff) | (d->mf ? 0x2000 : 0) |
				      (chance(r, 1, 3) ? 0x4000 : 0));
		ip[8] = 64;
		ip[9] = d->proto;
		memcpy(ip + 12, d->src, 4);
		memcpy(ip + 16, d->dst, 4);
		for (int i = 0; i < d->optlen; i++)
			ip[20 + i] = d->opt_garbage ? (uint8_t)rg_u32(r) : 1;
		B(l3 + 1);
		B(l3 + 10);
		B(l3 + 20);
		B(l3 + ihl);
		off = l3 + ihl;
	} else {
		uint8_t *ip = buf + l3, *nhp = ip + 6;
		size_t start;

		memset(ip, 0, 40);
		ip[0] = (uint8_t)((d->version >= 0 ? d->version : 6) << 4);
		ip[7] = 64;
		memcpy(ip + 8, d->src, 16);
		memcpy(ip + 24, d->dst, 16);
		off = l3 + 40;
		B(l3 + 7);
		B(l3 + 24);
		B(off);
		start = off;
		for (int i = 0; i < d->next; i++) {
			uint8_t *h = buf + off;
			size_t hl;

			*nhp = d->ext[i];
			if (d->ext[i] == 44) {
				hl = 8;
				memset(h, 0, 8);
				if (i == d->fragext)
					put16(h + 2, (unsigned int)(d->frag & 0x1fff) << 3 |
						     (d->mf ? 1 : 0));
			} else if (d->ext[i] == 51) {
				hl = (d->extlen[i] + 2u) * 4;
				memset(h, 0, hl);
				h[1] = d->extlen[i];
			} else {
				hl = (d->extlen[i] + 1u) * 8;
				memset(h, 0, hl);
				h[1] = d->extlen[i];
				h[2] = 1; /* PadN */
				h[3] = (uint8_t)(hl - 4);
			}
			B(off + 1);
			B(off + 2);
			B(off + hl - 1);
			nhp = h;
			off += hl;
			B(off);
			if (off + 200 > cap)
				abort();
		}
		*nhp = d->proto;
		put16(ip + 4, (unsigned int)(off - start + l4len +
					     (size_t)d->payload));
	}
	if (l4len) {
		uint8_t *l = buf + off;

		memset(l, 0, l4len);
		if (d->proto == 1 || d->proto == 58) {
			l[0] = d->icmp_type;
			l[1] = d->icmp_code;
		} else {
			put16(l, d->sport);
			put16(l + 2, d->dport);
			if (d->proto == 6) {
				l[12] = 5 << 4;
				l[13] = d->flags;
			}
			if (d->proto == 17)
				put16(l + 4, (unsigned int)(8 + d->payload));
		}
		B(off + 1);
		B(off + 2);
		B(off + 4);
		B(off + 8);
		B(off + 12);
		B(off + 14);
		B(off + l4len);
		off += l4len;
	}
	for (int i = 0; i < d->payload; i++)
		buf[off++] = (uint8_t)rg_u32(r);
	B(off);
#undef B
	return off;
}

/* an address inside prefix pf (random host bits) */
static void addr_in(struct rg_rng *r, uint8_t *out, const struct moat_prefix *pf)
{
	unsigned int bits = pf->family == 4 ? 32 : 128;

	for (unsigned int i = 0; i < bits / 8; i++)
		out[i] = (uint8_t)rg_u32(r);
	if (chance(r, 1, 3)) /* near the edges of the prefix */
		for (unsigned int b = pf->plen; b < bits; b++) {
			uint8_t m = (uint8_t)(0x80 >> (b % 8));

			out[b / 8] = (uint8_t)((out[b / 8] & ~m) |
					       (rg_n(r, 2) ? m : 0));
		}
	for (unsigned int b = 0; b < pf->plen; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));

		out[b / 8] = (uint8_t)((out[b / 8] & ~m) | (pf->addr[b / 8] & m));
	}
}

/* a prefix of family fam from a list (sets expanded), NULL if none */
static const struct moat_prefix *list_prefix(struct rg_rng *r,
					     const struct moat_ruleset *rs,
					     const struct moat_addr_list *l,
					     int fam)
{
	for (int t = 0; t < 6 && l->n; t++) {
		const struct moat_addr *a = &l->v[rg_n(r, (uint32_t)l->n)];
		const struct moat_prefix *pf = &a->prefix;

		if (a->kind == MOAT_ADDR_SET) {
			const struct moat_set *s = &rs->sets[a->set];

			if (!s->n)
				continue;
			pf = &s->elems[rg_n(r, (uint32_t)s->n)];
		}
		if (pf->family == fam)
			return pf;
	}
	return NULL;
}

/* an address of family fam near the rule set's addresses */
static void any_addr(struct rg_rng *r, const struct moat_ruleset *rs,
		     int fam, uint8_t *out)
{
	for (int t = 0; t < 6 && rs->nrules && chance(r, 5, 6); t++) {
		const struct moat_rule_ast *ru =
			&rs->rules[rg_n(r, (uint32_t)rs->nrules)];
		const struct moat_prefix *pf = list_prefix(
			r, rs, chance(r, 1, 2) ? &ru->src : &ru->dst, fam);

		if (pf) {
			addr_in(r, out, pf);
			return;
		}
	}
	memset(out, 0, 16);
	for (int i = 0; i < (fam == 4 ? 4 : 16); i++)
		out[i] = (uint8_t)rg_u32(r);
}

static uint16_t port_in(struct rg_rng *r, const struct moat_port_list *l)
{
	const struct moat_port_range *pr = &l->v[rg_n(r, (uint32_t)l->n)];
	uint32_t span = (uint32_t)pr->hi - pr->lo + 1;

	if (chance(r, 1, 3))
		return chance(r, 1, 2) ? pr->lo : pr->hi;
	return (uint16_t)(pr->lo + rg_n(r, span));
}

static uint16_t rnd_port(struct rg_rng *r)
{
	return (uint16_t)(chance(r, 1, 2) ? pick_port(r) + rg_n(r, 2) :
					    rg_u32(r));
}

static void random_desc(struct rg_rng *r, const struct moat_ruleset *rs,
			struct fdesc *d)
{
	static const uint8_t protos[] = { 6, 6, 17, 17, 132, 1, 58, 47, 50,
					  200, 59 };

	if (chance(r, 1, 8)) {
		static const uint16_t et[] = { 0x0806, 0x88cc, 0x9100, 0x0842,
					       0x88b5, 0x0000, 0x05dc, 0xffff };

		d->family = 0;
		d->ethertype = chance(r, 1, 2) ? et[rg_n(r, NELEM(et))] :
						 (uint16_t)rg_u32(r);
		if (d->ethertype == 0x0800 || d->ethertype == 0x86dd ||
		    d->ethertype == 0x8100 || d->ethertype == 0x88a8)
			d->ethertype = 0x0806;
		d->payload = (int)rg_n(r, 64);
		return;
	}
	d->family = chance(r, 3, 5) ? 4 : 6;
	any_addr(r, rs, d->family, d->src);
	any_addr(r, rs, d->family, d->dst);
	d->proto = protos[rg_n(r, NELEM(protos))];
	if (d->family == 6 && d->proto == 1 && chance(r, 3, 4))
		d->proto = 58;
	if (d->family == 4 && d->proto == 58 && chance(r, 3, 4))
		d->proto = 1;
	d->l4 = true;
	d->sport = rnd_port(r);
	d->dport = rnd_port(r);
	d->flags = (uint8_t)(chance(r, 1, 2) ? rg_u32(r) :
			     chance(r, 1, 2) ? 0x02 : 0x12);
	d->icmp_type = (uint8_t)(chance(r, 1, 3) ? rg_u32(r) :
				 d->family == 6 ? 128 + rg_n(r, 11) :
						  rg_n(r, 14));
	d->icmp_code = (uint8_t)rg_n(r, 3);
}

static void aimed_desc(struct rg_rng *r, const struct moat_ruleset *rs,
		       const struct moat_rule_ast *ru, moat_ifindex_fn ifname,
		       void *ctx, struct fdesc *d, uint32_t *ingress)
{
	const struct moat_prefix *pf;

	random_desc(r, rs, d);
	if (ru->on_if[0] && ifname && chance(r, 7, 8))
		*ingress = ifname(ru->on_if, ctx);
	if (ru->vlan >= 0) {
		d->nvlan = chance(r, 3, 4) ? 1 : 2;
		d->tpid[0] = chance(r, 1, 2) ? 0x8100 : 0x88a8;
		d->tpid[1] = 0x8100;
		d->vid[0] = (uint16_t)ru->vlan;
		d->vid[1] = (uint16_t)rg_n(r, 4096);
	}
	if (ru->ethertype) {
		d->family = 0;
		d->ethertype = ru->ethertype;
		d->payload = (int)rg_n(r, 64);
		return;
	}
	d->family = ru->family ? ru->family : chance(r, 3, 5) ? 4 : 6;
	/* a literal address tells the family */
	if (!ru->family && ru->src.n && ru->src.v[0].kind == MOAT_ADDR_PREFIX)
		d->family = ru->src.v[0].prefix.family;
	pf = list_prefix(r, rs, &ru->src, d->family);
	if (pf)
		addr_in(r, d->src, pf);
	else
		any_addr(r, rs, d->family, d->src);
	pf = list_prefix(r, rs, &ru->dst, d->family);
	if (pf)
		addr_in(r, d->dst, pf);
	else
		any_addr(r, rs, d->family, d->dst);
	if (ru->nprotos)
		d->proto = ru->protos[rg_n(r, (uint32_t)ru->nprotos)];
	else if (ru->icmp_type >= 0 || ru->icmp_code >= 0)
		d->proto = d->family == 4 ? 1 : 58;
	else if (ru->sport.n || ru->dport.n)
		d->proto = chance(r, 2, 3) ? (chance(r, 1, 2) ? 6 : 17) : 132;
	d->l4 = true;
	if (ru->sport.n)
		d->sport = port_in(r, &ru->sport);
	if (ru->dport.n)
		d->dport = port_in(r, &ru->dport);
	if (ru->has_flags)
		d->flags = (uint8_t)((rg_u32(r) & ~ru->flags_mask) | ru->flags);
	if (ru->icmp_type >= 0)
		d->icmp_type = (uint8_t)ru->icmp_type;
	if (ru->icmp_code >= 0)
		d->icmp_code = (uint8_t)ru->icmp_code;
	/* disturb one field: near misses find boundary bugs */
	switch (rg_n(r, 16)) {
	case 0:
		d->sport = (uint16_t)(d->sport + (chance(r, 1, 2) ? 1 : -1));
		break;
	case 1:
		d->dport = (uint16_t)(d->dport + (chance(r, 1, 2) ? 1 : -1));
		break;
	case 2:
		d->src[rg_n(r, d->family == 4 ? 4 : 16)] ^=
			(uint8_t)(1u << rg_n(r, 8));
		break;
	case 3:
		d->dst[rg_n(r, d->family == 4 ? 4 : 16)] ^=
			(uint8_t)(1u << rg_n(r, 8));
		break;
	case 4:
		d->flags ^= (uint8_t)(1u << rg_n(r, 8));
		break;
	case 5:
		d->icmp_type = (uint8_t)(d->icmp_type + 1);
		break;
	case 6:
		d->frag = (uint16_t)(1 + rg_n(r, 100)); /* non-first fragment */
		break;
	case 7:
		d->family = 10 - d->family; /* the other family */
		any_addr(r, rs, d->family, d->src);
		any_addr(r, rs, d->family, d->dst);
		break;
	default:
		break;
	}
}

static void v6_chain(struct rg_rng *r, struct fdesc *d, int n)
{
	static const uint8_t ext[] = { 0, 43, 60, 44, 51 };

	unsigned int budget = 1000; /* bytes of extension headers */

	d->next = n;
	d->fragext = -1;
	for (int i = 0; i < n; i++) {
		d->ext[i] = ext[rg_n(r, NELEM(ext))];
		d->extlen[i] = (uint8_t)(chance(r, 3, 4) ? rg_n(r, 3) : rg_n(r, 40));
		if ((d->extlen[i] + 2u) * 8 > budget)
			d->extlen[i] = 0;
		budget -= (d->extlen[i] + 2u) * 8;
		if (d->ext[i] == 44 && d->fragext < 0)
			d->fragext = i;
	}
}

static void malform(struct rg_rng *r, struct fdesc *d)
{
	switch (rg_n(r, 12)) {
	case 0: /* VLAN stack, maybe too deep, odd TPIDs */
		d->nvlan = 1 + (int)rg_n(r, 4);
		for (int i = 0; i < d->nvlan; i++) {
			static const uint16_t tp[] = { 0x8100, 0x88a8, 0x9100 };

			d->tpid[i] = tp[rg_n(r, 3)];
			d->vid[i] = (uint16_t)rg_n(r, 4096);
		}
		break;
	case 1:
		d->version = (int)rg_n(r, 16);
		break;
	case 2:
		if (d->family == 4)
			d->ihl = (int)rg_n(r, 16);
		else
			v6_chain(r, d, 5 + (int)rg_n(r, 4));
		break;
	case 3:
		d->totlen = chance(r, 1, 2) ? (int)rg_n(r, 64) : (int)rg_n(r, 65536);
		break;
	case 4:
		d->optlen = 4 * (int)rg_n(r, 11);
		d->opt_garbage = chance(r, 1, 2);
		if (chance(r, 1, 3))
			d->ihl = 5 + (int)rg_n(r, 11);
		break;
	case 5: /* fragments */
		d->frag = chance(r, 1, 2) ? 0 : (uint16_t)(1 + rg_n(r, 8191));
		d->mf = chance(r, 1, 2);
		if (d->family == 6) {
			v6_chain(r, d, 1 + (int)rg_n(r, 3));
			d->ext[d->next - 1] = 44;
			if (d->fragext < 0)
				d->fragext = d->next - 1;
		}
		break;
	case 6:
	case 7:
		if (d->family == 6)
			v6_chain(r, d, 1 + (int)rg_n(r, 8));
		else
			d->optlen = 4 * (int)rg_n(r, 11);
		break;
	case 8: /* the other family's icmp, unusual protocols */
		d->proto = d->family == 4 ? 58 : d->family == 6 ? 1 :
			   (uint8_t)rg_u32(r);
		break;
	case 9: /* neighbour discovery */
		d->family = 6;
		d->proto = 58;
		d->icmp_type = (uint8_t)(133 + rg_n(r, 5));
		break;
	case 10:
		d->l4 = false;
		d->payload = (int)rg_n(r, 20);
		break;
	default:
		d->payload = (int)rg_n(r, 300);
		break;
	}
}

size_t pktgen_frame(struct rg_rng *r, const struct moat_ruleset *rs,
		    moat_ifindex_fn ifname, void *ctx, const uint32_t *ifidx,
		    unsigned int nif, uint8_t *buf, size_t cap,
		    uint32_t *ingress, enum pktgen_kind *kind)
{
	size_t bnd[MAXB], len;
	unsigned int nb, k = rg_n(r, 100);
	enum pktgen_kind kd;
	struct fdesc d;

	memset(&d, 0, sizeof(d));
	d.version = d.ihl = d.totlen = -1;
	d.fragext = -1;
	d.payload = chance(r, 1, 2) ? 0 : (int)rg_n(r, 40);
	*ingress = nif ? ifidx[rg_n(r, nif)] : 1;
	kd = k < 45 ? PG_AIMED : k < 70 ? PG_RANDOM : k < 82 ? PG_TRUNCATED :
	     k < 94 ? PG_MALFORMED : PG_MUTATED;
	if (rs->nrules && (kd == PG_AIMED || chance(r, 1, 2)))
		aimed_desc(r, rs, &rs->rules[rg_n(r, (uint32_t)rs->nrules)],
			   ifname, ctx, &d, ingress);
	else
		random_desc(r, rs, &d);
	if (kd != PG_AIMED && kd != PG_RANDOM && chance(r, 1, 2)) {
		malform(r, &d);
		if (chance(r, 1, 3))
			malform(r, &d);
	}
	if (kd == PG_MALFORMED)
		malform(r, &d);
	if (d.family == 6 && !d.next && chance(r, 1, 6))
		v6_chain(r, &d, 1 + (int)rg_n(r, 3));
	len = build(r, &d, buf, cap, bnd, &nb);
	if (kd == PG_TRUNCATED && nb) {
		size_t b = bnd[rg_n(r, nb)];

		b = b + rg_n(r, 3) - 1;
		if (b < len)
			len = b;
	}
	if (kd == PG_MUTATED) {
		unsigned int n = 1 + rg_n(r, 4);
		size_t lim = len < 120 ? len : 120;

		for (unsigned int i = 0; i < n && lim > 12; i++)
			buf[12 + rg_n(r, (uint32_t)(lim - 12))] =
				chance(r, 1, 2) ? (uint8_t)rg_u32(r) :
						  (uint8_t)(1u << rg_n(r, 8));
		if (chance(r, 1, 4))
			len = 14 + rg_n(r, (uint32_t)(len - 13));
	}
	if (len < 14)
		len = 14;
	if (kind)
		*kind = kd;
	return len;
}
