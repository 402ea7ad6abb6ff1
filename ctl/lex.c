// SPDX-License-Identifier: GPL-2.0
/*
 * lex.c - rule text -> tokens (see lex.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lex.h"

void moat_lex_init(struct moat_lexer *lx, const char *file, const char *src,
		   size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->file = file;
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
}

const char *moat_tok_kind_name(enum moat_tok_kind kind)
{
	switch (kind) {
	case MOAT_TOK_EOF:
		return "end of file";
	case MOAT_TOK_NEWLINE:
		return "end of line";
	case MOAT_TOK_WORD:
		return "word";
	case MOAT_TOK_STRING:
		return "string";
	case MOAT_TOK_LBRACE:
		return "'{'";
	case MOAT_TOK_RBRACE:
		return "'}'";
	case MOAT_TOK_COMMA:
		return "','";
	case MOAT_TOK_SEMI:
		return "';'";
	case MOAT_TOK_ERROR:
		return "error";
	}
	return "token";
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_word_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '{' && c != '}' && c != ',' &&
	       c != ';' && c != '#' && c != '"';
}

/* Advance over one byte that is not a newline. */
static void bump(struct moat_lexer *lx)
{
	lx->pos++;
	lx->col++;
}

/* Skip to the end of the line (the newline itself is left for the next
 * token), so one bad line yields one error. */
static void skip_line(struct moat_lexer *lx)
{
	const char *nl = memchr(lx->src + lx->pos, '\n', lx->len - lx->pos);
	size_t stop = nl ? (size_t)(nl - lx->src) : lx->len;

	lx->col += stop - lx->pos;
	lx->pos = stop;
}

__attribute__((format(printf, 2, 3))) static void
lex_error(struct moat_token *tok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tok->text, sizeof(tok->text), fmt, ap);
	va_end(ap);
	tok->kind = MOAT_TOK_ERROR;
	tok->len = strlen(tok->text);
}

static void bad_byte(struct moat_lexer *lx, struct moat_token *tok,
		     unsigned char c)
{
	if (c == 0)
		lex_error(tok, "NUL byte in rule text (is this a binary file?)");
	else if (c >= 0x80)
		lex_error(tok,
			  "non-ASCII byte 0x%02x outside a comment or string",
			  c);
	else
		lex_error(tok, "invalid character 0x%02x", c);
	skip_line(lx);
	tok->end = lx->pos;
}

void moat_lex_next(struct moat_lexer *lx, struct moat_token *tok)
{
	const char *s = lx->src;
	unsigned char c;

	tok->space_before = false;
	tok->text[0] = 0;
	tok->len = 0;

	/* whitespace and comments */
	for (;;) {
		if (lx->pos >= lx->len)
			break;
		c = s[lx->pos];
		if (is_space(c)) {
			bump(lx);
			tok->space_before = true;
			continue;
		}
		if (c == '#') {
			const char *nl = memchr(s + lx->pos, '\n',
						lx->len - lx->pos);
			size_t stop = nl ? (size_t)(nl - s) : lx->len;
			const char *nul = memchr(s + lx->pos, 0,
						 stop - lx->pos);

			tok->space_before = true;
			if (nul) {
				size_t at = nul - s;

				tok->loc.file = lx->file;
				tok->loc.line = lx->line;
				tok->loc.col = lx->col + (at - lx->pos);
				tok->off = at;
				lex_error(tok, "NUL byte in rule text (is this a binary file?)");
				skip_line(lx);
				tok->end = lx->pos;
				return;
			}
			lx->col += stop - lx->pos;
			lx->pos = stop;
			continue;
		}
		break;
	}

	tok->loc.file = lx->file;
	tok->loc.line = lx->line;
	tok->loc.col = lx->col;
	tok->off = lx->pos;
	tok->end = lx->pos;

	if (lx->pos >= lx->len) {
		tok->kind = MOAT_TOK_EOF;
		return;
	}
	if (lx->col > MOAT_LEX_MAX_LINE && s[lx->pos] != '\n') {
		lex_error(tok, "line too long (more than %d characters)",
			  MOAT_LEX_MAX_LINE);
		skip_line(lx);
		tok->end = lx->pos;
		return;
	}

	c = s[lx->pos];
	switch (c) {
	case '\n':
		tok->kind = MOAT_TOK_NEWLINE;
		lx->pos++;
		lx->line++;
		lx->col = 1;
		tok->end = lx->pos;
		return;
	case '{':
	case '}':
	case ',':
	case ';':
		tok->kind = c == '{'   ? MOAT_TOK_LBRACE :
			    c == '}'   ? MOAT_TOK_RBRACE :
			    c == ','   ? MOAT_TOK_COMMA :
					 MOAT_TOK_SEMI;
		tok->text[0] = c;
		tok->text[1] = 0;
		tok->len = 1;
		bump(lx);
		tok->end = lx->pos;
		return;
	case '"': {
		size_t start = lx->pos + 1, i = start, n;

		while (i < lx->len && s[i] != '"' && s[i] != '\n' && s[i] != 0)
			i++;
		if (i < lx->len && s[i] == 0) {
			tok->loc.col += i - lx->pos;
			tok->off = i;
			lex_error(tok, "NUL byte in rule text (is this a binary file?)");
			skip_line(lx);
			tok->end = lx->pos;
			return;
		}
		if (i >= lx->len || s[i] != '"') {
			lex_error(tok, "unterminated string");
			skip_line(lx);
			tok->end = lx->pos;
			return;
		}
		n = i - start;
		if (n > MOAT_LEX_MAX_STRING) {
			lex_error(tok, "string too long (more than %d characters)",
				  MOAT_LEX_MAX_STRING);
			skip_line(lx);
			tok->end = lx->pos;
			return;
		}
		memcpy(tok->text, s + start, n);
		tok->text[n] = 0;
		tok->len = n;
		tok->kind = MOAT_TOK_STRING;
		lx->col += i + 1 - lx->pos;
		lx->pos = i + 1;
		tok->end = lx->pos;
		return;
	}
	default:
		break;
	}

	if (!is_word_char(c)) {
		bad_byte(lx, tok, c);
		return;
	}

	{
		size_t i = lx->pos, n;

		while (i < lx->len && is_word_char(s[i]))
			i++;
		n = i - lx->pos;
		if (n > MOAT_LEX_MAX_WORD) {
			lex_error(tok, "word too long (more than %d characters)",
				  MOAT_LEX_MAX_WORD);
			skip_line(lx);
			tok->end = lx->pos;
			return;
		}
		memcpy(tok->text, s + lx->pos, n);
		tok->text[n] = 0;
		tok->len = n;
		tok->kind = MOAT_TOK_WORD;
		lx->col += n;
		lx->pos = i;
		tok->end = i;
	}
}

