// SPDX-License-Identifier: GPL-2.0
/* counters.c - per-CPU counter sums. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "counters.h"

int moat_counter_read(int fd, uint32_t key, struct moat_counter *sum)
{
	static int ncpus;
	struct moat_counter *v;
	int err = 0;

	memset(sum, 0, sizeof(*sum));
	if (!ncpus) {
		ncpus = libbpf_num_possible_cpus();
		if (ncpus <= 0) {
			ncpus = 0;
			return -EINVAL;
		}
	}
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++) {
		sum->packets += v[i].packets;
		sum->bytes += v[i].bytes;
	}
out:
	free(v);
	return err;
}

int moat_cand_rule_read(int fd, uint32_t key, struct moat_cand_rule *sum)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	struct moat_cand_rule *v;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return -EINVAL;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++) {
		sum->packets += v[i].packets;
		sum->bytes += v[i].bytes;
		sum->pass_to_drop += v[i].pass_to_drop;
		sum->drop_to_pass += v[i].drop_to_pass;
	}
out:
	free(v);
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
