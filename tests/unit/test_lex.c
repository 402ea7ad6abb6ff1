// SPDX-License-Identifier: GPL-2.0
/*
 * test_lex.c - the rule lexer (ctl/lex.c), the diagnostics list
 * (ctl/diag.c) and the log helper (ctl/log.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "lex.h"
#include "diag.h"
#include "log.h"

#define MAXTOK 64

static struct moat_token toks[MAXTOK];
static int ntoks;

/* Lex src (len bytes) into toks[], up to and including EOF. */
static void lex_all(const char *src, size_t len)
{
	struct moat_lexer lx;

	moat_lex_init(&lx, "f.rules", src, len);
	ntoks = 0;
	do {
		moat_lex_next(&lx, &toks[ntoks]);
	} while (toks[ntoks++].kind != MOAT_TOK_EOF && ntoks < MAXTOK);
}

static void lex_str(const char *src)
{
	lex_all(src, strlen(src));
}

TEST(kinds_and_text)
{
	lex_str("pass tcp { 80, 443 } ; \"a b\"\n");
	ASSERT_EQ(ntoks, 11);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_WORD);
	ASSERT_STREQ(toks[0].text, "pass");
	ASSERT_EQ(toks[1].kind, MOAT_TOK_WORD);
	ASSERT_STREQ(toks[1].text, "tcp");
	ASSERT_EQ(toks[2].kind, MOAT_TOK_LBRACE);
	ASSERT_STREQ(toks[3].text, "80");
	ASSERT_EQ(toks[4].kind, MOAT_TOK_COMMA);
	ASSERT_STREQ(toks[5].text, "443");
	ASSERT_EQ(toks[6].kind, MOAT_TOK_RBRACE);
	ASSERT_EQ(toks[7].kind, MOAT_TOK_SEMI);
	ASSERT_EQ(toks[8].kind, MOAT_TOK_STRING);
	ASSERT_STREQ(toks[8].text, "a b");
	ASSERT_EQ(toks[8].len, 3);
	ASSERT_EQ(toks[9].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[10].kind, MOAT_TOK_EOF);
}

TEST(eof_repeats)
{
	struct moat_lexer lx;
	struct moat_token t;

	moat_lex_init(&lx, "f.rules", "x", 1);
	moat_lex_next(&lx, &t);
	ASSERT_EQ(t.kind, MOAT_TOK_WORD);
	moat_lex_next(&lx, &t);
	ASSERT_EQ(t.kind, MOAT_TOK_EOF);
	moat_lex_next(&lx, &t);
	ASSERT_EQ(t.kind, MOAT_TOK_EOF);
}

TEST(words_keep_punctuation)
{
	/* addresses, prefixes, ranges, sets, flags are single words */
	lex_str("2001:db8::/32 10.0.0.0/8 8000-8099 @blocked S/SA 0x0806 "
		"echo-request fe80::1%eth0 !x");
	ASSERT_EQ(ntoks, 10);
	ASSERT_STREQ(toks[0].text, "2001:db8::/32");
	ASSERT_STREQ(toks[1].text, "10.0.0.0/8");
	ASSERT_STREQ(toks[2].text, "8000-8099");
	ASSERT_STREQ(toks[3].text, "@blocked");
	ASSERT_STREQ(toks[4].text, "S/SA");
	ASSERT_STREQ(toks[5].text, "0x0806");
	ASSERT_STREQ(toks[6].text, "echo-request");
	ASSERT_STREQ(toks[7].text, "fe80::1%eth0");
	ASSERT_STREQ(toks[8].text, "!x");
}

TEST(punctuation_splits_words)
{
	lex_str("{80,443}x;y#c");
	ASSERT_EQ(ntoks, 9);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_LBRACE);
	ASSERT_STREQ(toks[1].text, "80");
	ASSERT_EQ(toks[2].kind, MOAT_TOK_COMMA);
	ASSERT_STREQ(toks[3].text, "443");
	ASSERT_EQ(toks[4].kind, MOAT_TOK_RBRACE);
	ASSERT_STREQ(toks[5].text, "x");
	ASSERT_EQ(toks[6].kind, MOAT_TOK_SEMI);
	ASSERT_STREQ(toks[7].text, "y");
	ASSERT_EQ(toks[8].kind, MOAT_TOK_EOF);
}

