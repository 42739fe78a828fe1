/* The ICMPv6 socket of Router Discovery: sends Router Solicitations to
 * all-routers (ff02::2) and receives Router Advertisements on one link.
 * A raw ICMPv6 socket with a type filter, bound to the device. */
#ifndef IP_NET_NDISC_NETWORK_H
#define IP_NET_NDISC_NETWORK_H

#include "util/error.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

int ndisc_network_open(int ifindex, const char *ifname, struct ip_error *err);
/* -EADDRNOTAVAIL while the link has no usable link-local address. */
int ndisc_network_send_rs(int fd, int ifindex, const uint8_t *mac);
/* Reads one Router Advertisement: 0 with *len and *from set; -ENOMSG for one
 * that fails RFC 4861 §6.1.2's IP checks (hop limit 255, link-local
 * source); -EAGAIN when nothing is queued; other negative errno. */
int ndisc_network_receive(int fd, uint8_t *buf, size_t cap, size_t *len, struct in6_addr *from);

#endif
