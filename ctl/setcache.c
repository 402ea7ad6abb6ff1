// SPDX-License-Identifier: GPL-2.0
/*
 * setcache.c - content-addressed cache files (see setcache.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hash.h"
#include "setcache.h"

#define CACHE_MAGIC 0x3130434d54414f4dULL /* "MOATMC01" */
#define CACHE_KEEP_MAX 16

/* entries kept per kind: big ones (an address part is ~60 MiB for a
 * million prefixes) for the current and the previous rule set */
static size_t keep_of(const char *kind)
{
	if (!strcmp(kind, "addr"))
		return 2;
	if (!strcmp(kind, "setfile"))
		return 4;
	return CACHE_KEEP_MAX;
}

size_t moat_cache_min_elems = 65536;
struct moat_cache_stats moat_cache_stats;

struct cache_hdr {
	uint64_t magic;
	char kind[16];
	uint64_t key;
	uint64_t len; /* payload bytes, after the header */
	uint64_t sum; /* moat_hash_mem of the payload */
};

static const char *cache_dir(void)
{
	const char *d = getenv("MOAT_CACHE_DIR");

	if (!d)
		return MOAT_CACHE_DIR;
	if (!*d || !strcmp(d, "off"))
		return NULL;
	return d;
}

/* a directory (or file) only we can write: else its entries are not
 * trusted, as they decide what the firewall enforces */
static bool ours(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & 022);
}

static bool dir_ours(const char *dir)
{
	struct stat st;

	return !stat(dir, &st) && S_ISDIR(st.st_mode) && ours(&st);
}

static int mkdirs(const char *dir);

/*
 * The salt of every key: a random secret kept in the cache directory (so
 * that set contents cannot be crafted to collide with another's key) and
 * the identity of the running binary (so that an upgraded moat, whose
 * compiler may lay things out differently, never reads an older moat's
 * entries).  0 when the cache is disabled or unusable.
 */
uint64_t moat_cache_salt(void)
{
	static char salted_dir[256];
	static uint64_t salt;
	const char *dir = cache_dir();
	uint64_t secret[2] = { 0, 0 };
	char path[512];
	struct stat st;
	int fd;

	if (!dir || strlen(dir) >= sizeof(salted_dir))
		return 0;
	if (salt && !strcmp(dir, salted_dir))
		return salt;
	if (mkdirs(dir) || !dir_ours(dir))
		return 0;
	snprintf(path, sizeof(path), "%s/secret", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		char tmp[600];

		if (getrandom(secret, sizeof(secret), 0) != sizeof(secret))
			return 0;
		snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return 0;
		if (write(fd, secret, sizeof(secret)) != sizeof(secret) ||
		    close(fd) || link(tmp, path)) {
			unlink(tmp);
			if (errno != EEXIST)
				return 0;
		} else {
			unlink(tmp);
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || !ours(&st) || (st.st_mode & 077) ||
	    read(fd, secret, sizeof(secret)) != sizeof(secret)) {
		close(fd);
		return 0;
	}
	close(fd);
	salt = moat_hash_mem(secret, sizeof(secret), 0x73616c74);
	if (!stat("/proc/self/exe", &st)) {
		uint64_t id[5] = { st.st_dev, st.st_ino, (uint64_t)st.st_size,
				   (uint64_t)st.st_mtim.tv_sec,
				   (uint64_t)st.st_mtim.tv_nsec };

		salt = moat_hash_mem(id, sizeof(id), salt);
	}
	salt = salt ? salt : 1;
	snprintf(salted_dir, sizeof(salted_dir), "%s", dir);
	return salt;
}

static int entry_path(char *buf, size_t len, const char *dir, const char *kind,
		      uint64_t key)
{
	int n = snprintf(buf, len, "%s/%s-%016llx", dir, kind,
			 (unsigned long long)key);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool kind_ok(const char *kind)
{
	size_t n = strlen(kind);

	return n && n < sizeof(((struct cache_hdr *)0)->kind) &&
	       !strchr(kind, '/') && !strchr(kind, '-');
}

int moat_cache_get(const char *kind, uint64_t key, struct moat_cache_entry *e)
{
	const char *dir = cache_dir();
	const struct cache_hdr *h;
	char path[512];
	struct stat st;
	void *map;
	int fd, err;

	memset(e, 0, sizeof(*e));
	if (!dir || !kind_ok(kind) || !moat_cache_salt())
		return -ENOENT;
	err = entry_path(path, sizeof(path), dir, kind, key);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		moat_cache_stats.misses++;
		return -ENOENT;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !ours(&st) ||
	    (size_t)st.st_size < sizeof(*h)) {
		close(fd);
		moat_cache_stats.misses++;
		return -ENOENT;
	}
	/* populated at once, as the payload hash reads all of it (read-only:
	 * populating a writable private mapping would copy every page); then
	 * writable, so that users may patch their copy (copy on write) */
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
		   0);
	close(fd);
	if (map != MAP_FAILED &&
	    mprotect(map, st.st_size, PROT_READ | PROT_WRITE)) {
		munmap(map, st.st_size);
		map = MAP_FAILED;
	}
	if (map == MAP_FAILED) {
		moat_cache_stats.misses++;
		return -ENOENT;
	}
	h = map;
	if (h->magic != CACHE_MAGIC ||
	    strncmp(h->kind, kind, sizeof(h->kind)) || h->key != key ||
	    h->len != (size_t)st.st_size - sizeof(*h) ||
	    h->sum != moat_hash_mem((const char *)map + sizeof(*h), h->len,
				    key)) {
		munmap(map, st.st_size);
		moat_cache_stats.misses++;
		return -ENOENT;
	}
	utimensat(AT_FDCWD, path, NULL, 0); /* recently used */
	e->map = map;
	e->maplen = st.st_size;
	e->data = (char *)map + sizeof(*h);
	e->len = h->len;
	moat_cache_stats.hits++;
	return 0;
}

