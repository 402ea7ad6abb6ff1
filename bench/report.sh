#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench/report.sh WORKDIR OUTDIR QUICK GEN_CPU ROUNDS SLOT REPEAT SEED PASSES
# Turns the raw results of bench.sh (progrun.jsonl, rig.jsonl, cp.jsonl in
# WORKDIR) into OUTDIR/latest.json, latest.md (also printed) and latest.png.
set -eu
W=$1 OUT=$2 QUICK=$3 GEN_CPU=$4 ROUNDS=$5 SLOT=$6 REPEAT=$7 SEED=$8 PASSES=${9:-1}
cd "$(dirname "$0")/.."

meta=$(jq -n --arg kernel "$(uname -r)" \
	--arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- xdp ctl include 2>/dev/null || echo -dirty)" \
	--arg nft "$(nft -v 2>/dev/null)" --arg ipt "$(iptables -V 2>/dev/null)" \
	--argjson ncpu "$(nproc)" --argjson quick "$QUICK" --argjson gen_cpu "$GEN_CPU" \
	--argjson rounds "$ROUNDS" --argjson slot "$SLOT" --argjson repeat "$REPEAT" \
	--argjson seed "$SEED" --argjson passes "$PASSES" \
	'{kernel: $kernel, cpu: $cpu, cpus: $ncpu, date: $date, git_commit: $commit,
	  nft: $nft, iptables: $ipt, quick: ($quick == 1), gen_cpu: $gen_cpu,
	  rig_rounds: $rounds, rig_slot_s: $slot, progrun_repeat: $repeat,
	  progrun_passes: $passes, seed: $seed}')

