/* SPDX-License-Identifier: GPL-2.0 */
/* hash.h - small hash helpers shared by the compiler and the layout. */
#ifndef MOAT_HASH_H
#define MOAT_HASH_H

#include <stdint.h>

/* 64-bit finaliser (murmur3 fmix64): spreads every input bit. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif /* MOAT_HASH_H */
