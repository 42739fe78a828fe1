/* The DHCPv6 client and its message codec, driven with a fake clock, a fake
 * transport that records what is sent, scripted random numbers, and
 * dnsmasq's captured messages (data/dhcp6/, see capture.sh there): the full
 * exchange byte for byte, Advertise collection and preference 255, RFC 8415
 * retransmission, Request retries, NoAddrsAvail (dropped in an Advertise,
 * a restart in a Reply), Rapid Commit, the budget message, and every drop
 * reason from a table. */
#include "test.h"

#include "net/dhcp6_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

/* From the capture (exchange.txt). */
#define SOLICIT_XID 0x4ef3e4u
#define REQUEST_XID 0xbad590u
static const uint8_t captured_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

struct fake {
	uint8_t sent[24][256];
	size_t sent_len[24];
	uint64_t sent_at[24];
	uint64_t now;
	size_t n_sent;
	int send_error;
	uint32_t randoms[32];
	size_t n_randoms, next_random;
};

static int fake_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct fake *f = ctx;
	if (f->send_error)
		return f->send_error;
	if (f->n_sent < 24 && len <= sizeof(f->sent[0])) {
		memcpy(f->sent[f->n_sent], msg, len);
		f->sent_len[f->n_sent] = len;
		f->sent_at[f->n_sent] = f->now;
	}
	f->n_sent++;
	return 0;
}

static uint32_t fake_random(void *ctx)
{
	struct fake *f = ctx;
	return f->next_random < f->n_randoms ? f->randoms[f->next_random++] : 1000;
}

/* Randoms: the Solicit xid, then RAND for the first RT (0 → +0.01 %), the
 * Request xid, then RAND = 0 (1000 % 2001 - 1000) for everything else. */
static void setup(struct dhcp6_client *c, struct fake *f, uint64_t budget_ms, bool rapid_commit)
{
	memset(f, 0, sizeof(*f));
	f->randoms[0] = SOLICIT_XID;
	f->randoms[1] = 0;
	f->randoms[2] = REQUEST_XID;
	for (size_t i = 3; i < 32; i++)
		f->randoms[i] = 1000;
	f->n_randoms = 32;
	struct dhcp6_client_config cfg;
	dhcp6_client_config_defaults(&cfg);
	cfg.ifname = "test0";
	memcpy(cfg.mac, captured_mac, 6);
	cfg.budget_ms = budget_ms;
	cfg.rapid_commit = rapid_commit;
	struct dhcp6_client_ops ops = { .send = fake_send, .random = fake_random, .ctx = f };
	dhcp6_client_init(c, &cfg, &ops);
}

struct msg {
	uint8_t b[1500];
	size_t len;
};

static bool load(const char *name, struct msg *out)
{
	size_t len = 0;
	unsigned char *data = test_read_data(name, &len);
	if (!data || len > sizeof(out->b)) {
		free(data);
		return false;
	}
	memcpy(out->b, data, len);
	out->len = len;
	free(data);
	return true;
}

/* Offset of the top-level option `code` in a DHCPv6 message, or 0. */
static size_t find_option(const struct msg *m, uint16_t code)
{
	for (size_t off = 4; off + 4 <= m->len;) {
		uint16_t c = (uint16_t)(m->b[off] << 8 | m->b[off + 1]);
		size_t l = (size_t)(m->b[off + 2] << 8 | m->b[off + 3]);
		if (c == code)
			return off;
		off += 4 + l;
	}
	return 0;
}

static void remove_option(struct msg *m, uint16_t code)
{
	size_t off = find_option(m, code);
	if (!off)
		return;
	size_t l = 4 + (size_t)(m->b[off + 2] << 8 | m->b[off + 3]);
	memmove(m->b + off, m->b + off + l, m->len - off - l);
	m->len -= l;
}

static void append_option(struct msg *m, uint16_t code, const void *data, size_t len)
{
	m->b[m->len++] = (uint8_t)(code >> 8);
	m->b[m->len++] = (uint8_t)code;
	m->b[m->len++] = (uint8_t)(len >> 8);
	m->b[m->len++] = (uint8_t)len;
	if (len)
		memcpy(m->b + m->len, data, len);
	m->len += len;
}

