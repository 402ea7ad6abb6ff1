// SPDX-License-Identifier: GPL-2.0
/*
 * parse.c - tokens (lex.c) -> struct moat_ruleset (ruleset.h).
 *
 * One statement at a time; after an error the rest of the statement is
 * skipped and parsing goes on, so every error of a file is reported (up to
 * MAX_ERRORS).  Nothing here recurses on input structure except includes,
 * whose depth is bounded, so no input can exhaust the stack.
 *
 * Set references (`@name`) are resolved after everything has been read, so
 * a set may be defined before or after the rules using it.  Lists are then
 * normalised (sorted, deduplicated, port ranges merged) so that
 * moat_rule_format() prints rules meaning the same thing identically.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../include/moat.h"
#include "bigalloc.h"
#include "hash.h"
#include "lex.h"
#include "parse.h"
#include "setcache.h"

#define MAX_ERRORS 100
#define MAX_INCLUDE_DEPTH 16
#define MAX_FILE_SIZE (256UL << 20)
#define MAX_SET_NAME 63

/* ---- shared state of one parse (across included files) ---- */

struct incl_ent {
	dev_t dev;
	ino_t ino;
	const char *name;
};

struct pending_ref {
	size_t rule; /* index in rs->rules */
	int dst; /* 0 = src list, 1 = dst list */
	size_t idx; /* index in the list */
	char *name;
	struct moat_loc loc;
};

struct pctx {
	struct moat_ruleset *rs;
	struct moat_diags *d;
	size_t base; /* d->nerrors when we started */
	bool stopped; /* too many errors, or out of memory */
	bool oom;
	int top_errno; /* top-level file could not be read */
	struct incl_ent stack[MAX_INCLUDE_DEPTH + 2];
	int depth;
	struct pending_ref *refs;
	size_t nrefs, arefs;
	size_t arules, asets, aifaces, afiles;
	bool have_policy;
	struct moat_loc policy_loc;
};

struct parser {
	struct pctx *c;
	struct moat_lexer lx;
	const char *file; /* interned */
	char *dir; /* directory of the file, NULL = current directory */
	struct moat_token tk[2];
	int ci; /* tk[ci] is the current token, tk[ci ^ 1] the peeked one */
	bool have_peek;
	int depth; /* { } depth within the current statement */
	/* text of the statement being recorded */
	bool recording, pending_space;
	char *text;
	size_t tlen, tcap;
	char desc[MOAT_LEX_MAX_WORD + 32];
};

static void *grow(struct pctx *c, void *v, size_t *cap, size_t need,
		  size_t sz)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return v;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	nv = realloc(v, ncap * sz);
	if (!nv) {
		c->oom = true;
		c->stopped = true;
		return NULL;
	}
	*cap = ncap;
	return nv;
}

/* ---- diagnostics ---- */

static void cdiag(struct pctx *c, enum moat_diag_level level,
		  const struct moat_loc *loc, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (c->stopped)
		return;
	if (vasprintf(&msg, fmt, ap) < 0) {
		c->oom = true;
		c->stopped = true;
		return;
	}
	moat_diag_add(c->d, level, loc, "%s", msg);
	free(msg);
	if (c->d->nerrors - c->base >= MAX_ERRORS) {
		moat_diag_add(c->d, MOAT_DIAG_NOTE, NULL,
			      "too many errors (%d), stopping", MAX_ERRORS);
		c->stopped = true;
	}
}

__attribute__((format(printf, 3, 4))) static void
cerr(struct pctx *c, const struct moat_loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cdiag(c, MOAT_DIAG_ERROR, loc, fmt, ap);
	va_end(ap);
}

#define perr(p, loc, ...) cerr((p)->c, loc, __VA_ARGS__)

/* ---- small helpers ---- */

static const char *intern(struct pctx *c, const char *name)
{
	struct moat_ruleset *rs = c->rs;
	char **v, *s;
	size_t i;

	for (i = 0; i < rs->nfiles; i++)
		if (!strcmp(rs->files[i], name))
			return rs->files[i];
	v = grow(c, rs->files, &c->afiles, rs->nfiles + 1, sizeof(*v));
	if (!v)
		return NULL;
	rs->files = v;
	s = strdup(name);
	if (!s) {
		c->oom = c->stopped = true;
		return NULL;
	}
	rs->files[rs->nfiles++] = s;
	return s;
}

static char *path_join(const char *dir, const char *rel)
{
	char *s;
	size_t n;

	if (rel[0] == '/' || !dir || !dir[0])
		return strdup(rel);
	n = strlen(dir);
	if (asprintf(&s, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", rel) <
	    0)
		return NULL;
	return s;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return NULL;
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

static int read_fd(int fd, char **bufp, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	struct stat st;
	ssize_t r;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > MAX_FILE_SIZE)
		return -EFBIG;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_FILE_SIZE) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return r;
		}
		if (r == 0)
			break;
		len += r;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

/*
 * Map a regular file read-only instead of copying it: a big set file is
 * then read from the page cache, with no buffer of its size to fault in.
 * -ENOTSUP when the file cannot be mapped (not regular, empty): read it.
 */
static int map_fd(int fd, char **mapp, size_t *lenp)
{
	struct stat st;
	void *m;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -ENOTSUP;
	if ((size_t)st.st_size > MAX_FILE_SIZE)
		return -EFBIG;
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
		 0);
	if (m == MAP_FAILED)
		return -ENOTSUP;
	*mapp = m;
	*lenp = st.st_size;
	return 0;
}

/* 0, -EINVAL (not a number) or -ERANGE (more than max). */
static int parse_num(const char *s, unsigned long max, bool hex,
		     unsigned long *out)
{
	unsigned long v = 0;
	unsigned int base = 10;
	bool big = false;

	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int dgt;

		if (*s >= '0' && *s <= '9')
			dgt = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			dgt = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			dgt = *s - 'A' + 10;
		else
			return -EINVAL;
		if (!big) {
			v = v * base + dgt;
			if (v > max)
				big = true;
		}
	}
	if (big)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * The common case of a set file line: a plain dotted quad (no leading
 * zeros, like inet_pton), optionally /0 to /32 (up to 3 digits), without
 * host bits, in [s, end).  Returns where the prefix ends, or NULL for
 * anything else, which prefix_parse() then parses (and reports) the
 * general way.
 */
static const char *prefix_parse_v4fast(const char *s, const char *end,
				       struct moat_prefix *out)
{
	uint32_t a = 0, mask;
	unsigned int plen = 32;

	for (int k = 0; k < 4; k++) {
		unsigned int v, nd = 0;
		const char *d;

		if (k && (s == end || *s++ != '.'))
			return NULL;
		for (v = 0, d = s; s < end && *s >= '0' && *s <= '9' && nd < 4;
		     s++, nd++)
			v = v * 10 + (unsigned int)(*s - '0');
		if (!nd || nd > 3 || v > 255 || (nd > 1 && *d == '0'))
			return NULL;
		a = a << 8 | v;
	}
	if (s < end && *s == '/') {
		unsigned int nd = 0;

		for (plen = 0, s++; s < end && *s >= '0' && *s <= '9' && nd < 4;
		     s++, nd++)
			plen = plen * 10 + (unsigned int)(*s - '0');
		if (!nd || nd > 3 || plen > 32)
			return NULL;
	}
	mask = plen ? ~0U << (32 - plen) : 0;
	if (a & ~mask)
		return NULL; /* host bits: the general path words the error */
	memset(out, 0, sizeof(*out));
	out->family = 4;
	out->plen = (uint8_t)plen;
	out->addr[0] = (uint8_t)(a >> 24);
	out->addr[1] = (uint8_t)(a >> 16);
	out->addr[2] = (uint8_t)(a >> 8);
	out->addr[3] = (uint8_t)a;
	return s;
}

/*
 * Parse an address or prefix.  On error, returns -1 with a message in err.
 * Used for rule text and set files alike.
 */
static int prefix_parse(const char *s, struct moat_prefix *out, char *err,
			size_t errlen)
{
	const char *slash;
	const char *e = s + strlen(s);
	size_t alen;
	unsigned int max, i;
	unsigned long plen;
	struct moat_prefix m;
	char a[64];

	if (prefix_parse_v4fast(s, e, out) == e)
		return 0;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	memset(out, 0, sizeof(*out));
	if (strchr(s, '%')) {
		snprintf(err, errlen, "zone ids are not supported ('%s')", s);
		return -1;
	}
	if (!alen || alen >= sizeof(a))
		goto bad;
	memcpy(a, s, alen);
	a[alen] = 0;
	if (memchr(a, ':', alen)) {
		if (inet_pton(AF_INET6, a, out->addr) != 1)
			goto bad;
		out->family = 6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, a, out->addr) != 1)
			goto bad;
		out->family = 4;
		max = 32;
	}
	out->plen = max;
	if (slash) {
		const char *q = slash + 1;

		if (!is_digits(q) || strlen(q) > 3) {
			snprintf(err, errlen,
				 "invalid prefix length '%s' in '%s'", q, s);
			return -1;
		}
		plen = strtoul(q, NULL, 10);
		if (plen > max) {
			snprintf(err, errlen,
				 "prefix length %lu out of range for IPv%d (0-%u)",
				 plen, out->family, max);
			return -1;
		}
		out->plen = plen;
	}
	m = *out;
	for (i = 0; i < max / 8; i++) {
		unsigned int bits = i * 8;

		if (bits >= m.plen)
			m.addr[i] = 0;
		else if (bits + 8 > m.plen)
			m.addr[i] &= (uint8_t)(0xff00 >> (m.plen - bits));
	}
	if (memcmp(m.addr, out->addr, sizeof(m.addr))) {
		char sug[INET6_ADDRSTRLEN + 8];

		moat_prefix_format(&m, sug, sizeof(sug));
		snprintf(err, errlen,
			 "%s has host bits set; did you mean %s?", s, sug);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid address '%s'", s);
	return -1;
}

