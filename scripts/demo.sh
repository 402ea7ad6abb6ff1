#!/bin/bash
# make demo: a two-namespace rig, moat in front of the "server" side,
# allowed and blocked traffic, then the counters.  Touches no real
# interface: everything lives in namespaces created here and removed at exit.
set -u
cd "$(dirname "$0")/.."
MOAT=${MOAT:-build/moat}
ID="demo$$"
CLIENT="$ID-client" SERVER="$ID-server"
export MOAT_BPFFS_DIR=${MOAT_BPFFS_DIR:-/sys/fs/bpf/moat-$ID}
PIDS=()
UNEXPECTED=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$MOAT" -q detach --all >/dev/null 2>&1
	ip netns del "$CLIENT" 2>/dev/null
	ip netns del "$SERVER" 2>/dev/null
	rm -rf "$MOAT_BPFFS_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, XDP)"; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
try() { # DESCRIPTION EXPECT(pass|blocked) CMD...
	local what=$1 want=$2 got; shift 2
	if "$@" >/dev/null 2>&1; then got=pass; else got=blocked; fi
	printf '  %-46s %-8s %s\n' "$what" "$got" "$([ "$got" = "$want" ] && echo "(as the rules say)" || echo "(UNEXPECTED)")"
	[ "$got" = "$want" ] || UNEXPECTED=$((UNEXPECTED + 1))
}

say "rig: namespace $CLIENT (10.200.1.2) <-> veth <-> $SERVER (10.200.1.1, moat on srv0)"
ip netns add "$CLIENT" && ip netns add "$SERVER" || exit 1
ip link add cli0 netns "$CLIENT" type veth peer name srv0 netns "$SERVER"
ip -n "$CLIENT" addr add 10.200.1.2/24 dev cli0
ip -n "$SERVER" addr add 10.200.1.1/24 dev srv0
ip -n "$CLIENT" addr add fd00:200:1::2/64 dev cli0 nodad
ip -n "$SERVER" addr add fd00:200:1::1/64 dev srv0 nodad
for n in "$CLIENT" "$SERVER"; do ip -n "$n" link set lo up; done
ip -n "$CLIENT" link set cli0 up
ip -n "$SERVER" link set srv0 up
for port in 8080 22; do
	ip netns exec "$SERVER" socat TCP-LISTEN:$port,reuseaddr,fork SYSTEM:'echo hi' >/dev/null 2>&1 &
	PIDS+=($!)
done
for port in 7777 9999; do
	ip netns exec "$SERVER" socat UDP-RECVFROM:$port,fork SYSTEM:'echo pong' >/dev/null 2>&1 &
	PIDS+=($!)
done
sleep 0.5

tcp() { [ "$(ip netns exec "$CLIENT" timeout 3 socat -T2 - "TCP:$1:$2,connect-timeout=1" </dev/null 2>/dev/null)" = hi ]; }
# (socat's fork-per-datagram server drops the odd request: ask up to 3 times)
udp1() { [ "$(echo ping | ip netns exec "$CLIENT" timeout 3 socat -T1 - "UDP:$1:$2" 2>/dev/null)" = pong ]; }
udp() { udp1 "$@" || udp1 "$@" || udp1 "$@"; }
png() { ip netns exec "$CLIENT" ping -c2 -i0.2 -W1 "$1"; }

say "the rule file: rules/demo.rules"
grep -v '^\s*$' rules/demo.rules | sed 's/^/  | /'

say "moat check rules/demo.rules"
"$MOAT" check rules/demo.rules || exit 1

say "moat -n $SERVER apply --dev srv0 rules/demo.rules"
"$MOAT" -n "$SERVER" apply --dev srv0 rules/demo.rules || exit 1

say "traffic from the client"
try "ping 10.200.1.1" pass png 10.200.1.1
try "ping6 fd00:200:1::1 (neighbour discovery ok)" pass png fd00:200:1::1
try "tcp 10.200.1.1:8080" pass tcp 10.200.1.1 8080
try "tcp 10.200.1.1:22" blocked tcp 10.200.1.1 22
try "udp 10.200.1.1:7777" pass udp 10.200.1.1 7777
try "udp 10.200.1.1:9999 (client is in @blocked)" blocked udp 10.200.1.1 9999

say "moat status"
"$MOAT" status
say "moat stats"
"$MOAT" stats

say "moat detach --all (the rig is removed on exit)"
"$MOAT" detach --all
if [ "$UNEXPECTED" -ne 0 ]; then
	echo "demo: $UNEXPECTED verdict(s) differed from the rules" >&2
	exit 1
fi
