#!/bin/bash
# Safe change, part 2: shadow (apply --shadow, diff, promote, discard),
# canary by flow (apply --canary, promote --canary, rollback; with
# --confirm and --health), staged rollout across interfaces, and SIGKILL
# during each transition.
#   c (c0 10.207.0.2) <-> (s0 10.207.0.1) s (s1 10.208.0.1) <-> (d0 10.208.0.2) d
. "$(dirname "$0")/lib.sh"
need_root

C=$(mkns c) && S=$(mkns s) && D=$(mkns d) || { fail "rig"; summary; exit 1; }
link "$C" c0 10.207.0.2/24 "$S" s0 10.207.0.1/24
link "$D" d0 10.208.0.2/24 "$S" s1 10.208.0.1/24
udp_serve "$S" 7000
udp_serve "$S" 7002
wait_port "$S" 7000 udp; wait_port "$S" 7002 udp

cat >"$TMP/base.rules" <<'R'
policy pass
drop udp to port 7002
drop tcp to port 9
R
# the candidate: drops 7000 (pass -> drop), passes 7002 (drop -> pass)
cat >"$TMP/cand.rules" <<'R'
policy pass
drop udp to port 7000
pass udp to port 7002
drop tcp to port 9
R

# udp_send NS DST PORT COUNT [SPORT]: COUNT datagrams, one source port
cat >"$TMP/send.py" <<'PY'
import socket, sys, time
dst, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sport = int(sys.argv[4]) if len(sys.argv) > 4 else 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
for i in range(n):
    s.sendto(b"x", (dst, port))
    if i % 200 == 199:
        time.sleep(0.01)
PY
udp_send() { ip netns exec "$1" python3 "$TMP/send.py" "$2" "$3" "$4" ${5:+"$5"}; }

gen() { moat status --json | jq -r .generation; }

check_exit "apply --shadow with nothing in force is refused" 1 moat -n "$S" apply --dev s0 --shadow "$TMP/cand.rules"
check_eq "  ... and changes nothing" "$(moat status --json | jq -r .active)" false
check_exit "apply --shadow --confirm is refused" 1 moat -n "$S" apply --dev s0 --shadow --confirm 10s "$TMP/cand.rules"
check_exit "apply --canary 0 is refused" 1 moat -n "$S" apply --dev s0 --canary 0 "$TMP/cand.rules"
check_exit "apply --canary 12.345 is refused" 1 moat -n "$S" apply --dev s0 --canary 12.345 "$TMP/cand.rules"
check_exit "apply the base rule set on s0 and s1" 0 moat -n "$S" apply --dev s0 --dev s1 "$TMP/base.rules"
G1=$(gen)
check "base: udp 7000 passes" udp_ok "$C" 10.207.0.1 7000
check_not "base: udp 7002 dropped" udp_ok "$C" 10.207.0.1 7002

