/* DHCP packets on the wire: what we build is byte-for-byte what we captured
 * (and dnsmasq answered, and tcpdump -vv decoded with "udp sum ok"), see
 * data/dhcp/capture.sh and data/dhcp/exchange.txt; IPv4/UDP parsing refuses
 * malformed headers without reading past the buffer. */
#include "test.h"

#include "net/dhcp_packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

/* The values of the captured exchange (data/dhcp/exchange.txt). */
#define CAPTURED_XID 0x744b9968u
static const uint8_t captured_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

static uint32_t ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* Builds the whole IPv4 packet our client sends for `req`. */
static int build_packet(const struct dhcp_request *req, uint8_t *out, size_t cap)
{
	uint8_t msg[DHCP_MIN_BOOTP_LEN + 64];
	int len = dhcp_message_build(req, msg, sizeof(msg));
	if (len < 0)
		return len;
	struct udp_datagram d = {
		.src = htonl(INADDR_ANY), .dst = htonl(INADDR_BROADCAST),
		.sport = DHCP_CLIENT_PORT, .dport = DHCP_SERVER_PORT,
		.payload = msg, .len = (size_t)len,
	};
	return udp_packet_build(&d, out, cap);
}

static void check_matches_fixture(const struct dhcp_request *req, const char *fixture)
{
	size_t flen = 0;
	unsigned char *want = test_read_data(fixture, &flen);
	if (!want) {
		test_record_failure(__FILE__, __LINE__, "cannot read %s", fixture);
		return;
	}
	uint8_t got[1600];
	int n = build_packet(req, got, sizeof(got));
	if (n != (int)flen)
		test_record_failure(__FILE__, __LINE__, "%s: built %d bytes, fixture has %zu", fixture, n,
				    flen);
	else
		for (size_t i = 0; i < flen; i++)
			if (got[i] != want[i]) {
				test_record_failure(__FILE__, __LINE__,
						    "%s: byte %zu differs: built 0x%02x, captured 0x%02x",
						    fixture, i, got[i], want[i]);
				break;
			}
	free(want);
}

static void discover_is_byte_exact(void)
{
	struct dhcp_request req = { .type = 1, .xid = CAPTURED_XID, .secs = 0 };
	memcpy(req.mac, captured_mac, 6);
	check_matches_fixture(&req, "dhcp/discover.bin");
}

static void request_is_byte_exact(void)
{
	struct dhcp_request req = {
		.type = 3, .xid = CAPTURED_XID, .secs = 0,
		.requested_ip = ip("192.0.2.67"), .server_id = ip("192.0.2.1"),
	};
	memcpy(req.mac, captured_mac, 6);
	check_matches_fixture(&req, "dhcp/request.bin");
}

static void built_message_is_padded_to_bootp_minimum(void)
{
	struct dhcp_request req = { .type = 1, .xid = 1 };
	uint8_t msg[600];
	CHECK_INT(dhcp_message_build(&req, msg, sizeof(msg)), ==, DHCP_MIN_BOOTP_LEN);
	CHECK_INT(dhcp_message_build(&req, msg, 280), ==, -ENOBUFS);
	CHECK_INT(dhcp_message_build(&req, msg, 100), ==, -ENOBUFS);
}

static void header_round_trip(void)
{
	struct dhcp_header h = {
		.op = BOOTREPLY, .htype = 1, .hlen = 6, .hops = 2, .xid = 0xdeadbeef, .secs = 7,
		.flags = 0x8000, .ciaddr = ip("1.2.3.4"), .yiaddr = ip("192.0.2.9"),
		.siaddr = ip("192.0.2.1"), .giaddr = ip("192.0.2.254"),
	};
	memcpy(h.chaddr, captured_mac, 6);
	uint8_t buf[DHCP_OPTIONS_OFFSET];
	CHECK_INT(dhcp_header_write(&h, buf, sizeof(buf)), ==, DHCP_OPTIONS_OFFSET);
	CHECK_INT(dhcp_header_write(&h, buf, sizeof(buf) - 1), ==, -ENOBUFS);
	struct dhcp_header back;
	CHECK_INT(dhcp_header_parse(buf, sizeof(buf), &back), ==, 0);
	CHECK(back.xid == 0xdeadbeef && back.secs == 7 && back.flags == 0x8000 && back.hops == 2);
	CHECK(back.yiaddr == h.yiaddr && back.giaddr == h.giaddr && back.ciaddr == h.ciaddr);
	CHECK_MEM(back.chaddr, captured_mac, 6);
}

