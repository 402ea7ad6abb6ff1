#!/bin/bash
# The control plane under AddressSanitizer + UBSan + LeakSanitizer
# (build-asan/, built by `make asan`): the unit tests, then every moat
# command, on a small namespace rig, successful and failing: each must
# exit as expected with no sanitizer report and no leak at exit.
#   a (a0 10.207.0.2) <-> (b0 10.207.0.1) b, moat on b0
. "$(dirname "$0")/lib.sh"
need_root
unset SSH_CONNECTION
ASAN_MOAT=$ROOT/build-asan/moat
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
export LSAN_OPTIONS=exitcode=99
if [ ! -x "$ASAN_MOAT" ]; then
	skip "asan" "build-asan/moat not built (make asan)"
	summary; exit $?
fi
# the cleanup in lib.sh uses the plain binary

# ---- unit tests under the sanitizers ----
for t in "$ROOT"/build-asan/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	if "$t" >"$TMP/unit.out" 2>&1 && grep -q ' failed=0 ' "$TMP/unit.out" &&
		! grep -qE 'Sanitizer|runtime error' "$TMP/unit.out"; then
		ok "unit/$n under ASan+UBSan+LSan: $(grep '^SUMMARY' "$TMP/unit.out")"
	else
		fail "unit/$n under ASan+UBSan+LSan" "$(grep -E '^not ok|ERROR|runtime error|SUMMARY' "$TMP/unit.out" | head -5 | tr '\n' ' ')"
	fi
done

A=$(mkns a) && B=$(mkns b) || { fail "rig"; summary; exit 1; }
link "$A" a0 10.207.0.2/24 "$B" b0 10.207.0.1/24
tcp_serve "$B" 8080
tcp_serve "$B" 8081
wait_port "$B" 8080 tcp; wait_port "$B" 8081 tcp

printf '10.207.0.99\n192.0.2.0/24\n' >"$TMP/blocked.txt"
cat >"$TMP/r1.rules" <<'R'
policy drop
set blocked file "blocked.txt"
set ok { 10.207.0.0/24, fd00:207::/64 }
pass icmp
pass tcp from @ok to port 8080
drop tcp from @blocked
pass udp to port { 53, 5000-5100 }
drop ethertype lldp
guard tcp from 10.207.0.2 to 10.207.0.1 port 8080
R
cat >"$TMP/r2.rules" <<'R'
policy drop
pass icmp
pass tcp to port { 8080, 8081 }
R
printf 'policy drop\npass tcp to port 70000\ndrop frm 10.0.0.0/8\npass udp from @nosuch\n' >"$TMP/bad.rules"

# san NAME WANT_EXIT CMD...: exit code and a clean sanitizer log
san() {
	local n=$1 want=$2 rc; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	if grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$TMP/err"; then
		fail "$n" "sanitizer report: $(grep -E 'ERROR|runtime error|SUMMARY' "$TMP/err" | head -3 | tr '\n' ' ')"
	elif [ "$rc" -ne "$want" ]; then
		fail "$n" "exit $rc, want $want: $(tail -2 "$TMP/err" | tr '\n' ' ')"
	else
		ok "$n"
	fi
}
M=$ASAN_MOAT
san "asan: help" 0 "$M" help
san "asan: help apply" 0 "$M" help apply
san "asan: unknown command" 1 "$M" nosuch
san "asan: check good file" 0 "$M" -n "$B" check "$TMP/r1.rules"
san "asan: check --json good file" 0 "$M" -n "$B" check --json "$TMP/r1.rules"
san "asan: check bad file" 1 "$M" check "$TMP/bad.rules"
san "asan: check --json bad file" 1 "$M" check --json "$TMP/bad.rules"
san "asan: check missing file" 1 "$M" check "$TMP/nosuch.rules"
san "asan: status before anything is applied" 0 "$M" status
san "asan: apply" 0 "$M" -n "$B" apply --dev b0 "$TMP/r1.rules"
check "after asan apply: tcp 8080 passes" tcp_ok "$A" 10.207.0.1 8080
check_not "after asan apply: tcp 8081 dropped" tcp_ok "$A" 10.207.0.1 8081
san "asan: apply bad file (refused)" 1 "$M" -n "$B" apply --dev b0 "$TMP/bad.rules"
san "asan: apply --dry-run" 0 "$M" -n "$B" apply --dry-run "$TMP/r2.rules"
san "asan: status" 0 "$M" status
san "asan: status --json" 0 "$M" status --json
san "asan: stats" 0 "$M" stats
san "asan: stats --json" 0 "$M" stats --json
san "asan: show" 0 "$M" show
san "asan: show --json" 0 "$M" show --json
san "asan: apply a second rule set" 0 "$M" -n "$B" apply "$TMP/r2.rules"
check "after the second apply: tcp 8081 passes" tcp_ok "$A" 10.207.0.1 8081
san "asan: apply --json (same rule set again)" 0 "$M" -n "$B" apply --json "$TMP/r2.rules"
san "asan: apply --confirm" 0 "$M" -n "$B" apply --confirm 60s "$TMP/r1.rules"
san "asan: confirm" 0 "$M" confirm
san "asan: rollback" 0 "$M" rollback
san "asan: apply --shadow" 0 "$M" -n "$B" apply --shadow "$TMP/r2.rules"
san "asan: diff" 0 "$M" diff
san "asan: diff --json --all" 0 "$M" diff --json --all
san "asan: status with a candidate" 0 "$M" status --json
san "asan: promote --canary 30 (shadow to canary)" 0 "$M" promote --canary 30
san "asan: diff of a canary" 0 "$M" diff
san "asan: promote" 0 "$M" promote
san "asan: apply --canary" 0 "$M" -n "$B" apply --canary 10 "$TMP/r1.rules"
san "asan: discard" 0 "$M" discard
san "asan: rollback --dev b0" 0 "$M" -n "$B" rollback --dev b0
san "asan: promote with nothing to promote" 1 "$M" promote
san "asan: -n with a missing namespace" 1 "$M" -n "$ID-nosuch" status
san "asan: detach an interface moat is not on" 1 "$M" -n "$B" detach --dev lo
san "asan: detach --all" 0 "$M" -n "$B" detach --all
check "after asan detach: tcp 8081 passes" tcp_ok "$A" 10.207.0.1 8081
san "asan: status after detach" 0 "$M" status
san "asan: stats with nothing applied" 1 "$M" stats

summary
