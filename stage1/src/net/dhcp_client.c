#include "net/dhcp_client.h"

#include "util/log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

const char *dhcp_state_name(enum dhcp_state state)
{
	switch (state) {
	case DHCP_STATE_INIT: return "INIT";
	case DHCP_STATE_SELECTING: return "SELECTING";
	case DHCP_STATE_REQUESTING: return "REQUESTING";
	case DHCP_STATE_BOUND: return "BOUND";
	case DHCP_STATE_FAILED: return "FAILED";
	}
	return "?";
}

const char *dhcp_drop_reason_name(enum dhcp_drop_reason reason)
{
	static const char *const names[DHCP_DROP_REASONS_] = {
		[DHCP_DROP_MALFORMED] = "malformed header",
		[DHCP_DROP_NOT_REPLY] = "not a BOOTREPLY",
		[DHCP_DROP_HTYPE] = "not an Ethernet hardware address",
		[DHCP_DROP_XID] = "wrong xid",
		[DHCP_DROP_CHADDR] = "for another client (chaddr)",
		[DHCP_DROP_OPTIONS] = "malformed options",
		[DHCP_DROP_NO_TYPE] = "no DHCP message type",
		[DHCP_DROP_UNEXPECTED_TYPE] = "message type not expected now",
		[DHCP_DROP_NO_SERVER_ID] = "no server identifier",
		[DHCP_DROP_BAD_ADDRESS] = "unusable offered address",
		[DHCP_DROP_OTHER_SERVER] = "from a server we did not select",
	};
	return (unsigned)reason < DHCP_DROP_REASONS_ ? names[reason] : "?";
}

void dhcp_client_config_defaults(struct dhcp_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ifname = "?";
	cfg->base_timeout_ms = 4000;
	cfg->max_timeout_ms = 64000;
	cfg->jitter_ms = 1000;
	cfg->restart_delay_ms = 1000;
	cfg->request_attempts = 4;
	cfg->budget_ms = 0;
}

int dhcp_client_init(struct dhcp_client *c, const struct dhcp_client_config *cfg,
		     const struct dhcp_client_ops *ops)
{
	if (!ops || !ops->send || !ops->random || cfg->base_timeout_ms == 0 ||
	    cfg->max_timeout_ms < cfg->base_timeout_ms || cfg->request_attempts == 0)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	if (!c->cfg.ifname)
		c->cfg.ifname = "?";
	c->ops = *ops;
	c->state = DHCP_STATE_INIT;
	c->timer_ms = DHCP_NO_TIMEOUT;
	c->deadline_ms = DHCP_NO_TIMEOUT;
	return 0;
}

static void set_state(struct dhcp_client *c, enum dhcp_state state, uint64_t now_ms)
{
	if (c->state == state)
		return;
	log_debug("%s: DHCP %s -> %s at +%llu ms", c->cfg.ifname, dhcp_state_name(c->state),
		  dhcp_state_name(state), (unsigned long long)(now_ms - c->start_ms));
	c->state = state;
}

static void ip4_str(uint32_t addr_be, char buf[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &addr_be, buf, INET_ADDRSTRLEN);
}

/* Arms the retransmission timer: the current backoff ± jitter, then doubles
 * the backoff up to the cap (RFC 2131 §4.1). */
static void arm_timer(struct dhcp_client *c, uint64_t now_ms)
{
	int64_t delay = c->backoff_ms;
	if (c->cfg.jitter_ms) {
		uint32_t span = 2 * c->cfg.jitter_ms + 1;
		delay += (int64_t)(c->ops.random(c->ops.ctx) % span) - c->cfg.jitter_ms;
	}
	if (delay < 1)
		delay = 1;
	c->timer_ms = now_ms + (uint64_t)delay;
	c->backoff_ms = c->backoff_ms > c->cfg.max_timeout_ms / 2 ? c->cfg.max_timeout_ms
								  : c->backoff_ms * 2;
}

static int send_message(struct dhcp_client *c, const struct dhcp_request *req, struct ip_error *err)
{
	uint8_t buf[DHCP_MIN_BOOTP_LEN + 64];
	int len = dhcp_message_build(req, buf, sizeof(buf));
	if (len < 0)
		return ip_fail(err, len, "%s: building %s: %s", c->cfg.ifname,
			       dhcp_message_type_name(req->type), strerror(-len));
	int r = c->ops.send(c->ops.ctx, buf, (size_t)len);
	if (r < 0)
		return ip_fail(err, r, "%s: sending %s: %s", c->cfg.ifname,
			       dhcp_message_type_name(req->type), strerror(-r));
	log_debug("%s: sent %s xid 0x%08x", c->cfg.ifname, dhcp_message_type_name(req->type), c->xid);
	return 0;
}

static uint16_t secs_since(uint64_t since_ms, uint64_t now_ms)
{
	uint64_t s = (now_ms - since_ms) / 1000;
	return s > 0xffff ? 0xffff : (uint16_t)s;
}

static int fail(struct dhcp_client *c, int code, uint64_t now_ms)
{
	set_state(c, DHCP_STATE_FAILED, now_ms);
	c->timer_ms = DHCP_NO_TIMEOUT;
	return code;
}

