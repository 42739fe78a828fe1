/* initrd-provision net: bring the network up with our DHCPv4 and DHCPv6
 * clients, as the boot flow does, and say what happened, one line per step.
 *
 * On a host the address and routes are KEPT by default (the point of the
 * command is a working network); --flush removes them again after the report,
 * which is what the boot flow does before stage 2. */
#include "cmd/commands.h"

#include "net/net.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(void)
{
	printf("Usage: initrd-provision net [--family ipv4|ipv6|dual] [--interface NAME]... [--timeout S]\n"
	       "                            [--timeout6 S] [--grace S] [--rapid-commit] [--resolv-conf PATH]\n"
	       "                            [--keep | --flush] [--verbose]\n"
	       "\n"
	       "Brings up IPv4 with DHCP and IPv6 with Router Advertisements and DHCPv6 on\n"
	       "the named interfaces (default: every physical Ethernet interface; the first\n"
	       "lease of each family wins), applies addresses, MTU and routes with netlink\n"
	       "and writes resolv.conf.  Either family being up is success.\n"
	       "\n"
	       "  -F, --family F        ipv4, ipv6 or dual (default dual)\n"
	       "  -i, --interface NAME  use this interface (repeatable); named interfaces are\n"
	       "                        used even if virtual (veth in a namespace)\n"
	       "  -t, --timeout S       give up a family after S seconds (default 30)\n"
	       "      --timeout6 S      IPv6's own budget (default: --timeout)\n"
	       "      --grace S         once one family is up, the other is given up S seconds after\n"
	       "                        its first DISCOVER / Router Solicitation unless it got an\n"
	       "                        offer / an RA with the M flag (default 1)\n"
	       "      --rapid-commit    ask for DHCPv6 Rapid Commit (off: EC2 ignored it in 2017)\n"
	       "  -r, --resolv-conf P   write the DNS servers to P (default /etc/resolv.conf;\n"
	       "                        '-' leaves resolv.conf alone)\n"
	       "      --keep            keep address and routes (default for this command)\n"
	       "      --flush           remove address and routes again after the report (as the\n"
	       "                        boot flow does before stage 2)\n"
	       "  -v, --verbose         log DHCP state changes and ignored packets\n"
	       "  -h, --help            this text\n"
	       "\n"
	       "Exit codes: 0 lease applied, 1 failed (the message names interface and phase),\n"
	       "2 usage.\n");
}

static const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void on_link_up(void *ctx, const char *ifname, uint64_t ms)
{
	(void)ctx;
	printf("net: %s: link up (carrier after %llu ms)\n", ifname, (unsigned long long)ms);
	fflush(stdout);
}

static void list_addresses(char *out, size_t cap, const uint32_t *addrs, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char a[INET_ADDRSTRLEN];
		int w = snprintf(out + len, cap - len, "%s%s", i ? " " : "", ip4(addrs[i], a));
		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
	if (n == 0)
		snprintf(out, cap, "none");
}

static void print_lease(const struct net_result *res)
{
	const struct dhcp_lease *l = &res->lease;
	char addr[INET_ADDRSTRLEN], server[INET_ADDRSTRLEN], routers[80], dns[160], lease[32];
	char mtu[24] = "not offered";
	if (l->mtu)
		snprintf(mtu, sizeof(mtu), "%u", l->mtu);
	list_addresses(routers, sizeof(routers), l->routers, l->n_routers);
	list_addresses(dns, sizeof(dns), l->dns, l->n_dns);
	if (l->lease_time == DHCP_LEASE_INFINITE)
		snprintf(lease, sizeof(lease), "infinite");
	else
		snprintf(lease, sizeof(lease), "%u s", l->lease_time);
	char naks[48] = "";
	if (res->dhcp_naks)
		snprintf(naks, sizeof(naks), " (after %u DHCPNAK%s)", res->dhcp_naks,
			 res->dhcp_naks == 1 ? "" : "s");
	if (!res->ipv4_up)
		return;
	printf("net: %s: lease obtained in %llu ms after link up%s: address %s/%u, router %s, "
	       "dns %s, mtu %s, lease %s, server %s%s%s\n",
	       res->ifname, (unsigned long long)res->lease_ms, naks, ip4(l->address, addr),
	       l->prefixlen, routers, dns, mtu, lease, ip4(l->server_id, server),
	       l->domain[0] ? ", domain " : "", l->domain);

	char routes[512];
	size_t len = 0;
	routes[0] = '\0';
	for (size_t i = 0; i < l->n_routes; i++) {
		char d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
		const struct dhcp_route *r = &l->routes[i];
		int w;
		if (r->prefixlen == 0)
			w = snprintf(routes + len, sizeof(routes) - len, "%sdefault", i ? ", " : "");
		else
			w = snprintf(routes + len, sizeof(routes) - len, "%s%s/%u", i ? ", " : "",
				     ip4(r->dst, d), r->prefixlen);
		if (w > 0 && (size_t)w < sizeof(routes) - len)
			len += (size_t)w;
		w = r->gateway ? snprintf(routes + len, sizeof(routes) - len, " via %s", ip4(r->gateway, g))
			       : snprintf(routes + len, sizeof(routes) - len, " on-link");
		if (w > 0 && (size_t)w < sizeof(routes) - len)
			len += (size_t)w;
	}
	printf("net: %s: routes%s: %s\n", res->ifname,
	       l->has_classless_routes ? " (classless, option 121; router option ignored)" : "",
	       l->n_routes ? routes : "none");
	if (res->n_links > 1)
		printf("net: %s: won the race among %u interfaces\n", res->ifname, res->n_links);
}

