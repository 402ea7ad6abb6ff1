// SPDX-License-Identifier: GPL-2.0
/*
 * mapwrite.c - write a compiled image into one generation slot.
 *
 * Order of a slot write (nothing visible to packets of the active slot
 * changes until the caller activates the slot):
 *   1. validate the image against the limits of include/moat.h;
 *   2. create the inner maps (classifier hash, LPM tries) sized to the
 *      image and fill them, batched where the kernel supports it;
 *   3. write rules[slot * MOAT_MAX_RULES + pos] and the slot's l4cls range
 *      (batched), gen_info[slot], and the redirect targets;
 *   4. install the inner maps in the outer maps at [slot] and close our
 *      fds (the outer maps keep the inner maps alive).
 * Writing the slot that is currently active is allowed (first load) but is
 * not atomic; the loader writes the inactive slot and then activates it.
 *
 * Uses only the low-level bpf/bpf.h API; prints nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mapwrite.h"

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

static int create_cls(const struct moat_image *img, int *out)
{
	struct moat_cls_key *keys = NULL;
	struct moat_cls_val *vals = NULL;
	size_t n = img->ncls, i;
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "moat_cls",
			    sizeof(struct moat_cls_key),
			    sizeof(struct moat_cls_val), n ? n : 1, NULL);
	if (fd < 0)
		return neg_errno(fd);
	if (!n)
		goto done;
	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < n; i++) {
		keys[i] = img->cls[i].key;
		vals[i] = img->cls[i].val;
	}
	ret = update_batch(fd, keys, vals, n, sizeof(*keys), sizeof(*vals),
			   1);
	if (ret)
		goto err;
	free(keys);
	free(vals);
done:
	*out = fd;
	return 0;
err:
	free(keys);
	free(vals);
	close(fd);
	return ret;
}

/* LPM trie of n entries; entry i has its key at ents + i * esz and its
 * class right after the key (struct moat_lpm{4,6}_entry layout). */
static int create_lpm(const char *name, const void *ents, size_t n,
		      size_t esz, size_t ksz, size_t cls_off, int *out)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts,
		    .map_flags = BPF_F_NO_PREALLOC);
	char *keys = NULL;
	__u32 *vals = NULL;
	size_t i;
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, ksz, sizeof(__u32),
			    n ? n : 1, &copts);
	if (fd < 0)
		return neg_errno(fd);
	if (!n)
		goto done;
	keys = malloc(n * ksz);
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < n; i++) {
		const char *e = (const char *)ents + i * esz;

		memcpy(keys + i * ksz, e, ksz);
		memcpy(&vals[i], e + cls_off, sizeof(__u32));
	}
	ret = update_batch(fd, keys, vals, n, ksz, sizeof(*vals), 1);
	if (ret)
		goto err;
	free(keys);
	free(vals);
done:
	*out = fd;
	return 0;
err:
	free(keys);
	free(vals);
	close(fd);
	return ret;
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

static int write_l4cls(const struct moat_map_fds *fds, unsigned int slot,
		       const struct moat_image *img)
{
	__u32 *keys;
	size_t i;
	int ret;

	keys = malloc(MOAT_L4CLS_SIZE * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < MOAT_L4CLS_SIZE; i++)
		keys[i] = slot * MOAT_L4CLS_SIZE + i;
	ret = update_batch(fds->l4cls, keys, img->l4cls, MOAT_L4CLS_SIZE,
			   sizeof(*keys), sizeof(__u16), 1);
	free(keys);
	return ret;
}

int moat_slot_write(const struct moat_map_fds *fds, unsigned int slot,
		    const struct moat_image *img)
{
	int cls_fd = -1, lpm4_fd = -1, lpm6_fd = -1, ret;
	__u32 key = slot;
	size_t i;

	if (!fds || !img || slot >= MOAT_SLOTS)
		return -EINVAL;
	ret = validate(img);
	if (ret)
		return ret;

	ret = create_cls(img, &cls_fd);
	if (ret)
		goto out;
	ret = create_lpm("moat_lpm4", img->lpm4, img->nlpm4,
			 sizeof(struct moat_lpm4_entry),
			 sizeof(struct moat_lpm4_key),
			 offsetof(struct moat_lpm4_entry, cls), &lpm4_fd);
	if (ret)
		goto out;
	ret = create_lpm("moat_lpm6", img->lpm6, img->nlpm6,
			 sizeof(struct moat_lpm6_entry),
			 sizeof(struct moat_lpm6_key),
			 offsetof(struct moat_lpm6_entry, cls), &lpm6_fd);
	if (ret)
		goto out;

	ret = write_rules(fds, slot, img);
	if (ret)
		goto out;
	ret = write_l4cls(fds, slot, img);
	if (ret)
		goto out;
	if (bpf_map_update_elem(fds->gen_info, &key, &img->info, BPF_ANY)) {
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

	if (bpf_map_update_elem(fds->gen_lpm4, &key, &lpm4_fd, BPF_ANY) ||
	    bpf_map_update_elem(fds->gen_lpm6, &key, &lpm6_fd, BPF_ANY) ||
	    bpf_map_update_elem(fds->gen_cls, &key, &cls_fd, BPF_ANY)) {
		ret = neg_errno(-1);
		goto out;
	}
	ret = 0;
out:
	if (cls_fd >= 0)
		close(cls_fd);
	if (lpm4_fd >= 0)
		close(lpm4_fd);
	if (lpm6_fd >= 0)
		close(lpm6_fd);
	return ret;
}

int moat_slot_activate(const struct moat_map_fds *fds, unsigned int slot)
{
	struct moat_config cfg = { .active = slot };
	__u32 zero = 0;

	if (!fds || slot >= MOAT_SLOTS)
		return -EINVAL;
	if (bpf_map_update_elem(fds->config, &zero, &cfg, BPF_ANY))
		return neg_errno(-1);
	return 0;
}

int moat_slot_active(const struct moat_map_fds *fds, unsigned int *slot)
{
	struct moat_config cfg;
	__u32 zero = 0;

	if (!fds || !slot)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds->config, &zero, &cfg))
		return neg_errno(-1);
	*slot = cfg.active;
	return 0;
}

int moat_rule_stats_reset(const struct moat_map_fds *fds, uint32_t id)
{
	struct moat_counter *zeros;
	int ncpu, ret = 0;

	if (!fds || id >= MOAT_RULE_IDS)
		return -EINVAL;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu < 0)
		return ncpu;
	zeros = calloc(ncpu, sizeof(*zeros));
	if (!zeros)
		return -ENOMEM;
	if (bpf_map_update_elem(fds->rule_stats, &id, zeros, BPF_ANY))
		ret = neg_errno(-1);
	free(zeros);
	return ret;
}
