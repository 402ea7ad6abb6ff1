/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - shared bits of moat's fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize).  Linked with -fsanitize=fuzzer it is a libFuzzer
 * binary (`make fuzz`); linked with replay.c it is a plain program that
 * feeds it files and directories (`make check` replays the corpus and
 * tests/fuzz/regress/ that way).  A target reports a broken invariant with
 * fuzz_fail(), which aborts so both drivers see a crash.
 */
#ifndef MOAT_FUZZ_H
#define MOAT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_fail(...)                                                         \
	do {                                                                   \
		fprintf(stderr, "fuzz invariant broken: " __VA_ARGS__);        \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

#endif /* MOAT_FUZZ_H */
