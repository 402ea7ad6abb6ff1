/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test.h - minimal test harness for moat's C test suites.
 *
 *   TEST(name) { ASSERT_EQ(a, b); ... }
 *   int main(void) { RUN(name); ...; return test_summary("suite"); }
 *
 * Every test prints "ok - suite/name" or "not ok - suite/name: why".  The
 * suite ends with "SUMMARY passed=N failed=N skipped=N", which tests/run.sh
 * adds up over all suites.  An ASSERT failure ends the current test only.
 */
#ifndef MOAT_TEST_H
#define MOAT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_skipped;
static int test_cur_failed, test_cur_skipped;
static const char *test_cur_name;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                              \
	do {                                                                   \
		test_cur_name = #name;                                         \
		test_cur_failed = 0;                                           \
		test_cur_skipped = 0;                                          \
		test_##name();                                                 \
		if (test_cur_skipped) {                                        \
			test_skipped++;                                        \
		} else if (test_cur_failed) {                                  \
			test_failed++;                                         \
		} else {                                                       \
			test_passed++;                                         \
			printf("ok - %s\n", #name);                            \
		}                                                              \
		fflush(stdout);                                                \
	} while (0)

#define TEST_FAIL(fmt, ...)                                                    \
	do {                                                                   \
		printf("not ok - %s: %s:%d: " fmt "\n", test_cur_name,         \
		       __FILE__, __LINE__, ##__VA_ARGS__);                     \
		test_cur_failed = 1;                                           \
	} while (0)

#define SKIP(fmt, ...)                                                         \
	do {                                                                   \
		printf("skip - %s: " fmt "\n", test_cur_name, ##__VA_ARGS__);  \
		test_cur_skipped = 1;                                          \
		return;                                                        \
	} while (0)

#define ASSERT_TRUE(c)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			TEST_FAIL("expected true: %s", #c);                    \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))

#define ASSERT_EQ(a, b)                                                        \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			TEST_FAIL("%s == %s: got %lld, want %lld", #a, #b, _a, \
				  _b);                                         \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_NE(a, b)                                                        \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a == _b) {                                                \
			TEST_FAIL("%s != %s: both %lld", #a, #b, _a);          \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_STREQ(a, b)                                                     \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (!_a || !_b || strcmp(_a, _b)) {                            \
			TEST_FAIL("%s == %s: got \"%s\", want \"%s\"", #a, #b, \
				  _a ? _a : "(null)", _b ? _b : "(null)");     \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                           \
	do {                                                                   \
		const char *_h = (hay), *_n = (needle);                        \
		if (!_h || !strstr(_h, _n)) {                                  \
			TEST_FAIL("%s contains \"%s\": got \"%s\"", #hay, _n,  \
				  _h ? _h : "(null)");                         \
			return;                                                \
		}                                                              \
	} while (0)

static inline int test_summary(const char *suite)
{
	printf("SUMMARY %s passed=%d failed=%d skipped=%d\n", suite,
	       test_passed, test_failed, test_skipped);
	return test_failed ? 1 : 0;
}

#endif /* MOAT_TEST_H */
