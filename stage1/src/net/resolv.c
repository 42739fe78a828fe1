#include "net/resolv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOBUFS;
	*len += (size_t)n;
	return 0;
}

int resolv_format(const struct dhcp_lease *lease, const char *ifname, char *buf, size_t cap)
{
	return resolv_format_both(lease, ifname, NULL, buf, cap);
}

static bool in_search(const char *search, size_t search_len, const char *name, size_t n)
{
	const char *p = search, *end = search + search_len;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t len = sp ? (size_t)(sp - p) : (size_t)(end - p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len + 1;
	}
	return false;
}

/* "search a b c": the IPv4 domain, then the IPv6 names not already there. */
static int format_search(const struct dhcp_lease *lease, const struct resolv_ipv6 *v6, char *out,
			 size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	if (lease && lease->domain[0])
		if (append(out, cap, &len, "%s", lease->domain) < 0)
			return -ENOBUFS;
	const char *p = v6 ? v6->search : "";
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n && !in_search(out, len, p, n) &&
		    append(out, cap, &len, "%s%.*s", len ? " " : "", (int)n, p) < 0)
			return -ENOBUFS;
		p += n + (sp ? 1 : 0);
	}
	return 0;
}

int resolv_format_both(const struct dhcp_lease *lease, const char *ifname,
		       const struct resolv_ipv6 *v6, char *buf, size_t cap)
{
	size_t n4 = lease ? lease->n_dns : 0, n6 = v6 ? v6->n_dns : 0;
	if (n4 + n6 == 0)
		return -ENODATA;
	if (cap == 0)
		return -ENOBUFS;
	size_t len = 0;
	int r = 0;
	if (lease) {
		char server[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &lease->server_id, server, sizeof(server));
		r = append(buf, cap, &len, "# written by initrd-provision from the DHCP lease on %s (server %s)\n",
			   ifname, server);
	}
	if (!r && v6)
		r = append(buf, cap, &len, "# written by initrd-provision from DHCPv6 and the router advertisement on %s\n",
			   v6->ifname ? v6->ifname : "?");
	/* Names were checked to hold host name characters only. */
	char search[768];
	if (!r && (r = format_search(lease, v6, search, sizeof(search))) == 0 && search[0])
		r = append(buf, cap, &len, "search %s\n", search);
	size_t i4 = 0, i6 = 0;
	for (size_t k = 0; !r && k < RESOLV_MAX_NAMESERVERS && (i4 < n4 || i6 < n6); k++) {
		char a[INET6_ADDRSTRLEN];
		bool take4 = i4 < n4 && (i6 >= n6 || i4 <= i6);
		if (take4)
			inet_ntop(AF_INET, &lease->dns[i4++], a, sizeof(a));
		else
			inet_ntop(AF_INET6, &v6->dns[i6++], a, sizeof(a));
		r = append(buf, cap, &len, "nameserver %s\n", a);
	}
	return r < 0 ? r : (int)len;
}

int resolv_write(const char *path, const char *content, size_t len, struct ip_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	char dir[4096], tmp[NAME_MAX + 16];
	if (!name[0] || strlen(name) > NAME_MAX || dir_len >= sizeof(dir))
		return ip_fail(err, -ENAMETOOLONG, "%s: not a file name of a usable length", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (dir_len == 0)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)dir_len, path);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return ip_fail(err, -errno, "%s: %s", path, strerror(errno));
	snprintf(tmp, sizeof(tmp), ".%s.ip-tmp", name);
	int r = fs_replace_file_at(dir_fd, name, tmp, content, len, true, err);
	if (r < 0)
		r = ip_fail_ctx(err, r, "%s", path);
	/* Every program reads resolv.conf, whatever the umask. */
	else if (fchmodat(dir_fd, name, 0644, 0) < 0)
		r = ip_fail(err, -errno, "%s: %s", path, strerror(errno));
	close(dir_fd);
	return r;
}
