#include "net/link.h"

#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <net/if_arp.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct link_ctx {
	struct nl_sock *sk;
};

/* libnl returns its own NLE_* codes; the program speaks negative errno. */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_PERM: return -EPERM;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_BUSY: return -EBUSY;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_NOACCESS: return -EACCES;
	default: return -EIO;
	}
}

static int nl_fail(struct ip_error *err, int nlerr, const char *what, const char *name)
{
	return ip_fail(err, nl_to_errno(nlerr), "%s: %s: %s", name, what, nl_geterror(nlerr));
}

bool link_is_candidate(const struct link_info *l, const char **why_not)
{
	const char *why = NULL;
	if (l->flags & IFF_LOOPBACK)
		why = "loopback";
	else if (l->arptype != ARPHRD_ETHER)
		why = "not Ethernet";
	else if (l->kind[0])
		why = "virtual";
	else if (l->sysfs_known && l->is_wireless)
		why = "wireless";
	else if (l->sysfs_known && !l->has_device)
		why = "no device behind it";
	if (why_not)
		*why_not = why;
	return why == NULL;
}

static uint32_t mask_of(unsigned prefixlen)
{
	return htonl(prefixlen == 0 ? 0 : 0xffffffffu << (32 - prefixlen));
}

static int plan_add(struct link_route *out, size_t max, size_t *n, struct link_route r)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].dst == r.dst && out[i].prefixlen == r.prefixlen)
			return 0; /* the first route for a destination wins */
	if (*n == max)
		return -ENOBUFS;
	out[(*n)++] = r;
	return 0;
}

int link_route_plan(const struct dhcp_lease *lease, struct link_route *out, size_t max, size_t *n)
{
	*n = 0;
	uint32_t mask = mask_of(lease->prefixlen);
	for (size_t i = 0; i < lease->n_routes; i++) {
		const struct dhcp_route *r = &lease->routes[i];
		uint32_t gw = r->gateway;
		if (gw == lease->address)
			gw = 0; /* "via ourselves" means on-link */
		int ret;
		if (gw && (gw & mask) != (lease->address & mask)) {
			ret = plan_add(out, max, n, (struct link_route){ gw, 32, 0 });
			if (ret < 0)
				return ret;
		}
		ret = plan_add(out, max, n, (struct link_route){ r->dst, r->prefixlen, gw });
		if (ret < 0)
			return ret;
	}
	return 0;
}

int link_open(struct link_ctx **out, struct ip_error *err)
{
	struct link_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return ip_fail(err, -ENOMEM, "netlink: out of memory");
	int r;
	ctx->sk = nl_socket_alloc();
	if (!ctx->sk) {
		r = ip_fail(err, -ENOMEM, "netlink: out of memory");
		goto fail;
	}
	if ((r = nl_connect(ctx->sk, NETLINK_ROUTE)) < 0) {
		r = nl_fail(err, r, "connecting", "rtnetlink");
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	link_close(ctx);
	return r;
}

void link_close(struct link_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->sk)
		nl_socket_free(ctx->sk);
	free(ctx);
}

static bool sysfs_has(const char *name, const char *entry)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, entry);
	return access(path, F_OK) == 0;
}

static void fill_info(struct rtnl_link *link, struct link_info *out)
{
	memset(out, 0, sizeof(*out));
	const char *name = rtnl_link_get_name(link);
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "?");
	out->ifindex = rtnl_link_get_ifindex(link);
	out->arptype = rtnl_link_get_arptype(link);
	out->flags = rtnl_link_get_flags(link);
	const char *kind = rtnl_link_get_type(link);
	if (kind)
		snprintf(out->kind, sizeof(out->kind), "%s", kind);
	struct nl_addr *mac = rtnl_link_get_addr(link);
	if (mac && nl_addr_get_len(mac) == sizeof(out->mac)) {
		memcpy(out->mac, nl_addr_get_binary_addr(mac), sizeof(out->mac));
		out->has_mac = true;
	}
	out->carrier = rtnl_link_get_carrier(link) != 0;
	out->mtu = rtnl_link_get_mtu(link);
	out->sysfs_known = access("/sys/class/net", F_OK) == 0;
	if (out->sysfs_known) {
		out->has_device = sysfs_has(out->name, "device");
		out->is_wireless = sysfs_has(out->name, "wireless") || sysfs_has(out->name, "phy80211");
	}
}

