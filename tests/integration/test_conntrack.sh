#!/bin/bash
# Connection tracking end to end: `policy drop` with
# `pass state { established, related }` and `pass tcp to port 22 state new`
# on a host namespace, real traffic from and to a peer.
#
#   peer (p0 10.203.0.2, fd00:203::2) <-> (h0 10.203.0.1, fd00:203::1) host
#
# moat runs in the root namespace and reaches the host's h0 with -n.
. "$(dirname "$0")/lib.sh"
need_root

H=$(mkns host) && P=$(mkns peer) || { fail "rig" "cannot create namespaces"; summary; exit 1; }
link "$H" h0 10.203.0.1/24 "$P" p0 10.203.0.2/24 fd00:203::1/64 fd00:203::2/64

# services on the host: 22 (echoes what it reads), 8080, udp 7777
bg ip netns exec "$H" socat TCP-LISTEN:22,reuseaddr,fork SYSTEM:'read x; echo got-$x'
tcp_serve "$H" 8080
udp_serve "$H" 7777
# services on the peer, for the host's own connections
tcp_serve "$P" 9000
udp_serve "$P" 5353
bg ip netns exec "$P" socat TCP-LISTEN:9100,reuseaddr,fork EXEC:cat
bg ip netns exec "$P" socat TCP6-LISTEN:9001,reuseaddr,fork SYSTEM:'echo hi'
wait_port "$H" 22 tcp; wait_port "$H" 8080 tcp; wait_port "$H" 7777 udp
wait_port "$P" 9000 tcp; wait_port "$P" 5353 udp; wait_port "$P" 9100 tcp; wait_port "$P" 9001 tcp

ssh_try() { [ "$(echo hello | ip netns exec "$1" timeout 3 socat -T2 - "TCP:$2:22,connect-timeout=1" 2>/dev/null)" == "got-hello" ]; }
ssh_like() { ssh_try "$@" || ssh_try "$@"; }

check "baseline: inbound udp 7777 answers without moat" udp_ok "$P" 10.203.0.1 7777

cat >"$TMP/ct.rules" <<'R'
policy drop
interface h0 mode native
conntrack { max 4096; udp 2; udp-stream 2; icmp 2 }

pass state { established, related }
pass tcp to port 22 state new
R
check_exit "check: the conntrack file is valid" 0 moat check "$TMP/ct.rules"
printf 'pass state { bogus }\nconntrack { udp 0 }\n' >"$TMP/bad.rules"
check_exit "check: bad state and timeout exit 1" 1 moat check "$TMP/bad.rules"
check "check: the unknown state is named" grep -q "unknown state 'bogus'" "$TMP/err"
check "check: the bad timeout is named" grep -q "conntrack timeout udp '0' out of range" "$TMP/err"

check_exit "apply the stateful rule set" 0 moat -n "$H" apply "$TMP/ct.rules"
check "the TC egress program is attached with the XDP program" \
	bash -c "ip netns exec '$H' tc filter show dev h0 egress | grep -q moat_tc_egress"

# ---- inbound ----
check "inbound TCP to 22 carries data both ways" ssh_like "$P" 10.203.0.1
check_not "inbound TCP to 8080 is blocked" tcp_ok "$P" 10.203.0.1 8080
check_not "unsolicited inbound UDP is blocked" udp_ok "$P" 10.203.0.1 7777
check_not "unsolicited inbound ping is blocked" ping_ok "$P" 10.203.0.1

# ---- the host's own connections ----
check "outbound TCP works and gets its replies" tcp_ok "$H" 10.203.0.2 9000
check "outbound UDP works and gets its reply" udp_ok "$H" 10.203.0.2 5353
check "outbound ping gets its reply" ping_ok "$H" 10.203.0.2
check "outbound ping over IPv6 gets its reply" ping_ok "$H" fd00:203::2
check "outbound TCP over IPv6 works" tcp_ok "$H" "[fd00:203::2]" 9001

