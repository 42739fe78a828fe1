#include "net/net.h"

#include "net/dhcp6_network.h"
#include "net/dhcp_client.h"
#include "net/dhcp_network.h"
#include "net/link.h"
#include "net/ndisc.h"
#include "net/ndisc_network.h"
#include "net/resolv.h"
#include "util/clock.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* How often a link without carrier is asked again. */
#define NET_CARRIER_POLL_MS 20
/* How often a Router Solicitation is retried while the link-local address
 * cannot be used yet (DAD without optimistic DAD takes about 1 s). */
#define NET_RS_RETRY_MS 100
/* Bound on duplicate address detection of the DHCPv6 address (one probe,
 * RetransTimer 1 s by default: RFC 4862 §5.4). */
#define NET_DAD_MAX_MS 3000

const char *net_family_name(enum net_family family)
{
	switch (family) {
	case NET_FAMILY_IPV4: return "ipv4";
	case NET_FAMILY_IPV6: return "ipv6";
	case NET_FAMILY_DUAL: return "dual";
	}
	return "?";
}

int net_family_parse(const char *text, enum net_family *out)
{
	static const enum net_family all[] = { NET_FAMILY_IPV4, NET_FAMILY_IPV6, NET_FAMILY_DUAL };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(text, net_family_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

void net_config_defaults(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->family = NET_FAMILY_DUAL;
	cfg->timeout_ms = NET_DEFAULT_TIMEOUT_MS;
	cfg->timeout6_ms = NET_DEFAULT_TIMEOUT_MS;
	cfg->grace_ms = NET_DEFAULT_GRACE_MS;
	cfg->carrier_timeout_ms = NET_DEFAULT_CARRIER_TIMEOUT_MS;
	cfg->resolv_conf = "/etc/resolv.conf";
}

enum iface_phase { IFACE_WAIT_CARRIER, IFACE_DHCP, IFACE_FAILED, IFACE_OFF };

/* IPv6 on one link: ROUTER (soliciting, waiting for an RA with the M flag),
 * DHCP (the DHCPv6 client runs; RAs still update the router), DONE (bound,
 * with a default router). */
enum iface6_phase { IFACE6_OFF, IFACE6_WAIT_CARRIER, IFACE6_ROUTER, IFACE6_DHCP, IFACE6_DONE,
		    IFACE6_FAILED };

struct iface {
	struct link_info info;
	enum iface_phase phase;
	uint64_t up_ms, carrier_ms;
	int fd;
	unsigned bad_packets;          /* malformed IP/UDP, logged once */
	uint32_t seed;
	struct dhcp_client client;
	struct ip_error err;

	enum iface6_phase phase6;
	int fd_ra, fd6;
	uint64_t rs_timer_ms, ra_ms, first_rs_ms;
	unsigned rs_sent, bad_ras;
	bool have_router, seen_ra, seen_ra_without_m;
	struct in6_addr router;
	struct ndisc_ra ra;            /* the last RA from the router we use */
	struct dhcp6_client client6;
	struct ip_error err6;
};

static int iface_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct iface *ifc = ctx;
	return dhcp_network_send(ifc->fd, ifc->info.ifindex, msg, len);
}

/* xid and jitter need to differ between clients, not to be secret: early in
 * boot getrandom() may not be ready, so fall back to a xorshift seeded from
 * the clock and the MAC rather than block. */
static uint32_t iface_random(void *ctx)
{
	struct iface *ifc = ctx;
	uint32_t v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	uint32_t x = ifc->seed ? ifc->seed : 2463534242u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	ifc->seed = x;
	return x;
}

static int iface_send6(void *ctx, const uint8_t *msg, size_t len)
{
	struct iface *ifc = ctx;
	return dhcp6_network_send(ifc->fd6, ifc->info.ifindex, msg, len);
}

static void iface_fail(struct iface *ifc)
{
	ifc->phase = IFACE_FAILED;
	if (ifc->fd >= 0)
		close(ifc->fd);
	ifc->fd = -1;
}

static void iface_fail6(struct iface *ifc)
{
	ifc->phase6 = IFACE6_FAILED;
	if (ifc->fd_ra >= 0)
		close(ifc->fd_ra);
	if (ifc->fd6 >= 0)
		close(ifc->fd6);
	ifc->fd_ra = ifc->fd6 = -1;
}

/* Finds the links to try: the named ones, or the candidates. */
static int find_links(struct link_ctx *lk, const struct net_config *cfg, struct iface *ifs,
		      size_t *n, struct ip_error *err)
{
	*n = 0;
	if (cfg->n_interfaces > 0) {
		if (cfg->n_interfaces > NET_MAX_INTERFACES)
			return ip_fail(err, -E2BIG, "more than %d interfaces named", NET_MAX_INTERFACES);
		for (size_t i = 0; i < cfg->n_interfaces; i++) {
			int r = link_get(lk, cfg->interfaces[i], &ifs[i].info, err);
			if (r < 0)
				return r;
			/* Named links skip the "physical" test (a veth is fine)
			 * but DHCP over Ethernet needs Ethernet. */
			if ((ifs[i].info.flags & IFF_LOOPBACK) || ifs[i].info.arptype != ARPHRD_ETHER ||
			    !ifs[i].info.has_mac)
				return ip_fail(err, -EINVAL, "%s: not an Ethernet interface; DHCP needs one",
					       cfg->interfaces[i]);
			(*n)++;
		}
		return 0;
	}
	struct link_info *all = calloc(LINK_MAX, sizeof(*all));
	if (!all)
		return ip_fail(err, -ENOMEM, "out of memory");
	size_t count = 0;
	int r = link_list(lk, all, LINK_MAX, &count, err);
	char skipped[256] = "";
	size_t sl = 0;
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *why = NULL;
		if (link_is_candidate(&all[i], &why) && all[i].has_mac && *n < NET_MAX_INTERFACES) {
			ifs[(*n)++].info = all[i];
			continue;
		}
		log_debug("%s: not a candidate: %s", all[i].name, why ? why : "no MAC or over the limit");
		int w = snprintf(skipped + sl, sizeof(skipped) - sl, "%s%s (%s)", sl ? ", " : "",
				 all[i].name, why ? why : "skipped");
		if (w > 0 && (size_t)w < sizeof(skipped) - sl)
			sl += (size_t)w;
	}
	free(all);
	if (r == 0 && *n == 0)
		r = ip_fail(err, -ENODEV,
			    "no physical Ethernet interface found (seen: %s); name one with --interface",
			    sl ? skipped : "none");
	return r;
}

