#!/usr/bin/python3
# A scripted DHCP server for net-dnsmasq.test.sh's NAK case (dnsmasq only
# NAKs INIT-REBOOT or renewing requests, which our client never sends):
# it answers every DISCOVER with an OFFER of 192.0.2.77, the FIRST REQUEST
# with a DHCPNAK and later ones with a DHCPACK.  Runs inside the server
# namespace, bound to one interface; logs "<monotonic ms> <event>" lines;
# exits after the ACK or after 20 s.
#   net-nak-server.py IFNAME LOGFILE
import socket, struct, sys, time

ifname, log_path = sys.argv[1], sys.argv[2]
SERVER = bytes([192, 0, 2, 1])
OFFERED = bytes([192, 0, 2, 77])
log = open(log_path, 'w', buffering=1)

def event(text):
    log.write('%d %s\n' % (time.monotonic() * 1000, text))

def reply(req, msg_type, yiaddr, extra=b''):
    xid, chaddr = req[4:8], req[28:44]
    head = struct.pack('>BBBB', 2, 1, 6, 0) + xid + bytes(4) + bytes(4) + yiaddr + SERVER + bytes(4)
    opts = bytes([53, 1, msg_type, 54, 4]) + SERVER + extra + bytes([255])
    return head + chaddr + bytes(64 + 128) + struct.pack('>I', 0x63825363) + opts

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.bind(('0.0.0.0', 67))
s.settimeout(0.5)
event('ready')
requests = 0
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        req, _ = s.recvfrom(2048)
    except socket.timeout:
        continue
    if len(req) < 243 or req[0] != 1 or req[236:240] != b'\x63\x82\x53\x63':
        continue
    opts, i, mtype = req[240:], 0, None
    while i + 1 < len(opts) and opts[i] != 255:
        if opts[i] == 0:
            i += 1
            continue
        if opts[i] == 53:
            mtype = opts[i + 2]
        i += 2 + opts[i + 1]
    if mtype == 1:
        event('DISCOVER')
        lease = bytes([1, 4, 255, 255, 255, 0, 51, 4]) + struct.pack('>I', 600)
        s.sendto(reply(req, 2, OFFERED, lease), ('255.255.255.255', 68))
    elif mtype == 3:
        requests += 1
        if requests == 1:
            event('REQUEST nak')
            msg = b'scripted NAK'
            s.sendto(reply(req, 6, bytes(4), bytes([56, len(msg)]) + msg), ('255.255.255.255', 68))
        else:
            event('REQUEST ack')
            lease = bytes([1, 4, 255, 255, 255, 0, 51, 4]) + struct.pack('>I', 600)
            s.sendto(reply(req, 5, OFFERED, lease), ('255.255.255.255', 68))
            break