TEST(locations)
{
	lex_str("pass  tcp\n\n  drop\tall\n");
	/* pass tcp NL NL drop all NL EOF */
	ASSERT_EQ(ntoks, 8);
	ASSERT_STREQ(toks[0].loc.file, "f.rules");
	ASSERT_EQ(toks[0].loc.line, 1);
	ASSERT_EQ(toks[0].loc.col, 1);
	ASSERT_EQ(toks[1].loc.line, 1);
	ASSERT_EQ(toks[1].loc.col, 7);
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[2].loc.col, 10);
	ASSERT_EQ(toks[3].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[3].loc.line, 2);
	ASSERT_STREQ(toks[4].text, "drop");
	ASSERT_EQ(toks[4].loc.line, 3);
	ASSERT_EQ(toks[4].loc.col, 3);
	ASSERT_EQ(toks[5].loc.col, 8); /* a tab is one column */
	ASSERT_EQ(toks[7].kind, MOAT_TOK_EOF);
	ASSERT_EQ(toks[7].loc.line, 4);
}

TEST(source_spans_and_spacing)
{
	const char *src = "pass  \"x y\"{a}# c\nb";

	lex_str(src);
	ASSERT_EQ(toks[0].off, 0);
	ASSERT_EQ(toks[0].end, 4);
	ASSERT_FALSE(toks[0].space_before);
	/* strings span their quotes */
	ASSERT_EQ(toks[1].kind, MOAT_TOK_STRING);
	ASSERT_EQ(toks[1].off, 6);
	ASSERT_EQ(toks[1].end, 11);
	ASSERT_TRUE(toks[1].space_before);
	ASSERT_EQ(toks[2].kind, MOAT_TOK_LBRACE);
	ASSERT_FALSE(toks[2].space_before);
	ASSERT_FALSE(toks[3].space_before);
	/* a comment counts as space */
	ASSERT_EQ(toks[5].kind, MOAT_TOK_NEWLINE);
	ASSERT_TRUE(toks[5].space_before);
}

TEST(comments)
{
	lex_str("# whole line\npass # trailing { } \" ;\n#\ndrop");
	ASSERT_EQ(ntoks, 6);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[1].text, "pass");
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[2].loc.line, 2);
	ASSERT_EQ(toks[3].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[3].loc.line, 3);
	ASSERT_STREQ(toks[4].text, "drop");
	ASSERT_EQ(toks[4].loc.line, 4);
	ASSERT_EQ(toks[5].kind, MOAT_TOK_EOF);
}

TEST(crlf)
{
	lex_str("pass all\r\ndrop all\r\n");
	ASSERT_EQ(ntoks, 7);
	ASSERT_STREQ(toks[1].text, "all");
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[3].text, "drop");
	ASSERT_EQ(toks[3].loc.line, 2);
}

TEST(non_ascii_in_comments_and_strings)
{
	lex_str("pass # caf\xc3\xa9\n\"\xc3\xa9t\xc3\xa9\"");
	ASSERT_EQ(ntoks, 4);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_WORD);
	ASSERT_EQ(toks[1].kind, MOAT_TOK_NEWLINE);
	ASSERT_EQ(toks[2].kind, MOAT_TOK_STRING);
	ASSERT_STREQ(toks[2].text, "\xc3\xa9t\xc3\xa9");
}

TEST(non_ascii_outside_is_error)
{
	lex_str("pass \xc3\xa9 more words\ndrop");
	ASSERT_EQ(toks[0].kind, MOAT_TOK_WORD);
	ASSERT_EQ(toks[1].kind, MOAT_TOK_ERROR);
	ASSERT_EQ(toks[1].loc.line, 1);
	ASSERT_EQ(toks[1].loc.col, 6);
	ASSERT_STREQ(toks[1].text,
		     "non-ASCII byte 0xc3 outside a comment or string");
	/* the rest of the line is skipped: one error per line */
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[3].text, "drop");
}

TEST(control_character)
{
	lex_str("pass \x01 x");
	ASSERT_EQ(toks[1].kind, MOAT_TOK_ERROR);
	ASSERT_STREQ(toks[1].text, "invalid character 0x01");
	ASSERT_EQ(toks[2].kind, MOAT_TOK_EOF);
}

TEST(nul_bytes)
{
	static const char src[] = "pass\0all\n#x\0y\ndrop \"a\0b\"\nok";

	lex_all(src, sizeof(src) - 1);
	ASSERT_STREQ(toks[0].text, "pass");
	ASSERT_EQ(toks[1].kind, MOAT_TOK_ERROR);
	ASSERT_CONTAINS(toks[1].text, "NUL byte");
	ASSERT_EQ(toks[1].loc.col, 5);
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	/* NUL inside a comment */
	ASSERT_EQ(toks[3].kind, MOAT_TOK_ERROR);
	ASSERT_EQ(toks[3].loc.line, 2);
	ASSERT_EQ(toks[3].loc.col, 3);
	ASSERT_EQ(toks[4].kind, MOAT_TOK_NEWLINE);
	/* NUL inside a string */
	ASSERT_STREQ(toks[5].text, "drop");
	ASSERT_EQ(toks[6].kind, MOAT_TOK_ERROR);
	ASSERT_EQ(toks[6].loc.col, 8);
	ASSERT_EQ(toks[7].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[8].text, "ok");
}

