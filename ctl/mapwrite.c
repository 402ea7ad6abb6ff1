// SPDX-License-Identifier: GPL-2.0
/*
 * mapwrite.c - write a compiled image into one generation slot.
 *
 * Order of a slot write (nothing visible to packets of the active slot
 * changes until the caller activates the slot):
 *   1. validate the image against the limits of include/moat.h and derive
 *      its kernel layout (layout.c: tuple masks, leaves, IPv4 cells);
 *   2. pick the address table: reuse the active slot's (or the slot's own)
 *      when it holds the same layout, else rewrite one the active slot
 *      does not use (old a4long/lpm6 entries of that table removed, a4tab
 *      range copied through mmap, new entries batched in);
 *   3. replace the slot's classifier entries in `cls` (old ones removed);
 *   4. the slot's aleaf and l4cls ranges (mmap), rules (batched),
 *      gen_info[slot] and the redirect targets.
 * Writing the slot that is currently active is allowed (first load) but is
 * not atomic; the loader writes the inactive slot and then activates it.
 *
 * Uses only the low-level bpf/bpf.h API; prints nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "layout.h"
#include "mapwrite.h"
#include "counters.h"

const char *const moat_map_names[MOAT_NMAPS] = {
	"config", "gen_info", "rules", "l4cls",	"cls",	      "aleaf",
	"a4top",  "a4tab",    "a4x",    "a4long", "lpm6",   "a6top", "a6mid",
	"a6long",
	"rule_stats", "stats", "redirect_map",
};

int *moat_map_fd_slot(struct moat_map_fds *f, size_t i)
{
	int *slots[MOAT_NMAPS] = {
		&f->config, &f->gen_info,   &f->rules, &f->l4cls,
		&f->cls,    &f->aleaf,	    &f->a4top, &f->a4tab, &f->a4x,
		&f->a4long,
		&f->lpm6,   &f->a6top,	    &f->a6mid, &f->a6long, &f->rule_stats,
		&f->stats,  &f->redirect_map,
	};
	return i < MOAT_NMAPS ? slots[i] : NULL;
}

int moat_map_fds_from_obj(struct bpf_object *obj, struct moat_map_fds *fds)
{
	for (size_t i = 0; i < MOAT_NMAPS; i++) {
		int fd = bpf_object__find_map_fd_by_name(obj, moat_map_names[i]);

		if (fd < 0)
			return -ENOENT;
		*moat_map_fd_slot(fds, i) = fd;
	}
	return 0;
}

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* errno of the last failed libbpf call as a negative value */
static int neg_errno(int ret)
{
	if (ret < 0 && ret != -1)
		return ret;
	return errno ? -errno : -EIO;
}

static int validate(const struct moat_image *img)
{
	size_t i;

	if (img->nrules > MOAT_MAX_RULES || img->ncls > MOAT_MAX_CLS_ENTRIES ||
	    img->nlpm4 > MOAT_MAX_LPM4 || img->nlpm6 > MOAT_MAX_LPM6 ||
	    img->nredirect > MOAT_MAX_IFACES ||
	    img->info.ntuples > MOAT_MAX_TUPLES)
		return -E2BIG;
	if ((img->nrules && !img->rules) || (img->ncls && !img->cls) ||
	    (img->nlpm4 && !img->lpm4) || (img->nlpm6 && !img->lpm6) ||
	    (img->nredirect && !img->redirect_ifindex))
		return -EINVAL;
	if (img->info.policy != MOAT_ACT_PASS &&
	    img->info.policy != MOAT_ACT_DROP)
		return -EINVAL;
	for (i = 0; i < img->nrules; i++)
		if (img->rules[i].id >= MOAT_RULE_IDS ||
		    img->rules[i].action > MOAT_ACT_REDIRECT)
			return -EINVAL;
	for (i = 0; i < img->ncls; i++)
		if (img->cls[i].val.pos >= img->nrules ||
		    img->cls[i].key.tuple >= img->info.ntuples)
			return -EINVAL;
	return 0;
}

