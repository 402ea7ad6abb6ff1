#!/bin/bash
# test_vlan.sh - VLAN-tagged traffic on a real veth: `vlan` rules match the
# outer tag of frames behind one or two tags, and the microflow cache
# answers such flows after their first packets.  Frames are written with
# their tags in the data through an AF_PACKET socket (the way a NIC with
# VLAN stripping off hands them over).
. "$(dirname "$0")/lib.sh"
need_root

A=$(mkns a) && B=$(mkns b) && link "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 ||
	{ fail "rig"; summary; exit $?; }

cat >"$TMP/vlan.rules" <<'RULES'
policy pass
drop vlan 5 udp to 192.0.2.2 port 9
pass vlan 6 udp to 192.0.2.2 port 9
drop udp to 192.0.2.2 port 10
pass udp to 192.0.2.2 port 9
RULES
check "apply the vlan rules" moat -q -n "$B" apply --dev vb "$TMP/vlan.rules"

# send IFACE COUNT DPORT [TPID:VID...]: COUNT identical UDP frames
# 192.0.2.1:4000 -> 192.0.2.2:DPORT behind the given tags (outer first)
SEND_PY='
import socket, struct, sys
ifname, count, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
payload = b"x" * 18
udp = struct.pack("!HHHH", 4000, dport, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"))
s = sum(struct.unpack("!10H", ip))
s = (s >> 16) + (s & 0xffff)
s += s >> 16
ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
eth = bytes.fromhex("020000000002020000000001")
for t in sys.argv[4:]:
    tpid, vid = t.split(":")
    eth += struct.pack("!HH", int(tpid, 16), int(vid))
frame = eth + struct.pack("!H", 0x0800) + ip + udp
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.bind((ifname, 0))
for i in range(count):
    sk.send(frame)'
send() { ip netns exec "$A" python3 -c "$SEND_PY" va "$@"; }

N=40
check "send: vlan 5, port 9" send $N 9 8100:5
check "send: vlan 7 inside 802.1ad vlan 5, port 9" send $N 9 88a8:5 8100:7
check "send: vlan 6, port 9" send $N 9 8100:6
check "send: vlan 5, port 10" send $N 10 8100:5
check "send: untagged, port 9" send $N 9
sleep 0.5

moat -n "$B" stats --json >"$TMP/json"
check_eq "drop vlan 5 port 9: the one-tag and the two-tag frames (outer tag 5)" \
	"$(jqv '.rules[0].packets')" $((2 * N))
check_eq "pass vlan 6 port 9" "$(jqv '.rules[1].packets')" $N
check_eq "drop port 10 (any vlan)" "$(jqv '.rules[2].packets')" $N
check_eq "pass port 9, untagged" "$(jqv '.rules[3].packets')" $N
check_eq "drop_rule counts the dropped ones" "$(jqv '.drop_reasons.drop_rule.packets')" $((3 * N))
# five flows: their first packets (one per CPU at most) take the slow
# path, the rest are answered from the microflow cache (the host's own
# IPv6 chatter on the link adds a few)
slow=$(jqv '.counters.slow_path.packets')
if [ "$slow" -ge 5 ] 2>/dev/null && [ "$slow" -le 30 ]; then
	ok "the microflow cache answered the repeats ($slow of $((5 * N)) on the slow path)"
else
	fail "the microflow cache answered the repeats" "slow_path $slow of $((5 * N))"
fi

summary