int link_list(struct link_ctx *ctx, struct link_info *out, size_t max, size_t *n,
	      struct ip_error *err)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache);
	if (r < 0)
		return nl_fail(err, r, "listing links", "rtnetlink");
	*n = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o && *n < max; o = nl_cache_get_next(o))
		fill_info((struct rtnl_link *)o, &out[(*n)++]);
	nl_cache_free(cache);
	return 0;
}

int link_get(struct link_ctx *ctx, const char *name, struct link_info *out, struct ip_error *err)
{
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(ctx->sk, 0, name, &link);
	if (r < 0) {
		if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
			return ip_fail(err, -ENODEV, "%s: no such interface", name);
		return nl_fail(err, r, "reading the link", name);
	}
	fill_info(link, out);
	rtnl_link_put(link);
	return 0;
}

int link_get_carrier(struct link_ctx *ctx, int ifindex, bool *carrier, struct ip_error *err)
{
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(ctx->sk, ifindex, NULL, &link);
	if (r < 0) {
		char name[32];
		snprintf(name, sizeof(name), "ifindex %d", ifindex);
		return nl_fail(err, r, "reading the link", name);
	}
	*carrier = rtnl_link_get_carrier(link) != 0;
	rtnl_link_put(link);
	return 0;
}

static int change_link(struct link_ctx *ctx, const char *name, int ifindex,
		       struct rtnl_link *change, const char *what, struct ip_error *err)
{
	struct rtnl_link *orig = NULL;
	int r = rtnl_link_get_kernel(ctx->sk, ifindex, NULL, &orig);
	if (r < 0)
		return nl_fail(err, r, "reading the link", name);
	r = rtnl_link_change(ctx->sk, orig, change, 0);
	rtnl_link_put(orig);
	if (r < 0)
		return nl_fail(err, r, what, name);
	return 0;
}

int link_set_up(struct link_ctx *ctx, const char *name, int ifindex, struct ip_error *err)
{
	struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	rtnl_link_set_flags(change, IFF_UP);
	int r = change_link(ctx, name, ifindex, change, "setting the link up", err);
	rtnl_link_put(change);
	return r;
}

int link_set_mtu(struct link_ctx *ctx, const char *name, int ifindex, unsigned mtu,
		 struct ip_error *err)
{
	struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	rtnl_link_set_mtu(change, mtu);
	char what[48];
	snprintf(what, sizeof(what), "setting MTU %u", mtu);
	int r = change_link(ctx, name, ifindex, change, what, err);
	rtnl_link_put(change);
	return r;
}

static struct nl_addr *ip4(uint32_t addr_be, unsigned prefixlen)
{
	struct nl_addr *a = nl_addr_build(AF_INET, &addr_be, 4);
	if (a)
		nl_addr_set_prefixlen(a, (int)prefixlen);
	return a;
}

/* An address object for add or delete: local (IPv4 or IPv6) with prefixlen
 * on ifindex; NULL when out of memory or local is NULL.  Takes its own
 * reference on local. */
static struct rtnl_addr *address_object(int ifindex, struct nl_addr *local, unsigned prefixlen)
{
	struct rtnl_addr *a = local ? rtnl_addr_alloc() : NULL;
	if (!a)
		return NULL;
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, nl_addr_get_family(local));
	if (rtnl_addr_set_local(a, local) < 0) {
		rtnl_addr_put(a);
		return NULL;
	}
	rtnl_addr_set_prefixlen(a, prefixlen);
	return a;
}

static struct rtnl_addr *build_addr(int ifindex, const struct dhcp_lease *lease)
{
	struct nl_addr *local = ip4(lease->address, lease->prefixlen);
	struct nl_addr *brd = lease->broadcast ? ip4(lease->broadcast, 32) : NULL;
	struct rtnl_addr *a = brd || !lease->broadcast ? address_object(ifindex, local, lease->prefixlen)
						       : NULL;
	if (a && brd && rtnl_addr_set_broadcast(a, brd) < 0) {
		rtnl_addr_put(a);
		a = NULL;
	}
	nl_addr_put(local);
	nl_addr_put(brd);
	return a;
}

/* Adds (or replaces) a, which the caller still owns; the error names the
 * address as "adding address 192.0.2.10/24". */
static int add_address(struct link_ctx *ctx, const char *name, struct rtnl_addr *a,
		       struct ip_error *err)
{
	int r = rtnl_addr_add(ctx->sk, a, NLM_F_REPLACE);
	if (r < 0) {
		struct nl_addr *local = rtnl_addr_get_local(a);
		char text[INET6_ADDRSTRLEN], what[96];
		inet_ntop(nl_addr_get_family(local), nl_addr_get_binary_addr(local), text, sizeof(text));
		snprintf(what, sizeof(what), "adding address %s/%u", text, rtnl_addr_get_prefixlen(a));
		return nl_fail(err, r, what, name);
	}
	return 0;
}

