#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench/bench.sh - `make bench`: per-packet cost (BPF_PROG_TEST_RUN), live
# drop rate on a veth rig against bare XDP_DROP (interleaved rounds), and
# control-plane cost of moat; writes bench/results/latest.{md,json,png}.
# See bench/README.md.  QUICK=1: a subset in under a minute.
#
# env: QUICK (0) CASES (debug: rig cases to run, e.g. "case_xdp 'case_nft 1'")
#       SEED (1) GEN_CPU (0) ROUNDS (11) SLOT (0.6 s) REPEAT (1000000)
#      PASSES (2: BPF_PROG_TEST_RUN rows, each the lowest of this many
#      passes over all of them) OUT (bench/results) KEEP_WORK (0)
# Touches only: namespaces $ID-gen/$ID-dut it creates, bpffs dir
# /sys/fs/bpf/moat-bench-$ID, xdp-filter's pins while it runs, a temp dir.
# Traffic (198.18.0.0/15, RFC 2544) exists only between its two namespaces.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=${QUICK:-0}
SEED=${SEED:-1}
GEN_CPU=${GEN_CPU:-0}
OUT=${OUT:-bench/results}
B=$ROOT/build/bench
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-3} SLOT=${SLOT:-0.25} REPEAT=${REPEAT:-200000}
	PASSES=${PASSES:-1}
else
	ROUNDS=${ROUNDS:-11} SLOT=${SLOT:-0.6} REPEAT=${REPEAT:-1000000}
	PASSES=${PASSES:-2}
fi
ID=mb$$
GNS=$ID-gen DNS=$ID-dut
export MOAT_BPFFS_DIR=/sys/fs/bpf/moat-bench-$ID
MOAT=${MOAT:-$ROOT/build/moat} # a developer may time another build
W=$(mktemp -d /tmp/moat-bench.XXXXXX)
T0=$(date +%s)

log() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
die() { log "error: $*"; exit 2; }
gx() { ip netns exec "$GNS" "$@"; }
dx() { ip netns exec "$DNS" "$@"; }
dn() { nsenter --net=/run/netns/"$DNS" "$@"; } # keeps the host's /sys/fs/bpf

