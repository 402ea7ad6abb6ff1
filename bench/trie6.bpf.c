// SPDX-License-Identifier: GPL-2.0
/*
 * trie6 - the baseline for IPv6 prefix sets: a plain BPF LPM trie holding
 * the set's prefixes (progrun fills it), looked up with the packet's
 * source address.  In the set: XDP_DROP, else XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key6);
	__type(value, __u32);
} trie SEC(".maps");

SEC("xdp")
int trie6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct key6 k;

	if (data + 14 + 40 > end)
		return XDP_ABORTED;
	if (((__u8 *)data)[12] != 0x86 || ((__u8 *)data)[13] != 0xdd)
		return XDP_PASS;
	k.prefixlen = 128;
	__builtin_memcpy(k.addr, data + 22, 16);
	return bpf_map_lookup_elem(&trie, &k) ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
