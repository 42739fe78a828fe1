#include "net/dhcp6_network.h"

#include "net/dhcp6_message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int dhcp6_network_open(int ifindex, const char *ifname, struct ip_error *err)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
	if (fd < 0)
		return ip_fail(err, -errno, "%s: opening a DHCPv6 socket: %s", ifname, strerror(errno));
	int on = 1, off = 0, r;
	/* One socket per link, all on port 546: each is bound to its device. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) < 0) {
		r = ip_fail(err, -errno, "%s: setting up the DHCPv6 socket: %s", ifname, strerror(errno));
		goto fail;
	}
	struct sockaddr_in6 sa = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(DHCP6_CLIENT_PORT),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = ip_fail(err, -errno, "%s: binding UDP port %d: %s", ifname, DHCP6_CLIENT_PORT,
			    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int dhcp6_network_send(int fd, int ifindex, const uint8_t *msg, size_t len)
{
	struct sockaddr_in6 to = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(DHCP6_SERVER_PORT),
		.sin6_scope_id = (uint32_t)ifindex,
	};
	inet_pton(AF_INET6, "ff02::1:2", &to.sin6_addr);
	ssize_t n = sendto(fd, msg, len, 0, (struct sockaddr *)&to, sizeof(to));
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int dhcp6_network_receive(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	struct sockaddr_in6 from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n > cap || from.sin6_family != AF_INET6 || ntohs(from.sin6_port) != DHCP6_SERVER_PORT)
		return -ENOMSG;
	*len = (size_t)n;
	return 0;
}
