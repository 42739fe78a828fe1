/* resolv.conf from a DHCP lease, so the libc resolver (glibc or musl) finds
 * the cache's host name.  Formatting is pure; writing is atomic. */
#ifndef IP_NET_RESOLV_H
#define IP_NET_RESOLV_H

#include "net/dhcp_option.h"
#include "util/error.h"

#include <stddef.h>

/* glibc and musl read at most three nameserver lines (MAXNS). */
#define RESOLV_MAX_NAMESERVERS 3
#define RESOLV_CONF_MAX 1024

/* Formats resolv.conf for `lease` (a comment naming the interface, "search"
 * when the lease has a domain, then up to RESOLV_MAX_NAMESERVERS nameserver
 * lines).  Returns the length, -ENODATA when the lease has no DNS server, or
 * -ENOBUFS. */
int resolv_format(const struct dhcp_lease *lease, const char *ifname, char *buf, size_t cap);

/* Writes `content` to `path` atomically: a temporary file in the same
 * directory, fsync, mode 0644, rename over path.  A symlink at `path` is
 * replaced, not followed. */
int resolv_write(const char *path, const char *content, size_t len, struct ip_error *err);

#endif
