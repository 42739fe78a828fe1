#include "net/ndisc_network.h"

#include "net/datagram.h"
#include "net/ndisc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ndisc_network_open(int ifindex, const char *ifname, struct ip_error *err)
{
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6);
	if (fd < 0)
		return ip_fail(err, -errno, "%s: opening an ICMPv6 socket: %s", ifname, strerror(errno));
	struct icmp6_filter filter;
	ICMP6_FILTER_SETBLOCKALL(&filter);
	ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
	/* RFC 4861 §6.1.1/§6.1.2: ND messages travel with hop limit 255, so a
	 * received one with less came from off-link. */
	int on = 1, hops = 255, off = 0;
	if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) < 0) {
		int r = ip_fail(err, -errno, "%s: setting up the ICMPv6 socket: %s", ifname, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int ndisc_network_send_rs(int fd, int ifindex, const uint8_t *mac)
{
	uint8_t rs[16];
	int len = ndisc_rs_build(mac, rs, sizeof(rs));
	if (len < 0)
		return len;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)ifindex };
	inet_pton(AF_INET6, "ff02::2", &to.sin6_addr);
	ssize_t n = sendto(fd, rs, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

int ndisc_network_receive(int fd, uint8_t *buf, size_t cap, size_t *len, struct in6_addr *from)
{
	struct sockaddr_in6 sa;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh;
	ssize_t n = net_datagram_receive(fd, buf, cap, &sa, sizeof(sa), control.buf,
					 sizeof(control.buf), &mh);
	if (n < 0)
		return (int)n;
	int hop_limit = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)
			memcpy(&hop_limit, CMSG_DATA(cm), sizeof(hop_limit));
	if (hop_limit != 255 || !IN6_IS_ADDR_LINKLOCAL(&sa.sin6_addr))
		return -ENOMSG;
	*len = (size_t)n;
	*from = sa.sin6_addr;
	return 0;
}
