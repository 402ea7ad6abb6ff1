# shellcheck shell=bash
# lib.sh - helpers for moat's namespace integration tests.
#
# Each test file sources this, builds a rig of uniquely named network
# namespaces joined by veth pairs, drives build/moat exactly as a user
# would, and prints "SUMMARY <suite> passed=N failed=N skipped=N".
# Namespaces, pins and background processes are removed on exit, whatever
# happens.  Traffic stays between the rig's own namespaces.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOAT_BIN=${MOAT_BIN:-$ROOT/build/moat}
ID="mt$$$(printf '%04x' $((RANDOM % 65536)))"
export MOAT_BPFFS_DIR=/sys/fs/bpf/moat-test-$ID
SUITE=$(basename "$0" .sh)
T_PASSED=0 T_FAILED=0 T_SKIPPED=0
BG_PIDS=()
TMP=$(mktemp -d /tmp/moat-it.XXXXXX)

moat() { "$MOAT_BIN" "$@"; }

cleanup() {
	local p ns
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	"$MOAT_BIN" -q detach --all >/dev/null 2>&1
	# by prefix: mkns runs in $(...), so it cannot record its names here
	for ns in $(ip netns list | awk '{print $1}' | grep "^$ID-"); do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$MOAT_BPFFS_DIR" "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { T_PASSED=$((T_PASSED + 1)); echo "ok - $1"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "not ok - $1${2:+: $2}"; }
skip() { T_SKIPPED=$((T_SKIPPED + 1)); echo "skip - $1${2:+: $2}"; }
summary() {
	echo "SUMMARY $SUITE passed=$T_PASSED failed=$T_FAILED skipped=$T_SKIPPED"
	[ "$T_FAILED" -eq 0 ]
}

# check NAME CMD...: passes when CMD exits 0
check() { local n=$1; shift; if "$@" >"$TMP/out" 2>&1; then ok "$n"; else fail "$n" "$(tail -3 "$TMP/out" | tr '\n' ' ')"; fi; }
# check_not NAME CMD...: passes when CMD exits non-zero
check_not() { local n=$1; shift; if "$@" >"$TMP/out" 2>&1; then fail "$n" "unexpectedly succeeded"; else ok "$n"; fi; }
# check_exit NAME CODE CMD...: passes when CMD exits with CODE
check_exit() {
	local n=$1 want=$2 rc; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$n"; else fail "$n" "exit $rc, want $want: $(tail -2 "$TMP/err" | tr '\n' ' ')"; fi
}
# check_eq NAME GOT WANT
check_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
check_ge() { if [ "$2" -ge "$3" ] 2>/dev/null; then ok "$1"; else fail "$1" "got '$2', want >= $3"; fi; }

# mkns NAME: create a namespace named $ID-NAME (removed at exit) and print it
mkns() {
	local ns="$ID-$1"
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	echo "$ns"
}

# link NS1 IF1 ADDR1 NS2 IF2 ADDR2 (addresses with prefix length; v6 optional as 7th/8th)
link() {
	local n1=$1 i1=$2 a1=$3 n2=$4 i2=$5 a2=$6 b1=${7:-} b2=${8:-}
	ip link add "$i1" netns "$n1" type veth peer name "$i2" netns "$n2" || return 1
	ip -n "$n1" addr add "$a1" dev "$i1"
	ip -n "$n2" addr add "$a2" dev "$i2"
	if [ -n "$b1" ]; then
		ip -n "$n1" addr add "$b1" dev "$i1" nodad
		ip -n "$n2" addr add "$b2" dev "$i2" nodad
	fi
	ip -n "$n1" link set "$i1" up
	ip -n "$n2" link set "$i2" up
}

# bg CMD...: run in the background, killed at exit
bg() { "$@" >/dev/null 2>&1 & BG_PIDS+=($!); }

# tcp_ok NS ADDR PORT: a TCP exchange succeeds (the server answers "hi").
# Probes try twice, so a loaded machine does not fail a test; a blocked
# path fails both tries.
tcp_try() { [ "$(ip netns exec "$1" timeout 3 socat -T2 - "TCP:$2:$3,connect-timeout=1" </dev/null 2>/dev/null)" == "hi" ]; }
tcp_ok() { tcp_try "$@" || tcp_try "$@"; }
tcp_serve() { bg ip netns exec "$1" socat "TCP-LISTEN:$2,reuseaddr,fork" SYSTEM:'echo hi'; }
# udp_ok NS ADDR PORT: a UDP request gets its reply
# (a single-process Python echo: socat's fork-per-datagram server lost about
# one request in twenty under load)
UDP_PY='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if sys.argv[1] == "serve":
    s.bind((sys.argv[2], int(sys.argv[3])))
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(b"pong\n", a)
s.settimeout(0.7)
for i in range(4):
    s.sendto(b"ping\n", (sys.argv[2], int(sys.argv[3])))
    try:
        if s.recv(64) == b"pong\n":
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)'
udp_try() { ip netns exec "$1" timeout 5 python3 -c "$UDP_PY" ask "$2" "$3" 2>/dev/null; }
udp_ok() { udp_try "$@"; }
# udp_serve NS PORT [ADDR]: answer "pong" to every datagram (any v4 address
# by default; give :: for IPv6)
udp_serve() { bg ip netns exec "$1" python3 -c "$UDP_PY" serve "${3:-0.0.0.0}" "$2"; }
ping_ok() { ip netns exec "$1" ping -c2 -i0.2 -W1 "$2" >/dev/null 2>&1 || ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }

wait_port() { # NS PORT tcp|udp
	local i
	for i in $(seq 50); do
		ip netns exec "$1" ss -lnH "$( [ "$3" = udp ] && echo -u || echo -t )" "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "integration tests need root"
		skip "all" "not root"
		summary; exit $?
	fi
}

# jq on the JSON output of a moat command
jqv() { jq -r "$1" <"$TMP/json"; }
