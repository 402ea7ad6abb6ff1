/* SPDX-License-Identifier: GPL-2.0 */
/*
 * moat.h - the one contract between the data plane (xdp/) and the control
 * plane (ctl/): limits, map keys and values, verdicts, stat indexes.
 *
 * Classification design (see docs/design.md for the long form):
 *
 *   packet fields --(per-field lookups)--> small class ids
 *   class ids     --(tuple space search)--> rule position (first match)
 *
 * Every address, port and TCP-flags value of a packet is mapped to a "class":
 * two values share a class exactly when the same rule atoms (prefixes, sets,
 * port ranges, flag tests) contain them.  Class 0 means "no atom contains it".
 * A rule then becomes one or more exact-match entries over class ids, grouped
 * by which fields the rule matches on (a "tuple").  Per packet the program
 * does a fixed number of field lookups plus one hash lookup per tuple, in
 * order of the tuple's best rule position, stopping early.  The cost depends
 * on the number of distinct tuples (bounded by MOAT_MAX_TUPLES), never on
 * the number of rules.
 *
 * Generations: everything describing a rule set lives in one of two slots
 * (0 and 1).  The program reads moat_config.active once per packet and uses
 * that slot only, so a swap (a single 32-bit store) is atomic per packet.
 */
#ifndef MOAT_H
#define MOAT_H

#include <linux/types.h>

/* ---- limits (enforced by `moat check`; see rules/REFERENCE.md) ---- */
#define MOAT_SLOTS 4 /* rule sets held at once: in force, candidate, previous */
#define MOAT_MAX_PORTS 64 /* config entries: 0 for test runs, 1.. interfaces */
/* The contract between ctl and the data plane (the maps, their layout and
 * meaning) has this number; the program carries it in .rodata (moat_abi)
 * and ctl writes no map a program of another number reads.  Bump it with
 * every change either side must know about.  3: a4x buckets.  4: the
 * microflow cache (mflow) and the slow_path counter.  5: the config word
 * carries the slot's epoch tag, microflow lines hold it beside the
 * ifindex (tagif).  (The tests build a
 * second moat with another number: an older moat's program.) */
#ifndef MOAT_ABI
#define MOAT_ABI 5
#endif

#define MOAT_MAX_RULES 16384 /* rules in one rule set */
#define MOAT_RULE_IDS 65536 /* stable rule-id space (counters) */
#define MOAT_MAX_TUPLES 64 /* distinct match shapes */
#define MOAT_MAX_CLS_ENTRIES (1U << 20) /* classifier entries of one slot */
#define MOAT_CLS_TOTAL (2U << 20) /* classifier entries of all slots */
#define MOAT_MAX_LPM4 (2U << 20) /* IPv4 prefixes (src+dst) */
#define MOAT_MAX_LPM6 (512U << 10) /* IPv6 prefixes (src+dst) */
#define MOAT_MAX_LEAVES 65535 /* address leaves per slot (u16 in a4tab) */
#define MOAT_MAX_A4LONG (1U << 20) /* IPv4 union prefixes longer than /24 */
#define MOAT_ATABS 2 /* address tables (shared by slots when equal) */
#define MOAT_MAX_SETS 256
#define MOAT_MAX_IFACES 64 /* redirect targets */
#define MOAT_MAX_VLAN_DEPTH 2
#define MOAT_MAX_IPV6_EXT 6 /* extension headers walked */

/* ---- verdicts ---- */
enum moat_action {
	MOAT_ACT_PASS = 0,
	MOAT_ACT_DROP = 1,
	MOAT_ACT_REDIRECT = 2,
};

/* ---- classifier key ---- */

/* Fields a tuple matches on (bit set = field compared, else zeroed). */
enum moat_field {
	MOAT_F_IFINDEX = 1 << 0,
	MOAT_F_VLAN = 1 << 1,
	MOAT_F_PROTO = 1 << 2,
	MOAT_F_SRC = 1 << 3,
	MOAT_F_DST = 1 << 4,
	MOAT_F_SPORT = 1 << 5,
	MOAT_F_DPORT = 1 << 6,
	MOAT_F_FLAGS = 1 << 7,
	MOAT_F_ICMP_TYPE = 1 << 8,
	MOAT_F_ICMP_CODE = 1 << 9,
	MOAT_F_STATE = 1 << 10, /* connection-tracking state (key.ct) */
};
#define MOAT_F_ALL ((MOAT_F_STATE << 1) - 1)
/* Tuples with any of these never match a packet without an L4 header
 * (non-first fragments, unknown L4 protocols). */
#define MOAT_F_L4                                                              \
	(MOAT_F_SPORT | MOAT_F_DPORT | MOAT_F_FLAGS | MOAT_F_ICMP_TYPE |        \
	 MOAT_F_ICMP_CODE)

#define MOAT_VLAN_NONE 0xffff /* key.vlan of an untagged frame */

/*
 * The ethertype is always compared: 0x0800 (IPv4), 0x86dd (IPv6), or the
 * frame's ethertype for non-IP frames.  Rules that name no family match
 * both IP families and never non-IP frames.
 */
struct moat_cls_key {
	__u32 tuple; /* slot * MOAT_MAX_TUPLES + index into gen_info.tuples */
	__u32 ifindex; /* ingress ifindex */
	__u32 src; /* source address class */
	__u32 dst; /* destination address class */
	__u16 sport; /* source port class */
	__u16 dport; /* destination port class */
	__u16 ethertype; /* host byte order */
	__u16 vlan; /* outer VID, MOAT_VLAN_NONE if untagged */
	__u8 proto; /* L4 protocol number */
	__u8 flags; /* TCP flags class */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 ct; /* enum moat_ct_state of the packet (MOAT_F_STATE) */
	__u8 pad[3]; /* zero */
};

/* value of the classifier hash: the rule's position (lower wins) */
struct moat_cls_val {
	__u32 pos;
};

