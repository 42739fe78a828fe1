/* DHCP options: every option the lease uses, from dnsmasq's captured replies
 * and from tables of crafted option areas (pad/end, missing end, truncated,
 * overlong, RFC 3396 concatenation, overload 52), classless routes (RFC
 * 3442) and the limits on what the network sends. */
#include "test.h"

#include "net/dhcp_option.h"
#include "net/dhcp_packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

static uint32_t ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static const char *ipstr(uint32_t a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int n;
	char *b = buf[n++ % 4];
	inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
	return b;
}

/* A DHCP message: header with cookie, then `opts`; `file`/`sname` fill those
 * header fields (for overload). */
struct msg {
	uint8_t buf[1024];
	size_t len;
};

static void make_msg(struct msg *m, const uint8_t *opts, size_t n, const uint8_t *file,
		     size_t file_n, const uint8_t *sname, size_t sname_n)
{
	struct dhcp_header h = { .op = BOOTREPLY, .htype = 1, .hlen = 6, .xid = 1,
				 .yiaddr = ip("192.0.2.67") };
	memset(m->buf, 0, sizeof(m->buf));
	dhcp_header_write(&h, m->buf, sizeof(m->buf));
	if (file)
		memcpy(m->buf + DHCP_FILE_OFFSET, file, file_n);
	if (sname)
		memcpy(m->buf + DHCP_SNAME_OFFSET, sname, sname_n);
	memcpy(m->buf + DHCP_OPTIONS_OFFSET, opts, n);
	m->len = DHCP_OPTIONS_OFFSET + n;
}

#define MSG(m, ...) do { \
	static const uint8_t _o[] = { __VA_ARGS__ }; \
	make_msg((m), _o, sizeof(_o), NULL, 0, NULL, 0); \
} while (0)

/* The UDP payload of a captured packet. */
static unsigned char *fixture_payload(const char *name, const uint8_t **msg, size_t *len)
{
	size_t flen = 0;
	unsigned char *pkt = test_read_data(name, &flen);
	if (!pkt)
		return NULL;
	struct udp_datagram d;
	if (udp_packet_parse(pkt, flen, false, &d) < 0) {
		free(pkt);
		return NULL;
	}
	*msg = d.payload;
	*len = d.len;
	return pkt;
}

static void dnsmasq_ack_gives_the_whole_lease(void)
{
	const uint8_t *msg;
	size_t len;
	unsigned char *pkt = fixture_payload("dhcp/ack.bin", &msg, &len);
	CHECK(pkt);
	struct dhcp_header h;
	struct dhcp_options o;
	struct dhcp_lease l;
	int rh = dhcp_header_parse(msg, len, &h);
	int ro = dhcp_options_parse(msg, len, &o);
	int rl = dhcp_lease_from_options(&o, h.yiaddr, &l);
	free(pkt);
	CHECK_INT(rh, ==, 0);
	CHECK_INT(ro, ==, 0);
	CHECK_INT(rl, ==, 0);
	CHECK_INT(l.message_type, ==, DHCP_ACK);
	CHECK_STR(ipstr(l.address), "192.0.2.67");
	CHECK_INT(l.prefixlen, ==, 24);
	CHECK(!l.netmask_from_class);
	CHECK_STR(ipstr(l.broadcast), "192.0.2.255");
	CHECK_STR(ipstr(l.server_id), "192.0.2.1");
	CHECK_INT(l.n_routers, ==, 1);
	CHECK_STR(ipstr(l.routers[0]), "192.0.2.2");
	CHECK_INT(l.n_dns, ==, 1);
	CHECK_STR(ipstr(l.dns[0]), "192.0.2.53");
	CHECK_STR(l.domain, "example.test");
	CHECK_INT(l.mtu, ==, 9001); /* what EC2 hands out */
	CHECK_INT(l.lease_time, ==, 3600);
	/* Option 121 is present: its routes replace the router option. */
	CHECK(l.has_classless_routes);
	CHECK_INT(l.n_routes, ==, 3);
	CHECK_STR(ipstr(l.routes[0].dst), "198.51.100.0");
	CHECK_INT(l.routes[0].prefixlen, ==, 24);
	CHECK_STR(ipstr(l.routes[0].gateway), "192.0.2.254");
	CHECK_STR(ipstr(l.routes[1].dst), "203.0.113.0");
	CHECK_STR(ipstr(l.routes[1].gateway), "198.18.0.1");
	CHECK_INT(l.routes[2].prefixlen, ==, 0);
	CHECK_STR(ipstr(l.routes[2].gateway), "192.0.2.1");
	CHECK_INT(l.ignored, ==, 0);
	/* Options the lease does not use are still there (T1, T2). */
	size_t n;
	CHECK(dhcp_options_get(&o, 58, &n) && n == 4);
}

