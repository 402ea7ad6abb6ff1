#!/bin/bash
# skb mode, repair, JSON output of every command, help, bad environment.
#   a (a0 10.203.0.2) <-> (b0 10.203.0.1) b, moat on b0 in skb mode
. "$(dirname "$0")/lib.sh"
need_root

A=$(mkns a) && B=$(mkns b) || { fail "rig"; summary; exit 1; }
link "$A" a0 10.203.0.2/24 "$B" b0 10.203.0.1/24
tcp_serve "$B" 8080
tcp_serve "$B" 8081
wait_port "$B" 8080 tcp; wait_port "$B" 8081 tcp

cat >"$TMP/m.rules" <<'R'
policy drop
pass icmp
pass tcp to port 8080
R

# ---- help ----
check "moat --help lists the commands" sh -c "'$MOAT_BIN' --help | grep -q 'detach'"
check "moat help apply documents --mode" sh -c "'$MOAT_BIN' help apply | grep -q -- '--mode'"
check_exit "moat help nosuch exits 1" 1 moat help nosuch
check_exit "moat with no command exits 1" 1 moat

# ---- skb mode ----
check_exit "apply --mode skb" 0 moat -n "$B" apply --dev b0 --mode skb "$TMP/m.rules"
moat status --json >"$TMP/json"
check_eq "status shows skb mode" "$(jqv '.interfaces[0].mode')" skb
check_eq "status reports the dispatcher state as a boolean" "$(jqv '.interfaces[0].dispatcher | type')" boolean
check "skb mode: tcp 8080 passes" tcp_ok "$A" 10.203.0.1 8080
check_not "skb mode: tcp 8081 dropped" tcp_ok "$A" 10.203.0.1 8081
check "skb mode: program is on b0 in generic mode" sh -c "ip -n '$B' link show b0 | grep -q xdpgeneric"

# ---- every --json output is valid JSON ----
for c in "check --json $TMP/m.rules" "status --json" "stats --json" "show --json" "-j status"; do
	# shellcheck disable=SC2086
	moat $c >"$TMP/json" 2>/dev/null
	check "valid JSON: moat $c" jq -e . "$TMP/json"
done
# shellcheck disable=SC2086
moat -n "$B" apply --json "$TMP/m.rules" >"$TMP/json" 2>/dev/null
check "valid JSON: moat apply --json" jq -e .generation "$TMP/json"
moat stats --json >"$TMP/json"
check_eq "stats JSON: rules carry file, line, packets, bytes" \
	"$(jqv '[.rules[] | has("file") and has("line") and has("packets") and has("bytes")] | all')" true

# ---- repair: the program removed behind moat's back ----
ip -n "$B" link set dev b0 xdpgeneric off
moat status --json >"$TMP/json"
check_eq "status notices the program is gone" "$(jqv '.interfaces[0].attached')" false
check "...and traffic is unfiltered" tcp_ok "$A" 10.203.0.1 8081
check_exit "apply repairs it" 0 moat -n "$B" apply "$TMP/m.rules"
moat status --json >"$TMP/json"
check_eq "status: attached again" "$(jqv '.interfaces[0].attached')" true
check_not "filtering again: tcp 8081 dropped" tcp_ok "$A" 10.203.0.1 8081

# ---- bad environment ----
check_exit "-n with a missing namespace exits 1" 1 moat -n "$ID-nosuch" status
check "its message names the namespace" grep -q "$ID-nosuch" "$TMP/err"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	check_exit "status as nobody exits 1" 1 setpriv --reuid nobody --regid nogroup --clear-groups "$MOAT_BIN" status
	check "as nobody: the message says which capabilities" grep -q "CAP_BPF" "$TMP/err"
	check_exit "apply as nobody exits 1" 1 setpriv --reuid nobody --regid nogroup --clear-groups "$MOAT_BIN" apply --dev lo "$ROOT/rules/demo.rules"
	check_not "tcp 8081 still dropped after the refused applies" tcp_ok "$A" 10.203.0.1 8081
else
	skip "unprivileged run" "no nobody user or setpriv"
fi

# ---- pins are root-only ----
check_eq "state directory is 0700" "$(stat -c %a "$MOAT_BPFFS_DIR")" 700
check_eq "pinned maps are 0600" "$(stat -c %a "$MOAT_BPFFS_DIR/maps/rules")" 600

# ---- the docs stay true: README's example rule file compiles ----
mkdir -p "$TMP/readme"
awk '/^cat > \/etc\/moat\/moat.rules/{f=1;next} /^R$/{f=0} f' "$ROOT/README.md" >"$TMP/readme/moat.rules"
echo 192.0.2.99 >"$TMP/readme/blocked.txt"
check "README's example rule file is not empty" test -s "$TMP/readme/moat.rules"
check_exit "README's example rule file passes moat check" 0 moat check "$TMP/readme/moat.rules"
check_exit "rules/example.rules passes moat check (interfaces aside)" 0 sh -c "'$MOAT_BIN' check '$ROOT/rules/example.rules' 2>&1 | grep -v 'unknown interface' | grep -q ': error:' && exit 1 || exit 0"

# ---- install ----
check "make install honours DESTDIR and PREFIX" sh -c "make -s -C '$ROOT' install DESTDIR='$TMP/dest' PREFIX=/usr >/dev/null && test -x '$TMP/dest/usr/sbin/moat'"

summary
