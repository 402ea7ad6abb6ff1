/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lex.h - rule text -> tokens.  The lexer is pure: it never prints and never
 * allocates.  A bad byte, an over-long word or line, or an unterminated
 * string gives one MOAT_TOK_ERROR token (message in .text, location in .loc)
 * and the rest of that line is skipped, so garbage costs one error per line.
 *
 * Words are runs of printable ASCII other than { } , ; # " and whitespace:
 * keywords, numbers, addresses, prefixes, `@set`, `8000-8099`, `S/SA` are
 * all words; the parser gives them meaning.  Strings are "..." on one line,
 * without escapes.  `#` starts a comment to the end of the line.  Newlines
 * are tokens (the parser ignores them inside { }).
 */
#ifndef MOAT_LEX_H
#define MOAT_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include "ruleset.h"

#define MOAT_LEX_MAX_WORD 255 /* characters in a word */
#define MOAT_LEX_MAX_STRING 4095 /* characters in a string (a path) */
#define MOAT_LEX_MAX_LINE 65536 /* columns in a line */

enum moat_tok_kind {
	MOAT_TOK_EOF = 0,
	MOAT_TOK_NEWLINE,
	MOAT_TOK_WORD,
	MOAT_TOK_STRING, /* .text is the contents, without the quotes */
	MOAT_TOK_LBRACE,
	MOAT_TOK_RBRACE,
	MOAT_TOK_COMMA,
	MOAT_TOK_SEMI,
	MOAT_TOK_ERROR, /* .text is the error message */
};

struct moat_token {
	enum moat_tok_kind kind;
	struct moat_loc loc; /* first character (1-based line and column) */
	size_t off, end; /* source bytes [off, end), quotes included */
	bool space_before; /* whitespace or a comment since the last token */
	size_t len; /* strlen(text) */
	char text[MOAT_LEX_MAX_STRING + 1];
};

struct moat_lexer {
	const char *file; /* for token locations; not owned */
	const char *src; /* not owned; may contain NUL bytes (reported) */
	size_t len, pos;
	unsigned int line, col;
};

void moat_lex_init(struct moat_lexer *lx, const char *file, const char *src,
		   size_t len);

/* Next token into *tok; after MOAT_TOK_EOF it keeps returning EOF. */
void moat_lex_next(struct moat_lexer *lx, struct moat_token *tok);

/* Name tables of the language, terminated by { NULL, 0 }.  The first name
 * of a value is the one printed. */
struct moat_name {
	const char *name;
	unsigned int value;
};

extern const struct moat_name moat_proto_names[]; /* `proto NAME` */
extern const struct moat_name moat_port_names[]; /* services */
extern const struct moat_name moat_icmp4_names[]; /* icmp-type, icmp */
extern const struct moat_name moat_icmp6_names[]; /* icmp-type, icmpv6 */
extern const struct moat_name moat_ethertype_names[];

/* Value of `name` in table t, or -1. */
int moat_name_lookup(const struct moat_name *t, const char *name);
/* First name of `value` in table t, or NULL. */
const char *moat_name_of(const struct moat_name *t, unsigned int value);

/* Printable name of a token kind ("word", "'{'", "end of line", ...). */
const char *moat_tok_kind_name(enum moat_tok_kind kind);

#endif /* MOAT_LEX_H */
