#!/usr/bin/env bash
# Re-captures the DHCP fixtures in this directory from a real exchange between
# our client and dnsmasq, on a veth pair between two network namespaces made
# here (nothing leaves them).  Needs root, dnsmasq, tcpdump, /usr/bin/python3.
#   stage1/tests/data/dhcp/capture.sh [path/to/initrd-provision]
# Writes (IPv4 packets, Ethernet header stripped):
#   discover.bin request.bin   what our client sent (dnsmasq answered both)
#   offer.bin ack.bin          what dnsmasq sent back
#   nak.bin                    dnsmasq's DHCPNAK to an INIT-REBOOT request for
#                              an address outside its range (sent by python
#                              below with the same xid and MAC: our client
#                              itself never sends INIT-REBOOT requests)
#   exchange.txt               tcpdump -vv's decoding of all of them
# test-dhcp-packet.c compares the packets we build with discover/request.bin
# byte for byte, so after re-capturing update the xid/secs constants there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../../build/initrd-provision}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
MAC=02:00:5e:10:00:01
srv=ipt-srv-cap-$$ cli=ipt-cli-cap-$$
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
ip -n "$srv" link add ips0 type veth peer name ipc0 netns "$cli"
ip -n "$cli" link set ipc0 address "$MAC"
ip -n "$srv" addr add 192.0.2.1/24 dev ips0
ip -n "$srv" link set ips0 up

ip netns exec "$srv" /usr/sbin/dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
	--interface=ips0 --bind-interfaces --no-ping --dhcp-authoritative \
	--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,1h \
	--dhcp-option=option:router,192.0.2.2 \
	--dhcp-option=option:dns-server,192.0.2.53 \
	--dhcp-option=option:domain-name,example.test \
	--dhcp-option=option:mtu,9001 \
	--dhcp-option=option:classless-static-route,198.51.100.0/24,192.0.2.254,203.0.113.0/24,198.18.0.1,0.0.0.0/0,192.0.2.1 \
	--dhcp-leasefile="$tmp/leases" --log-facility="$tmp/dnsmasq.log" --log-dhcp &
dnsmasq_pid=$!
# tcpdump needs the link up; the client sets it up again (a no-op).
ip -n "$cli" link set ipc0 up
ip netns exec "$cli" tcpdump -i ipc0 -U -n -w "$tmp/x.pcap" 'udp port 67 or udp port 68' 2>"$tmp/tcpdump.err" &
tcpdump_pid=$!
sleep 1

ip netns exec "$cli" "$bin" net --interface ipc0 --timeout 10 --resolv-conf "$tmp/resolv.conf"

# The INIT-REBOOT request that makes an authoritative dnsmasq answer DHCPNAK.
xid=$(/usr/bin/python3 - "$tmp/x.pcap" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
pkt = data[24 + 16:]
print(struct.unpack('>I', pkt[14 + 28 + 4:14 + 28 + 8])[0])
EOF
)
ip netns exec "$cli" /usr/bin/python3 - "$xid" "$MAC" <<'EOF'
import socket, struct, sys
xid = int(sys.argv[1]); mac = bytes.fromhex(sys.argv[2].replace(':', ''))
msg = struct.pack('>BBBBIHH', 1, 1, 6, 0, xid, 0, 0) + bytes(16) + mac + bytes(10 + 64 + 128)
msg += struct.pack('>I', 0x63825363)
msg += bytes([53, 1, 3, 50, 4, 198, 51, 100, 77, 255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'ipc0')
s.bind(('0.0.0.0', 68))
s.sendto(msg, ('255.255.255.255', 67))
EOF
sleep 1
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true; tcpdump_pid=""

/usr/bin/python3 - "$tmp/x.pcap" "$here" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
off, names, seen = 24, {1: 'discover', 2: 'offer', 3: 'request', 5: 'ack', 6: 'nak'}, set()
while off + 16 <= len(data):
    incl = struct.unpack('<I', data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl][14:]   # strip Ethernet
    off += 16 + incl
    opts = pkt[28 + 240:]
    i, mtype = 0, None
    while i + 1 < len(opts) and opts[i] != 255:
        if opts[i] == 0: i += 1; continue
        if opts[i] == 53: mtype = opts[i + 2]
        i += 2 + opts[i + 1]
    name = names.get(mtype)
    if name and name not in seen:
        seen.add(name)
        open(f'{sys.argv[2]}/{name}.bin', 'wb').write(pkt)
        print(f'{name}.bin: {len(pkt)} bytes')
missing = set(names.values()) - seen
if missing: sys.exit(f'not captured: {sorted(missing)}')
EOF
tcpdump -vv -n -r "$tmp/x.pcap" 2>/dev/null | sed 's/^[0-9:.]* //' >"$here/exchange.txt"
grep -E 'DHCP(DISCOVER|OFFER|REQUEST|ACK|NAK)' "$tmp/dnsmasq.log" | sed 's/^.*dnsmasq-dhcp\[[0-9]*\]: //'
