#!/bin/bash
# Live sets: moat set add/del/list/flush/load, timed elements expiring on
# their own, live changes surviving a re-apply of an unchanged
# declaration, status showing the difference.
#   c (c0 10.205.0.2, 10.205.0.3) <-> (s0 10.205.0.1) s, moat on s0
. "$(dirname "$0")/lib.sh"
need_root

C=$(mkns c) && S=$(mkns s) || { fail "rig"; summary; exit 1; }
link "$C" c0 10.205.0.2/24 "$S" s0 10.205.0.1/24
ip -n "$C" addr add 10.205.0.3/24 dev c0
udp_serve "$S" 53
wait_port "$S" 53 udp

printf '192.0.2.0/24\n' >"$TMP/blk.txt"
cat >"$TMP/sets.rules" <<'R'
policy pass
set blk file "blk.txt"
drop from @blk
R
u() { echo ping | ip netns exec "$C" timeout 3 socat -T1 - "UDP:10.205.0.1:53,bind=$1" 2>/dev/null | grep -q pong; }
u_ok() { u "$@" || u "$@"; }

check_exit "apply" 0 moat -n "$S" apply --dev s0 "$TMP/sets.rules"
check "10.205.0.2 passes" u_ok 10.205.0.2
check_exit "set add 10.205.0.2" 0 moat -n "$S" set add blk 10.205.0.2
check_not "10.205.0.2 now dropped" u_ok 10.205.0.2
check "10.205.0.3 still passes" u_ok 10.205.0.3
moat -n "$S" set list blk --json >"$TMP/json"
check_eq "list: 2 elements" "$(jqv .count)" 2
check_eq "list: live" "$(jqv .live)" true
moat -n "$S" status --json >"$TMP/json"
check_eq "status: the set differs from its file" "$(jqv '.live_sets[0].name')" blk
check_ge "status: map memory reported" "$(jqv .map_memory)" 1000000

check_exit "re-apply the unchanged file" 0 moat -n "$S" apply "$TMP/sets.rules"
check_not "the live element survived the re-apply" u_ok 10.205.0.2
check_exit "set del 10.205.0.2" 0 moat -n "$S" set del blk 10.205.0.2
check "10.205.0.2 passes again" u_ok 10.205.0.2

check_exit "set add with timeout" 0 moat -n "$S" set add blk 10.205.0.3/32 timeout 2s
check_not "10.205.0.3 dropped while timed" u_ok 10.205.0.3
sleep 4
check "10.205.0.3 passes after the timeout (expired on its own)" u_ok 10.205.0.3

printf '10.205.0.0/24\n' >"$TMP/new.txt"
check_exit "set load" 0 moat -n "$S" set load blk "$TMP/new.txt"
check_not "after load: 10.205.0.3 dropped" u_ok 10.205.0.3
check_exit "set flush" 0 moat -n "$S" set flush blk
check "after flush: 10.205.0.3 passes" u_ok 10.205.0.3
moat -n "$S" set list blk --json >"$TMP/json"
check_eq "after flush: empty" "$(jqv .count)" 0

printf '192.0.2.0/24\n10.205.0.2\n' >"$TMP/blk.txt"
check_exit "apply a file that changes the declaration" 0 moat -n "$S" apply "$TMP/sets.rules"
check_not "the file wins: 10.205.0.2 dropped" u_ok 10.205.0.2
check "the file wins: 10.205.0.3 passes" u_ok 10.205.0.3
check_exit "set add of a bad element is refused" 1 moat -n "$S" set add blk 10.205.0.300
check_exit "unknown set is refused" 1 moat -n "$S" set add nosuch 10.0.0.1

summary
