/* The network phase of the boot flow (and of `initrd-provision net`):
 * find Ethernet links, set them up, wait for carrier, run the DHCPv4 client
 * on every link that has one (in parallel; the first complete lease wins),
 * apply that lease with netlink and write resolv.conf.  IPv6 gets what the
 * kernel does on its own once a link is up: a link-local address.
 *
 * Hand-off: net_release() removes the address and routes net_up() added, so
 * stage 2's own network configuration starts from a clean link (what NixOS's
 * flushBeforeStage2 does for the scripted initrd).  The link stays up. */
#ifndef IP_NET_NET_H
#define IP_NET_NET_H

#include "net/dhcp_option.h"
#include "util/error.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limit: links tried at once. */
#define NET_MAX_INTERFACES 16

struct net_config {
	const char *const *interfaces; /* names to use as they are; NULL/0 = detect */
	size_t n_interfaces;
	uint32_t timeout_ms;           /* whole budget: carrier + DHCP */
	uint32_t carrier_timeout_ms;   /* per link, within the budget */
	const char *resolv_conf;       /* NULL = leave resolv.conf alone */
	uint32_t dhcp_base_timeout_ms; /* first retransmission; RFC 2131's 4 s by default */
	uint32_t dhcp_restart_delay_ms;/* after a DHCPNAK */
	/* Optional: called as soon as a link has carrier (for a progress line). */
	void (*on_link_up)(void *ctx, const char *ifname, uint64_t ms_since_start);
	void *event_ctx;
};
/* 30 s budget, 10 s carrier wait, /etc/resolv.conf, RFC 2131 timing. */
void net_config_defaults(struct net_config *cfg);

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
	bool configured;               /* address and routes are in place */
};

/* Brings the network up.  Returns 0 with `res` filled, or a negative errno
 * with `err` naming the link(s), the phase (carrier, DHCP state, applying)
 * and what was seen. */
int net_up(const struct net_config *cfg, struct net_result *res, struct ip_error *err);

/* Removes the address and routes that net_up added (before stage 2 takes
 * over).  Does nothing when res->configured is false. */
int net_release(struct net_result *res, struct ip_error *err);

#endif