/* Called when a link got carrier: open its socket and start DHCP. */
static void start_dhcp(struct iface *ifc, const struct net_config *cfg, uint64_t now,
		       uint64_t deadline)
{
	ifc->fd = dhcp_network_open(ifc->info.ifindex, ifc->info.name, &ifc->err);
	if (ifc->fd < 0) {
		iface_fail(ifc);
		return;
	}
	struct dhcp_client_config dc;
	dhcp_client_config_defaults(&dc);
	dc.ifname = ifc->info.name;
	memcpy(dc.mac, ifc->info.mac, sizeof(dc.mac));
	if (cfg->dhcp_base_timeout_ms) {
		dc.base_timeout_ms = cfg->dhcp_base_timeout_ms;
		dc.max_timeout_ms = cfg->dhcp_base_timeout_ms * 16;
		dc.jitter_ms = cfg->dhcp_base_timeout_ms / 4;
	}
	if (cfg->dhcp_restart_delay_ms)
		dc.restart_delay_ms = cfg->dhcp_restart_delay_ms;
	dc.budget_ms = deadline > now ? deadline - now : 1;
	struct dhcp_client_ops ops = { .send = iface_send, .random = iface_random, .ctx = ifc };
	int r = dhcp_client_init(&ifc->client, &dc, &ops);
	if (r < 0) {
		ip_fail(&ifc->err, r, "%s: DHCP client: %s", ifc->info.name, strerror(-r));
		iface_fail(ifc);
		return;
	}
	ifc->phase = IFACE_DHCP;
	if (dhcp_client_start(&ifc->client, now, &ifc->err) < 0)
		iface_fail(ifc);
}

/* IPv6 on a link with carrier: the ICMPv6 socket; the first Router
 * Solicitation goes out at once. */
static void start_ipv6(struct iface *ifc, uint64_t now)
{
	ifc->fd_ra = ndisc_network_open(ifc->info.ifindex, ifc->info.name, &ifc->err6);
	if (ifc->fd_ra < 0) {
		iface_fail6(ifc);
		return;
	}
	ifc->phase6 = IFACE6_ROUTER;
	ifc->rs_timer_ms = now;
}

static void check_carrier(struct link_ctx *lk, struct iface *ifc, const struct net_config *cfg,
			  uint64_t start, uint64_t now)
{
	bool carrier = false;
	struct ip_error lerr = { 0 };
	if (link_get_carrier(lk, ifc->info.ifindex, &carrier, &lerr) < 0) {
		ifc->err = ifc->err6 = lerr;
		if (ifc->phase == IFACE_WAIT_CARRIER)
			iface_fail(ifc);
		if (ifc->phase6 == IFACE6_WAIT_CARRIER)
			iface_fail6(ifc);
		return;
	}
	if (carrier) {
		ifc->carrier_ms = now;
		log_debug("%s: carrier after %llu ms", ifc->info.name,
			  (unsigned long long)(now - ifc->up_ms));
		if (cfg->on_link_up)
			cfg->on_link_up(cfg->event_ctx, ifc->info.name, now - start);
		if (ifc->phase == IFACE_WAIT_CARRIER)
			start_dhcp(ifc, cfg, now, start + cfg->timeout_ms);
		if (ifc->phase6 == IFACE6_WAIT_CARRIER)
			start_ipv6(ifc, now);
		return;
	}
	uint64_t longest = cfg->timeout_ms > cfg->timeout6_ms ? cfg->timeout_ms : cfg->timeout6_ms;
	if (now - ifc->up_ms >= cfg->carrier_timeout_ms || now >= start + longest) {
		ip_fail(&ifc->err, -ENOLINK, "%s: link: no carrier after %.1f s", ifc->info.name,
			(double)(now - ifc->up_ms) / 1000.0);
		ifc->err6 = ifc->err;
		if (ifc->phase == IFACE_WAIT_CARRIER)
			iface_fail(ifc);
		if (ifc->phase6 == IFACE6_WAIT_CARRIER)
			iface_fail6(ifc);
	}
}

static bool drain(struct iface *ifc, uint64_t now)
{
	uint8_t buf[DHCP_PACKET_MAX];
	for (;;) {
		const uint8_t *msg;
		size_t len;
		int r = dhcp_network_receive(ifc->fd, buf, sizeof(buf), &msg, &len);
		if (r == -EAGAIN)
			return false;
		if (r == -ENOMSG)
			continue;
		if (r == -EBADMSG) {
			if (ifc->bad_packets++ == 0)
				log_debug("%s: ignoring a malformed IP/UDP packet to port 68 (logged once)",
					  ifc->info.name);
			continue;
		}
		if (r < 0) {
			ip_fail(&ifc->err, r, "%s: receiving (DHCP %s): %s", ifc->info.name,
				dhcp_state_name(ifc->client.state), strerror(-r));
			iface_fail(ifc);
			return false;
		}
		r = dhcp_client_handle_message(&ifc->client, msg, len, now, &ifc->err);
		if (r < 0) {
			iface_fail(ifc);
			return false;
		}
		if (ifc->client.state == DHCP_STATE_BOUND)
			return true;
	}
}

/* The error when no link got a lease: the one link's message, or each
 * link's in turn. */

/* Sends a Router Solicitation when one is due: at once, again every
 * RTR_SOLICITATION_INTERVAL while no usable RA came (RFC 4861 §6.3.7 stops
 * after three; RFC 7559 lets a host go on, which a boot that needs the
 * network wants), and every NET_RS_RETRY_MS while the link-local address
 * cannot be used yet. */