static void set_xid(struct msg *m, uint32_t xid)
{
	m->b[1] = (uint8_t)(xid >> 16);
	m->b[2] = (uint8_t)(xid >> 8);
	m->b[3] = (uint8_t)xid;
}

/* dnsmasq's Advertise with its IA_NA replaced by one holding only a
 * NoAddrsAvail status (what a server with an empty pool sends). */
static void make_noaddrs(struct msg *m, uint8_t type, uint32_t xid)
{
	CHECK(load("dhcp6/advertise.bin", m));
	m->b[0] = type;
	set_xid(m, xid);
	remove_option(m, DHCP6_OPT_IA_NA);
	remove_option(m, DHCP6_OPT_STATUS_CODE);
	uint8_t ia[12 + 4 + 2 + 12] = { 0x5e, 0x10, 0x00, 0x01 };
	ia[12] = 0;
	ia[13] = DHCP6_OPT_STATUS_CODE;
	ia[15] = 2 + 12;
	ia[17] = DHCP6_STATUS_NO_ADDRS_AVAIL;
	memcpy(ia + 18, "pool is dry!", 12);
	append_option(m, DHCP6_OPT_IA_NA, ia, sizeof(ia));
}

static void full_exchange_with_dnsmasq_messages(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg solicit, advertise, request, reply;
	CHECK(load("dhcp6/solicit.bin", &solicit) && load("dhcp6/advertise.bin", &advertise));
	CHECK(load("dhcp6/request.bin", &request) && load("dhcp6/reply.bin", &reply));
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP6_STATE_SOLICITING);
	CHECK_INT(f.n_sent, ==, 1);
	CHECK_INT(f.sent_len[0], ==, solicit.len);
	CHECK_MEM(f.sent[0], solicit.b, solicit.len);

	/* §18.2.1: the Advertise is kept until the first RT ends. */
	CHECK_INT(dhcp6_client_handle_message(&c, advertise.b, advertise.len, 4, &err), ==,
		  DHCP6_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP6_STATE_SOLICITING);
	CHECK_INT(f.n_sent, ==, 1);
	CHECK_INT(dhcp6_client_next_timeout(&c), ==, 1001);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP6_STATE_REQUESTING);
	CHECK_INT(f.n_sent, ==, 2);
	CHECK_INT(f.sent_len[1], ==, request.len);
	CHECK_MEM(f.sent[1], request.b, request.len);

	CHECK_INT(dhcp6_client_handle_message(&c, reply.b, reply.len, 1003, &err), ==,
		  DHCP6_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP6_STATE_BOUND);
	const struct dhcp6_lease *l = dhcp6_client_lease(&c);
	CHECK(l);
	char a[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &l->address, a, sizeof(a));
	CHECK_STR(a, "2001:db8:1::1b6");
	CHECK_INT(l->preferred_lft, ==, 600);
	CHECK_INT(l->valid_lft, ==, 600);
	CHECK_INT(l->t1, ==, 300);
	CHECK_INT(l->t2, ==, 525);
	CHECK_INT(l->n_dns, ==, 1);
	inet_ntop(AF_INET6, &l->dns[0], a, sizeof(a));
	CHECK_STR(a, "2001:db8:1::53");
	CHECK_STR(l->search, "example6.test");
	CHECK(!l->rapid_commit);
	CHECK_INT(dhcp6_client_next_timeout(&c), ==, DHCP6_NO_TIMEOUT);
	CHECK_INT(dhcp6_client_handle_message(&c, reply.b, reply.len, 1010, &err), ==, DHCP6_VERDICT_DROP);
	CHECK_INT(f.n_sent, ==, 2);
}

static void preference_255_requests_at_once(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg adv;
	CHECK(load("dhcp6/advertise.bin", &adv));
	size_t off = find_option(&adv, DHCP6_OPT_PREFERENCE);
	CHECK(off);
	adv.b[off + 4] = 255;
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 3, &err), ==, DHCP6_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP6_STATE_REQUESTING);
	CHECK_INT(f.n_sent, ==, 2);
	CHECK_INT(f.sent[1][0], ==, DHCP6_REQUEST);
}

