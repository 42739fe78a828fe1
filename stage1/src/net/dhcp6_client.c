#include "net/dhcp6_client.h"

#include "util/log.h"

#include <stdio.h>
#include <string.h>

const char *dhcp6_state_name(enum dhcp6_state state)
{
	switch (state) {
	case DHCP6_STATE_INIT: return "INIT";
	case DHCP6_STATE_SOLICITING: return "SOLICITING";
	case DHCP6_STATE_REQUESTING: return "REQUESTING";
	case DHCP6_STATE_BOUND: return "BOUND";
	case DHCP6_STATE_FAILED: return "FAILED";
	}
	return "?";
}

const char *dhcp6_drop_reason_name(enum dhcp6_drop_reason reason)
{
	static const char *const names[DHCP6_DROP_REASONS_] = {
		[DHCP6_DROP_MALFORMED] = "malformed message",
		[DHCP6_DROP_XID] = "wrong transaction id",
		[DHCP6_DROP_CLIENT_ID] = "no or another client identifier",
		[DHCP6_DROP_NO_SERVER_ID] = "no server identifier",
		[DHCP6_DROP_UNEXPECTED_TYPE] = "message type not expected now",
		[DHCP6_DROP_OTHER_SERVER] = "from a server we did not choose",
		[DHCP6_DROP_NO_ADDRS] = "no address offered",
		[DHCP6_DROP_SERVER_STATUS] = "server status UnspecFail/UseMulticast",
	};
	return (unsigned)reason < DHCP6_DROP_REASONS_ ? names[reason] : "?";
}

void dhcp6_client_config_defaults(struct dhcp6_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ifname = "?";
	cfg->sol_irt_ms = 1000;
	cfg->sol_mrt_ms = 3600 * 1000;
	cfg->req_irt_ms = 1000;
	cfg->req_mrt_ms = 30 * 1000;
	cfg->req_max_rc = 10;
	cfg->restart_delay_ms = 1000;
}

int dhcp6_client_init(struct dhcp6_client *c, const struct dhcp6_client_config *cfg,
		      const struct dhcp6_client_ops *ops)
{
	if (!ops || !ops->send || !ops->random || cfg->sol_irt_ms == 0 || cfg->req_irt_ms == 0 ||
	    cfg->sol_mrt_ms < cfg->sol_irt_ms || cfg->req_mrt_ms < cfg->req_irt_ms ||
	    cfg->req_max_rc == 0)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	if (!c->cfg.ifname)
		c->cfg.ifname = "?";
	c->ops = *ops;
	dhcp6_identity_from_mac(cfg->mac, &c->id);
	c->state = DHCP6_STATE_INIT;
	c->timer_ms = c->deadline_ms = c->first_rt_end_ms = DHCP6_NO_TIMEOUT;
	return 0;
}

static void set_state(struct dhcp6_client *c, enum dhcp6_state state, uint64_t now_ms)
{
	if (c->state == state)
		return;
	log_debug("%s: DHCPv6 %s -> %s at +%llu ms", c->cfg.ifname, dhcp6_state_name(c->state),
		  dhcp6_state_name(state), (unsigned long long)(now_ms - c->start_ms));
	c->state = state;
}

/* RAND of RFC 8415 §15 in units of 1/10000: uniform in [-1000, 1000], or
 * (1, 1000] when it must be strictly positive. */
static int32_t rand_permyriad(struct dhcp6_client *c, bool positive)
{
	uint32_t r = c->ops.random(c->ops.ctx);
	if (positive)
		return (int32_t)(r % 1000) + 1;
	return (int32_t)(r % 2001) - 1000;
}

static uint32_t scaled(uint32_t base_ms, int32_t rand_pm)
{
	int64_t v = (int64_t)base_ms + (int64_t)base_ms * rand_pm / 10000;
	return v < 1 ? 1 : (uint32_t)v;
}

/* The next RT (§15): the first from IRT, later ones doubling, capped. */
static void next_rt(struct dhcp6_client *c, uint32_t irt, uint32_t mrt, bool first_solicit)
{
	if (c->attempts == 0) {
		c->rt_ms = scaled(irt, rand_permyriad(c, first_solicit));
		if (first_solicit && c->rt_ms <= irt)
			c->rt_ms = irt + 1; /* "strictly greater", in whole ms */
		return;
	}
	uint64_t doubled = 2ull * c->rt_ms;
	uint32_t rt = doubled > mrt ? mrt : (uint32_t)doubled;
	int32_t rnd = rand_permyriad(c, false);
	c->rt_ms = doubled > mrt ? scaled(mrt, rnd) : (uint32_t)((int64_t)rt + (int64_t)c->rt_ms * rnd / 10000);
}