struct moat_tuple {
	__u32 fields; /* enum moat_field bits */
	__u32 min_pos; /* lowest rule position among its entries */
};

/*
 * Tuple masks: bit t stands for tuple t.  For a field value's class c,
 * mask = tuples not comparing that field | tuples with an entry whose
 * field equals c.  A tuple can only match a packet if its bit survives the
 * AND of the masks of all the packet's field classes, so a packet probes
 * only those tuples (class 0 = "in no atom" prunes every tuple testing the
 * field).
 */

/* per-slot generation parameters: config-wide, plain array of MOAT_SLOTS */
struct moat_gen_info {
	__u32 policy; /* enum moat_action (PASS or DROP) */
	__u32 ntuples; /* tuples[0..ntuples) are sorted by min_pos */
	__u32 nrules;
	__u32 gen; /* generation number, for display */
	__u32 atab; /* address table in use: a4tab, a4long, lpm6 (< ATABS) */
	__u32 nleaves; /* aleaf entries of the slot */
	__u64 ahash; /* hash of the address layout in table atab (ctl) */
	__u64 a6short; /* IPv6 lengths < 48 probed in a6mid (see there) */
	__u32 a6bits; /* a6mid lines in use: the first 1 << a6bits */
	__u32 a6pad;
	__u64 epoch; /* flow cache tag (fcache): unique per slot write */
	__u64 nonip_mask; /* tuples that can match a non-IP frame */
	__u64 l4_mask; /* tuples comparing an L4 field (MOAT_F_L4) */
	__u64 sport0_mask, dport0_mask, flags0_mask; /* class 0 masks */
	__u64 proto_mask[2][256]; /* [IPv6][protocol]: family and protocol */
	struct moat_tuple tuples[MOAT_MAX_TUPLES];
};

/* rules array: index = slot * MOAT_MAX_RULES + position */
struct moat_rule {
	__u32 action; /* enum moat_action */
	__u32 ifindex; /* redirect target */
	__u32 id; /* stable rule id, index into rule_stats */
	__u32 pad;
};

/* ---- per-field class lookups ---- */

/*
 * Image-level prefixes (compiler output): a direction byte in front of the
 * address, prefixlen = 8 + address prefix length.  The map writer turns
 * the source and destination prefixes of a family into one set of
 * "union" prefixes whose value is a leaf: (source class, destination
 * class) of the longest prefix of each direction containing it.
 */
enum moat_dir {
	MOAT_DIR_SRC = 0,
	MOAT_DIR_DST = 1,
};

struct moat_lpm4_key {
	__u32 prefixlen;
	__u8 dir;
	__u8 addr[4]; /* network byte order */
} __attribute__((packed));

/* In the kernel's lpm6 trie, `dir` holds the address table number
 * (gen_info.atab); the value is a leaf index.  The trie holds only what
 * a6mid does not (below): dense /48s, and the prefixes < 48 when there
 * are more than MOAT_A6_NSHORT lengths of them. */
struct moat_lpm6_key {
	__u32 prefixlen;
	__u8 dir;
	__u8 addr[16];
} __attribute__((packed));

/*
 * IPv4 address -> leaf (DIR-16, DIR-24, then a hash for longer prefixes):
 *   a4top[atab << 11 | addr >> 21].leaf[(addr >> 16) & 31] is the leaf of
 *   a /16 whose cells all hold the same leaf, else MOAT_A4_DESCEND;
 *   a4tab[atab << 19 | addr >> 13].leaf[(addr >> 8) & 31] is the leaf of
 *   the longest union prefix of length <= 24 covering the address's /24;
 *   when that leaf's `lens` is not 0 the /24 holds longer prefixes.  They
 *   are all in one a4x bucket, a 64-byte line of 8 entries:
 *   a4x[atab << MOAT_A4X_BITS | moat_a4x_home(addr >> 8)]; the entry with
 *   the longest prefix covering the address gives the leaf, none: the
 *   cell's leaf.  A /24 whose prefixes did not fit in its bucket (more
 *   than 8, or the bucket full) has MOAT_A4_LENS_HASH in lens and keeps
 *   them in a4long instead: probe {atab << 8 | len, addr & mask(len)} for
 *   each len in lens (bit len - 25), longest first; a hit gives the leaf.
 * Leaves (per slot): aleaf[slot * MOAT_LEAF_SLOT + leaf]; leaf 0 = in no
 * prefix.  Leaf indexes with lens != 0 exist only for a4tab cells.
 */
#define MOAT_A4_LINE 32 /* /24 cells per a4tab value (one cache line) */
#define MOAT_A4_TOP_LINES (1U << 11) /* a4top lines per address table */
#define MOAT_A4_DESCEND 0xffff /* a4top: the /16 is not uniform */
#define MOAT_A4_LINES (1U << 19) /* per address table */
#define MOAT_LEAF_SLOT 65536

struct moat_a4line {
	__u16 leaf[MOAT_A4_LINE];
};

struct moat_a4long_key {
	__u32 tab_len; /* atab << 8 | prefix length (25..32) */
	__u32 addr; /* host byte order, masked to the length */
};

/* a4x: MOAT_A4X_BUCKETS buckets per address table (16 MiB), so 1M
 * prefixes longer than /24 fill them to at most half.  Entry: 0 = empty,
 * else addr (host order, masked) | plen << 32 | leaf << 40. */
#define MOAT_A4X_BITS 18
#define MOAT_A4X_BUCKETS (1U << MOAT_A4X_BITS)
#define MOAT_A4X_WAYS 8
#define MOAT_A4_LENS_HASH (1U << 8) /* aleaf.lens: the /24's in a4long */
struct moat_a4x {
	__u64 e[MOAT_A4X_WAYS];
};

