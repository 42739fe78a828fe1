/* DHCPv4 messages on the wire: the fixed BOOTP header (RFC 2131 §2, RFC 951),
 * the IPv4 + UDP headers the client writes itself on its packet socket, and
 * the Internet checksum.  Pure functions over (buf, len); nothing here does
 * I/O.  Addresses are IPv4 in network byte order (like in_addr_t). */
#ifndef IP_NET_DHCP_PACKET_H
#define IP_NET_DHCP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68

/* Offsets into a DHCP message (the UDP payload). */
#define DHCP_SNAME_OFFSET 44
#define DHCP_SNAME_LEN 64
#define DHCP_FILE_OFFSET 108
#define DHCP_FILE_LEN 128
#define DHCP_HEADER_LEN 236            /* op .. file */
#define DHCP_OPTIONS_OFFSET 240        /* header + magic cookie */
#define DHCP_MAGIC_COOKIE 0x63825363u  /* RFC 2131 §3 */
#define DHCP_CHADDR_LEN 16

/* RFC 1542 §2.1: some relays and old servers drop BOOTP messages shorter
 * than 300 octets, so the messages we build are padded to that size. */
#define DHCP_MIN_BOOTP_LEN 300

/* Limit on untrusted input: the largest IPv4 packet we read from the packet
 * socket.  Anything longer is truncated by the kernel and then dropped. */
#define DHCP_PACKET_MAX 4096
/* The DHCP message size we announce in option 57 (whole IP datagram, RFC
 * 2132 §9.10); the link MTU before any lease is applied. */
#define DHCP_MAX_MESSAGE_SIZE 1500

#define IPV4_HEADER_LEN 20
#define UDP_HEADER_LEN 8

enum { BOOTREQUEST = 1, BOOTREPLY = 2 };
#define ARPHRD_ETHER_HTYPE 1
#define ETHER_ADDR_LEN_DHCP 6

/* The decoded fixed fields of a DHCP message. */
struct dhcp_header {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;                 /* host byte order */
	uint16_t secs, flags;         /* host byte order */
	uint32_t ciaddr, yiaddr, siaddr, giaddr; /* network byte order */
	uint8_t chaddr[DHCP_CHADDR_LEN];
};

/* Decodes the fixed header of `msg`.  Fails with -EBADMSG when the message is
 * shorter than header + cookie or the magic cookie is wrong (a BOOTP-only
 * reply). */
int dhcp_header_parse(const uint8_t *msg, size_t len, struct dhcp_header *out);

/* Writes `h`, zeroed sname/file and the magic cookie into buf.  Returns
 * DHCP_OPTIONS_OFFSET or -ENOBUFS. */
int dhcp_header_write(const struct dhcp_header *h, uint8_t *buf, size_t cap);

/* The Internet checksum (RFC 1071) of `len` bytes, folded, complemented. */
uint16_t ip_checksum(const void *data, size_t len);

/* One UDP datagram inside an IPv4 packet. */
struct udp_datagram {
	uint32_t src, dst;            /* network byte order */
	uint16_t sport, dport;        /* host byte order */
	const uint8_t *payload;
	size_t len;
};

/* Builds IPv4 + UDP headers around d->payload into out (checksums filled in,
 * TTL 64, no fragmentation).  Returns the packet length or -ENOBUFS/-EMSGSIZE. */
int udp_packet_build(const struct udp_datagram *d, uint8_t *out, size_t cap);

/* Validates an IPv4 packet carrying UDP and points out->payload into it:
 * version, header length, total length, header checksum, no fragments, the
 * UDP length and -- unless the kernel said the checksum was not computed yet
 * (checksum offload on veth and virtio, see dhcp_network.c) -- the UDP
 * checksum.  Returns 0, -EBADMSG (malformed) or -EPROTO (not UDP). */
int udp_packet_parse(const uint8_t *pkt, size_t len, bool verify_udp_checksum,
		     struct udp_datagram *out);

/* What the client asks for: DHCPDISCOVER, or DHCPREQUEST in SELECTING state
 * (RFC 2131 §4.3.2 table 5, §4.4.1). */
struct dhcp_request {
	uint8_t type;                 /* DHCP_DISCOVER or DHCP_REQUEST */
	uint32_t xid;
	uint16_t secs;
	uint8_t mac[ETHER_ADDR_LEN_DHCP];
	uint32_t requested_ip;        /* option 50, network order; 0 = omit */
	uint32_t server_id;           /* option 54, network order; 0 = omit */
};

/* Builds the DHCP message for `req` (header, options 53, 61, 57, 50, 54, 55,
 * end, padding to DHCP_MIN_BOOTP_LEN).  Returns its length or -ENOBUFS. */
int dhcp_message_build(const struct dhcp_request *req, uint8_t *buf, size_t cap);

#endif