TEST(unterminated_string)
{
	lex_str("include \"abc\nnext");
	ASSERT_EQ(toks[1].kind, MOAT_TOK_ERROR);
	ASSERT_STREQ(toks[1].text, "unterminated string");
	ASSERT_EQ(toks[1].loc.col, 9);
	ASSERT_EQ(toks[2].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[3].text, "next");

	lex_str("\"abc");
	ASSERT_EQ(toks[0].kind, MOAT_TOK_ERROR);
	ASSERT_EQ(toks[1].kind, MOAT_TOK_EOF);
}

TEST(word_too_long)
{
	char *s = malloc(1000 + 16);
	size_t n;

	ASSERT_TRUE(s);
	memset(s, 'a', 1000);
	strcpy(s + 1000, " b\nc");
	n = strlen(s);
	lex_all(s, n);
	free(s);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_ERROR);
	ASSERT_CONTAINS(toks[0].text, "word too long");
	ASSERT_EQ(toks[1].kind, MOAT_TOK_NEWLINE);
	ASSERT_STREQ(toks[2].text, "c");

	/* exactly the limit is fine */
	s = malloc(MOAT_LEX_MAX_WORD + 1);
	ASSERT_TRUE(s);
	memset(s, 'b', MOAT_LEX_MAX_WORD);
	lex_all(s, MOAT_LEX_MAX_WORD);
	free(s);
	ASSERT_EQ(toks[0].kind, MOAT_TOK_WORD);
	ASSERT_EQ(toks[0].len, MOAT_LEX_MAX_WORD);
}

TEST(line_too_long)
{
	size_t n = 2 * MOAT_LEX_MAX_LINE, i;
	struct moat_token *t = malloc(sizeof(*t));
	char *src = malloc(n + 16);
	int errors = 0, words = 0;
	struct moat_lexer lx;

	ASSERT_TRUE(t && src);
	for (i = 0; i < n; i += 2) {
		src[i] = 'x';
		src[i + 1] = ' ';
	}
	strcpy(src + n, "\ny");
	moat_lex_init(&lx, "f.rules", src, strlen(src));
	do {
		moat_lex_next(&lx, t);
		if (t->kind == MOAT_TOK_ERROR) {
			errors++;
			if (!strstr(t->text, "line too long"))
				errors += 100;
		}
		if (t->kind == MOAT_TOK_WORD)
			words++;
	} while (t->kind != MOAT_TOK_EOF);
	free(t);
	free(src);
	/* one error for the line, not one per token after the limit */
	ASSERT_EQ(errors, 1);
	/* the words before the limit, then "y" on the next line */
	ASSERT_EQ(words, MOAT_LEX_MAX_LINE / 2 + 1);
}

TEST(kind_names)
{
	ASSERT_STREQ(moat_tok_kind_name(MOAT_TOK_EOF), "end of file");
	ASSERT_STREQ(moat_tok_kind_name(MOAT_TOK_NEWLINE), "end of line");
	ASSERT_STREQ(moat_tok_kind_name(MOAT_TOK_LBRACE), "'{'");
}

TEST(name_tables)
{
	ASSERT_EQ(moat_name_lookup(moat_proto_names, "gre"), 47);
	ASSERT_EQ(moat_name_lookup(moat_proto_names, "ipv6-icmp"), 58);
	ASSERT_STREQ(moat_name_of(moat_proto_names, 58), "icmpv6");
	ASSERT_EQ(moat_name_lookup(moat_port_names, "ssh"), 22);
	ASSERT_EQ(moat_name_lookup(moat_port_names, "https"), 443);
	ASSERT_EQ(moat_name_lookup(moat_port_names, "domain"), 53);
	ASSERT_EQ(moat_name_lookup(moat_icmp4_names, "echo-request"), 8);
	ASSERT_EQ(moat_name_lookup(moat_icmp6_names, "echo-request"), 128);
	ASSERT_EQ(moat_name_lookup(moat_icmp6_names, "neighbor-solicitation"),
		  135);
	ASSERT_EQ(moat_name_lookup(moat_ethertype_names, "arp"), 0x0806);
	ASSERT_EQ(moat_name_lookup(moat_ethertype_names, "lldp"), 0x88cc);
	ASSERT_EQ(moat_name_lookup(moat_port_names, "nosuch"), -1);
	ASSERT_TRUE(moat_name_of(moat_proto_names, 250) == NULL);
}

