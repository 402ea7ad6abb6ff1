/* SPDX-License-Identifier: GPL-2.0 */
/*
 * out.h - the one output layer: every command prints through these calls,
 * which write either text or JSON (like iproute2's print_* with -j).
 *
 * In text mode, `fmt` (a printf format for the value) is printed and keys
 * are ignored; a NULL fmt prints nothing.  In JSON mode the key and value
 * are emitted and fmt is ignored.  Containers opened with a NULL key are
 * anonymous (array elements).  out_text() prints only in text mode.
 */
#ifndef MOAT_OUT_H
#define MOAT_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void out_init(FILE *f, bool json);
bool out_is_json(void);
void out_obj_open(const char *key);
void out_obj_close(void);
void out_arr_open(const char *key);
void out_arr_close(void);
void out_str(const char *key, const char *fmt, const char *val);
void out_u64(const char *key, const char *fmt, uint64_t val);
void out_i64(const char *key, const char *fmt, int64_t val);
void out_bool(const char *key, const char *fmt, bool val);
void out_null(const char *key, const char *fmt);
__attribute__((format(printf, 1, 2))) void out_text(const char *fmt, ...);
/* Ends the document (closes a JSON line with a newline). */
void out_finish(void);

/* Escape s as a JSON string (with quotes) into f. */
void json_write_string(FILE *f, const char *s);

#endif /* MOAT_OUT_H */
