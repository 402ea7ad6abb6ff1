/* SPDX-License-Identifier: GPL-2.0 */
/*
 * setcache.h - a cache, across moat runs, of what the compiler and the
 * layout derive from big address sets.
 *
 * Re-applying a rule file beside an unchanged 1,000,000-prefix set must not
 * sort, intern and lay out the million prefixes again.  The compiler keys
 * the address part of its output (trie prefixes with their classes, the
 * class table, the kernel layout of the addresses) by a hash of everything
 * it is computed from: the address atoms of the rules and the content of
 * the sets they name.  The cache is content-addressed: a set file that
 * changes in any way changes the key, whatever its size or timestamps; a
 * hit gives exactly what a fresh build would.
 *
 * Entries are files `KIND-KEY` in the cache directory: $MOAT_CACHE_DIR,
 * else /run/moat/cache ("" or "off" disables the cache).  Each holds a
 * header (magic, kind, key, payload length, payload hash) and the payload;
 * an entry that does not verify is a miss.  Keys are salted with a random
 * secret of the directory and the identity of the moat binary; the
 * directory and its entries must belong to the user and be writable by
 * nobody else, or the cache is not used.  Entries are only written while
 * the file system keeps plenty of room.  Written to a temporary name and
 * renamed, so readers see whole entries only; each kind keeps its few most
 * recently used entries.  Small inputs are not cached: they build in
 * milliseconds.
 *
 * Library code: never prints; a cache that cannot be read or written is
 * only a miss.
 */
#ifndef MOAT_SETCACHE_H
#define MOAT_SETCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MOAT_CACHE_DIR "/run/moat/cache"

/* Inputs with fewer set elements than this are built without the cache
 * (tests lower it). */
extern size_t moat_cache_min_elems;

/* Counters of this process, for tests and -v. */
struct moat_cache_stats {
	unsigned long hits, misses, stores;
};
extern struct moat_cache_stats moat_cache_stats;

/* Seed for the content hashes that make keys: a secret of the cache
 * directory mixed with the identity of the running binary; 0 when the
 * cache is off (nothing is then looked up or stored). */
uint64_t moat_cache_salt(void);

struct moat_cache_entry {
	void *map; /* the whole file, MAP_PRIVATE, read/write */
	size_t maplen;
	void *data; /* payload inside map */
	size_t len;
};

/* Look up KIND-KEY.  0 with *e filled (payload verified), -ENOENT on a
 * miss (absent, stale, corrupt, cache disabled), or -errno. */
int moat_cache_get(const char *kind, uint64_t key, struct moat_cache_entry *e);
void moat_cache_release(struct moat_cache_entry *e);

/* Store KIND-KEY from the concatenation of iov[0..n).  0 or -errno. */
int moat_cache_put(const char *kind, uint64_t key, const struct iovec *iov,
		   int n);

#endif /* MOAT_SETCACHE_H */