static void solicit_router(struct iface *ifc, uint64_t now)
{
	if (now < ifc->rs_timer_ms || ifc->have_router)
		return;
	int r = ndisc_network_send_rs(ifc->fd_ra, ifc->info.ifindex, ifc->info.mac);
	if (r == -EADDRNOTAVAIL) {
		ifc->rs_timer_ms = now + NET_RS_RETRY_MS;
		return;
	}
	if (r < 0) {
		ip_fail(&ifc->err6, r, "%s: sending a Router Solicitation: %s", ifc->info.name, strerror(-r));
		iface_fail6(ifc);
		return;
	}
	if (ifc->rs_sent++ == 0) {
		ifc->first_rs_ms = now;
		log_debug("%s: sent a Router Solicitation", ifc->info.name);
	}
	ifc->rs_timer_ms = now + NDISC_RTR_SOLICITATION_INTERVAL_MS;
}

static void start_dhcp6(struct iface *ifc, const struct net_config *cfg, uint64_t now,
			uint64_t deadline)
{
	ifc->fd6 = dhcp6_network_open(ifc->info.ifindex, ifc->info.name, &ifc->err6);
	if (ifc->fd6 < 0) {
		iface_fail6(ifc);
		return;
	}
	struct dhcp6_client_config dc;
	dhcp6_client_config_defaults(&dc);
	dc.ifname = ifc->info.name;
	memcpy(dc.mac, ifc->info.mac, sizeof(dc.mac));
	dc.rapid_commit = cfg->dhcp6_rapid_commit;
	if (cfg->dhcp_restart_delay_ms)
		dc.restart_delay_ms = cfg->dhcp_restart_delay_ms;
	dc.budget_ms = deadline > now ? deadline - now : 1;
	struct dhcp6_client_ops ops = { .send = iface_send6, .random = iface_random, .ctx = ifc };
	int r = dhcp6_client_init(&ifc->client6, &dc, &ops);
	if (r < 0) {
		ip_fail(&ifc->err6, r, "%s: DHCPv6 client: %s", ifc->info.name, strerror(-r));
		iface_fail6(ifc);
		return;
	}
	ifc->phase6 = IFACE6_DHCP;
	if (dhcp6_client_start(&ifc->client6, now, &ifc->err6) < 0)
		iface_fail6(ifc);
}

/* One Router Advertisement: the router it names becomes (or stays, or
 * stops being) our default router; the first with the M flag starts
 * DHCPv6. */
static void on_router_advert(struct iface *ifc, const struct net_config *cfg, const struct ndisc_ra *ra,
			     const struct in6_addr *from, uint64_t now, uint64_t deadline6)
{
	char rtr[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, from, rtr, sizeof(rtr));
	log_debug("%s: router advertisement from %s: M=%d O=%d router lifetime %u s, %zu DNS, mtu %u",
		  ifc->info.name, rtr, ra->managed, ra->other, ra->router_lifetime, ra->n_dns, ra->mtu);
	ifc->seen_ra = true;
	bool same = ifc->have_router && memcmp(from, &ifc->router, sizeof(*from)) == 0;
	if (ra->router_lifetime > 0 && (!ifc->have_router || same)) {
		ifc->have_router = true;
		ifc->router = *from;
		ifc->ra = *ra;
	} else if (ra->router_lifetime == 0 && same) {
		ifc->have_router = false; /* RFC 4861 §6.3.4: no longer a default router */
	}
	if (!ra->managed) {
		ifc->seen_ra_without_m = true;
		return;
	}
	if (ifc->phase6 == IFACE6_ROUTER) {
		ifc->ra_ms = now;
		if (!ifc->have_router)
			ifc->ra = *ra; /* for its DNS options */
		start_dhcp6(ifc, cfg, now, deadline6);
	}
}

static void drain_ra(struct iface *ifc, const struct net_config *cfg, uint64_t now, uint64_t deadline6)
{
	uint8_t buf[1500];
	while (ifc->fd_ra >= 0) {
		size_t len = 0;
		struct in6_addr from;
		int r = ndisc_network_receive(ifc->fd_ra, buf, sizeof(buf), &len, &from);
		if (r == -EAGAIN)
			return;
		if (r == -ENOMSG)
			continue;
		if (r < 0) {
			ip_fail(&ifc->err6, r, "%s: receiving router advertisements: %s", ifc->info.name,
				strerror(-r));
			iface_fail6(ifc);
			return;
		}
		struct ndisc_ra ra;
		if (ndisc_ra_parse(buf, len, &ra) < 0) {
			if (ifc->bad_ras++ == 0)
				log_debug("%s: ignoring a malformed router advertisement (logged once)",
					  ifc->info.name);
			continue;
		}
		on_router_advert(ifc, cfg, &ra, &from, now, deadline6);
	}
}

static void drain_dhcp6(struct iface *ifc, uint64_t now)
{
	uint8_t buf[DHCP6_MESSAGE_MAX];
	while (ifc->phase6 == IFACE6_DHCP && ifc->client6.state != DHCP6_STATE_BOUND) {
		size_t len = 0;
		int r = dhcp6_network_receive(ifc->fd6, buf, sizeof(buf), &len);
		if (r == -EAGAIN)
			return;
		if (r == -ENOMSG)
			continue;
		if (r < 0) {
			ip_fail(&ifc->err6, r, "%s: receiving (DHCPv6 %s): %s", ifc->info.name,
				dhcp6_state_name(ifc->client6.state), strerror(-r));
			iface_fail6(ifc);
			return;
		}
		if (dhcp6_client_handle_message(&ifc->client6, buf, len, now, &ifc->err6) < 0)
			iface_fail6(ifc);
	}
}

/* IPv6 timers of one link: its budget, Router Solicitations, DHCPv6
 * retransmissions; DONE once bound with a default router. */
