// SPDX-License-Identifier: GPL-2.0
/*
 * log.c - stderr logging with levels (see log.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int moat_log_level = LOG_INFO;

void moat_log(int level, const char *fmt, ...)
{
	int saved = errno;
	size_t n = strlen(fmt);
	va_list ap;

	if (level > moat_log_level)
		goto out;
	switch (level) {
	case LOG_ERR:
		fputs("moat: error: ", stderr);
		break;
	case LOG_WARN:
		fputs("moat: warning: ", stderr);
		break;
	case LOG_DEBUG:
		fputs("moat: debug: ", stderr);
		break;
	default:
		break;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (!n || fmt[n - 1] != '\n')
		fputc('\n', stderr);
	fflush(stderr);
out:
	errno = saved;
}