# ---- shadow ----
check_exit "apply --shadow" 0 moat -n "$S" apply --shadow "$TMP/cand.rules"
G2=$(moat status --json | jq -r .candidate.generation)
check_eq "status: the rule set in force is unchanged" "$(gen)" "$G1"
moat status --json >"$TMP/json"
check_eq "status: a shadow candidate" "$(jqv .candidate.mode)" shadow
check_eq "status: interface shows the candidate" "$(jqv '.interfaces[0].candidate_generation')" "$G2"
check "shadow: udp 7000 still passes (enforced verdict only)" udp_ok "$C" 10.207.0.1 7000
check_not "shadow: udp 7002 still dropped" udp_ok "$C" 10.207.0.1 7002
check_exit "diff is refused with bad arguments" 1 moat diff --top x
# exact injected traffic, after a fresh shadow (counters reset)
check_exit "apply --shadow again resets nothing while one stands" 1 moat -n "$S" apply --shadow "$TMP/cand.rules"
check_exit "discard" 0 moat discard
check_exit "discard again: nothing to discard" 1 moat discard
check_exit "apply --shadow anew" 0 moat -n "$S" apply --shadow "$TMP/cand.rules"
G2=$(moat status --json | jq -r .candidate.generation)
udp_send "$C" 10.207.0.1 7000 137 40000
udp_send "$C" 10.207.0.1 7002 23 40001
udp_send "$D" 10.208.0.1 7000 11 40002
udp_send "$C" 10.207.0.1 7003 50 40003
moat diff --json >"$TMP/json"
check_eq "diff: pass_to_drop counts the injected packets exactly" "$(jqv .pass_to_drop)" 148
check_eq "diff: drop_to_pass exactly" "$(jqv .drop_to_pass)" 23
check_eq "diff: mode shadow" "$(jqv .mode)" shadow
check_eq "diff: rule line 2 (drop 7000) matched 148" "$(jqv '.rules[] | select(.line == 2) | .packets')" 148
check_eq "diff: rule line 2 responsible for 148 pass->drop" "$(jqv '.rules[] | select(.line == 2) | .pass_to_drop')" 148
check_eq "diff: rule line 3 (pass 7002) matched 23, all drop->pass" "$(jqv '.rules[] | select(.line == 3) | "\(.packets)/\(.drop_to_pass)"')" 23/23
check_eq "diff: top source is c (137 + 23 changed)" "$(jqv '.sources[0] | "\(.address) \(.pass_to_drop) \(.drop_to_pass)"')" "10.207.0.2 137 23"
check_eq "diff: then d (11)" "$(jqv '.sources[1] | "\(.address) \(.pass_to_drop)"')" "10.208.0.2 11"
check_eq "diff: the enforced side dropped only 7002's" "$(jqv .enforced.drop)" 23
moat diff >"$TMP/difftext"
check "diff text names the rule with file:line" grep -q "cand.rules:2  drop udp to port 7000" "$TMP/difftext"
check "diff text has the totals" grep -q "pass -> drop .* 148 packets would be dropped" "$TMP/difftext"

# ---- promote ----
check_exit "promote" 0 moat promote
check_eq "promote: the candidate's generation is in force" "$(gen)" "$G2"
check_not "promoted: udp 7000 dropped" udp_ok "$C" 10.207.0.1 7000
check "promoted: udp 7002 passes" udp_ok "$C" 10.207.0.1 7002
moat stats --json >"$TMP/json"
check_ge "promote kept the shadow's counts for the new rule" "$(jqv '[.rules[] | select(.line == 2) | .packets] | add')" 148
check_exit "promote with nothing to promote" 1 moat promote
check_exit "diff with no candidate exits 1" 1 moat diff
check_exit "rollback after promote" 0 moat rollback
check_eq "rollback: the base generation again" "$(gen)" "$G1"
check "rolled back: udp 7000 passes" udp_ok "$C" 10.207.0.1 7000

# ---- canary: 50% over 10,000 flows (real traffic) ----
cat >"$TMP/flows.py" <<'PY'
# send 2 datagrams from each of N source ports; the receiver counts them
import socket, sys, time, threading
mode = sys.argv[1]
if mode == "recv":
    port, out = int(sys.argv[2]), sys.argv[3]
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    r.bind(("0.0.0.0", port))
    r.settimeout(3.0)
    seen = {}
    try:
        while True:
            d, (a, p) = r.recvfrom(64)
            seen[p] = seen.get(p, 0) + 1
    except socket.timeout:
        pass
    with open(out, "w") as f:
        for p, n in sorted(seen.items()):
            f.write("%d %d\n" % (p, n))
else:
    dst, port, base, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", base + i))
        s.sendto(b"a", (dst, port))
        socks.append(s)
        if i % 100 == 99:
            time.sleep(0.005)
    for i, s in enumerate(socks):
        s.sendto(b"b", (dst, port))
        s.close()
        if i % 100 == 99:
            time.sleep(0.005)
PY
# expected side of a flow: moat_flow_hash of include/moat.h, in Python
cat >"$TMP/hash.py" <<'PY'
import socket, struct, sys
M = (1 << 64) - 1
def mix(h):
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33; h = (h * 0xc4ceb9fe1a85ec53) & M
    h ^= h >> 33; return h
def word(a): return struct.unpack("<I", socket.inet_aton(a))[0]
def fh(sa, da, sp, dp, proto):
    s, d = word(sa), word(da)
    h = mix(((s ^ d) << 32) | ((s + d) & 0xffffffff))
    h = mix(h ^ ((((sp ^ dp) & 0xffff) << 24) | (((sp + dp) & 0xffff) << 8) | proto))
    return h & 0xffffffff
sa, da, dport, base, n, x100 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
thr = (x100 << 32) // 10000
for p in range(base, base + n):
    print(p, 1 if fh(sa, da, p, dport, 17) < thr else 0)
