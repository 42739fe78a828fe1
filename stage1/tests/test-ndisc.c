/* Router Discovery's codec: our Router Solicitation byte for byte against
 * the capture, dnsmasq's captured Router Advertisement (data/dhcp6/ra.bin:
 * M and O flags, router lifetime, MTU, prefix, RDNSS, DNSSL), and the
 * framing checks of RFC 4861 §6.1.2 from a table of broken RAs. */
#include "test.h"

#include "net/ndisc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

static const uint8_t captured_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

static void rs_matches_capture(void)
{
	size_t len = 0;
	unsigned char *want = test_read_data("dhcp6/rs.bin", &len);
	CHECK(want);
	uint8_t rs[16];
	int n = ndisc_rs_build(captured_mac, rs, sizeof(rs));
	/* The kernel fills in the checksum: compare everything else. */
	CHECK_INT(n, ==, (int)len);
	want[2] = want[3] = 0;
	CHECK_MEM(rs, want, len);
	free(want);
	CHECK_INT(ndisc_rs_build(NULL, rs, sizeof(rs)), ==, 8);
	CHECK_INT(ndisc_rs_build(captured_mac, rs, 8), ==, -ENOBUFS);
}

static void dnsmasq_ra_decodes(void)
{
	size_t len = 0;
	unsigned char *ra_bytes = test_read_data("dhcp6/ra.bin", &len);
	CHECK(ra_bytes);
	struct ndisc_ra ra;
	int r = ndisc_ra_parse(ra_bytes, len, &ra);
	free(ra_bytes);
	CHECK_INT(r, ==, 0);
	CHECK(ra.managed && ra.other);
	CHECK_INT(ra.router_lifetime, ==, 600);
	CHECK_INT(ra.hop_limit, ==, 64);
	CHECK_INT(ra.mtu, ==, 1500);
	CHECK(ra.has_mac);
	CHECK_INT(ra.n_prefixes, ==, 1);
	CHECK_INT(ra.prefixes[0].prefixlen, ==, 64);
	CHECK(ra.prefixes[0].on_link && !ra.prefixes[0].autonomous);
	CHECK_INT(ra.n_dns, ==, 1);
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &ra.dns[0], a, sizeof(a));
	CHECK_STR(a, "2001:db8:1::53");
	CHECK_INT(ra.dns_lifetime, ==, 600);
	CHECK_STR(ra.search, "example6.test");
	CHECK_INT(ra.ignored, ==, 0);
}

struct ra_case {
	const char *name;
	const char *bytes;
	size_t len;
	int ret;
	unsigned ignored;
};

/* 16-byte RA header: type 134, code 0, checksum, hop limit, flags M,
 * lifetime 600, reachable, retrans. */
#define RA_HEAD "\x86\x00\x00\x00\x40\x80\x02\x58\0\0\0\0\0\0\0\0"

static const struct ra_case ra_cases[] = {
	{ "header only", RA_HEAD, 16, 0, 0 },
	{ "too short", RA_HEAD, 15, -EBADMSG, 0 },
	{ "not an RA", "\x85\x00\x00\x00\x40\x80\x02\x58\0\0\0\0\0\0\0\0", 16, -EBADMSG, 0 },
	{ "code not 0", "\x86\x01\x00\x00\x40\x80\x02\x58\0\0\0\0\0\0\0\0", 16, -EBADMSG, 0 },
	{ "zero-length option", RA_HEAD "\x01\x00\0\0\0\0\0\0", 24, -EBADMSG, 0 },
	{ "option past the end", RA_HEAD "\x19\x03\0\0\0\0\x02\x58", 24, -EBADMSG, 0 },
	{ "half an option header", RA_HEAD "\x01", 17, -EBADMSG, 0 },
	{ "mtu below 1280", RA_HEAD "\x05\x01\0\0\0\0\x01\x00", 24, 0, 1 },
	{ "rdnss without address", RA_HEAD "\x19\x01\0\0\0\0\x02\x58", 24, 0, 1 },
	{ "rdnss link-local address", RA_HEAD "\x19\x03\0\0\0\0\x02\x58"
	  "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 40, 0, 1 },
	{ "prefix wrong size", RA_HEAD "\x03\x01\x40\xc0\0\0\0\0", 24, 0, 1 },
	{ "unknown option skipped", RA_HEAD "\x63\x01\0\0\0\0\0\0", 24, 0, 0 },
	{ "dnssl bad label", RA_HEAD "\x1f\x02\0\0\0\0\x02\x58\x09" "ab\0\0\0\0\0", 32, 0, 1 },
};

static void broken_ras(void)
{
	for (size_t i = 0; i < sizeof(ra_cases) / sizeof(ra_cases[0]); i++) {
		const struct ra_case *rc = &ra_cases[i];
		struct ndisc_ra ra;
		int r = ndisc_ra_parse((const uint8_t *)rc->bytes, rc->len, &ra);
		if (r != rc->ret || (r == 0 && ra.ignored != rc->ignored)) {
			test_record_failure(__FILE__, __LINE__, "%s: ret %d ignored %u", rc->name, r,
					    r == 0 ? ra.ignored : 0);
			return;
		}
	}
}

TEST_MAIN("ndisc",
	TEST_CASE(rs_matches_capture),
	TEST_CASE(dnsmasq_ra_decodes),
	TEST_CASE(broken_ras))
