/* Links, addresses and routes through rtnetlink (libnl-route-3).
 *
 * Which links are candidates when none is named (link_is_candidate):
 * Ethernet (ARPHRD_ETHER), not loopback, no rtnetlink "kind" (veth, bridge,
 * bond, vlan, macvlan, dummy, tun … all have one; a NIC driver such as ena or
 * virtio_net has none), and, when /sys/class/net is readable, backed by a
 * device (/sys/class/net/X/device) and not wireless (X/wireless, X/phy80211).
 * Links named explicitly are used as they are: in a network namespace the
 * only link may well be a veth. */
#ifndef IP_NET_LINK_H
#define IP_NET_LINK_H

#include "net/dhcp_option.h"
#include "util/error.h"

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limit: links considered when enumerating. */
#define LINK_MAX 64
/* Metric of the routes we add (the value systemd-networkd uses for DHCP),
 * so they do not replace a route someone else added with metric 0. */
#define LINK_ROUTE_METRIC 1024
/* Protocol tag of our routes ("proto dhcp" in `ip route`). */
#define LINK_ROUTE_PROTO 16

struct link_info {
	char name[IF_NAMESIZE];
	int ifindex;
	unsigned arptype;
	unsigned flags;               /* IFF_* */
	char kind[32];                /* rtnetlink link kind, "" for none */
	bool sysfs_known;             /* /sys/class/net was readable */
	bool has_device;              /* /sys/class/net/X/device exists */
	bool is_wireless;
	bool has_mac;
	uint8_t mac[6];
	bool carrier;
	unsigned mtu;
};

/* Pure: whether `l` is a candidate when no interface is named; *why_not
 * gets a short reason when it is not. */
bool link_is_candidate(const struct link_info *l, const char **why_not);

/* One route to add, in order. */
struct link_route {
	uint32_t dst;                 /* network order */
	uint8_t prefixlen;
	uint32_t gateway;             /* network order; 0 = on-link (scope link) */
};
#define LINK_MAX_ROUTES (2 * DHCP_MAX_ROUTES)

/* Pure: the routes that install `lease` on top of its address's prefix
 * route: the lease's routes (classless, or the default route via option 3),
 * each gateway outside the subnet preceded by an on-link /32 host route to
 * it (RFC 3442 §3 allows such gateways; the kernel only accepts a gateway it
 * can reach).  Duplicates are left out.  -ENOBUFS if max is too small. */
int link_route_plan(const struct dhcp_lease *lease, struct link_route *out, size_t max, size_t *n);

struct link_ctx; /* a connected rtnetlink socket */

int link_open(struct link_ctx **out, struct ip_error *err);
void link_close(struct link_ctx *ctx);

/* All links (at most LINK_MAX), in ifindex order. */
int link_list(struct link_ctx *ctx, struct link_info *out, size_t max, size_t *n,
	      struct ip_error *err);
/* One link by name: -ENODEV when there is none. */
int link_get(struct link_ctx *ctx, const char *name, struct link_info *out, struct ip_error *err);
/* The current carrier state of a link. */
int link_get_carrier(struct link_ctx *ctx, int ifindex, bool *carrier, struct ip_error *err);

int link_set_up(struct link_ctx *ctx, const char *name, int ifindex, struct ip_error *err);
int link_set_mtu(struct link_ctx *ctx, const char *name, int ifindex, unsigned mtu,
		 struct ip_error *err);

/* Adds the lease's address with its prefix and broadcast; its lifetime is
 * the lease time (the address goes away when the lease would end: nothing
 * renews it).  Replaces the same address if present. */
int link_add_address(struct link_ctx *ctx, const char *name, int ifindex,
		     const struct dhcp_lease *lease, struct ip_error *err);
/* Adds the routes of link_route_plan, table main, metric LINK_ROUTE_METRIC,
 * preferred source the lease address.  *added counts routes in place. */
int link_add_routes(struct link_ctx *ctx, const char *name, int ifindex,
		    const struct dhcp_lease *lease, size_t *added, struct ip_error *err);
/* Removes those routes and the address again (what is already gone is
 * fine). */
int link_remove_lease(struct link_ctx *ctx, const char *name, int ifindex,
		      const struct dhcp_lease *lease, struct ip_error *err);

/* --- IPv6 (DHCPv6 address, default route from a Router Advertisement) --- */

/* Protocol tag of the IPv6 default route ("proto ra" in `ip -6 route`): it
 * comes from the Router Advertisement. */
#define LINK_ROUTE_PROTO_RA 9

/* Adds addr/prefixlen with its lifetimes (seconds; DHCP6 infinity is kept
 * as infinity).  Replaces the same address if present. */
int link_add_address6(struct link_ctx *ctx, const char *name, int ifindex,
		      const struct in6_addr *addr, unsigned prefixlen, uint32_t valid_lft,
		      uint32_t preferred_lft, struct ip_error *err);
/* State of one IPv6 address on the link: present, still tentative (DAD
 * running), DAD failed. */
int link_address6_state(struct link_ctx *ctx, int ifindex, const struct in6_addr *addr,
			bool *present, bool *tentative, bool *dad_failed, struct ip_error *err);
/* Adds the default route via the router's link-local address, expiring
 * after lifetime_s (the RA's router lifetime; the kernel removes it then),
 * table main, metric LINK_ROUTE_METRIC, proto LINK_ROUTE_PROTO_RA. */
int link_add_default_route6(struct link_ctx *ctx, const char *name, int ifindex,
			    const struct in6_addr *gateway, uint32_t lifetime_s, struct ip_error *err);
/* Removes that route and the address (what is already gone is fine). */
int link_remove_ipv6(struct link_ctx *ctx, const char *name, int ifindex,
		     const struct in6_addr *addr, unsigned prefixlen, const struct in6_addr *gateway,
		     struct ip_error *err);
/* Reads and writes /proc/sys/net/ipv6/conf/NAME/KEY (accept_ra,
 * optimistic_dad).  read: -ENOENT when the kernel has no such knob. */
int link_ipv6_sysctl_read(const char *name, const char *key, int *value);
int link_ipv6_sysctl_write(const char *name, const char *key, int value);

/* Whether the link has an IPv6 link-local address (fe80::/10) and whether
 * it is still tentative (duplicate address detection running). */
int link_ipv6_link_local(struct link_ctx *ctx, int ifindex, bool *present, bool *tentative,
			 struct ip_error *err);

#endif
