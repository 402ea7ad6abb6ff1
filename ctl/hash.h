/* SPDX-License-Identifier: GPL-2.0 */
/* hash.h - small hash helpers shared by the compiler and the layout. */
#ifndef MOAT_HASH_H
#define MOAT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "moat.h" /* moat_mix64: the 64-bit finaliser */

/* 64-bit hash of a byte range: four independent multiply lanes over 32-byte
 * blocks (several GB/s), for content keys and checksums.  Not a
 * cryptographic hash: a secret seed makes crafted collisions hard to find
 * (the inputs' author does not know it), not impossible. */
static inline uint64_t moat_hash_mem(const void *data, size_t len,
				     uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h[4] = { seed ^ 0x243f6a8885a308d3ULL,
			  seed ^ 0x13198a2e03707344ULL,
			  seed ^ 0xa4093822299f31d0ULL,
			  seed ^ 0x082efa98ec4e6c89ULL };
	uint64_t w, r;
	size_t i = 0;

	for (; i + 32 <= len; i += 32)
		for (int k = 0; k < 4; k++) {
			memcpy(&w, p + i + 8 * k, 8);
			h[k] = (h[k] ^ w) * 0x9e3779b97f4a7c15ULL;
			h[k] ^= h[k] >> 31;
		}
	r = moat_mix64(h[0]) ^ moat_mix64(h[1] + 1) ^ moat_mix64(h[2] + 2) ^
	    moat_mix64(h[3] + 3);
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		r = moat_mix64(r ^ w);
	}
	for (; i < len; i++)
		r = (r ^ p[i]) * 0x100000001b3ULL;
	return moat_mix64(r ^ len);
}

#endif /* MOAT_HASH_H */
