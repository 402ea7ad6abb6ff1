/* SPDX-License-Identifier: GPL-2.0 */
/*
 * diag.h - diagnostics collected while reading and compiling rule files,
 * printed gcc style: FILE:LINE:COL: error: message
 */
#ifndef MOAT_DIAG_H
#define MOAT_DIAG_H

#include <stdio.h>
#include "ruleset.h"

enum moat_diag_level {
	MOAT_DIAG_ERROR,
	MOAT_DIAG_WARNING,
	MOAT_DIAG_NOTE,
};

struct moat_diag {
	enum moat_diag_level level;
	struct moat_loc loc; /* loc.file may be NULL for file-less errors */
	char *msg;
};

struct moat_diags {
	struct moat_diag *v;
	size_t n;
	size_t nerrors;
};

__attribute__((format(printf, 4, 5))) void
moat_diag_add(struct moat_diags *d, enum moat_diag_level level,
	      const struct moat_loc *loc, const char *fmt, ...);
void moat_diags_print(const struct moat_diags *d, FILE *out);
void moat_diags_free(struct moat_diags *d);

#endif /* MOAT_DIAG_H */
