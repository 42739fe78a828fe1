/* Receiving one datagram with recvmsg, for the *_network.c files that read
 * control messages (the packet socket's checksum state, the hop limit of a
 * Router Advertisement).  The only I/O here is the one recvmsg call. */
#ifndef IP_NET_DATAGRAM_H
#define IP_NET_DATAGRAM_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Receives one datagram into buf without waiting, its sender into from
 * (from_len bytes) and its control messages into control (control_len
 * bytes, aligned for struct cmsghdr).  Returns its length; -EAGAIN when
 * none is queued, -ENOMSG when it did not fit in buf, another negative
 * errno when recvmsg failed.  *mh is left for CMSG_FIRSTHDR/CMSG_NXTHDR and
 * msg_flags; its iov, which pointed into this call, is cleared. */
ssize_t net_datagram_receive(int fd, void *buf, size_t cap, void *from, socklen_t from_len,
			     void *control, size_t control_len, struct msghdr *mh);

#endif
