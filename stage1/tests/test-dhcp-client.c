/* The DHCP state machine, driven with a fake clock, a fake transport that
 * records what is sent, scripted random numbers, and dnsmasq's captured
 * replies (data/dhcp/): the full exchange, NAK → restart, retransmission
 * backoff, the time budget, REQUEST retries, and every drop reason. */
#include "test.h"

#include "net/dhcp_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#define CAPTURED_XID 0x744b9968u
static const uint8_t captured_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

/* The fake transport. */
struct fake {
	uint8_t sent[16][DHCP_MIN_BOOTP_LEN + 64];
	size_t sent_len[16];
	size_t n_sent;
	int send_error;
	uint32_t randoms[16];  /* returned in turn; then 0 */
	size_t n_randoms, next_random;
};

static int fake_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct fake *f = ctx;
	if (f->send_error)
		return f->send_error;
	if (f->n_sent < 16 && len <= sizeof(f->sent[0])) {
		memcpy(f->sent[f->n_sent], msg, len);
		f->sent_len[f->n_sent] = len;
	}
	f->n_sent++;
	return 0;
}

static uint32_t fake_random(void *ctx)
{
	struct fake *f = ctx;
	return f->next_random < f->n_randoms ? f->randoms[f->next_random++] : 0;
}

/* A client with the captured MAC whose first xid is the captured one.
 * random() % (2*jitter+1) == jitter gives zero jitter: the randoms after the
 * xid are chosen that way unless a test sets its own. */
static void setup(struct dhcp_client *c, struct fake *f, uint32_t jitter_ms, uint64_t budget_ms)
{
	memset(f, 0, sizeof(*f));
	f->randoms[0] = CAPTURED_XID;
	for (size_t i = 1; i < 16; i++)
		f->randoms[i] = jitter_ms; /* → zero jitter */
	f->n_randoms = 16;
	struct dhcp_client_config cfg;
	dhcp_client_config_defaults(&cfg);
	cfg.ifname = "test0";
	memcpy(cfg.mac, captured_mac, 6);
	cfg.jitter_ms = jitter_ms;
	cfg.budget_ms = budget_ms;
	struct dhcp_client_ops ops = { .send = fake_send, .random = fake_random, .ctx = f };
	dhcp_client_init(c, &cfg, &ops);
}

/* A captured packet's DHCP message, copied so tests can mutate it. */
struct captured {
	uint8_t msg[1500];
	size_t len;
};

static bool load(const char *name, struct captured *out)
{
	size_t flen = 0;
	unsigned char *pkt = test_read_data(name, &flen);
	if (!pkt)
		return false;
	struct udp_datagram d;
	bool ok = udp_packet_parse(pkt, flen, false, &d) == 0 && d.len <= sizeof(out->msg);
	if (ok) {
		memcpy(out->msg, d.payload, d.len);
		out->len = d.len;
	}
	free(pkt);
	return ok;
}

static const uint8_t *sent_type(const struct fake *f, size_t i)
{
	/* The first option we write is 53. */
	return &f->sent[i][DHCP_OPTIONS_OFFSET + 2];
}