TEST(diag_print_formats)
{
	struct moat_diags d = { 0 };
	struct moat_loc full = { "a.rules", 3, 7 }, noline = { "b.txt", 0, 0 };
	struct moat_loc nocol = { "c.rules", 9, 0 };
	char buf[1024] = "";
	char file[] = "tmp.rules";
	struct moat_loc owned = { file, 1, 1 };
	FILE *f;

	moat_diag_add(&d, MOAT_DIAG_ERROR, &full, "bad %s %d", "thing", 42);
	moat_diag_add(&d, MOAT_DIAG_WARNING, &noline, "empty");
	moat_diag_add(&d, MOAT_DIAG_NOTE, NULL, "stopping");
	moat_diag_add(&d, MOAT_DIAG_ERROR, &nocol, "x");
	moat_diag_add(&d, MOAT_DIAG_ERROR, &owned, "copy");
	/* the diagnostic owns a copy of its file name */
	file[0] = 'X';
	ASSERT_EQ(d.n, 5);
	ASSERT_EQ(d.nerrors, 3);
	f = fmemopen(buf, sizeof(buf), "w");
	ASSERT_TRUE(f);
	moat_diags_print(&d, f);
	fclose(f);
	moat_diags_free(&d);
	ASSERT_EQ(d.n, 0);
	ASSERT_STREQ(buf, "a.rules:3:7: error: bad thing 42\n"
			  "b.txt: warning: empty\n"
			  "moat: note: stopping\n"
			  "c.rules:9: error: x\n"
			  "tmp.rules:1:1: error: copy\n");
}

/* Read the repository's rules/REFERENCE.md (found from the cwd or from
 * build/tests/<binary>). */
static char *read_reference(void)
{
	char exe[1024], path[1200];
	static char *buf;
	ssize_t n;
	FILE *f;
	long len;
	int up;

	f = fopen("rules/REFERENCE.md", "r");
	if (!f) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		for (up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');

			if (slash)
				*slash = 0;
		}
		snprintf(path, sizeof(path), "%s/rules/REFERENCE.md", exe);
		f = fopen(path, "r");
	}
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	free(buf);
	buf = calloc(1, len + 1);
	if (buf && fread(buf, 1, len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

TEST(reference_documents_every_name)
{
	const struct moat_name *tables[] = {
		moat_proto_names, moat_port_names, moat_icmp4_names,
		moat_icmp6_names, moat_ethertype_names,
	};
	const char *doc = read_reference();
	const struct moat_name *t;
	char quoted[128];
	size_t i;

	ASSERT_TRUE(doc);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		for (t = tables[i]; t->name; t++) {
			snprintf(quoted, sizeof(quoted), "`%s`", t->name);
			if (!strstr(doc, quoted)) {
				TEST_FAIL("rules/REFERENCE.md does not list %s",
					  quoted);
				return;
			}
		}
	}
}

static char *capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/moat_test_log_XXXXXX";
	int fd = mkstemp(path), saved;
	static char buf[4096];
	ssize_t n;

	if (fd < 0)
		return NULL;
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return buf;
}

static void log_some(void)
{
	moat_log_level = LOG_INFO;
	pr_err("bad %d", 1);
	pr_warn("careful\n");
	pr_info("hello");
	pr_debug("hidden");
	moat_log_level = LOG_DEBUG;
	pr_debug("shown");
	moat_log_level = LOG_ERR;
	pr_warn("hidden too");
	moat_log_level = LOG_INFO;
}

TEST(log_levels_and_prefixes)
{
	char *out;

	ASSERT_EQ(moat_log_level, LOG_INFO);
	out = capture_stderr(log_some);
	ASSERT_TRUE(out);
	ASSERT_STREQ(out, "moat: error: bad 1\n"
			  "moat: warning: careful\n"
			  "hello\n"
			  "moat: debug: shown\n");
}

int main(void)
{
	RUN(kinds_and_text);
	RUN(eof_repeats);
	RUN(words_keep_punctuation);
	RUN(punctuation_splits_words);
	RUN(locations);
	RUN(source_spans_and_spacing);
	RUN(comments);
	RUN(crlf);
	RUN(non_ascii_in_comments_and_strings);
	RUN(non_ascii_outside_is_error);
	RUN(control_character);
	RUN(nul_bytes);
	RUN(unterminated_string);
	RUN(word_too_long);
	RUN(line_too_long);
	RUN(kind_names);
	RUN(name_tables);
	RUN(reference_documents_every_name);
	RUN(diag_print_formats);
	RUN(log_levels_and_prefixes);
	return test_summary("lex");
}
