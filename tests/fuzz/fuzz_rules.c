// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_rules.c - fuzz target: rule text through the lexer, parser and
 * compiler (with a fake interface resolver), then the format round trip.
 *
 * Invariants (a broken one aborts):
 *  - parse returns 0 or -EINVAL, and -EINVAL exactly when there are errors;
 *    compile likewise; neither crashes, leaks or trips a sanitizer;
 *  - a rule set that parses prints (policy, sets, interfaces, rules, guard
 *    lines in normalised form) as text that parses again and prints the
 *    same: format -> parse -> format is the identity;
 *  - when the original compiled, the reprinted one compiles to an image
 *    with the same hash, rules and classifier entries.
 *
 * Includes and set files resolve in a private directory holding a few
 * small files; inputs naming absolute paths or '..' are skipped so the
 * fuzzer never reads the rest of the file system.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "compile.h"
#include "parse.h"

static char dir[] = "/tmp/moat-fuzz-rules.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void cleanup(void)
{
	static const char *const files[] = { "inc.rules", "inc2.rules",
					     "set.txt", "empty.txt" };
	char path[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(dir))
		abort();
	put("inc.rules", "set incset { 10.0.0.0/8, 2001:db8::/32 }\n"
			 "pass tcp from @incset to port 22\n");
	put("inc2.rules", "include \"inc.rules\"\ndrop udp\n");
	put("set.txt", "# set\n192.0.2.0/24\r\n2001:db8:1::/48\n\n10.1.2.3\n");
	put("empty.txt", "# nothing\n");
	atexit(cleanup);
	return 0;
}

static unsigned int fake_ifindex(const char *name, void *ctx)
{
	unsigned int h = 0;

	if (!strncmp(name, "no", 2))
		return 0;
	for (const char *p = name; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return 1 + h % 60;
}

static const char *const modes[] = { "auto", "native", "skb" };

/* the whole rule set in normalised form; NULL when it cannot be printed
 * as one file (a set read from an empty file has no inline form) */
static char *format_all(const struct moat_ruleset *rs)
{
	char *out = NULL, pf[64];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		abort();
	fprintf(f, "policy %s\n", rs->policy == MOAT_ACT_DROP ? "drop" : "pass");
	for (size_t i = 0; i < rs->nsets; i++) {
		const struct moat_set *s = &rs->sets[i];

		if (!s->n) {
			fclose(f);
			free(out);
			return NULL;
		}
		fprintf(f, "set %s {", s->name);
		for (size_t e = 0; e < s->n; e++) {
			moat_prefix_format(&s->elems[e], pf, sizeof(pf));
			fprintf(f, "%s %s", e ? "," : "", pf);
		}
		fprintf(f, " }\n");
	}
	for (size_t i = 0; i < rs->nifaces; i++)
		fprintf(f, "interface %s mode %s\n", rs->ifaces[i].name,
			modes[rs->ifaces[i].mode % 3]);
	for (size_t i = 0; i < rs->nrules + rs->nguards; i++) {
		const struct moat_rule_ast *r = i < rs->nrules ?
			&rs->rules[i] : &rs->guards[i - rs->nrules];
		char *t = moat_rule_format(rs, r);

		if (!t)
			abort();
		fprintf(f, "%s\n", t);
		free(t);
	}
	fclose(f);
	return out;
}

static int parse(const char *text, struct moat_ruleset *rs,
		 struct moat_diags *d)
{
	int err = moat_parse_string("fuzz.rules", text, dir, rs, d);

	if (err != 0 && err != -EINVAL)
		fuzz_fail("parse returned %d", err);
	if ((err == -EINVAL) != (d->nerrors > 0))
		fuzz_fail("parse returned %d with %zu errors", err, d->nerrors);
	for (size_t i = 0; i < d->n; i++)
		if (!d->v[i].msg || !d->v[i].msg[0])
			fuzz_fail("a diagnostic without a message");
	return err;
}

static int compile(const struct moat_ruleset *rs, struct moat_image *img,
		   struct moat_diags *d)
{
	struct moat_compile_opts o = { .ifindex = fake_ifindex };
	int err;

	memset(img, 0, sizeof(*img));
	err = moat_compile(rs, &o, img, d);
	if (err != 0 && err != -EINVAL)
		fuzz_fail("compile returned %d", err);
	if ((err == -EINVAL) != (d->nerrors > 0))
		fuzz_fail("compile returned %d with %zu errors", err,
			  d->nerrors);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moat_ruleset rs, rs2;
	struct moat_diags d, d2;
	struct moat_image img, img2;
	char *text, *t1 = NULL, *t2 = NULL;
	int err;

	if (size > (1 << 20))
		return 0;
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	if (strstr(text, "..") || strstr(text, "\"/")) {
		free(text);
		return 0;
	}
	memset(&rs, 0, sizeof(rs));
	memset(&rs2, 0, sizeof(rs2));
	memset(&d, 0, sizeof(d));
	memset(&d2, 0, sizeof(d2));
	memset(&img, 0, sizeof(img));
	memset(&img2, 0, sizeof(img2));
	if (parse(text, &rs, &d))
		goto out;
	err = compile(&rs, &img, &d);
	t1 = format_all(&rs);
	if (!t1)
		goto out;
	if (parse(t1, &rs2, &d2)) {
		fprintf(stderr, "--- printed rule set:\n%s---\n", t1);
		moat_diags_print(&d2, stderr);
		fuzz_fail("the printed rule set does not parse");
	}
	t2 = format_all(&rs2);
	if (!t2 || strcmp(t1, t2)) {
		fprintf(stderr, "--- first:\n%s--- second:\n%s---\n", t1,
			t2 ? t2 : "(none)");
		fuzz_fail("format -> parse -> format is not the identity");
	}
	if (!err) {
		moat_diags_free(&d2);
		memset(&d2, 0, sizeof(d2));
		if (compile(&rs2, &img2, &d2)) {
			moat_diags_print(&d2, stderr);
			fuzz_fail("the printed rule set does not compile");
		}
		if (img.hash != img2.hash || img.nrules != img2.nrules ||
		    img.ncls != img2.ncls)
			fuzz_fail("the printed rule set compiles differently: hash %016llx/%016llx rules %zu/%zu cls %zu/%zu",
				  (unsigned long long)img.hash,
				  (unsigned long long)img2.hash, img.nrules,
				  img2.nrules, img.ncls, img2.ncls);
	}
out:
	free(t1);
	free(t2);
	free(text);
	moat_image_free(&img);
	moat_image_free(&img2);
	moat_ruleset_free(&rs);
	moat_ruleset_free(&rs2);
	moat_diags_free(&d);
	moat_diags_free(&d2);
	return 0;
}
