#include "net/net.h"

#include "net/dhcp_client.h"
#include "net/dhcp_network.h"
#include "net/link.h"
#include "net/resolv.h"
#include "util/log.h"

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

void net_config_defaults(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 30000;
	cfg->carrier_timeout_ms = 10000;
	cfg->resolv_conf = "/etc/resolv.conf";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum iface_phase { IFACE_WAIT_CARRIER, IFACE_DHCP, IFACE_FAILED };

struct iface {
	struct link_info info;
	enum iface_phase phase;
	uint64_t up_ms, carrier_ms;
	int fd;
	unsigned bad_packets;          /* malformed IP/UDP, logged once */
	uint32_t seed;
	struct dhcp_client client;
	struct ip_error err;
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

static void iface_fail(struct iface *ifc)
{
	ifc->phase = IFACE_FAILED;
	if (ifc->fd >= 0)
		close(ifc->fd);
	ifc->fd = -1;
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

static void check_carrier(struct link_ctx *lk, struct iface *ifc, const struct net_config *cfg,
			  uint64_t start, uint64_t now, uint64_t deadline)
{
	bool carrier = false;
	if (link_get_carrier(lk, ifc->info.ifindex, &carrier, &ifc->err) < 0) {
		iface_fail(ifc);
		return;
	}
	if (carrier) {
		ifc->carrier_ms = now;
		log_debug("%s: carrier after %llu ms", ifc->info.name,
			  (unsigned long long)(now - ifc->up_ms));
		if (cfg->on_link_up)
			cfg->on_link_up(cfg->event_ctx, ifc->info.name, now - start);
		start_dhcp(ifc, cfg, now, deadline);
		return;
	}
	if (now - ifc->up_ms >= cfg->carrier_timeout_ms || now >= deadline) {
		ip_fail(&ifc->err, -ENOLINK,
			"%s: link: no carrier after %.1f s",
			ifc->info.name, (double)(now - ifc->up_ms) / 1000.0);
		iface_fail(ifc);
	}
}

/* Reads everything queued on one link's socket.  Returns true when its
 * client became BOUND. */
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
static int all_failed(struct iface *ifs, size_t n, struct ip_error *err)
{
	if (n == 1)
		return ip_fail(err, ifs[0].err.code ? ifs[0].err.code : -EIO, "%s",
			       ip_error_str(&ifs[0].err));
	char msg[IP_ERROR_MSG_MAX];
	size_t len = (size_t)snprintf(msg, sizeof(msg), "no lease on any of %zu interfaces", n);
	for (size_t i = 0; i < n && len < sizeof(msg); i++) {
		int w = snprintf(msg + len, sizeof(msg) - len, "; %s", ip_error_str(&ifs[i].err));
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return ip_fail(err, -ETIMEDOUT, "%s", msg);
}

/* Runs carrier waits and DHCP on all links until one is BOUND.  Returns the
 * winner's index or a negative errno. */
static int acquire(struct link_ctx *lk, const struct net_config *cfg, struct iface *ifs, size_t n,
		   uint64_t start, struct ip_error *err)
{
	uint64_t deadline = start + cfg->timeout_ms;
	struct pollfd pfds[NET_MAX_INTERFACES];
	size_t owner[NET_MAX_INTERFACES];
	for (;;) {
		uint64_t now = now_ms();
		bool waiting_carrier = false;
		size_t live = 0;
		for (size_t i = 0; i < n; i++) {
			struct iface *ifc = &ifs[i];
			if (ifc->phase == IFACE_WAIT_CARRIER)
				check_carrier(lk, ifc, cfg, start, now, deadline);
			else if (ifc->phase == IFACE_DHCP &&
				 dhcp_client_handle_timeout(&ifc->client, now, &ifc->err) < 0)
				iface_fail(ifc);
			if (ifc->phase == IFACE_WAIT_CARRIER)
				waiting_carrier = true;
			if (ifc->phase != IFACE_FAILED)
				live++;
		}
		if (live == 0)
			return all_failed(ifs, n, err);

		uint64_t wake = deadline;
		if (waiting_carrier && now + NET_CARRIER_POLL_MS < wake)
			wake = now + NET_CARRIER_POLL_MS;
		size_t nfds = 0;
		for (size_t i = 0; i < n; i++) {
			if (ifs[i].phase != IFACE_DHCP)
				continue;
			uint64_t t = dhcp_client_next_timeout(&ifs[i].client);
			if (t < wake)
				wake = t;
			pfds[nfds] = (struct pollfd){ .fd = ifs[i].fd, .events = POLLIN };
			owner[nfds++] = i;
		}
		uint64_t wait = wake > now ? wake - now : 0;
		int timeout = wait > 60000 ? 60000 : (int)wait;
		int r = poll(pfds, nfds, timeout);
		if (r < 0 && errno != EINTR)
			return ip_fail(err, -errno, "waiting for DHCP replies: %s", strerror(errno));
		now = now_ms();
		for (size_t k = 0; r > 0 && k < nfds; k++) {
			struct iface *ifc = &ifs[owner[k]];
			if (!(pfds[k].revents & (POLLIN | POLLERR)) || ifc->phase != IFACE_DHCP)
				continue;
			if (drain(ifc, now))
				return (int)owner[k];
		}
	}
}

static int apply_lease(struct link_ctx *lk, const struct net_config *cfg, struct net_result *res,
		       unsigned current_mtu, struct ip_error *err)
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
	r = link_add_routes(lk, name, res->ifindex, l, &res->n_routes, err);
	if (r < 0)
		return r;
	if (cfg->resolv_conf) {
		char content[RESOLV_CONF_MAX];
		int len = resolv_format(l, name, content, sizeof(content));
		if (len == -ENODATA) {
			log_debug("%s: the lease names no DNS server; %s left alone", name,
				  cfg->resolv_conf);
		} else if (len < 0) {
			return ip_fail(err, len, "%s: formatting resolv.conf: %s", name, strerror(-len));
		} else {
			r = resolv_write(cfg->resolv_conf, content, (size_t)len, err);
			if (r < 0)
				return r;
			res->resolv_written = true;
		}
	}
	return 0;
}

int net_up(const struct net_config *cfg, struct net_result *res, struct ip_error *err)
{
	memset(res, 0, sizeof(*res));
	uint64_t start = now_ms();
	struct link_ctx *lk = NULL;
	struct iface *ifs = calloc(NET_MAX_INTERFACES, sizeof(*ifs));
	size_t n = 0;
	int r;
	if (!ifs)
		return ip_fail(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < NET_MAX_INTERFACES; i++)
		ifs[i].fd = -1;
	if ((r = link_open(&lk, err)) < 0)
		goto out;
	if ((r = find_links(lk, cfg, ifs, &n, err)) < 0)
		goto out;
	res->n_links = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		ifs[i].up_ms = now_ms();
		ifs[i].seed = (uint32_t)ifs[i].up_ms ^ (uint32_t)getpid() ^
			      (uint32_t)ifs[i].info.mac[5] << 24 ^ (uint32_t)ifs[i].info.mac[4] << 16;
		if (link_set_up(lk, ifs[i].info.name, ifs[i].info.ifindex, &ifs[i].err) < 0)
			iface_fail(&ifs[i]);
	}
	r = acquire(lk, cfg, ifs, n, start, err);
	if (r < 0)
		goto out;

	struct iface *win = &ifs[r];
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
	for (size_t i = 0; i < n; i++)
		if (ifs[i].fd >= 0) {
			close(ifs[i].fd);
			ifs[i].fd = -1;
		}

	uint64_t apply_start = now_ms();
	r = apply_lease(lk, cfg, res, win->info.mtu, err);
	if (r < 0) {
		ip_fail_ctx(err, r, "%s: applying the lease", res->ifname);
		if (res->configured) {
			struct ip_error ignored = { 0 };
			link_remove_lease(lk, res->ifname, res->ifindex, &res->lease, &ignored);
			res->configured = false;
		}
		goto out;
	}
	bool tentative;
	struct ip_error ignored = { 0 };
	if (link_ipv6_link_local(lk, res->ifindex, &res->ipv6_link_local, &tentative, &ignored) < 0)
		res->ipv6_link_local = false;
	res->apply_ms = now_ms() - apply_start;
	res->total_ms = now_ms() - start;
	r = 0;
out:
	for (size_t i = 0; i < NET_MAX_INTERFACES; i++)
		if (ifs[i].fd >= 0)
			close(ifs[i].fd);
	free(ifs);
	link_close(lk);
	return r;
}

int net_release(struct net_result *res, struct ip_error *err)
{
	if (!res->configured)
		return 0;
	struct link_ctx *lk = NULL;
	int r = link_open(&lk, err);
	if (r < 0)
		return r;
	r = link_remove_lease(lk, res->ifname, res->ifindex, &res->lease, err);
	link_close(lk);
	if (r == 0)
		res->configured = false;
	return r;
}