static void print_ipv6(const struct net_result *res)
{
	if (!res->ipv6_up)
		return;
	const struct dhcp6_lease *l = &res->lease6;
	char addr[INET6_ADDRSTRLEN], router[INET6_ADDRSTRLEN], dns[400] = "none";
	inet_ntop(AF_INET6, &l->address, addr, sizeof(addr));
	inet_ntop(AF_INET6, &res->router6, router, sizeof(router));
	size_t len = 0;
	for (size_t i = 0; i < res->dns6.n_dns; i++) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &res->dns6.dns[i], a, sizeof(a));
		int w = snprintf(dns + len, sizeof(dns) - len, "%s%s", i ? " " : "", a);
		if (w < 0 || (size_t)w >= sizeof(dns) - len)
			break;
		len += (size_t)w;
	}
	char restarts[48] = "";
	if (res->dhcp6_restarts)
		snprintf(restarts, sizeof(restarts), " (after %u restart%s)", res->dhcp6_restarts,
			 res->dhcp6_restarts == 1 ? "" : "s");
	printf("net: %s: router advertisement in %llu ms after link up: router %s, lifetime %u s, flags%s%s\n",
	       res->ifname6, (unsigned long long)res->ra_ms, router, res->router_lifetime,
	       res->ra_managed ? " M" : "", res->ra_other ? " O" : "");
	printf("net: %s: DHCPv6 lease obtained in %llu ms after link up%s: address %s/128, "
	       "preferred %u s, valid %u s, dns %s%s%s%s\n",
	       res->ifname6, (unsigned long long)res->lease6_ms, restarts, addr, l->preferred_lft,
	       l->valid_lft, dns, res->dns6.search[0] ? ", search " : "", res->dns6.search,
	       l->rapid_commit ? ", rapid commit" : "");
	printf("net: %s: configured IPv6 address (DAD %llu ms), default route via %s expiring in %u s; "
	       "stage 2 must renew before %u s\n",
	       res->ifname6, (unsigned long long)res->dad_ms, router, res->router_lifetime, l->valid_lft);
}

static const char *hint_for(int code)
{
	switch (code) {
	case -ETIMEDOUT: return "check that a DHCP server (IPv6: a router sending RAs with the M flag, and DHCPv6) answers on this link, or raise --timeout";
	case -ENOLINK: return "check the cable, the virtual NIC or the peer of the link";
	case -ENODEV: return "see 'ip link' for the interfaces there are";
	case -EPERM:
	case -EACCES: return "run as root (needs CAP_NET_ADMIN and CAP_NET_RAW)";
	default: return NULL;
	}
}

/* Seconds as a positive number (or zero when allowed), at most an hour. */
static int parse_seconds(const char *text, bool zero_ok, uint32_t *ms)
{
	char *end;
	errno = 0;
	double s = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(s) || s < 0 || (s == 0 && !zero_ok) || s > 3600)
		return -EINVAL;
	*ms = (uint32_t)(s * 1000.0 + 0.5);
	if (*ms == 0 && !zero_ok)
		*ms = 1;
	return 0;
}

