/* net/datagram: one datagram received without waiting, over a local
 * datagram socket pair (the kernel sockets of *_network.c need privileges). */
#include "test.h"

#include "net/datagram.h"

#include <errno.h>
#include <sys/un.h>
#include <unistd.h>

union control {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
};

static void receives_payload_sender_and_control(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	int on = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0);
	CHECK_INT(send(sv[0], "hello", 5, 0), ==, 5);

	uint8_t buf[16];
	struct sockaddr_un from;
	union control control;
	struct msghdr mh;
	ssize_t n = net_datagram_receive(sv[1], buf, sizeof(buf), &from, sizeof(from), control.buf,
					 sizeof(control.buf), &mh);
	CHECK_INT(n, ==, 5);
	CHECK_MEM(buf, "hello", 5);
	CHECK(mh.msg_iov == NULL);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	CHECK(cm != NULL);
	CHECK_INT(cm->cmsg_level, ==, SOL_SOCKET);
	CHECK_INT(cm->cmsg_type, ==, SCM_CREDENTIALS);
	struct ucred cred;
	memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
	CHECK_INT(cred.pid, ==, getpid());
	close(sv[0]);
	close(sv[1]);
}

static void nothing_queued_is_eagain(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	uint8_t buf[16];
	struct msghdr mh;
	CHECK_INT(net_datagram_receive(sv[1], buf, sizeof(buf), NULL, 0, NULL, 0, &mh), ==, -EAGAIN);
	close(sv[0]);
	CHECK_INT(net_datagram_receive(-1, buf, sizeof(buf), NULL, 0, NULL, 0, &mh), ==, -EBADF);
	close(sv[1]);
}

/* A datagram larger than buf is not passed on cut: -ENOMSG, and it is gone. */
static void truncated_is_enomsg(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK_INT(send(sv[0], "0123456789", 10, 0), ==, 10);
	CHECK_INT(send(sv[0], "ok", 2, 0), ==, 2);
	uint8_t buf[4];
	struct msghdr mh;
	CHECK_INT(net_datagram_receive(sv[1], buf, sizeof(buf), NULL, 0, NULL, 0, &mh), ==, -ENOMSG);
	CHECK_INT(net_datagram_receive(sv[1], buf, sizeof(buf), NULL, 0, NULL, 0, &mh), ==, 2);
	CHECK_MEM(buf, "ok", 2);
	close(sv[0]);
	close(sv[1]);
}

TEST_MAIN("datagram",
	TEST_CASE(receives_payload_sender_and_control),
	TEST_CASE(nothing_queued_is_eagain),
	TEST_CASE(truncated_is_enomsg))