/* ---- name tables ---- */

const struct moat_name moat_proto_names[] = {
	{ "icmp", 1 },	    { "igmp", 2 },	 { "ipencap", 4 },
	{ "ipip", 4 },	    { "tcp", 6 },	 { "egp", 8 },
	{ "udp", 17 },	    { "ipv6", 41 },	 { "rsvp", 46 },
	{ "gre", 47 },	    { "esp", 50 },	 { "ah", 51 },
	{ "icmpv6", 58 },   { "ipv6-icmp", 58 }, { "eigrp", 88 },
	{ "ospf", 89 },	    { "pim", 103 },	 { "vrrp", 112 },
	{ "l2tp", 115 },    { "sctp", 132 },	 { "udplite", 136 },
	{ "mpls-in-ip", 137 }, { NULL, 0 },
};

const struct moat_name moat_port_names[] = {
	{ "ftp-data", 20 },   { "ftp", 21 },	    { "ssh", 22 },
	{ "telnet", 23 },     { "smtp", 25 },	    { "domain", 53 },
	{ "dns", 53 },	      { "bootps", 67 },	    { "bootpc", 68 },
	{ "tftp", 69 },	      { "http", 80 },	    { "www", 80 },
	{ "kerberos", 88 },   { "pop3", 110 },	    { "ntp", 123 },
	{ "imap", 143 },      { "snmp", 161 },	    { "snmp-trap", 162 },
	{ "bgp", 179 },	      { "ldap", 389 },	    { "https", 443 },
	{ "smtps", 465 },     { "syslog", 514 },    { "submission", 587 },
	{ "ldaps", 636 },     { "imaps", 993 },	    { "pop3s", 995 },
	{ "openvpn", 1194 },  { "mysql", 3306 },    { "rdp", 3389 },
	{ "postgresql", 5432 }, { "http-alt", 8080 }, { NULL, 0 },
};

const struct moat_name moat_icmp4_names[] = {
	{ "echo-reply", 0 },
	{ "unreach", 3 },
	{ "unreachable", 3 },
	{ "source-quench", 4 },
	{ "redirect", 5 },
	{ "echo-request", 8 },
	{ "router-advertisement", 9 },
	{ "router-solicitation", 10 },
	{ "time-exceeded", 11 },
	{ "parameter-problem", 12 },
	{ "timestamp", 13 },
	{ "timestamp-reply", 14 },
	{ NULL, 0 },
};

const struct moat_name moat_icmp6_names[] = {
	{ "unreach", 1 },
	{ "unreachable", 1 },
	{ "packet-too-big", 2 },
	{ "time-exceeded", 3 },
	{ "parameter-problem", 4 },
	{ "echo-request", 128 },
	{ "echo-reply", 129 },
	{ "router-solicitation", 133 },
	{ "router-advertisement", 134 },
	{ "neighbour-solicitation", 135 },
	{ "neighbor-solicitation", 135 },
	{ "neighbour-advertisement", 136 },
	{ "neighbor-advertisement", 136 },
	{ "redirect", 137 },
	{ NULL, 0 },
};

const struct moat_name moat_ethertype_names[] = {
	{ "arp", 0x0806 },    { "wol", 0x0842 },	 { "rarp", 0x8035 },
	{ "ipx", 0x8137 },    { "slow", 0x8809 },	 { "lacp", 0x8809 },
	{ "mpls", 0x8847 },   { "mpls-multicast", 0x8848 },
	{ "pppoe-discovery", 0x8863 },			 { "pppoe-session", 0x8864 },
	{ "eapol", 0x888e },  { "lldp", 0x88cc },	 { "macsec", 0x88e5 },
	{ "ptp", 0x88f7 },    { "fcoe", 0x8906 },	 { NULL, 0 },
};

int moat_name_lookup(const struct moat_name *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return (int)t->value;
	return -1;
}

const char *moat_name_of(const struct moat_name *t, unsigned int value)
{
	for (; t->name; t++)
		if (t->value == value)
			return t->name;
	return NULL;
}
