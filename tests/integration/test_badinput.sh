#!/bin/bash
# Bad input and a hostile environment: every case must fail with a clear
# message and exit 1 or 2 while the running firewall stays exactly as it
# was (same status --json hash, same verdicts on probe traffic), or, for
# a tampered pin directory, be reported by status and repaired by apply.
#   a (a0 10.211.0.2) <-> (b0 10.211.0.1) b, moat on b0; b1/a1 spare
. "$(dirname "$0")/lib.sh"
need_root
unset SSH_CONNECTION

A=$(mkns a) && B=$(mkns b) || { fail "rig"; summary; exit 1; }
link "$A" a0 10.211.0.2/24 "$B" b0 10.211.0.1/24
link "$A" a1 10.212.0.2/24 "$B" b1 10.212.0.1/24
tcp_serve "$B" 8080
tcp_serve "$B" 8081
wait_port "$B" 8080 tcp; wait_port "$B" 8081 tcp

R=$TMP/r; mkdir -p "$R"
printf 'policy drop\npass icmp\npass tcp to port 8080\n' >"$R/a.rules"
printf 'policy drop\npass icmp\npass tcp to port 8081\n' >"$R/b.rules"
check_exit "apply the rule set under test" 0 moat -n "$B" apply --dev b0 "$R/a.rules"
hash() { moat status --json 2>/dev/null | jq -r .hash; }
H=$(hash)
fast_tcp() { [ "$(ip netns exec "$A" timeout 2 socat -T1 - "TCP:10.211.0.1:$1,connect-timeout=0.5" </dev/null 2>/dev/null)" == "hi" ]; }
# seen: which rule set the probes see (a, b, none, mix)
seen() {
	local x=0 y=0
	fast_tcp 8080 && x=1
	fast_tcp 8081 && y=1
	case $x$y in 10) echo a ;; 01) echo b ;; 11) echo none ;; *) echo mix ;; esac
}

# refused NAME CODE REGEX CMD...: exit CODE, stderr matches REGEX, and the
# firewall is unchanged
refused() {
	local n=$1 code=$2 re=$3; shift 3
	check_exit "$n: exit $code" "$code" "$@"
	if grep -qE -- "$re" "$TMP/err"; then ok "$n: says '$re'"; else
		fail "$n: says '$re'" "$(head -c 300 "$TMP/err" | tr '\n' ' ')"; fi
	if [ "$(hash)" = "$H" ] && [ "$(seen)" = a ]; then ok "$n: firewall unchanged"; else
		fail "$n: firewall unchanged" "hash $(hash), traffic sees $(seen)"; fi
}
ap() { moat -n "$B" apply "$@"; }

# ---- rule files ----
refused "missing file" 1 "cannot open .*No such file" ap "$R/nosuch.rules"
printf 'pass all\n' >"$R/unreadable.rules"; chmod 000 "$R/unreadable.rules"; chmod 755 "$TMP" "$R"
refused "unreadable file (as nobody: check)" 1 "cannot open .*Permission denied" \
	setpriv --reuid nobody --regid nogroup --clear-groups "$MOAT_BIN" check "$R/unreadable.rules"
