/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rulegen.h - seeded generators for differential testing: random rule
 * files (text, every matcher kind, sets inline and from files, overlapping
 * IPv4/IPv6 prefixes, ranges, flags, icmp, vlan, ethertype) and random raw
 * frames, mostly aimed at a rule of the parsed rule set, many of them
 * malformed: truncated at every header boundary, odd IHL and options, bad
 * versions and lengths, VLAN stacks, IPv6 extension chains, fragments,
 * random byte mutations.
 */
#ifndef MOAT_TEST_RULEGEN_H
#define MOAT_TEST_RULEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "ruleset.h"

/* xorshift64*: every run is reproducible from its seed */
struct rg_rng {
	uint64_t s;
};
void rg_seed(struct rg_rng *r, uint64_t seed);
uint32_t rg_u32(struct rg_rng *r);
uint32_t rg_n(struct rg_rng *r, uint32_t n); /* 0..n-1 (0 when n == 0) */

struct rulegen_opts {
	unsigned int nrules; /* rules to write (plus a few set lines) */
	const char *const *ifnames; /* names used in `on` and `redirect` */
	unsigned int nifnames;
	const char *setdir; /* directory for set files, NULL: inline only */
};

/* A rule file (malloc'd text).  Set files, if any, are written into
 * opts->setdir with names the text refers to relative to that directory. */
char *rulegen_text(struct rg_rng *r, const struct rulegen_opts *opts);

/* Packet kinds pktgen_frame() draws from (also for statistics). */
enum pktgen_kind {
	PG_AIMED, /* every field chosen to satisfy one rule (maybe disturbed) */
	PG_RANDOM, /* a well-formed frame with random fields */
	PG_TRUNCATED, /* cut at (or next to) a header boundary */
	PG_MALFORMED, /* bad version/IHL/lengths, long VLAN or ext chains */
	PG_MUTATED, /* random bytes of a frame overwritten */
	PG_NKINDS,
};

/*
 * Write a frame into buf (cap >= 2048) and return its length (>= 14).
 * ifidx[0..nif) are the ingress ifindexes to pick from; ifname resolves
 * `on` names of rs.  *ingress gets the chosen ifindex; *kind (may be NULL)
 * the kind of frame.
 */
size_t pktgen_frame(struct rg_rng *r, const struct moat_ruleset *rs,
		    moat_ifindex_fn ifname, void *ctx, const uint32_t *ifidx,
		    unsigned int nif, uint8_t *buf, size_t cap,
		    uint32_t *ingress, enum pktgen_kind *kind);

#endif /* MOAT_TEST_RULEGEN_H */