# targets, evaluated over whatever was measured (missing cases: null)
jq -n --argjson meta "$meta" \
	--slurpfile pr "$W/progrun.jsonl" --slurpfile rig "$W/rig.jsonl" \
	--slurpfile cp "$W/cp.jsonl" '
	# a row measured in several passes: the lowest (all of them kept)
	($pr | group_by(.name, .packet)
	     | map(min_by(.ns) + {ns_passes: map(.ns)})) as $pr |
	def r($n): ($rig | map(select(.name == $n)) | .[0].ratio) // null;
	def ns($n; $p): ($pr | map(select(.name == $n and .packet == $p)) | .[0].ns) // null;
	def worst($n): ([ "first", "last", "policy", "random" ] | map(ns($n; .)) | map(select(. != null))) as $a
		| ([ "first", "last", "policy", "random" ] | map(ns("rules-10"; .)) | map(select(. != null))) as $b
		| if ($a | length) == 4 and ($b | length) == 4 then
			[range(4)] | map($a[.] / $b[.]) | max else null end;
	def worst3_vs($n; $base): ([ "first", "last", "policy" ] | map(ns($n; .)) | map(select(. != null))) as $a
		| ([ "first", "last", "policy" ] | map(ns($base; .)) | map(select(. != null))) as $b
		| if ($a | length) == 3 and ($b | length) == 3 then
			[range(3)] | map($a[.] / $b[.]) | max else null end;
	def t($name; $val; $goal; $cmp):
		{target: $name, value: $val, goal: $goal, cmp: $cmp,
		 met: (if $val == null then null elif $cmp == "ge" then $val >= $goal else $val <= $goal end),
		 by: (if $val == null then null elif $cmp == "ge" then ($val / $goal) else ($goal / $val) end)};
	def div($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
	{meta: $meta, progrun: $pr, rig: $rig, control_plane: $cp,
	 targets: [
	  t("moat 10,000 rules: pps vs bare XDP_DROP"; r("moat-10000"); 0.8; "ge"),
	  t("moat 10,000 rules, random source: pps vs XDP_DROP"; r("moat-10000-rnd"); 0.8; "ge"),
	  t("moat 1,000,000-prefix set: pps vs XDP_DROP"; r("moat-set-1000000"); 0.8; "ge"),
	  t("moat 1,000,000-prefix set, random source: pps vs XDP_DROP"; r("moat-set-1000000-rnd"); 0.8; "ge"),
	  t("moat 10,000 rules: ns/packet vs 10 rules (worst of first/last/policy/random)"; worst("rules-10000"); 1.5; "le"),
	  t("moat 1,000,000-prefix set, one flow: ns/packet vs a 10-prefix set (worst of first/last/policy)"; (worst3_vs("set4-1000000"; "set4-10") // worst3_vs("set4-100000"; "set4-10")); 2; "le"),
	  t("shadow candidate (the largest rule set beside itself), a new flow every packet: ns/packet vs none (both classify every packet, the shadow once more: <= 2)"; (div(ns("shadow-10000"; "random"); ns("rules-10000"; "random")) // div(ns("shadow-1000"; "random"); ns("rules-1000"; "random"))); 2; "le"),
	  t("moat IPv4 1,000,000-prefix set lookup, random source: ns/packet vs a plain BPF LPM trie lookup (same run, same keys)"; div(ns("set4-1000000"; "lookup_random"); ns("set4-1000000"; "trie_random")); 0.2; "le"),
	  t("moat IPv6 100,000-prefix set lookup, random source: ns/packet vs a plain BPF LPM trie lookup (same run, same keys)"; div(ns("set6-100000"; "lookup_random"); ns("set6-100000"; "trie_random")); 0.2; "le"),
	  t("moat IPv4 1,000,000-prefix set lookup, sources in the set: vs the trie lookup"; div(ns("set4-1000000"; "lookup_random_hit"); ns("set4-1000000"; "trie_random_hit")); 0.2; "le"),
	  t("moat IPv6 100,000-prefix set lookup, sources in the set: vs the trie lookup"; div(ns("set6-100000"; "lookup_random_hit"); ns("set6-100000"; "trie_random_hit")); 0.2; "le"),
	  t("whole moat program, IPv4 1,000,000-prefix set, random source: vs the trie lookup alone"; div(ns("set4-1000000"; "random"); ns("set4-1000000"; "trie_random")); 0.2; "le"),
	  t("whole moat program, IPv6 100,000-prefix set, random source: vs the trie lookup alone"; div(ns("set6-100000"; "random"); ns("set6-100000"; "trie_random")); 0.2; "le"),
	  t("moat / nftables, 1 rule"; div(r("moat-1"); r("nft-1")); 3; "ge"),
	  t("moat / iptables, 1 rule"; div(r("moat-1"); r("ipt-1")); 3; "ge"),
	  t("moat / nftables verdict maps, 10,000 rules"; div(r("moat-10000"); r("nft-set-10000")); 3; "ge"),
	  t("moat / nftables verdict maps, 10,000 rules, random source"; div(r("moat-10000-rnd"); r("nft-set-10000-rnd")); 3; "ge"),
	  t("moat / nftables interval set, 1,000,000 elements"; div(r("moat-set-1000000"); r("nft-iset-1000000")); 3; "ge"),
	  t("moat / nftables interval set, 1,000,000 elements, random source"; div(r("moat-set-1000000-rnd"); r("nft-iset-1000000-rnd")); 3; "ge"),
	  t("moat / plain nftables list, 10,000 rules"; div(r("moat-10000"); r("nft-10000")); 1000; "ge"),
	  t("moat / xdp-filter, single-port deny"; div(r("moat-1"); r("xdp-filter")); 1; "ge")
	 ]}' >"$OUT/latest.json"

# markdown
{
	jq -r '.meta | "# moat benchmark\n\n\(.date), kernel \(.kernel), \(.cpu) x\(.cpus), commit \(.git_commit)\(if .quick then ", QUICK run (subset, short)" else "" end)  \nrig: generator pinned to CPU \(.gen_cpu), \(.rig_rounds) interleaved rounds x \(.rig_slot_s) s; BPF_PROG_TEST_RUN repeat \(.progrun_repeat), median of 3 calls, lowest of \(.progrun_passes // 1) pass(es); rule sets from seed \(.seed)\n"' "$OUT/latest.json"
	echo "## 1. Per-packet cost, BPF_PROG_TEST_RUN (ns/packet)"
	echo
	echo "| program | first rule | last rule | policy | random source | random source in set | load (s) |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	jq -r '.progrun | group_by(.name) | sort_by(.[0].name | if . == "xdp_drop" then 0 elif startswith("rules") then 1 elif startswith("shadow") then 1.5 elif startswith("set4") then 2 else 3 end, (split("-")[1] // "0" | tonumber))[] |
		(map({(.packet): .ns}) | add) as $m | .[0] as $f |
		if $f.name == "xdp_drop" then "| bare XDP_DROP (floor) | \($m.any) | | | | | |"
		else "| moat \($f.name) | \($m.first // "") | \($m.last // "") | \($m.policy // "") | \($m.random // "") | \($m.random_hit // "") | \($f.load_s) |" +
			(if $m.trie_random then "\n| plain BPF LPM trie, the prefixes of \($f.name) | | \($m.trie_last // "") | | \($m.trie_random) | \($m.trie_random_hit // "") | |" else "" end) +
			(if $m.lookup_random then "\n| moat address lookup alone, \($f.name) (same maps, no classification) | | \($m.lookup_last // "") | | \($m.lookup_random) | \($m.lookup_random_hit // "") | |" else "" end) end' "$OUT/latest.json"
	echo
	echo "## 2. Live drop rate on the veth rig (ratio of packets/s vs bare XDP_DROP, interleaved)"
	echo
	echo "| system | pps / XDP_DROP (median) | spread (min..max) | Mpps | +ns/pkt vs XDP_DROP | program +ns in place | rounds kept |"
	echo "|---|---:|---|---:|---:|---:|---:|"
	jq -r '.rig[] | "| \(.desc) | \(.ratio * 1000 | round / 1000) | \(.ratio_lo * 1000 | round / 1000)..\(.ratio_hi * 1000 | round / 1000) | \(.mpps) | \(.ns_over_base) | \(.prog_ns_over_base // "") | \(.kept)/\(.rounds) |"' "$OUT/latest.json"
	echo
	echo "## 3. Control plane"
	echo
	echo "| rule set | apply incl. attach (s) | re-apply, one rule changed (s) | map memory (MiB) |"
	echo "|---|---:|---:|---:|"
	jq -r '.control_plane[] | "| \(.name) | \(.apply_s) | \(.reapply_s // "-") | \(if .map_bytes == null then "-" else (.map_bytes / 1048576 * 10 | round / 10) end) |"' "$OUT/latest.json"
	echo
	echo "## Targets"
	echo
	echo "| target | measured | goal | met |"
	echo "|---|---:|---:|---|"
	jq -r '.targets[] | "| \(.target) | \(if .value == null then "not measured" else (.value * 1000 | round / 1000) end) | \(if .cmp == "le" then "<= " else ">= " end)\(.goal) | \(if .met == null then "-" elif .met then "met" else "MISSED (at \(.by * 100 | round)% of goal)" end) |"' "$OUT/latest.json"
} >"$OUT/latest.md"
cat "$OUT/latest.md"

# plot: moat ns/packet vs rule count (test run); pps vs rule count on the rig
if command -v gnuplot >/dev/null; then
	jq -r '.progrun[] | select(.name | startswith("rules-")) | select(.packet == "last") | "\(.name | split("-")[1]) \(.ns)"' "$OUT/latest.json" >"$W/p_last.dat"
	jq -r '.progrun[] | select(.name | startswith("rules-")) | select(.packet == "random") | "\(.name | split("-")[1]) \(.ns)"' "$OUT/latest.json" >"$W/p_rnd.dat"
	jq -r '.progrun[] | select(.name | startswith("set4-")) | select(.packet == "random") | "\(.name | split("-")[1]) \(.ns)"' "$OUT/latest.json" >"$W/p_set.dat"
	for s in moat nft nft-set ipt; do
		jq -r --arg s "$s" '.rig[] | select(.vary == 0) | select(.name | test("^" + $s + "-[0-9]+$")) | "\(.name | split("-") | last) \(.ratio)"' "$OUT/latest.json" | sort -n >"$W/r_$s.dat"
	done
	jq -r '.rig[] | select(.name == "nft-1") | "1 \(.ratio)"' "$OUT/latest.json" >"$W/r_nft-set.tmp"
	sort -n "$W/r_nft-set.tmp" "$W/r_nft-set.dat" >"$W/r_nft-set.all" && mv "$W/r_nft-set.all" "$W/r_nft-set.dat"
	jq -r '.rig[] | select(.name | test("^(moat-set|nft-iset|ipset)-[0-9]+$")) | "\(.name | split("-") | last) \(.ratio) \(.name | split("-")[0])"' "$OUT/latest.json" >"$W/r_sets.dat"
	gnuplot <<EOF || echo "report: gnuplot failed, no plot" >&2
set terminal pngcairo size 1400,560 font ",10"
set output "$OUT/latest.png"
set multiplot layout 1,2 title "moat benchmark, $(uname -r), $(date -u +%F)"
set logscale x
set xrange [0.7:3e6]
set grid
set key top left
set xlabel "rules / set elements"
set ylabel "ns per packet (BPF\\\_PROG\\\_TEST\\\_RUN)"
set title "moat per-packet cost"
plot "$W/p_last.dat" w lp pt 7 t "mixed rules, last rule matches", \
     "$W/p_rnd.dat" w lp pt 5 t "mixed rules, random source", \
     "$W/p_set.dat" w lp pt 9 t "IPv4 prefix set, random source", \
     $(jq -r '.progrun[] | select(.name == "xdp_drop") | .ns' "$OUT/latest.json") w l dt 2 t "bare XDP\\\_DROP"
set title "veth rig: packets/s absorbed vs bare XDP\\\_DROP (64-byte UDP, fixed source)"
set ylabel "pps / bare XDP\\\_DROP (log)"
set logscale y
set yrange [1e-4:2]
set key bottom left
plot "$W/r_moat.dat" w lp pt 7 t "moat (match last)", \
     "$W/r_nft.dat" w lp pt 5 t "nftables plain list (match last)", \
     "$W/r_nft-set.dat" w lp pt 9 t "nftables verdict maps", \
     "$W/r_ipt.dat" w lp pt 11 t "iptables raw (match last)", \
     "$W/r_sets.dat" u 1:2:(stringcolumn(3)) w labels point pt 13 offset -1,0.5 right t "1M-prefix sets", \
     1 w l dt 2 t "bare XDP\\\_DROP", 0.8 w l dt 3 t "target for moat (0.8)"
unset multiplot
EOF
fi