static int send_discover(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	struct dhcp_request req = {
		.type = DHCP_DISCOVER,
		.xid = c->xid,
		.secs = secs_since(c->cycle_start_ms, now_ms),
	};
	memcpy(req.mac, c->cfg.mac, sizeof(req.mac));
	int r = send_message(c, &req, err);
	if (r < 0)
		return fail(c, r, now_ms);
	c->discover_secs = req.secs;
	c->n_discovers++;
	c->attempts++;
	arm_timer(c, now_ms);
	return 0;
}

static int send_request(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	/* RFC 2131 §4.4.1: same 'secs' as the DISCOVER, server identifier and
	 * requested address from the OFFER, ciaddr zero. */
	struct dhcp_request req = {
		.type = DHCP_REQUEST,
		.xid = c->xid,
		.secs = c->discover_secs,
		.requested_ip = c->offered,
		.server_id = c->server_id,
	};
	memcpy(req.mac, c->cfg.mac, sizeof(req.mac));
	int r = send_message(c, &req, err);
	if (r < 0)
		return fail(c, r, now_ms);
	c->n_requests++;
	c->attempts++;
	arm_timer(c, now_ms);
	return 0;
}

/* INIT → SELECTING: a new xid and the first DISCOVER of a cycle. */
static int begin_cycle(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	c->xid = c->ops.random(c->ops.ctx);
	c->cycle_start_ms = now_ms;
	c->attempts = 0;
	c->backoff_ms = c->cfg.base_timeout_ms;
	c->offered = c->server_id = 0;
	set_state(c, DHCP_STATE_SELECTING, now_ms);
	return send_discover(c, now_ms, err);
}

int dhcp_client_start(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	if (c->state != DHCP_STATE_INIT)
		return ip_fail(err, -EALREADY, "%s: DHCP client already started", c->cfg.ifname);
	c->start_ms = now_ms;
	c->deadline_ms = c->cfg.budget_ms ? now_ms + c->cfg.budget_ms : DHCP_NO_TIMEOUT;
	return begin_cycle(c, now_ms, err);
}

uint64_t dhcp_client_next_timeout(const struct dhcp_client *c)
{
	if (c->state == DHCP_STATE_BOUND || c->state == DHCP_STATE_FAILED)
		return DHCP_NO_TIMEOUT;
	return c->timer_ms < c->deadline_ms ? c->timer_ms : c->deadline_ms;
}

/* "; ignored 3 replies (wrong xid)" — what the operator needs to know about
 * packets that did arrive. */
static void describe_drops(const struct dhcp_client *c, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!c->n_drops)
		return;
	int best = 0;
	for (int i = 1; i < DHCP_DROP_REASONS_; i++)
		if (c->drops[i] > c->drops[best])
			best = i;
	snprintf(buf, cap, "; ignored %u repl%s (mostly: %s)", c->n_drops,
		 c->n_drops == 1 ? "y" : "ies", dhcp_drop_reason_name((enum dhcp_drop_reason)best));
}

static int budget_exhausted(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	char drops[128], naks[48] = "", server[INET_ADDRSTRLEN];
	describe_drops(c, drops, sizeof(drops));
	if (c->n_naks)
		snprintf(naks, sizeof(naks), "; %u DHCPNAK%s", c->n_naks, c->n_naks == 1 ? "" : "s");
	double secs = (double)(now_ms - c->start_ms) / 1000.0;
	if (c->state == DHCP_STATE_REQUESTING) {
		ip4_str(c->server_id, server);
		ip_fail(err, -ETIMEDOUT,
			"%s: DHCP REQUESTING: no DHCPACK from server %s within %.1f s (%u DHCPREQUEST%s sent%s%s)",
			c->cfg.ifname, server, secs, c->n_requests, c->n_requests == 1 ? "" : "s",
			naks, drops);
	} else {
		ip_fail(err, -ETIMEDOUT,
			"%s: DHCP %s: no DHCPOFFER within %.1f s (%u DHCPDISCOVER%s sent%s%s)",
			c->cfg.ifname, dhcp_state_name(c->state), secs, c->n_discovers,
			c->n_discovers == 1 ? "" : "s", naks, drops);
	}
	return fail(c, -ETIMEDOUT, now_ms);
}

int dhcp_client_handle_timeout(struct dhcp_client *c, uint64_t now_ms, struct ip_error *err)
{
	if (c->state == DHCP_STATE_BOUND || c->state == DHCP_STATE_FAILED)
		return 0;
	if (now_ms >= c->deadline_ms)
		return budget_exhausted(c, now_ms, err);
	if (now_ms < c->timer_ms)
		return 0;
	switch (c->state) {
	case DHCP_STATE_INIT:
		return begin_cycle(c, now_ms, err);
	case DHCP_STATE_SELECTING:
		return send_discover(c, now_ms, err);
	case DHCP_STATE_REQUESTING:
		if (c->attempts < c->cfg.request_attempts)
			return send_request(c, now_ms, err);
		log_debug("%s: no answer to %u DHCPREQUESTs; starting over", c->cfg.ifname,
			  c->attempts);
		set_state(c, DHCP_STATE_INIT, now_ms);
		return begin_cycle(c, now_ms, err);
	default:
		return 0;
	}
}

