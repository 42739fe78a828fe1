#include "net/dhcp_network.h"

#include "net/datagram.h"
#include "net/dhcp_packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Keeps everything but unfragmented IPv4/UDP to port 68 in the kernel.  On a
 * SOCK_DGRAM packet socket offsets start at the IP header. */
static const struct sock_filter dhcp_filter[] = {
	BPF_STMT(BPF_LD + BPF_B + BPF_ABS, 0),                    /* A = version/IHL */
	BPF_STMT(BPF_ALU + BPF_AND + BPF_K, 0xf0),
	BPF_JUMP(BPF_JMP + BPF_JEQ + BPF_K, 0x40, 0, 8),          /* IPv4? */
	BPF_STMT(BPF_LD + BPF_B + BPF_ABS, 9),                    /* A = protocol */
	BPF_JUMP(BPF_JMP + BPF_JEQ + BPF_K, IPPROTO_UDP, 0, 6),   /* UDP? */
	BPF_STMT(BPF_LD + BPF_H + BPF_ABS, 6),                    /* A = flags/fragment */
	BPF_JUMP(BPF_JMP + BPF_JSET + BPF_K, 0x3fff, 4, 0),       /* a fragment: drop */
	BPF_STMT(BPF_LDX + BPF_B + BPF_MSH, 0),                   /* X = IP header length */
	BPF_STMT(BPF_LD + BPF_H + BPF_IND, 2),                    /* A = UDP dst port */
	BPF_JUMP(BPF_JMP + BPF_JEQ + BPF_K, DHCP_CLIENT_PORT, 0, 1),
	BPF_STMT(BPF_RET + BPF_K, 0xffffffff),                    /* accept */
	BPF_STMT(BPF_RET + BPF_K, 0),                             /* drop */
};

int dhcp_network_open(int ifindex, const char *ifname, struct ip_error *err)
{
	/* Protocol 0 receives nothing until bind(), so no packet from another
	 * interface can be queued before the filter and the binding are in
	 * place. */
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ip_fail(err, -errno, "%s: opening a packet socket: %s", ifname, strerror(errno));
	int r;
	struct sock_fprog prog = {
		.len = sizeof(dhcp_filter) / sizeof(dhcp_filter[0]),
		.filter = (struct sock_filter *)dhcp_filter,
	};
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		r = ip_fail(err, -errno, "%s: attaching the DHCP packet filter: %s", ifname,
			    strerror(errno));
		goto fail;
	}
	/* Tells us when the kernel left a checksum for the NIC to fill in
	 * (veth, virtio): such packets carry a partial UDP checksum. */
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)) < 0) {
		r = ip_fail(err, -errno, "%s: PACKET_AUXDATA: %s", ifname, strerror(errno));
		goto fail;
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = ip_fail(err, -errno, "%s: binding the packet socket: %s", ifname, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int dhcp_network_send(int fd, int ifindex, const uint8_t *msg, size_t len)
{
	uint8_t pkt[IPV4_HEADER_LEN + UDP_HEADER_LEN + DHCP_MAX_MESSAGE_SIZE];
	struct udp_datagram d = {
		.src = htonl(INADDR_ANY),
		.dst = htonl(INADDR_BROADCAST),
		.sport = DHCP_CLIENT_PORT,
		.dport = DHCP_SERVER_PORT,
		.payload = msg,
		.len = len,
	};
	int n = udp_packet_build(&d, pkt, sizeof(pkt));
	if (n < 0)
		return n;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	ssize_t sent = sendto(fd, pkt, (size_t)n, 0, (struct sockaddr *)&sll, sizeof(sll));
	if (sent < 0)
		return -errno;
	if (sent != n)
		return -EIO;
	return 0;
}

int dhcp_network_receive(int fd, uint8_t *buf, size_t cap, const uint8_t **msg, size_t *msg_len)
{
	struct sockaddr_ll from;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} control;
	struct msghdr mh;
	ssize_t n = net_datagram_receive(fd, buf, cap, &from, sizeof(from), control.buf,
					 sizeof(control.buf), &mh);
	if (n < 0)
		return (int)n;
	if (from.sll_pkttype == PACKET_OUTGOING)
		return -ENOMSG;
	bool verify = true;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA) {
			struct tpacket_auxdata aux;
			memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
			if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
				verify = false;
		}
	}
	struct udp_datagram d;
	int r = udp_packet_parse(buf, (size_t)n, verify, &d);
	if (r < 0)
		return -EBADMSG;
	if (d.sport != DHCP_SERVER_PORT || d.dport != DHCP_CLIENT_PORT)
		return -ENOMSG;
	*msg = d.payload;
	*msg_len = d.len;
	return 0;
}