/*
 * Batched update of n elements (keys and values contiguous); with
 * `fallback`, a kernel without batch support for the map type gets
 * per-element updates instead.
 */
static int update_batch(int fd, const void *keys, const void *vals,
			size_t n, size_t ksz, size_t vsz, int fallback)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	size_t done = 0, i;
	int ret;

	while (done < n) {
		__u32 count = n - done;

		errno = 0;
		ret = bpf_map_update_batch(fd, (const char *)keys + done * ksz,
					   (const char *)vals + done * vsz,
					   &count, &opts);
		if (!ret) {
			done = n;
			break;
		}
		ret = neg_errno(ret);
		if (fallback && done == 0 && count == 0 &&
		    (ret == -EINVAL || ret == -ENOTSUPP ||
		     ret == -EOPNOTSUPP))
			goto per_elem;
		if (ret != -EINTR && ret != -EAGAIN)
			return ret;
		done += count; /* partial progress: continue */
	}
	return 0;

per_elem:
	for (i = 0; i < n; i++) {
		ret = bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					  (const char *)vals + i * vsz, BPF_ANY);
		if (ret)
			return neg_errno(ret);
	}
	return 0;
}

static int write_rules(const struct moat_map_fds *fds, unsigned int slot,
		       const struct moat_image *img)
{
	__u32 *keys;
	size_t i;
	int ret;

	if (!img->nrules)
		return 0;
	keys = malloc(img->nrules * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < img->nrules; i++)
		keys[i] = slot * MOAT_MAX_RULES + i;
	ret = update_batch(fds->rules, keys, img->rules, img->nrules,
			   sizeof(*keys), sizeof(struct moat_rule), 1);
	free(keys);
	return ret;
}

/* mmap a whole BPF_F_MMAPABLE array; *len gets the mapping's length */
static void *map_mmap(int fd, size_t *len)
{
	struct bpf_map_info info;
	__u32 ilen = sizeof(info);
	long pg = sysconf(_SC_PAGESIZE);
	size_t sz;
	void *p;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return NULL;
	sz = (size_t)info.max_entries * ((info.value_size + 7) & ~7U);
	sz = (sz + pg - 1) & ~(size_t)(pg - 1);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = sz;
	return p;
}

/* The values of address table `tab` in map fd (n values of `size` bytes
 * per table), mmapped; munmap(*base, *len) when done.  NULL with errno
 * set if the mapping fails or the map is too small. */
static void *map_mmap_tab(int fd, unsigned int tab, size_t n, size_t size,
			  void **base, size_t *len)
{
	char *p = map_mmap(fd, len);

	if (!p)
		return NULL;
	if (((size_t)tab + 1) * n * size > *len) {
		munmap(p, *len);
		errno = EINVAL;
		return NULL;
	}
	*base = p;
	return p + (size_t)tab * n * size;
}

/* Copy n lines (src: the layout's u16 cells) into table tab of a top
 * table (a4top, a6top) through a mapping. */
static int write_top(int fd, unsigned int tab, const void *src, size_t n)
{
	size_t tlen = 0;
	struct moat_a4line *top = map_mmap(fd, &tlen);
	int ret = 0;

	if (!top)
		return neg_errno(-1);
	if (((size_t)tab + 1) * n * sizeof(*top) > tlen)
		ret = -EINVAL;
	else
		memcpy(top + (size_t)tab * n, src, n * sizeof(*top));
	munmap(top, tlen);
	return ret;
}

/* Append a key of ksz bytes to a growing list. */
static int keylist_add(char **list, size_t *n, size_t *cap, const void *key,
		       size_t ksz)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		char *p = realloc(*list, nc * ksz);

		if (!p)
			return -ENOMEM;
		*list = p;
		*cap = nc;
	}
	memcpy(*list + (*n)++ * ksz, key, ksz);
	return 0;
}

