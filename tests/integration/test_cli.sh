#!/bin/bash
# End-to-end: drive build/moat as a user would on a three-namespace rig.
#
#   client (c0 10.201.0.2, fd00:201::2) <-> (f0 10.201.0.1, fd00:201::1) fw
#   fw (f1 10.202.0.1) <-> (k0 10.202.0.2) sink
#
# moat runs in the host and reaches fw's interfaces with -n, so its pins
# stay in the host's bpffs.
. "$(dirname "$0")/lib.sh"
need_root

C=$(mkns client) && F=$(mkns fw) && K=$(mkns sink) || { fail "rig" "cannot create namespaces"; summary; exit 1; }
link "$C" c0 10.201.0.2/24 "$F" f0 10.201.0.1/24 fd00:201::2/64 fd00:201::1/64
link "$F" f1 10.202.0.1/24 "$K" k0 10.202.0.2/24
ip netns exec "$K" ethtool -K k0 gro on >/dev/null 2>&1

tcp_serve "$F" 8080
tcp_serve "$F" 8081
udp_serve "$F" 7777
udp_serve "$F" 9999
wait_port "$F" 8080 tcp; wait_port "$F" 8081 tcp; wait_port "$F" 7777 udp; wait_port "$F" 9999 udp

# before moat: everything flows
check "baseline: tcp 8081 open without moat" tcp_ok "$C" 10.201.0.1 8081
check "baseline: udp 9999 answers without moat" udp_ok "$C" 10.201.0.1 9999

cat >"$TMP/blocked.txt" <<'R'
# addresses that may not use udp 9999
10.201.0.2
192.0.2.0/24
R
cat >"$TMP/r1.rules" <<'R'
# test rule set
policy drop
set blocked file "blocked.txt"
interface f0 mode native

pass icmp icmp-type echo-request
pass icmpv6 icmp-type echo-request
pass tcp to port 8080
drop udp from @blocked to port 9999
pass udp to port { 7777, 9999 }
redirect f1 udp to port 5000
R

# ---- moat check ----
check_exit "check: good file exits 0" 0 moat -n "$F" check "$TMP/r1.rules"
printf 'policy drop\npass tcp to port 70000\ndrop frm 10.0.0.0/8\npass udp from @nosuch\n' >"$TMP/bad.rules"
check_exit "check: bad file exits 1" 1 moat check "$TMP/bad.rules"
check_eq "check: every error reported FILE:LINE:COL" \
	"$(grep -cE "^$TMP/bad.rules:[0-9]+:[0-9]+: error: " "$TMP/err")" 3
moat check --json "$TMP/bad.rules" >"$TMP/json" 2>/dev/null
check_eq "check --json: ok false" "$(jqv .ok)" false
check_eq "check --json: diagnostics carry line numbers" "$(jqv '[.diagnostics[].line] | join(",")')" "2,3,4"

# ---- apply ----
check_exit "apply with -n attaches to f0 in the fw namespace" 0 moat -n "$F" apply "$TMP/r1.rules"
cp "$TMP/err" "$TMP/apply.err"
check "apply warns that redirect target f1 may not deliver (peer in another netns)" grep -q "redirect target f1 is a veth whose peer is in another network namespace" "$TMP/apply.err"
check "apply reports the libxdp fallback or dispatcher" grep -qE "without the libxdp dispatcher|dispatcher" "$TMP/apply.err"
check "pins live in the host bpffs" test -e "$MOAT_BPFFS_DIR/maps/rules"
check "ping passes (rule)" ping_ok "$C" 10.201.0.1
check "ping6 passes: neighbour discovery survives policy drop" ping_ok "$C" fd00:201::1
check "tcp 8080 passes (rule)" tcp_ok "$C" 10.201.0.1 8080
check_not "tcp 8081 dropped (policy)" tcp_ok "$C" 10.201.0.1 8081
check "udp 7777 passes" udp_ok "$C" 10.201.0.1 7777
check_not "udp 9999 dropped for a source in @blocked" udp_ok "$C" 10.201.0.1 9999