static void full_exchange_with_dnsmasq_packets(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer, ack, discover, request;
	CHECK(load("dhcp/offer.bin", &offer) && load("dhcp/ack.bin", &ack));
	CHECK(load("dhcp/discover.bin", &discover) && load("dhcp/request.bin", &request));
	setup(&c, &f, 1000, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 5000, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP_STATE_SELECTING);
	CHECK_INT(f.n_sent, ==, 1);
	/* What the state machine sends is what was captured (secs 0). */
	CHECK_INT(f.sent_len[0], ==, discover.len);
	CHECK_MEM(f.sent[0], discover.msg, discover.len);

	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 5012, &err), ==,
		  DHCP_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP_STATE_REQUESTING);
	CHECK_INT(f.n_sent, ==, 2);
	CHECK_INT(f.sent_len[1], ==, request.len);
	CHECK_MEM(f.sent[1], request.msg, request.len);

	CHECK_INT(dhcp_client_handle_message(&c, ack.msg, ack.len, 5020, &err), ==,
		  DHCP_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP_STATE_BOUND);
	const struct dhcp_lease *l = dhcp_client_lease(&c);
	CHECK(l);
	CHECK_INT(l->mtu, ==, 9001);
	CHECK_INT(l->n_routes, ==, 3);
	CHECK_INT(c.bound_ms - c.start_ms, ==, 20);
	CHECK_INT(dhcp_client_next_timeout(&c), ==, DHCP_NO_TIMEOUT);
	/* Nothing more is sent once bound, and late packets are dropped. */
	CHECK_INT(dhcp_client_handle_timeout(&c, 999999, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, ack.msg, ack.len, 5030, &err), ==,
		  DHCP_VERDICT_DROP);
	CHECK_INT(f.n_sent, ==, 2);
}

static void nak_restarts_from_discover_after_a_delay(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer, nak, ack;
	CHECK(load("dhcp/offer.bin", &offer) && load("dhcp/nak.bin", &nak) && load("dhcp/ack.bin", &ack));
	setup(&c, &f, 0, 0);
	f.randoms[1] = 0x11111111; /* the xid of the second cycle */
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 10, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(dhcp_client_handle_message(&c, nak.msg, nak.len, 20, &err), ==, DHCP_VERDICT_RESTART);
	CHECK_INT(c.state, ==, DHCP_STATE_INIT);
	CHECK_INT(c.n_naks, ==, 1);
	/* RFC 2131 §4.4.1: back to INIT; the DISCOVER waits restart_delay_ms. */
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 20 + 1000);
	CHECK_INT(dhcp_client_handle_timeout(&c, 500, &err), ==, 0);
	CHECK_INT(f.n_sent, ==, 2);
	/* The ACK that might still arrive for the old transaction is dropped. */
	CHECK_INT(dhcp_client_handle_message(&c, ack.msg, ack.len, 600, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(dhcp_client_handle_timeout(&c, 1020, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP_STATE_SELECTING);
	CHECK_INT(f.n_sent, ==, 3);
	CHECK_INT(*sent_type(&f, 2), ==, DHCP_DISCOVER);
	CHECK_INT(c.xid, ==, 0x11111111);
	/* The new cycle counts 'secs' from its own start. */
	CHECK_INT(f.sent[2][8] << 8 | f.sent[2][9], ==, 0);
	/* A reply to the old xid no longer matches. */
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 1030, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(c.drops[DHCP_DROP_XID], ==, 1);
}

static void nak_from_another_server_is_ignored(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer, nak;
	CHECK(load("dhcp/offer.bin", &offer) && load("dhcp/nak.bin", &nak));
	/* Make the NAK's server identifier (option 54, after 53) another one. */
	uint8_t *opt = nak.msg + DHCP_OPTIONS_OFFSET;
	CHECK(opt[0] == 53 && opt[3] == 54);
	opt[8] = 99;
	setup(&c, &f, 0, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 1, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(dhcp_client_handle_message(&c, nak.msg, nak.len, 2, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(c.state, ==, DHCP_STATE_REQUESTING);
	CHECK_INT(c.drops[DHCP_DROP_OTHER_SERVER], ==, 1);
}

/* RFC 2131 §4.1: 4, 8, 16, 32, 64, 64 … seconds. */
static void discover_backoff_doubles_up_to_64s(void)
{
	struct dhcp_client c;
	struct fake f;
	setup(&c, &f, 0, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	static const uint64_t expect[] = { 4000, 12000, 28000, 60000, 124000, 188000, 252000 };
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		uint64_t t = dhcp_client_next_timeout(&c);
		CHECK_INT(t, ==, expect[i]);
		CHECK_INT(dhcp_client_handle_timeout(&c, t - 1, &err), ==, 0);
		CHECK_INT(f.n_sent, ==, i + 1); /* nothing early */
		CHECK_INT(dhcp_client_handle_timeout(&c, t, &err), ==, 0);
		CHECK_INT(f.n_sent, ==, i + 2);
	}
	/* 'secs' grows with the cycle: the last DISCOVER went out at 252 s. */
	size_t last = f.n_sent - 1;
	CHECK_INT(f.sent[last][8] << 8 | f.sent[last][9], ==, 252);
	CHECK_INT(c.state, ==, DHCP_STATE_SELECTING);
	CHECK_INT(c.xid, ==, CAPTURED_XID); /* retransmissions keep the xid */
}

static void jitter_stays_within_one_second(void)
{
	struct dhcp_client c;
	struct fake f;
	setup(&c, &f, 1000, 0);
	f.randoms[1] = 0;    /* % 2001 = 0    → -1000 ms */
	f.randoms[2] = 2000; /* % 2001 = 2000 → +1000 ms */
	f.randoms[3] = 2001; /* % 2001 = 0    → -1000 ms */
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 3000);
	CHECK_INT(dhcp_client_handle_timeout(&c, 3000, &err), ==, 0);
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 3000 + 9000);
	CHECK_INT(dhcp_client_handle_timeout(&c, 12000, &err), ==, 0);
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 12000 + 15000);
}

static void budget_ends_selecting_with_a_clear_message(void)
{
	struct dhcp_client c;
	struct fake f;
	setup(&c, &f, 0, 5000);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 100, &err), ==, 0);
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 4100);
	CHECK_INT(dhcp_client_handle_timeout(&c, 4100, &err), ==, 0);
	/* The next retransmission would be at 12.1 s: the budget comes first. */
	CHECK_INT(dhcp_client_next_timeout(&c), ==, 5100);
	CHECK_INT(dhcp_client_handle_timeout(&c, 5100, &err), ==, -ETIMEDOUT);
	CHECK_INT(c.state, ==, DHCP_STATE_FAILED);
	CHECK_INT(err.code, ==, -ETIMEDOUT);
	CHECK_CONTAINS(err.msg, "test0: DHCP SELECTING: no DHCPOFFER within 5.0 s");
	CHECK_CONTAINS(err.msg, "2 DHCPDISCOVERs sent");
	CHECK_INT(dhcp_client_next_timeout(&c), ==, DHCP_NO_TIMEOUT);
	CHECK_INT(f.n_sent, ==, 2);
}