PY
NF=10000
canary_round() { # OUT: received counts per source port
	ip netns exec "$S" python3 "$TMP/flows.py" recv 7100 "$1" &
	local rp=$!
	sleep 0.5
	ip netns exec "$C" python3 "$TMP/flows.py" send 10.207.0.1 7100 20000 $NF
	wait "$rp"
}
cat >"$TMP/canary.rules" <<'R'
policy pass
drop udp to port 7100
drop udp to port 7002
drop tcp to port 9
R
check_exit "apply --canary 50" 0 moat -n "$S" apply --canary 50 "$TMP/canary.rules"
moat status --json >"$TMP/json"
check_eq "status: canary at 50.00%" "$(jqv '"\(.candidate.mode) \(.candidate.canary_percent_x100)"')" "canary 5000"
canary_round "$TMP/r1"
python3 "$TMP/hash.py" 10.207.0.2 10.207.0.1 7100 20000 $NF 5000 >"$TMP/want1"
# each flow: 2 received (base side) or none (canary drops); never 1
check_eq "canary: every flow's fate is stable (no flow half delivered)" "$(awk '$2 != 2' "$TMP/r1" | wc -l)" 0
got_dropped=$((NF - $(wc -l <"$TMP/r1")))
echo "# canary 50%: $got_dropped of $NF flows dropped by the candidate"
if [ "$got_dropped" -gt 4750 ] && [ "$got_dropped" -lt 5250 ]; then ok "canary: 50% of 10,000 flows within 5 sd"; else fail "canary: 50% of 10,000 flows within 5 sd" "$got_dropped dropped"; fi
awk '{print $1, 0}' "$TMP/r1" >"$TMP/got1"
check_eq "canary: exactly the flows below the hash threshold are the candidate's" \
	"$(join -a1 -e1 -o 0,2.2 "$TMP/want1" "$TMP/got1" | awk '{print $1, ($2 == 0 ? 0 : 1)}' | diff - "$TMP/want1" | grep -c '^[<>]')" 0
moat diff --json >"$TMP/json"
check_eq "diff: the canary side dropped 2 per canary flow" "$(jqv .candidate.drop)" $((2 * got_dropped))
# (the side in force also passes the odd ARP or neighbour discovery frame)
ep=$(jqv .enforced.pass)
if [ "$ep" -ge $((2 * (NF - got_dropped))) ] && [ "$ep" -le $((2 * (NF - got_dropped) + 20)) ]; then ok "diff: the rest passed on the rule set in force"; else fail "diff: the rest passed on the rule set in force" "$ep, want $((2 * (NF - got_dropped)))"; fi
check_exit "promote --canary 100 is refused" 1 moat promote --canary 100
check_exit "promote --canary 80" 0 moat promote --canary 80
canary_round "$TMP/r2"
d2=$((NF - $(wc -l <"$TMP/r2")))
check_eq "widened: every flow of the 50% canary stays in it" "$(join "$TMP/r2" <(awk '$2 == 1' "$TMP/want1") | wc -l)" 0
if [ "$d2" -gt 7700 ] && [ "$d2" -lt 8300 ]; then ok "canary: 80% of flows after widening"; else fail "canary: 80% of flows after widening" "$d2"; fi
check_exit "rollback ends the canary" 0 moat rollback
moat status --json >"$TMP/json"
check_eq "status: no candidate after rollback" "$(jqv '.candidate // "none"')" none
check_eq "generation unchanged by the canary" "$(gen)" "$G1"
check "after the canary: udp 7000 passes" udp_ok "$C" 10.207.0.1 7000

# ---- canary with --confirm and a failing --health: rolled back ----
check_exit "canary + failing health check exits 1 (rolled back)" 1 moat -n "$S" apply --canary 50 --confirm 6s --health false --health-interval 1s "$TMP/canary.rules"
moat status --json >"$TMP/json"
check_eq "health failure ended the canary" "$(jqv '.candidate // "none"')" none
check_eq "confirm state rolled-back" "$(jqv .confirm.state)" rolled-back
# canary on probation, kernel ends it when unconfirmed
t0=$(date +%s)
check_exit "apply --canary 50 --confirm 3s" 0 moat -n "$S" apply --canary 50 --confirm 3s "$TMP/canary.rules"
check_eq "canary on probation" "$(moat status --json | jq -r .candidate.mode)" canary
sleep 4
check_eq "unconfirmed canary ended by the kernel" "$(moat status --json | jq -r '.candidate // "none"')" none

