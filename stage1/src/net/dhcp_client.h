/* The DHCPv4 client state machine (RFC 2131 §4.4): INIT → SELECTING →
 * REQUESTING → BOUND, for one interface, one lease, no renewal (the initrd
 * hands over long before T1).
 *
 * The client does no I/O and reads no clock: the caller passes the time in
 * milliseconds and the received DHCP messages, and the client sends through
 * ops->send and draws random numbers through ops->random.  net.c drives it
 * with poll() and the packet socket of dhcp_network.c; the unit test drives it
 * with a fake clock and captured packets.
 *
 * Received messages are sorted three ways (dhcp_client_handle_message,
 * net/dhcp_verdict.h):
 *   DROP    ignored, logged once per reason at debug level: malformed
 *           headers or options, not a BOOTREPLY, wrong hardware type, wrong
 *           xid, chaddr not ours, a message type not expected in this state,
 *           an OFFER without server identifier or with an unusable yiaddr, an
 *           ACK/NAK from a server other than the one we selected.
 *   RESTART a DHCPNAK from the selected server: back to INIT, and a new
 *           DISCOVER after restart_delay_ms (RFC 2131 §3.1 step 5 / §4.4.1).
 *   ACCEPT  an OFFER in SELECTING (→ REQUESTING: the first usable offer is
 *           taken) or an ACK in REQUESTING (→ BOUND).
 * Fatal (negative errno, state FAILED): the time budget is used up, or the
 * transport fails to send.
 *
 * Retransmission (RFC 2131 §4.1): base, 2×base, 4×base … capped at max, each
 * ±jitter; the defaults are 4 s, 64 s and 1 s.  A REQUEST unanswered after
 * request_attempts sends goes back to INIT (RFC 2131 §4.4.1). */
#ifndef IP_NET_DHCP_CLIENT_H
#define IP_NET_DHCP_CLIENT_H

#include "net/dhcp_option.h"
#include "net/dhcp_packet.h"
#include "net/dhcp_verdict.h"
#include "util/error.h"

#include <stdbool.h>
#include <stdint.h>

enum dhcp_state {
	DHCP_STATE_INIT,
	DHCP_STATE_SELECTING,
	DHCP_STATE_REQUESTING,
	DHCP_STATE_BOUND,
	DHCP_STATE_FAILED,
};
const char *dhcp_state_name(enum dhcp_state state);

/* Why a message was dropped (counted, and logged once each). */
enum dhcp_drop_reason {
	DHCP_DROP_MALFORMED,
	DHCP_DROP_NOT_REPLY,
	DHCP_DROP_HTYPE,
	DHCP_DROP_XID,
	DHCP_DROP_CHADDR,
	DHCP_DROP_OPTIONS,
	DHCP_DROP_NO_TYPE,
	DHCP_DROP_UNEXPECTED_TYPE,
	DHCP_DROP_NO_SERVER_ID,
	DHCP_DROP_BAD_ADDRESS,
	DHCP_DROP_OTHER_SERVER,
	DHCP_DROP_REASONS_
};
const char *dhcp_drop_reason_name(enum dhcp_drop_reason reason);

#define DHCP_NO_TIMEOUT UINT64_MAX

struct dhcp_client_ops {
	/* Broadcasts one DHCP message (the UDP payload).  Negative errno on
	 * failure, which is fatal for the client. */
	int (*send)(void *ctx, const uint8_t *msg, size_t len);
	/* A uniformly distributed 32-bit number (xid and jitter). */
	uint32_t (*random)(void *ctx);
	void *ctx;
};

struct dhcp_client_config {
	const char *ifname;            /* for log lines and messages */
	uint8_t mac[ETHER_ADDR_LEN_DHCP];
	uint32_t base_timeout_ms;      /* first retransmission (RFC 2131: 4 s) */
	uint32_t max_timeout_ms;       /* cap (RFC 2131: 64 s) */
	uint32_t jitter_ms;            /* ± (RFC 2131: 1 s) */
	uint32_t restart_delay_ms;     /* after a NAK */
	uint32_t request_attempts;     /* REQUESTs before going back to INIT */
	uint64_t budget_ms;            /* from dhcp_client_start; 0 = no limit */
};
/* RFC 2131 values, a 1 s restart delay, 4 request attempts, no budget. */
void dhcp_client_config_defaults(struct dhcp_client_config *cfg);

struct dhcp_client {
	struct dhcp_client_config cfg;
	struct dhcp_client_ops ops;
	enum dhcp_state state;
	uint32_t xid;
	uint64_t start_ms;             /* dhcp_client_start */
	uint64_t cycle_start_ms;       /* the current DISCOVER cycle (for 'secs') */
	uint64_t deadline_ms;          /* start + budget, or DHCP_NO_TIMEOUT */
	uint64_t timer_ms;             /* next (re)transmission, or DHCP_NO_TIMEOUT */
	uint32_t backoff_ms;           /* the current un-jittered timeout */
	uint32_t attempts;             /* sends in the current state */
	uint16_t discover_secs;        /* 'secs' of the DISCOVER that got the offer */
	uint32_t offered;              /* yiaddr of the selected OFFER */
	uint32_t server_id;            /* of the selected OFFER */
	uint64_t bound_ms;
	/* Counters for the report and the failure message. */
	unsigned n_discovers, n_requests, n_offers, n_naks, n_drops;
	unsigned drops[DHCP_DROP_REASONS_];
	struct dhcp_lease lease;       /* valid in BOUND */
};

/* Copies cfg and ops; state INIT.  -EINVAL for an unusable config. */
int dhcp_client_init(struct dhcp_client *c, const struct dhcp_client_config *cfg,
		     const struct dhcp_client_ops *ops);

/* Picks an xid, sends the first DISCOVER, state SELECTING. */
int dhcp_client_start(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err);

/* When dhcp_client_handle_timeout wants to be called next (the next
 * retransmission or the budget's end), or DHCP_NO_TIMEOUT when BOUND/FAILED. */
uint64_t dhcp_client_next_timeout(const struct dhcp_client *c);

/* Retransmits, restarts or gives up, as the time says.  Returns 0, or
 * -ETIMEDOUT (budget used up; err says in which state and what was sent)
 * or the send error; both leave the client FAILED. */
int dhcp_client_handle_timeout(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err);

/* Classifies one received DHCP message (UDP payload) and acts on it.
 * Returns a dhcp_verdict (>= 0), or a negative errno when sending the
 * REQUEST failed (client FAILED). */
int dhcp_client_handle_message(struct dhcp_client *c, const uint8_t *msg, size_t len,
			       uint64_t now_ms, struct ip_error *err);

/* The lease, once BOUND; NULL otherwise. */
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c);

#endif