static void budget_message_mentions_ignored_replies(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer;
	CHECK(load("dhcp/offer.bin", &offer));
	offer.msg[4] ^= 0xff; /* wrong xid */
	setup(&c, &f, 0, 2000);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 10, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 20, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(dhcp_client_handle_timeout(&c, 2000, &err), ==, -ETIMEDOUT);
	CHECK_CONTAINS(err.msg, "ignored 2 replies (mostly: wrong xid)");
}

static void unanswered_requests_go_back_to_init(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer;
	CHECK(load("dhcp/offer.bin", &offer));
	setup(&c, &f, 0, 0);
	f.randoms[1] = 0x22222222; /* xid of the second cycle (no jitter draws) */
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 100, &err), ==, DHCP_VERDICT_ACCEPT);
	/* REQUEST at 0.1 s, then 4.1, 12.1, 28.1: four in all. */
	static const uint64_t t[] = { 4100, 12100, 28100 };
	for (size_t i = 0; i < 3; i++) {
		CHECK_INT(dhcp_client_next_timeout(&c), ==, t[i]);
		CHECK_INT(dhcp_client_handle_timeout(&c, t[i], &err), ==, 0);
		CHECK_INT(*sent_type(&f, f.n_sent - 1), ==, DHCP_REQUEST);
	}
	CHECK_INT(c.n_requests, ==, 4);
	CHECK_INT(c.state, ==, DHCP_STATE_REQUESTING);
	CHECK_INT(dhcp_client_handle_timeout(&c, 60100, &err), ==, 0);
	CHECK_INT(c.state, ==, DHCP_STATE_SELECTING);
	CHECK_INT(*sent_type(&f, f.n_sent - 1), ==, DHCP_DISCOVER);
	CHECK_INT(c.xid, ==, 0x22222222);
}

