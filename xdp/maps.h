/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h - the maps of the moat XDP program (names are the pin names; see
 * include/moat.h for what they hold).  Connection tracking's maps are in
 * ct.h.  Also included by the benchmark's lookup program
 * (bench/lookup.bpf.c), which runs moat's address lookup alone on moat's
 * maps.
 */
#ifndef MOAT_XDP_MAPS_H
#define MOAT_XDP_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "moat.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct moat_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_SLOTS);
	__type(key, __u32);
	__type(value, struct moat_gen_info);
} gen_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_SLOTS * MOAT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct moat_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_SLOTS * MOAT_L4CLS_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_l4cls);
} l4cls SEC(".maps");

/* Plain maps only (no map-in-map): the verifier inlines the array and hash
 * lookups and direct-calls the trie's, with no retpolined indirect call. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOAT_CLS_TOTAL);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct moat_cls_key);
	__type(value, struct moat_cls_val);
} cls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_SLOTS * MOAT_LEAF_SLOT);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_aleaf);
} aleaf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_ATABS * MOAT_A4_TOP_LINES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_a4line);
} a4top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_ATABS * MOAT_A4_LINES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_a4line);
} a4tab SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_ATABS * MOAT_A4X_BUCKETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_a4x);
} a4x SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOAT_ATABS * MOAT_MAX_A4LONG);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct moat_a4long_key);
	__type(value, __u32);
} a4long SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MOAT_ATABS * MOAT_MAX_LPM6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct moat_lpm6_key);
	__type(value, __u32);
} lpm6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_ATABS * MOAT_A6_TOP_LINES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_a4line);
} a6top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MOAT_ATABS * MOAT_A6_LINES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct moat_a6mid);
} a6mid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MOAT_ATABS * MOAT_MAX_LPM6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct moat_a6long_key);
	__type(value, __u32);
} a6long SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_RULE_IDS);
	__type(key, __u32);
	__type(value, struct moat_counter);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_STAT_MAX);
	__type(key, __u32);
	__type(value, struct moat_counter);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, MOAT_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} redirect_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moat_confirm_val);
} confirm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_CS_MAX);
	__type(key, __u32);
	__type(value, struct moat_counter);
} cand_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MOAT_MAX_RULES + 1);
	__type(key, __u32);
	__type(value, struct moat_cand_rule);
} cand_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MOAT_SHADOW_SRCS);
	__type(key, struct moat_src_key);
	__type(value, struct moat_src_val);
} shadow_src SEC(".maps");

/* the flow cache (include/moat.h, fcache.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moat_fc);
} fcache SEC(".maps");

/* the microflow cache (include/moat.h, mflow.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct moat_mf);
} mflow SEC(".maps");

#endif /* MOAT_XDP_MAPS_H */
