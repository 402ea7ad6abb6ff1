// SPDX-License-Identifier: GPL-2.0
/* out.c - text and JSON output from the same calls. */
#include <stdarg.h>
#include <inttypes.h>
#include "out.h"

#define OUT_MAX_DEPTH 32

static FILE *out_f;
static bool out_json;
static int depth;
static bool need_comma[OUT_MAX_DEPTH];

void out_init(FILE *f, bool json)
{
	out_f = f;
	out_json = json;
	depth = 0;
	need_comma[0] = false;
}

bool out_is_json(void)
{
	return out_json;
}

void json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void json_key(const char *key)
{
	if (need_comma[depth])
		fputc(',', out_f);
	need_comma[depth] = true;
	if (key) {
		json_write_string(out_f, key);
		fputc(':', out_f);
	}
}

static void open_container(const char *key, char c)
{
	if (!out_json)
		return;
	json_key(key);
	fputc(c, out_f);
	if (depth < OUT_MAX_DEPTH - 1)
		depth++;
	need_comma[depth] = false;
}

static void close_container(char c)
{
	if (!out_json)
		return;
	fputc(c, out_f);
	if (depth > 0)
		depth--;
}

void out_obj_open(const char *key)
{
	open_container(key, '{');
}

void out_obj_close(void)
{
	close_container('}');
}

void out_arr_open(const char *key)
{
	open_container(key, '[');
}

void out_arr_close(void)
{
	close_container(']');
}

void out_str(const char *key, const char *fmt, const char *val)
{
	if (out_json) {
		json_key(key);
		if (val)
			json_write_string(out_f, val);
		else
			fputs("null", out_f);
	} else if (fmt) {
		fprintf(out_f, fmt, val ? val : "-");
	}
}

void out_u64(const char *key, const char *fmt, uint64_t val)
{
	if (out_json) {
		json_key(key);
		fprintf(out_f, "%" PRIu64, val);
	} else if (fmt) {
		fprintf(out_f, fmt, val);
	}
}

void out_i64(const char *key, const char *fmt, int64_t val)
{
	if (out_json) {
		json_key(key);
		fprintf(out_f, "%" PRId64, val);
	} else if (fmt) {
		fprintf(out_f, fmt, val);
	}
}

void out_bool(const char *key, const char *fmt, bool val)
{
	if (out_json) {
		json_key(key);
		fputs(val ? "true" : "false", out_f);
	} else if (fmt) {
		fprintf(out_f, fmt, val ? "yes" : "no");
	}
}

void out_null(const char *key, const char *fmt)
{
	if (out_json) {
		json_key(key);
		fputs("null", out_f);
	} else if (fmt) {
		fputs(fmt, out_f);
	}
}

void out_text(const char *fmt, ...)
{
	va_list ap;

	if (out_json)
		return;
	va_start(ap, fmt);
	vfprintf(out_f, fmt, ap);
	va_end(ap);
}

void out_finish(void)
{
	if (out_json)
		fputc('\n', out_f);
	fflush(out_f);
}
