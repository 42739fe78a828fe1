/* The only file of the DHCPv6 client that touches sockets: a UDP socket on
 * port 546 bound to one interface; messages go to
 * All_DHCP_Relay_Agents_and_Servers (ff02::1:2, port 547) from the link's
 * link-local address (RFC 8415 §7.1, §13.1), so the link-local address must
 * be usable (not tentative) first. */
#ifndef IP_NET_DHCP6_NETWORK_H
#define IP_NET_DHCP6_NETWORK_H

#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

int dhcp6_network_open(int ifindex, const char *ifname, struct ip_error *err);
/* -EADDRNOTAVAIL while the link has no usable link-local address. */
int dhcp6_network_send(int fd, int ifindex, const uint8_t *msg, size_t len);
/* Reads one datagram: 0 with *len set for one from port 547, -ENOMSG for
 * any other, -EAGAIN when nothing is queued, other negative errno. */
int dhcp6_network_receive(int fd, uint8_t *buf, size_t cap, size_t *len);

#endif