static void requesting_budget_names_the_server(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer;
	CHECK(load("dhcp/offer.bin", &offer));
	setup(&c, &f, 0, 3000);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 100, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(dhcp_client_handle_timeout(&c, 3000, &err), ==, -ETIMEDOUT);
	CHECK_CONTAINS(err.msg, "DHCP REQUESTING: no DHCPACK from server 192.0.2.1 within 3.0 s");
}

/* The REQUEST repeats the DISCOVER's 'secs' (RFC 2131 §4.4.1). */
static void request_keeps_the_discover_secs(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer;
	CHECK(load("dhcp/offer.bin", &offer));
	setup(&c, &f, 0, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_timeout(&c, 4000, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 7900, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(f.n_sent, ==, 3);
	CHECK_INT(f.sent[2][8] << 8 | f.sent[2][9], ==, 4);
}

static void send_failure_is_fatal(void)
{
	struct dhcp_client c;
	struct fake f;
	setup(&c, &f, 0, 0);
	f.send_error = -ENETDOWN;
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, -ENETDOWN);
	CHECK_INT(c.state, ==, DHCP_STATE_FAILED);
	CHECK_CONTAINS(err.msg, "test0: sending DHCPDISCOVER");
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, -EALREADY);
}

/* Mutations of dnsmasq's OFFER, each dropped in SELECTING for one reason. */
static void drop_reasons_in_selecting(void)
{
	struct captured orig;
	CHECK(load("dhcp/offer.bin", &orig));
	/* Offsets: op 0, htype 1, hlen 2, xid 4, yiaddr 16, chaddr 28, cookie
	 * 236, options 240: 53 (3 bytes), then 54 at 243. */
	CHECK(orig.msg[240] == 53 && orig.msg[243] == 54);
	static const struct {
		const char *name;
		size_t at;
		uint8_t value;
		size_t len;   /* 0: unchanged */
		enum dhcp_drop_reason reason;
	} cases[] = {
		{ "short", 0, 2, 239, DHCP_DROP_MALFORMED },
		{ "bad cookie", 236, 0x64, 0, DHCP_DROP_MALFORMED },
		{ "BOOTREQUEST", 0, 1, 0, DHCP_DROP_NOT_REPLY },
		{ "htype 6", 1, 6, 0, DHCP_DROP_HTYPE },
		{ "hlen 8", 2, 8, 0, DHCP_DROP_HTYPE },
		{ "wrong xid", 7, 0x00, 0, DHCP_DROP_XID },
		{ "other chaddr", 33, 0x02, 0, DHCP_DROP_CHADDR },
		{ "truncated option", 244, 200, 0, DHCP_DROP_OPTIONS },
		{ "no message type", 240, 250, 0, DHCP_DROP_NO_TYPE },
		{ "ACK in SELECTING", 242, DHCP_ACK, 0, DHCP_DROP_UNEXPECTED_TYPE },
		{ "no server id", 243, 250, 0, DHCP_DROP_NO_SERVER_ID },
		{ "yiaddr 0.0.0.0", 16, 0, 0, DHCP_DROP_BAD_ADDRESS },
		{ "yiaddr multicast", 16, 224, 0, DHCP_DROP_BAD_ADDRESS },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dhcp_client c;
		struct fake f;
		struct captured m = orig;
		if (cases[i].at == 16 && cases[i].value == 0)
			memset(m.msg + 16, 0, 4);
		else
			m.msg[cases[i].at] = cases[i].value;
		if (cases[i].len)
			m.len = cases[i].len;
		setup(&c, &f, 0, 0);
		struct ip_error err = { 0 };
		dhcp_client_start(&c, 0, &err);
		int v = dhcp_client_handle_message(&c, m.msg, m.len, 1, &err);
		if (v != DHCP_VERDICT_DROP || c.state != DHCP_STATE_SELECTING ||
		    c.drops[cases[i].reason] != 1 || c.n_drops != 1 || f.n_sent != 1) {
			test_record_failure(__FILE__, __LINE__, "%s: verdict %s, state %s, drops %u",
					    cases[i].name, dhcp_verdict_name(v), dhcp_state_name(c.state),
					    c.n_drops);
			return;
		}
	}
}