/* After the first RT, the first Advertise ends the Solicit at once. */
static void late_advertise_is_taken_at_once(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg adv;
	CHECK(load("dhcp6/advertise.bin", &adv));
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0); /* second Solicit */
	CHECK_INT(f.n_sent, ==, 2);
	CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 1500, &err), ==, DHCP6_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP6_STATE_REQUESTING);
	CHECK_INT(f.n_sent, ==, 3);
}

/* RFC 8415 §15 with RAND = 0: RT 1 s (+1 ms, strictly above IRT), then
 * doubling, capped at SOL_MAX_RT; elapsed-time counts centiseconds. */
static void solicit_backoff_doubles_and_counts_elapsed_time(void)
{
	struct dhcp6_client c;
	struct fake f;
	setup(&c, &f, 0, false);
	f.randoms[2] = 1000; /* no Request here: RAND = 0 throughout */
	c.cfg.sol_mrt_ms = 8000;
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	static const uint64_t want[] = { 0, 1001, 3003, 7007, 15007, 23007, 31007 };
	for (size_t i = 1; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t t = dhcp6_client_next_timeout(&c);
		CHECK_INT(t, ==, want[i]);
		f.now = t;
		CHECK_INT(dhcp6_client_handle_timeout(&c, t, &err), ==, 0);
	}
	CHECK_INT(f.n_sent, ==, 7);
	for (size_t i = 0; i < 7; i++)
		CHECK_INT(f.sent_at[i], ==, want[i]);
	/* Elapsed Time of the last Solicit: 31007 ms → 3100 cs. */
	struct msg last = { .len = f.sent_len[6] };
	memcpy(last.b, f.sent[6], last.len);
	size_t off = find_option(&last, DHCP6_OPT_ELAPSED_TIME);
	CHECK(off);
	CHECK_INT(last.b[off + 4] << 8 | last.b[off + 5], ==, 3100);
}

static void jitter_stays_within_ten_percent(void)
{
	for (uint32_t seed = 0; seed < 200; seed++) {
		struct dhcp6_client c;
		struct fake f;
		setup(&c, &f, 0, false);
		for (size_t i = 1; i < 32; i++)
			f.randoms[i] = seed * 7919u + (uint32_t)i * 104729u;
		struct ip_error err = { 0 };
		CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
		uint64_t t = dhcp6_client_next_timeout(&c);
		CHECK(t > 1000 && t <= 1100); /* first RT strictly above IRT */
		CHECK_INT(dhcp6_client_handle_timeout(&c, t, &err), ==, 0);
		uint64_t t2 = dhcp6_client_next_timeout(&c) - t;
		CHECK(t2 >= (uint64_t)(2 * (t - 0) - (t / 10) - 1) && t2 <= 2 * t + t / 10 + 1);
	}
}

static void unanswered_requests_solicit_again(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg adv;
	CHECK(load("dhcp6/advertise.bin", &adv));
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 5, &err), ==, DHCP6_VERDICT_ACCEPT);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0);
	for (int i = 0; i < 9; i++)
		CHECK_INT(dhcp6_client_handle_timeout(&c, dhcp6_client_next_timeout(&c), &err), ==, 0);
	CHECK_INT(c.n_requests, ==, 10);
	CHECK_INT(c.state, ==, DHCP6_STATE_REQUESTING);
	/* §7.6 REQ_MAX_RC = 10: the eleventh timeout goes back to Solicit. */
	CHECK_INT(dhcp6_client_handle_timeout(&c, dhcp6_client_next_timeout(&c), &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP6_STATE_SOLICITING);
	CHECK_INT(f.sent[f.n_sent - 1][0], ==, DHCP6_SOLICIT);
	CHECK_INT(c.n_restarts, ==, 1);
}