/*
 * Remove every entry of a hash or trie whose key satisfies match(key,
 * arg): keys dumped in batches (or walked one by one), then deleted.
 */
static int purge(int fd, size_t ksz, size_t vsz,
		 bool (*match)(const void *key, unsigned int arg),
		 unsigned int arg)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t cap = 0, n = 0, chunk = 65536, i;
	char *keys = NULL, *vals = NULL, *del = NULL;
	char in[64], out[64], *kp, *prev = NULL;
	bool first = true;
	int ret = 0;

	keys = malloc(chunk * ksz);
	vals = malloc(chunk * vsz);
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = chunk;
		int r;

		errno = 0;
		r = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys,
					 vals, &count, &opts);
		if (r && errno != ENOENT) {
			if (first && (errno == EINVAL || errno == ENOTSUPP ||
				      errno == EOPNOTSUPP))
				goto walk;
			ret = neg_errno(r);
			goto out;
		}
		for (i = 0; i < count; i++) {
			kp = keys + i * ksz;
			if (!match(kp, arg))
				continue;
			ret = keylist_add(&del, &n, &cap, kp, ksz);
			if (ret)
				goto out;
		}
		if (r) /* ENOENT: that was the last batch */
			break;
		memcpy(in, out, sizeof(in));
		first = false;
	}
	goto del;
walk:
	kp = keys; /* one key at a time */
	while (bpf_map_get_next_key(fd, prev, kp) == 0) {
		if (match(kp, arg)) {
			ret = keylist_add(&del, &n, &cap, kp, ksz);
			if (ret)
				goto out;
		}
		memcpy(keys + ksz, kp, ksz);
		prev = keys + ksz;
	}
del:
	for (i = 0; i < n;) {
		__u32 count = n - i;
		LIBBPF_OPTS(bpf_map_batch_opts, dopts);

		errno = 0;
		if (!bpf_map_delete_batch(fd, del + i * ksz, &count, &dopts)) {
			i = n;
			break;
		}
		if (i == 0 && count == 0 &&
		    (errno == EINVAL || errno == ENOTSUPP ||
		     errno == EOPNOTSUPP))
			break;
		if (errno != ENOENT) {
			ret = neg_errno(-1);
			goto out;
		}
		i += count + 1; /* skip the one already gone */
	}
	for (; i < n; i++) /* no batch delete: one at a time */
		if (bpf_map_delete_elem(fd, del + i * ksz) && errno != ENOENT) {
			ret = neg_errno(-1);
			goto out;
		}
out:
	free(keys);
	free(vals);
	free(del);
	return ret;
}

static bool cls_of_slot(const void *key, unsigned int slot)
{
	return ((const struct moat_cls_key *)key)->tuple / MOAT_MAX_TUPLES ==
	       slot;
}

static bool a4long_of_tab(const void *key, unsigned int tab)
{
	return ((const struct moat_a4long_key *)key)->tab_len >> 8 == tab;
}

static bool lpm6_of_tab(const void *key, unsigned int tab)
{
	return ((const struct moat_lpm6_key *)key)->dir == tab;
}

static bool a6long_of_tab(const void *key, unsigned int tab)
{
	return ((const struct moat_a6long_key *)key)->tab_len >> 8 == tab;
}

static uint64_t be64_of(const uint8_t *a)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | a[i];
	return v;
}

/* IPv6 part of address table tab: the a6top cells and a6mid lines
 * (through mmap) and the a6long entries. */
