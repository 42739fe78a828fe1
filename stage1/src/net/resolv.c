#include "net/resolv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	if (lease->n_dns == 0)
		return -ENODATA;
	if (cap == 0)
		return -ENOBUFS;
	size_t len = 0;
	char server[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &lease->server_id, server, sizeof(server));
	int r = append(buf, cap, &len, "# written by initrd-provision from the DHCP lease on %s (server %s)\n",
		       ifname, server);
	/* The domain was checked to hold host name characters only. */
	if (!r && lease->domain[0])
		r = append(buf, cap, &len, "search %s\n", lease->domain);
	for (size_t i = 0; !r && i < lease->n_dns && i < RESOLV_MAX_NAMESERVERS; i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &lease->dns[i], a, sizeof(a));
		r = append(buf, cap, &len, "nameserver %s\n", a);
	}
	return r < 0 ? r : (int)len;
}

int resolv_write(const char *path, const char *content, size_t len, struct ip_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return ip_fail(err, -ENAMETOOLONG, "%s: path too long", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return ip_fail(err, -errno, "%s: creating a temporary file: %s", path, strerror(errno));
	int r = 0;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, content + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ip_fail(err, -errno, "%s: writing: %s", tmp, strerror(errno));
			goto fail;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		r = ip_fail(err, -errno, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = ip_fail(err, -errno, "%s: closing: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = ip_fail(err, -errno, "%s: renaming into place: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}
