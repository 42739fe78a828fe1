/* The DHCPv6 client state machine (RFC 8415 §18.2): INIT → SOLICITING →
 * REQUESTING → BOUND, one interface, one IA_NA, no renewal (the initrd hands
 * over long before T1; stage 2 must renew before valid_lft, see README).
 *
 * Like dhcp_client.h, the client does no I/O and reads no clock: the caller
 * passes the time in milliseconds and the received messages, and the client
 * sends through ops->send (to All_DHCP_Relay_Agents_and_Servers) and draws
 * random numbers through ops->random.  net.c starts it once a Router
 * Advertisement with the M flag arrived (RFC 4861 §4.2).
 *
 * Rapid Commit (§18.2.1) is off by default: a 2017 report says EC2's server
 * ignored Solicits that carried it (systemd#5845, coreos/bugs#1828).  When
 * on, a Reply with Rapid Commit to our Solicit binds at once; an Advertise
 * (the server ignored it) goes on with Request as usual.
 *
 * Received messages are sorted three ways (dhcp6_client_handle_message,
 * net/dhcp_verdict.h):
 *   DROP    ignored, logged once per reason at debug level: malformed, wrong
 *           transaction id, no or another Client Identifier, no Server
 *           Identifier, a type not expected in this state, a Reply from a
 *           server we did not send the Request to, an Advertise that offers
 *           no address (§18.2.9 says ignore it; NoAddrsAvail is counted and
 *           quoted in the final error), a Reply with UnspecFail/UseMulticast
 *           (we retransmit; we always multicast).
 *   RESTART a Reply whose IA_NA says NoAddrsAvail or holds no address, or a
 *           NotOnLink status: back to INIT and a new Solicit after
 *           restart_delay_ms (§18.2.10.1) — the DHCPNAK of DHCPv6.
 *   ACCEPT  an Advertise in SOLICITING (kept; the best is taken at the end of
 *           the first RT, or at once when its preference is 255, or at once
 *           after the first RT), a Reply in REQUESTING (→ BOUND), a Reply
 *           with Rapid Commit in SOLICITING when we asked for it (→ BOUND).
 * Fatal (negative errno, state FAILED): the time budget is used up, or the
 * transport fails to send.
 *
 * Retransmission (§15): RT = IRT ± 10 %, then 2·RT ± 10 %, capped at MRT ±
 * 10 %; the first Solicit's RT is strictly above IRT (§18.2.1).  Solicit:
 * IRT 1 s, MRT 3600 s; Request: IRT 1 s, MRT 30 s, 10 attempts, then back
 * to Solicit (§7.6).  The first Solicit is not delayed by up to 1 s as
 * §18.2.1 suggests (SHOULD): one client per link at boot has no storm to
 * avoid, and the boot waits for it. */
#ifndef IP_NET_DHCP6_CLIENT_H
#define IP_NET_DHCP6_CLIENT_H

#include "net/dhcp6_message.h"
#include "net/dhcp_verdict.h"
#include "util/error.h"

#include <stdbool.h>
#include <stdint.h>

enum dhcp6_state {
	DHCP6_STATE_INIT,
	DHCP6_STATE_SOLICITING,
	DHCP6_STATE_REQUESTING,
	DHCP6_STATE_BOUND,
	DHCP6_STATE_FAILED,
};
const char *dhcp6_state_name(enum dhcp6_state state);

/* The verdicts are those of net/dhcp_verdict.h, shared with DHCPv4; these
 * names are for callers that speak of the DHCPv6 client only. */
enum {
	DHCP6_VERDICT_DROP = DHCP_VERDICT_DROP,
	DHCP6_VERDICT_RESTART = DHCP_VERDICT_RESTART,
	DHCP6_VERDICT_ACCEPT = DHCP_VERDICT_ACCEPT,
};

