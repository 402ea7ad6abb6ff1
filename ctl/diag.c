// SPDX-License-Identifier: GPL-2.0
/*
 * diag.c - diagnostics collected while reading and compiling rule files.
 *
 * Each diagnostic owns a copy of its file name, so diagnostics stay
 * printable after the rule set they point into has been freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void moat_diag_add(struct moat_diags *d, enum moat_diag_level level,
		   const struct moat_loc *loc, const char *fmt, ...)
{
	struct moat_diag *v, *e;
	char *msg = NULL, *file = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg = NULL;
	if (loc && loc->file)
		file = strdup(loc->file);
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v) {
		/* out of memory: count the error even if we cannot keep it */
		free(msg);
		free(file);
		if (level == MOAT_DIAG_ERROR)
			d->nerrors++;
		return;
	}
	d->v = v;
	e = &v[d->n++];
	memset(e, 0, sizeof(*e));
	e->level = level;
	if (loc) {
		e->loc = *loc;
		e->loc.file = file;
	}
	e->msg = msg;
	if (level == MOAT_DIAG_ERROR)
		d->nerrors++;
}

static const char *level_name(enum moat_diag_level level)
{
	switch (level) {
	case MOAT_DIAG_ERROR:
		return "error";
	case MOAT_DIAG_WARNING:
		return "warning";
	case MOAT_DIAG_NOTE:
		return "note";
	}
	return "error";
}

void moat_diags_print(const struct moat_diags *d, FILE *out)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct moat_diag *e = &d->v[i];
		const char *msg = e->msg ? e->msg : "(out of memory)";

		if (!e->loc.file)
			fprintf(out, "moat: %s: %s\n", level_name(e->level),
				msg);
		else if (!e->loc.line)
			fprintf(out, "%s: %s: %s\n", e->loc.file,
				level_name(e->level), msg);
		else if (!e->loc.col)
			fprintf(out, "%s:%u: %s: %s\n", e->loc.file,
				e->loc.line, level_name(e->level), msg);
		else
			fprintf(out, "%s:%u:%u: %s: %s\n", e->loc.file,
				e->loc.line, e->loc.col, level_name(e->level),
				msg);
	}
}

void moat_diags_free(struct moat_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free((char *)d->v[i].loc.file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
