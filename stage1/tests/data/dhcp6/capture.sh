#!/usr/bin/env bash
# Re-captures the DHCPv6 and Router Discovery fixtures in this directory from
# a real exchange between our client and dnsmasq, on a veth pair between two
# network namespaces made here (nothing leaves them).  Needs root, dnsmasq,
# tcpdump, /usr/bin/python3.
#   stage1/tests/data/dhcp6/capture.sh [path/to/initrd-provision]
# Writes (the UDP payload or the ICMPv6 message, no IP header):
#   rs.bin solicit.bin request.bin   what our client sent
#   ra.bin advertise.bin reply.bin   what dnsmasq sent back
#   exchange.txt                     tcpdump -vv's decoding of all of them
# test-dhcp6-client.c replays them with the transaction ids and the MAC of
# this capture: after re-capturing, update the constants there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../../build/initrd-provision}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
MAC=02:00:5e:10:00:01
srv=ipv6-srv-cap-$$ cli=ipv6-cli-cap-$$
tmp=$(mktemp -d)
dnsmasq_pid="" tcpdump_pid=""
cleanup() {
	[ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null || true
	[ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$srv"
ip netns add "$cli"
ip netns exec "$srv" sysctl -qw net.ipv6.conf.default.accept_dad=0
ip -n "$srv" link add ips0 type veth peer name ipc0 netns "$cli"
ip -n "$cli" link set ipc0 address "$MAC"
ip -n "$srv" addr add 2001:db8:1::1/64 dev ips0 nodad
ip -n "$srv" link set ips0 up

ip netns exec "$srv" /usr/sbin/dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
	--interface=ips0 --bind-interfaces \
	--enable-ra --ra-param=ips0,60,600 \
	--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,10m \
	--dhcp-option=option6:dns-server,[2001:db8:1::53] \
	--dhcp-option=option6:domain-search,example6.test \
	--dhcp-leasefile="$tmp/leases" --log-facility="$tmp/dnsmasq.log" --log-dhcp &
dnsmasq_pid=$!
ip -n "$cli" link set ipc0 up
ip netns exec "$cli" tcpdump -i ipc0 -U -n -w "$tmp/x.pcap" 'udp port 546 or udp port 547 or icmp6' 2>"$tmp/tcpdump.err" &
tcpdump_pid=$!
sleep 2

ip netns exec "$cli" "$bin" net --family ipv6 --interface ipc0 --timeout 10 --resolv-conf -
sleep 1
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true; tcpdump_pid=""

/usr/bin/python3 - "$tmp/x.pcap" "$here" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
off, seen = 24, set()
names = {('udp', 1): 'solicit', ('udp', 2): 'advertise', ('udp', 3): 'request', ('udp', 7): 'reply',
         ('icmp', 133): 'rs', ('icmp', 134): 'ra'}
while off + 16 <= len(data):
    incl = struct.unpack('<I', data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl][14:]   # strip Ethernet
    off += 16 + incl
    if len(pkt) < 40 or pkt[0] >> 4 != 6:
        continue
    nxt, payload = pkt[6], pkt[40:]
    if nxt == 17:
        key, body = ('udp', payload[8]), payload[8:]
    elif nxt == 58:
        key, body = ('icmp', payload[0]), payload
    else:
        continue
    name = names.get(key)
    if name and name not in seen:
        seen.add(name)
        open(f'{sys.argv[2]}/{name}.bin', 'wb').write(body)
        print(f'{name}.bin: {len(body)} bytes')
missing = set(names.values()) - seen
if missing: sys.exit(f'not captured: {sorted(missing)}')
EOF
tcpdump -vv -n -r "$tmp/x.pcap" 2>/dev/null | sed 's/^[0-9:.]* //' >"$here/exchange.txt"