enum dhcp6_drop_reason {
	DHCP6_DROP_MALFORMED,
	DHCP6_DROP_XID,
	DHCP6_DROP_CLIENT_ID,
	DHCP6_DROP_NO_SERVER_ID,
	DHCP6_DROP_UNEXPECTED_TYPE,
	DHCP6_DROP_OTHER_SERVER,
	DHCP6_DROP_NO_ADDRS,
	DHCP6_DROP_SERVER_STATUS,
	DHCP6_DROP_REASONS_
};
const char *dhcp6_drop_reason_name(enum dhcp6_drop_reason reason);

#define DHCP6_NO_TIMEOUT UINT64_MAX

struct dhcp6_client_ops {
	/* Sends one DHCPv6 message to ff02::1:2 port 547.  Negative errno on
	 * failure, which is fatal for the client. */
	int (*send)(void *ctx, const uint8_t *msg, size_t len);
	uint32_t (*random)(void *ctx);
	void *ctx;
};

struct dhcp6_client_config {
	const char *ifname;
	uint8_t mac[6];                /* DUID-LL and IAID */
	uint32_t sol_irt_ms;           /* RFC 8415: 1 s */
	uint32_t sol_mrt_ms;           /* 3600 s */
	uint32_t req_irt_ms;           /* 1 s */
	uint32_t req_mrt_ms;           /* 30 s */
	uint32_t req_max_rc;           /* 10 */
	uint32_t restart_delay_ms;     /* after NoAddrsAvail / NotOnLink in a Reply */
	bool rapid_commit;             /* off: see the top of this file */
	uint64_t budget_ms;            /* from dhcp6_client_start; 0 = no limit */
};
void dhcp6_client_config_defaults(struct dhcp6_client_config *cfg);

/* What BOUND holds (from the Reply). */
struct dhcp6_lease {
	struct in6_addr address;
	uint32_t preferred_lft, valid_lft, t1, t2;
	struct in6_addr dns[DHCP6_MAX_DNS];
	size_t n_dns;
	char search[DHCP6_SEARCH_MAX];
	uint8_t server_duid[DHCP6_DUID_MAX];
	size_t server_duid_len;
	bool rapid_commit;             /* bound by a Rapid Commit Reply */
};

struct dhcp6_client {
	struct dhcp6_client_config cfg;
	struct dhcp6_client_ops ops;
	struct dhcp6_identity id;
	enum dhcp6_state state;
	uint32_t xid;
	uint64_t start_ms, exchange_start_ms, deadline_ms, timer_ms;
	uint64_t first_rt_end_ms;      /* Advertises are collected until then */
	uint32_t rt_ms;                /* the current retransmission timeout */
	uint32_t attempts;             /* sends in the current exchange */
	bool have_advertise;           /* best_* hold a candidate */
	uint8_t best_preference;
	uint8_t server_duid[DHCP6_DUID_MAX];
	size_t server_duid_len;
	uint64_t bound_ms;
	unsigned n_solicits, n_requests, n_advertises, n_restarts, n_drops, n_noaddrs;
	unsigned drops[DHCP6_DROP_REASONS_];
	char last_status[DHCP6_STATUS_TEXT_MAX + 32]; /* "NoAddrsAvail (\"text\")" */
	struct dhcp6_lease lease;
};

int dhcp6_client_init(struct dhcp6_client *c, const struct dhcp6_client_config *cfg,
		      const struct dhcp6_client_ops *ops);
/* Picks a transaction id, sends the first Solicit, state SOLICITING. */
int dhcp6_client_start(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err);
uint64_t dhcp6_client_next_timeout(const struct dhcp6_client *c);
/* Retransmits, moves on with the best Advertise, restarts or gives up.
 * Returns 0, -ETIMEDOUT (err says in which state and what was seen) or the
 * send error; both leave the client FAILED. */
int dhcp6_client_handle_timeout(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err);
/* Classifies one received message (UDP payload).  Returns a dhcp_verdict,
 * or a negative errno when sending failed (client FAILED). */
int dhcp6_client_handle_message(struct dhcp6_client *c, const uint8_t *msg, size_t len,
				uint64_t now_ms, struct ip_error *err);
const struct dhcp6_lease *dhcp6_client_lease(const struct dhcp6_client *c);

#endif