static inline __u32 moat_a4x_home(__u32 cell)
{
	return (__u32)(((__u64)cell * 0x9e3779b97f4a7c15ULL) >>
		       (64 - MOAT_A4X_BITS));
}

static inline __u64 moat_a4x_entry(__u32 addr, __u32 plen, __u32 leaf)
{
	return (__u64)addr | (__u64)plen << 32 | (__u64)leaf << 40;
}

/*
 * IPv6 address -> leaf.  a6mid is an open-addressed hash table of 64-byte
 * lines kept in a plain array (per table MOAT_A6_LINES lines from index
 * atab * MOAT_A6_LINES, of which the first 1 << gen_info.a6bits are used,
 * as few as keep the load <= 1/2, so a small table stays cache- and
 * TLB-friendly; linear probing from moat_a6_home(key, a6bits), at most
 * MOAT_A6_PROBE lines, an empty line (key 0) ends the search), so a probe
 * is one array read, not a hash-map call.  First, like a4top for IPv4,
 *   a6top[atab << 11 | hi >> 53].leaf[(hi >> 48) & 31] is the leaf of a
 *   /16 holding no union prefix longer than /16, else MOAT_A4_DESCEND:
 *   a random source outside the /16s holding longer prefixes costs one
 *   read of a small table.
 * A line's key is
 * moat_a6_key(hi, L): the top 64 bits masked to L (L <= 48) | L << 1 | 1.
 *   1. the line of the address's /48 (L = 48) exists when the /48 is a
 *      union prefix or holds longer ones: `leaf` = the longest union
 *      prefix <= /48 covering it; prefixes /49../64 below are inline
 *      (plen[i], mid[i] = address bits 48..63 masked, ileaf[i]; longest
 *      first), the lengths > 64 present are listed in len[] (longest
 *      first) and probed in a6long {atab << 8 | L, address masked to L};
 *      more than MOAT_A6_NIN inline prefixes or MOAT_A6_NLONG long lengths
 *      make it dense (n = MOAT_A6_DENSE): lpm6 then holds the /48 (with
 *      `leaf`) and every prefix below it.
 *   2. no /48 line: gen_info.a6short lists the lengths < 48 present
 *      (byte i = L + 1, longest first, 0 ends), each a line with the
 *      prefix's own leaf: the first line found gives the leaf, none gives
 *      leaf 0.  With more than MOAT_A6_NSHORT such lengths a6short is
 *      MOAT_A6_SHORT_TRIE and lpm6 holds the prefixes < 48 instead.
 */
#define MOAT_A6_MID 48
#define MOAT_A6_TOP_LINES (1U << 11) /* a6top lines per address table */
#define MOAT_A6_BITS 19
#define MOAT_A6_MIN_BITS 10
#define MOAT_A6_LINES (1U << MOAT_A6_BITS) /* per address table */
#define MOAT_A6_MAX_LINES (MOAT_A6_LINES / 2) /* load factor <= 1/2 */
#define MOAT_A6_PROBE 16 /* lines searched from a key's home */
#define MOAT_A6_NIN 8 /* inline prefixes /49../64 per /48 line */
#define MOAT_A6_NLONG 6 /* lengths > 64 listed per /48 line */
#define MOAT_A6_NSHORT 8 /* lengths < 48 probed as lines */
#define MOAT_A6_SHORT_TRIE (~0ULL)
#define MOAT_A6_DENSE 0xff

struct moat_a6mid {
	__u64 key; /* 0: empty line */
	__u16 leaf;
	__u8 n; /* inline prefixes, or MOAT_A6_DENSE */
	__u8 nl; /* lengths > 64 in len[] */
	__u8 len[MOAT_A6_NLONG];
	__u8 plen[MOAT_A6_NIN];
	__u16 mid[MOAT_A6_NIN];
	__u16 ileaf[MOAT_A6_NIN];
	__u8 pad[6];
};

static inline __u64 moat_a6_key(__u64 hi, __u32 len)
{
	return (len ? hi & ~0ULL << (64 - len) : 0) | (__u64)len << 1 | 1;
}

static inline __u32 moat_a6_home(__u64 key, __u32 bits)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

struct moat_a6long_key {
	__u32 tab_len; /* atab << 8 | prefix length (49..128) */
	__u32 pad;
	__u64 hi, lo; /* host order, masked to the length */
};

struct moat_aleaf {
	__u64 smask; /* tuple mask of scls as a source */
	__u64 dmask; /* tuple mask of dcls as a destination */
	__u32 scls; /* source address class */
	__u32 dcls; /* destination address class */
	__u32 lens; /* a4tab cells: bit L-25 = prefixes of length L below */
	__u32 pad;
};

/* l4cls array, per slot: index = slot * MOAT_L4CLS_SIZE + ... */
#define MOAT_L4CLS_SPORT 0 /* + port: source port class */
#define MOAT_L4CLS_DPORT 65536 /* + port: destination port class */
#define MOAT_L4CLS_FLAGS 131072 /* + tcp flags byte: flags class */
#define MOAT_L4CLS_SIZE (131072 + 256)

struct moat_l4cls {
	__u64 mask; /* tuple mask of the class */
	__u16 cls;
	__u16 pad[3];
};

/* ---- config: what each interface enforces ---- */