# redirect: udp 5000 arriving on f0 leaves through f1 into the sink
before=$(ip -n "$K" -s -j link show k0 | jq '.[0].stats64.rx.packets')
for i in 1 2 3 4 5; do echo x | ip netns exec "$C" socat -u - UDP:10.201.0.1:5000 2>/dev/null; done
sleep 0.2
after=$(ip -n "$K" -s -j link show k0 | jq '.[0].stats64.rx.packets')
check_ge "redirect: 5 udp/5000 packets arrive on the sink's veth" $((after - before)) 5

# a same-namespace veth whose peer has neither GRO nor XDP cannot deliver
ip link add f2 netns "$F" type veth peer name f3 netns "$F"
ip -n "$F" link set f2 up; ip -n "$F" link set f3 up
ip netns exec "$F" ethtool -K f3 gro off >/dev/null 2>&1
printf 'redirect f2 udp to port 6000\n' >"$TMP/redir.rules"
check_exit "apply --dry-run of a redirect into f2" 0 moat -n "$F" apply --dry-run "$TMP/redir.rules"
check "warns: f2 cannot deliver, its peer f3 has neither GRO nor XDP" grep -q "redirect target f2 cannot deliver: its veth peer f3" "$TMP/err"
ip netns exec "$F" ethtool -K f3 gro on >/dev/null 2>&1
check_exit "with GRO on the peer" 0 moat -n "$F" apply --dry-run "$TMP/redir.rules"
check_not "...no warning" grep -q "cannot deliver" "$TMP/err"

# ---- status / stats / show ----
moat status --json >"$TMP/json"
check_eq "status --json: active" "$(jqv .active)" true
check_eq "status --json: 6 rules" "$(jqv .rules)" 6
check_eq "status --json: f0 attached" "$(jqv '.interfaces[] | select(.name=="f0") | .attached')" true
check_eq "status --json: f0 records its netns" "$(jqv '.interfaces[0].netns')" "$F"
check_eq "status --json: flow cache lines, 512 per CPU" "$(jqv .flow_cache.lines)" \
	$((512 * $(awk -F- '{print $NF + 1}' /sys/devices/system/cpu/possible)))
# (plain frames like these are kept by the microflow cache, checked below;
# the flow cache serves VLAN-tagged and other frames: tests/bpf/test_fcache.c)
hash1=$(jqv .hash)
moat stats --json >"$TMP/json"
check_eq "stats --json: the ping rule is r1.rules:6" "$(jqv '.rules[0].file + ":" + (.rules[0].line|tostring)')" "$TMP/r1.rules:6"
check_ge "stats: ping rule counted packets" "$(jqv '.rules[0].packets')" 1
check_ge "stats: ping rule counted bytes" "$(jqv '.rules[0].bytes')" 98
check_ge "stats: @blocked drop rule counted" "$(jqv '.rules[3].packets')" 1
check_ge "stats: redirect rule counted 5" "$(jqv '.rules[5].packets')" 5
check_ge "stats: policy drops counted" "$(jqv '.policy.packets')" 1
check_ge "stats: drop reason drop_policy counted" "$(jqv '.drop_reasons.drop_policy.packets')" 1
check_ge "stats: neighbour discovery passes counted" "$(jqv '.counters.neighbour_discovery_pass.packets')" 1
# the microflow cache answers a flow's repeats: 5 pings (one key: ICMP
# id and sequence are not part of it), fewer on the slow path
s0=$(jqv .counters.slow_path.packets) p0=$(jqv '.rules[0].packets')
ip netns exec "$C" ping -c5 -i0.2 -W1 10.201.0.1 >/dev/null 2>&1
moat stats --json >"$TMP/json"
check_ge "stats: 5 more pings counted by their rule" $(($(jqv '.rules[0].packets') - p0)) 5
check "stats: fewer than 5 packets on the slow path meanwhile (microflow cache)" \
	test $(($(jqv .counters.slow_path.packets) - s0)) -lt 5
