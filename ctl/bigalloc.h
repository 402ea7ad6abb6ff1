/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bigalloc.h - malloc/calloc for big arrays (a million prefixes and more),
 * backed by transparent huge pages where the kernel has them.
 *
 * A fresh 4 KiB page costs a fault and a zeroing on first touch; an array
 * of 16 MiB is 4096 of them, which on some virtual machines (shadow page
 * tables) costs ~100 ms.  With MADV_HUGEPAGE the same array is 8 faults.
 * The memory is ordinary malloc memory: free() releases it.  Small sizes
 * and kernels without THP get plain malloc behaviour.
 */
#ifndef MOAT_BIGALLOC_H
#define MOAT_BIGALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define MOAT_HUGE_MIN (4UL << 20)

static inline void moat_advise_huge(void *p, size_t len)
{
	const uintptr_t h = 2UL << 20;
	uintptr_t a, e;

	if (!p || len < MOAT_HUGE_MIN)
		return;
	a = ((uintptr_t)p + h - 1) & ~(h - 1);
	e = ((uintptr_t)p + len) & ~(h - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE); /* a hint only */
}

/* malloc(len), its pages not yet touched when they come from mmap */
static inline void *moat_malloc_big(size_t len)
{
	void *p = malloc(len ? len : 1);

	moat_advise_huge(p, len);
	return p;
}

static inline void *moat_calloc_big(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	moat_advise_huge(p, n * size);
	return p;
}

#endif /* MOAT_BIGALLOC_H */