static void tick6(struct iface *ifc, uint64_t now, uint64_t deadline6, uint64_t start)
{
	if (ifc->phase6 == IFACE6_DHCP && ifc->client6.state == DHCP6_STATE_BOUND && ifc->have_router) {
		ifc->phase6 = IFACE6_DONE;
		return;
	}
	if (ifc->phase6 != IFACE6_ROUTER && ifc->phase6 != IFACE6_DHCP)
		return;
	double secs = (double)(now - start) / 1000.0;
	if (now >= deadline6) {
		if (ifc->phase6 == IFACE6_DHCP && ifc->client6.state == DHCP6_STATE_BOUND) {
			char a[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &ifc->client6.lease.address, a, sizeof(a));
			ip_fail(&ifc->err6, -ETIMEDOUT,
				"%s: IPv6: DHCPv6 offered %s but no router advertised a default route within %.1f s (router lifetime 0)",
				ifc->info.name, a, secs);
		} else if (ifc->phase6 == IFACE6_ROUTER && ifc->seen_ra_without_m) {
			ip_fail(&ifc->err6, -ENOTSUP,
				"%s: IPv6: the router advertises no managed addresses (M flag clear); only DHCPv6 (as on EC2) is supported, not SLAAC",
				ifc->info.name);
		} else if (ifc->phase6 == IFACE6_ROUTER) {
			ip_fail(&ifc->err6, -ETIMEDOUT,
				"%s: IPv6: no Router Advertisement within %.1f s (%u Router Solicitation%s sent)",
				ifc->info.name, secs, ifc->rs_sent, ifc->rs_sent == 1 ? "" : "s");
		}
		/* DHCP phase, not bound: dhcp6_client_handle_timeout says why. */
	}
	if (ifc->phase6 == IFACE6_ROUTER && now >= deadline6) {
		iface_fail6(ifc);
		return;
	}
	solicit_router(ifc, now);
	if (ifc->phase6 != IFACE6_DHCP)
		return;
	if (dhcp6_client_handle_timeout(&ifc->client6, now, &ifc->err6) < 0 ||
	    (now >= deadline6 && ifc->phase6 == IFACE6_DHCP)) {
		iface_fail6(ifc);
		return;
	}
}

/* The error of one family when no link got it: the one link's message, or
 * each link's in turn. */
static int family_error(struct iface *ifs, size_t n, bool v6, char *out, size_t cap)
{
	int code = -EIO;
	size_t len = 0;
	out[0] = '\0';
	size_t tried = 0;
	for (size_t i = 0; i < n; i++)
		tried += (v6 ? ifs[i].phase6 : ifs[i].phase) == (v6 ? IFACE6_FAILED : IFACE_FAILED);
	for (size_t i = 0; i < n; i++) {
		const struct ip_error *e = v6 ? &ifs[i].err6 : &ifs[i].err;
		if ((v6 ? ifs[i].phase6 : ifs[i].phase) != (v6 ? IFACE6_FAILED : IFACE_FAILED))
			continue;
		if (e->code)
			code = e->code;
		int w = snprintf(out + len, cap - len, "%s%s", len ? "; " : "", ip_error_str(e));
		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
	if (tried > 1) {
		char tmp[IP_ERROR_MSG_MAX];
		snprintf(tmp, sizeof(tmp), "no %s on any of %zu interfaces; %s", v6 ? "IPv6" : "lease", tried, out);
		snprintf(out, cap, "%s", tmp);
		code = -ETIMEDOUT;
	}
	return code;
}

/* Gives up a family that got nowhere while the other is up (see
 * family_cut), one line per link saying how far it got. */
static void give_up_family(struct iface *ifs, size_t n, bool v6, uint64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct iface *ifc = &ifs[i];
		if (v6 && ifc->phase6 != IFACE6_FAILED && ifc->phase6 != IFACE6_OFF) {
			ip_error_clear(&ifc->err6);
			if (ifc->seen_ra_without_m)
				ip_fail(&ifc->err6, -ENOTSUP,
					"%s: IPv6: the router advertises no managed addresses (M flag clear; SLAAC is not supported) and IPv4 is up",
					ifc->info.name);
			else
				ip_fail(&ifc->err6, -ETIMEDOUT,
					"%s: IPv6: no Router Advertisement with the M flag %.1f s after the first Router Solicitation (%u sent), and IPv4 is up",
					ifc->info.name,
					ifc->rs_sent ? (double)(now - ifc->first_rs_ms) / 1000.0 : 0.0, ifc->rs_sent);
			iface_fail6(ifc);
		} else if (!v6 && ifc->phase != IFACE_FAILED && ifc->phase != IFACE_OFF) {
			ip_error_clear(&ifc->err);
			ip_fail(&ifc->err, -ETIMEDOUT,
				"%s: DHCP %s: no DHCPOFFER %.1f s after the first DHCPDISCOVER (%u sent), and IPv6 is up",
				ifc->info.name, dhcp_state_name(ifc->client.state),
				ifc->phase == IFACE_DHCP ? (double)(now - ifc->client.start_ms) / 1000.0 : 0.0,
				ifc->client.n_discovers);
			iface_fail(ifc);
		}
	}
}

/* When a family that has got nowhere is given up, the other being up since
 * first_up: grace_ms after its own first solicitation (a router answers a
 * Router Solicitation within 0.5 s, RFC 4861 §6.2.6; a DHCP server a
 * DISCOVER as fast), so an IPv4-only link costs the dual default about
 * grace_ms, not grace_ms after a slow IPv4.  IPv6 links that heard only
 * RAs without the M flag have no address to wait for: at once. */
uint64_t net_give_up_at(const struct net_family_progress *p, uint64_t other_up_ms, uint32_t grace_ms)
{
	if (!other_up_ms)
		return UINT64_MAX;
	if (p->trying && p->only_unmanaged)
		return other_up_ms;
	uint64_t asked = p->first_ask_ms == UINT64_MAX ? other_up_ms : p->first_ask_ms;
	return asked + grace_ms > other_up_ms ? asked + grace_ms : other_up_ms;
}