static void dnsmasq_nak_has_type_and_message(void)
{
	const uint8_t *msg;
	size_t len;
	unsigned char *pkt = fixture_payload("dhcp/nak.bin", &msg, &len);
	CHECK(pkt);
	struct dhcp_options o;
	struct dhcp_lease l;
	int ro = dhcp_options_parse(msg, len, &o);
	int rl = dhcp_lease_from_options(&o, 0, &l);
	size_t n = 0;
	const uint8_t *text = dhcp_options_get(&o, DHCP_OPT_MESSAGE, &n);
	char copy[32] = "";
	if (text && n < sizeof(copy))
		memcpy(copy, text, n);
	free(pkt);
	CHECK_INT(ro, ==, 0);
	CHECK_INT(rl, ==, 0);
	CHECK_INT(l.message_type, ==, DHCP_NAK);
	CHECK_STR(ipstr(l.server_id), "192.0.2.1");
	CHECK_STR(copy, "wrong address");
}

/* The option area's structure. */
static void option_area_table(void)
{
	static const struct {
		const char *name;
		uint8_t opts[40];
		size_t n;
		int expect;
		int code;          /* an option to look up afterwards, -1: none */
		int code_len;      /* its expected length, -1: absent */
	} cases[] = {
		{ "pad then end", { 0, 0, 53, 1, 2, 0, 255 }, 7, 0, 53, 1 },
		{ "bytes after end are ignored", { 53, 1, 2, 255, 3, 200 }, 6, 0, 3, -1 },
		{ "missing end is tolerated", { 53, 1, 2, 26, 2, 0x23, 0x29 }, 7, 0, 26, 2 },
		{ "zero-length option", { 53, 1, 2, 15, 0, 255 }, 6, 0, 15, 0 },
		{ "code without length byte", { 53, 1, 2, 6 }, 4, -EBADMSG, -1, -1 },
		{ "value runs past the end", { 53, 1, 2, 6, 8, 1, 2, 3, 4 }, 9, -EBADMSG, -1, -1 },
		{ "length 255 with 3 bytes", { 53, 1, 2, 121, 255, 0, 1, 2 }, 8, -EBADMSG, -1, -1 },
		{ "only pad", { 0, 0, 0, 0 }, 4, 0, 53, -1 },
		{ "empty area", { 0 }, 0, 0, 53, -1 },
		{ "split option is concatenated (RFC 3396)",
		  { 53, 1, 2, 6, 4, 192, 0, 2, 53, 1, 4, 255, 0, 0, 0, 6, 4, 192, 0, 2, 54, 255 },
		  22, 0, 6, 8 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg m;
		make_msg(&m, cases[i].opts, cases[i].n, NULL, 0, NULL, 0);
		struct dhcp_options o;
		int r = dhcp_options_parse(m.buf, m.len, &o);
		if (r != cases[i].expect) {
			test_record_failure(__FILE__, __LINE__, "%s: got %d, want %d", cases[i].name, r,
					    cases[i].expect);
			return;
		}
		if (r < 0 || cases[i].code < 0)
			continue;
		size_t n = 0;
		const uint8_t *v = dhcp_options_get(&o, (uint8_t)cases[i].code, &n);
		int got = v ? (int)n : -1;
		if (got != cases[i].code_len) {
			test_record_failure(__FILE__, __LINE__, "%s: option %d has length %d, want %d",
					    cases[i].name, cases[i].code, got, cases[i].code_len);
			return;
		}
	}
}

static void split_dns_option_gives_both_servers(void)
{
	struct msg m;
	MSG(&m, 53, 1, 5, 6, 4, 192, 0, 2, 53, 3, 4, 192, 0, 2, 1, 6, 4, 192, 0, 2, 54, 255);
	struct dhcp_options o;
	struct dhcp_lease l;
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(dhcp_lease_from_options(&o, ip("192.0.2.67"), &l), ==, 0);
	CHECK_INT(l.n_dns, ==, 2);
	CHECK_STR(ipstr(l.dns[0]), "192.0.2.53");
	CHECK_STR(ipstr(l.dns[1]), "192.0.2.54");
}

static void overload_file_and_sname(void)
{
	static const uint8_t opts[] = { 53, 1, 5, 52, 1, 3, 6, 4, 192, 0, 2, 53, 255 };
	static const uint8_t file[] = { 3, 4, 192, 0, 2, 1, 6, 4, 192, 0, 2, 54, 255 };
	static const uint8_t sname[] = { 0, 26, 2, 0x23, 0x29, 255 };
	struct msg m;
	make_msg(&m, opts, sizeof(opts), file, sizeof(file), sname, sizeof(sname));
	struct dhcp_options o;
	struct dhcp_lease l;
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(o.overload, ==, 3);
	CHECK_INT(dhcp_lease_from_options(&o, ip("192.0.2.67"), &l), ==, 0);
	CHECK_INT(l.n_routers, ==, 1);
	CHECK_INT(l.mtu, ==, 9001);
	/* Options area first, then file (RFC 2131 §4.1). */
	CHECK_INT(l.n_dns, ==, 2);
	CHECK_STR(ipstr(l.dns[0]), "192.0.2.53");
	CHECK_STR(ipstr(l.dns[1]), "192.0.2.54");
}

static void overload_edge_cases(void)
{
	struct msg m;
	struct dhcp_options o;
	/* Only 'file' overloaded: options in 'sname' are a server name. */
	static const uint8_t opts1[] = { 53, 1, 5, 52, 1, 1, 255 };
	static const uint8_t sname1[] = { 26, 2, 0x23, 0x29, 255 };
	make_msg(&m, opts1, sizeof(opts1), NULL, 0, sname1, sizeof(sname1));
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK(!dhcp_options_get(&o, DHCP_OPT_MTU, NULL));
	/* An invalid overload value is ignored. */
	static const uint8_t opts2[] = { 53, 1, 5, 52, 1, 4, 255 };
	static const uint8_t file2[] = { 26, 2, 0x23, 0x29, 255 };
	make_msg(&m, opts2, sizeof(opts2), file2, sizeof(file2), NULL, 0);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(o.overload, ==, 0);
	CHECK(!dhcp_options_get(&o, DHCP_OPT_MTU, NULL));
	/* A truncated option inside 'file' makes the message malformed. */
	static const uint8_t opts3[] = { 53, 1, 5, 52, 1, 1, 255 };
	uint8_t file3[DHCP_FILE_LEN];
	memset(file3, 0, sizeof(file3));
	file3[DHCP_FILE_LEN - 2] = 6;
	file3[DHCP_FILE_LEN - 1] = 4;
	make_msg(&m, opts3, sizeof(opts3), file3, sizeof(file3), NULL, 0);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, -EBADMSG);
	/* 'file' without an end option ends with the field. */
	file3[DHCP_FILE_LEN - 2] = 0;
	file3[DHCP_FILE_LEN - 1] = 0;
	file3[0] = 26; file3[1] = 2; file3[2] = 0x05; file3[3] = 0xdc;
	make_msg(&m, opts3, sizeof(opts3), file3, sizeof(file3), NULL, 0);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK(dhcp_options_get(&o, DHCP_OPT_MTU, NULL));
	/* Option 52 inside 'file' does not chain on to 'sname'. */
	static const uint8_t opts4[] = { 53, 1, 5, 52, 1, 1, 255 };
	static const uint8_t file4[] = { 52, 1, 3, 255 };
	make_msg(&m, opts4, sizeof(opts4), file4, sizeof(file4), sname1, sizeof(sname1));
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(o.overload, ==, 1);
	CHECK(!dhcp_options_get(&o, DHCP_OPT_MTU, NULL));
}

