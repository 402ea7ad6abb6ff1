// SPDX-License-Identifier: GPL-2.0
/*
 * gen.bpf.c - packet generator program, run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES: every run sends the frame out of the device
 * in tx_port[0] (a veth into the namespace of the system under test).
 * vary bit 0: new pseudo-random IPv4 source every frame (src_base +
 * (n * golden) & src_mask, header checksum fixed up, RFC 1624);
 * vary bit 1: rotate the UDP source port over 1024 values.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ctr SEC(".maps");

struct cfg {
	__u32 vary, src_base, src_mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cfg);
} cfg SEC(".maps");

static __always_inline __u16 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

SEC("xdp")
int gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *uh = (void *)(ip + 1);
	__u32 k = 0, *c, n;
	struct cfg *g = bpf_map_lookup_elem(&cfg, &k);

	if (!g || !g->vary)
		goto out;
	c = bpf_map_lookup_elem(&ctr, &k);
	if (!c || (void *)(uh + 1) > end)
		return XDP_ABORTED;
	n = ++*c;
	if (g->vary & 1) {
		__u32 old = ip->saddr;
		__u32 new = bpf_htonl(g->src_base + ((n * 2654435761u) & g->src_mask));
		__u32 s = (__u16)~ip->check;

		s += (__u16)~old + (__u16)~(old >> 16);
		s += (__u16)new + (__u16)(new >> 16);
		ip->saddr = new;
		ip->check = ~fold(s);
	}
	if (g->vary & 2)
		uh->source = bpf_htons(1024 + (n & 1023)); /* UDP csum is 0 */
out:
	return bpf_redirect_map(&tx_port, 0, XDP_DROP);
}
char _license[] SEC("license") = "GPL";
