/* SPDX-License-Identifier: GPL-2.0 */
/* strbuf.h - a growing string buffer; errors stick in .err. */
#ifndef MOAT_STRBUF_H
#define MOAT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len, cap;
	bool err;
};
#define STRBUF_INIT { NULL, 0, 0, false }

void strbuf_addch(struct strbuf *sb, char c);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addn(struct strbuf *sb, const char *s, size_t n);
__attribute__((format(printf, 2, 3))) void strbuf_addf(struct strbuf *sb,
							const char *fmt, ...);
void strbuf_free(struct strbuf *sb);

#endif /* MOAT_STRBUF_H */