static int write_a6(const struct moat_map_fds *fds, unsigned int tab,
		    const struct moat_layout *lo)
{
	struct moat_a6long_key *lk = calloc(lo->nlong6 + 1, sizeof(*lk));
	__u32 *lv = calloc(lo->nlong6 + 1, sizeof(*lv));
	struct moat_a6mid *lines;
	void *base = NULL;
	size_t i, len = 0;
	int ret = -ENOMEM;

	if (!lk || !lv)
		goto out;
	lines = map_mmap_tab(fds->a6mid, tab, MOAT_A6_LINES, sizeof(*lines),
			     &base, &len);
	if (!lines) {
		ret = neg_errno(-1);
		goto out;
	}
	ret = moat_a6_place(lines, lo);
	if (ret)
		goto out;
	ret = write_top(fds->a6top, tab, lo->a6top, MOAT_A6_TOP_LINES);
	if (ret)
		goto out;
	for (i = 0; i < lo->nlong6; i++) {
		lk[i].tab_len = tab << 8 | lo->long6[i].plen;
		lk[i].hi = be64_of(lo->long6[i].addr);
		lk[i].lo = be64_of(lo->long6[i].addr + 8);
		lv[i] = lo->long6[i].leaf;
	}
	ret = update_batch(fds->a6long, lk, lv, lo->nlong6, sizeof(*lk),
			   sizeof(*lv), 1);
out:
	if (base)
		munmap(base, len);
	free(lk);
	free(lv);
	return ret;
}

static int write_cls(const struct moat_map_fds *fds, unsigned int slot,
		     const struct moat_image *img)
{
	struct moat_cls_key *keys = NULL;
	struct moat_cls_val *vals = NULL;
	size_t n = img->ncls, i;
	int ret;

	ret = purge(fds->cls, sizeof(*keys), sizeof(*vals), cls_of_slot, slot);
	if (ret || !n)
		return ret;
	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		keys[i] = img->cls[i].key;
		keys[i].tuple += slot * MOAT_MAX_TUPLES;
		vals[i] = img->cls[i].val;
	}
	ret = update_batch(fds->cls, keys, vals, n, sizeof(*keys),
			   sizeof(*vals), 1);
out:
	free(keys);
	free(vals);
	return ret;
}

/*
 * The /24 cells of one table.  A /16 that a4top marks uniform holds its
 * leaf in all 256 cells: filled from a4top without reading lo->a4, whose
 * untouched (zero) pages then never need to be faulted in; only the /16s
 * to descend into are copied.  Lines already holding the value are not
 * written.
 */
static int write_a4cells(struct moat_a4line *lines,
			 const struct moat_layout *lo)
{
	const size_t per16 = 256 / MOAT_A4_LINE; /* lines per /16 */

	for (size_t t = 0; t < 65536; t++) {
		struct moat_a4line *l = lines + t * per16;
		uint16_t v = lo->a4 ? lo->a4top[t] : 0;

		if (v == MOAT_A4_DESCEND) {
			memcpy(l, lo->a4 + t * 256, per16 * sizeof(*l));
			continue;
		}
		for (size_t i = 0; i < per16; i++)
			for (size_t k = 0; k < MOAT_A4_LINE; k++)
				if (l[i].leaf[k] != v)
					l[i].leaf[k] = v;
	}
	return 0;
}

/* IPv4 prefixes longer than /24 of address table tab: the a4x buckets,
 * and a4long for the /24s that did not fit (layout.c) */
static int write_a4long(const struct moat_map_fds *fds, unsigned int tab,
			const struct moat_layout *lo)
{
	struct moat_a4long_key *lk = calloc(lo->nlong4 + 1, sizeof(*lk));
	__u32 *lv = calloc(lo->nlong4 + 1, sizeof(*lv));
	struct moat_a4x *b;
	void *base = NULL;
	size_t i, n = 0, len = 0;
	int ret = -ENOMEM;

	if (!lk || !lv)
		goto out;
	b = map_mmap_tab(fds->a4x, tab, MOAT_A4X_BUCKETS, sizeof(*b), &base,
			 &len);
	if (!b) {
		ret = neg_errno(-1);
		goto out;
	}
	moat_a4x_place(b, lo);
	for (i = 0; i < lo->nlong4; i++) {
		if (!moat_a4x_hashed(lo, lo->long4[i].addr))
			continue;
		lk[n].tab_len = tab << 8 | lo->long4[i].plen;
		lk[n].addr = lo->long4[i].addr;
		lv[n++] = lo->long4[i].leaf;
	}
	ret = update_batch(fds->a4long, lk, lv, n, sizeof(*lk), sizeof(*lv),
			   1);
out:
	if (base)
		munmap(base, len);
	free(lk);
	free(lv);
	return ret;
}

