/* SPDX-License-Identifier: GPL-2.0 */
/*
 * log.h - the one logging helper of ctl/.  Messages go to stderr; errors
 * and warnings carry a "moat: error: " / "moat: warning: " prefix.  Library
 * code (parser, compiler, map writer) does not log: it returns errors or
 * adds diagnostics (diag.h).
 *
 * Note: the level names clash with <syslog.h>; do not include both.
 */
#ifndef MOAT_LOG_H
#define MOAT_LOG_H

enum {
	LOG_ERR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Messages above this level are not printed (default LOG_INFO; -v raises
 * it to LOG_DEBUG). */
extern int moat_log_level;

__attribute__((format(printf, 2, 3))) void moat_log(int level,
						     const char *fmt, ...);

#define pr_err(...) moat_log(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) moat_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...) moat_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) moat_log(LOG_DEBUG, __VA_ARGS__)

#endif /* MOAT_LOG_H */