static void header_parse_refuses_short_and_bootp(void)
{
	uint8_t buf[DHCP_OPTIONS_OFFSET] = { BOOTREPLY, 1, 6 };
	struct dhcp_header h;
	CHECK_INT(dhcp_header_parse(buf, sizeof(buf), &h), ==, -EBADMSG); /* no cookie */
	buf[236] = 0x63; buf[237] = 0x82; buf[238] = 0x53; buf[239] = 0x63;
	CHECK_INT(dhcp_header_parse(buf, sizeof(buf), &h), ==, 0);
	CHECK_INT(dhcp_header_parse(buf, sizeof(buf) - 1, &h), ==, -EBADMSG);
	CHECK_INT(dhcp_header_parse(buf, 0, &h), ==, -EBADMSG);
}

static void checksum_rfc1071_example(void)
{
	/* RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
	static const uint8_t words[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	CHECK_INT(ip_checksum(words, sizeof(words)), ==, 0x220d);
	static const uint8_t odd[] = { 0x01 };
	CHECK_INT(ip_checksum(odd, 1), ==, 0xfeff);
}

static void own_packets_parse_with_checksums(void)
{
	size_t len = 0;
	unsigned char *pkt = test_read_data("dhcp/discover.bin", &len);
	CHECK(pkt);
	struct udp_datagram d;
	int r = udp_packet_parse(pkt, len, true, &d);
	free(pkt);
	CHECK_INT(r, ==, 0);
	CHECK_INT(d.sport, ==, 68);
	CHECK_INT(d.dport, ==, 67);
	CHECK_INT(d.len, ==, 300);
	CHECK(d.dst == htonl(INADDR_BROADCAST) && d.src == 0);
}

/* dnsmasq's replies were captured on a veth: the kernel left the UDP
 * checksum for "hardware" to fill in, so on the wire it is only partial
 * (tcpdump: "bad udp cksum").  dhcp_network.c learns this from
 * PACKET_AUXDATA and skips the check; with the check the packet is refused. */
static void offer_with_offloaded_checksum(void)
{
	size_t len = 0;
	unsigned char *pkt = test_read_data("dhcp/offer.bin", &len);
	CHECK(pkt);
	struct udp_datagram d;
	int strict = udp_packet_parse(pkt, len, true, &d);
	int lenient = udp_packet_parse(pkt, len, false, &d);
	free(pkt);
	CHECK_INT(strict, ==, -EBADMSG);
	CHECK_INT(lenient, ==, 0);
	CHECK_INT(d.sport, ==, 67);
	CHECK_INT(d.len, ==, 333);
	CHECK(d.src == ip("192.0.2.1") && d.dst == ip("192.0.2.67"));
}

/* Recomputes the IP header checksum after a mutation. */
static void fix_ip_checksum(uint8_t *pkt)
{
	size_t ihl = (size_t)(pkt[0] & 0xf) * 4;
	pkt[10] = pkt[11] = 0;
	uint16_t c = ip_checksum(pkt, ihl);
	pkt[10] = c >> 8;
	pkt[11] = c & 0xff;
}

static void malformed_ip_udp_is_refused(void)
{
	size_t flen = 0;
	unsigned char *orig = test_read_data("dhcp/discover.bin", &flen);
	CHECK(orig && flen == 328);
	static const struct {
		const char *name;
		size_t at, at2;        /* bytes to set (at2 0: none) */
		uint8_t value, value2;
		bool fix_ip_csum;
		size_t len;            /* 0: whole packet */
		int expect;
	} cases[] = {
		{ "untouched", 0, 0, 0x45, 0, true, 0, 0 },
		{ "IPv6 version", 0, 0, 0x65, 0, true, 0, -EBADMSG },
		{ "IHL below 5", 0, 0, 0x44, 0, false, 0, -EBADMSG },
		{ "IHL 15, checksum over 60 bytes", 0, 0, 0x4f, 0, false, 0, -EBADMSG },
		{ "total length past the buffer", 2, 0, 0x02, 0, true, 0, -EBADMSG },
		{ "total length below header", 2, 3, 0, 19, true, 0, -EBADMSG },
		{ "bad IP header checksum", 8, 0, 63, 0, false, 0, -EBADMSG },
		{ "more fragments", 6, 0, 0x20, 0, true, 0, -EBADMSG },
		{ "fragment offset", 7, 0, 0x01, 0, true, 0, -EBADMSG },
		{ "not UDP", 9, 0, 6, 0, true, 0, -EPROTO },
		{ "UDP length past IP length", 24, 0, 0x02, 0, true, 0, -EBADMSG },
		{ "UDP length below header", 24, 25, 0, 7, true, 0, -EBADMSG },
		{ "bad UDP checksum", 300, 0, 0x42, 0, true, 0, -EBADMSG },
		{ "shorter than an IP header", 0, 0, 0x45, 0, true, 19, -EBADMSG },
		{ "IP header only", 0, 0, 0x45, 0, true, 20, -EBADMSG },
		{ "IP and half a UDP header", 2, 3, 0, 24, true, 24, -EBADMSG },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pkt[400];
		memcpy(pkt, orig, flen);
		pkt[cases[i].at] = cases[i].value;
		if (cases[i].at2)
			pkt[cases[i].at2] = cases[i].value2;
		if (cases[i].fix_ip_csum)
			fix_ip_checksum(pkt);
		size_t len = cases[i].len ? cases[i].len : flen;
		struct udp_datagram d;
		int r = udp_packet_parse(pkt, len, true, &d);
		if (r != cases[i].expect) {
			test_record_failure(__FILE__, __LINE__, "%s: got %d, want %d", cases[i].name, r,
					    cases[i].expect);
			break;
		}
	}
	struct udp_datagram d;
	CHECK_INT(udp_packet_parse(orig, 0, true, &d), ==, -EBADMSG);
	free(orig);
}

static void link_padding_after_ip_length_is_ignored(void)
{
	size_t flen = 0;
	unsigned char *orig = test_read_data("dhcp/discover.bin", &flen);
	CHECK(orig);
	uint8_t pkt[400] = { 0 };
	memcpy(pkt, orig, flen);
	free(orig);
	struct udp_datagram d;
	CHECK_INT(udp_packet_parse(pkt, flen + 18, true, &d), ==, 0);
	CHECK_INT(d.len, ==, 300);
}

static void build_refuses_small_buffers(void)
{
	uint8_t payload[10] = { 0 }, out[64];
	struct udp_datagram d = { .payload = payload, .len = sizeof(payload) };
	CHECK_INT(udp_packet_build(&d, out, 37), ==, -ENOBUFS);
	CHECK_INT(udp_packet_build(&d, out, 38), ==, 38);
	d.len = 70000;
	CHECK_INT(udp_packet_build(&d, out, sizeof(out)), ==, -EMSGSIZE);
}

TEST_MAIN("dhcp-packet",
	TEST_CASE(discover_is_byte_exact),
	TEST_CASE(request_is_byte_exact),
	TEST_CASE(built_message_is_padded_to_bootp_minimum),
	TEST_CASE(header_round_trip),
	TEST_CASE(header_parse_refuses_short_and_bootp),
	TEST_CASE(checksum_rfc1071_example),
	TEST_CASE(own_packets_parse_with_checksums),
	TEST_CASE(offer_with_offloaded_checksum),
	TEST_CASE(malformed_ip_udp_is_refused),
	TEST_CASE(link_padding_after_ip_length_is_ignored),
	TEST_CASE(build_refuses_small_buffers))