int cmd_net(int argc, char **argv)
{
	static const struct option options[] = {
		{ "family", required_argument, NULL, 'F' },
		{ "interface", required_argument, NULL, 'i' },
		{ "timeout6", required_argument, NULL, '6' },
		{ "grace", required_argument, NULL, 'g' },
		{ "rapid-commit", no_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 't' },
		{ "resolv-conf", required_argument, NULL, 'r' },
		{ "keep", no_argument, NULL, 'k' },
		{ "flush", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *names[NET_MAX_INTERFACES];
	struct net_config cfg;
	net_config_defaults(&cfg);
	cfg.interfaces = names;
	bool flush = false, timeout6_set = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "F:i:t:r:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'F':
			if (net_family_parse(optarg, &cfg.family) < 0)
				return cmd_usage_error("net", "--family wants ipv4, ipv6 or dual, not '%s'", optarg);
			break;
		case 'R':
			cfg.dhcp6_rapid_commit = true;
			break;
		case 'i':
			if (cfg.n_interfaces == NET_MAX_INTERFACES)
				return cmd_usage_error("net", "at most %d interfaces", NET_MAX_INTERFACES);
			if (!optarg[0] || strlen(optarg) >= IF_NAMESIZE)
				return cmd_usage_error("net", "'%s' is not an interface name", optarg);
			names[cfg.n_interfaces++] = optarg;
			break;
		case 't':
		case '6':
		case 'g': {
			uint32_t ms;
			const char *name = opt == 't' ? "--timeout" : opt == '6' ? "--timeout6" : "--grace";
			if (parse_seconds(optarg, opt == 'g', &ms) < 0)
				return cmd_usage_error("net", "%s wants seconds (0 %s S <= 3600), not '%s'", name,
						       opt == 'g' ? "<=" : "<", optarg);
			if (opt == 't') {
				cfg.timeout_ms = ms;
				if (!timeout6_set)
					cfg.timeout6_ms = ms;
			} else if (opt == '6') {
				cfg.timeout6_ms = ms;
				timeout6_set = true;
			} else {
				cfg.grace_ms = ms;
			}
			break;
		}
		case 'r':
			cfg.resolv_conf = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'k':
			flush = false;
			break;
		case 'f':
			flush = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			print_help();
			return EXIT_OK;
		default:
			return cmd_usage_error("net", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("net", "unexpected argument '%s'", argv[optind]);
	uint32_t longest = cfg.timeout_ms > cfg.timeout6_ms ? cfg.timeout_ms : cfg.timeout6_ms;
	if (cfg.carrier_timeout_ms > longest)
		cfg.carrier_timeout_ms = longest;
	cfg.on_link_up = on_link_up;

	struct net_result res;
	struct ip_error err = { 0 };
	if (net_up(&cfg, &res, &err) < 0) {
		const char *hint = hint_for(err.code);
		fprintf(stderr, "initrd-provision: net: %s%s%s\n", ip_error_str(&err),
			hint ? "; " : "", hint ? hint : "");
		return EXIT_FAILURE_RUN;
	}
	print_lease(&res);
	print_ipv6(&res);
	if (res.ipv4_error[0])
		printf("net: IPv4 not up (going on with IPv6): %s\n", res.ipv4_error);
	if (res.ipv6_error[0])
		printf("net: IPv6 not up (going on with IPv4): %s\n", res.ipv6_error);
	char mtu[200] = "";
	if (res.mtu_applied)
		snprintf(mtu, sizeof(mtu), ", MTU %u", res.lease.mtu);
	else if (res.mtu_error[0])
		snprintf(mtu, sizeof(mtu), ", MTU NOT changed (%s)", res.mtu_error);
	char resolv[300] = "";
	const char *name = res.ipv4_up ? res.ifname : res.ifname6;
	if (res.resolv_written)
		snprintf(resolv, sizeof(resolv), "; wrote %s", cfg.resolv_conf);
	else if (cfg.resolv_conf)
		snprintf(resolv, sizeof(resolv), "; no DNS server offered, %s left alone", cfg.resolv_conf);
	if (res.ipv4_up)
		printf("net: %s: configured address%s, %zu route%s%s; IPv6 link-local %s (%llu ms)\n",
		       res.ifname, mtu, res.n_routes, res.n_routes == 1 ? "" : "s", resolv,
		       res.ipv6_link_local ? "present" : "absent", (unsigned long long)res.apply_ms);
	else
		printf("net: %s: IPv6 only%s (%llu ms)\n", name, resolv, (unsigned long long)res.apply_ms);
	if (flush) {
		if (net_release(&res, &err) < 0) {
			fprintf(stderr, "initrd-provision: net: %s: releasing: %s\n", name, ip_error_str(&err));
			return EXIT_FAILURE_RUN;
		}
		printf("net: %s: flushed: addresses and routes removed (--flush)\n", name);
	}
	return EXIT_OK;
}
