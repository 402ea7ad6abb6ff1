#!/bin/bash
# Safe change: confirm-or-rollback done by the kernel, rollback, health
# checks, lockout guard, status --verify.
#   c (c0 10.204.0.2) <-> (s0 10.204.0.1) s, moat on s0
. "$(dirname "$0")/lib.sh"
need_root

C=$(mkns c) && S=$(mkns s) || { fail "rig"; summary; exit 1; }
link "$C" c0 10.204.0.2/24 "$S" s0 10.204.0.1/24
tcp_serve "$S" 22
tcp_serve "$S" 8080
wait_port "$S" 22 tcp; wait_port "$S" 8080 tcp

cat >"$TMP/open.rules" <<'R'
policy drop
pass icmp
pass tcp to port { 22, 8080 }
R
cat >"$TMP/closed.rules" <<'R'
policy drop
pass icmp
pass tcp to port 22
R
gen() { moat status --json | jq -r .generation; }
# sleep_until T0 SECS: sleep until SECS seconds after T0 (date +%s.%N)
sleep_until() { local d; d=$(awk -v a="$1" -v b="$2" -v n="$(date +%s.%N)" 'BEGIN { d = a + b - n; print (d > 0 ? d : 0) }'); sleep "$d"; }

check_exit "apply the open rule set" 0 moat -n "$S" apply --dev s0 "$TMP/open.rules"
check "open: tcp 8080 passes" tcp_ok "$C" 10.204.0.1 8080

# ---- the kernel reverts an unconfirmed change, with no moat alive ----
t0=$(date +%s.%N)
check_exit "apply --confirm 12s" 0 moat -n "$S" apply --confirm 12s "$TMP/closed.rules"
moat status --json >"$TMP/json"
check_eq "status: change pending" "$(jqv .confirm.state)" pending
check_ge "status: seconds left" "$(jqv .confirm.seconds_left)" 5
check_eq "no moat process is left running" "$(pgrep -xc moat)" 0
check_not "on probation: tcp 8080 dropped" tcp_ok "$C" 10.204.0.1 8080
check_exit "a second apply is refused while a change is pending" 1 moat -n "$S" apply "$TMP/open.rules"
sleep_until "$t0" 12.5
check "after the window: the kernel restored the open rule set" tcp_ok "$C" 10.204.0.1 8080
moat status --json >"$TMP/json"
check_eq "status: change reverted" "$(jqv .confirm.state)" reverted
check_eq "status: generation 1 in force" "$(jqv .generation)" 1
check_exit "status --verify: the open file is in force" 0 moat -n "$S" status --verify "$TMP/open.rules"
check_exit "status --verify: the closed file is not" 1 moat -n "$S" status --verify "$TMP/closed.rules"
cp "$TMP/out" "$TMP/verify"
check "status --verify names the differing rule" grep -q "^  - pass tcp to port { 22, 8080 }\|^  + pass tcp to port 22" "$TMP/verify"

# ---- confirm keeps it ----
t0=$(date +%s.%N)
check_exit "apply --confirm 3s again" 0 moat -n "$S" apply --confirm 3s "$TMP/closed.rules"
check_exit "moat confirm" 0 moat confirm
sleep_until "$t0" 3.5
check_not "confirmed: still closed after the window" tcp_ok "$C" 10.204.0.1 8080
check_exit "confirm with nothing pending exits 1" 1 moat confirm
g=$(gen)

# ---- rollback ----
check_exit "moat rollback" 0 moat rollback
check "rolled back: tcp 8080 passes again" tcp_ok "$C" 10.204.0.1 8080
check_exit "status --verify after rollback: open in force" 0 moat -n "$S" status --verify "$TMP/open.rules"
check_exit "rollback during a confirm window" 0 moat -n "$S" apply --confirm 30s "$TMP/closed.rules"
check_exit "...moat rollback" 0 moat rollback
check "...open again at once" tcp_ok "$C" 10.204.0.1 8080
moat status --json >"$TMP/json"
check_eq "...status: rolled-back" "$(jqv .confirm.state)" rolled-back
check_exit "apply after the rollbacks" 0 moat -n "$S" apply "$TMP/open.rules"
check_ge "generations only grow: a new apply after rolling back gets a new number" "$(gen)" $((g + 2))

# ---- health checks ----
check_exit "a failing health check rolls back (exit 1)" 1 moat -n "$S" apply --confirm 20s \
	--health "ip netns exec $C socat -T1 - TCP:10.204.0.1:8080,connect-timeout=1 </dev/null" --health-interval 1 "$TMP/closed.rules"
check "its error says it rolled back" grep -q "rolled back" "$TMP/err"
check "...and the open rule set is back" tcp_ok "$C" 10.204.0.1 8080
check_exit "a passing health check confirms (exit 0)" 0 moat -n "$S" apply --confirm 3s --health "true" --health-interval 1 "$TMP/closed.rules"
moat status --json >"$TMP/json"
check_eq "...status: confirmed" "$(jqv .confirm.state)" confirmed
check_exit "reopen" 0 moat -n "$S" apply "$TMP/open.rules"

# ---- SIGKILL of moat while it watches: the kernel still reverts ----
t0=$(date +%s.%N)
MOAT_BPFFS_DIR=$MOAT_BPFFS_DIR "$MOAT_BIN" -n "$S" apply --confirm 10s --health "sleep 60" "$TMP/closed.rules" >/dev/null 2>&1 &
mp=$!
sleep 1
kill -9 $mp; wait $mp 2>/dev/null
check_not "killed moat: the change is still on probation" tcp_ok "$C" 10.204.0.1 8080
sleep_until "$t0" 10.5
check "killed moat: the kernel reverted the change anyway" tcp_ok "$C" 10.204.0.1 8080
pkill -f "sleep 60" 2>/dev/null

# ---- lockout guard ----
cat >"$TMP/lockout.rules" <<'R'
policy drop
pass icmp
drop tcp to port 22
pass tcp
R
SSH_CONNECTION="10.204.0.2 50022 10.204.0.1 22" moat -n "$S" apply "$TMP/lockout.rules" >"$TMP/out" 2>"$TMP/err"
check_eq "guard: refuses a rule set that drops the SSH session (exit 1)" $? 1
check "guard: names the rule that drops it" grep -q "lockout.rules:3: drop tcp to port 22" "$TMP/err"
check_exit "guard: status --verify shows nothing changed" 0 moat -n "$S" status --verify "$TMP/open.rules"
SSH_CONNECTION="10.204.0.2 50022 10.204.0.1 22" moat -n "$S" apply --force "$TMP/lockout.rules" >"$TMP/out" 2>"$TMP/err"
check_eq "guard: --force applies anyway" $? 0
check_not "guard: ...and port 22 is then dropped" tcp_ok "$C" 10.204.0.1 22
printf 'policy drop\nguard tcp from 10.204.0.2 to any port 22\npass icmp\n' >"$TMP/guarded.rules"
check_exit "guard line: refuses a rule set without the guarded path" 1 moat -n "$S" apply "$TMP/guarded.rules"
check "guard line: names the guard line" grep -q "guarded.rules:2: guard" "$TMP/err"
printf 'policy drop\nguard tcp from 10.204.0.2 to any port 22\npass tcp to port 22\n' >"$TMP/guarded2.rules"
SSH_CONNECTION="10.204.0.2 50022 10.204.0.1 22" moat -n "$S" apply "$TMP/guarded2.rules" >"$TMP/out" 2>"$TMP/err"
check_eq "guard: accepts a rule set that keeps the path open" $? 0
check "guard: port 22 passes" tcp_ok "$C" 10.204.0.1 22

summary
