/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ruleset.h - the parsed rule set: output of the parser (parse.c), input of
 * the compiler (compile.c).  Plain data; knows nothing of maps or the kernel.
 */
#ifndef MOAT_RULESET_H
#define MOAT_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "../include/moat.h"

/* Where a thing was written: file names are interned in the rule set. */
struct moat_loc {
	const char *file;
	unsigned int line;
	unsigned int col;
};

/* One address prefix: family 4 or 6, address in network byte order. */
struct moat_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t plen; /* 0..32 or 0..128 */
	uint8_t addr[16]; /* IPv4 uses addr[0..3]; host bits are zero */
};

enum moat_addr_kind {
	MOAT_ADDR_PREFIX,
	MOAT_ADDR_SET, /* reference to ruleset.sets[set] */
};

struct moat_addr {
	enum moat_addr_kind kind;
	struct moat_prefix prefix; /* MOAT_ADDR_PREFIX */
	unsigned int set; /* MOAT_ADDR_SET */
};

/* A list of addresses; n == 0 means `any`. */
struct moat_addr_list {
	struct moat_addr *v;
	size_t n;
};

struct moat_port_range {
	uint16_t lo, hi; /* inclusive, lo <= hi */
};

/* A list of port ranges; n == 0 means no port match. */
struct moat_port_list {
	struct moat_port_range *v;
	size_t n;
};

#define MOAT_PROTO_MAX 16 /* protocols in one { } list */

struct moat_rule_ast {
	struct moat_loc loc; /* location of the action keyword */
	char *text; /* the rule as written, whitespace folded to one space */
	int action; /* enum moat_action (include/moat.h) */
	char redirect_if[IF_NAMESIZE]; /* MOAT_ACT_REDIRECT */
	struct moat_loc redirect_loc;
	char on_if[IF_NAMESIZE]; /* "" = any interface */
	struct moat_loc on_loc;
	uint8_t family; /* 0 = any, 4 = inet, 6 = inet6 */
	uint8_t protos[MOAT_PROTO_MAX]; /* IP protocol numbers */
	size_t nprotos; /* 0 = any protocol */
	struct moat_addr_list src, dst; /* n == 0: any */
	struct moat_port_list sport, dport; /* n == 0: no port match */
	bool has_flags; /* flags F/MASK: (tcpflags & mask) == flags */
	uint8_t flags, flags_mask;
	int icmp_type; /* -1 = any */
	int icmp_code; /* -1 = any */
	int vlan; /* -1 = any, else 0..4095 (outer tag) */
	uint16_t ethertype; /* non-IP rule (`ethertype arp`), 0 = IP rule */
	uint8_t ct_states; /* `state`: bit s = enum moat_ct_state s; 0 = any */
};

struct moat_set {
	char *name;
	struct moat_loc loc;
	char *file; /* resolved path when declared with `file "..."`, else NULL */
	struct moat_prefix *elems;
	size_t n;
};

/* `interface NAME [mode native|skb|auto]` lines */
enum moat_mode {
	MOAT_MODE_AUTO = 0,
	MOAT_MODE_NATIVE,
	MOAT_MODE_SKB,
};

struct moat_iface_decl {
	char name[IF_NAMESIZE];
	enum moat_mode mode;
	struct moat_loc loc;
};

/* action of a `guard` line: traffic that must keep passing (lockout guard) */
#define MOAT_RULE_GUARD 100

/* `conntrack { max N; udp 30; ... }`: 0 = the default (moat.h) */
struct moat_ct_settings {
	bool given;
	struct moat_loc loc;
	uint32_t max;
	uint32_t timeout[MOAT_CT_T_MAX]; /* seconds */
};

struct moat_ruleset {
	int policy; /* MOAT_ACT_PASS (default) or MOAT_ACT_DROP */
	struct moat_rule_ast *rules; /* file order (includes spliced) */
	size_t nrules;
	struct moat_rule_ast *guards; /* `guard` lines, same shape as rules */
	size_t nguards;
	struct moat_set *sets;
	size_t nsets;
	struct moat_iface_decl *ifaces;
	size_t nifaces;
	char **files; /* interned file names, freed with the rule set */
	size_t nfiles;
	struct moat_ct_settings conntrack;
};

void moat_ruleset_free(struct moat_ruleset *rs);

/* Normalised text of a rule (as `moat show` prints it).  Caller frees. */
char *moat_rule_format(const struct moat_ruleset *rs,
		       const struct moat_rule_ast *r);

/* Text of a prefix ("192.0.2.0/24", "2001:db8::/32", "198.51.100.7"). */
void moat_prefix_format(const struct moat_prefix *p, char *buf, size_t len);

#endif /* MOAT_RULESET_H */