static void late_offer_and_bad_ack_in_requesting(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer, ack;
	CHECK(load("dhcp/offer.bin", &offer) && load("dhcp/ack.bin", &ack));
	setup(&c, &f, 0, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_start(&c, 0, &err), ==, 0);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 1, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 2, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(c.drops[DHCP_DROP_UNEXPECTED_TYPE], ==, 1);
	struct captured bad = ack;
	memset(bad.msg + 16, 0, 4); /* yiaddr 0 */
	CHECK_INT(dhcp_client_handle_message(&c, bad.msg, bad.len, 3, &err), ==, DHCP_VERDICT_DROP);
	CHECK_INT(c.drops[DHCP_DROP_BAD_ADDRESS], ==, 1);
	CHECK_INT(c.state, ==, DHCP_STATE_REQUESTING);
	CHECK_INT(dhcp_client_handle_message(&c, ack.msg, ack.len, 4, &err), ==, DHCP_VERDICT_ACCEPT);
	CHECK_INT(c.state, ==, DHCP_STATE_BOUND);
}

static void messages_before_start_are_dropped(void)
{
	struct dhcp_client c;
	struct fake f;
	struct captured offer;
	CHECK(load("dhcp/offer.bin", &offer));
	setup(&c, &f, 0, 0);
	struct ip_error err = { 0 };
	CHECK_INT(dhcp_client_handle_message(&c, offer.msg, offer.len, 0, &err), ==, DHCP_VERDICT_DROP);
	CHECK(dhcp_client_lease(&c) == NULL);
}

static void config_is_checked(void)
{
	struct dhcp_client c;
	struct dhcp_client_config cfg;
	dhcp_client_config_defaults(&cfg);
	struct dhcp_client_ops ops = { .send = fake_send, .random = fake_random };
	cfg.base_timeout_ms = 0;
	CHECK_INT(dhcp_client_init(&c, &cfg, &ops), ==, -EINVAL);
	dhcp_client_config_defaults(&cfg);
	cfg.max_timeout_ms = 1;
	CHECK_INT(dhcp_client_init(&c, &cfg, &ops), ==, -EINVAL);
	dhcp_client_config_defaults(&cfg);
	ops.send = NULL;
	CHECK_INT(dhcp_client_init(&c, &cfg, &ops), ==, -EINVAL);
}

TEST_MAIN("dhcp-client",
	TEST_CASE(full_exchange_with_dnsmasq_packets),
	TEST_CASE(nak_restarts_from_discover_after_a_delay),
	TEST_CASE(nak_from_another_server_is_ignored),
	TEST_CASE(discover_backoff_doubles_up_to_64s),
	TEST_CASE(jitter_stays_within_one_second),
	TEST_CASE(budget_ends_selecting_with_a_clear_message),
	TEST_CASE(budget_message_mentions_ignored_replies),
	TEST_CASE(unanswered_requests_go_back_to_init),
	TEST_CASE(requesting_budget_names_the_server),
	TEST_CASE(request_keeps_the_discover_secs),
	TEST_CASE(send_failure_is_fatal),
	TEST_CASE(drop_reasons_in_selecting),
	TEST_CASE(late_offer_and_bad_ack_in_requesting),
	TEST_CASE(messages_before_start_are_dropped),
	TEST_CASE(config_is_checked))