# ICMP port unreachable answering the host's UDP: related, so the
# application sees ECONNREFUSED instead of a timeout
ip netns exec "$H" timeout 3 socat -T2 - UDP:10.203.0.2:9 <<<"x" >"$TMP/out" 2>"$TMP/refused"
check "ICMP port unreachable reaches the application (ECONNREFUSED)" grep -q "Connection refused" "$TMP/refused"
moat -n "$H" stats --json >"$TMP/json"
check_ge "stats: related packets counted" "$(jqv .conntrack.packets.related)" 1
check_ge "stats: established flows shown" "$(jqv .conntrack.established.entries)" 1
check_eq "stats: table size from the file" "$(jqv .conntrack.established.max)" 4096

# ---- moat conntrack ----
moat -n "$H" conntrack list --json >"$TMP/json"
check_ge "conntrack list: flows listed" "$(jqv '.flows | length')" 1
check_ge "conntrack list: the inbound ssh flow (port 22, inbound)" \
	"$(jqv '[.flows[] | select(.dport == 22 and .origin == "inbound")] | length')" 1
check_ge "conntrack list: a host-started TCP flow to 9000" \
	"$(jqv '[.flows[] | select(.dport == 9000 and .origin == "host")] | length')" 1
moat -n "$H" conntrack list --json --port 9000 >"$TMP/json"
check_eq "conntrack list --port keeps only that port" \
	"$(jqv '[.flows[] | select(.dport != 9000 and .sport != 9000)] | length')" 0
check "conntrack list prints text" bash -c "'$MOAT_BIN' -n '$H' conntrack list | grep -q ' -> 10.203.0.2:9000'"
moat -n "$H" conntrack count --json >"$TMP/json"
check_ge "conntrack count" "$(jqv .count)" 1

# ---- timeouts from the file ----
udp_ok "$H" 10.203.0.2 5353
n1=$(moat -n "$H" conntrack count --proto udp --port 5353 --json | jq -r .count)
sleep 3
n2=$(moat -n "$H" conntrack count --proto udp --port 5353 --json | jq -r .count)
check_ge "timeout: the udp flow is there at first" "$n1" 1
check_eq "timeout: udp 2 in the file expires it" "$n2" 0

# ---- a flood of new flows does not evict an established connection ----
(echo a; sleep 3; echo b; sleep 1; echo c) |
	ip netns exec "$H" timeout 10 socat -T6 - TCP:10.203.0.2:9100 >"$TMP/long" 2>&1 &
BG_PIDS+=($!)
sleep 1
if command -v python3 >/dev/null; then
	ip netns exec "$P" python3 - <<'PY'
import socket, struct, random
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_aton("10.203.0.1")
for i in range(4000):
    src = struct.pack("!I", (172 << 24) | random.getrandbits(20))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", 1024 + i % 60000, 22, i, 0, 5 << 4, 0x02, 65535, 0, 0)
    s.sendto(ip + tcp, ("10.203.0.1", 0))
PY
	sleep 4
	check_eq "flood: the established connection kept working" "$(tr -d '\n' <"$TMP/long")" "abc"
	moat -n "$H" stats --json >"$TMP/json"
	check_ge "flood: embryonic evictions counted" "$(jqv .conntrack.embryonic.evictions)" 1
	check "after the flood: new inbound ssh still works" ssh_like "$P" 10.203.0.1
else
	skip "flood" "python3 missing"
fi

# ---- flush and detach ----
moat -n "$H" conntrack flush >/dev/null
moat -n "$H" conntrack count --json >"$TMP/json"
check_eq "conntrack flush empties the tables" "$(jqv .count)" 0
check_exit "detach" 0 moat -n "$H" detach --all
check_not "detach removes the TC egress program" \
	bash -c "ip netns exec '$H' tc filter show dev h0 egress | grep -q moat_tc_egress"
summary
