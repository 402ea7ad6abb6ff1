// SPDX-License-Identifier: GPL-2.0
/*
 * liveset.c - the live-set overlay (see liveset.h).  Stored as text in the
 * blob "sets" under the state root:
 *
 *   set NAME DECLHASH file|flushed|loaded
 *   = PREFIX            (loaded base)
 *   + PREFIX EXPIRES    (addition, unix seconds, 0 = never)
 *   - PREFIX            (removal)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "liveset.h"
#include "state.h"
#include "strbuf.h"

static void canon(struct moat_prefix *p)
{
	unsigned int alen = p->family == 4 ? 4 : 16;

	for (unsigned int i = 0; i < 16; i++) {
		unsigned int bit = i * 8;

		if (i >= alen || bit >= p->plen)
			p->addr[i] = 0;
		else if (bit + 8 > p->plen)
			p->addr[i] &= (uint8_t)(0xff << (8 - (p->plen - bit)));
	}
}

bool moat_prefix_eq(const struct moat_prefix *a, const struct moat_prefix *b)
{
	struct moat_prefix x = *a, y = *b;

	if (x.family != y.family || x.plen != y.plen)
		return false;
	canon(&x);
	canon(&y);
	return !memcmp(x.addr, y.addr, 16);
}

static int pcmp(const void *a, const void *b)
{
	struct moat_prefix x = *(const struct moat_prefix *)a;
	struct moat_prefix y = *(const struct moat_prefix *)b;
	int c;

	canon(&x);
	canon(&y);
	if (x.family != y.family)
		return x.family - y.family;
	c = memcmp(x.addr, y.addr, 16);
	if (c)
		return c;
	return x.plen - y.plen;
}

uint64_t moat_live_decl_hash(const struct moat_set *s)
{
	struct moat_prefix *v = malloc((s->n ? s->n : 1) * sizeof(*v));
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!v)
		return 0;
	memcpy(v, s->elems, s->n * sizeof(*v));
	for (size_t i = 0; i < s->n; i++)
		canon(&v[i]);
	qsort(v, s->n, sizeof(*v), pcmp);
	for (size_t i = 0; i < s->n; i++) {
		const unsigned char *b = (const unsigned char *)&v[i];

		if (i && !pcmp(&v[i - 1], &v[i]))
			continue;
		/* family, plen, address bytes */
		for (size_t k = 0; k < 2 + (size_t)(v[i].family == 4 ? 4 : 16);
		     k++) {
			h ^= b[k];
			h *= 0x100000001b3ULL;
		}
	}
	free(v);
	return h;
}

void moat_live_path(const char *root, char *buf, size_t len)
{
	snprintf(buf, len, "%s/sets", root);
}

static int parse_prefix(const char *s, struct moat_prefix *p)
{
	char buf[64], *slash;
	long plen = -1;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		char *end;

		*slash = 0;
		plen = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || plen < 0)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = 4;
		if (plen > 32)
			return -EINVAL;
		p->plen = plen < 0 ? 32 : (uint8_t)plen;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = 6;
		if (plen > 128)
			return -EINVAL;
		p->plen = plen < 0 ? 128 : (uint8_t)plen;
	} else {
		return -EINVAL;
	}
	canon(p);
	return 0;
}

void moat_live_free(struct moat_live *lv)
{
	for (size_t i = 0; i < lv->n; i++) {
		free(lv->sets[i].name);
		free(lv->sets[i].base);
		free(lv->sets[i].adds);
		free(lv->sets[i].dels);
	}
	free(lv->sets);
	memset(lv, 0, sizeof(*lv));
}

