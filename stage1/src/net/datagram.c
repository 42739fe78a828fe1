#include "net/datagram.h"

#include <errno.h>
#include <sys/uio.h>

ssize_t net_datagram_receive(int fd, void *buf, size_t cap, void *from, socklen_t from_len,
			     void *control, size_t control_len, struct msghdr *mh)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	*mh = (struct msghdr){
		.msg_name = from,
		.msg_namelen = from_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = control_len,
	};
	ssize_t n = recvmsg(fd, mh, MSG_DONTWAIT);
	mh->msg_iov = NULL;
	mh->msg_iovlen = 0;
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh->msg_flags & MSG_TRUNC)
		return -ENOMSG;
	return n;
}