static uint64_t family_cut(const struct iface *ifs, size_t n, bool v6, uint64_t first_up,
			   uint32_t grace_ms)
{
	struct net_family_progress p = { .only_unmanaged = v6, .first_ask_ms = UINT64_MAX };
	for (size_t i = 0; i < n; i++) {
		const struct iface *ifc = &ifs[i];
		if (v6 && (ifc->phase6 == IFACE6_ROUTER || ifc->phase6 == IFACE6_WAIT_CARRIER)) {
			p.trying = true;
			if (ifc->rs_sent && ifc->first_rs_ms < p.first_ask_ms)
				p.first_ask_ms = ifc->first_rs_ms;
			if (!ifc->seen_ra_without_m)
				p.only_unmanaged = false;
		} else if (!v6 && (ifc->phase == IFACE_DHCP || ifc->phase == IFACE_WAIT_CARRIER)) {
			p.trying = true;
			if (ifc->phase == IFACE_DHCP && ifc->client.start_ms < p.first_ask_ms)
				p.first_ask_ms = ifc->client.start_ms;
		}
	}
	return net_give_up_at(&p, first_up, grace_ms);
}

struct acquired {
	int win4, win6;                /* link index, or -1 */
	uint64_t first_up_ms;
};

/* Whether a family has got somewhere: an offer (IPv4), an RA with the M
 * flag (IPv6). */
static bool engaged(const struct iface *ifs, size_t n, bool v6)
{
	for (size_t i = 0; i < n; i++) {
		if (v6 && (ifs[i].phase6 == IFACE6_DHCP || ifs[i].phase6 == IFACE6_DONE))
			return true;
		if (!v6 && ifs[i].phase == IFACE_DHCP && ifs[i].client.n_offers > 0)
			return true;
	}
	return false;
}

static bool family_live(const struct iface *ifs, size_t n, bool v6)
{
	for (size_t i = 0; i < n; i++)
		if (v6 ? (ifs[i].phase6 != IFACE6_FAILED && ifs[i].phase6 != IFACE6_OFF)
		       : (ifs[i].phase != IFACE_FAILED && ifs[i].phase != IFACE_OFF))
			return true;
	return false;
}

/* Stops a family's work on every link but the winner. */
static void stop_losers(struct iface *ifs, size_t n, size_t winner, bool v6)
{
	for (size_t i = 0; i < n; i++) {
		if (i == winner)
			continue;
		if (v6 && ifs[i].phase6 != IFACE6_FAILED) {
			iface_fail6(&ifs[i]);
			ifs[i].phase6 = IFACE6_OFF;
		} else if (!v6 && ifs[i].phase != IFACE_FAILED) {
			iface_fail(&ifs[i]);
			ifs[i].phase = IFACE_OFF;
		}
	}
	if (v6) {
		if (ifs[winner].fd_ra >= 0)
			close(ifs[winner].fd_ra);
		if (ifs[winner].fd6 >= 0)
			close(ifs[winner].fd6);
		ifs[winner].fd_ra = ifs[winner].fd6 = -1;
	} else if (ifs[winner].fd >= 0) {
		close(ifs[winner].fd);
		ifs[winner].fd = -1;
	}
}

/* Runs carrier waits, DHCPv4 and IPv6 on all links until every family
 * asked for is up or given up (see net.h for the grace rule). */