static int grow(void *vp, size_t n, size_t elem)
{
	void **v = vp;
	void *p;

	/* capacity is the next power of two >= n */
	if (n & (n - 1))
		return 0;
	p = realloc(*v, (n ? 2 * n : 1) * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

static struct moat_live_set *add_set(struct moat_live *lv, const char *name)
{
	struct moat_live_set *s;

	if (grow(&lv->sets, lv->n, sizeof(*lv->sets)))
		return NULL;
	s = &lv->sets[lv->n];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	if (!s->name)
		return NULL;
	lv->n++;
	return s;
}

int moat_live_read(const char *root, struct moat_live *lv)
{
	struct moat_live_set *cur = NULL;
	char path[512], *data = NULL, *line, *save = NULL;
	size_t len = 0;
	int err;

	memset(lv, 0, sizeof(*lv));
	moat_live_path(root, path, sizeof(path));
	err = moat_blob_read(path, &data, &len);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char a[64], b[32], kind[16];
		struct moat_prefix p;
		uint64_t h;
		long long exp = 0;

		if (sscanf(line, "set %63s %" SCNx64 " %15s", a, &h, kind) == 3) {
			cur = add_set(lv, a);
			if (!cur) {
				err = -ENOMEM;
				goto out;
			}
			cur->decl = h;
			cur->base_kind = !strcmp(kind, "flushed") ? MOAT_LIVE_FLUSHED :
					 !strcmp(kind, "loaded")  ? MOAT_LIVE_LOADED :
								    MOAT_LIVE_FILE;
			continue;
		}
		if (!cur || strlen(line) < 3 ||
		    sscanf(line + 2, "%63s %31s", a, b) < 1 ||
		    parse_prefix(a, &p))
			continue; /* unreadable line: skip */
		if (line[0] == '=') {
			if (grow(&cur->base, cur->nbase, sizeof(p)))
				goto nomem;
			cur->base[cur->nbase++] = p;
		} else if (line[0] == '+') {
			exp = strtoll(b, NULL, 10);
			if (grow(&cur->adds, cur->nadds, sizeof(*cur->adds)))
				goto nomem;
			cur->adds[cur->nadds].p = p;
			cur->adds[cur->nadds++].expires = exp;
		} else if (line[0] == '-') {
			if (grow(&cur->dels, cur->ndels, sizeof(p)))
				goto nomem;
			cur->dels[cur->ndels++] = p;
		}
	}
	err = 0;
	goto out;
nomem:
	err = -ENOMEM;
out:
	free(data);
	if (err)
		moat_live_free(lv);
	return err;
}

int moat_live_write(const char *root, const struct moat_live *lv)
{
	struct strbuf sb = STRBUF_INIT;
	char path[512], buf[64];
	int err;

	for (size_t i = 0; i < lv->n; i++) {
		const struct moat_live_set *s = &lv->sets[i];
		static const char *const kinds[] = { "file", "flushed",
						     "loaded" };

		strbuf_addf(&sb, "set %s %" PRIx64 " %s\n", s->name, s->decl,
			  kinds[s->base_kind]);
		for (size_t k = 0; k < s->nbase; k++) {
			moat_prefix_format(&s->base[k], buf, sizeof(buf));
			strbuf_addf(&sb, "= %s\n", buf);
		}
		for (size_t k = 0; k < s->nadds; k++) {
			moat_prefix_format(&s->adds[k].p, buf, sizeof(buf));
			strbuf_addf(&sb, "+ %s %lld\n", buf,
				  (long long)s->adds[k].expires);
		}
		for (size_t k = 0; k < s->ndels; k++) {
			moat_prefix_format(&s->dels[k], buf, sizeof(buf));
			strbuf_addf(&sb, "- %s\n", buf);
		}
	}
	moat_live_path(root, path, sizeof(path));
	err = sb.err ? -ENOMEM : moat_blob_write(path, sb.buf ? sb.buf : "",
						  sb.len);
	free(sb.buf);
	return err;
}

struct moat_live_set *moat_live_get(struct moat_live *lv, const char *name,
				    const struct moat_set *s, bool create)
{
	struct moat_live_set *ls;

	for (size_t i = 0; i < lv->n; i++)
		if (!strcmp(lv->sets[i].name, name))
			return &lv->sets[i];
	if (!create)
		return NULL;
	ls = add_set(lv, name);
	if (ls && s)
		ls->decl = moat_live_decl_hash(s);
	return ls;
}

static void remove_set(struct moat_live *lv, size_t i)
{
	free(lv->sets[i].name);
	free(lv->sets[i].base);
	free(lv->sets[i].adds);
	free(lv->sets[i].dels);
	memmove(&lv->sets[i], &lv->sets[i + 1],
		(lv->n - i - 1) * sizeof(*lv->sets));
	lv->n--;
}

int moat_live_overlay(struct moat_live *lv, struct moat_ruleset *rs,
		      int64_t now, size_t *dropped)
{
	*dropped = 0;
	for (size_t i = 0; i < lv->n;) {
		struct moat_live_set *ls = &lv->sets[i];
		struct moat_set *s = NULL;
		const struct moat_prefix *base;
		struct moat_prefix *v;
		size_t nbase, n = 0;

		for (size_t k = 0; k < rs->nsets; k++)
			if (!strcmp(rs->sets[k].name, ls->name))
				s = &rs->sets[k];
		if (!s || moat_live_decl_hash(s) != ls->decl) {
			remove_set(lv, i); /* the file changed the set */
			(*dropped)++;
			continue;
		}
		base = ls->base_kind == MOAT_LIVE_FILE	 ? s->elems :
		       ls->base_kind == MOAT_LIVE_LOADED ? ls->base :
							   NULL;
		nbase = ls->base_kind == MOAT_LIVE_FILE	  ? s->n :
			ls->base_kind == MOAT_LIVE_LOADED ? ls->nbase :
							    0;
		v = malloc((nbase + ls->nadds + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t k = 0; k < nbase; k++) {
			bool del = false;

			for (size_t d = 0; d < ls->ndels && !del; d++)
				del = moat_prefix_eq(&base[k], &ls->dels[d]);
			if (!del)
				v[n++] = base[k];
		}
		for (size_t k = 0; k < ls->nadds; k++)
			if (!ls->adds[k].expires || ls->adds[k].expires > now)
				v[n++] = ls->adds[k].p;
		free(s->elems);
		s->elems = v;
		s->n = n;
		i++;
	}
	return 0;
}

size_t moat_live_expire(struct moat_live *lv, int64_t now, int64_t *next)
{
	size_t gone = 0;

	*next = 0;
	for (size_t i = 0; i < lv->n; i++) {
		struct moat_live_set *ls = &lv->sets[i];
		size_t w = 0;

		for (size_t k = 0; k < ls->nadds; k++) {
			int64_t e = ls->adds[k].expires;

			if (e && e <= now) {
				gone++;
				continue;
			}
			if (e && (!*next || e < *next))
				*next = e;
			ls->adds[w++] = ls->adds[k];
		}
		ls->nadds = w;
	}
	return gone;
}

/* for cmd_set.c */
int moat_live_parse_prefix(const char *s, struct moat_prefix *p);
int moat_live_parse_prefix(const char *s, struct moat_prefix *p)
{
	return parse_prefix(s, p);
}