static void noaddrs_advertise_is_ignored_and_reported(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg adv;
	make_noaddrs(&adv, DHCP6_ADVERTISE, SOLICIT_XID);
	setup(&c, &f, 3000, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 5, &err), ==, DHCP6_VERDICT_DROP);
	CHECK_INT(c.drops[DHCP6_DROP_NO_ADDRS], ==, 1);
	CHECK_INT(c.state, ==, DHCP6_STATE_SOLICITING);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0);
	CHECK_INT(f.sent[1][0], ==, DHCP6_SOLICIT);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 3000, &err), ==, -ETIMEDOUT);
	CHECK_INT(c.state, ==, DHCP6_STATE_FAILED);
	CHECK_STR(err.msg, "test0: DHCPv6 SOLICITING: no usable Advertise within 3.0 s (2 Solicits sent; "
			   "1 answer offered no address: NoAddrsAvail (\"pool is dry!\"))");
}

/* NoAddrsAvail in the Reply is DHCPv6's DHCPNAK: Solicit again after the
 * restart delay, with a new transaction id. */
static void noaddrs_reply_restarts_after_a_delay(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg adv, reply;
	CHECK(load("dhcp6/advertise.bin", &adv));
	make_noaddrs(&reply, DHCP6_REPLY, REQUEST_XID);
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 5, &err), ==, DHCP6_VERDICT_ACCEPT);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0);
	CHECK_INT(dhcp6_client_handle_message(&c, reply.b, reply.len, 1010, &err), ==,
		  DHCP6_VERDICT_RESTART);
	CHECK_INT(c.state, ==, DHCP6_STATE_INIT);
	CHECK_INT(dhcp6_client_next_timeout(&c), ==, 2010);
	CHECK_INT(dhcp6_client_handle_timeout(&c, 1500, &err), ==, 0);
	CHECK_INT(f.n_sent, ==, 2);
	f.randoms[f.next_random] = 0x123456;
	CHECK_INT(dhcp6_client_handle_timeout(&c, 2010, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP6_STATE_SOLICITING);
	CHECK_INT(c.xid, ==, 0x123456);
	CHECK_INT(f.sent[2][0], ==, DHCP6_SOLICIT);
	CHECK_CONTAINS(c.last_status, "NoAddrsAvail (\"pool is dry!\")");
}

static void rapid_commit_binds_from_a_reply_to_solicit(void)
{
	struct dhcp6_client c;
	struct fake f;
	struct msg reply;
	CHECK(load("dhcp6/reply.bin", &reply));
	set_xid(&reply, SOLICIT_XID);
	append_option(&reply, DHCP6_OPT_RAPID_COMMIT, NULL, 0);
	/* Without asking for it, such a Reply is dropped. */
	setup(&c, &f, 0, false);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	struct msg sent = { .len = f.sent_len[0] };
	memcpy(sent.b, f.sent[0], sent.len);
	CHECK(!find_option(&sent, DHCP6_OPT_RAPID_COMMIT));
	CHECK_INT(dhcp6_client_handle_message(&c, reply.b, reply.len, 3, &err), ==, DHCP6_VERDICT_DROP);
	CHECK_INT(c.drops[DHCP6_DROP_UNEXPECTED_TYPE], ==, 1);

	setup(&c, &f, 0, true);
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
	memcpy(sent.b, f.sent[0], sent.len = f.sent_len[0]);
	CHECK(find_option(&sent, DHCP6_OPT_RAPID_COMMIT));
	CHECK_INT(dhcp6_client_handle_message(&c, reply.b, reply.len, 3, &err), ==, DHCP6_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP6_STATE_BOUND);
	CHECK(dhcp6_client_lease(&c)->rapid_commit);
	CHECK_INT(f.n_sent, ==, 1);
}

static void send_failure_is_fatal(void)
{
	struct dhcp6_client c;
	struct fake f;
	setup(&c, &f, 0, false);
	f.send_error = -ENETDOWN;
	struct ip_error err = { 0 };
	CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, -ENETDOWN);
	CHECK_INT(c.state, ==, DHCP6_STATE_FAILED);
	CHECK_STR(err.msg, "test0: sending a DHCPv6 Solicit: Network is down");
}

/* One received message, mutated, in a given state → the drop reason. */
struct drop_case {
	const char *name;
	const char *file;
	bool requesting;               /* deliver in REQUESTING, else SOLICITING */
	void (*mutate)(struct msg *m);
	enum dhcp6_drop_reason reason;
};