/*
 * config[port]: every attached interface has a port (1..MOAT_MAX_PORTS-1),
 * given to its program as the read-only constant `moat_port` at load time;
 * port 0 serves BPF_PROG_TEST_RUN.  So interfaces move between rule sets
 * one at a time (staged rollout) at no per-packet cost.
 *
 * The entry is 8 bytes read and written as one 64-bit word, so a packet
 * sees one consistent setting: the slot in force, and optionally a
 * candidate slot that is either
 *   SHADOW  classified too, its verdict only counted (cand_stats,
 *           cand_rules, shadow_src), never applied; or
 *   CANARY  enforced for the flows whose moat_flow_hash() is below
 *           `canary` (a share of 2^32), the rest keep `slot`.
 * Without a candidate (NONE), the upper half is `tag` instead: the low 32
 * bits of gen_info[slot].epoch, stamped by whoever writes the entry
 * (moat_config_stamp()), so the microflow cache tells current lines from
 * the word it has already read, without reading gen_info (mflow.h).  A
 * slot is never rewritten while an entry names it, so the tag stays true;
 * a tag that is not (0, or a stale one) only costs cache hits: a line is
 * filled with its slot's real epoch, so it never answers for another.
 * The moat_ctl program writes the entries of interfaces (one 64-bit store
 * per port), stamping the tag itself; tests write port 0 the same way.
 */
enum moat_cand_mode {
	MOAT_CAND_NONE = 0,
	MOAT_CAND_SHADOW = 1,
	MOAT_CAND_CANARY = 2,
};

struct moat_config {
	__u8 slot; /* slot in force */
	__u8 cand; /* candidate slot (mode != NONE) */
	__u8 mode; /* enum moat_cand_mode */
	__u8 pad;
	union {
		__u32 canary; /* CANARY: flows with hash < canary take the candidate */
		__u32 tag; /* NONE: the low 32 bits of gen_info[slot].epoch */
	};
} __attribute__((aligned(8)));

/* The config entry c with its tag stamped from the epoch of its slot (no
 * candidate only; a candidate's entry keeps its canary share). */
static inline void moat_config_stamp(struct moat_config *c, __u64 epoch)
{
	if (c->mode == MOAT_CAND_NONE)
		c->tag = (__u32)epoch;
}

/*
 * Canary share of a flow: symmetric in the two directions (addresses and
 * ports enter through XOR and sum), over addresses, protocol and ports
 * (ports 0 without an L4 header, so non-first fragments of a flow may
 * land on the other side).  Shared by the data plane and ctl (tests).
 */