cleanup() {
	trap - EXIT INT TERM
	if ip netns list 2>/dev/null | grep -qw "$DNS"; then
		"$MOAT" -q -n "$DNS" detach --all >/dev/null 2>&1
		dn xdp-filter unload --all >/dev/null 2>&1
	fi
	ip netns del "$GNS" 2>/dev/null
	ip netns del "$DNS" 2>/dev/null
	rm -rf "$MOAT_BPFFS_DIR"
	[ -e /run/xdp-filter.lck ] && ! kill -0 "$(cat /run/xdp-filter.lck)" 2>/dev/null &&
		rm -f /run/xdp-filter.lck
	[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "make bench needs root (namespaces, XDP, netfilter)"

# ---- tools: install what is missing from Debian's archive ----
need=()
for t in gnuplot:gnuplot-nox nft:nftables iptables:iptables ipset:ipset \
	xdp-filter:xdp-tools ethtool:ethtool jq:jq bpftool:bpftool clang:clang \
	nsenter:util-linux; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		log "warning: could not install ${need[*]}; those cases are skipped"
fi
have() { command -v "$1" >/dev/null; }

# ---- build moat (retry: others may be mid-change) and the bench tools ----
for try in 1 2 3 4 5; do
	make -s -j"$(nproc)" all >"$W/make.log" 2>&1 && break
	[ $try = 5 ] && { cat "$W/make.log" >&2; die "make failed"; }
	log "make failed (try $try), retrying in 60 s"; sleep 60
done
mkdir -p "$B"
AI=-I/usr/include/$(gcc -dumpmachine)
for p in xdp_drop xdp_pass vary gen; do
	clang -target bpf -O2 -g -Wall -Werror $AI -c bench/$p.bpf.c -o "$B/$p.bpf.o" || die "build $p.bpf.c"
done
clang -target bpf -O2 -g -Wall -Werror $AI -Iinclude -Ixdp -c bench/lookup.bpf.c -o "$B/lookup.bpf.o" ||
	die "build lookup.bpf.c"
clang -target bpf -O2 -g -Wall -Werror $AI -c bench/trie.bpf.c -o "$B/trie4.bpf.o" &&
	clang -target bpf -O2 -g -Wall -Werror $AI -DTRIE_V6 -c bench/trie.bpf.c -o "$B/trie6.bpf.o" ||
	die "build trie.bpf.c"
CF="-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE"
gcc $CF -o "$B/gen-rules" bench/gen-rules.c || die "build gen-rules"
gcc $CF -o "$B/gen" bench/gen.c -lbpf || die "build gen"
gcc $CF -Iinclude -Ictl -Ibuild -o "$B/progrun" bench/progrun.c build/libmoat.a \
	-lxdp -lbpf -lelf -lz || die "build progrun"

# ---- rule sets (deterministic from SEED) ----
G=$B/gen-rules
if [ "$QUICK" = 1 ]; then
	RULES="10 1000" RIG_RULES="1000" SETS4="10 1000 100000" SET6=10000 RIG_SET=100000
else
	RULES="10 100 1000 10000" RIG_RULES="1000 10000" SETS4="10 1000 100000 1000000"
	SET6=100000 RIG_SET=1000000
fi
for n in 1 $RULES $RIG_RULES; do
	[ -e "$W/r$n.rules" ] && continue
	$G moat $n $SEED >"$W/r$n.rules"
	$G moat-var $n $SEED >"$W/r$n.var.rules"
done
setrules() { # FILE SETFILE LASTDST
	printf 'policy pass\nset blk file "%s"\ndrop from @blk\ndrop udp to %s port 9\n' "$2" "$3" >"$1"
}
for n in $SETS4 $RIG_SET; do
	[ -e "$W/s4-$n.txt" ] && continue
	$G set4 $n $SEED >"$W/s4-$n.txt"
	$G keys4 $n $SEED 65536 >"$W/k4-$n.txt"
	setrules "$W/s4-$n.rules" "s4-$n.txt" 198.18.0.6
	sed 's/port 9$/port 9\ndrop tcp to port 22/' "$W/s4-$n.rules" >"$W/s4-$n.var.rules"
done
$G set6 $SET6 $SEED >"$W/s6-$SET6.txt"
$G keys6 $SET6 $SEED 65536 >"$W/k6-$SET6.txt"
setrules "$W/s6-$SET6.rules" "s6-$SET6.txt" fd00::6
log "rule sets generated in $W"

# ---- 1. per-packet cost, BPF_PROG_TEST_RUN ----
PR="taskset -c $GEN_CPU $B/progrun -d $B -r $REPEAT -R 3"
: >"$W/progrun.jsonl"
[ -n "${CASES:-}" ] && RULES="" SETS4="" # debugging a few rig cases
# PASSES passes over every row, a minute or so apart: this VM has phases
# in which everything runs up to twice as slow, and a row is the lowest of
# its passes (report.sh; interference only ever adds time)
for pass in $(seq "$PASSES"); do
	log "progrun: pass $pass of $PASSES"
	$PR floor >>"$W/progrun.jsonl" || die "progrun floor"
	for n in $RULES; do
		log "progrun: moat, $n rules"
		(cd "$W" && $PR rules-$n rules r$n.rules) >>"$W/progrun.jsonl" || die "progrun r$n"
	done
	for n in ${RULES##* }; do # the largest rule set
		log "progrun: moat, $n rules with the same $n as a shadow candidate"
		(cd "$W" && $PR -S shadow-$n rules r$n.rules) >>"$W/progrun.jsonl" || die "progrun shadow-$n"
	done
	for n in $SETS4; do
		log "progrun: moat, set of $n IPv4 prefixes"
		T= # the largest set also against a plain LPM trie of its prefixes
		[ "$n" = "${SETS4##* }" ] && T="-T s4-$n.txt"
		(cd "$W" && $PR $T set4-$n set4 s4-$n.rules k4-$n.txt) >>"$W/progrun.jsonl" || die "progrun s4-$n"
	done
	if [ -z "${CASES:-}" ]; then
		log "progrun: moat, set of $SET6 IPv6 prefixes"
		(cd "$W" && $PR -T s6-$SET6.txt set6-$SET6 set6 s6-$SET6.rules k6-$SET6.txt) >>"$W/progrun.jsonl" || die "progrun s6"
	fi
done

# ---- 2. the veth rig ----
ip netns add "$GNS" && ip netns add "$DNS" || die "netns"
for i in 0 1; do
	ip link add $ID-g$i netns "$GNS" type veth peer name $ID-d$i netns "$DNS" || die veth
	ip -n "$GNS" addr add 198.18.0.$((4 * i + 1))/30 dev $ID-g$i
	ip -n "$DNS" addr add 198.18.0.$((4 * i + 2))/30 dev $ID-d$i
	ip -n "$GNS" link set $ID-g$i up
	ip -n "$DNS" link set $ID-d$i up
	ip -n "$DNS" neigh replace 198.18.0.$((4 * i + 1)) lladdr \
		"$(gx cat /sys/class/net/$ID-g$i/address)" dev $ID-d$i nud permanent
done
ip -n "$GNS" link set lo up
ip -n "$DNS" link set lo up
DMAC0=$(dx cat /sys/class/net/$ID-d0/address)
DMAC1=$(dx cat /sys/class/net/$ID-d1/address)
D1=$ID-d1

rx() { dx ethtool -S $ID-d$1 | awk '/rx_queue_[0-9]+_xdp_packets/ {s += $2} END {printf "%.0f\n", s}'; }
# slot PAIR SECONDS VARY -> Mpps received by the system under test
slot() {
	local i=$1 a b t0 t1 mac
	[ "$i" = 0 ] && mac=$DMAC0 || mac=$DMAC1
	a=$(rx $i); t0=$(date +%s%N)
	gx taskset -c $GEN_CPU "$B/gen" "$B/gen.bpf.o" $ID-g$i $mac 198.18.0.$((4 * i + 1)) \
		198.18.0.$((4 * i + 2)) 9 "$2" "$3" >/dev/null || echo "gen failed" >&2
	t1=$(date +%s%N); b=$(rx $i)
	awk -v n=$((b - a)) -v t=$((t1 - t0)) 'BEGIN {printf "%.4f\n", n / t * 1e3}'
}
xdp_on() {
	ip -n "$DNS" link set dev $ID-d$1 xdpdrv off 2>/dev/null
	ip -n "$DNS" link set dev $ID-d$1 xdpdrv obj "$B/$2.bpf.o" sec xdp
}
xdp_off() { ip -n "$DNS" link set dev $ID-d$1 xdpdrv off 2>/dev/null; true; }
reset1() {
	"$MOAT" -q -n "$DNS" detach --all >/dev/null 2>&1
	dn xdp-filter unload $D1 >/dev/null 2>&1
	xdp_off 1
	dx nft flush ruleset 2>/dev/null
	dx iptables -t raw -F PREROUTING 2>/dev/null
	have ipset && dx ipset destroy 2>/dev/null
	true
}

: >"$W/rig.jsonl"
# runs ns: the XDP program on pair PAIR's receiving side, as "run_time_ns
# run_cnt" (kernel.bpf_stats_enabled must be on); nothing if none
runs_ns() {
	local id
	id=$(ip -n "$DNS" -j link show $ID-d$1 | jq -r '.[0].xdp.prog.id // empty')
	[ -n "$id" ] && bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}
# in_place PAIR VARY: ns per packet of pair PAIR's XDP program where it
# runs, under the generator's flood (bpf_stats; its own timing cost is the
# same for every program, so only differences between pairs mean much)
in_place() {
	local a b
	a=$(runs_ns $1) || return
	slot $1 "$SLOT" "$2" >/dev/null
	b=$(runs_ns $1) || return
	echo "$a $b" | awk '$4 > $2 {printf "%.2f", ($3 - $1) / ($4 - $2)}'
}
# ab NAME VARY DESCRIPTION: the candidate is already configured on pair 1
ab() {
	local name=$1 vary=$2 r va vb rows="" pa="" pb="" pns=null
	slot 0 "$SLOT" "$vary" >/dev/null; slot 1 "$SLOT" "$vary" >/dev/null # warm-up
	for r in $(seq "$ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then va=$(slot 0 "$SLOT" "$vary"); vb=$(slot 1 "$SLOT" "$vary")
		else vb=$(slot 1 "$SLOT" "$vary"); va=$(slot 0 "$SLOT" "$vary"); fi
		rows="$rows $va,$vb"
	done
	# the program's own cost in place, for XDP drop points (not the
	# XDP_PASS placeholder of the netfilter cases), after the rounds
	if [ "$(ip -n "$DNS" -j link show $ID-d1 | jq -r '.[0].xdp.prog.name // ""')" != xdp_pass ] &&
		sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null; then
		pa=$(in_place 0 "$vary"); pb=$(in_place 1 "$vary")
		sysctl -qw kernel.bpf_stats_enabled=0
		[ -n "$pa" ] && [ -n "$pb" ] &&
			pns=$(awk -v a="$pa" -v b="$pb" 'BEGIN {printf "%.1f", b - a}')
	fi
	# keep rounds whose baseline is within 20% of the best baseline (the
	# VM's per-vCPU speed drifts); median ratio and its spread
	echo "$name raw (base,cand Mpps):$rows" >>"$W/rig.raw"
	echo "$rows" | tr ' ' '\n' | awk -F, -v name="$name" -v vary="$vary" -v desc="$3" -v pns="$pns" '
		BEGIN { n = 0; amax = 0 }
		NF == 2 { a[n] = $1 + 0; b[n] = $2 + 0; if (a[n] > amax) amax = a[n]; n++ }
		function med(v, k,   i, j, t) { for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			return k % 2 ? v[int(k / 2)] : (v[k / 2 - 1] + v[k / 2]) / 2 }
		END { k = 0; lo = 1e9; hi = 0
			for (i = 0; i < n; i++) if (a[i] >= 0.8 * amax && a[i] > 0) {
				r[k] = b[i] / a[i]; A[k] = a[i]; Bv[k] = b[i]
				if (r[k] < lo) lo = r[k]; if (r[k] > hi) hi = r[k]; k++ }
			if (!k) { lo = hi = 0 }
			m = k ? med(r, k) : 0; ma = k ? med(A, k) : 0; mb = k ? med(Bv, k) : 0
			printf "{\"name\":\"%s\",\"desc\":\"%s\",\"vary\":%d,\"ratio\":%.4f,\"ratio_lo\":%.4f,\"ratio_hi\":%.4f,\"base_mpps\":%.3f,\"mpps\":%.3f,\"ns_over_base\":%.1f,\"prog_ns_over_base\":%s,\"rounds\":%d,\"kept\":%d,\"raw\":\"%s\"}\n",
				name, desc, vary, m, lo, hi, ma, mb, (mb > 0 && ma > 0) ? 1e3 / mb - 1e3 / ma : 0, pns, n, k, raw }
		{ raw = raw $0 " " }' \
		| tee -a "$W/rig.jsonl" | jq -r '"  \(.name): \(.ratio) x XDP_DROP [\(.ratio_lo)..\(.ratio_hi)], \(.mpps) Mpps"' >&2
	reset1
}

# control plane: moat apply timings and map memory
: >"$W/cp.jsonl"
# outer-map dump -> inner map ids (values are little-endian hex bytes)
HEXID='def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 elif $c >= 65 then $c - 55 else $c - 48 end));
	.[] | (.value // .formatted.value) | if type == "array" then (map(hex) | .[0] + 256 * .[1] + 65536 * .[2] + 16777216 * .[3]) else . end'
moat_mem() { # bytes of memlock over moat's pinned maps and the inner maps
	local ids p
	ids=$(for p in "$MOAT_BPFFS_DIR"/maps/*; do
		bpftool -j map show pinned "$p" 2>/dev/null | jq -r '.id'
		case ${p##*/} in gen_cls | gen_lpm4 | gen_lpm6)
			bpftool -j map dump pinned "$p" 2>/dev/null |
				jq -r "$HEXID"
		esac
	done | sort -un)
	for p in $ids; do bpftool -j map show id "$p" 2>/dev/null | jq -r '.bytes_memlock // 0'; done |
		awk '{s += $1} END {printf "%.0f\n", s}'
}
moat_apply() { # NAME FILE VARFILE: attach + apply, re-apply with one rule changed, memory
	local t0 t1 t2 mem
	t0=$(date +%s%N)
	(cd "$W" && "$MOAT" -q -n "$DNS" apply --dev $D1 --mode native "$2") >"$W/apply.log" 2>&1 ||
		{ cat "$W/apply.log" >&2; return 1; }
	t1=$(date +%s%N)
	if [ -n "$3" ]; then
		(cd "$W" && "$MOAT" -q -n "$DNS" apply "$3") >"$W/apply.log" 2>&1 ||
			{ cat "$W/apply.log" >&2; return 1; }
		t2=$(date +%s%N)
		(cd "$W" && "$MOAT" -q -n "$DNS" apply "$2") >/dev/null 2>&1 # back to the measured set
	else
		t2=$t1
	fi
	mem=$(moat_mem)
	printf '{"name":"%s","apply_s":%.3f,"reapply_s":%s,"map_bytes":%s}\n' "$1" \
		"$(awk -v d=$((t1 - t0)) 'BEGIN {print d / 1e9}')" \
		"$([ -n "$3" ] && awk -v d=$((t2 - t1)) 'BEGIN {printf "%.3f", d / 1e9}' || echo null)" \
		"${mem:-0}" | tee -a "$W/cp.jsonl" |
		jq -r '"  control plane \(.name): apply \(.apply_s) s, re-apply \(.reapply_s) s, maps \(.map_bytes / 1048576 * 10 | floor / 10) MiB"' >&2
}

nftf() { dx nft -f "$1" || { log "nft -f $1 failed"; reset1; return 1; }; }
ipt_restore() { dx iptables-restore -w <"$1" || { log "iptables-restore $1 failed"; reset1; return 1; }; }

xdp_on 0 xdp_drop || die "attach xdp_drop on $ID-d0"
log "rig up: $GNS -> $DNS, generator on CPU $GEN_CPU, $ROUNDS rounds x $SLOT s"

case_xdp() {
	xdp_on 1 xdp_drop && ab xdp_drop 0 "bare XDP_DROP (A/A check)"
	[ "$QUICK" = 1 ] && return
	xdp_on 1 xdp_pass && ab xdp_pass 0 "XDP_PASS into the stack"
}
case_moat_rules() { # N
	local f=r$1.rules v=r$1.var.rules
	[ "$1" = 1 ] && v=
	log "moat, $1 rules"
	moat_apply moat-$1 "$f" "$v" || return
	ab moat-$1 0 "moat, $1 rules (matching rule last)"
	if [ "$1" = 10000 ]; then
		moat_apply moat-$1 "$f" "" >/dev/null 2>&1
		ab moat-$1-rnd 3 "moat, $1 rules, random source address and port"
	fi
}
case_moat_set() { # N
	log "moat, set of $1 prefixes"
	moat_apply moat-set-$1 s4-$1.rules s4-$1.var.rules || return
	ab moat-set-$1 0 "moat, $1-prefix set + last rule"
	moat_apply moat-set-$1 s4-$1.rules "" >/dev/null 2>&1
	ab moat-set-$1-rnd 3 "moat, $1-prefix set, random source address and port"
}
case_xdpfilter() {
	have xdp-filter || return
	log "xdp-filter"
	dn xdp-filter load -m native -p allow -f udp $D1 >/dev/null 2>&1 &&
		dn xdp-filter port -p udp -m dst 9 >/dev/null 2>&1 ||
		{ log "xdp-filter load failed"; reset1; return; }
	ab xdp-filter 0 "xdp-filter, deny udp dst port 9"
}
nft_prep() { xdp_on 1 xdp_pass; } # a veth takes redirected frames only with XDP attached
case_nft() { # N
	have nft || return
	log "nftables, $1 rules"
	$G nft "$1" $SEED "mb:$D1" >"$W/nft-$1.nft"
	nft_prep && nftf "$W/nft-$1.nft" && ab nft-$1 0 "nftables netdev ingress, $1 rules, plain list (match last)"
	[ "$1" = 1 ] && return
	$G nft-set "$1" $SEED "mb:$D1" >"$W/nftset-$1.nft"
	nft_prep && nftf "$W/nftset-$1.nft" && ab nft-set-$1 0 "nftables, $1 rules as concatenated interval verdict maps"
	if [ "$1" = 10000 ]; then
		nft_prep && nftf "$W/nftset-$1.nft" && ab nft-set-$1-rnd 3 "nftables verdict maps, $1 rules, random source"
	fi
}
case_nft_set() { # N
	have nft || return
	log "nftables, $1-element interval set (loading takes a while)"
	{
		printf 'table netdev mb {\n set blk {\n  type ipv4_addr; flags interval;\n  elements = {\n'
		sed 's/$/,/' "$W/s4-$1.txt"
		printf '  }\n }\n chain in {\n  type filter hook ingress device %s priority -500; policy accept;\n' $D1
		printf '  ip saddr @blk drop\n  ip daddr 198.18.0.6 udp dport 9 drop\n }\n}\n'
	} >"$W/nft-set-$1.nft"
	local t0=$(date +%s%N)
	nft_prep && nftf "$W/nft-set-$1.nft" || { reset1; return; }
	printf '{"name":"nft-set-%s-load","apply_s":%s,"reapply_s":null,"map_bytes":null}\n' "$1" \
		"$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.3f", d / 1e9}')" >>"$W/cp.jsonl"
	ab nft-iset-$1 0 "nftables, $1-element interval set + last rule" 
	nft_prep && nftf "$W/nft-set-$1.nft" && ab nft-iset-$1-rnd 3 "nftables, $1-element interval set, random source"
}
case_ipt() { # N
	have iptables || return
	log "iptables, $1 rules"
	$G ipt "$1" $SEED >"$W/ipt-$1.txt"
	nft_prep && ipt_restore "$W/ipt-$1.txt" && ab ipt-$1 0 "iptables ($(iptables -V | grep -o '(.*)' | tr -d '()')) raw PREROUTING, $1 rules (match last)"
}
case_ipset() { # N
	have ipset || return
	log "ipset, $1 entries"
	{
		echo "create mbblk hash:net family inet maxelem $(($1 + 16)) hashsize $((($1 + 1) / 2 + 1024))"
		sed 's/^/add mbblk /' "$W/s4-$1.txt"
	} >"$W/ipset-$1.txt"
	nft_prep && dx ipset restore <"$W/ipset-$1.txt" &&
		dx iptables -t raw -A PREROUTING -m set --match-set mbblk src -j DROP &&
		dx iptables -t raw -A PREROUTING -d 198.18.0.6 -p udp --dport 9 -j DROP || { reset1; return; }
	ab ipset-$1 0 "iptables + ipset hash:net, $1 entries + last rule"
	nft_prep && dx ipset restore <"$W/ipset-$1.txt" &&
		dx iptables -t raw -A PREROUTING -m set --match-set mbblk src -j DROP &&
		dx iptables -t raw -A PREROUTING -d 198.18.0.6 -p udp --dport 9 -j DROP &&
		ab ipset-$1-rnd 3 "iptables + ipset, $1 entries, random source"
}

if [ -n "${CASES:-}" ]; then # e.g. CASES="case_xdp 'case_nft 1000'"
	eval "for c in $CASES; do \$c; done"
elif [ "$QUICK" = 1 ]; then
	case_xdp
	case_moat_rules 1
	case_xdpfilter
	case_moat_rules 1000
	case_nft 1
else
	case_xdp
	case_moat_rules 1
	case_xdpfilter
	moat_apply moat-10 r10.rules r10.var.rules >/dev/null && reset1 # control plane only
	for n in $RIG_RULES; do case_moat_rules $n; done
	case_moat_set $RIG_SET
	case_nft 1
	for n in $RIG_RULES; do case_nft $n; done
	case_nft_set $RIG_SET
	case_ipt 1
	for n in $RIG_RULES; do case_ipt $n; done
	case_ipset $RIG_SET
fi
xdp_off 0
log "rig done"

# ---- report ----
mkdir -p "$OUT"
bench/report.sh "$W" "$OUT" "$QUICK" "$GEN_CPU" "$ROUNDS" "$SLOT" "$REPEAT" "$SEED" "$PASSES" || die "report"
log "done: $OUT/latest.md, $OUT/latest.json, $OUT/latest.png"
