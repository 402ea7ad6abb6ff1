// SPDX-License-Identifier: GPL-2.0
/*
 * vary - BPF_PROG_TEST_RUN repeats one packet; this wrapper writes a
 * different source address into it on every run (keys[run % nkeys]; IPv4
 * saddr at offset 26, IPv6 at 22) and
 * tail-calls the program under test (jmp[0]).  The wrapper's own cost is
 * measured by tail-calling the bare XDP_DROP program and subtracted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct key16 {
	__u8 a[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct key16);
} keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

__u32 ctr;

SEC("xdp")
int vary(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 i = ctr++;
	struct key16 *k;

	k = bpf_map_lookup_elem(&keys, &i);
	if (!k) { /* past the last key: start over */
		i = ctr = 0;
		k = bpf_map_lookup_elem(&keys, &i);
		if (!k)
			return XDP_ABORTED;
	}
	if (data + 14 > end)
		return XDP_ABORTED;
	if (((__u8 *)data)[12] == 0x86) { /* IPv6: saddr at 22 */
		if (data + 14 + 40 > end)
			return XDP_ABORTED;
		__builtin_memcpy(data + 22, k->a, 16);
	} else {
		if (data + 14 + 20 > end)
			return XDP_ABORTED;
		__builtin_memcpy(data + 26, k->a, 4);
	}
	bpf_tail_call(ctx, &jmp, 0);
	return XDP_ABORTED;
}
char _license[] SEC("license") = "GPL";