moat status --json >"$TMP/mf.json"
check_eq "status --json: microflow cache lines, 512 per CPU" "$(jq -r .microflow_cache.lines "$TMP/mf.json")" \
	$((512 * $(awk -F- '{print $NF + 1}' /sys/devices/system/cpu/possible)))
check_ge "status --json: the pings left a microflow cache line of the rule set" \
	"$(jq -r .microflow_cache.in_use "$TMP/mf.json")" 1
ping_pkts=$(jqv '.rules[0].packets')
ping_id=$(jqv '.rules[0].id')
tcp_id=$(jqv '.rules[2].id')
moat show >"$TMP/show"
check "show prints the normalised rules" grep -q "^drop udp from @blocked to port 9999" "$TMP/show"
check "show prints the policy" grep -q "^policy drop" "$TMP/show"

# ---- re-apply: a changed rule takes effect, unchanged rules keep counters ----
sed 's/pass tcp to port 8080/pass tcp to port { 8080, 8081 }/' "$TMP/r1.rules" >"$TMP/r2.rules"
check_exit "re-apply a changed file" 0 moat -n "$F" apply "$TMP/r2.rules"
check "tcp 8081 now passes" tcp_ok "$C" 10.201.0.1 8081
moat stats --json >"$TMP/json"
check_ge "unchanged rule kept its counters across the re-apply" "$(jqv '.rules[0].packets')" "$ping_pkts"
check_eq "unchanged rule kept its id" "$(jqv '.rules[0].id')" "$ping_id"
if [ "$(jqv '.rules[2].id')" != "$tcp_id" ]; then ok "changed rule got a new id"; else fail "changed rule got a new id" "id $tcp_id reused"; fi
moat status --json >"$TMP/json"
check_eq "generation moved to 2" "$(jqv .generation)" 2
hash2=$(jqv .hash)

# ---- a bad file changes nothing ----
printf 'policy pass\npass tcp to port 1-\n' >"$TMP/r3.rules"
check_exit "apply of a bad file exits 1" 1 moat -n "$F" apply "$TMP/r3.rules"
check "its error names FILE:LINE:COL" grep -q "^$TMP/r3.rules:2:" "$TMP/err"
moat status --json >"$TMP/json"
check_eq "bad file: hash unchanged" "$(jqv .hash)" "$hash2"
check_not "bad file: policy drop still enforced" tcp_ok "$C" 10.201.0.1 1
check_exit "apply to a missing interface exits 1" 1 moat -n "$F" apply --dev nosuch0 "$TMP/r1.rules"
moat status --json >"$TMP/json"
check_eq "missing interface: hash unchanged" "$(jqv .hash)" "$hash2"
check_exit "apply of a missing file exits 1" 1 moat -n "$F" apply "$TMP/none.rules"
check_exit "unknown command exits 1" 1 moat frobnicate
check_exit "bad option exits 1" 1 moat apply --mode turbo "$TMP/r1.rules"

# ---- two applies at once are serialised ----
moat -n "$F" apply "$TMP/r1.rules" >/dev/null 2>&1 & p1=$!
moat -n "$F" apply "$TMP/r2.rules" >/dev/null 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "concurrent applies both succeed" "$r1$r2" "00"
moat status --json >"$TMP/json"
check_eq "concurrent applies: generation 4" "$(jqv .generation)" 4
h=$(jqv .hash)
if [ "$h" == "$hash1" ] || [ "$h" == "$hash2" ]; then ok "concurrent applies: one whole rule set in force"; else fail "concurrent applies: one whole rule set in force" "hash $h"; fi

# ---- detach ----
check_exit "detach f0" 0 moat -n "$F" detach --dev f0
check "after detach tcp 8081 flows freely" tcp_ok "$C" 10.201.0.1 8081
check "after detach udp 9999 answers" udp_ok "$C" 10.201.0.1 9999
check_not "after the last detach no pins remain" test -e "$MOAT_BPFFS_DIR"
moat status --json >"$TMP/json"
check_eq "status after detach: not active" "$(jqv .active)" false
check_exit "detach of an unattached interface exits 1" 1 moat -n "$F" detach --dev f0

summary
