/* The only file of the DHCP client that touches sockets: an AF_PACKET
 * datagram socket bound to one interface, so the client can send and receive
 * before the interface has an address (RFC 2131 §4.1: the client sends from
 * 0.0.0.0 to the limited broadcast address). */
#ifndef IP_NET_DHCP_NETWORK_H
#define IP_NET_DHCP_NETWORK_H

#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

/* Opens a non-blocking packet socket on `ifindex` that only receives IPv4
 * UDP datagrams to port 68 (a classic BPF filter), not fragmented.  Returns
 * the file descriptor or a negative errno (err names the interface). */
int dhcp_network_open(int ifindex, const char *ifname, struct ip_error *err);

/* Wraps a DHCP message in UDP/IPv4 (0.0.0.0:68 → 255.255.255.255:67) and
 * sends it to the Ethernet broadcast address ff:ff:ff:ff:ff:ff. */
int dhcp_network_send(int fd, int ifindex, const uint8_t *msg, size_t len);

/* Reads one packet.  Returns 0 and points *msg into buf at a DHCP message
 * that arrived for port 68 from port 67; -EAGAIN when nothing is queued;
 * -ENOMSG for a packet that is not for us (ours going out, wrong ports) and
 * -EBADMSG for a malformed or truncated one: the caller reads on; other
 * negative errno for socket errors. */
int dhcp_network_receive(int fd, uint8_t *buf, size_t cap, const uint8_t **msg, size_t *msg_len);

#endif
