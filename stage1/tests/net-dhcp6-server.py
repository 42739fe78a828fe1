#!/usr/bin/python3
# A scripted IPv6 router + DHCPv6 server for net-ipv6.test.sh, for what
# dnsmasq cannot be made to do: ignore Rapid Commit (a 2017 report says
# EC2's server did), answer NoAddrsAvail.  It sends Router Advertisements
# (M flag, router lifetime 600 s, RDNSS 2001:db8:1::53) every second and on
# each Router Solicitation, and answers DHCPv6 by MODE:
#   ignore-rc      every Solicit gets an Advertise (Rapid Commit or not) of
#                  2001:db8:1::77; every Request a Reply
#   noaddrs        every Solicit gets an Advertise with NoAddrsAvail
#   reply-noaddrs  the FIRST Request gets a Reply whose IA_NA says
#                  NoAddrsAvail; later ones a Reply with the address
# Runs inside the server namespace, bound to one interface; logs
# "<monotonic ms> <event>" lines; exits after 25 s or when killed.
#   net-dhcp6-server.py IFNAME LOGFILE MODE
import select, socket, struct, sys, time

ifname, log_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
ifindex = socket.if_nametoindex(ifname)
SERVER_DUID = struct.pack('>HH', 3, 1) + bytes([0x02, 0, 0, 0, 0, 0x53])
ADDRESS = socket.inet_pton(socket.AF_INET6, '2001:db8:1::77')
DNS = socket.inet_pton(socket.AF_INET6, '2001:db8:1::53')
log = open(log_path, 'w', buffering=1)

def event(text):
    log.write('%d %s\n' % (time.monotonic() * 1000, text))

def opt(code, data):
    return struct.pack('>HH', code, len(data)) + data

def options(data):
    out, i = {}, 0
    while i + 4 <= len(data):
        code, length = struct.unpack('>HH', data[i:i + 4])
        out.setdefault(code, data[i + 4:i + 4 + length])
        i += 4 + length
    return out

def status(code, text):
    return opt(13, struct.pack('>H', code) + text.encode())

def ia_na(iaid, inner):
    return opt(3, iaid + struct.pack('>II', 300, 480) + inner)

def iaaddr():
    return opt(5, ADDRESS + struct.pack('>II', 300, 600))

ra_sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
ra_sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
ra_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
ra_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
ra_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
# RA: type 134, code 0, checksum (kernel), hop limit 64, M flag, router
# lifetime 600 s, reachable 0, retrans 0; RDNSS (25), length 3, lifetime 600.
RA = struct.pack('>BBHBBHII', 134, 0, 0, 64, 0x80, 600, 0, 0) + \
    struct.pack('>BBHI', 25, 3, 0, 600) + DNS

def send_ra():
    ra_sock.sendto(RA, ('ff02::1', 0, 0, ifindex))

udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
udp.bind(('::', 547))
mreq = socket.inet_pton(socket.AF_INET6, 'ff02::1:2') + struct.pack('@I', ifindex)
udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)

event('ready')
requests = 0
deadline = time.monotonic() + 25
next_ra = 0
while time.monotonic() < deadline:
    if time.monotonic() >= next_ra:
        send_ra()
        next_ra = time.monotonic() + 1
    readable, _, _ = select.select([udp, ra_sock], [], [], 0.2)
    if ra_sock in readable:
        pkt, _ = ra_sock.recvfrom(2048)
        if pkt and pkt[0] == 133:
            event('RS')
            send_ra()
    if udp not in readable:
        continue
    msg, peer = udp.recvfrom(2048)
    if len(msg) < 4:
        continue
    mtype, xid, opts = msg[0], msg[1:4], options(msg[4:])
    client_id = opts.get(1)
    ia = opts.get(3)
    if client_id is None or ia is None or len(ia) < 12:
        continue
    iaid = ia[:4]
    head = opt(1, client_id) + opt(2, SERVER_DUID)
    if mtype == 1:
        event('SOLICIT rc=%d' % (14 in opts))
        if mode == 'noaddrs':
            body = head + status(2, 'scripted: no addresses')
        else:
            body = head + ia_na(iaid, iaaddr()) + opt(23, DNS)
        udp.sendto(bytes([2]) + xid + body, peer)
    elif mtype == 3:
        requests += 1
        if mode == 'reply-noaddrs' and requests == 1:
            event('REQUEST noaddrs')
            body = head + ia_na(iaid, status(2, 'scripted: pool empty'))
        else:
            event('REQUEST reply')
            body = head + ia_na(iaid, iaaddr()) + opt(23, DNS)
        udp.sendto(bytes([7]) + xid + body, peer)
