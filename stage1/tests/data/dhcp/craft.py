#!/usr/bin/python3
# Makes the crafted bad/odd inputs in this directory (shared with the fuzz
# corpus stage1/tests/fuzz/corpus/dhcp-packet/) from dnsmasq's captured ACK:
#   overload.bin             options spread over 'options', 'file', 'sname' (52 = 3)
#   bad-option-length.bin    option 121 whose length runs past the message
#   split-and-bad-route.bin  option 6 split in two (RFC 3396), 121 with width 33
# Each is wrapped in IPv4/UDP 192.0.2.1:67 -> 192.0.2.67:68 without UDP checksum.
import os, struct
here = os.path.dirname(os.path.abspath(__file__))

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def wrap(msg):
    udp = struct.pack('>HHHH', 67, 68, 8 + len(msg), 0) + msg
    hdr = bytearray(struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                bytes([192, 0, 2, 1]), bytes([192, 0, 2, 67])))
    hdr[10:12] = struct.pack('>H', csum(bytes(hdr)))
    return bytes(hdr) + udp

def write(name, data):
    open(os.path.join(here, name), 'wb').write(data)

head = bytearray(open(os.path.join(here, 'ack.bin'), 'rb').read()[28:28 + 240])
o = bytes([53, 1, 5, 54, 4, 192, 0, 2, 1, 52, 1, 3, 255])
f = bytes([1, 4, 255, 255, 255, 0, 3, 4, 192, 0, 2, 1, 26, 2, 0x23, 0x29, 255])
s = bytes([6, 4, 192, 0, 2, 53, 51, 4, 0, 0, 0x0e, 0x10, 255])
h = bytearray(head); h[108:108 + len(f)] = f; h[44:44 + len(s)] = s
write('overload.bin', wrap(bytes(h) + o))
o = bytes([53, 1, 2, 54, 4, 192, 0, 2, 1, 121, 200, 24, 198, 51, 100])
write('bad-option-length.bin', wrap(bytes(head) + o))
o = bytes([53, 1, 2, 54, 4, 192, 0, 2, 1, 6, 4, 192, 0, 2, 53, 121, 5, 33, 1, 2, 3, 4,
           6, 4, 192, 0, 2, 54, 255])
write('split-and-bad-route.bin', wrap(bytes(head) + o))
