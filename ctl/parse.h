/* SPDX-License-Identifier: GPL-2.0 */
/*
 * parse.h - rule text -> tokens (lex.c) -> struct moat_ruleset (parse.c).
 * Reports every error it finds into diags; the rule set is valid only when
 * diags->nerrors == 0.
 */
#ifndef MOAT_PARSE_H
#define MOAT_PARSE_H

#include "diag.h"
#include "ruleset.h"

/* Parse a rule file (following includes and set files).  Returns 0 when the
 * file parsed without errors, -EINVAL when diags holds errors, or another
 * -errno.  On success *rs is filled and must be freed by the caller. */
int moat_parse_file(const char *path, struct moat_ruleset *rs,
		    struct moat_diags *diags);

/* Same for text in memory; `name` is used in diagnostics, includes and set
 * files resolve relative to `basedir` (NULL = current directory). */
int moat_parse_string(const char *name, const char *text, const char *basedir,
		      struct moat_ruleset *rs, struct moat_diags *diags);

/* Read a set file (one address or prefix per line, '#' comments). */
int moat_parse_set_file(const char *path, struct moat_prefix **elems,
			size_t *n, struct moat_diags *diags);

#endif /* MOAT_PARSE_H */