static int acquire(struct link_ctx *lk, const struct net_config *cfg, struct iface *ifs, size_t n,
		   uint64_t start, struct acquired *out, struct net_result *res, struct ip_error *err)
{
	bool want4 = cfg->family & NET_FAMILY_IPV4, want6 = cfg->family & NET_FAMILY_IPV6;
	uint64_t deadline4 = start + cfg->timeout_ms, deadline6 = start + cfg->timeout6_ms;
	struct pollfd pfds[3 * NET_MAX_INTERFACES];
	size_t owner[3 * NET_MAX_INTERFACES];
	out->win4 = out->win6 = -1;
	out->first_up_ms = 0;
	for (;;) {
		uint64_t now = monotonic_ms();
		bool waiting_carrier = false;
		for (size_t i = 0; i < n; i++) {
			struct iface *ifc = &ifs[i];
			if (ifc->phase == IFACE_WAIT_CARRIER || ifc->phase6 == IFACE6_WAIT_CARRIER)
				check_carrier(lk, ifc, cfg, start, now);
			if (ifc->phase == IFACE_DHCP && dhcp_client_handle_timeout(&ifc->client, now, &ifc->err) < 0)
				iface_fail(ifc);
			tick6(ifc, now, deadline6, start);
			if (ifc->phase == IFACE_WAIT_CARRIER || ifc->phase6 == IFACE6_WAIT_CARRIER)
				waiting_carrier = true;
			if (out->win4 < 0 && ifc->phase == IFACE_DHCP && ifc->client.state == DHCP_STATE_BOUND)
				out->win4 = (int)i;
			if (out->win6 < 0 && ifc->phase6 == IFACE6_DONE)
				out->win6 = (int)i;
		}
		if (out->win4 >= 0 && ifs[out->win4].fd >= 0) {
			stop_losers(ifs, n, (size_t)out->win4, false);
			if (!out->first_up_ms)
				out->first_up_ms = now;
		}
		if (out->win6 >= 0 && (ifs[out->win6].fd_ra >= 0 || ifs[out->win6].fd6 >= 0)) {
			stop_losers(ifs, n, (size_t)out->win6, true);
			if (!out->first_up_ms)
				out->first_up_ms = now;
		}
		/* The grace rule. */
		uint64_t cut4 = family_cut(ifs, n, false, out->first_up_ms, cfg->grace_ms);
		uint64_t cut6 = family_cut(ifs, n, true, out->first_up_ms, cfg->grace_ms);
		if (want4 && out->win4 < 0 && out->win6 >= 0 && !engaged(ifs, n, false) && now >= cut4)
			give_up_family(ifs, n, false, now);
		if (want6 && out->win6 < 0 && out->win4 >= 0 && !engaged(ifs, n, true) && now >= cut6)
			give_up_family(ifs, n, true, now);
		bool live4 = want4 && out->win4 < 0 && family_live(ifs, n, false);
		bool live6 = want6 && out->win6 < 0 && family_live(ifs, n, true);
		if (!live4 && !live6)
			break;

		uint64_t wake = UINT64_MAX;
		if (live4 && deadline4 < wake)
			wake = deadline4;
		if (live6 && deadline6 < wake)
			wake = deadline6;
		if (live4 && out->win6 >= 0 && !engaged(ifs, n, false) && cut4 < wake)
			wake = cut4;
		if (live6 && out->win4 >= 0 && !engaged(ifs, n, true) && cut6 < wake)
			wake = cut6;
		if (waiting_carrier && now + NET_CARRIER_POLL_MS < wake)
			wake = now + NET_CARRIER_POLL_MS;
		size_t nfds = 0;
		for (size_t i = 0; i < n; i++) {
			struct iface *ifc = &ifs[i];
			if (ifc->phase == IFACE_DHCP && ifc->fd >= 0) {
				uint64_t t = dhcp_client_next_timeout(&ifc->client);
				if (t < wake)
					wake = t;
				pfds[nfds] = (struct pollfd){ .fd = ifc->fd, .events = POLLIN };
				owner[nfds++] = i;
			}
			if ((ifc->phase6 == IFACE6_ROUTER || ifc->phase6 == IFACE6_DHCP) && ifc->fd_ra >= 0) {
				if (!ifc->have_router && ifc->rs_timer_ms < wake)
					wake = ifc->rs_timer_ms;
				pfds[nfds] = (struct pollfd){ .fd = ifc->fd_ra, .events = POLLIN };
				owner[nfds++] = i;
			}
			if (ifc->phase6 == IFACE6_DHCP && ifc->fd6 >= 0) {
				uint64_t t = dhcp6_client_next_timeout(&ifc->client6);
				if (t < wake)
					wake = t;
				pfds[nfds] = (struct pollfd){ .fd = ifc->fd6, .events = POLLIN };
				owner[nfds++] = i;
			}
		}
		uint64_t wait = wake > now ? wake - now : 0;
		int timeout = wait > 60000 ? 60000 : (int)wait;
		int r = poll(pfds, nfds, timeout);
		if (r < 0 && errno != EINTR)
			return ip_fail(err, -errno, "waiting for DHCP replies: %s", strerror(errno));
		now = monotonic_ms();
		for (size_t k = 0; r > 0 && k < nfds; k++) {
			struct iface *ifc = &ifs[owner[k]];
			if (!(pfds[k].revents & (POLLIN | POLLERR)))
				continue;
			if (pfds[k].fd == ifc->fd && ifc->phase == IFACE_DHCP)
				drain(ifc, now);
			else if (pfds[k].fd == ifc->fd_ra)
				drain_ra(ifc, cfg, now, deadline6);
			else if (pfds[k].fd == ifc->fd6)
				drain_dhcp6(ifc, now);
		}
	}
	if (want4 && out->win4 < 0)
		family_error(ifs, n, false, res->ipv4_error, sizeof(res->ipv4_error));
	if (want6 && out->win6 < 0)
		family_error(ifs, n, true, res->ipv6_error, sizeof(res->ipv6_error));
	if (out->win4 >= 0 || out->win6 >= 0)
		return 0;
	if (!want6)
		return ip_fail(err, family_error(ifs, n, false, res->ipv4_error, sizeof(res->ipv4_error)),
			       "%s", res->ipv4_error);
	if (!want4)
		return ip_fail(err, family_error(ifs, n, true, res->ipv6_error, sizeof(res->ipv6_error)),
			       "%s", res->ipv6_error);
	return ip_fail(err, family_error(ifs, n, false, res->ipv4_error, sizeof(res->ipv4_error)),
		       "%s; IPv6: %s", res->ipv4_error, res->ipv6_error);
}

static int apply_lease(struct link_ctx *lk, struct net_result *res, unsigned current_mtu,
		       struct ip_error *err)
{
	const struct dhcp_lease *l = &res->lease;
	const char *name = res->ifname;
	if (l->mtu && l->mtu != current_mtu) {
		struct ip_error mtu_err = { 0 };
		if (link_set_mtu(lk, name, res->ifindex, l->mtu, &mtu_err) == 0)
			res->mtu_applied = true;
		else
			snprintf(res->mtu_error, sizeof(res->mtu_error), "%s", ip_error_str(&mtu_err));
	}
	int r = link_add_address(lk, name, res->ifindex, l, err);
	if (r < 0)
		return r;
	res->configured = true;
	return link_add_routes(lk, name, res->ifindex, l, &res->n_routes, err);
}

/* The /128 (RFC 8415 §21.6: IA_NA addresses carry no prefix length), DAD
 * on it (bounded; a duplicate fails the family), then the default route. */