static void wrong_xid(struct msg *m) { set_xid(m, 0x111111); }
static void truncated(struct msg *m) { m->len -= 3; }
static void no_server_id(struct msg *m) { remove_option(m, DHCP6_OPT_SERVERID); }
static void no_client_id(struct msg *m) { remove_option(m, DHCP6_OPT_CLIENTID); }
static void other_client(struct msg *m) { m->b[find_option(m, DHCP6_OPT_CLIENTID) + 13]++; }
static void other_server(struct msg *m) { m->b[find_option(m, DHCP6_OPT_SERVERID) + 17]++; }
static void as_reply_to_solicit(struct msg *m) { m->b[0] = DHCP6_REPLY; set_xid(m, SOLICIT_XID); }
static void as_advertise_to_request(struct msg *m) { m->b[0] = DHCP6_ADVERTISE; }
static void unspec_fail(struct msg *m)
{
	size_t off = find_option(m, DHCP6_OPT_STATUS_CODE);
	m->b[off + 5] = DHCP6_STATUS_UNSPEC_FAIL;
}
static void zero_valid_lifetime(struct msg *m)
{
	/* IA_NA (12 bytes) then IAADDR: address 16, preferred 4, valid 4. */
	size_t ia = find_option(m, DHCP6_OPT_IA_NA);
	memset(m->b + ia + 4 + 12 + 4 + 16 + 4, 0, 4);
}

static const struct drop_case drop_cases[] = {
	{ "wrong xid", "dhcp6/advertise.bin", false, wrong_xid, DHCP6_DROP_XID },
	{ "option past the end", "dhcp6/advertise.bin", false, truncated, DHCP6_DROP_MALFORMED },
	{ "no server id", "dhcp6/advertise.bin", false, no_server_id, DHCP6_DROP_NO_SERVER_ID },
	{ "no client id", "dhcp6/advertise.bin", false, no_client_id, DHCP6_DROP_CLIENT_ID },
	{ "another client", "dhcp6/advertise.bin", false, other_client, DHCP6_DROP_CLIENT_ID },
	{ "reply to solicit", "dhcp6/reply.bin", false, as_reply_to_solicit, DHCP6_DROP_UNEXPECTED_TYPE },
	{ "advertise zero lifetime", "dhcp6/advertise.bin", false, zero_valid_lifetime, DHCP6_DROP_NO_ADDRS },
	{ "advertise in requesting", "dhcp6/reply.bin", true, as_advertise_to_request, DHCP6_DROP_UNEXPECTED_TYPE },
	{ "reply from another server", "dhcp6/reply.bin", true, other_server, DHCP6_DROP_OTHER_SERVER },
	{ "reply UnspecFail", "dhcp6/reply.bin", true, unspec_fail, DHCP6_DROP_SERVER_STATUS },
	{ "reply wrong xid", "dhcp6/reply.bin", true, wrong_xid, DHCP6_DROP_XID },
};

static void drop_reasons(void)
{
	for (size_t i = 0; i < sizeof(drop_cases) / sizeof(drop_cases[0]); i++) {
		const struct drop_case *dc = &drop_cases[i];
		struct dhcp6_client c;
		struct fake f;
		struct msg m, adv;
		CHECK(load(dc->file, &m) && load("dhcp6/advertise.bin", &adv));
		dc->mutate(&m);
		setup(&c, &f, 0, false);
		struct ip_error err = { 0 };
		CHECK_INT(dhcp6_client_start(&c, 0, &err), ==, 0);
		if (dc->requesting) {
			CHECK_INT(dhcp6_client_handle_message(&c, adv.b, adv.len, 1, &err), ==, DHCP6_VERDICT_ACCEPT);
			CHECK_INT(dhcp6_client_handle_timeout(&c, 1001, &err), ==, 0);
			CHECK_INT(c.state, ==, DHCP6_STATE_REQUESTING);
		}
		enum dhcp6_state before = c.state;
		int v = dhcp6_client_handle_message(&c, m.b, m.len, 1100, &err);
		if (v != DHCP6_VERDICT_DROP || c.drops[dc->reason] != 1 || c.state != before) {
			test_record_failure(__FILE__, __LINE__, "%s: verdict %d, state %s, reason '%s' counted %u",
					    dc->name, v, dhcp6_state_name(c.state),
					    dhcp6_drop_reason_name(dc->reason), c.drops[dc->reason]);
			return;
		}
	}
}

