// SPDX-License-Identifier: GPL-2.0
/* counters.c - per-CPU counter sums and resets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "counters.h"

/* Sum the per-CPU value at `key` (size bytes of __u64 fields) into sum. */
static int percpu_sum(int fd, uint32_t key, void *sum, size_t size)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	uint64_t *v, *s = sum;
	size_t nw = size / sizeof(uint64_t);

	memset(sum, 0, size);
	if (ncpus <= 0)
		return -EINVAL;
	v = calloc(ncpus, size);
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++)
		for (size_t w = 0; w < nw; w++)
			s[w] += v[c * nw + w];
	free(v);
	return err;
}

int moat_counter_read(int fd, uint32_t key, struct moat_counter *sum)
{
	return percpu_sum(fd, key, sum, sizeof(*sum));
}

int moat_cand_rule_read(int fd, uint32_t key, struct moat_cand_rule *sum)
{
	return percpu_sum(fd, key, sum, sizeof(*sum));
}

int moat_percpu_zero(int fd, uint32_t first, uint32_t n, size_t vsize)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	void *zeros;

	if (ncpus <= 0)
		return -EINVAL;
	zeros = calloc(ncpus, vsize);
	if (!zeros)
		return -ENOMEM;
	for (uint32_t k = first; k < first + n && !err; k++)
		if (bpf_map_update_elem(fd, &k, zeros, BPF_ANY))
			err = -errno;
	free(zeros);
	return err;
}

int moat_counter_add(int fd, uint32_t key, uint64_t packets, uint64_t bytes)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	struct moat_counter *v;

	if (ncpus <= 0)
		return -EINVAL;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		err = -errno;
		goto out;
	}
	v[0].packets += packets; /* the sum is what is read */
	v[0].bytes += bytes;
	if (bpf_map_update_elem(fd, &key, v, BPF_EXIST))
		err = -errno;
out:
	free(v);
	return err;
}