/* Rewrite address table `tab` with the layout's cells, long4 and u6. */
static int write_atab(const struct moat_map_fds *fds, unsigned int tab,
		      const struct moat_layout *lo)
{
	struct moat_lpm6_key *k6 = NULL;
	__u32 *v6 = NULL;
	struct moat_a4line *lines;
	void *base = NULL;
	size_t len = 0, i;
	int ret;

	ret = purge(fds->a4long, sizeof(struct moat_a4long_key),
		    sizeof(__u32), a4long_of_tab, tab);
	if (!ret)
		ret = purge(fds->lpm6, sizeof(*k6), sizeof(__u32), lpm6_of_tab,
			    tab);
	if (!ret)
		ret = purge(fds->a6long, sizeof(struct moat_a6long_key),
			    sizeof(__u32), a6long_of_tab, tab);
	if (!ret)
		ret = write_a6(fds, tab, lo);
	if (ret)
		return ret;
	lines = map_mmap_tab(fds->a4tab, tab, MOAT_A4_LINES, sizeof(*lines),
			     &base, &len);
	if (!lines)
		return neg_errno(-1);
	ret = write_a4cells(lines, lo);
	if (ret)
		goto out;
	ret = write_top(fds->a4top, tab, lo->a4top, MOAT_A4_TOP_LINES);
	if (!ret)
		ret = write_a4long(fds, tab, lo);
	if (ret)
		goto out;

	k6 = malloc((lo->nshort6 + 1) * sizeof(*k6));
	v6 = malloc((lo->nshort6 + 1) * sizeof(*v6));
	if (!k6 || !v6) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < lo->nshort6; i++) {
		memset(&k6[i], 0, sizeof(k6[i]));
		k6[i].prefixlen = 8 + lo->short6[i].plen;
		k6[i].dir = (__u8)tab;
		memcpy(k6[i].addr, lo->short6[i].addr, 16);
		v6[i] = lo->short6[i].leaf;
	}
	ret = update_batch(fds->lpm6, k6, v6, lo->nshort6, sizeof(*k6),
			   sizeof(*v6), 1);
out:
	munmap(base, len);
	free(k6);
	free(v6);
	return ret;
}

/* The slot's aleaf and l4cls ranges, through mmap. */
static int write_slot_arrays(const struct moat_map_fds *fds,
			     unsigned int slot, const struct moat_image *img,
			     const struct moat_layout *lo)
{
	struct moat_aleaf *leaves;
	struct moat_l4cls *l4;
	size_t len = 0, len2 = 0, i;
	int ret = 0;

	leaves = map_mmap(fds->aleaf, &len);
	if (!leaves)
		return neg_errno(-1);
	if ((slot + 1) * (size_t)MOAT_LEAF_SLOT * sizeof(*leaves) > len ||
	    lo->nleaves > MOAT_LEAF_SLOT) {
		munmap(leaves, len);
		return -EINVAL;
	}
	memcpy(leaves + (size_t)slot * MOAT_LEAF_SLOT, lo->leaves,
	       lo->nleaves * sizeof(*leaves));
	munmap(leaves, len);

	l4 = map_mmap(fds->l4cls, &len2);
	if (!l4)
		return neg_errno(-1);
	if ((slot + 1) * (size_t)MOAT_L4CLS_SIZE * sizeof(*l4) > len2) {
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < MOAT_L4CLS_SIZE; i++) {
		uint16_t c = img->l4cls[i];
		int k = i < MOAT_L4CLS_DPORT ? 0 : i < MOAT_L4CLS_FLAGS ? 1 : 2;

		l4[(size_t)slot * MOAT_L4CLS_SIZE + i].cls = c;
		l4[(size_t)slot * MOAT_L4CLS_SIZE + i].mask = lo->pmask[k][c];
	}
out:
	munmap(l4, len2);
	return ret;
}

