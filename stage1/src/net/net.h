/* The network phase of the boot flow (and of `initrd-provision net`):
 * find Ethernet links, set them up, wait for carrier, then per family on
 * every link with carrier, in parallel:
 *   IPv4  the DHCPv4 client; the first complete lease wins;
 *   IPv6  Router Solicitation → Router Advertisement (ndisc.h); with the M
 *         flag, the DHCPv6 client (dhcp6_client.h); the first link with an
 *         address and a default router wins.
 * Each family has its own time budget.  Either family succeeding is enough:
 * once one is up, a family that has not got anywhere yet (no DHCPv4 offer,
 * no Router Advertisement with the M flag) is given up grace_ms after its
 * own first solicitation (at once when only RAs without the M flag came);
 * one that has got somewhere keeps its own budget.  Then the winners are applied with netlink (the
 * IPv6 /128 with its lifetimes, the default route via the router's
 * link-local address expiring with the router lifetime) and resolv.conf
 * lists both families' servers.
 *
 * Families not asked for are not touched: with IPv4 only, the kernel's IPv6
 * settings stay as they are.  With IPv6, accept_ra is set to 0 (we handle
 * RAs; ndisc.h says why) and optimistic_dad to 1 (the link-local address is
 * usable at once, RFC 4429) on the links tried, before they are set up.
 *
 * Hand-off: net_release() removes the addresses and routes net_up() added
 * and restores those two settings, so stage 2's own network configuration
 * starts from a clean link (what NixOS's flushBeforeStage2 does for the
 * scripted initrd).  The link stays up.  Nothing renews the leases: a stage
 * 2 that keeps them must renew DHCPv6 before valid_lft (README: Network). */
#ifndef IP_NET_NET_H
#define IP_NET_NET_H

#include "net/dhcp6_client.h"
#include "net/dhcp_option.h"
#include "net/resolv.h"
#include "util/error.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limit: links tried at once. */
#define NET_MAX_INTERFACES 16

enum net_family { NET_FAMILY_IPV4 = 1, NET_FAMILY_IPV6 = 2, NET_FAMILY_DUAL = 3 };
const char *net_family_name(enum net_family family);
/* "ipv4", "ipv6", "dual" → 0 and *out; -EINVAL otherwise. */
int net_family_parse(const char *text, enum net_family *out);

struct net_config {
	enum net_family family;        /* default dual */
	const char *const *interfaces; /* names to use as they are; NULL/0 = detect */
	size_t n_interfaces;
	uint32_t timeout_ms;           /* IPv4 budget: carrier + DHCP */
	uint32_t timeout6_ms;          /* IPv6 budget: carrier + RA + DHCPv6 */
	uint32_t grace_ms;             /* see above; default 1 s */
	bool dhcp6_rapid_commit;       /* off by default (dhcp6_client.h) */
	uint32_t carrier_timeout_ms;   /* per link, within the budget */
	const char *resolv_conf;       /* NULL = leave resolv.conf alone */
	uint32_t dhcp_base_timeout_ms; /* first retransmission; RFC 2131's 4 s by default */
	uint32_t dhcp_restart_delay_ms;/* after a DHCPNAK */
	/* Optional: called as soon as a link has carrier (for a progress line). */
	void (*on_link_up)(void *ctx, const char *ifname, uint64_t ms_since_start);
	void *event_ctx;
};
/* Dual stack, NET_DEFAULT_* below, /etc/resolv.conf, RFC 2131 / RFC 8415
 * timing. */
void net_config_defaults(struct net_config *cfg);
#define NET_DEFAULT_TIMEOUT_MS 30000         /* per family */
#define NET_DEFAULT_GRACE_MS 1000
#define NET_DEFAULT_CARRIER_TIMEOUT_MS 10000