static void short_message_is_refused(void)
{
	uint8_t buf[DHCP_OPTIONS_OFFSET - 1] = { 0 };
	struct dhcp_options o;
	CHECK_INT(dhcp_options_parse(buf, sizeof(buf), &o), ==, -EBADMSG);
}

/* Options that are present but unusable are ignored one by one. */
static void lease_option_table(void)
{
	static const struct {
		const char *name;
		uint8_t opts[48];
		size_t n;
		int expect;
		unsigned ignored;
		int prefixlen, mtu, n_routers, n_dns, n_routes;
		const char *domain;
	} cases[] = {
		{ "no message type", { 1, 4, 255, 255, 255, 0 }, 6, -EBADMSG, 0, 0, 0, 0, 0, 0, "" },
		{ "message type of length 2", { 53, 2, 5, 5 }, 4, -EBADMSG, 0, 0, 0, 0, 0, 0, "" },
		{ "no netmask: class C default", { 53, 1, 5 }, 3, 0, 0, 24, 0, 0, 0, 0, "" },
		{ "non-contiguous netmask", { 53, 1, 5, 1, 4, 255, 0, 255, 0 }, 9, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "netmask of 3 bytes", { 53, 1, 5, 1, 3, 255, 255, 0 }, 8, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "/32 netmask", { 53, 1, 5, 1, 4, 255, 255, 255, 255 }, 9, 0, 0, 32, 0, 0, 0, 0, "" },
		{ "EC2 MTU 9001", { 53, 1, 5, 26, 2, 0x23, 0x29 }, 7, 0, 0, 24, 9001, 0, 0, 0, "" },
		{ "MTU below 68", { 53, 1, 5, 26, 2, 0, 67 }, 7, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "MTU of 3 bytes", { 53, 1, 5, 26, 3, 0x23, 0x29, 0 }, 8, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "router of 5 bytes", { 53, 1, 5, 3, 5, 192, 0, 2, 1, 0 }, 10, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "router 0.0.0.0 skipped", { 53, 1, 5, 3, 8, 0, 0, 0, 0, 192, 0, 2, 1 }, 13, 0, 1, 24,
		  0, 1, 0, 1, "" },
		{ "router only: default route", { 53, 1, 5, 3, 4, 192, 0, 2, 1 }, 9, 0, 0, 24, 0, 1, 0, 1, "" },
		{ "five routers, four kept", { 53, 1, 5, 3, 20, 10, 0, 0, 1, 10, 0, 0, 2, 10, 0, 0, 3,
		  10, 0, 0, 4, 10, 0, 0, 5 }, 25, 0, 1, 24, 0, 4, 0, 1, "" },
		{ "DNS multicast skipped", { 53, 1, 5, 6, 8, 224, 0, 0, 1, 192, 0, 2, 53 }, 13, 0, 1, 24,
		  0, 0, 1, 0, "" },
		{ "domain with NUL terminator", { 53, 1, 5, 15, 5, 'a', '.', 'b', 'c', 0 }, 10, 0, 0, 24,
		  0, 0, 0, 0, "a.bc" },
		{ "domain with a newline refused", { 53, 1, 5, 15, 8, 'a', '\n', 'n', 'a', 'm', 'e', 's',
		  ' ' }, 13, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "121 wins over 3", { 53, 1, 5, 3, 4, 192, 0, 2, 2, 121, 5, 0, 192, 0, 2, 1 }, 16, 0, 0,
		  24, 0, 1, 0, 1, "" },
		{ "malformed 121 falls back to 3", { 53, 1, 5, 3, 4, 192, 0, 2, 2, 121, 3, 33, 1, 2 },
		  14, 0, 1, 24, 0, 1, 0, 1, "" },
		{ "lease time of 3 bytes", { 53, 1, 5, 51, 3, 0, 0, 1 }, 8, 0, 1, 24, 0, 0, 0, 0, "" },
		{ "server id 0.0.0.0", { 53, 1, 5, 54, 4, 0, 0, 0, 0 }, 9, 0, 1, 24, 0, 0, 0, 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg m;
		make_msg(&m, cases[i].opts, cases[i].n, NULL, 0, NULL, 0);
		struct dhcp_options o;
		struct dhcp_lease l;
		if (dhcp_options_parse(m.buf, m.len, &o) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s: options did not parse", cases[i].name);
			return;
		}
		int r = dhcp_lease_from_options(&o, ip("192.0.2.67"), &l);
		bool ok = r == cases[i].expect;
		if (ok && r == 0)
			ok = l.ignored == cases[i].ignored && l.prefixlen == cases[i].prefixlen &&
			     l.mtu == cases[i].mtu && (int)l.n_routers == cases[i].n_routers &&
			     (int)l.n_dns == cases[i].n_dns && (int)l.n_routes == cases[i].n_routes &&
			     strcmp(l.domain, cases[i].domain) == 0;
		if (!ok) {
			test_record_failure(__FILE__, __LINE__,
					    "%s: r=%d ignored=%u prefix=%u mtu=%u routers=%zu dns=%zu "
					    "routes=%zu domain='%s'",
					    cases[i].name, r, l.ignored, l.prefixlen, l.mtu, l.n_routers,
					    l.n_dns, l.n_routes, l.domain);
			return;
		}
	}
}

static void precedence_and_defaults_in_detail(void)
{
	struct msg m;
	struct dhcp_options o;
	struct dhcp_lease l;
	/* 121 names a default via .1 and 3 says .2: the default goes via .1. */
	MSG(&m, 53, 1, 5, 3, 4, 192, 0, 2, 2, 121, 5, 0, 192, 0, 2, 1, 51, 4, 0xff, 0xff, 0xff, 0xff);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(dhcp_lease_from_options(&o, ip("10.1.2.3"), &l), ==, 0);
	CHECK(l.has_classless_routes);
	CHECK_STR(ipstr(l.routes[0].gateway), "192.0.2.1");
	CHECK_STR(ipstr(l.routers[0]), "192.0.2.2"); /* still reported */
	CHECK_INT(l.lease_time, ==, DHCP_LEASE_INFINITE);
	/* Without a netmask a class A address gets /8. */
	CHECK_INT(l.prefixlen, ==, 8);
	CHECK(l.netmask_from_class);
	CHECK_STR(ipstr(l.broadcast), "10.255.255.255");
	/* An explicit broadcast option wins; /32 has none. */
	MSG(&m, 53, 1, 5, 1, 4, 255, 255, 255, 255, 28, 4, 1, 2, 3, 4);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(dhcp_lease_from_options(&o, ip("10.1.2.3"), &l), ==, 0);
	CHECK_INT(l.broadcast, ==, 0);
	MSG(&m, 53, 1, 5, 1, 4, 255, 255, 0, 0, 28, 4, 10, 1, 255, 254);
	CHECK_INT(dhcp_options_parse(m.buf, m.len, &o), ==, 0);
	CHECK_INT(dhcp_lease_from_options(&o, ip("10.1.2.3"), &l), ==, 0);
	CHECK_STR(ipstr(l.broadcast), "10.1.255.254");
}

/* RFC 3442 §3 examples and edge cases. */
static void classless_route_table(void)
{
	static const struct {
		const char *name;
		uint8_t data[24];
		size_t n;
		int expect;
		const char *dst;
		int prefixlen;
		const char *gw;
	} cases[] = {
		{ "default", { 0, 192, 0, 2, 1 }, 5, 0, "0.0.0.0", 0, "192.0.2.1" },
		{ "10/8", { 8, 10, 192, 0, 2, 1 }, 6, 0, "10.0.0.0", 8, "192.0.2.1" },
		{ "10.17/16", { 16, 10, 17, 192, 0, 2, 1 }, 7, 0, "10.17.0.0", 16, "192.0.2.1" },
		{ "10.27.129/24", { 24, 10, 27, 129, 192, 0, 2, 1 }, 8, 0, "10.27.129.0", 24, "192.0.2.1" },
		{ "10.229.0.128/25", { 25, 10, 229, 0, 128, 192, 0, 2, 1 }, 9, 0, "10.229.0.128", 25,
		  "192.0.2.1" },
		{ "10.198.122.47/32", { 32, 10, 198, 122, 47, 192, 0, 2, 1 }, 9, 0, "10.198.122.47", 32,
		  "192.0.2.1" },
		{ "host bits cleared", { 7, 0xff, 192, 0, 2, 1 }, 6, 0, "254.0.0.0", 7, "192.0.2.1" },
		{ "on-link (router 0)", { 24, 198, 51, 100, 0, 0, 0, 0 }, 8, 0, "198.51.100.0", 24, "0.0.0.0" },
		{ "width 33", { 33, 1, 2, 3, 4, 5, 192, 0, 2, 1 }, 10, -EBADMSG, NULL, 0, NULL },
		{ "router cut short", { 8, 10, 192, 0, 2 }, 5, -EBADMSG, NULL, 0, NULL },
		{ "destination cut short", { 24, 10, 27 }, 3, -EBADMSG, NULL, 0, NULL },
		{ "only a width", { 0 }, 1, -EBADMSG, NULL, 0, NULL },
		{ "empty", { 0 }, 0, 0, NULL, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dhcp_route r[4];
		size_t n = 99;
		unsigned dropped = 0;
		int ret = dhcp_classless_routes_decode(cases[i].data, cases[i].n, r, 4, &n, &dropped);
		bool ok = ret == cases[i].expect;
		if (ok && ret == 0 && cases[i].dst)
			ok = n == 1 && strcmp(ipstr(r[0].dst), cases[i].dst) == 0 &&
			     r[0].prefixlen == cases[i].prefixlen && strcmp(ipstr(r[0].gateway), cases[i].gw) == 0;
		if (ok && ret == 0 && !cases[i].dst)
			ok = n == 0;
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "%s: ret %d n %zu", cases[i].name, ret, n);
			return;
		}
	}
}

