// SPDX-License-Identifier: GPL-2.0
/*
 * bpfbatch.c - batched per-CPU counter reads (see bpfbatch.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "bpfbatch.h"

int bpfbatch_counters(struct bpfrun *r, int fd, uint32_t first, uint32_t n,
		      uint64_t *pk, uint64_t *by)
{
	size_t nc = (size_t)r->ncpu;
	struct moat_counter *v;
	uint32_t *keys, done = 0;
	int err = 0;

	if (!n)
		return 0;
	v = calloc((size_t)n * nc, sizeof(*v));
	keys = calloc(n, sizeof(*keys));
	if (!v || !keys) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n && !err) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		uint32_t in = first + done, outb = 0, cnt = n - done;
		void *inp = done || first ? &in : NULL;

		/* the batch API takes the previous batch's out key; for an
		 * array that is the next index, so start from first - 1's */
		if (inp)
			in = first + done - 1;
		err = bpf_map_lookup_batch(fd, inp, &outb, keys + done,
					   v + (size_t)done * nc, &cnt, &o);
		if (err == -ENOENT)
			err = 0; /* end of map: cnt is what was read */
		if (!err && !cnt)
			err = -EIO;
		done += cnt;
	}
	for (uint32_t i = 0; i < n && !err; i++) {
		uint64_t p = 0, b = 0;

		for (size_t c = 0; c < nc; c++) {
			p += v[i * nc + c].packets;
			b += v[i * nc + c].bytes;
		}
		pk[i] = p;
		if (by)
			by[i] = b;
	}
out:
	free(v);
	free(keys);
	return err;
}

int bpfbatch_stats(struct bpfrun *r, uint64_t *pk, uint64_t *by)
{
	int err = bpfbatch_counters(r, r->fds.stats, 0, MOAT_STAT_MAX, pk, by);

	if (!err)
		moat_stats_fill_rx((__u64 *)pk, (__u64 *)by);
	return err;
}