struct net_result {
	char ifname[IF_NAMESIZE];      /* the link whose lease won */
	int ifindex;
	uint8_t mac[6];
	unsigned n_links;              /* links tried */
	struct dhcp_lease lease;
	/* Timings in milliseconds (CLOCK_MONOTONIC). */
	uint64_t link_up_ms;           /* net_up start → carrier on the winning link */
	uint64_t lease_ms;             /* carrier → DHCPACK */
	uint64_t apply_ms;             /* netlink configuration and resolv.conf */
	uint64_t total_ms;
	unsigned dhcp_discovers, dhcp_requests, dhcp_naks, dhcp_ignored;
	size_t n_routes;               /* routes added */
	bool mtu_applied;              /* false: no MTU offered, same MTU, or mtu_error */
	char mtu_error[160];           /* a failed MTU change is not fatal */
	bool resolv_written;
	bool ipv6_link_local;          /* fe80:: present at the end (maybe tentative) */
	bool configured;               /* IPv4 address and routes are in place */

	enum net_family family;        /* asked for */
	bool ipv4_up, ipv6_up;
	char ipv4_error[IP_ERROR_MSG_MAX]; /* why a family asked for is not up */
	char ipv6_error[IP_ERROR_MSG_MAX];
	/* IPv6, valid when ipv6_up. */
	char ifname6[IF_NAMESIZE];
	int ifindex6;
	struct dhcp6_lease lease6;
	struct in6_addr router6;       /* link-local */
	uint16_t router_lifetime;      /* seconds */
	bool ra_managed, ra_other;
	uint32_t ra_mtu;               /* advertised (logged, not applied) */
	struct resolv_ipv6 dns6;       /* DHCPv6 + RDNSS, DNSSL merged */
	uint64_t link_up6_ms;          /* start → carrier on the IPv6 link */
	uint64_t ra_ms;                /* carrier → first RA with the M flag */
	uint64_t lease6_ms;            /* carrier → DHCPv6 Reply */
	uint64_t dad_ms;               /* address added → DAD done */
	unsigned rs_sent, dhcp6_solicits, dhcp6_requests, dhcp6_restarts, dhcp6_ignored;
	bool configured6;              /* IPv6 address and route are in place */
	/* Kernel settings changed on the links tried, restored by net_release. */
	struct {
		char name[IF_NAMESIZE];
		int accept_ra, optimistic_dad; /* old values; -1 = not changed */
	} saved[NET_MAX_INTERFACES];
	size_t n_saved;
};

/* The grace rule as a pure function (table-tested): how far a family that
 * has not got anywhere came, and when to give it up once the other family
 * is up (since other_up_ms, 0 = not yet). */
struct net_family_progress {
	bool trying;                   /* some link still works on this family */
	bool only_unmanaged;           /* IPv6: every such link heard only RAs without M */
	uint64_t first_ask_ms;         /* first DISCOVER / RS sent; UINT64_MAX = none yet */
};
/* UINT64_MAX while the other family is not up; else grace_ms after the
 * first solicitation, never before other_up_ms, and other_up_ms itself when
 * only RAs without the M flag came. */
uint64_t net_give_up_at(const struct net_family_progress *p, uint64_t other_up_ms, uint32_t grace_ms);

/* Brings the network up.  Returns 0 with `res` filled, or a negative errno
 * with `err` naming the link(s), the phase (carrier, DHCP state, applying)
 * and what was seen. */
int net_up(const struct net_config *cfg, struct net_result *res, struct ip_error *err);

/* Whether only IPv6 reaches beyond the link: IPv6 is up and IPv4 is not,
 * or has only a link-local 169.254.x.y lease (what EC2's IPv6-only subnets
 * hand out, enough for IMDS but not for S3). */
bool net_only_ipv6(const struct net_result *res);

/* Whether net_release has anything to undo. */
bool net_needs_release(const struct net_result *res);

/* Removes the addresses and routes that net_up added and restores the IPv6
 * settings it changed (before stage 2 takes over). */
int net_release(struct net_result *res, struct ip_error *err);

#endif