static int fail(struct dhcp6_client *c, int code, uint64_t now_ms)
{
	set_state(c, DHCP6_STATE_FAILED, now_ms);
	c->timer_ms = DHCP6_NO_TIMEOUT;
	return code;
}

static int send_message(struct dhcp6_client *c, uint8_t type, uint64_t now_ms, struct ip_error *err)
{
	uint64_t cs = (now_ms - c->exchange_start_ms) / 10;
	struct dhcp6_request req = {
		.type = type,
		.xid = c->xid,
		/* §21.9: 0 in the first message of an exchange, 0xffff at most. */
		.elapsed_cs = c->attempts == 0 ? 0 : (cs > 0xffff ? 0xffff : (uint16_t)cs),
		.rapid_commit = c->cfg.rapid_commit,
		.id = &c->id,
		.server_duid = c->server_duid,
		.server_duid_len = c->server_duid_len,
	};
	uint8_t buf[256];
	int len = dhcp6_message_build(&req, buf, sizeof(buf));
	if (len < 0)
		return fail(c, ip_fail(err, len, "%s: building a DHCPv6 %s: %s", c->cfg.ifname,
				       dhcp6_message_type_name(type), strerror(-len)), now_ms);
	int r = c->ops.send(c->ops.ctx, buf, (size_t)len);
	if (r < 0)
		return fail(c, ip_fail(err, r, "%s: sending a DHCPv6 %s: %s", c->cfg.ifname,
				       dhcp6_message_type_name(type), strerror(-r)), now_ms);
	log_debug("%s: sent DHCPv6 %s xid 0x%06x", c->cfg.ifname, dhcp6_message_type_name(type), c->xid);
	bool solicit = type == DHCP6_SOLICIT;
	next_rt(c, solicit ? c->cfg.sol_irt_ms : c->cfg.req_irt_ms,
		solicit ? c->cfg.sol_mrt_ms : c->cfg.req_mrt_ms, solicit);
	if (solicit && c->attempts == 0)
		c->first_rt_end_ms = now_ms + c->rt_ms;
	c->attempts++;
	c->timer_ms = now_ms + c->rt_ms;
	if (solicit)
		c->n_solicits++;
	else
		c->n_requests++;
	return 0;
}

static int begin_solicit(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err)
{
	c->xid = c->ops.random(c->ops.ctx) & 0xffffff;
	c->exchange_start_ms = now_ms;
	c->attempts = 0;
	c->have_advertise = false;
	c->server_duid_len = 0;
	set_state(c, DHCP6_STATE_SOLICITING, now_ms);
	return send_message(c, DHCP6_SOLICIT, now_ms, err);
}

static int begin_request(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err)
{
	/* §18.2.2: a new transaction id for the Request. */
	c->xid = c->ops.random(c->ops.ctx) & 0xffffff;
	c->exchange_start_ms = now_ms;
	c->attempts = 0;
	set_state(c, DHCP6_STATE_REQUESTING, now_ms);
	return send_message(c, DHCP6_REQUEST, now_ms, err);
}

int dhcp6_client_start(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err)
{
	if (c->state != DHCP6_STATE_INIT)
		return ip_fail(err, -EALREADY, "%s: DHCPv6 client already started", c->cfg.ifname);
	c->start_ms = now_ms;
	c->deadline_ms = c->cfg.budget_ms ? now_ms + c->cfg.budget_ms : DHCP6_NO_TIMEOUT;
	return begin_solicit(c, now_ms, err);
}

uint64_t dhcp6_client_next_timeout(const struct dhcp6_client *c)
{
	if (c->state == DHCP6_STATE_BOUND || c->state == DHCP6_STATE_FAILED)
		return DHCP6_NO_TIMEOUT;
	return c->timer_ms < c->deadline_ms ? c->timer_ms : c->deadline_ms;
}