/* Removing what is already gone is no failure. */
static bool removal_failed(int r)
{
	return r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR;
}

int link_add_address(struct link_ctx *ctx, const char *name, int ifindex,
		     const struct dhcp_lease *lease, struct ip_error *err)
{
	struct rtnl_addr *a = build_addr(ifindex, lease);
	if (!a)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	if (lease->lease_time && lease->lease_time != DHCP_LEASE_INFINITE) {
		rtnl_addr_set_valid_lifetime(a, lease->lease_time);
		rtnl_addr_set_preferred_lifetime(a, lease->lease_time);
	}
	int r = add_address(ctx, name, a, err);
	rtnl_addr_put(a);
	return r;
}

/* A route object for add or delete: to dst (IPv4 or IPv6) in the main
 * table with our metric, via gw or on-link (gw NULL), out of ifindex;
 * src, when not NULL, the preferred source.  NULL when out of memory.
 * Takes its own references on the addresses. */
static struct rtnl_route *route_object(int ifindex, struct nl_addr *dst, struct nl_addr *gw,
				       struct nl_addr *src, uint8_t protocol)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	bool ok = route && nh;
	if (ok) {
		rtnl_route_set_family(route, (uint8_t)nl_addr_get_family(dst));
		rtnl_route_set_table(route, RT_TABLE_MAIN);
		rtnl_route_set_type(route, RTN_UNICAST);
		rtnl_route_set_protocol(route, protocol);
		rtnl_route_set_scope(route, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
		rtnl_route_set_priority(route, LINK_ROUTE_METRIC);
		ok = rtnl_route_set_dst(route, dst) == 0 &&
		     (!src || rtnl_route_set_pref_src(route, src) == 0);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		if (gw)
			rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
		nh = NULL;
	}
	if (nh)
		rtnl_route_nh_free(nh);
	if (!ok) {
		if (route)
			rtnl_route_put(route);
		return NULL;
	}
	return route;
}

static struct rtnl_route *build_route(int ifindex, const struct dhcp_lease *lease,
				      const struct link_route *lr)
{
	struct nl_addr *dst = ip4(lr->dst, lr->prefixlen);
	struct nl_addr *src = ip4(lease->address, 32);
	struct nl_addr *gw = lr->gateway ? ip4(lr->gateway, 32) : NULL;
	struct rtnl_route *route = dst && src && (gw || !lr->gateway)
					   ? route_object(ifindex, dst, gw, src, LINK_ROUTE_PROTO)
					   : NULL;
	nl_addr_put(dst);
	nl_addr_put(src);
	nl_addr_put(gw);
	return route;
}

static void describe_route(const struct link_route *lr, char *buf, size_t cap)
{
	char dst[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &lr->dst, dst, sizeof(dst));
	inet_ntop(AF_INET, &lr->gateway, gw, sizeof(gw));
	if (lr->gateway)
		snprintf(buf, cap, "%s/%u via %s", dst, lr->prefixlen, gw);
	else
		snprintf(buf, cap, "%s/%u on-link", dst, lr->prefixlen);
}

int link_add_routes(struct link_ctx *ctx, const char *name, int ifindex,
		    const struct dhcp_lease *lease, size_t *added, struct ip_error *err)
{
	struct link_route plan[LINK_MAX_ROUTES];
	size_t n = 0;
	*added = 0;
	int r = link_route_plan(lease, plan, LINK_MAX_ROUTES, &n);
	if (r < 0)
		return ip_fail(err, r, "%s: too many routes in the lease", name);
	for (size_t i = 0; i < n; i++) {
		char what[96], desc[64];
		describe_route(&plan[i], desc, sizeof(desc));
		struct rtnl_route *route = build_route(ifindex, lease, &plan[i]);
		if (!route)
			return ip_fail(err, -ENOMEM, "%s: out of memory", name);
		r = rtnl_route_add(ctx->sk, route, NLM_F_REPLACE);
		rtnl_route_put(route);
		if (r < 0) {
			snprintf(what, sizeof(what), "adding route %s", desc);
			return nl_fail(err, r, what, name);
		}
		log_debug("%s: added route %s", name, desc);
		(*added)++;
	}
	return 0;
}

