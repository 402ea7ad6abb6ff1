#!/bin/bash
# Privileges (docs/security.md): moat works as root with exactly
# CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN in the bounding set, fails
# clearly (exit 1, a message naming the capabilities) without them, and
# leaves the firewall unchanged; state under the pin dir is root-only.
#   a (a0 10.209.0.2) <-> (b0 10.209.0.1) b, moat on b0
. "$(dirname "$0")/lib.sh"
need_root
unset SSH_CONNECTION
if ! command -v capsh >/dev/null || ! command -v setpriv >/dev/null; then
	skip "security" "capsh or setpriv missing"
	summary; exit $?
fi

A=$(mkns a) && B=$(mkns b) || { fail "rig"; summary; exit 1; }
link "$A" a0 10.209.0.2/24 "$B" b0 10.209.0.1/24
link "$A" a1 10.210.0.2/24 "$B" b1 10.210.0.1/24
tcp_serve "$B" 8080
tcp_serve "$B" 8081
wait_port "$B" 8080 tcp; wait_port "$B" 8081 tcp
printf 'policy drop\npass icmp\npass tcp to port 8080\n' >"$TMP/a.rules"
printf 'policy drop\npass icmp\npass tcp to port 8081\n' >"$TMP/b.rules"
chmod 0644 "$TMP/a.rules" "$TMP/b.rules"; chmod 0755 "$TMP"

ALL=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n')
# with_caps 'cap_a|cap_b' CMD...: run CMD as root with only these caps
with_caps() {
	local keep=$1; shift
	capsh --drop="$(grep -vxE "$keep" <<<"$ALL" | paste -sd, -)" -- -c '"$@"' moat "$@"
}
hash() { moat status --json 2>/dev/null | jq -r .hash; }
THREE='cap_bpf|cap_net_admin|cap_sys_admin'

# ---- exactly the three capabilities ----
check "capsh: the bounding set can be reduced to the three" \
	with_caps "$THREE" grep -q '^CapBnd:	0000008000201000' /proc/self/status
check_exit "only CAP_BPF+NET_ADMIN+SYS_ADMIN: apply" 0 with_caps "$THREE" "$MOAT_BIN" -n "$B" apply --dev b0 "$TMP/a.rules"
check "...and it filters: tcp 8080 passes" tcp_ok "$A" 10.209.0.1 8080
check_not "...and it filters: tcp 8081 dropped" tcp_ok "$A" 10.209.0.1 8081
for c in "status" "stats" "show" "status --json" "-n $B check $TMP/b.rules"; do
	# shellcheck disable=SC2086
	check_exit "only the three: moat $c" 0 with_caps "$THREE" "$MOAT_BIN" $c
done
H=$(hash)

# ---- one missing at a time: exit 1, a clear message, nothing changed ----
# refused NAME KEEP CMD...: exit 1, capability message, firewall unchanged
refused() {
	local n=$1 keep=$2; shift 2
	check_exit "$n: exit 1" 1 with_caps "$keep" "$@"
	check "$n: the message names the capabilities" grep -q "CAP_NET_ADMIN" "$TMP/err"
	check_eq "$n: the rule set in force is unchanged" "$(hash)" "$H"
	check_not "$n: tcp 8081 still dropped" tcp_ok "$A" 10.209.0.1 8081
}
refused "without CAP_NET_ADMIN: apply to a new interface" 'cap_bpf|cap_sys_admin' \
	"$MOAT_BIN" -n "$B" apply --dev b1 "$TMP/b.rules"
refused "without CAP_SYS_ADMIN: apply -n" 'cap_bpf|cap_net_admin' \
	"$MOAT_BIN" -n "$B" apply "$TMP/b.rules"
refused "without CAP_BPF and CAP_SYS_ADMIN: apply" 'cap_net_admin' \
	"$MOAT_BIN" apply --dev lo "$TMP/b.rules"
# reading the pins needs only root's file access, no capability
check_exit "without CAP_BPF and CAP_SYS_ADMIN: stats still reads the pins" 0 \
	with_caps 'cap_net_admin' "$MOAT_BIN" stats
refused "without CAP_BPF and CAP_SYS_ADMIN: detach" 'cap_net_admin' \
	"$MOAT_BIN" -n "$B" detach --all
# the kernel grants the BPF operations to CAP_SYS_ADMIN as well
check_exit "without CAP_BPF alone (CAP_SYS_ADMIN covers bpf): status" 0 \
	with_caps 'cap_net_admin|cap_sys_admin' "$MOAT_BIN" status

# ---- not root at all ----
nobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
for c in "status" "stats" "show" "apply --dev lo $TMP/b.rules" "detach --all"; do
	# shellcheck disable=SC2086
	check_exit "as nobody: moat $c exits 1" 1 nobody "$MOAT_BIN" $c
	check "as nobody: moat $c names the capabilities" grep -q "CAP_BPF" "$TMP/err"
done
check_exit "as nobody: moat check needs no privilege" 0 nobody "$MOAT_BIN" check "$TMP/b.rules"
check_eq "after all refusals: the rule set in force is unchanged" "$(hash)" "$H"

# ---- the pin directory is root-only ----
check_eq "pin dir: owned by root, 0700" "$(stat -c '%U %a' "$MOAT_BPFFS_DIR")" "root 700"
bad=$(find "$MOAT_BPFFS_DIR" \( -type d ! -perm 0700 \) -o \( ! -type d ! -perm 0600 \) -o ! -user root)
check_eq "pin dir: every directory 0700, every file 0600, all root's" "$bad" ""
check_ge "pin dir: holds maps and state files" "$(find "$MOAT_BPFFS_DIR" -type f | wc -l)" 5
check_exit "as nobody: the pinned maps cannot be opened" 1 nobody cat "$MOAT_BPFFS_DIR/maps/rules"

summary
