// SPDX-License-Identifier: GPL-2.0
/* Hand every frame to the stack (also the veth receive path for the
 * netfilter cases: a veth takes redirected frames only with XDP attached). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