# ---- staged rollout: s1 first, then s0 ----
check_exit "apply --dev s1 moves only s1" 0 moat -n "$S" apply --dev s1 "$TMP/cand.rules"
moat status --json >"$TMP/json"
GS1=$(jqv '.interfaces[] | select(.name == "s1") | .generation')
GS0=$(jqv '.interfaces[] | select(.name == "s0") | .generation')
check_eq "s0 keeps the base generation" "$GS0" "$G1"
if [ "$GS1" -gt "$G1" ]; then ok "s1 runs a newer generation"; else fail "s1 runs a newer generation" "$GS1"; fi
check "s0 (old rules): udp 7000 passes" udp_ok "$C" 10.207.0.1 7000
check_not "s1 (new rules): udp 7000 dropped" udp_ok "$D" 10.208.0.1 7000
check_exit "status --verify: not every interface runs cand.rules" 1 moat -n "$S" status --verify "$TMP/cand.rules"
check_exit "apply --dev s0 catches s0 up" 0 moat -n "$S" apply --dev s0 "$TMP/cand.rules"
moat status --json >"$TMP/json"
check_eq "s0 now runs s1's generation (the same rule set, not a new one)" "$(jqv '.interfaces[] | select(.name == "s0") | .generation')" "$GS1"
check_exit "status --verify: cand.rules everywhere" 0 moat -n "$S" status --verify "$TMP/cand.rules"
check_not "s0: udp 7000 dropped now" udp_ok "$C" 10.207.0.1 7000
check_exit "rollback --dev s0 only" 0 moat -n "$S" rollback --dev s0
check "s0 rolled back: udp 7000 passes" udp_ok "$C" 10.207.0.1 7000
check_not "s1 untouched: udp 7000 dropped" udp_ok "$D" 10.208.0.1 7000
check_exit "rollback --dev nosuch exits 1" 1 moat -n "$S" rollback --dev nosuch
check_exit "bring both back to base" 0 moat -n "$S" apply "$TMP/base.rules"
G1=$(gen)

# ---- SIGKILL during each transition ----
# kill_at STEP CMD...: start CMD paused at STEP, SIGKILL it there
kill_at() {
	local step=$1 pid i; shift
	MOAT_TEST_PAUSE=$step "$@" >"$TMP/k.out" 2>"$TMP/k.err" &
	pid=$!
	for i in $(seq 100); do
		grep -q "paused at $step" "$TMP/k.err" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q "paused at $step" "$TMP/k.err" || { wait "$pid"; return 1; }
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	return 0
}
for step in locked slot-written meta-written activated; do
	if ! kill_at "$step" "$MOAT_BIN" -n "$S" apply --shadow "$TMP/cand.rules"; then
		fail "apply --shadow killed at $step" "never paused"; continue
	fi
	mode=$(moat status --json | jq -r '.candidate.mode // "none"')
	case $step in activated) want=shadow ;; *) want=none ;; esac
	check_eq "apply --shadow killed at $step: candidate $want" "$mode" "$want"
	check_eq "  ... the rule set in force is unchanged" "$(gen)" "$G1"
	check "  ... udp 7000 still passes" udp_ok "$C" 10.207.0.1 7000
	moat discard >/dev/null 2>&1
done
moat -n "$S" apply --shadow "$TMP/cand.rules" >/dev/null 2>&1
if kill_at promoting "$MOAT_BIN" promote; then
	check_eq "promote killed before the switch: still a shadow" "$(moat status --json | jq -r .candidate.mode)" shadow
else
	fail "promote killed" "never paused"
fi
check_exit "promote after the kill" 0 moat promote
check_not "promoted: udp 7000 dropped" udp_ok "$C" 10.207.0.1 7000
moat -n "$S" apply --shadow "$TMP/base.rules" >/dev/null 2>&1
if kill_at discarding "$MOAT_BIN" discard; then
	check_eq "discard killed before the switch: still a shadow" "$(moat status --json | jq -r .candidate.mode)" shadow
else
	fail "discard killed" "never paused"
fi
check_exit "discard after the kill" 0 moat discard
check_exit "an apply works after all this" 0 moat -n "$S" apply "$TMP/base.rules"
check "final: udp 7000 passes" udp_ok "$C" 10.207.0.1 7000

summary