void moat_cache_release(struct moat_cache_entry *e)
{
	if (e->map)
		munmap(e->map, e->maplen);
	memset(e, 0, sizeof(*e));
}

/* Keep the keep_of(kind) most recently used entries of kind. */
static void evict(const char *dir, const char *kind)
{
	struct {
		char name[64];
		struct timespec t;
	} keep[CACHE_KEEP_MAX + 1];
	size_t nkeep = 0, klen = strlen(kind), max = keep_of(kind);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		size_t i;

		if (strncmp(de->d_name, kind, klen) ||
		    de->d_name[klen] != '-' ||
		    strlen(de->d_name) >= sizeof(keep[0].name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (strstr(de->d_name, ".tmp")) {
			/* a writer's; one that died left it: gone after 10m */
			if (st.st_mtim.tv_sec < time(NULL) - 600)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		/* insert by time, newest first, into max + 1 places; the
		 * oldest of max + 1 goes */
		for (i = nkeep; i > 0; i--) {
			const struct timespec *o = &keep[i - 1].t;

			if (o->tv_sec > st.st_mtim.tv_sec ||
			    (o->tv_sec == st.st_mtim.tv_sec &&
			     o->tv_nsec >= st.st_mtim.tv_nsec))
				break;
			if (i < max + 1)
				keep[i] = keep[i - 1];
		}
		if (i < max + 1) {
			snprintf(keep[i].name, sizeof(keep[i].name), "%s",
				 de->d_name);
			keep[i].t = st.st_mtim;
		}
		if (nkeep < max + 1)
			nkeep++;
		if (nkeep == max + 1) {
			unlinkat(dirfd(d), keep[max].name, 0);
			nkeep = max;
		}
	}
	closedir(d);
}

static int mkdirs(const char *dir)
{
	char buf[512], *p;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p = (const char *)p + r;
		n -= r;
	}
	return 0;
}

int moat_cache_put(const char *kind, uint64_t key, const struct iovec *iov,
		   int n)
{
	const char *dir = cache_dir();
	struct cache_hdr h;
	struct statvfs vfs;
	char path[512], tmp[600];
	int fd, err, i;

	if (!dir || !kind_ok(kind) || !moat_cache_salt())
		return -ENOENT;
	err = entry_path(path, sizeof(path), dir, kind, key);
	if (err)
		return err;
	memset(&h, 0, sizeof(h));
	h.magic = CACHE_MAGIC;
	snprintf(h.kind, sizeof(h.kind), "%s", kind);
	h.key = key;
	for (i = 0; i < n; i++)
		h.len += iov[i].iov_len;
	/* never crowd the file system (/run is small on some systems): the
	 * cache only uses room that stays plentiful */
	if (statvfs(dir, &vfs) ||
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * (h.len + sizeof(h)))
		return -ENOSPC;
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	unlink(tmp); /* a crashed run's */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, &h, sizeof(h));
	for (i = 0; !err && i < n; i++)
		err = write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (!err) {
		/* the payload hash, over the file just written: its pages
		 * are in the page cache, so no copy of the pieces is made */
		size_t flen = sizeof(h) + h.len;
		void *m = mmap(NULL, flen, PROT_READ, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED) {
			err = -errno;
		} else {
			h.sum = moat_hash_mem((const char *)m + sizeof(h),
					      h.len, key);
			munmap(m, flen);
			if (pwrite(fd, &h, sizeof(h), 0) != sizeof(h))
				err = errno ? -errno : -EIO;
		}
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	moat_cache_stats.stores++;
	evict(dir, kind);
	return 0;
}