static int apply_ipv6(struct link_ctx *lk, struct net_result *res, struct ip_error *err)
{
	const struct dhcp6_lease *l = &res->lease6;
	const char *name = res->ifname6;
	char addr[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &l->address, addr, sizeof(addr));
	int r = link_add_address6(lk, name, res->ifindex6, &l->address, 128, l->valid_lft,
				  l->preferred_lft, err);
	if (r < 0)
		return r;
	res->configured6 = true;
	uint64_t t0 = monotonic_ms();
	for (;;) {
		bool present, tentative, dad_failed;
		r = link_address6_state(lk, res->ifindex6, &l->address, &present, &tentative, &dad_failed, err);
		if (r < 0)
			return r;
		if (dad_failed)
			return ip_fail(err, -EADDRINUSE,
				       "%s: %s: duplicate address detection failed: another host on the link uses it",
				       name, addr);
		if (!present || !tentative)
			break;
		if (monotonic_ms() - t0 >= NET_DAD_MAX_MS) {
			log_debug("%s: %s still tentative after %u ms; going on", name, addr, NET_DAD_MAX_MS);
			break;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	res->dad_ms = monotonic_ms() - t0;
	return link_add_default_route6(lk, name, res->ifindex6, &res->router6, res->router_lifetime, err);
}

static void add_dns6(struct resolv_ipv6 *d, const struct in6_addr *a)
{
	for (size_t i = 0; i < d->n_dns; i++)
		if (memcmp(&d->dns[i], a, sizeof(*a)) == 0)
			return;
	if (d->n_dns < RESOLV_MAX_DNS6)
		d->dns[d->n_dns++] = *a;
}

static void add_search6(struct resolv_ipv6 *d, const char *names)
{
	size_t used = strlen(d->search);
	if (!names[0] || used + 1 + strlen(names) + 1 > sizeof(d->search))
		return;
	snprintf(d->search + used, sizeof(d->search) - used, "%s%s", used ? " " : "", names);
}

static void take_ipv6(struct net_result *res, const struct iface *w, uint64_t start)
{
	snprintf(res->ifname6, sizeof(res->ifname6), "%s", w->info.name);
	res->ifindex6 = w->info.ifindex;
	res->lease6 = w->client6.lease;
	res->router6 = w->router;
	res->router_lifetime = w->ra.router_lifetime;
	res->ra_managed = w->ra.managed;
	res->ra_other = w->ra.other;
	res->ra_mtu = w->ra.mtu;
	res->link_up6_ms = w->carrier_ms - start;
	res->ra_ms = w->ra_ms - w->carrier_ms;
	res->lease6_ms = w->client6.bound_ms - w->carrier_ms;
	res->rs_sent = w->rs_sent;
	res->dhcp6_solicits = w->client6.n_solicits;
	res->dhcp6_requests = w->client6.n_requests;
	res->dhcp6_restarts = w->client6.n_restarts;
	res->dhcp6_ignored = w->client6.n_drops;
	/* DNS: DHCPv6 first, then RDNSS (RFC 8106 §5.3.1 lets both feed the
	 * resolver); search names likewise. */
	memset(&res->dns6, 0, sizeof(res->dns6));
	res->dns6.ifname = res->ifname6;
	for (size_t i = 0; i < res->lease6.n_dns; i++)
		add_dns6(&res->dns6, &res->lease6.dns[i]);
	for (size_t i = 0; i < w->ra.n_dns; i++)
		add_dns6(&res->dns6, &w->ra.dns[i]);
	add_search6(&res->dns6, res->lease6.search);
	const char *p = w->ra.search;
	while (*p) {
		const char *sp = strchr(p, ' ');
		char one[DHCP6_SEARCH_MAX];
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (!strstr(res->dns6.search, one) || len == 0)
			add_search6(&res->dns6, one);
		p += len + (sp ? 1 : 0);
	}
}

static int write_resolv(const struct net_config *cfg, struct net_result *res, struct ip_error *err)
{
	if (!cfg->resolv_conf)
		return 0;
	char content[RESOLV_CONF_MAX];
	const char *name = res->ipv4_up ? res->ifname : res->ifname6;
	int len = resolv_format_both(res->ipv4_up ? &res->lease : NULL, res->ifname,
				     res->ipv6_up ? &res->dns6 : NULL, content, sizeof(content));
	if (len == -ENODATA) {
		log_debug("%s: no DNS server offered; %s left alone", name, cfg->resolv_conf);
		return 0;
	}
	if (len < 0)
		return ip_fail(err, len, "%s: formatting resolv.conf: %s", name, strerror(-len));
	int r = resolv_write(cfg->resolv_conf, content, (size_t)len, err);
	if (r == 0)
		res->resolv_written = true;
	return r;
}

/* Before the links go up: our RA handling instead of the kernel's, and a
 * link-local address usable at once.  A kernel without IPv6 fails IPv6 on
 * the link, not the boot. */
static void prepare_ipv6(struct iface *ifc, struct net_result *res)
{
	const char *name = ifc->info.name;
	int accept_ra, optimistic;
	int r = link_ipv6_sysctl_read(name, "accept_ra", &accept_ra);
	if (r < 0) {
		ip_fail(&ifc->err6, r, "%s: IPv6: cannot read /proc/sys/net/ipv6/conf/%s/accept_ra: %s%s",
			name, name, strerror(-r), r == -ENOENT ? " (IPv6 disabled in this kernel?)" : "");
		iface_fail6(ifc);
		return;
	}
	size_t k = res->n_saved++;
	snprintf(res->saved[k].name, sizeof(res->saved[k].name), "%s", name);
	res->saved[k].accept_ra = res->saved[k].optimistic_dad = -1;
	if (accept_ra != 0) {
		if ((r = link_ipv6_sysctl_write(name, "accept_ra", 0)) < 0) {
			ip_fail(&ifc->err6, r, "%s: IPv6: setting accept_ra to 0: %s", name, strerror(-r));
			iface_fail6(ifc);
			return;
		}
		res->saved[k].accept_ra = accept_ra;
	}
	/* Best effort: a kernel without CONFIG_IPV6_OPTIMISTIC_DAD has no such
	 * file, and then the first RS waits for DAD (about 1 s). */
	if (link_ipv6_sysctl_read(name, "optimistic_dad", &optimistic) == 0 && optimistic != 1 &&
	    link_ipv6_sysctl_write(name, "optimistic_dad", 1) == 0)
		res->saved[k].optimistic_dad = optimistic;
}

static void restore_ipv6_settings(struct net_result *res)
{
	for (size_t i = 0; i < res->n_saved; i++) {
		if (res->saved[i].accept_ra >= 0)
			link_ipv6_sysctl_write(res->saved[i].name, "accept_ra", res->saved[i].accept_ra);
		if (res->saved[i].optimistic_dad >= 0)
			link_ipv6_sysctl_write(res->saved[i].name, "optimistic_dad", res->saved[i].optimistic_dad);
	}
	res->n_saved = 0;
}

int net_up(const struct net_config *cfg, struct net_result *res, struct ip_error *err)
{
	memset(res, 0, sizeof(*res));
	res->family = cfg->family;
	bool want4 = cfg->family & NET_FAMILY_IPV4, want6 = cfg->family & NET_FAMILY_IPV6;
	uint64_t start = monotonic_ms();
	struct link_ctx *lk = NULL;
	struct iface *ifs = calloc(NET_MAX_INTERFACES, sizeof(*ifs));
	size_t n = 0;
	int r;
	if (!ifs)
		return ip_fail(err, -ENOMEM, "out of memory");
	if (!want4 && !want6) {
		free(ifs);
		return ip_fail(err, -EINVAL, "no address family to bring up");
	}
	for (size_t i = 0; i < NET_MAX_INTERFACES; i++)
		ifs[i].fd = ifs[i].fd_ra = ifs[i].fd6 = -1;
	if ((r = link_open(&lk, err)) < 0)
		goto out;
	if ((r = find_links(lk, cfg, ifs, &n, err)) < 0)
		goto out;
	res->n_links = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		struct iface *ifc = &ifs[i];
		ifc->phase = want4 ? IFACE_WAIT_CARRIER : IFACE_OFF;
		ifc->phase6 = want6 ? IFACE6_WAIT_CARRIER : IFACE6_OFF;
		if (want6)
			prepare_ipv6(ifc, res);
		ifc->up_ms = monotonic_ms();
		ifc->seed = (uint32_t)ifc->up_ms ^ (uint32_t)getpid() ^
			    (uint32_t)ifc->info.mac[5] << 24 ^ (uint32_t)ifc->info.mac[4] << 16;
		if (link_set_up(lk, ifc->info.name, ifc->info.ifindex, &ifc->err) < 0) {
			ifc->err6 = ifc->err;
			if (want4)
				iface_fail(ifc);
			if (ifc->phase6 != IFACE6_FAILED && want6)
				iface_fail6(ifc);
		}
	}
	struct acquired won;
	r = acquire(lk, cfg, ifs, n, start, &won, res, err);
	if (r < 0)
		goto out;

	uint64_t apply_start = monotonic_ms();
	if (won.win4 >= 0) {
		struct iface *win = &ifs[won.win4];
		snprintf(res->ifname, sizeof(res->ifname), "%s", win->info.name);
		res->ifindex = win->info.ifindex;
		memcpy(res->mac, win->info.mac, sizeof(res->mac));
		res->lease = win->client.lease;
		res->link_up_ms = win->carrier_ms - start;
		res->lease_ms = win->client.bound_ms - win->carrier_ms;
		res->dhcp_discovers = win->client.n_discovers;
		res->dhcp_requests = win->client.n_requests;
		res->dhcp_naks = win->client.n_naks;
		res->dhcp_ignored = win->client.n_drops;
		r = apply_lease(lk, res, win->info.mtu, err);
		if (r < 0) {
			ip_fail_ctx(err, r, "%s: applying the lease", res->ifname);
			goto fail;
		}
		res->ipv4_up = true;
	}
	if (won.win6 >= 0) {
		take_ipv6(res, &ifs[won.win6], start);
		struct ip_error err6 = { 0 };
		if (apply_ipv6(lk, res, &err6) < 0) {
			ip_fail_ctx(&err6, err6.code, "%s: applying IPv6", res->ifname6);
			if (!res->ipv4_up) {
				ip_fail(err, err6.code, "%s", ip_error_str(&err6));
				r = err6.code;
				goto fail;
			}
			snprintf(res->ipv6_error, sizeof(res->ipv6_error), "%s", ip_error_str(&err6));
			struct ip_error ignored = { 0 };
			link_remove_ipv6(lk, res->ifname6, res->ifindex6, &res->lease6.address, 128,
					 &res->router6, &ignored);
			res->configured6 = false;
		} else {
			res->ipv6_up = true;
		}
	}
	r = write_resolv(cfg, res, err);
	if (r < 0)
		goto fail;
	bool tentative;
	struct ip_error ignored = { 0 };
	int ll_index = res->ipv4_up ? res->ifindex : res->ifindex6;
	if (link_ipv6_link_local(lk, ll_index, &res->ipv6_link_local, &tentative, &ignored) < 0)
		res->ipv6_link_local = false;
	res->apply_ms = monotonic_ms() - apply_start;
	res->total_ms = monotonic_ms() - start;
	r = 0;
	goto out;
fail:
	if (res->configured) {
		struct ip_error ignored2 = { 0 };
		link_remove_lease(lk, res->ifname, res->ifindex, &res->lease, &ignored2);
		res->configured = false;
	}
	if (res->configured6) {
		struct ip_error ignored2 = { 0 };
		link_remove_ipv6(lk, res->ifname6, res->ifindex6, &res->lease6.address, 128, &res->router6,
				 &ignored2);
		res->configured6 = false;
	}
out:
	if (r < 0)
		restore_ipv6_settings(res);
	for (size_t i = 0; i < NET_MAX_INTERFACES; i++) {
		if (ifs[i].fd >= 0)
			close(ifs[i].fd);
		if (ifs[i].fd_ra >= 0)
			close(ifs[i].fd_ra);
		if (ifs[i].fd6 >= 0)
			close(ifs[i].fd6);
	}
	free(ifs);
	link_close(lk);
	return r;
}

bool net_only_ipv6(const struct net_result *res)
{
	const uint8_t *a = (const uint8_t *)&res->lease.address;
	bool ipv4_link_local = a[0] == 169 && a[1] == 254;
	return res->ipv6_up && (!res->ipv4_up || ipv4_link_local);
}

bool net_needs_release(const struct net_result *res)
{
	return res->configured || res->configured6 || res->n_saved > 0;
}

int net_release(struct net_result *res, struct ip_error *err)
{
	if (!net_needs_release(res))
		return 0;
	struct link_ctx *lk = NULL;
	int r = link_open(&lk, err);
	if (r < 0)
		return r;
	r = 0;
	if (res->configured) {
		r = link_remove_lease(lk, res->ifname, res->ifindex, &res->lease, err);
		if (r == 0)
			res->configured = false;
	}
	if (res->configured6) {
		int r6 = link_remove_ipv6(lk, res->ifname6, res->ifindex6, &res->lease6.address, 128,
					  &res->router6, err);
		if (r6 == 0)
			res->configured6 = false;
		else if (r == 0)
			r = r6;
	}
	link_close(lk);
	restore_ipv6_settings(res);
	return r;
}