static int drop(struct dhcp_client *c, enum dhcp_drop_reason reason)
{
	c->n_drops++;
	if (c->drops[reason]++ == 0)
		log_debug("%s: ignoring a DHCP message in %s: %s (logged once)", c->cfg.ifname,
			  dhcp_state_name(c->state), dhcp_drop_reason_name(reason));
	return DHCP_VERDICT_DROP;
}

/* A DHCPNAK may carry a message (option 56); log it, printable bytes only. */
static void log_nak(const struct dhcp_client *c, const struct dhcp_options *opts)
{
	size_t len = 0;
	const uint8_t *v = dhcp_options_get(opts, DHCP_OPT_MESSAGE, &len);
	char text[128] = "";
	size_t n = 0;
	for (size_t i = 0; v && i < len && n + 1 < sizeof(text); i++)
		text[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? (char)v[i] : '?';
	text[n] = '\0';
	log_debug("%s: DHCPNAK%s%s%s", c->cfg.ifname, n ? " (\"" : "", text, n ? "\")" : "");
}

int dhcp_client_handle_message(struct dhcp_client *c, const uint8_t *msg, size_t len,
			       uint64_t now_ms, struct ip_error *err)
{
	struct dhcp_header h;
	if (dhcp_header_parse(msg, len, &h) < 0)
		return drop(c, DHCP_DROP_MALFORMED);
	if (h.op != BOOTREPLY)
		return drop(c, DHCP_DROP_NOT_REPLY);
	if (h.htype != ARPHRD_ETHER_HTYPE || h.hlen != ETHER_ADDR_LEN_DHCP)
		return drop(c, DHCP_DROP_HTYPE);
	if (c->state != DHCP_STATE_SELECTING && c->state != DHCP_STATE_REQUESTING)
		return drop(c, DHCP_DROP_UNEXPECTED_TYPE);
	if (h.xid != c->xid)
		return drop(c, DHCP_DROP_XID);
	if (memcmp(h.chaddr, c->cfg.mac, ETHER_ADDR_LEN_DHCP) != 0)
		return drop(c, DHCP_DROP_CHADDR);

	struct dhcp_options opts;
	if (dhcp_options_parse(msg, len, &opts) < 0)
		return drop(c, DHCP_DROP_OPTIONS);
	struct dhcp_lease lease;
	if (dhcp_lease_from_options(&opts, h.yiaddr, &lease) < 0)
		return drop(c, DHCP_DROP_NO_TYPE);

	if (c->state == DHCP_STATE_SELECTING) {
		if (lease.message_type != DHCP_OFFER)
			return drop(c, DHCP_DROP_UNEXPECTED_TYPE);
		if (!lease.server_id)
			return drop(c, DHCP_DROP_NO_SERVER_ID);
		if (!dhcp_address_is_unicast(h.yiaddr))
			return drop(c, DHCP_DROP_BAD_ADDRESS);
		c->n_offers++;
		c->offered = h.yiaddr;
		c->server_id = lease.server_id;
		char a[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
		ip4_str(c->offered, a);
		ip4_str(c->server_id, s);
		log_debug("%s: DHCPOFFER of %s from %s", c->cfg.ifname, a, s);
		set_state(c, DHCP_STATE_REQUESTING, now_ms);
		c->attempts = 0;
		c->backoff_ms = c->cfg.base_timeout_ms;
		int r = send_request(c, now_ms, err);
		return r < 0 ? r : DHCP_VERDICT_ACCEPT;
	}

	/* REQUESTING */
	if (lease.message_type != DHCP_ACK && lease.message_type != DHCP_NAK)
		return drop(c, DHCP_DROP_UNEXPECTED_TYPE);
	/* RFC 2131 table 3: ACK and NAK carry the server identifier; one that
	 * names another server answers someone else's choice. */
	if (lease.server_id && lease.server_id != c->server_id)
		return drop(c, DHCP_DROP_OTHER_SERVER);
	if (lease.message_type == DHCP_NAK) {
		log_nak(c, &opts);
		c->n_naks++;
		set_state(c, DHCP_STATE_INIT, now_ms);
		c->timer_ms = now_ms + c->cfg.restart_delay_ms;
		return DHCP_VERDICT_RESTART;
	}
	if (!dhcp_address_is_unicast(h.yiaddr))
		return drop(c, DHCP_DROP_BAD_ADDRESS);
	if (!lease.server_id)
		lease.server_id = c->server_id;
	c->lease = lease;
	c->bound_ms = now_ms;
	c->timer_ms = DHCP_NO_TIMEOUT;
	set_state(c, DHCP_STATE_BOUND, now_ms);
	return DHCP_VERDICT_ACCEPT;
}

const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c)
{
	return c->state == DHCP_STATE_BOUND ? &c->lease : NULL;
}