/* Edit distance, for "did you mean" (short words only). */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int d[33], prev, tmp, i, j;
	size_t la = strlen(a), lb = strlen(b);

	if (la > 32 || lb > 32)
		return 99;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned int best = prev + (a[i - 1] != b[j - 1]);

			tmp = d[j];
			if (d[j] + 1 < best)
				best = d[j] + 1;
			if (d[j - 1] + 1 < best)
				best = d[j - 1] + 1;
			d[j] = best;
			prev = tmp;
		}
	}
	return d[lb];
}

static const char *suggest(const char *w, const char *const *kws)
{
	const char *best = NULL;
	unsigned int bd = 3, dist;

	for (; *kws; kws++) {
		dist = edit_distance(w, *kws);
		if (dist < bd && dist < strlen(*kws)) {
			bd = dist;
			best = *kws;
		}
	}
	return best;
}

static const char *const stmt_kws[] = {
	"pass", "drop", "redirect", "guard", "policy", "set", "include", "interface",
	"conntrack", NULL,
};

static const char *const matcher_kws[] = {
	"on",	 "inet",	 "inet6", "tcp",   "udp",   "sctp",
	"icmp",	 "icmpv6",	 "ipv6-icmp", "proto", "from", "to",
	"port",	 "flags",	 "icmp-type", "code", "vlan", "ethertype",
	"all",	 "any",		 "state", NULL,
};

static bool in_list(const char *w, const char *const *kws)
{
	for (; *kws; kws++)
		if (!strcmp(w, *kws))
			return true;
	return false;
}

static bool is_stmt_kw(const char *w)
{
	return in_list(w, stmt_kws);
}

/* ---- tokens ---- */

static struct moat_token *cur(struct parser *p)
{
	return &p->tk[p->ci];
}

static void lex(struct parser *p, struct moat_token *t)
{
	if (p->c->stopped) {
		t->kind = MOAT_TOK_EOF;
		t->text[0] = 0;
		t->len = 0;
		return;
	}
	moat_lex_next(&p->lx, t);
	if (t->kind == MOAT_TOK_ERROR)
		perr(p, &t->loc, "%s", t->text);
}

static struct moat_token *peek(struct parser *p)
{
	if (!p->have_peek) {
		lex(p, &p->tk[p->ci ^ 1]);
		p->have_peek = true;
	}
	return &p->tk[p->ci ^ 1];
}

static void text_add(struct parser *p, const char *s, size_t n)
{
	char *nt = grow(p->c, p->text, &p->tcap, p->tlen + n + 1, 1);

	if (!nt)
		return;
	p->text = nt;
	memcpy(p->text + p->tlen, s, n);
	p->tlen += n;
	p->text[p->tlen] = 0;
}

static void record(struct parser *p, const struct moat_token *t)
{
	if (!p->recording || t->kind == MOAT_TOK_EOF)
		return;
	if (t->kind == MOAT_TOK_NEWLINE) {
		p->pending_space = true;
		return;
	}
	if (p->tlen && (t->space_before || p->pending_space))
		text_add(p, " ", 1);
	text_add(p, p->lx.src + t->off, t->end - t->off);
	p->pending_space = false;
}

static void advance(struct parser *p)
{
	struct moat_token *t = cur(p);

	record(p, t);
	if (t->kind == MOAT_TOK_LBRACE)
		p->depth++;
	else if (t->kind == MOAT_TOK_RBRACE && p->depth > 0)
		p->depth--;
	if (p->have_peek) {
		p->ci ^= 1;
		p->have_peek = false;
	} else {
		lex(p, t);
	}
}

static bool at_end(struct parser *p)
{
	enum moat_tok_kind k = cur(p)->kind;

	return k == MOAT_TOK_NEWLINE || k == MOAT_TOK_SEMI ||
	       k == MOAT_TOK_EOF;
}

static bool at_word(struct parser *p, const char *w)
{
	return cur(p)->kind == MOAT_TOK_WORD && !strcmp(cur(p)->text, w);
}

/* Description of a token for messages. */
static const char *desc(struct parser *p, const struct moat_token *t)
{
	switch (t->kind) {
	case MOAT_TOK_WORD:
		snprintf(p->desc, sizeof(p->desc), "'%.*s'",
			 MOAT_LEX_MAX_WORD, t->text);
		break;
	case MOAT_TOK_STRING:
		snprintf(p->desc, sizeof(p->desc), "string \"%.200s\"",
			 t->text);
		break;
	default:
		snprintf(p->desc, sizeof(p->desc), "%s",
			 moat_tok_kind_name(t->kind));
		break;
	}
	return p->desc;
}

/* Report "expected X" at the current token (unless the lexer already
 * reported an error there). */
static int expected(struct parser *p, const char *what)
{
	struct moat_token *t = cur(p);

	if (t->kind != MOAT_TOK_ERROR)
		perr(p, &t->loc, "expected %s, got %s", what, desc(p, t));
	return -1;
}

static int end_stmt(struct parser *p)
{
	struct moat_token *t = cur(p);

	if (at_end(p))
		return 0;
	if (t->kind != MOAT_TOK_ERROR)
		perr(p, &t->loc, "unexpected %s; expected end of statement",
		     desc(p, t));
	return -1;
}

/* After an error: skip to the end of the statement (a ';' or a newline
 * outside { }).  A newline inside an unclosed { followed by a statement
 * keyword also ends it, so a missing '}' costs one statement, not the file. */
static void skip_stmt(struct parser *p)
{
	struct moat_token *t, *pk;

	p->recording = false;
	while (!p->c->stopped) {
		t = cur(p);
		switch (t->kind) {
		case MOAT_TOK_EOF:
			return;
		case MOAT_TOK_SEMI:
			if (p->depth == 0)
				return;
			advance(p);
			break;
		case MOAT_TOK_NEWLINE:
			if (p->depth == 0)
				return;
			pk = peek(p);
			if (pk->kind == MOAT_TOK_WORD && is_stmt_kw(pk->text)) {
				p->depth = 0;
				return;
			}
			advance(p);
			break;
		default:
			advance(p);
			break;
		}
	}
}

/*
 * Parse a { } list; cur is '{'.  elem() parses one element at the current
 * token and must consume at least one token.  A bad element is reported and
 * the list goes on, so every bad element is reported; the list then fails.
 * *count gets the number of elements.  An empty list is an error unless
 * allow_empty.
 */
typedef int (*elem_fn)(struct parser *p, void *ctx);

static int parse_list(struct parser *p, elem_fn elem, void *ctx,
		      bool allow_empty, size_t *count)
{
	struct moat_loc open = cur(p)->loc;
	struct moat_token *t, *pk;
	bool bad = false;
	size_t n = 0;

	advance(p);
	for (;;) {
		if (p->c->stopped)
			return -1;
		t = cur(p);
		switch (t->kind) {
		case MOAT_TOK_NEWLINE:
			pk = peek(p);
			if (pk->kind == MOAT_TOK_WORD && is_stmt_kw(pk->text)) {
				perr(p, &open, "unterminated '{'");
				return -1;
			}
			advance(p);
			continue;
		case MOAT_TOK_COMMA:
			advance(p);
			continue;
		case MOAT_TOK_RBRACE:
			advance(p);
			goto done;
		case MOAT_TOK_EOF:
			perr(p, &open, "unterminated '{'");
			return -1;
		case MOAT_TOK_LBRACE:
			perr(p, &t->loc,
			     "unexpected '{' in a list (lists do not nest)");
			return -1;
		case MOAT_TOK_SEMI:
			perr(p, &t->loc, "unexpected ';' in a list");
			return -1;
		case MOAT_TOK_ERROR:
			return -1;
		case MOAT_TOK_STRING:
			perr(p, &t->loc, "unexpected %s in a list",
			     desc(p, t));
			advance(p);
			bad = true;
			continue;
		case MOAT_TOK_WORD:
			if (elem(p, ctx) < 0)
				bad = true;
			n++;
			continue;
		}
	}
done:
	if (count)
		*count = n;
	if (!bad && !n && !allow_empty) {
		perr(p, &open, "empty list '{ }'");
		return -1;
	}
	return bad ? -1 : 0;
}

/* ---- rules ---- */

struct rb {
	struct moat_rule_ast r;
	size_t asrc, adst, asport, adport, asrcloc, adstloc;
	struct moat_loc *srcloc, *dstloc;
	bool has_on, has_fam, has_proto, has_from, has_to, has_flags;
	bool has_icmp, has_vlan, has_eth, has_all, has_sport, has_dport;
	bool has_state;
	struct moat_loc state_loc;
	struct moat_loc fam_loc, proto_loc, from_loc, to_loc, sport_loc,
		dport_loc, flags_loc, icmp_loc, icmp_name_loc, eth_loc,
		all_loc, vlan_loc, icmp4_loc, icmp6_loc;
	const char *fam_word;
	char icmp_word[MOAT_LEX_MAX_WORD + 1];
	size_t refs_start;
	size_t rule_idx;
	int dst; /* list being parsed: 0 = from, 1 = to */
};

static int check_ifname(struct parser *p, const struct moat_token *t,
			const char *after, char *out)
{
	const char *w = t->text;

	if (t->kind != MOAT_TOK_WORD) {
		char what[64];

		snprintf(what, sizeof(what), "an interface name after '%s'",
			 after);
		return expected(p, what);
	}
	if (is_stmt_kw(w) || in_list(w, matcher_kws)) {
		perr(p, &t->loc,
		     "expected an interface name after '%s', got keyword '%s'",
		     after, w);
		return -1;
	}
	if (t->len >= IF_NAMESIZE) {
		perr(p, &t->loc,
		     "interface name too long ('%s'; at most %d characters)",
		     w, IF_NAMESIZE - 1);
		return -1;
	}
	if (strchr(w, '/') || strchr(w, ':') || !strcmp(w, ".") ||
	    !strcmp(w, "..")) {
		perr(p, &t->loc, "invalid interface name '%s'", w);
		return -1;
	}
	strcpy(out, w);
	return 0;
}