static inline __u64 moat_mix64(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline __u32 moat_flow_hash(const __u32 *saddr, const __u32 *daddr,
				   __u16 sport, __u16 dport, __u8 proto)
{
	__u32 s = saddr[0] ^ saddr[1] ^ saddr[2] ^ saddr[3];
	__u32 d = daddr[0] ^ daddr[1] ^ daddr[2] ^ daddr[3];
	__u32 ps = saddr[0] + saddr[1] + saddr[2] + saddr[3];
	__u32 pd = daddr[0] + daddr[1] + daddr[2] + daddr[3];
	__u64 h;

	h = moat_mix64((__u64)(s ^ d) << 32 | (__u32)(ps + pd));
	h = moat_mix64(h ^ ((__u64)(__u16)(sport ^ dport) << 24 |
			    (__u64)(__u16)(sport + dport) << 8 | proto));
	return (__u32)h;
}

/* canary threshold for a share in 1/100 percent (0 < x100 < 10000); a
 * wider share takes every flow of a narrower one */
static inline __u32 moat_canary_threshold(__u32 x100)
{
	return (__u32)(((__u64)x100 << 32) / 10000);
}

/* ... and back: the share (1/100 percent, rounded) of a threshold */
static inline __u32 moat_canary_x100(__u32 threshold)
{
	return (__u32)(((__u64)threshold * 10000 + (1ULL << 31)) >> 32);
}

/* Candidate counters (per-CPU array cand_stats, struct moat_counter): the
 * verdicts of each side, as enum moat_action offsets from each base. */
enum moat_cand_stat {
	MOAT_CS_ENFORCED = 0, /* + action: packets on the rule set in force */
	MOAT_CS_CANARY = 3, /* + action: packets the canary decided */
	MOAT_CS_SHADOW = 6, /* + action: what the shadow would have done */
	MOAT_CS_PASS_TO_DROP = 9, /* shadow: in force passes, it would drop */
	MOAT_CS_DROP_TO_PASS = 10, /* in force drops, it would pass */
	MOAT_CS_OTHER_CHANGE = 11, /* pass <-> redirect, or redirect target */
	MOAT_CS_MAX = 12,
};

/* cand_rules (per-CPU array, MOAT_MAX_RULES + 1): per candidate rule
 * position, packets it decided; [MOAT_MAX_RULES] = no rule matched
 * (policy, non-IP, neighbour discovery). */
#define MOAT_CAND_NOMATCH MOAT_MAX_RULES
struct moat_cand_rule {
	__u64 packets;
	__u64 bytes;
	__u64 pass_to_drop; /* shadow: changes this rule is responsible for */
	__u64 drop_to_pass;
};

/* shadow_src (LRU hash): sources of packets whose verdict would change */
#define MOAT_SHADOW_SRCS 4096
struct moat_src_key {
	__u32 family; /* 4 or 6 */
	__u32 addr[4]; /* network order; IPv4 uses addr[0] */
};

struct moat_src_val {
	__u64 pass_to_drop;
	__u64 drop_to_pass;
};

/*
 * fcache (per-CPU array of one struct moat_fc, 32 KiB, the most a per-CPU
 * value may be): the flow cache, MOAT_FC_LINES lines, direct mapped.
 * A line holds a packet's classification input (the first MOAT_FC_WORDS
 * 64-bit words of the data plane's struct moat_pkt: addresses, ethertype,
 * VLAN, ports, protocol, TCP flags, ICMP type/code, fragment and
 * connection state), the ingress ifindex, and the rule position that
 * input got (MOAT_NO_MATCH too) from the slot whose gen_info.epoch is
 * `epoch`.  ctl gives every slot it writes an epoch above every earlier
 * one, so lines of a rewritten slot never match again; 0 = empty line,
 * and a slot with epoch 0 is not cached.
 */
#define MOAT_FC_BITS 9
#define MOAT_FC_LINES (1U << MOAT_FC_BITS)
#define MOAT_FC_WORDS 6
/* the key words, field by field (the data plane's struct moat_pkt starts
 * with the same fields: xdp/fcache.h checks the offsets) */
struct moat_fc_key {
	__u32 saddr[4]; /* network order; IPv4 uses saddr[0] */
	__u32 daddr[4];
	__u16 ethertype, vlan, sport, dport; /* host order */
	__u8 family, proto, has_l4, tcp_flags;
	__u8 icmp_type, icmp_code, nonfirst_frag, ct;
};
struct moat_fc_line {
	__u64 key[MOAT_FC_WORDS];
	__u64 epoch;
	__u32 ifindex;
	__u32 pos;
};
struct moat_fc {
	struct moat_fc_line line[MOAT_FC_LINES];
};

/* Line of a flow cache key in a slot of this epoch: multiply-shift over
 * the words (fcache).  The epoch is mixed in so that the slot in force and
 * a shadow candidate keep a packet's two answers on different lines. */
static inline __u32 moat_fc_index(const __u64 *k, __u32 ifindex, __u64 epoch)
{
	__u64 h = (k[0] ^ ifindex ^ epoch << 32) * 0x9e3779b97f4a7c15ULL +
		  k[1] * 0xc2b2ae3d27d4eb4fULL + k[2] * 0x165667b19e3779f9ULL +
		  k[3] * 0xd6e8feb86659fd93ULL + k[4] * 0xff51afd7ed558ccdULL +
		  k[5] * 0xc4ceb9fe1a85ec53ULL;

	return (__u32)(h >> (64 - MOAT_FC_BITS));
}

/*
 * mflow (per-CPU array of one struct moat_mf, 32 KiB): the microflow
 * cache, read before the packet is parsed (xdp/mflow.h).  Only packets of
 * one plain shape take part: untagged or with one or two VLAN tags (802.1Q
 * or 802.1ad; the parser's limit), then IPv4 with a 20-byte header, not a non-first fragment,
 * and a total length of at least 20, or IPv6 whose next header is not an
 * extension header; and TCP, UDP, SCTP and ICMP/ICMPv6 headers complete
 * in the frame (any other protocol has no L4 fields).  Their key is read
 * straight from the frame at fixed offsets (4 or 8 bytes further on
 * behind tags):
 *   key[0..3]  source and destination address (IPv4: key[0], rest 0)
 *   key[4]     the first 4 bytes of the L4 header (TCP/UDP/SCTP ports;
 *              ICMP type and code: 2 bytes), TCP flags << 32,
 *              protocol << 40, family (4 or 6) << 48, and for a tagged
 *              frame MOAT_MF_TAGGED | outer VID << MOAT_MF_VID_SHIFT
 *              (the inner tag of two is skipped, as the parser does)
 * For such packets equal keys mean equal parser output (struct moat_pkt),
 * so the same rule of the same rule set.  A line also holds, in one word
 * (tagif), the ingress ifindex and the tag of the slot that answered (the
 * low 32 bits of its gen_info.epoch, as the config word carries it), and
 * the answer itself: the rule's counter id, action and
 * redirect target, or the stat of a packet no rule matched.  A hit skips
 * parsing and classification; it is taken only while the interface has
 * no candidate (shadow, canary) and its slot does no connection tracking,
 * and a line is only written then.  0 = empty line (a key is never 0: it
 * holds the family).  A hit needs key, ifindex and tag equal: the tag of
 * the config word read for the packet, so no gen_info read.
 */
#define MOAT_MF_BITS 9
#define MOAT_MF_TAGGED (1ULL << 51) /* key[4]: VLAN-tagged */
#define MOAT_MF_VID_SHIFT 52 /* key[4]: the outer VID (12 bits) */
#define MOAT_MF_LINES (1U << MOAT_MF_BITS)
#define MOAT_MF_WORDS 5
struct moat_mf_line {
	__u64 key[MOAT_MF_WORDS];
	__u64 tagif; /* moat_mf_tagif(): slot epoch tag, ingress ifindex */
	__u32 id; /* rule id (rule_stats index) when `rule` */
	__u32 rif; /* redirect target (MOAT_ACT_REDIRECT) */
	__u8 rule; /* 1: a rule decided; 0: no rule matched */
	__u8 action; /* enum moat_action of the verdict */
	__u16 stat; /* no rule matched: the enum moat_stat it is counted in */
	__u32 pad;
};
struct moat_mf {
	struct moat_mf_line line[MOAT_MF_LINES];
};

/* A line's tagif: the tag of a slot of epoch `epoch` (as in struct
 * moat_config), and the ingress ifindex. */
static inline __u64 moat_mf_tagif(__u64 epoch, __u32 ifindex)
{
	return (__u64)(__u32)epoch << 32 | ifindex;
}

/* Line of microflow key k0..k4 arriving on ifindex: multiply-shift (by
 * value, so an IPv4 key's zero words fold away). */
static inline __u32 moat_mf_index(__u64 k0, __u64 k1, __u64 k2, __u64 k3,
				  __u64 k4, __u32 ifindex)
{
	__u64 h = (k0 ^ ifindex) * 0x9e3779b97f4a7c15ULL +
		  k1 * 0xc2b2ae3d27d4eb4fULL + k2 * 0x165667b19e3779f9ULL +
		  k3 * 0xd6e8feb86659fd93ULL + k4 * 0xff51afd7ed558ccdULL;

	return (__u32)(h >> (64 - MOAT_MF_BITS)) & (MOAT_MF_LINES - 1);
}

/* ---- counters (per-CPU) ---- */
struct moat_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * Global stats, index into the "stats" per-CPU array.  The MOAT_STAT_DROP_*
 * entries are drop reasons: every dropped packet is counted in exactly one
 * of them.  The others are events.
 */
enum moat_stat {
	MOAT_STAT_RX = 0, /* every packet seen: the sum of the verdicts */
	MOAT_STAT_POLICY_PASS, /* no rule matched, policy pass */
	MOAT_STAT_NONIP_PASS, /* non-IP frame, no rule matched: passed */
	MOAT_STAT_ND_PASS, /* IPv6 neighbour discovery, no rule matched */
	MOAT_STAT_FRAGMENT, /* non-first fragment (no L4 header) seen */
	MOAT_STAT_RULE_PASS,
	MOAT_STAT_REDIRECT,
	MOAT_STAT_SLOW_PATH, /* not answered by the microflow cache: parsed */
	/* drop reasons */
	MOAT_STAT_DROP_RULE, /* dropped by a rule */
	MOAT_STAT_DROP_POLICY, /* dropped by the policy */
	MOAT_STAT_DROP_TRUNC_ETH, /* shorter than an Ethernet header */
	MOAT_STAT_DROP_TRUNC_VLAN, /* VLAN tag cut short */
	MOAT_STAT_DROP_VLAN_DEPTH, /* more than MOAT_MAX_VLAN_DEPTH tags */
	MOAT_STAT_DROP_BAD_IP4, /* truncated, IHL < 5, bad version or length */
	MOAT_STAT_DROP_BAD_IP6, /* truncated or bad version */
	MOAT_STAT_DROP_BAD_IP6_EXT, /* ext header cut short or chain too long */
	MOAT_STAT_DROP_TRUNC_L4, /* first fragment with cut-short L4 header */
	MOAT_STAT_DROP_REDIRECT, /* redirect target missing */
	MOAT_STAT_MAX,
};
#define MOAT_STAT_FIRST_DROP MOAT_STAT_DROP_RULE

/*
 * Every packet is counted in exactly one verdict counter: the drop
 * reasons, policy_pass, non_ip_pass, neighbour_discovery_pass, rule_pass,
 * redirect.  So the data plane does not count MOAT_STAT_RX (one counter
 * less per packet); whoever reads the counters fills it in as their sum
 * (moat_stats_fill_rx).  non_first_fragment and slow_path are events on
 * top.
 */
static inline int moat_stat_is_verdict(int s)
{
	return s > MOAT_STAT_RX && s < MOAT_STAT_MAX &&
	       s != MOAT_STAT_FRAGMENT && s != MOAT_STAT_SLOW_PATH;
}

/* packets[MOAT_STAT_RX] (and bytes, may be NULL) = the verdicts' sum. */
static inline void moat_stats_fill_rx(__u64 *packets, __u64 *bytes)
{
	__u64 p = 0, b = 0;

	for (int s = 0; s < MOAT_STAT_MAX; s++)
		if (moat_stat_is_verdict(s)) {
			p += packets[s];
			b += bytes ? bytes[s] : 0;
		}
	packets[MOAT_STAT_RX] = p;
	if (bytes)
		bytes[MOAT_STAT_RX] = b;
}

#ifndef __BPF__
static const char *const moat_stat_names[MOAT_STAT_MAX] = {
	[MOAT_STAT_RX] = "rx",
	[MOAT_STAT_POLICY_PASS] = "policy_pass",
	[MOAT_STAT_NONIP_PASS] = "non_ip_pass",
	[MOAT_STAT_ND_PASS] = "neighbour_discovery_pass",
	[MOAT_STAT_FRAGMENT] = "non_first_fragment",
	[MOAT_STAT_RULE_PASS] = "rule_pass",
	[MOAT_STAT_REDIRECT] = "redirect",
	[MOAT_STAT_SLOW_PATH] = "slow_path",
	[MOAT_STAT_DROP_RULE] = "drop_rule",
	[MOAT_STAT_DROP_POLICY] = "drop_policy",
	[MOAT_STAT_DROP_TRUNC_ETH] = "drop_truncated_ethernet",
	[MOAT_STAT_DROP_TRUNC_VLAN] = "drop_truncated_vlan",
	[MOAT_STAT_DROP_VLAN_DEPTH] = "drop_vlan_too_deep",
	[MOAT_STAT_DROP_BAD_IP4] = "drop_bad_ipv4",
	[MOAT_STAT_DROP_BAD_IP6] = "drop_bad_ipv6",
	[MOAT_STAT_DROP_BAD_IP6_EXT] = "drop_bad_ipv6_ext",
	[MOAT_STAT_DROP_TRUNC_L4] = "drop_truncated_l4",
	[MOAT_STAT_DROP_REDIRECT] = "drop_redirect_failed",
};
#endif

/*
 * Maps (names as in xdp/moat.bpf.c, pinned under /sys/fs/bpf/moat/).  All
 * are plain (no map-in-map) so the verifier inlines or direct-calls every
 * lookup; per-slot data is told apart by the slot in the index or key.
 *   config      ARRAY[MAX_PORTS]              struct moat_config
 *   gen_info    ARRAY[MOAT_SLOTS]             struct moat_gen_info
 *   rules       ARRAY[SLOTS*MAX_RULES]        struct moat_rule
 *   l4cls       ARRAY[SLOTS*L4CLS_SIZE]       struct moat_l4cls (mmapable)
 *   cls         HASH[CLS_TOTAL]               moat_cls_key -> moat_cls_val
 *   aleaf       ARRAY[SLOTS*LEAF_SLOT]        struct moat_aleaf (mmapable)
 *   a4top       ARRAY[ATABS*A4_TOP_LINES]     struct moat_a4line (mmapable)
 *   a4tab       ARRAY[ATABS*A4_LINES]         struct moat_a4line (mmapable)
 *   a4x         ARRAY[ATABS*A4X_BUCKETS]      struct moat_a4x (mmapable)
 *   a4long      HASH[ATABS*MAX_A4LONG]        moat_a4long_key -> __u32 leaf
 *   lpm6        LPM_TRIE[ATABS*MAX_LPM6]      moat_lpm6_key -> __u32 leaf
 *   a6top       ARRAY[ATABS*A6_TOP_LINES]     struct moat_a4line (mmapable)
 *   a6mid       ARRAY[ATABS*A6_LINES]         struct moat_a6mid (mmapable)
 *   a6long      HASH[ATABS*MAX_LPM6]          moat_a6long_key -> __u32 leaf
 *   rule_stats  PERCPU_ARRAY[RULE_IDS]        struct moat_counter
 *   stats       PERCPU_ARRAY[MOAT_STAT_MAX]   struct moat_counter
 *   redirect_map DEVMAP_HASH[MAX_IFACES]      ifindex -> ifindex
 *   confirm     ARRAY[1]                      struct moat_confirm_val
 *   cand_stats  PERCPU_ARRAY[CAND_STAT_MAX]   struct moat_counter
 *   cand_rules  PERCPU_ARRAY[MAX_RULES + 1]   struct moat_cand_rule
 *   shadow_src  LRU_HASH[SHADOW_SRCS]         moat_src_key -> moat_src_val
 *   fcache      PERCPU_ARRAY[1]               struct moat_fc (flow cache)
 *   mflow       PERCPU_ARRAY[1]               struct moat_mf (microflow cache)
 * The hashes and the trie are BPF_F_NO_PREALLOC.  Address tables (a4tab,
 * a4long, lpm6, a6mid, a6long) are numbered apart from slots: two slots with the same
 * address layout share one, so an apply that leaves the addresses alone
 * rewrites none of them.
 */

/*
 * Config changes and confirm-or-rollback, done by the kernel.  The
 * "confirm" map (ARRAY[1]) holds a bpf_timer.  ctl writes a command into
 * .c (cmd, ports, want[], revert[]) and runs the moat_ctl program once
 * (BPF_PROG_TEST_RUN), which does it:
 *   SET      config[p] = want[p] for every port p in .ports
 *   ARM      the same, then start the timer (timeout_ns); when it fires
 *            with the state still PENDING, the kernel writes
 *            config[p] = revert[p] (state REVERTED).  No user-space
 *            process has to survive for that.
 *   CONFIRM  cancel the timer (state CONFIRMED).
 *   ROLLBACK cancel the timer and write config[p] = revert[p] now.
 * Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC).
 */
enum moat_confirm_cmd {
	MOAT_CONFIRM_NONE = 0,
	MOAT_CONFIRM_ARM,
	MOAT_CONFIRM_CONFIRM,
	MOAT_CONFIRM_ROLLBACK,
	MOAT_CONFIRM_SET,
};

enum moat_confirm_state {
	MOAT_CONFIRM_IDLE = 0,
	MOAT_CONFIRM_PENDING, /* timer running */
	MOAT_CONFIRM_CONFIRMED,
	MOAT_CONFIRM_REVERTED, /* the timer fired */
	MOAT_CONFIRM_ROLLED_BACK, /* moat rollback / failed health check */
};

struct moat_confirm {
	__u32 cmd; /* enum moat_confirm_cmd, written by ctl */
	__u32 state; /* enum moat_confirm_state (ARM/CONFIRM/ROLLBACK) */
	__u64 ports; /* bit p: config[p] is written */
	__u64 timeout_ns; /* ARM: how long until the revert */
	__u64 armed_ns; /* when armed */
	__u64 deadline_ns; /* when the timer fires */
	__u64 done_ns; /* when confirmed, reverted or rolled back */
	__s32 result; /* of the last command: 0 or -errno */
	__u32 gen; /* ctl: the generation on probation (display) */
	__u32 revert_gen; /* ctl: the generation a revert restores */
	__u32 pad;
	struct moat_config want[MOAT_MAX_PORTS];
	struct moat_config revert[MOAT_MAX_PORTS];
};

#ifdef __BPF__
struct moat_confirm_val {
	struct moat_confirm c;
	struct bpf_timer timer;
};
#else
struct moat_confirm_val {
	struct moat_confirm c;
	__u64 timer[2]; /* struct bpf_timer: opaque, kernel-managed */
};
#endif

/* ---- connection tracking (xdp/ct.h; docs/conntrack.md) ---- */

/* State of a packet, the `state` matcher; key.ct.  0: not tracked (non-IP,
 * non-first fragments, or no rule of the slot uses `state`). */
enum moat_ct_state {
	MOAT_CT_NONE = 0,
	MOAT_CT_NEW = 1,
	MOAT_CT_ESTABLISHED = 2,
	MOAT_CT_RELATED = 3,
	MOAT_CT_INVALID = 4,
	MOAT_CT_NSTATES,
};

/* Timeouts (seconds), index into moat_ct_config.timeout. */
enum moat_ct_timeout {
	MOAT_CT_T_TCP_SYN = 0, /* handshake in progress */
	MOAT_CT_T_TCP_EST, /* established */
	MOAT_CT_T_TCP_FIN, /* one side sent FIN */
	MOAT_CT_T_TCP_TIME_WAIT, /* both sides sent FIN */
	MOAT_CT_T_TCP_CLOSE, /* RST seen */
	MOAT_CT_T_UDP, /* unreplied (or replied less than 2 s ago) */
	MOAT_CT_T_UDP_STREAM, /* replied, older than 2 s */
	MOAT_CT_T_ICMP, /* echo request/reply by identifier */
	MOAT_CT_T_GENERIC, /* other IP protocols */
	MOAT_CT_T_MAX,
};

#ifndef __BPF__
/* names of the timeouts in the rule file's `conntrack { }` block */
static const char *const moat_ct_timeout_names[MOAT_CT_T_MAX] = {
	[MOAT_CT_T_TCP_SYN] = "tcp-syn",
	[MOAT_CT_T_TCP_EST] = "tcp-established",
	[MOAT_CT_T_TCP_FIN] = "tcp-fin",
	[MOAT_CT_T_TCP_TIME_WAIT] = "tcp-time-wait",
	[MOAT_CT_T_TCP_CLOSE] = "tcp-close",
	[MOAT_CT_T_UDP] = "udp",
	[MOAT_CT_T_UDP_STREAM] = "udp-stream",
	[MOAT_CT_T_ICMP] = "icmp",
	[MOAT_CT_T_GENERIC] = "generic",
};
#endif

#define MOAT_CT_DEFAULT_MAX 262144
#define MOAT_CT_MIN_MAX 1024
#define MOAT_CT_MAX_MAX (1U << 24)
#define MOAT_CT_MAX_TIMEOUT 31536000 /* one year */

/* ct_config[slot]: written with the slot's rule set. */
struct moat_ct_config {
	__u32 enabled; /* a rule uses `state`: track (else no lookup at all) */
	__u32 fast; /* bit s: rule 0 is `pass state S..` alone, matching
		     * every packet in state s: skip classification */
	__u32 max; /* table size the file asks for (maps are sized once) */
	__u32 timeout[MOAT_CT_T_MAX]; /* seconds */
};

/* Flow key, canonical: (a, pa) <= (b, pb) compared as bytes, so both
 * directions of a flow find one entry.  ICMP echo: pa = pb = identifier. */
struct moat_ct_key {
	__u32 a[4]; /* network byte order; IPv4 uses a[0] */
	__u32 b[4];
	__u16 pa, pb; /* host order */
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u16 pad;
};

enum moat_ct_tcp {
	MOAT_CT_TCP_NONE = 0, /* not TCP */
	MOAT_CT_TCP_SYN_SENT,
	MOAT_CT_TCP_SYN_RECV,
	MOAT_CT_TCP_ESTABLISHED,
	MOAT_CT_TCP_FIN_WAIT,
	MOAT_CT_TCP_TIME_WAIT,
	MOAT_CT_TCP_CLOSE,
};

#define MOAT_CT_F_REPLIED 0x01 /* the responder has sent a packet */
#define MOAT_CT_F_EGRESS 0x02 /* started by the host (TC egress) */
#define MOAT_CT_F_FIN_A 0x04 /* FIN from the canonical side a */
#define MOAT_CT_F_FIN_B 0x08 /* FIN from side b */
#define MOAT_CT_F_PICKUP 0x10 /* picked up mid-stream at egress */

struct moat_ct_val {
	__u64 created_ns; /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 last_ns; /* last packet; expiry = last_ns + timeout */
	__u64 packets[2]; /* [0] initiator -> responder, [1] reply */
	__u8 tcp; /* enum moat_ct_tcp */
	__u8 init_b; /* 1: the initiator is side b of the key */
	__u8 flags; /* MOAT_CT_F_* */
	__u8 pad[5];
};

/*
 * Which timeout (enum moat_ct_timeout) applies to a flow: shared by the data
 * plane (expiry) and ctl (`moat conntrack list`), so both agree.
 */
static inline __u32 moat_ct_timeout_of(__u8 proto, const struct moat_ct_val *v,
				       __u64 now)
{
	if (proto == 6) {
		switch (v->tcp) {
		case MOAT_CT_TCP_ESTABLISHED:
			return MOAT_CT_T_TCP_EST;
		case MOAT_CT_TCP_FIN_WAIT:
			return MOAT_CT_T_TCP_FIN;
		case MOAT_CT_TCP_TIME_WAIT:
			return MOAT_CT_T_TCP_TIME_WAIT;
		case MOAT_CT_TCP_CLOSE:
			return MOAT_CT_T_TCP_CLOSE;
		default:
			return MOAT_CT_T_TCP_SYN;
		}
	}
	if (proto == 17)
		return (v->flags & MOAT_CT_F_REPLIED) &&
				       now - v->created_ns > 2000000000ULL ?
			       MOAT_CT_T_UDP_STREAM :
			       MOAT_CT_T_UDP;
	if (proto == 1 || proto == 58)
		return MOAT_CT_T_ICMP;
	return MOAT_CT_T_GENERIC;
}

/* ct_stats (per-CPU __u64): events of the flow tables. */
enum moat_ct_stat {
	MOAT_CT_STAT_NEW_INSERT = 0, /* flows entered into ct_new */
	MOAT_CT_STAT_NEW_DELETE, /* removed from ct_new (promoted, expired) */
	MOAT_CT_STAT_EST_INSERT, /* flows entered into ct_est */
	MOAT_CT_STAT_EST_DELETE, /* removed from ct_est (expired, reopened) */
	MOAT_CT_STAT_INSERT_FAIL, /* an insert failed (memory) */
	MOAT_CT_STAT_PKT_NEW, /* packets classified per state */
	MOAT_CT_STAT_PKT_EST,
	MOAT_CT_STAT_PKT_REL,
	MOAT_CT_STAT_PKT_INV,
	MOAT_CT_STAT_EGRESS, /* packets seen by the TC egress program */
	MOAT_CT_STAT_FLUSHED, /* removed by `moat conntrack flush` (ctl) */
	MOAT_CT_STAT_MAX,
};

/*
 * Maps: ct_config ARRAY[MOAT_SLOTS] moat_ct_config; ct_est LRU_HASH[max]
 * and ct_new LRU_HASH[max / 4] moat_ct_key -> moat_ct_val (established and
 * embryonic flows: a flood of new flows only evicts embryonic ones);
 * ct_stats PERCPU_ARRAY[MOAT_CT_STAT_MAX] __u64.
 */
#define MOAT_CT_NEW_DIV 4
#define MOAT_TC_HANDLE 0x6d6f /* "mo": our filter on clsact egress */
#define MOAT_TC_PRIO 0x6d6f

/* Run priority under the libxdp dispatcher (lower runs first). */
#define MOAT_XDP_RUN_PRIO 10

#endif /* MOAT_H */