int moat_slot_write(const struct moat_map_fds *fds, unsigned int slot,
		    const struct moat_image *img)
{
	struct moat_config c;
	__u32 zero = 0;
	int ret;

	if (!fds)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds->config, &zero, &c))
		return neg_errno(-1);
	/* tests rewrite the slot in force too; other slots' tables stay */
	ret = moat_slot_write_live(fds, slot, img,
				   c.slot < MOAT_SLOTS && c.slot != slot ?
					   1U << c.slot :
					   0);
	if (ret || c.slot != slot)
		return ret;
	/* the slot in force has a new epoch: so must the entry's tag */
	return moat_config_write(fds, 0, &c);
}

/* Forget the address table of every slot but `slot` that uses table
 * `tab`, about to be rewritten: those slots are no longer usable. */
static int drop_tab_users(const struct moat_map_fds *fds,
			  struct moat_gen_info *cur, unsigned int slot,
			  unsigned int tab, __u64 *epoch)
{
	for (__u32 s = 0; s < MOAT_SLOTS; s++) {
		if (s == slot || cur[s].atab != tab)
			continue;
		cur[s].atab = MOAT_ATABS;
		cur[s].ahash = 0;
		cur[s].epoch = (*epoch)++;
		if (bpf_map_update_elem(fds->gen_info, &s, &cur[s], BPF_ANY))
			return neg_errno(-1);
	}
	return 0;
}

