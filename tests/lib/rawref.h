/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawref.h - reference data plane on raw frames: an independent decoder of
 * Ethernet/VLAN/IPv4/IPv6/L4 bytes (written from rules/REFERENCE.md and the
 * contract comment of xdp/moat.bpf.c, sharing no code with xdp/parse.h),
 * then the verdict, the matched rule and the counters the program must
 * produce, judged from the parsed rule set with refeval (first match in
 * file order).  No compiler, no image: the specification the real maps and
 * program are checked against.
 */
#ifndef MOAT_TEST_RAWREF_H
#define MOAT_TEST_RAWREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refeval.h"

/* A decoded frame. */
struct rawdec {
	int drop; /* enum moat_stat drop reason, or -1 when the frame is sane */
	int family; /* 0 (non-IP), 4, 6 */
	bool nonfirst_frag;
	unsigned int ntags; /* VLAN tags skipped */
	struct moat_pkt pkt; /* the fields rules are matched against */
};

/* Decode len bytes.  Always fills *d (drop = -1 when not malformed). */
void rawdec_decode(const uint8_t *frame, size_t len, uint32_t ifindex,
		   struct rawdec *d);

/* What the program must do with a frame. */
struct rawref_verdict {
	int xdp; /* XDP_PASS, XDP_DROP, XDP_REDIRECT */
	int pos; /* matched rule position, -1 for none */
	int nstats; /* the global counters that move by one packet */
	uint32_t stats[4]; /* enum moat_stat, RX first */
	struct rawdec dec;
};

/* Resolves whether a redirect to ifindex can be done (is in redirect_map). */
typedef bool (*rawref_redirect_fn)(uint32_t ifindex, void *ctx);

/* Judge a frame against rs.  ifname resolves `on` and `redirect` names;
 * redirect_ok says whether a redirect target is present. */
void rawref_judge(const struct moat_ruleset *rs, const uint8_t *frame,
		  size_t len, uint32_t ifindex, moat_ifindex_fn ifname,
		  rawref_redirect_fn redirect_ok, void *ctx,
		  struct rawref_verdict *v);

/* One-line description of a decoded frame, for failure messages. */
void rawdec_describe(const struct rawdec *d, char *buf, size_t len);

/* Hex dump of a frame as one line ("0000: aa bb ..."), for reproducing. */
void rawref_hexdump(const uint8_t *frame, size_t len, char *buf, size_t blen);

#endif /* MOAT_TEST_RAWREF_H */