static void classless_routes_over_the_limit_are_counted(void)
{
	uint8_t data[5 * 40];
	for (size_t i = 0; i < 40; i++) {
		uint8_t *e = data + 5 * i;
		e[0] = 0; e[1] = 192; e[2] = 0; e[3] = 2; e[4] = (uint8_t)(i + 1);
	}
	struct dhcp_route r[DHCP_MAX_ROUTES];
	size_t n = 0;
	unsigned dropped = 0;
	CHECK_INT(dhcp_classless_routes_decode(data, sizeof(data), r, DHCP_MAX_ROUTES, &n, &dropped), ==, 0);
	CHECK_INT(n, ==, DHCP_MAX_ROUTES);
	CHECK_INT(dropped, ==, 40 - DHCP_MAX_ROUTES);
}

static void netmask_prefixlen_table(void)
{
	static const struct { const char *mask; int want; } cases[] = {
		{ "0.0.0.0", 0 }, { "128.0.0.0", 1 }, { "255.0.0.0", 8 }, { "255.255.255.0", 24 },
		{ "255.255.255.254", 31 }, { "255.255.255.255", 32 }, { "255.0.255.0", -EINVAL },
		{ "0.255.255.255", -EINVAL }, { "255.255.255.253", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (dhcp_netmask_prefixlen(ip(cases[i].mask)) != cases[i].want) {
			test_record_failure(__FILE__, __LINE__, "%s", cases[i].mask);
			return;
		}
}

static void unicast_addresses(void)
{
	CHECK(dhcp_address_is_unicast(ip("192.0.2.1")));
	CHECK(dhcp_address_is_unicast(ip("169.254.10.15")));
	CHECK(!dhcp_address_is_unicast(ip("0.0.0.0")));
	CHECK(!dhcp_address_is_unicast(ip("0.1.2.3")));
	CHECK(!dhcp_address_is_unicast(ip("127.0.0.1")));
	CHECK(!dhcp_address_is_unicast(ip("224.0.0.1")));
	CHECK(!dhcp_address_is_unicast(ip("255.255.255.255")));
}

static void writer_limits(void)
{
	uint8_t buf[8];
	struct dhcp_option_writer w = { .buf = buf, .cap = sizeof(buf) };
	uint8_t v[300] = { 0 };
	CHECK_INT(dhcp_option_append(&w, 53, 1, v), ==, 0);
	CHECK_INT(w.len, ==, 3);
	CHECK_INT(dhcp_option_append(&w, 6, 4, v), ==, -ENOBUFS);
	CHECK_INT(dhcp_option_append(&w, 6, 3, v), ==, 0);
	CHECK_INT(dhcp_option_append_end(&w), ==, -ENOBUFS);
	w.len = 0;
	CHECK_INT(dhcp_option_append(&w, 0, 1, v), ==, -EINVAL);
	CHECK_INT(dhcp_option_append(&w, 255, 1, v), ==, -EINVAL);
	CHECK_INT(dhcp_option_append(&w, 3, 256, v), ==, -EINVAL);
	CHECK_INT(dhcp_option_append_end(&w), ==, 0);
	CHECK_INT(buf[0], ==, 255);
}

static void message_type_names(void)
{
	CHECK_STR(dhcp_message_type_name(DHCP_NAK), "DHCPNAK");
	CHECK_STR(dhcp_message_type_name(0), "unknown DHCP message");
	CHECK_STR(dhcp_message_type_name(200), "unknown DHCP message");
}

/* The crafted bad inputs shared with the fuzzer's corpus. */
static void crafted_packets(void)
{
	const uint8_t *msg;
	size_t len;
	struct dhcp_options o;
	struct dhcp_lease l;
	unsigned char *pkt = fixture_payload("dhcp/overload.bin", &msg, &len);
	CHECK(pkt);
	int ro = dhcp_options_parse(msg, len, &o);
	int rl = ro ? ro : dhcp_lease_from_options(&o, ip("192.0.2.67"), &l);
	free(pkt);
	CHECK_INT(rl, ==, 0);
	CHECK_INT(o.overload, ==, 3);
	CHECK(l.prefixlen == 24 && l.mtu == 9001 && l.n_dns == 1 && l.lease_time == 3600);

	pkt = fixture_payload("dhcp/bad-option-length.bin", &msg, &len);
	CHECK(pkt);
	ro = dhcp_options_parse(msg, len, &o);
	free(pkt);
	CHECK_INT(ro, ==, -EBADMSG);

	pkt = fixture_payload("dhcp/split-and-bad-route.bin", &msg, &len);
	CHECK(pkt);
	ro = dhcp_options_parse(msg, len, &o);
	rl = ro ? ro : dhcp_lease_from_options(&o, ip("192.0.2.67"), &l);
	free(pkt);
	CHECK_INT(rl, ==, 0);
	CHECK_INT(l.n_dns, ==, 2);
	CHECK(!l.has_classless_routes);
	CHECK_INT(l.ignored, ==, 1);
}

TEST_MAIN("dhcp-option",
	TEST_CASE(crafted_packets),
	TEST_CASE(dnsmasq_ack_gives_the_whole_lease),
	TEST_CASE(dnsmasq_nak_has_type_and_message),
	TEST_CASE(option_area_table),
	TEST_CASE(split_dns_option_gives_both_servers),
	TEST_CASE(overload_file_and_sname),
	TEST_CASE(overload_edge_cases),
	TEST_CASE(short_message_is_refused),
	TEST_CASE(lease_option_table),
	TEST_CASE(precedence_and_defaults_in_detail),
	TEST_CASE(classless_route_table),
	TEST_CASE(classless_routes_over_the_limit_are_counted),
	TEST_CASE(netmask_prefixlen_table),
	TEST_CASE(unicast_addresses),
	TEST_CASE(writer_limits),
	TEST_CASE(message_type_names))