int link_remove_lease(struct link_ctx *ctx, const char *name, int ifindex,
		      const struct dhcp_lease *lease, struct ip_error *err)
{
	struct link_route plan[LINK_MAX_ROUTES];
	size_t n = 0;
	int r = link_route_plan(lease, plan, LINK_MAX_ROUTES, &n);
	if (r < 0)
		return ip_fail(err, r, "%s: too many routes in the lease", name);
	int first_error = 0;
	/* Routes in reverse order: gateway routes before the host routes that
	 * make their gateways reachable. */
	for (size_t i = n; i-- > 0;) {
		struct rtnl_route *route = build_route(ifindex, lease, &plan[i]);
		if (!route)
			return ip_fail(err, -ENOMEM, "%s: out of memory", name);
		r = rtnl_route_delete(ctx->sk, route, 0);
		rtnl_route_put(route);
		if (removal_failed(r) && !first_error) {
			char what[96], desc[64];
			describe_route(&plan[i], desc, sizeof(desc));
			snprintf(what, sizeof(what), "removing route %s", desc);
			first_error = nl_fail(err, r, what, name);
		}
	}
	struct rtnl_addr *a = build_addr(ifindex, lease);
	if (!a)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	r = rtnl_addr_delete(ctx->sk, a, 0);
	rtnl_addr_put(a);
	if (removal_failed(r) && !first_error)
		first_error = nl_fail(err, r, "removing the address", name);
	return first_error;
}

/* The flags of the first IPv6 address on `ifindex` that `match` accepts;
 * *found false when there is none. */
static int find_ipv6_address(struct link_ctx *ctx, int ifindex,
			     bool (*match)(const uint8_t addr[16], const void *arg), const void *arg,
			     bool *found, unsigned *flags, struct ip_error *err)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_addr_alloc_cache(ctx->sk, &cache);
	if (r < 0)
		return nl_fail(err, r, "listing addresses", "rtnetlink");
	*found = false;
	*flags = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET6 ||
		    !local || nl_addr_get_len(local) != 16 || !match(nl_addr_get_binary_addr(local), arg))
			continue;
		*found = true;
		*flags = rtnl_addr_get_flags(a);
		break;
	}
	nl_cache_free(cache);
	return 0;
}