static bool valid_set_name(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > MAX_SET_NAME)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      s[0] == '_'))
		return false;
	for (i = 1; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* One address element (not `any`, not a list) into the rule being built. */
static int addr_elem(struct parser *p, void *ctx)
{
	struct rb *b = ctx;
	struct moat_token *t = cur(p);
	struct moat_addr_list *l = b->dst ? &b->r.dst : &b->r.src;
	size_t *cap = b->dst ? &b->adst : &b->asrc;
	struct moat_loc **locs = b->dst ? &b->dstloc : &b->srcloc;
	size_t *lcap = b->dst ? &b->adstloc : &b->asrcloc;
	struct moat_addr a;
	struct moat_loc loc = t->loc;
	char err[512];
	void *nv;

	memset(&a, 0, sizeof(a));
	if (t->kind != MOAT_TOK_WORD) {
		expected(p, "an address");
		advance(p);
		return -1;
	}
	if (!strcmp(t->text, "any")) {
		perr(p, &t->loc, "'any' cannot be used in a list");
		advance(p);
		return -1;
	}
	if (t->text[0] == '!') {
		perr(p, &t->loc, "negation ('!') is not supported");
		advance(p);
		return -1;
	}
	if (t->text[0] == '@') {
		struct pending_ref *r;
		char *name;

		if (!valid_set_name(t->text + 1)) {
			perr(p, &t->loc,
			     "invalid set name '%s'; use letters, digits, '_' and '-'",
			     t->text + 1);
			advance(p);
			return -1;
		}
		nv = grow(p->c, p->c->refs, &p->c->arefs, p->c->nrefs + 1,
			  sizeof(*r));
		if (!nv)
			return -1;
		p->c->refs = nv;
		name = strdup(t->text + 1);
		if (!name) {
			p->c->oom = p->c->stopped = true;
			return -1;
		}
		r = &p->c->refs[p->c->nrefs++];
		r->rule = b->rule_idx;
		r->dst = b->dst;
		r->idx = l->n;
		r->name = name;
		r->loc = t->loc;
		a.kind = MOAT_ADDR_SET;
	} else if (prefix_parse(t->text, &a.prefix, err, sizeof(err))) {
		if (in_list(t->text, matcher_kws) || is_stmt_kw(t->text))
			perr(p, &t->loc,
			     "expected an address, prefix, @set or 'any', got keyword '%s'",
			     t->text);
		else
			perr(p, &t->loc, "%s", err);
		advance(p);
		return -1;
	} else {
		a.kind = MOAT_ADDR_PREFIX;
	}
	advance(p);
	nv = grow(p->c, l->v, cap, l->n + 1, sizeof(a));
	if (!nv)
		return -1;
	l->v = nv;
	nv = grow(p->c, *locs, lcap, l->n + 1, sizeof(loc));
	if (!nv)
		return -1;
	*locs = nv;
	(*locs)[l->n] = loc;
	l->v[l->n++] = a;
	return 0;
}

static int parse_addrs(struct parser *p, struct rb *b)
{
	struct moat_token *t = cur(p);

	if (t->kind == MOAT_TOK_LBRACE)
		return parse_list(p, addr_elem, b, false, NULL);
	if (t->kind != MOAT_TOK_WORD)
		return expected(p, "an address, prefix, @set or 'any'");
	if (!strcmp(t->text, "any")) {
		advance(p);
		return 0;
	}
	return addr_elem(p, b);
}

struct port_ctx {
	struct parser *p;
	struct moat_port_list *l;
	size_t *cap;
};

static int port_elem(struct parser *p, void *ctx)
{
	struct port_ctx *pc = ctx;
	struct moat_token *t = cur(p);
	struct moat_port_range r;
	unsigned long lo, hi;
	const char *w = t->text;
	const char *dash;
	int v, e1, e2;
	void *nv;

	if (t->kind != MOAT_TOK_WORD) {
		expected(p, "a port");
		advance(p);
		return -1;
	}
	v = moat_name_lookup(moat_port_names, w);
	dash = strchr(w, '-');
	if (v >= 0) {
		lo = hi = v;
	} else if (dash && dash != w && dash[1]) {
		char a[MOAT_LEX_MAX_WORD + 1];

		memcpy(a, w, dash - w);
		a[dash - w] = 0;
		e1 = parse_num(a, 65535, false, &lo);
		e2 = parse_num(dash + 1, 65535, false, &hi);
		if (e1 == -EINVAL || e2 == -EINVAL)
			goto unknown;
		if (e1 == -ERANGE || e2 == -ERANGE) {
			perr(p, &t->loc, "port %s out of range (0-65535)",
			     e1 == -ERANGE ? a : dash + 1);
			goto fail;
		}
		if (lo > hi) {
			perr(p, &t->loc,
			     "port range %s is reversed (%lu is greater than %lu)",
			     w, lo, hi);
			goto fail;
		}
	} else {
		e1 = parse_num(w, 65535, false, &lo);
		if (e1 == -EINVAL)
			goto unknown;
		if (e1 == -ERANGE) {
			perr(p, &t->loc, "port %s out of range (0-65535)", w);
			goto fail;
		}
		hi = lo;
	}
	advance(p);
	r.lo = lo;
	r.hi = hi;
	nv = grow(p->c, pc->l->v, pc->cap, pc->l->n + 1, sizeof(r));
	if (!nv)
		return -1;
	pc->l->v = nv;
	pc->l->v[pc->l->n++] = r;
	return 0;
unknown:
	if (in_list(w, matcher_kws) || is_stmt_kw(w))
		perr(p, &t->loc, "expected a port, got keyword '%s'", w);
	else
		perr(p, &t->loc,
		     "unknown port '%s'; expected a number (0-65535), a range N-M or a service name (ssh, http, https, domain, ...)",
		     w);
fail:
	advance(p);
	return -1;
}

static int parse_ports(struct parser *p, struct moat_port_list *l,
		       size_t *cap)
{
	struct port_ctx pc = { p, l, cap };
	struct moat_token *t = cur(p);

	if (t->kind == MOAT_TOK_LBRACE)
		return parse_list(p, port_elem, &pc, false, NULL);
	if (t->kind != MOAT_TOK_WORD)
		return expected(p, "a port after 'port'");
	return port_elem(p, &pc);
}

static int add_proto(struct parser *p, struct rb *b, unsigned int v,
		     const struct moat_loc *loc)
{
	size_t i;

	if (v == 1 && !b->icmp4_loc.line)
		b->icmp4_loc = *loc;
	if (v == 58 && !b->icmp6_loc.line)
		b->icmp6_loc = *loc;
	for (i = 0; i < b->r.nprotos; i++)
		if (b->r.protos[i] == v)
			return 0;
	if (b->r.nprotos >= MOAT_PROTO_MAX) {
		perr(p, loc, "too many protocols in one rule (at most %d)",
		     MOAT_PROTO_MAX);
		return -1;
	}
	b->r.protos[b->r.nprotos++] = v;
	return 0;
}

static int bare_proto(const char *w)
{
	if (!strcmp(w, "tcp"))
		return 6;
	if (!strcmp(w, "udp"))
		return 17;
	if (!strcmp(w, "sctp"))
		return 132;
	if (!strcmp(w, "icmp"))
		return 1;
	if (!strcmp(w, "icmpv6") || !strcmp(w, "ipv6-icmp"))
		return 58;
	return -1;
}

/* `proto N`, `proto NAME`, or a bare protocol keyword; in a list also a
 * bare name of the protocol table or a bare number. */
static int proto_elem_at(struct parser *p, struct rb *b, bool in_list_)
{
	struct moat_token *t = cur(p);
	struct moat_loc loc = t->loc;
	unsigned long v;
	int e, bv;

	if (t->kind != MOAT_TOK_WORD) {
		expected(p, "a protocol");
		advance(p);
		return -1;
	}
	bv = bare_proto(t->text);
	if (bv >= 0) {
		advance(p);
		return add_proto(p, b, bv, &loc);
	}
	if (!strcmp(t->text, "proto")) {
		advance(p);
		t = cur(p);
		if (t->kind != MOAT_TOK_WORD) {
			if (t->kind == MOAT_TOK_LBRACE)
				perr(p, &t->loc,
				     "write a protocol list without 'proto': { tcp, udp }");
			else
				expected(p, "a protocol number or name after 'proto'");
			return -1;
		}
	} else if (!in_list_) {
		expected(p, "a protocol");
		advance(p);
		return -1;
	}
	loc = t->loc;
	e = parse_num(t->text, 255, false, &v);
	if (e == -ERANGE) {
		perr(p, &t->loc, "protocol %s out of range (0-255)", t->text);
		advance(p);
		return -1;
	}
	if (e) {
		bv = moat_name_lookup(moat_proto_names, t->text);
		if (bv < 0) {
			perr(p, &t->loc,
			     "unknown protocol '%s'; expected a number (0-255) or a name (tcp, udp, sctp, icmp, icmpv6, gre, esp, ah, ospf, ...)",
			     t->text);
			advance(p);
			return -1;
		}
		v = bv;
	}
	advance(p);
	return add_proto(p, b, v, &loc);
}

static int proto_list_elem(struct parser *p, void *ctx)
{
	return proto_elem_at(p, ctx, true);
}

static int parse_flags_word(struct parser *p, const struct moat_token *t,
			    uint8_t *flags, uint8_t *mask)
{
	static const char letters[] = "FSRPAUEW";
	const char *w = t->text, *s;
	uint8_t *out = flags;
	bool slash = false;

	*flags = 0;
	*mask = 0;
	for (s = w; *s; s++) {
		const char *l;

		if (*s == '/') {
			if (slash)
				goto bad;
			slash = true;
			out = mask;
			continue;
		}
		l = strchr(letters, *s);
		if (!l) {
			perr(p, &t->loc,
			     "unknown tcp flag '%c' in '%s'; expected letters F, S, R, P, A, U, E, W",
			     *s, w);
			return -1;
		}
		*out |= 1u << (l - letters);
	}
	if (!slash) {
		if (!*flags)
			goto bad;
		*mask = 0xff;
	} else if (!*mask) {
		perr(p, &t->loc, "empty tcp flags mask in '%s'", w);
		return -1;
	}
	if (*flags & ~*mask) {
		perr(p, &t->loc,
		     "flags '%s' can never match: every flag set must also be in the mask",
		     w);
		return -1;
	}
	return 0;
bad:
	perr(p, &t->loc, "invalid tcp flags '%s'; expected F/MASK (e.g. 'S/SA')",
	     w);
	return -1;
}

static int parse_ethertype(struct parser *p, struct rb *b)
{
	struct moat_token *t = cur(p);
	unsigned long v;
	int e, nv;

	if (t->kind != MOAT_TOK_WORD)
		return expected(p, "an ethertype after 'ethertype'");
	e = parse_num(t->text, 0xffff, true, &v);
	if (e == -ERANGE) {
		perr(p, &t->loc, "ethertype %s out of range (0x0600-0xffff)",
		     t->text);
		return -1;
	}
	if (e) {
		nv = moat_name_lookup(moat_ethertype_names, t->text);
		if (nv < 0) {
			if (!strcmp(t->text, "ip") || !strcmp(t->text, "ipv4"))
				v = 0x0800;
			else if (!strcmp(t->text, "ipv6"))
				v = 0x86dd;
			else {
				perr(p, &t->loc,
				     "unknown ethertype '%s'; expected a number (e.g. 0x0806) or a name (arp, rarp, lldp, eapol, ...)",
				     t->text);
				return -1;
			}
		} else {
			v = nv;
		}
	}
	if (v == 0x0800 || v == 0x86dd) {
		perr(p, &t->loc,
		     "ethertype 0x%04lx is %s; use '%s' to match %s packets",
		     v, v == 0x0800 ? "IPv4" : "IPv6",
		     v == 0x0800 ? "inet" : "inet6",
		     v == 0x0800 ? "IPv4" : "IPv6");
		return -1;
	}
	if (v == 0x8100 || v == 0x88a8 || v == 0x9100) {
		perr(p, &t->loc,
		     "ethertype 0x%04lx is a VLAN tag; use 'vlan' to match tagged frames",
		     v);
		return -1;
	}
	if (v < 0x0600) {
		perr(p, &t->loc, "ethertype %s out of range (0x0600-0xffff)",
		     t->text);
		return -1;
	}
	b->r.ethertype = v;
	advance(p);
	return 0;
}

static int parse_small(struct parser *p, const char *what, unsigned long max,
		       unsigned long *v)
{
	struct moat_token *t = cur(p);
	char buf[96];
	int e;

	if (t->kind != MOAT_TOK_WORD) {
		snprintf(buf, sizeof(buf), "a number after '%s'", what);
		return expected(p, buf);
	}
	e = parse_num(t->text, max, false, v);
	if (e == -ERANGE) {
		perr(p, &t->loc, "%s %s out of range (0-%lu)", what, t->text,
		     max);
		return -1;
	}
	if (e) {
		perr(p, &t->loc, "invalid %s '%s'; expected a number (0-%lu)",
		     what, t->text, max);
		return -1;
	}
	advance(p);
	return 0;
}

static void unknown_keyword(struct parser *p, const struct moat_token *t)
{
	const char *w = t->text, *s;
	struct moat_prefix pf;
	char err[512];

	if (!prefix_parse(w, &pf, err, sizeof(err)) ||
	    strstr(err, "host bits") || strstr(err, "zone ids")) {
		perr(p, &t->loc,
		     "unexpected address '%s'; write 'from %s' or 'to %s'", w,
		     w, w);
		return;
	}
	if (w[0] == '@') {
		perr(p, &t->loc,
		     "unexpected set '%s'; write 'from %s' or 'to %s'", w, w,
		     w);
		return;
	}
	if (moat_name_lookup(moat_proto_names, w) >= 0) {
		perr(p, &t->loc,
		     "unknown keyword '%s'; did you mean 'proto %s'?", w, w);
		return;
	}
	s = suggest(w, matcher_kws);
	perr(p, &t->loc,
	     "unknown keyword '%s'; expected 'from', 'to', 'on', 'inet', 'inet6', 'tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'proto', 'flags', 'icmp-type', 'vlan', 'ethertype' or 'all'%s%s%s",
	     w, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
}

static int dup_matcher(struct parser *p, const struct moat_token *t)
{
	perr(p, &t->loc, "duplicate '%s' in rule", t->text);
	return -1;
}

static void rb_free(struct rb *b)
{
	free(b->r.text);
	free(b->r.src.v);
	free(b->r.dst.v);
	free(b->r.sport.v);
	free(b->r.dport.v);
	free(b->srcloc);
	free(b->dstloc);
}

static int cmp_u8(const void *a, const void *b)
{
	return *(const uint8_t *)a - *(const uint8_t *)b;
}

static int cmp_range(const void *a, const void *b)
{
	const struct moat_port_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static void ports_normalise(struct moat_port_list *l)
{
	size_t i, o = 0;

	if (l->n < 2)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_range);
	for (i = 1; i < l->n; i++) {
		if ((unsigned int)l->v[i].lo <= (unsigned int)l->v[o].hi + 1) {
			if (l->v[i].hi > l->v[o].hi)
				l->v[o].hi = l->v[i].hi;
		} else {
			l->v[++o] = l->v[i];
		}
	}
	l->n = o + 1;
}

static bool protos_only(const struct moat_rule_ast *r, uint8_t v)
{
	size_t i;

	if (!r->nprotos)
		return false;
	for (i = 0; i < r->nprotos; i++)
		if (r->protos[i] != v)
			return false;
	return true;
}

static void list_families(const struct moat_addr_list *l, bool *v4, bool *v6,
			  bool *sets)
{
	size_t i;

	*v4 = *v6 = *sets = false;
	for (i = 0; i < l->n; i++) {
		if (l->v[i].kind == MOAT_ADDR_SET)
			*sets = true;
		else if (l->v[i].prefix.family == 4)
			*v4 = true;
		else
			*v6 = true;
	}
}

/* Checks that need the whole rule.  Reports every problem; -1 if any. */
static int rule_check(struct parser *p, struct rb *b)
{
	struct moat_rule_ast *r = &b->r;
	const char *famw = b->fam_word;
	bool bad = false;
	size_t i;

	if (b->has_all && (b->has_fam || b->has_proto || b->has_from ||
			   b->has_to || b->has_flags || b->has_icmp ||
			   b->has_vlan || b->has_eth || b->has_state)) {
		perr(p, &b->all_loc,
		     "'all' cannot be combined with other matchers");
		bad = true;
	}
	if (!b->has_all && !(b->has_fam || b->has_proto || b->has_from ||
			     b->has_to || b->has_flags || b->has_icmp ||
			     b->has_vlan || b->has_eth || b->has_state)) {
		perr(p, &r->loc,
		     "rule has no matchers; write '%s%s%s all' to match every packet",
		     r->action == MOAT_ACT_DROP ? "drop" :
		     r->action == MOAT_ACT_REDIRECT ? "redirect IFACE" :
		     r->action == MOAT_RULE_GUARD ? "guard" :
						      "pass",
		     b->has_on ? " on " : "", r->on_if);
		return -1;
	}
	if (b->has_eth) {
		const char *what = b->has_fam   ? b->fam_word :
				   b->has_proto ? "protocol" :
				   b->has_from  ? "from" :
				   b->has_to	? "to" :
				   b->has_flags ? "flags" :
				   b->has_icmp	? "icmp-type" :
				   b->has_state ? "state" :
						  NULL;

		if (what) {
			perr(p, &b->eth_loc,
			     "'ethertype' cannot be combined with IP matchers ('%s')",
			     what);
			return -1;
		}
		return bad ? -1 : 0;
	}

	/* family and protocols */
	for (i = 0; i < r->nprotos; i++) {
		if (r->protos[i] == 1 && r->family == 6) {
			perr(p, &b->icmp4_loc,
			     "'icmp' is IPv4 only; use 'icmpv6' with inet6");
			bad = true;
		}
		if (r->protos[i] == 58 && r->family == 4) {
			perr(p, &b->icmp6_loc,
			     "'icmpv6' is IPv6 only; use 'icmp' with inet");
			bad = true;
		}
	}
	if (!r->family && protos_only(r, 1)) {
		r->family = 4;
		famw = "icmp";
	} else if (!r->family && protos_only(r, 58)) {
		r->family = 6;
		famw = "icmpv6";
	}

	/* addresses against the family */
	if (r->family) {
		for (i = 0; i < r->src.n + r->dst.n; i++) {
			bool d = i >= r->src.n;
			size_t k = d ? i - r->src.n : i;
			const struct moat_addr *a = d ? &r->dst.v[k] :
							&r->src.v[k];

			if (a->kind != MOAT_ADDR_PREFIX ||
			    a->prefix.family == r->family)
				continue;
			perr(p, d ? &b->dstloc[k] : &b->srcloc[k],
			     "address family mismatch: %s rule with IPv%d address",
			     famw, a->prefix.family);
			bad = true;
		}
	} else if (r->src.n && r->dst.n) {
		bool s4, s6, ss, d4, d6, ds;

		list_families(&r->src, &s4, &s6, &ss);
		list_families(&r->dst, &d4, &d6, &ds);
		if (!ss && !ds && ((s4 && !s6 && d6 && !d4) ||
				   (s6 && !s4 && d4 && !d6))) {
			perr(p, &b->dstloc[0],
			     "address family mismatch: 'from' is IPv%d only and 'to' is IPv%d only",
			     s4 ? 4 : 6, d4 ? 4 : 6);
			bad = true;
		}
	}

	/* L4 matchers against the protocols */
	if (b->has_sport || b->has_dport) {
		for (i = 0; i < r->nprotos; i++) {
			uint8_t v = r->protos[i];

			if (v != 6 && v != 17 && v != 132) {
				perr(p, b->has_sport ? &b->sport_loc :
						       &b->dport_loc,
				     "'port' needs protocol tcp, udp or sctp");
				bad = true;
				break;
			}
		}
	}
	if (b->has_flags) {
		if (!r->nprotos) {
			r->protos[0] = 6;
			r->nprotos = 1;
		} else if (!protos_only(r, 6)) {
			perr(p, &b->flags_loc, "'flags' needs protocol tcp");
			bad = true;
		}
	}
	if (b->has_icmp) {
		const struct moat_name *tbl;
		unsigned long v;
		int e, nv;

		if (r->nprotos != 1 ||
		    (r->protos[0] != 1 && r->protos[0] != 58)) {
			perr(p, &b->icmp_loc,
			     "'icmp-type' needs protocol icmp or icmpv6");
			return -1;
		}
		tbl = r->protos[0] == 1 ? moat_icmp4_names : moat_icmp6_names;
		e = parse_num(b->icmp_word, 255, false, &v);
		if (e == -ERANGE) {
			perr(p, &b->icmp_name_loc,
			     "icmp-type %s out of range (0-255)", b->icmp_word);
			return -1;
		}
		if (e) {
			nv = moat_name_lookup(tbl, b->icmp_word);
			if (nv < 0) {
				perr(p, &b->icmp_name_loc,
				     "unknown %s type '%s'; expected a number (0-255) or a name (%s)",
				     r->protos[0] == 1 ? "icmp" : "icmpv6",
				     b->icmp_word,
				     r->protos[0] == 1 ?
					     "echo-request, echo-reply, unreach, time-exceeded, ..." :
					     "echo-request, echo-reply, unreach, packet-too-big, time-exceeded, neighbour-solicitation, ...");
				return -1;
			}
			v = nv;
		}
		r->icmp_type = v;
	}
	return bad ? -1 : 0;
}

/* ---- connection tracking: `state S` and `conntrack { }` ---- */

static const char *const state_names[MOAT_CT_NSTATES] = {
	[MOAT_CT_NEW] = "new",
	[MOAT_CT_ESTABLISHED] = "established",
	[MOAT_CT_RELATED] = "related",
	[MOAT_CT_INVALID] = "invalid",
};

static int state_elem(struct parser *p, void *ctx)
{
	struct rb *b = ctx;
	struct moat_token *t = cur(p);
	int s;

	if (t->kind == MOAT_TOK_WORD)
		for (s = MOAT_CT_NEW; s < MOAT_CT_NSTATES; s++)
			if (!strcmp(t->text, state_names[s])) {
				b->r.ct_states |= 1u << s;
				advance(p);
				return 0;
			}
	if (t->kind == MOAT_TOK_WORD)
		perr(p, &t->loc,
		     "unknown state '%s'; expected 'new', 'established', 'related' or 'invalid'",
		     t->text);
	else
		expected(p, "a state ('new', 'established', 'related' or 'invalid')");
	advance(p);
	return -1;
}

static int parse_states(struct parser *p, struct rb *b)
{
	struct moat_token *t = cur(p);

	if (t->kind == MOAT_TOK_LBRACE)
		return parse_list(p, state_elem, b, false, NULL);
	if (t->kind != MOAT_TOK_WORD)
		return expected(p, "a state after 'state' ('new', 'established', 'related', 'invalid' or a { } list)");
	return state_elem(p, b);
}

/* the timeouts' names (include/moat.h), then "max": index MOAT_CT_T_MAX */
static const char *ct_key(unsigned int k)
{
	return k < MOAT_CT_T_MAX ? moat_ct_timeout_names[k] : "max";
}

/* `conntrack { max N; NAME SECONDS; ... }` (';' or newlines between) */
static int parse_conntrack(struct parser *p)
{
	struct moat_ct_settings *cs = &p->c->rs->conntrack;
	struct moat_loc loc = cur(p)->loc, open;
	bool seen[MOAT_CT_T_MAX + 1] = { false }, bad = false;
	struct moat_token *t;

	if (cs->given) {
		perr(p, &loc, "duplicate 'conntrack' (first at %s:%u)",
		     cs->loc.file, cs->loc.line);
		return -1;
	}
	advance(p);
	t = cur(p);
	if (t->kind != MOAT_TOK_LBRACE)
		return expected(p, "'{' after 'conntrack'");
	open = t->loc;
	advance(p); /* depth 1: a ';' inside does not end the statement */
	for (;;) {
		unsigned long v, max;
		const char *name;
		char what[64];
		int k;

		if (p->c->stopped)
			return -1;
		t = cur(p);
		if (t->kind == MOAT_TOK_NEWLINE &&
		    peek(p)->kind == MOAT_TOK_WORD && is_stmt_kw(peek(p)->text)) {
			perr(p, &open, "unterminated '{'");
			return -1;
		}
		if (t->kind == MOAT_TOK_NEWLINE || t->kind == MOAT_TOK_SEMI) {
			advance(p);
			continue;
		}
		if (t->kind == MOAT_TOK_RBRACE) {
			advance(p);
			break;
		}
		if (t->kind == MOAT_TOK_EOF) {
			perr(p, &open, "unterminated '{'");
			return -1;
		}
		if (t->kind != MOAT_TOK_WORD) {
			expected(p, "a conntrack setting");
			return -1;
		}
		for (k = 0; k <= MOAT_CT_T_MAX; k++)
			if (!strcmp(t->text, ct_key(k)))
				break;
		if (k > MOAT_CT_T_MAX) {
			const char *keys[MOAT_CT_T_MAX + 2] = { NULL };
			const char *s;

			for (unsigned int i = 0; i <= MOAT_CT_T_MAX; i++)
				keys[i] = ct_key(i);
			s = suggest(t->text, keys);

			perr(p, &t->loc,
			     "unknown conntrack setting '%s'; expected 'max', 'tcp-syn', 'tcp-established', 'tcp-fin', 'tcp-time-wait', 'tcp-close', 'udp', 'udp-stream', 'icmp' or 'generic'%s%s%s",
			     t->text, s ? "; did you mean '" : "", s ? s : "",
			     s ? "'?" : "");
			advance(p);
			if (cur(p)->kind == MOAT_TOK_WORD)
				advance(p);
			bad = true;
			continue;
		}
		name = ct_key(k);
		if (seen[k]) {
			perr(p, &t->loc, "duplicate conntrack setting '%s'",
			     name);
			bad = true;
		}
		seen[k] = true;
		advance(p);
		t = cur(p);
		max = k == MOAT_CT_T_MAX ? MOAT_CT_MAX_MAX : MOAT_CT_MAX_TIMEOUT;
		if (t->kind != MOAT_TOK_WORD) {
			snprintf(what, sizeof(what), "a number after '%s'",
				 name);
			return expected(p, what);
		}
		if (parse_num(t->text, max, false, &v) ||
		    v < (k == MOAT_CT_T_MAX ? MOAT_CT_MIN_MAX : 1)) {
			if (k == MOAT_CT_T_MAX)
				perr(p, &t->loc,
				     "conntrack max '%s' out of range (%u-%u flows)",
				     t->text, MOAT_CT_MIN_MAX, MOAT_CT_MAX_MAX);
			else
				perr(p, &t->loc,
				     "conntrack timeout %s '%s' out of range (1-%u seconds)",
				     name, t->text, MOAT_CT_MAX_TIMEOUT);
			bad = true;
		} else if (k == MOAT_CT_T_MAX) {
			cs->max = v;
		} else {
			cs->timeout[k] = v;
		}
		advance(p);
	}
	p->depth = 0;
	if (end_stmt(p))
		return -1;
	cs->given = true;
	cs->loc = loc;
	return bad ? -2 : 0; /* errors reported; the statement is complete */
}

static int parse_rule(struct parser *p)
{
	struct pctx *c = p->c;
	struct moat_ruleset *rs = c->rs;
	struct moat_token *t = cur(p);
	struct rb b;
	const char *w;
	unsigned long v;
	void *nv;
	int ret = -1;

	memset(&b, 0, sizeof(b));
	b.r.icmp_type = -1;
	b.r.icmp_code = -1;
	b.r.vlan = -1;
	b.r.loc = t->loc;
	b.refs_start = c->nrefs;
	b.rule_idx = rs->nrules;
	b.fam_word = "";
	b.r.action = !strcmp(t->text, "drop")	  ? MOAT_ACT_DROP :
		     !strcmp(t->text, "redirect") ? MOAT_ACT_REDIRECT :
		     !strcmp(t->text, "guard")	  ? MOAT_RULE_GUARD :
						    MOAT_ACT_PASS;
	p->recording = true;
	p->pending_space = false;
	p->tlen = 0;
	advance(p);

	if (b.r.action == MOAT_ACT_REDIRECT) {
		b.r.redirect_loc = cur(p)->loc;
		if (check_ifname(p, cur(p), "redirect", b.r.redirect_if))
			goto out;
		advance(p);
	}

	for (;;) {
		t = cur(p);
		if (t->kind == MOAT_TOK_LBRACE) {
			if (b.has_proto) {
				perr(p, &t->loc,
				     "duplicate protocol matcher; use one list");
				goto out;
			}
			b.has_proto = true;
			b.proto_loc = t->loc;
			if (parse_list(p, proto_list_elem, &b, false, NULL))
				goto out;
			continue;
		}
		if (t->kind != MOAT_TOK_WORD)
			break;
		w = t->text;
		if (!strcmp(w, "on")) {
			if (b.has_on)
				goto dup;
			b.has_on = true;
			advance(p);
			b.r.on_loc = cur(p)->loc;
			if (check_ifname(p, cur(p), "on", b.r.on_if))
				goto out;
			advance(p);
		} else if (!strcmp(w, "inet") || !strcmp(w, "inet6")) {
			if (b.has_fam) {
				if (strcmp(w, b.fam_word))
					perr(p, &t->loc,
					     "'%s' conflicts with '%s'", w,
					     b.fam_word);
				else
					dup_matcher(p, t);
				goto out;
			}
			b.has_fam = true;
			b.fam_loc = t->loc;
			b.r.family = w[4] == '6' ? 6 : 4;
			b.fam_word = b.r.family == 6 ? "inet6" : "inet";
			advance(p);
		} else if (bare_proto(w) >= 0 || !strcmp(w, "proto")) {
			if (b.has_proto) {
				perr(p, &t->loc,
				     "duplicate protocol matcher; use a list: { tcp, udp }");
				goto out;
			}
			b.has_proto = true;
			b.proto_loc = t->loc;
			if (!strcmp(w, "proto") &&
			    peek(p)->kind == MOAT_TOK_LBRACE) {
				advance(p);
				if (parse_list(p, proto_list_elem, &b, false,
					       NULL))
					goto out;
				continue;
			}
			if (proto_elem_at(p, &b, false))
				goto out;
		} else if (!strcmp(w, "from") || !strcmp(w, "to")) {
			bool d = w[0] == 't';

			if (d ? b.has_to : b.has_from)
				goto dup;
			if (d) {
				b.has_to = true;
				b.to_loc = t->loc;
			} else {
				b.has_from = true;
				b.from_loc = t->loc;
			}
			b.dst = d;
			advance(p);
			if (!at_word(p, "port") && parse_addrs(p, &b))
				goto out;
			if (at_word(p, "port")) {
				if (d) {
					b.has_dport = true;
					b.dport_loc = cur(p)->loc;
				} else {
					b.has_sport = true;
					b.sport_loc = cur(p)->loc;
				}
				advance(p);
				if (parse_ports(p, d ? &b.r.dport : &b.r.sport,
						d ? &b.adport : &b.asport))
					goto out;
			}
		} else if (!strcmp(w, "port")) {
			perr(p, &t->loc,
			     "'port' must follow 'from' or 'to' (e.g. 'to port 22')");
			goto out;
		} else if (!strcmp(w, "flags")) {
			if (b.has_flags)
				goto dup;
			b.has_flags = true;
			b.flags_loc = t->loc;
			advance(p);
			if (cur(p)->kind != MOAT_TOK_WORD) {
				expected(p, "tcp flags after 'flags' (e.g. 'flags S/SA')");
				goto out;
			}
			if (parse_flags_word(p, cur(p), &b.r.flags,
					     &b.r.flags_mask))
				goto out;
			b.r.has_flags = true;
			advance(p);
		} else if (!strcmp(w, "icmp-type")) {
			if (b.has_icmp)
				goto dup;
			b.has_icmp = true;
			b.icmp_loc = t->loc;
			advance(p);
			t = cur(p);
			if (t->kind != MOAT_TOK_WORD) {
				expected(p, "an icmp type after 'icmp-type'");
				goto out;
			}
			b.icmp_name_loc = t->loc;
			strcpy(b.icmp_word, t->text);
			advance(p);
			if (at_word(p, "code")) {
				advance(p);
				if (parse_small(p, "code", 255, &v))
					goto out;
				b.r.icmp_code = v;
			}
		} else if (!strcmp(w, "code")) {
			perr(p, &t->loc, "'code' must follow 'icmp-type N'");
			goto out;
		} else if (!strcmp(w, "vlan")) {
			if (b.has_vlan)
				goto dup;
			b.has_vlan = true;
			b.vlan_loc = t->loc;
			advance(p);
			if (parse_small(p, "vlan", 4095, &v))
				goto out;
			b.r.vlan = v;
		} else if (!strcmp(w, "ethertype")) {
			if (b.has_eth)
				goto dup;
			b.has_eth = true;
			b.eth_loc = t->loc;
			advance(p);
			if (parse_ethertype(p, &b))
				goto out;
		} else if (!strcmp(w, "all")) {
			if (b.has_all)
				goto dup;
			b.has_all = true;
			b.all_loc = t->loc;
			advance(p);
		} else if (!strcmp(w, "state")) {
			if (b.has_state)
				goto dup;
			b.has_state = true;
			b.state_loc = t->loc;
			advance(p);
			if (parse_states(p, &b))
				goto out;
		} else if (!strcmp(w, "any")) {
			perr(p, &t->loc,
			     "'any' must follow 'from' or 'to'; use 'all' to match every packet");
			goto out;
		} else {
			unknown_keyword(p, t);
			goto out;
		}
	}
	if (end_stmt(p))
		goto out;
	p->recording = false;
	if (rule_check(p, &b))
		goto out;

	/* normalise: protocols sorted, ports sorted and merged (addresses
	 * are sorted once set references are resolved) */
	qsort(b.r.protos, b.r.nprotos, 1, cmp_u8);
	ports_normalise(&b.r.sport);
	ports_normalise(&b.r.dport);

	nv = grow(c, rs->rules, &c->arules, rs->nrules + 1, sizeof(b.r));
	if (!nv)
		goto out;
	rs->rules = nv;
	b.r.text = p->text ? p->text : strdup("");
	p->text = NULL;
	p->tlen = p->tcap = 0;
	rs->rules[rs->nrules++] = b.r;
	memset(&b.r, 0, sizeof(b.r));
	ret = 0;
out:
	p->recording = false;
	if (ret) {
		size_t i;

		for (i = b.refs_start; i < c->nrefs; i++)
			free(c->refs[i].name);
		c->nrefs = b.refs_start;
	}
	rb_free(&b);
	return ret;
dup:
	dup_matcher(p, t);
	goto out;
}

/* ---- statements ---- */

static int parse_policy(struct parser *p)
{
	struct pctx *c = p->c;
	struct moat_loc loc = cur(p)->loc;
	struct moat_token *t;

	advance(p);
	t = cur(p);
	if (t->kind != MOAT_TOK_WORD ||
	    (strcmp(t->text, "pass") && strcmp(t->text, "drop"))) {
		if (t->kind == MOAT_TOK_WORD)
			perr(p, &t->loc,
			     "unknown policy '%s'; expected 'pass' or 'drop'",
			     t->text);
		else
			expected(p, "'pass' or 'drop' after 'policy'");
		return -1;
	}
	if (c->have_policy) {
		perr(p, &loc, "duplicate 'policy' (first set at %s:%u)",
		     c->policy_loc.file, c->policy_loc.line);
		return -1;
	}
	c->have_policy = true;
	c->policy_loc = loc;
	c->rs->policy = !strcmp(t->text, "drop") ? MOAT_ACT_DROP :
						   MOAT_ACT_PASS;
	advance(p);
	return end_stmt(p);
}

static int set_file_parse(const char *path, const struct moat_loc *open_loc,
			  struct moat_prefix **elems, size_t *n,
			  struct moat_diags *d, size_t max_errors,
			  bool *capped);

struct set_ctx {
	struct moat_set *s;
	size_t cap;
};

static int set_elem(struct parser *p, void *ctx)
{
	struct set_ctx *sc = ctx;
	struct moat_token *t = cur(p);
	struct moat_prefix pf;
	char err[512];
	void *nv;

	if (!strcmp(t->text, "any")) {
		perr(p, &t->loc, "'any' cannot be used in a set");
		goto fail;
	}
	if (t->text[0] == '@') {
		perr(p, &t->loc, "sets cannot contain other sets ('%s')",
		     t->text);
		goto fail;
	}
	if (t->text[0] == '!') {
		perr(p, &t->loc, "negation ('!') is not supported");
		goto fail;
	}
	if (prefix_parse(t->text, &pf, err, sizeof(err))) {
		perr(p, &t->loc, "%s", err);
		goto fail;
	}
	advance(p);
	nv = grow(p->c, sc->s->elems, &sc->cap, sc->s->n + 1, sizeof(pf));
	if (!nv)
		return -1;
	sc->s->elems = nv;
	sc->s->elems[sc->s->n++] = pf;
	return 0;
fail:
	advance(p);
	return -1;
}

static int parse_set(struct parser *p)
{
	struct pctx *c = p->c;
	struct moat_ruleset *rs = c->rs;
	struct moat_token *t;
	struct moat_set s;
	struct set_ctx sc = { &s, 0 };
	bool dup = false;
	int ret = -1;
	size_t i;
	void *nv;

	memset(&s, 0, sizeof(s));
	s.loc = cur(p)->loc;
	advance(p);
	t = cur(p);
	if (t->kind != MOAT_TOK_WORD)
		return expected(p, "a set name after 'set'");
	if (!valid_set_name(t->text)) {
		perr(p, &t->loc,
		     "invalid set name '%s'; use letters, digits, '_' and '-' (at most %d characters, starting with a letter)",
		     t->text, MAX_SET_NAME);
		return -1;
	}
	for (i = 0; i < rs->nsets; i++) {
		if (!strcmp(rs->sets[i].name, t->text)) {
			perr(p, &t->loc, "set '%s' already defined at %s:%u",
			     t->text, rs->sets[i].loc.file,
			     rs->sets[i].loc.line);
			dup = true;
			break;
		}
	}
	s.name = strdup(t->text);
	if (!s.name) {
		c->oom = c->stopped = true;
		return -1;
	}
	advance(p);
	t = cur(p);
	if (t->kind == MOAT_TOK_LBRACE) {
		struct moat_loc open = t->loc;
		size_t cnt = 0;

		if (parse_list(p, set_elem, &sc, true, &cnt))
			goto add;
		if (!cnt) {
			perr(p, &open, "set '%s' is empty", s.name);
			goto add;
		}
		if (end_stmt(p))
			goto add;
		ret = 0;
	} else if (at_word(p, "file")) {
		struct moat_loc sloc;
		bool capped = false;
		size_t left;
		int r;

		advance(p);
		t = cur(p);
		if (t->kind != MOAT_TOK_STRING) {
			expected(p, "a quoted file name after 'file'");
			goto add;
		}
		sloc = t->loc;
		s.file = path_join(p->dir, t->text);
		if (!s.file) {
			c->oom = c->stopped = true;
			goto add;
		}
		advance(p);
		if (end_stmt(p))
			goto add;
		if (c->stopped)
			goto add;
		left = MAX_ERRORS - (c->d->nerrors - c->base);
		r = set_file_parse(s.file, &sloc, &s.elems, &s.n, c->d, left,
				   &capped);
		if (capped)
			c->stopped = true;
		if (r == -ENOMEM)
			c->oom = c->stopped = true;
		ret = r ? -2 : 0; /* errors reported; statement is complete */
	} else {
		expected(p, "'{' or 'file' after the set name");
	}
add:
	/* keep even a broken set (not a duplicate), so that references to
	 * it do not add "not defined" errors */
	if (!dup && !c->stopped) {
		nv = grow(c, rs->sets, &c->asets, rs->nsets + 1, sizeof(s));
		if (nv) {
			rs->sets = nv;
			rs->sets[rs->nsets++] = s;
			memset(&s, 0, sizeof(s));
		}
	}
	free(s.name);
	free(s.file);
	free(s.elems);
	if (!ret && dup)
		ret = -2;
	return ret == -2 ? 0 : ret;
}

static int parse_interface(struct parser *p)
{
	struct pctx *c = p->c;
	struct moat_ruleset *rs = c->rs;
	struct moat_iface_decl dcl;
	struct moat_token *t;
	size_t i;
	void *nv;

	memset(&dcl, 0, sizeof(dcl));
	advance(p);
	t = cur(p);
	dcl.loc = t->loc;
	if (check_ifname(p, t, "interface", dcl.name))
		return -1;
	advance(p);
	if (at_word(p, "mode")) {
		advance(p);
		t = cur(p);
		if (t->kind != MOAT_TOK_WORD)
			return expected(p, "'native', 'skb' or 'auto' after 'mode'");
		if (!strcmp(t->text, "native"))
			dcl.mode = MOAT_MODE_NATIVE;
		else if (!strcmp(t->text, "skb"))
			dcl.mode = MOAT_MODE_SKB;
		else if (!strcmp(t->text, "auto"))
			dcl.mode = MOAT_MODE_AUTO;
		else {
			perr(p, &t->loc,
			     "unknown mode '%s'; expected 'native', 'skb' or 'auto'",
			     t->text);
			return -1;
		}
		advance(p);
	}
	if (end_stmt(p))
		return -1;
	for (i = 0; i < rs->nifaces; i++) {
		if (!strcmp(rs->ifaces[i].name, dcl.name)) {
			perr(p, &dcl.loc,
			     "interface '%s' already declared at %s:%u",
			     dcl.name, rs->ifaces[i].loc.file,
			     rs->ifaces[i].loc.line);
			return 0;
		}
	}
	nv = grow(c, rs->ifaces, &c->aifaces, rs->nifaces + 1, sizeof(dcl));
	if (!nv)
		return -1;
	rs->ifaces = nv;
	rs->ifaces[rs->nifaces++] = dcl;
	return 0;
}

static void parse_buffer(struct pctx *c, const char *file, const char *buf,
			 size_t len, const char *dir);

static void include_file(struct pctx *c, const char *path,
			 const struct moat_loc *loc, bool top)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	char *dir;
	int fd, r, i;

	if (c->depth > MAX_INCLUDE_DEPTH) {
		cerr(c, loc, "includes nested too deeply (more than %d levels)",
		     MAX_INCLUDE_DEPTH);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		cerr(c, loc, "cannot open '%s': %s", path, strerror(-r));
		if (top)
			c->top_errno = r;
		return;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		goto read_err;
	}
	for (i = 0; i < c->depth; i++) {
		if (c->stack[i].dev == st.st_dev &&
		    c->stack[i].ino == st.st_ino) {
			char *via = NULL;
			size_t vl = 0;
			FILE *f = open_memstream(&via, &vl);
			int j;

			if (f) {
				for (j = i + 1; j < c->depth; j++)
					fprintf(f, "%s%s",
						j > i + 1 ? " -> " : "",
						c->stack[j].name);
				fclose(f);
			}
			if (via && via[0])
				cerr(c, loc,
				     "include cycle: %s includes itself via %s",
				     c->stack[i].name, via);
			else
				cerr(c, loc, "include cycle: %s includes itself",
				     c->stack[i].name);
			free(via);
			close(fd);
			return;
		}
	}
	r = read_fd(fd, &buf, &len);
	if (r)
		goto read_err;
	close(fd);
	fd = -1;

	c->stack[c->depth].dev = st.st_dev;
	c->stack[c->depth].ino = st.st_ino;
	c->stack[c->depth].name = intern(c, path);
	if (!c->stack[c->depth].name) {
		free(buf);
		return;
	}
	dir = dir_of(path);
	c->depth++;
	parse_buffer(c, c->stack[c->depth - 1].name, buf, len, dir);
	c->depth--;
	free(dir);
	free(buf);
	return;
read_err:
	if (r == -ENOMEM) {
		c->oom = c->stopped = true;
	} else if (r == -EFBIG) {
		cerr(c, loc, "cannot read '%s': file too large (more than %lu MiB)",
		     path, MAX_FILE_SIZE >> 20);
	} else {
		cerr(c, loc, "cannot read '%s': %s", path, strerror(-r));
	}
	if (top)
		c->top_errno = r;
	if (fd >= 0)
		close(fd);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_include(struct parser *p)
{
	struct pctx *c = p->c;
	struct moat_token *t;
	struct moat_loc loc;
	char *pattern, *full;
	glob_t g;
	size_t i;
	int r;

	advance(p);
	t = cur(p);
	if (t->kind != MOAT_TOK_STRING)
		return expected(p, "a quoted file name or pattern after 'include'");
	loc = t->loc;
	pattern = strdup(t->text);
	if (!pattern) {
		c->oom = c->stopped = true;
		return -1;
	}
	advance(p);
	if (end_stmt(p)) {
		free(pattern);
		return -1;
	}
	full = path_join(p->dir, pattern);
	if (!full) {
		free(pattern);
		c->oom = c->stopped = true;
		return -1;
	}
	if (!strpbrk(pattern, "*?[")) {
		include_file(c, full, &loc, false);
		goto out;
	}
	memset(&g, 0, sizeof(g));
	r = glob(full, GLOB_NOSORT, NULL, &g);
	if (r == GLOB_NOMATCH || (!r && !g.gl_pathc)) {
		perr(p, &loc, "include pattern '%s' matches no file", pattern);
	} else if (r == GLOB_NOSPACE) {
		c->oom = c->stopped = true;
	} else if (r) {
		perr(p, &loc, "cannot read include pattern '%s'", pattern);
	} else {
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_str);
		for (i = 0; i < g.gl_pathc && !c->stopped; i++)
			include_file(c, g.gl_pathv[i], &loc, false);
	}
	globfree(&g);
out:
	free(full);
	free(pattern);
	return 0;
}

static int parse_stmt(struct parser *p)
{
	struct moat_token *t = cur(p);
	const char *w = t->text, *s;

	if (!strcmp(w, "pass") || !strcmp(w, "drop") ||
	    !strcmp(w, "redirect") || !strcmp(w, "guard"))
		return parse_rule(p);
	if (!strcmp(w, "policy"))
		return parse_policy(p);
	if (!strcmp(w, "set"))
		return parse_set(p);
	if (!strcmp(w, "include"))
		return parse_include(p);
	if (!strcmp(w, "interface"))
		return parse_interface(p);
	if (!strcmp(w, "conntrack")) {
		int r = parse_conntrack(p);

		return r == -2 ? 0 : r;
	}
	s = suggest(w, stmt_kws);
	perr(p, &t->loc,
	     "unknown statement '%s'; expected 'pass', 'drop', 'redirect', 'guard', 'policy', 'set', 'include' or 'interface'%s%s%s",
	     w, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
	return -1;
}

static void parse_buffer(struct pctx *c, const char *file, const char *buf,
			 size_t len, const char *dir)
{
	struct parser *p = calloc(1, sizeof(*p));
	struct moat_token *t;
	int r;

	if (!p) {
		c->oom = c->stopped = true;
		return;
	}
	p->c = c;
	p->file = file;
	p->dir = dir ? strdup(dir) : NULL;
	moat_lex_init(&p->lx, file, buf, len);
	lex(p, cur(p));
	while (!c->stopped) {
		t = cur(p);
		p->depth = 0;
		switch (t->kind) {
		case MOAT_TOK_EOF:
			goto out;
		case MOAT_TOK_NEWLINE:
		case MOAT_TOK_SEMI:
			advance(p);
			continue;
		case MOAT_TOK_ERROR:
			r = -1;
			break;
		case MOAT_TOK_WORD:
			r = parse_stmt(p);
			break;
		default:
			perr(p, &t->loc, "unexpected %s", desc(p, t));
			r = -1;
			break;
		}
		if (r < 0)
			skip_stmt(p);
	}
out:
	free(p->text);
	free(p->dir);
	free(p);
}

/* ---- set files ---- */

static bool set_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
	       ch == '\v';
}

/*
 * Cache of parsed set files (setcache.h), keyed by the file's content: a
 * file that parsed cleanly gives the same elements again.  Payload: the
 * record below, then the elements.
 */
#define SETFILE_SEED 0x7365742d66696c65ULL
#define SETFILE_VERSION 1

struct setfile_rec {
	uint64_t version, filelen, n, elemsize;
};

/* 0 with *vp (moat_malloc_big) and *np filled, -ENOENT or -ENOMEM */
static int setfile_cache_get(uint64_t key, size_t filelen,
			     struct moat_prefix **vp, size_t *np)
{
	struct moat_cache_entry e;
	const struct setfile_rec *r;
	int ret = -ENOENT;

	if (moat_cache_get("setfile", key ? key : 1, &e))
		return -ENOENT;
	r = e.data;
	if (e.len >= sizeof(*r) && r->version == SETFILE_VERSION &&
	    r->filelen == filelen && r->elemsize == sizeof(**vp) && r->n &&
	    r->n <= filelen / 2 && e.len - sizeof(*r) == r->n * sizeof(**vp)) {
		*vp = moat_malloc_big(r->n * sizeof(**vp));
		if (*vp) {
			memcpy(*vp, r + 1, r->n * sizeof(**vp));
			*np = r->n;
			ret = 0;
		} else {
			ret = -ENOMEM;
		}
	}
	moat_cache_release(&e);
	return ret;
}

static void setfile_cache_put(uint64_t key, size_t filelen,
			      const struct moat_prefix *v, size_t n)
{
	struct setfile_rec r = { SETFILE_VERSION, filelen, n, sizeof(*v) };
	struct iovec iov[2] = { { &r, sizeof(r) },
				{ (void *)v, n * sizeof(*v) } };

	moat_cache_put("setfile", key, iov, 2);
}

static int set_file_parse(const char *path, const struct moat_loc *open_loc,
			  struct moat_prefix **elems, size_t *np,
			  struct moat_diags *d, size_t max_errors,
			  bool *capped)
{
	struct moat_prefix *v = NULL;
	size_t n = 0, cap = 0, nerr = 0, len = 0;
	struct moat_loc loc = { path, 0, 0 };
	uint64_t key = 0;
	const char *s, *end;
	unsigned int line = 0;
	char *buf = NULL, *map = NULL;
	char err[512];
	int fd, r;

	*elems = NULL;
	*np = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		moat_diag_add(d, MOAT_DIAG_ERROR, open_loc,
			      "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	r = map_fd(fd, &map, &len);
	if (r == -ENOTSUP)
		r = read_fd(fd, &buf, &len);
	else
		buf = map;
	close(fd);
	if (r) {
		if (r == -EFBIG)
			moat_diag_add(d, MOAT_DIAG_ERROR, open_loc,
				      "cannot read '%s': file too large (more than %lu MiB)",
				      path, MAX_FILE_SIZE >> 20);
		else if (r != -ENOMEM)
			moat_diag_add(d, MOAT_DIAG_ERROR, open_loc,
				      "cannot read '%s': %s", path,
				      strerror(-r));
		return r;
	}

	/* a big file parsed before, byte for byte the same: its elements
	 * (a line holds 8 bytes at least: "1.2.3.4\n") */
	if (map && len / 8 >= moat_cache_min_elems && moat_cache_salt()) {
		key = moat_hash_mem(buf, len,
				    SETFILE_SEED ^ len ^ moat_cache_salt());
		r = setfile_cache_get(key, len, &v, &n);
		if (r == -ENOMEM)
			goto out;
		if (!r)
			goto done;
		key = key ? key : 1;
	}
	/* one element per line at most: sized once, the array is never
	 * moved (a grown array's pages are touched again at the new place) */
	cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += buf[i] == '\n';
	v = moat_malloc_big(cap * sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	s = buf;
	end = buf + len;
	while (s < end) {
		const char *nl, *le, *q = s, *ts;
		char a[64];
		size_t tl;

		line++;
		/* the usual line, a bare IPv4 prefix, without a copy */
		q = prefix_parse_v4fast(s, end, &v[n]);
		if (q && (q == end || *q == '\n')) {
			n++;
			s = q == end ? end : q + 1;
			continue;
		}
		q = s;
		nl = memchr(s, '\n', end - s);
		le = nl ? nl : end;
		while (q < le && set_space(*q))
			q++;
		if (q == le || *q == '#')
			goto next;
		ts = q;
		while (q < le && !set_space(*q) && *q != '#') {
			unsigned char ch = *q;

			if (ch < 0x21 || ch >= 0x7f) {
				loc.line = line;
				loc.col = q - s + 1;
				if (!ch)
					moat_diag_add(d, MOAT_DIAG_ERROR, &loc,
						      "NUL byte in set file (is this a binary file?)");
				else
					moat_diag_add(d, MOAT_DIAG_ERROR, &loc,
						      "invalid byte 0x%02x in set file",
						      ch);
				goto bad;
			}
			q++;
		}
		tl = q - ts;
		while (q < le && set_space(*q))
			q++;
		loc.line = line;
		if (q < le && *q != '#') {
			loc.col = q - s + 1;
			moat_diag_add(d, MOAT_DIAG_ERROR, &loc,
				      "unexpected text after '%.*s'; one address or prefix per line",
				      (int)(tl > 60 ? 60 : tl), ts);
			goto bad;
		}
		loc.col = ts - s + 1;
		if (tl >= sizeof(a)) {
			moat_diag_add(d, MOAT_DIAG_ERROR, &loc,
				      "invalid address '%.40s...'", ts);
			goto bad;
		}
		memcpy(a, ts, tl);
		a[tl] = 0;
		if (prefix_parse(a, &v[n], err, sizeof(err))) {
			moat_diag_add(d, MOAT_DIAG_ERROR, &loc, "%s", err);
			goto bad;
		}
		n++;
		goto next;
bad:
		if (++nerr >= max_errors) {
			moat_diag_add(d, MOAT_DIAG_NOTE, NULL,
				      "too many errors (%zu), stopping", nerr);
			if (capped)
				*capped = true;
			break;
		}
next:
		s = nl ? nl + 1 : end;
	}
	if (nerr) {
		r = -EINVAL;
		goto out;
	}
	if (!n) {
		moat_diag_add(d, MOAT_DIAG_WARNING, open_loc,
			      "set file '%s' is empty", path);
		free(v);
		v = NULL;
	} else if (key) {
		setfile_cache_put(key, len, v, n);
	}
done:
	*elems = v;
	*np = n;
	v = NULL;
	r = 0;
out:
	free(v);
	if (map)
		munmap(map, len);
	else
		free(buf);
	return r;
}

int moat_parse_set_file(const char *path, struct moat_prefix **elems,
			size_t *n, struct moat_diags *diags)
{
	return set_file_parse(path, NULL, elems, n, diags, MAX_ERRORS, NULL);
}

/* ---- top level ---- */

static int cmp_prefix(const struct moat_prefix *a, const struct moat_prefix *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r;
	return a->plen < b->plen ? -1 : a->plen > b->plen;
}

static int cmp_addr(const void *x, const void *y, void *arg)
{
	const struct moat_addr *a = x, *b = y;
	const struct moat_ruleset *sort_rs = arg;

	if (a->kind != b->kind)
		return a->kind == MOAT_ADDR_PREFIX ? -1 : 1;
	if (a->kind == MOAT_ADDR_SET)
		return strcmp(sort_rs->sets[a->set].name,
			      sort_rs->sets[b->set].name);
	return cmp_prefix(&a->prefix, &b->prefix);
}

static void addrs_normalise(const struct moat_ruleset *rs,
			    struct moat_addr_list *l)
{
	size_t i, o = 0;

	if (l->n < 2)
		return;
	qsort_r(l->v, l->n, sizeof(*l->v), cmp_addr, (void *)rs);
	for (i = 1; i < l->n; i++)
		if (cmp_addr(&l->v[i], &l->v[o], (void *)rs))
			l->v[++o] = l->v[i];
	l->n = o + 1;
}

static void resolve(struct pctx *c)
{
	struct moat_ruleset *rs = c->rs;
	size_t i, k;

	for (i = 0; i < c->nrefs; i++) {
		struct pending_ref *r = &c->refs[i];
		struct moat_addr_list *l;

		for (k = 0; k < rs->nsets; k++)
			if (!strcmp(rs->sets[k].name, r->name))
				break;
		if (k == rs->nsets) {
			cerr(c, &r->loc, "set '%s' is not defined", r->name);
			continue;
		}
		if (r->rule >= rs->nrules)
			continue;
		l = r->dst ? &rs->rules[r->rule].dst : &rs->rules[r->rule].src;
		if (r->idx < l->n)
			l->v[r->idx].set = k;
	}
	if (c->d->nerrors > c->base)
		return;
	for (i = 0; i < rs->nrules; i++) {
		addrs_normalise(rs, &rs->rules[i].src);
		addrs_normalise(rs, &rs->rules[i].dst);
	}
}

/* Move `guard` lines (parsed as rules so they share matchers and set
 * references) out of the rule list. */
static int split_guards(struct moat_ruleset *rs)
{
	size_t i, n = 0, g = 0;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].action == MOAT_RULE_GUARD)
			g++;
	if (!g)
		return 0;
	rs->guards = calloc(g, sizeof(*rs->guards));
	if (!rs->guards)
		return -ENOMEM;
	for (i = 0; i < rs->nrules; i++) {
		if (rs->rules[i].action == MOAT_RULE_GUARD)
			rs->guards[rs->nguards++] = rs->rules[i];
		else
			rs->rules[n++] = rs->rules[i];
	}
	rs->nrules = n;
	return 0;
}

static int parse_top(const char *path, const char *name, const char *text,
		     const char *basedir, struct moat_ruleset *rs,
		     struct moat_diags *d)
{
	struct pctx c;
	size_t i;
	int ret;

	memset(rs, 0, sizeof(*rs));
	rs->policy = MOAT_ACT_PASS;
	memset(&c, 0, sizeof(c));
	c.rs = rs;
	c.d = d;
	c.base = d->nerrors;

	if (text) {
		const char *file = intern(&c, name ? name : "<string>");

		if (file) {
			c.stack[0].name = file;
			c.depth = 1;
			parse_buffer(&c, file, text, strlen(text), basedir);
			c.depth = 0;
		}
	} else {
		include_file(&c, path, NULL, true);
	}
	if (!c.stopped)
		resolve(&c);
	if (!c.oom && split_guards(rs))
		c.oom = true;
	for (i = 0; i < c.nrefs; i++)
		free(c.refs[i].name);
	free(c.refs);

	if (c.oom)
		ret = -ENOMEM;
	else if (c.top_errno)
		ret = c.top_errno;
	else if (d->nerrors > c.base)
		ret = -EINVAL;
	else
		ret = 0;
	if (ret)
		moat_ruleset_free(rs);
	return ret;
}

int moat_parse_file(const char *path, struct moat_ruleset *rs,
		    struct moat_diags *diags)
{
	return parse_top(path, NULL, NULL, NULL, rs, diags);
}

int moat_parse_string(const char *name, const char *text, const char *basedir,
		      struct moat_ruleset *rs, struct moat_diags *diags)
{
	return parse_top(NULL, name, text, basedir, rs, diags);
}
