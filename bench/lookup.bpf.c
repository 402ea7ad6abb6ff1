// SPDX-License-Identifier: GPL-2.0
/*
 * lookup - moat's source address lookup alone: the same code as the moat
 * program (xdp/classify.h: moat_addr4, moat_addr6) on moat's own maps
 * (progrun reuses the moat skeleton's map fds), for the slot in force on
 * port 0, and nothing else: no flow cache, ports, tuple search or
 * counters.  The counterpart of trie.bpf.c, so the two lookups compare
 * like for like.  Source in a set (class != 0): XDP_DROP, else XDP_PASS.
 */
#include "maps.h"
#include "classify.h"

SEC("xdp")
int lookup_src(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const struct moat_aleaf *lf;
	struct moat_gen_info *gi;
	struct moat_config *cfg;
	__u32 zero = 0, slot;
	__u8 *b = data;

	if (data + 14 + 40 > end)
		return XDP_ABORTED;
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return XDP_ABORTED;
	slot = cfg->slot & (MOAT_SLOTS - 1);
	gi = bpf_map_lookup_elem(&gen_info, &slot);
	if (!gi)
		return XDP_ABORTED;
	if (b[12] == 0x86 && b[13] == 0xdd) /* IPv6: saddr at 22 */
		lf = moat_addr6(slot, gi, (const __u32 *)(b + 22));
	else if (b[12] == 0x08 && b[13] == 0x00) /* IPv4: saddr at 26 */
		lf = moat_addr4(slot, gi->atab, *(__u32 *)(b + 26));
	else
		return XDP_PASS;
	return lf && lf->scls ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