int moat_slot_write_live(const struct moat_map_fds *fds, unsigned int slot,
			 const struct moat_image *img, uint32_t live)
{
	struct moat_gen_info cur[MOAT_SLOTS], gi;
	struct moat_layout lo;
	unsigned int tab = MOAT_ATABS, t;
	__u64 epoch = 1; /* flow cache tag of this write (fcache.h) */
	uint32_t busy = 0, used = 0;
	__u32 key = slot;
	size_t i;
	int ret;

	if (!fds || !img || slot >= MOAT_SLOTS)
		return -EINVAL;
	if (live & (1U << slot))
		return -EBUSY; /* never rewrite a slot in use */
	ret = validate(img);
	if (ret)
		return ret;
	if (img->layout) {
		lo = *img->layout; /* borrowed: not freed here */
	} else {
		ret = moat_layout_build(img, &lo);
		if (ret)
			return ret;
	}
	for (__u32 s = 0; s < MOAT_SLOTS; s++) {
		if (bpf_map_lookup_elem(fds->gen_info, &s, &cur[s])) {
			ret = neg_errno(-1);
			goto out;
		}
		if (cur[s].epoch >= epoch)
			epoch = cur[s].epoch + 1;
	}
	/* Invariant: a slot naming table t (< MOAT_ATABS) holds t's current
	 * layout hash; slots whose table was rewritten name none. */
	for (__u32 s = 0; s < MOAT_SLOTS; s++) {
		if (s == slot || cur[s].atab >= MOAT_ATABS)
			continue;
		used |= 1U << cur[s].atab;
		if (live & (1U << s))
			busy |= 1U << cur[s].atab;
		if (cur[s].ahash == lo.ahash && tab == MOAT_ATABS)
			tab = cur[s].atab; /* same layout: share it */
	}
	if (tab == MOAT_ATABS && cur[slot].atab < MOAT_ATABS &&
	    cur[slot].ahash == lo.ahash && !(busy & (1U << cur[slot].atab)))
		tab = cur[slot].atab; /* the slot's own, unchanged */
	if (tab == MOAT_ATABS) {
		/* a table no slot in use reads: unused ones first */
		for (t = 0; t < MOAT_ATABS && tab == MOAT_ATABS; t++)
			if (!(used & (1U << t)) &&
			    (cur[slot].atab != t || !(busy & (1U << t))))
				tab = t;
		for (t = 0; t < MOAT_ATABS && tab == MOAT_ATABS; t++)
			if (!(busy & (1U << t)))
				tab = t;
		if (tab == MOAT_ATABS) {
			ret = -EBUSY; /* every address table is in force */
			goto out;
		}
		ret = drop_tab_users(fds, cur, slot, tab, &epoch);
		if (!ret)
			ret = write_atab(fds, tab, &lo);
		if (ret)
			goto out;
	}
	/* gen_info: the image's (the loader sets gen after compiling) plus
	 * the layout's masks */
	gi = img->info;
	gi.nonip_mask = lo.info.nonip_mask;
	gi.l4_mask = lo.info.l4_mask;
	gi.sport0_mask = lo.info.sport0_mask;
	gi.dport0_mask = lo.info.dport0_mask;
	gi.flags0_mask = lo.info.flags0_mask;
	memcpy(gi.proto_mask, lo.info.proto_mask, sizeof(gi.proto_mask));
	gi.nleaves = (__u32)lo.nleaves;
	gi.atab = tab;
	gi.ahash = lo.ahash;
	gi.a6short = lo.a6short;
	gi.a6bits = lo.a6bits;
	gi.epoch = epoch; /* above every earlier one: no cached line matches */

	ret = write_cls(fds, slot, img);
	if (!ret)
		ret = write_slot_arrays(fds, slot, img, &lo);
	if (!ret)
		ret = write_rules(fds, slot, img);
	if (ret)
		goto out;
	if (bpf_map_update_elem(fds->gen_info, &key, &gi, BPF_ANY)) {
		ret = neg_errno(-1);
		goto out;
	}
	for (i = 0; i < img->nredirect; i++) {
		__u32 ifx = img->redirect_ifindex[i];

		if (bpf_map_update_elem(fds->redirect_map, &ifx, &ifx,
					BPF_ANY)) {
			ret = neg_errno(-1);
			goto out;
		}
	}
	ret = 0;
out:
	if (!img->layout)
		moat_layout_free(&lo);
	return ret;
}
int moat_config_write(const struct moat_map_fds *fds, uint32_t port,
		      const struct moat_config *c)
{
	struct moat_config w = *c;
	struct moat_gen_info gi;
	__u32 s = c->slot;

	if (!fds || port >= MOAT_MAX_PORTS || s >= MOAT_SLOTS)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds->gen_info, &s, &gi))
		return neg_errno(-1);
	moat_config_stamp(&w, gi.epoch);
	if (bpf_map_update_elem(fds->config, &port, &w, BPF_ANY))
		return neg_errno(-1);
	return 0;
}

int moat_slot_activate(const struct moat_map_fds *fds, unsigned int slot)
{
	struct moat_config cfg = { .slot = slot };

	if (!fds || slot >= MOAT_SLOTS)
		return -EINVAL;
	return moat_config_write(fds, 0, &cfg);
}

int moat_slot_active(const struct moat_map_fds *fds, unsigned int *slot)
{
	struct moat_config cfg;
	__u32 zero = 0;

	if (!fds || !slot)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds->config, &zero, &cfg))
		return neg_errno(-1);
	*slot = cfg.slot;
	return 0;
}

int moat_rule_stats_reset(const struct moat_map_fds *fds, uint32_t id)
{
	if (!fds || id >= MOAT_RULE_IDS)
		return -EINVAL;
	return moat_percpu_zero(fds->rule_stats, id, 1,
				sizeof(struct moat_counter));
}