refused "a directory" 1 "Is a directory" ap "$R"
head -c 65536 /dev/urandom >"$R/garbage.rules"
refused "binary garbage" 1 "(invalid character|non-ASCII byte)" ap "$R/garbage.rules"
# 100 MB of text, made here (never committed): over the rule limit
yes 'pass tcp from 10.0.0.0/8 to port 22 # padding padding padding' | head -n 1700000 >/tmp/moat-big-$ID.rules
check_ge "the big file is 100 MB" "$(stat -c %s /tmp/moat-big-$ID.rules)" 100000000
refused "100 MB rule file" 1 "limit is 16384" ap /tmp/moat-big-$ID.rules
rm -f /tmp/moat-big-$ID.rules
# (the limit is checked where a token starts past it: trailing blanks or a
# comment running past column 65536 are not reported)
{ head -c 70000 /dev/zero | tr '\0' ' '; printf 'pass tcp to port 22\n'; } >"$R/longline.rules"
refused "a line over 65536 columns" 1 "line too long" ap "$R/longline.rules"
python3 -c "print('pass tcp to port ' + '1' * 5000)" >"$R/longword.rules"
refused "a 5000-character word" 1 "word too long" ap "$R/longword.rules"
printf 'set %s { 10.0.0.1 }\n' "$(head -c 64 /dev/zero | tr '\0' a)" >"$R/longname.rules"
refused "a 64-character set name" 1 "(name|too long)" ap "$R/longname.rules"
printf 'pass on %s all\n' "$(head -c 16 /dev/zero | tr '\0' e)" >"$R/longif.rules"
refused "a 16-character interface name" 1 "(interface|too long)" ap "$R/longif.rules"
printf 'include "c2.rules"\n' >"$R/c1.rules"; printf 'include "c1.rules"\n' >"$R/c2.rules"
refused "include cycle" 1 "include cycle" ap "$R/c1.rules"
printf 'include "nothing/*.rules"\n' >"$R/glob.rules"
refused "include glob matching nothing" 1 "matches no file" ap "$R/glob.rules"
printf 'pass tcp frm 10.0.0.0/8\n' >"$R/kw.rules"
refused "unknown keyword" 1 "unknown keyword 'frm'.*did you mean 'from'" ap "$R/kw.rules"
printf 'pass tcp to port 65536\n' >"$R/port.rules"
refused "port out of range" 1 "port 65536 out of range" ap "$R/port.rules"
printf 'pass from 10.0.0.0/33\n' >"$R/p33.rules"
refused "prefix /33" 1 "prefix length 33 out of range" ap "$R/p33.rules"
printf 'pass from 2001:db8::/129\n' >"$R/p129.rules"
refused "prefix /129" 1 "prefix length 129 out of range" ap "$R/p129.rules"
printf 'pass from fe80::1%%b0\n' >"$R/zone.rules"
refused "address with a zone id" 1 "zone ids are not supported" ap "$R/zone.rules"
printf 'set e { }\npass from @e\n' >"$R/emptyset.rules"
refused "empty set" 1 "set 'e' is empty" ap "$R/emptyset.rules"
printf 'set d { 10.0.0.1 }\nset d { 10.0.0.2 }\npass from @d\n' >"$R/dupset.rules"
refused "duplicate set name" 1 "set 'd' already defined" ap "$R/dupset.rules"
printf 'pass from @nosuch\n' >"$R/undef.rules"
refused "undefined set" 1 "set 'nosuch' is not defined" ap "$R/undef.rules"
printf 'pass on nosuch0 all\n' >"$R/on.rules"
refused "unknown interface in 'on'" 1 "unknown interface 'nosuch0'" ap "$R/on.rules"
printf 'redirect nosuch0 tcp\n' >"$R/redir.rules"
refused "unknown interface in 'redirect'" 1 "unknown interface 'nosuch0'" ap "$R/redir.rules"
python3 -c "
for i in range(16385): print('pass tcp to port %d' % (i + 1))" >"$R/limit.rules"
refused "16385 rules (limit 16384)" 1 "limit is 16384" ap "$R/limit.rules"

# ---- environment ----
refused "interface missing" 1 "'nosuch0' does not exist" ap --dev nosuch0 "$R/b.rules"
refused "interface in another namespace" 1 "'a0' does not exist" ap --dev a0 "$R/b.rules"
refused "not privileged (nobody)" 1 "CAP_BPF" \
	setpriv --reuid nobody --regid nogroup --clear-groups "$MOAT_BIN" -n "$B" apply "$R/b.rules"
# bpffs not mounted: only in a private mount namespace, never the host's
refused "bpffs not mounted: apply --dev b0 finds a program it does not own" 1 \
	"another XDP program" unshare -m --propagation private sh -c \
	"umount -l /sys/fs/bpf && ! mountpoint -q /sys/fs/bpf && exec '$MOAT_BIN' -n '$B' apply --dev b0 '$R/b.rules'"
check "bpffs not mounted: status in a fresh bpffs says nothing is applied" \
	unshare -m --propagation private sh -c \
	"umount -l /sys/fs/bpf && '$MOAT_BIN' status | grep -q 'not active'"
check "the host's bpffs is still mounted" mountpoint -q /sys/fs/bpf
# another XDP program, not under libxdp, on b1
cat >"$TMP/pass.c" <<'C'
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int xdp_pass_only(struct xdp_md *c) { return XDP_PASS; }
char _license[] __attribute__((section("license"), used)) = "GPL";
C
if clang -O2 -target bpf -I/usr/include/"$(gcc -dumpmachine)" -c "$TMP/pass.c" -o "$TMP/pass.o" &&
	ip -n "$B" link set dev b1 xdp obj "$TMP/pass.o" sec xdp; then
	refused "another (non-libxdp) XDP program on the interface" 1 \
		"another XDP program is attached" ap --dev b1 "$R/b.rules"
	check "the other program is left in place" sh -c "ip -n '$B' link show b1 | grep -q xdp"
	ip -n "$B" link set dev b1 xdp off
else
	skip "another XDP program" "cannot build or attach a test program"
fi
# a kernel that refuses the program although moat has every capability
# (here: a moat whose program the verifier rejects, built by `make tests`):
# exit 2 and says so, not "permission denied ... run as root"
REJ_MOAT=$ROOT/build/rejected/moat
refused "the verifier refuses the program (as root)" 2 \
	"the kernel refused although moat runs as root with CAP_BPF" \
	"$REJ_MOAT" -n "$B" apply --dev b1 "$R/b.rules"
check_not "the verifier refuses the program: no capability advice" \
	grep -q "permission denied" "$TMP/err"