static int budget_exhausted(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err)
{
	char seen[256] = "";
	size_t len = 0;
	if (c->n_noaddrs)
		len += (size_t)snprintf(seen + len, sizeof(seen) - len, "; %u answer%s offered no address%s%s",
					c->n_noaddrs, c->n_noaddrs == 1 ? "" : "s",
					c->last_status[0] ? ": " : "", c->last_status);
	unsigned other = c->n_drops - c->drops[DHCP6_DROP_NO_ADDRS];
	if (other && len < sizeof(seen)) {
		int best = 0;
		for (int i = 1; i < DHCP6_DROP_REASONS_; i++)
			if (i != DHCP6_DROP_NO_ADDRS && c->drops[i] > c->drops[best])
				best = i;
		snprintf(seen + len, sizeof(seen) - len, "; ignored %u message%s (mostly: %s)", other,
			 other == 1 ? "" : "s", dhcp6_drop_reason_name((enum dhcp6_drop_reason)best));
	}
	double secs = (double)(now_ms - c->start_ms) / 1000.0;
	if (c->state == DHCP6_STATE_REQUESTING)
		ip_fail(err, -ETIMEDOUT, "%s: DHCPv6 REQUESTING: no Reply within %.1f s (%u Request%s sent%s)",
			c->cfg.ifname, secs, c->n_requests, c->n_requests == 1 ? "" : "s", seen);
	else
		ip_fail(err, -ETIMEDOUT, "%s: DHCPv6 %s: no usable Advertise within %.1f s (%u Solicit%s sent%s)",
			c->cfg.ifname, dhcp6_state_name(c->state), secs, c->n_solicits,
			c->n_solicits == 1 ? "" : "s", seen);
	return fail(c, -ETIMEDOUT, now_ms);
}

int dhcp6_client_handle_timeout(struct dhcp6_client *c, uint64_t now_ms, struct ip_error *err)
{
	if (c->state == DHCP6_STATE_BOUND || c->state == DHCP6_STATE_FAILED)
		return 0;
	if (now_ms >= c->deadline_ms)
		return budget_exhausted(c, now_ms, err);
	if (now_ms < c->timer_ms)
		return 0;
	switch (c->state) {
	case DHCP6_STATE_INIT:
		return begin_solicit(c, now_ms, err);
	case DHCP6_STATE_SOLICITING:
		if (c->have_advertise)
			return begin_request(c, now_ms, err);
		return send_message(c, DHCP6_SOLICIT, now_ms, err);
	case DHCP6_STATE_REQUESTING:
		if (c->attempts < c->cfg.req_max_rc)
			return send_message(c, DHCP6_REQUEST, now_ms, err);
		log_debug("%s: no Reply to %u DHCPv6 Requests; soliciting again", c->cfg.ifname,
			  c->attempts);
		c->n_restarts++;
		return begin_solicit(c, now_ms, err);
	default:
		return 0;
	}
}

static int drop(struct dhcp6_client *c, enum dhcp6_drop_reason reason)
{
	c->n_drops++;
	if (c->drops[reason]++ == 0)
		log_debug("%s: ignoring a DHCPv6 message in %s: %s (logged once)", c->cfg.ifname,
			  dhcp6_state_name(c->state), dhcp6_drop_reason_name(reason));
	return DHCP_VERDICT_DROP;
}

/* Whether the reply binds an address; if not, remembers the status the
 * server gave for the final error message. */
static bool offers_address(struct dhcp6_client *c, const struct dhcp6_reply *r)
{
	bool top_fail = r->has_status && r->status != DHCP6_STATUS_SUCCESS;
	bool ia_fail = r->ia_has_status && r->ia_status != DHCP6_STATUS_SUCCESS;
	if (!top_fail && !ia_fail && r->has_address)
		return true;
	c->n_noaddrs++;
	uint16_t code = top_fail ? r->status : ia_fail ? r->ia_status : DHCP6_STATUS_NO_ADDRS_AVAIL;
	const char *text = top_fail ? r->status_text : ia_fail ? r->ia_status_text : "";
	if (top_fail || ia_fail)
		snprintf(c->last_status, sizeof(c->last_status), "%s%s%s%s", dhcp6_status_name(code),
			 text[0] ? " (\"" : "", text, text[0] ? "\")" : "");
	else
		snprintf(c->last_status, sizeof(c->last_status), "no IA_NA address");
	log_debug("%s: DHCPv6 %s without an address: %s", c->cfg.ifname,
		  dhcp6_message_type_name(r->type), c->last_status);
	return false;
}

static int bind_lease(struct dhcp6_client *c, const struct dhcp6_reply *r, uint64_t now_ms)
{
	struct dhcp6_lease *l = &c->lease;
	memset(l, 0, sizeof(*l));
	l->address = r->address;
	l->preferred_lft = r->preferred_lft;
	l->valid_lft = r->valid_lft;
	l->t1 = r->t1;
	l->t2 = r->t2;
	memcpy(l->dns, r->dns, sizeof(l->dns));
	l->n_dns = r->n_dns;
	memcpy(l->search, r->search, sizeof(l->search));
	memcpy(l->server_duid, r->server_duid, r->server_duid_len);
	l->server_duid_len = r->server_duid_len;
	l->rapid_commit = r->rapid_commit;
	c->bound_ms = now_ms;
	c->timer_ms = DHCP6_NO_TIMEOUT;
	set_state(c, DHCP6_STATE_BOUND, now_ms);
	return DHCP_VERDICT_ACCEPT;
}