/* The codec on its own: search lists, limits, refused framing. */
struct domain_case {
	const char *name;
	const char *wire;
	size_t len;
	int ret;
	const char *want;
	unsigned ignored;
};

static const struct domain_case domain_cases[] = {
	{ "one", "\x08" "example6\x04" "test\x00", 15, 0, "example6.test", 0 },
	{ "two and a duplicate", "\x01" "a\x00\x01" "b\x00\x01" "a\x00", 9, 0, "a b", 0 },
	{ "bad characters skipped", "\x03" "a b\x00\x01" "c\x00", 8, 0, "c", 1 },
	{ "padding", "\x01" "a\x00\x00\x00", 5, 0, "a", 2 },
	{ "label past the end", "\x09" "ab\x00", 4, -EBADMSG, "", 0 },
	{ "compression pointer", "\xc0\x0c", 2, -EBADMSG, "", 0 },
	{ "no root label", "\x01" "a", 2, -EBADMSG, "a", 0 },
};

static void domain_list_decoding(void)
{
	for (size_t i = 0; i < sizeof(domain_cases) / sizeof(domain_cases[0]); i++) {
		const struct domain_case *dc = &domain_cases[i];
		char out[64] = "";
		unsigned ignored = 0;
		int r = dhcp6_domain_list_decode((const uint8_t *)dc->wire, dc->len, out, sizeof(out), &ignored);
		if (r != dc->ret || (r == 0 && (strcmp(out, dc->want) != 0 || ignored != dc->ignored))) {
			test_record_failure(__FILE__, __LINE__, "%s: ret %d out '%s' ignored %u", dc->name, r,
					    out, ignored);
			return;
		}
	}
}

static void usable_addresses(void)
{
	static const struct { const char *a; bool ok; } t[] = {
		{ "2001:db8::1", true }, { "fd00:ec2::254", true }, { "::", false }, { "::1", false },
		{ "fe80::1", false }, { "ff02::1", false }, { "::ffff:192.0.2.1", false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct in6_addr a;
		CHECK(inet_pton(AF_INET6, t[i].a, &a) == 1);
		if (dhcp6_address_is_usable(&a) != t[i].ok) {
			test_record_failure(__FILE__, __LINE__, "%s", t[i].a);
			return;
		}
	}
}

static void config_is_checked(void)
{
	struct dhcp6_client c;
	struct dhcp6_client_config cfg;
	struct dhcp6_client_ops ops = { .send = fake_send, .random = fake_random };
	dhcp6_client_config_defaults(&cfg);
	cfg.sol_irt_ms = 0;
	CHECK_INT(dhcp6_client_init(&c, &cfg, &ops), ==, -EINVAL);
	dhcp6_client_config_defaults(&cfg);
	cfg.req_max_rc = 0;
	CHECK_INT(dhcp6_client_init(&c, &cfg, &ops), ==, -EINVAL);
	dhcp6_client_config_defaults(&cfg);
	ops.random = NULL;
	CHECK_INT(dhcp6_client_init(&c, &cfg, &ops), ==, -EINVAL);
}

TEST_MAIN("dhcp6-client",
	TEST_CASE(full_exchange_with_dnsmasq_messages),
	TEST_CASE(preference_255_requests_at_once),
	TEST_CASE(late_advertise_is_taken_at_once),
	TEST_CASE(solicit_backoff_doubles_and_counts_elapsed_time),
	TEST_CASE(jitter_stays_within_ten_percent),
	TEST_CASE(unanswered_requests_solicit_again),
	TEST_CASE(noaddrs_advertise_is_ignored_and_reported),
	TEST_CASE(noaddrs_reply_restarts_after_a_delay),
	TEST_CASE(rapid_commit_binds_from_a_reply_to_solicit),
	TEST_CASE(send_failure_is_fatal),
	TEST_CASE(drop_reasons),
	TEST_CASE(domain_list_decoding),
	TEST_CASE(usable_addresses),
	TEST_CASE(config_is_checked))
