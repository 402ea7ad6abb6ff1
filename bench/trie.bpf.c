// SPDX-License-Identifier: GPL-2.0
/*
 * trie - the baseline for prefix sets: a plain BPF LPM trie holding the
 * set's prefixes (progrun fills it), looked up with the packet's source
 * address.  In the set: XDP_DROP, else XDP_PASS.  Built twice by
 * bench.sh: trie4.bpf.o (IPv4) and, with -DTRIE_V6, trie6.bpf.o (IPv6).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifdef TRIE_V6
#define ALEN 16
#define L3LEN 40
#define ETYPE_LO 0xdd /* 0x86dd */
#define ETYPE_HI 0x86
#define SADDR_OFF 22
#else
#define ALEN 4
#define L3LEN 20
#define ETYPE_LO 0x00 /* 0x0800 */
#define ETYPE_HI 0x08
#define SADDR_OFF 26
#endif

struct key {
	__u32 prefixlen;
	__u8 addr[ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 21);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct key);
	__type(value, __u32);
} trie SEC(".maps");

SEC("xdp")
int trie_src(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct key k;

	if (data + 14 + L3LEN > end)
		return XDP_ABORTED;
	if (((__u8 *)data)[12] != ETYPE_HI || ((__u8 *)data)[13] != ETYPE_LO)
		return XDP_PASS;
	k.prefixlen = ALEN * 8;
	__builtin_memcpy(k.addr, data + SADDR_OFF, ALEN);
	return bpf_map_lookup_elem(&trie, &k) ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
