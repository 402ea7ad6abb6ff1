/* SPDX-License-Identifier: GPL-2.0 */
/*
 * imagesim.h - userspace model of the data plane's lookup over a compiled
 * image (the same steps as xdp/moat.bpf.c, on a decoded packet).  Used by
 * the compiler's tests and by differential tests against the BPF program.
 */
#ifndef MOAT_IMAGESIM_H
#define MOAT_IMAGESIM_H

#include <stdbool.h>
#include <stdint.h>

#include "image.h"

/* A decoded packet: what the program extracts before classifying. */
struct moat_pkt {
	uint16_t ethertype; /* 0x0800, 0x86dd, or the frame's for non-IP */
	uint32_t ifindex; /* ingress */
	uint16_t vlan; /* outer VID, MOAT_VLAN_NONE if untagged */
	uint8_t proto; /* L4 protocol (IP only) */
	bool has_l4; /* false for non-first fragments (and cut L4) */
	uint8_t src[16], dst[16]; /* network order; IPv4 uses [0..3] */
	uint16_t sport, dport; /* host order */
	uint8_t tcpflags;
	uint8_t icmp_type, icmp_code;
	uint8_t ct; /* enum moat_ct_state (xdp/ct.h decides it); 0 = none */
};

/* The lookup structures built from an image (hash tables standing in for
 * the kernel's maps).  The image must outlive the sim. */
struct moat_imagesim;

struct moat_imagesim *moat_imagesim_new(const struct moat_image *img);
void moat_imagesim_free(struct moat_imagesim *sim);

/* The packet's classifier fields as the program computes them. */
struct moat_pkt_classes {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t flags;
	bool has_l4;
};
void moat_imagesim_classes(const struct moat_imagesim *sim,
			   const struct moat_pkt *p,
			   struct moat_pkt_classes *out);

/* Matched rule position (lowest matching), or -1 when no rule matches. */
int moat_imagesim_lookup(const struct moat_imagesim *sim,
			 const struct moat_pkt *p);

/* Number of classifier hash lookups the program does for p (tuples
 * probed before the early exit). */
unsigned int moat_imagesim_probes(const struct moat_imagesim *sim,
				  const struct moat_pkt *p);

#endif /* MOAT_IMAGESIM_H */
