#!/bin/bash
# Crash consistency: `moat apply` killed with SIGKILL at every step
# (MOAT_TEST_PAUSE) leaves the old or the new rule set fully in force,
# never a mix, `status` agrees with the traffic, and the next apply works.
#   c (c0 10.208.0.2) <-> (s0 10.208.0.1) s, moat on s0
# Rule set A passes tcp 8080 and drops 8081, B the reverse; a mix would
# pass both or neither.
. "$(dirname "$0")/lib.sh"
need_root
unset SSH_CONNECTION

C=$(mkns c) && S=$(mkns s) || { fail "rig"; summary; exit 1; }
link "$C" c0 10.208.0.2/24 "$S" s0 10.208.0.1/24
tcp_serve "$S" 8080
tcp_serve "$S" 8081
wait_port "$S" 8080 tcp; wait_port "$S" 8081 tcp

cat >"$TMP/A.rules" <<'R'
policy drop
pass icmp
pass tcp to port 8080
drop tcp to port 8081
R
cat >"$TMP/B.rules" <<'R'
policy drop
pass icmp
drop tcp to port 8080
pass tcp to port 8081
R
STEPS="locked slot-written meta-written attached activated repaired"
hash_of() { moat status --json 2>/dev/null | jq -r '.hash // .rule_set.hash // empty'; }

# which rule set the traffic sees: A, B, none (both pass), mix (neither)
in_force() {
	local a=0 b=0
	tcp_ok "$C" 10.208.0.1 8080 && a=1
	tcp_ok "$C" 10.208.0.1 8081 && b=1
	case $a$b in
	10) echo A ;; 01) echo B ;; 11) echo none ;; *) echo mix ;;
	esac
}

# the hashes of A and B, from clean applies
moat -n "$S" apply --dev s0 "$TMP/A.rules" >/dev/null 2>&1
HA=$(hash_of)
moat -n "$S" apply "$TMP/B.rules" >/dev/null 2>&1
HB=$(hash_of)
moat -n "$S" detach --all >/dev/null 2>&1
if [ -z "$HA" ] || [ -z "$HB" ] || [ "$HA" = "$HB" ]; then
	fail "rule set hashes from status --json" "A '$HA' B '$HB'"
	summary; exit 1
fi

# kill_at STEP FILE ARGS...: start apply paused at STEP, SIGKILL it there
kill_at() {
	local step=$1 pid i; shift
	MOAT_TEST_PAUSE=$step "$MOAT_BIN" -n "$S" apply "$@" >"$TMP/k.out" 2>"$TMP/k.err" &
	pid=$!
	for i in $(seq 100); do
		grep -q "paused at $step" "$TMP/k.err" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q "paused at $step" "$TMP/k.err"; then
		wait "$pid"
		return 1
	fi
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	return 0
}

for step in $STEPS; do
	# ---- update: A in force, apply B killed at STEP ----
	moat -n "$S" apply --dev s0 "$TMP/A.rules" >/dev/null 2>&1
	if ! kill_at "$step" "$TMP/B.rules"; then
		fail "update killed at $step" "apply never paused there: $(tail -2 "$TMP/k.err" | tr '\n' ' ')"
		continue
	fi
	seen=$(in_force)
	h=$(hash_of)
	case $seen in
	A | B) ok "update killed at $step: rule set $seen fully in force" ;;
	*) fail "update killed at $step: rule set fully in force" "traffic sees '$seen'" ;;
	esac
	want=$([ "$seen" = A ] && echo "$HA" || echo "$HB")
	check_eq "update killed at $step: status hash matches the traffic ($seen)" "$h" "$want"
	check_exit "update killed at $step: status --verify agrees" 0 \
		moat -n "$S" status --verify "$TMP/$seen.rules"
	check_exit "update killed at $step: the next apply succeeds" 0 moat -n "$S" apply "$TMP/B.rules"
	check_eq "update killed at $step: then B is in force" "$(in_force)" B
	check_eq "update killed at $step: status hash is B's" "$(hash_of)" "$HB"
	moat -n "$S" detach --all >/dev/null 2>&1

	# ---- first apply: nothing in force, apply A killed at STEP ----
	if ! kill_at "$step" --dev s0 "$TMP/A.rules"; then
		fail "first apply killed at $step" "apply never paused there"
		continue
	fi
	seen=$(in_force)
	case $seen in
	none | A) ok "first apply killed at $step: nothing or A in force ($seen)" ;;
	*) fail "first apply killed at $step: nothing or A in force" "traffic sees '$seen'" ;;
	esac
	if [ "$seen" = A ]; then
		check_eq "first apply killed at $step: status hash is A's" "$(hash_of)" "$HA"
	fi
	check_exit "first apply killed at $step: the next apply succeeds" 0 \
		moat -n "$S" apply --dev s0 "$TMP/A.rules"
	check_eq "first apply killed at $step: then A is in force" "$(in_force)" A
	moat -n "$S" detach --all >/dev/null 2>&1
done

# no stale lock, no moat left behind
check_eq "no moat process left" "$(pgrep -xc moat)" 0
summary