check_not "the verifier refuses the program: nothing on b1" \
	sh -c "ip -n '$B' link show b1 | grep -q xdp"

# ---- two applies at once: serialised, both succeed, the state is whole ----
moat -n "$B" apply "$R/b.rules" >"$TMP/o1" 2>&1 & p1=$!
moat -n "$B" apply "$R/a.rules" >"$TMP/o2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "two applies at once: both succeed" "$r1 $r2" "0 0"
s=$(seen)
case $s in a | b) ok "two applies at once: one whole rule set in force ($s)" ;;
*) fail "two applies at once: one whole rule set in force" "traffic sees $s" ;; esac
check_exit "two applies at once: status --verify agrees with the traffic" 0 moat -n "$B" status --verify "$R/$s.rules"
gens=$(cat "$TMP/o1" "$TMP/o2" | grep -o 'generation [0-9]*' | sort | uniq | wc -l)
check_eq "two applies at once: two distinct generations" "$gens" 2
check_exit "back to a" 0 ap "$R/a.rules"
H=$(hash)

# ---- pin directory tampered with ----
rm "$MOAT_BPFFS_DIR/maps/rules"
check_exit "a map pin deleted: status exits 2" 2 moat status
check "a map pin deleted: status says the state is damaged" grep -q "damaged" "$TMP/err"
check_eq "a map pin deleted: the firewall still filters" "$(seen)" a
check_exit "a map pin deleted: apply repairs" 0 ap "$R/b.rules"
check_eq "a map pin deleted: after apply the new rule set is fully in force" "$(seen)" b
check_exit "a map pin deleted: status is whole again" 0 moat status
check_exit "a map pin deleted: status --verify b" 0 moat -n "$B" status --verify "$R/b.rules"
rm "$MOAT_BPFFS_DIR/ifaces"
check_exit "interface records deleted: apply --dev b0 takes moat's program back" 0 ap --dev b0 "$R/a.rules"
check_eq "interface records deleted: a in force" "$(seen)" a
moat status --json >"$TMP/json"
check_eq "interface records deleted: status lists b0 again" "$(jqv '.interfaces[0].name')" b0
rm -f "$MOAT_BPFFS_DIR/meta0" "$MOAT_BPFFS_DIR/meta1"
check_exit "generation records deleted: apply repairs" 0 ap "$R/b.rules"
check_eq "generation records deleted: b in force" "$(seen)" b
check_exit "generation records deleted: status --verify b" 0 moat -n "$B" status --verify "$R/b.rules"
# pins of another moat version (another map layout): a clear error, the
# firewall untouched; detach --all and apply is the way out
check_exit "another version's pins: apply a" 0 ap "$R/a.rules"
rm "$MOAT_BPFFS_DIR/maps/gen_info"
bpftool map create "$MOAT_BPFFS_DIR/maps/gen_info" type array key 4 value 8 \
	entries 4 name gen_info 2>/dev/null
check_exit "another version's pins: status exits 2" 2 moat status
check "another version's pins: status says so and how to recover" \
	grep -q "made by another version of moat (gen_info: key 4, value 8 bytes.*run \`moat detach --all\`" "$TMP/err"
check_exit "another version's pins: apply exits 2" 2 ap "$R/b.rules"
check "another version's pins: apply says so" grep -q "another version of moat" "$TMP/err"
check_eq "another version's pins: a still filters" "$(seen)" a
check_exit "another version's pins: detach --all" 0 moat -n "$B" detach --all
check_exit "another version's pins: then apply b" 0 ap --dev b0 "$R/b.rules"
check_eq "another version's pins: b in force" "$(seen)" b
# an older moat's program still attached (another MOAT_ABI, built by `make
# tests`): this moat writes no map it would misread
OLD_MOAT=$ROOT/build/oldabi/moat
check_exit "older moat's program: detach --all" 0 moat -n "$B" detach --all
check_exit "older moat's program: the older moat applies a" 0 \
	"$OLD_MOAT" -n "$B" apply --dev b0 "$R/a.rules"
check_eq "older moat's program: a in force" "$(seen)" a
check_exit "older moat's program: apply b exits 2" 2 ap "$R/b.rules"
check "older moat's program: apply says so and how to recover" \
	grep -q "loaded by another version of moat.*run \`moat detach --all\`" "$TMP/err"
check_eq "older moat's program: a still filters" "$(seen)" a
check_exit "older moat's program: status exits 2" 2 moat status
check_exit "older moat's program: detach --all" 0 moat -n "$B" detach --all
check_exit "older moat's program: then apply b" 0 ap --dev b0 "$R/b.rules"
check_eq "older moat's program: b in force" "$(seen)" b
check_exit "detach --all" 0 moat -n "$B" detach --all
check_not "after detach no XDP program is left on b0" sh -c "ip -n '$B' link show b0 | grep -q xdp"

summary
