/* resolv.conf from a DHCP lease, so the libc resolver (glibc or musl) finds
 * the cache's host name.  Formatting is pure; writing is atomic. */
#ifndef IP_NET_RESOLV_H
#define IP_NET_RESOLV_H

#include "net/dhcp_option.h"
#include "util/error.h"

#include <netinet/in.h>
#include <stddef.h>

/* glibc and musl read at most three nameserver lines (MAXNS). */
#define RESOLV_MAX_NAMESERVERS 3
#define RESOLV_CONF_MAX 1024

/* Formats resolv.conf for `lease` (a comment naming the interface, "search"
 * when the lease has a domain, then up to RESOLV_MAX_NAMESERVERS nameserver
 * lines).  Returns the length, -ENODATA when the lease has no DNS server, or
 * -ENOBUFS. */
int resolv_format(const struct dhcp_lease *lease, const char *ifname, char *buf, size_t cap);

/* What IPv6 contributes: DNS servers from DHCPv6 (option 23) and the RA
 * (RDNSS), search names from option 24 and DNSSL, already merged. */
#define RESOLV_MAX_DNS6 16
struct resolv_ipv6 {
	const char *ifname;
	struct in6_addr dns[RESOLV_MAX_DNS6];
	size_t n_dns;
	char search[512];             /* space separated */
};

/* resolv.conf for both families (either may be NULL): the comment names
 * where each came from; "search" lists the IPv4 domain, then the IPv6 names
 * (duplicates left out); nameservers alternate IPv4, IPv6, IPv4 … up to
 * RESOLV_MAX_NAMESERVERS, so a resolver that tries them in order reaches
 * one of each family first.  -ENODATA when neither names a DNS server. */
int resolv_format_both(const struct dhcp_lease *lease, const char *ifname,
		       const struct resolv_ipv6 *v6, char *buf, size_t cap);

/* Writes `content` to `path` atomically (fs_replace_file_at: a temporary
 * file in the same directory, fsync, rename over path, fsync of the
 * directory), mode 0644.  A symlink at `path` is replaced, not followed. */
int resolv_write(const char *path, const char *content, size_t len, struct ip_error *err);

#endif
