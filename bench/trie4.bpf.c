// SPDX-License-Identifier: GPL-2.0
/*
 * trie4 - the baseline for IPv4 prefix sets: a plain BPF LPM trie holding
 * the set's prefixes (progrun fills it), looked up with the packet's
 * source address.  In the set: XDP_DROP, else XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct key4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 21);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key4);
	__type(value, __u32);
} trie SEC(".maps");

SEC("xdp")
int trie4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct key4 k;

	if (data + 14 + 20 > end)
		return XDP_ABORTED;
	if (((__u8 *)data)[12] != 0x08 || ((__u8 *)data)[13] != 0x00)
		return XDP_PASS;
	k.prefixlen = 32;
	__builtin_memcpy(k.addr, data + 26, 4);
	return bpf_map_lookup_elem(&trie, &k) ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