static bool is_link_local(const uint8_t addr[16], const void *arg)
{
	(void)arg;
	return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

int link_ipv6_link_local(struct link_ctx *ctx, int ifindex, bool *present, bool *tentative,
			 struct ip_error *err)
{
	unsigned flags;
	int r = find_ipv6_address(ctx, ifindex, is_link_local, NULL, present, &flags, err);
	*tentative = r == 0 && *present && (flags & IFA_F_TENTATIVE);
	return r;
}

/* An IPv6 address object for add or delete; NULL when out of memory. */
static struct rtnl_addr *build_addr6(int ifindex, const struct in6_addr *addr, unsigned prefixlen)
{
	struct nl_addr *local = nl_addr_build(AF_INET6, addr, 16);
	if (local)
		nl_addr_set_prefixlen(local, (int)prefixlen);
	struct rtnl_addr *a = address_object(ifindex, local, prefixlen);
	nl_addr_put(local);
	return a;
}

int link_add_address6(struct link_ctx *ctx, const char *name, int ifindex,
		      const struct in6_addr *addr, unsigned prefixlen, uint32_t valid_lft,
		      uint32_t preferred_lft, struct ip_error *err)
{
	struct rtnl_addr *a = build_addr6(ifindex, addr, prefixlen);
	if (!a)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	/* The kernel counts these down; at valid_lft the address goes away
	 * unless stage 2 renews it (README: hand-off). */
	rtnl_addr_set_valid_lifetime(a, valid_lft);
	rtnl_addr_set_preferred_lifetime(a, preferred_lft);
	/* RFC 4429: usable while DAD runs, where the link allows it
	 * (optimistic_dad, which net.c sets; the kernel ignores the flag
	 * otherwise).  No prefix route: a /128 needs none, and the kernel
	 * would keep one with a lifetime after the address is removed at
	 * hand-off. */
	rtnl_addr_set_flags(a, IFA_F_OPTIMISTIC | IFA_F_NOPREFIXROUTE);
	int r = add_address(ctx, name, a, err);
	rtnl_addr_put(a);
	return r;
}

static bool is_address(const uint8_t addr[16], const void *arg)
{
	return memcmp(addr, arg, 16) == 0;
}

int link_address6_state(struct link_ctx *ctx, int ifindex, const struct in6_addr *addr,
			bool *present, bool *tentative, bool *dad_failed, struct ip_error *err)
{
	unsigned flags;
	int r = find_ipv6_address(ctx, ifindex, is_address, addr, present, &flags, err);
	/* An optimistic address is tentative but usable (RFC 4429 §3.3). */
	*tentative = r == 0 && (flags & IFA_F_TENTATIVE) && !(flags & IFA_F_OPTIMISTIC);
	*dad_failed = r == 0 && (flags & IFA_F_DADFAILED);
	return r;
}

static struct rtnl_route *build_route6(int ifindex, const struct in6_addr *gateway)
{
	struct nl_addr *dst = nl_addr_build(AF_INET6, &in6addr_any, 16);
	struct nl_addr *gw = nl_addr_build(AF_INET6, gateway, 16);
	if (dst)
		nl_addr_set_prefixlen(dst, 0);
	struct rtnl_route *route = dst && gw ? route_object(ifindex, dst, gw, NULL, LINK_ROUTE_PROTO_RA)
					     : NULL;
	nl_addr_put(dst);
	nl_addr_put(gw);
	return route;
}

int link_add_default_route6(struct link_ctx *ctx, const char *name, int ifindex,
			    const struct in6_addr *gateway, uint32_t lifetime_s, struct ip_error *err)
{
	char gw[INET6_ADDRSTRLEN], what[96];
	inet_ntop(AF_INET6, gateway, gw, sizeof(gw));
	snprintf(what, sizeof(what), "adding the IPv6 default route via %s", gw);
	struct rtnl_route *route = build_route6(ifindex, gateway);
	if (!route)
		return ip_fail(err, -ENOMEM, "%s: out of memory", name);
	struct nl_msg *msg = NULL;
	int r = rtnl_route_build_add_request(route, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	rtnl_route_put(route);
	if (r < 0)
		return nl_fail(err, r, what, name);
	/* libnl has no setter for RTA_EXPIRES; the kernel takes it for IPv6
	 * routes (rtm_to_fib6_config) and sets RTF_EXPIRES, as for the routes
	 * it learns from RAs itself. */
	if ((r = nla_put_u32(msg, RTA_EXPIRES, lifetime_s)) < 0) {
		nlmsg_free(msg);
		return nl_fail(err, r, what, name);
	}
	r = nl_send_auto(ctx->sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_wait_for_ack(ctx->sk);
	if (r < 0)
		return nl_fail(err, r, what, name);
	log_debug("%s: added default route via %s, expires in %u s", name, gw, lifetime_s);
	return 0;
}

int link_remove_ipv6(struct link_ctx *ctx, const char *name, int ifindex,
		     const struct in6_addr *addr, unsigned prefixlen, const struct in6_addr *gateway,
		     struct ip_error *err)
{
	int first_error = 0, r;
	if (gateway) {
		struct rtnl_route *route = build_route6(ifindex, gateway);
		if (!route)
			return ip_fail(err, -ENOMEM, "%s: out of memory", name);
		r = rtnl_route_delete(ctx->sk, route, 0);
		rtnl_route_put(route);
		if (removal_failed(r))
			first_error = nl_fail(err, r, "removing the IPv6 default route", name);
	}
	struct rtnl_addr *a = build_addr6(ifindex, addr, prefixlen);
	r = a ? rtnl_addr_delete(ctx->sk, a, 0) : -NLE_NOMEM;
	rtnl_addr_put(a);
	if (removal_failed(r) && !first_error)
		first_error = nl_fail(err, r, "removing the IPv6 address", name);
	return first_error;
}

/* Opens /proc/sys/net/ipv6/conf/<name>/<key> with mode ("re", "we"). */
static int sysctl_open(const char *name, const char *key, const char *mode, FILE **f)
{
	if (strchr(name, '/') || strchr(key, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	char path[128];
	int n = snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", name, key);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	*f = fopen(path, mode);
	return *f ? 0 : -errno;
}

int link_ipv6_sysctl_read(const char *name, const char *key, int *value)
{
	FILE *f;
	int r = sysctl_open(name, key, "re", &f);
	if (r < 0)
		return r;
	r = fscanf(f, "%d", value) == 1 ? 0 : -EIO;
	fclose(f);
	return r;
}

int link_ipv6_sysctl_write(const char *name, const char *key, int value)
{
	FILE *f;
	int r = sysctl_open(name, key, "we", &f);
	if (r < 0)
		return r;
	r = fprintf(f, "%d\n", value) > 0 ? 0 : -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}