static int on_advertise(struct dhcp6_client *c, const struct dhcp6_reply *r, uint64_t now_ms,
			struct ip_error *err)
{
	if (!offers_address(c, r))
		return drop(c, DHCP6_DROP_NO_ADDRS); /* §18.2.9 */
	c->n_advertises++;
	if (!c->have_advertise || r->preference > c->best_preference) {
		c->have_advertise = true;
		c->best_preference = r->preference;
		memcpy(c->server_duid, r->server_duid, r->server_duid_len);
		c->server_duid_len = r->server_duid_len;
	}
	/* §18.2.1: collect for the first RT unless the preference is 255;
	 * after the first RT, the first Advertise ends the Solicit. */
	if (r->preference == 255 || now_ms >= c->first_rt_end_ms) {
		int e = begin_request(c, now_ms, err);
		if (e < 0)
			return e;
	} else {
		c->timer_ms = c->first_rt_end_ms;
	}
	return DHCP_VERDICT_ACCEPT;
}

static int restart(struct dhcp6_client *c, uint64_t now_ms)
{
	c->n_restarts++;
	set_state(c, DHCP6_STATE_INIT, now_ms);
	c->timer_ms = now_ms + c->cfg.restart_delay_ms;
	return DHCP_VERDICT_RESTART;
}

int dhcp6_client_handle_message(struct dhcp6_client *c, const uint8_t *msg, size_t len,
				uint64_t now_ms, struct ip_error *err)
{
	struct dhcp6_reply r;
	if (dhcp6_reply_parse(msg, len, c->id.iaid, &r) < 0)
		return drop(c, DHCP6_DROP_MALFORMED);
	if (c->state != DHCP6_STATE_SOLICITING && c->state != DHCP6_STATE_REQUESTING)
		return drop(c, DHCP6_DROP_UNEXPECTED_TYPE);
	if (r.type != DHCP6_ADVERTISE && r.type != DHCP6_REPLY)
		return drop(c, DHCP6_DROP_UNEXPECTED_TYPE);
	if (r.xid != c->xid)
		return drop(c, DHCP6_DROP_XID);
	/* §16.3, §16.10: Advertise and Reply carry our Client Identifier and the
	 * server's. */
	if (r.client_duid_len != c->id.duid_len || memcmp(r.client_duid, c->id.duid, c->id.duid_len) != 0)
		return drop(c, DHCP6_DROP_CLIENT_ID);
	if (!r.server_duid_len)
		return drop(c, DHCP6_DROP_NO_SERVER_ID);

	if (c->state == DHCP6_STATE_SOLICITING) {
		if (r.type == DHCP6_ADVERTISE)
			return on_advertise(c, &r, now_ms, err);
		/* §18.2.1: a Reply to a Solicit only with Rapid Commit, and only
		 * when we asked for it. */
		if (!c->cfg.rapid_commit || !r.rapid_commit)
			return drop(c, DHCP6_DROP_UNEXPECTED_TYPE);
		if (!offers_address(c, &r))
			return restart(c, now_ms);
		return bind_lease(c, &r, now_ms);
	}

	/* REQUESTING */
	if (r.type != DHCP6_REPLY)
		return drop(c, DHCP6_DROP_UNEXPECTED_TYPE);
	if (r.server_duid_len != c->server_duid_len ||
	    memcmp(r.server_duid, c->server_duid, c->server_duid_len) != 0)
		return drop(c, DHCP6_DROP_OTHER_SERVER);
	/* §18.2.10.1: UnspecFail and UseMulticast: retransmit (we already
	 * multicast); NotOnLink, or an IA_NA without address: Solicit again. */
	if (r.has_status && (r.status == DHCP6_STATUS_UNSPEC_FAIL || r.status == DHCP6_STATUS_USE_MULTICAST))
		return drop(c, DHCP6_DROP_SERVER_STATUS);
	if (!offers_address(c, &r))
		return restart(c, now_ms);
	return bind_lease(c, &r, now_ms);
}

const struct dhcp6_lease *dhcp6_client_lease(const struct dhcp6_client *c)
{
	return c->state == DHCP6_STATE_BOUND ? &c->lease : NULL;
}
