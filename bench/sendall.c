// SPDX-License-Identifier: GPL-2.0-or-later
/* bench/report.sh's traffic: one UDP datagram of PAYLOAD bytes to, or
 * from, each of the N addresses bench/big.sh's targets name
 * (2001:db8:9::I/65536+1:I%65536).  "to": to port 9999 of every address.
 * "from": from every address (IPV6_FREEBIND and IPV6_PKTINFO: the sender's
 * namespace needs no address of them) to PEER port 9999.  One process and
 * one socket instead of a million udpsend runs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The i-th target, as bench/big.sh's awk writes it. */
static void target(long i, struct in6_addr *a)
{
	inet_pton(AF_INET6, "2001:db8:9::", a);
	a->s6_addr[12] = (uint8_t)((i / 65536 + 1) >> 8);
	a->s6_addr[13] = (uint8_t)(i / 65536 + 1);
	a->s6_addr[14] = (uint8_t)(i % 65536 >> 8);
	a->s6_addr[15] = (uint8_t)(i % 65536);
}

/* sendmsg, again after a short sleep while the socket's buffer is full:
 * every datagram must leave, none may be skipped. */
static int send_one(int fd, struct msghdr *m, size_t size)
{
	for (int tries = 0; tries < 10000; tries++) {
		ssize_t n = sendmsg(fd, m, 0);

		if (n == (ssize_t)size)
			return 0;
		if (n >= 0 || (errno != ENOBUFS && errno != EAGAIN))
			return -1;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	return -1;
}

int main(int argc, char **argv)
{
	static char payload[1500];
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_port = htons(9999) };
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { payload, 0 };
	struct msghdr m = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
			    .msg_iovlen = 1 };
	struct in6_pktinfo *pi = NULL;
	long n, size, pace;
	bool from;
	int fd, one = 1;

	if (argc < 4 || argc > 6 || (strcmp(argv[1], "to") && strcmp(argv[1], "from"))) {
		fprintf(stderr, "usage: sendall to|from N PAYLOAD [PEER [PACE]]\n");
		return 2;
	}
	from = strcmp(argv[1], "from") == 0;
	n = atol(argv[2]);
	size = atol(argv[3]);
	/* every PACE datagrams a pause of 1 ms, so the peer's backlog
	 * (netdev_max_backlog) never overflows (0: none) */
	pace = argc == 6 ? atol(argv[5]) : 0;
	if (n < 0 || n > 16777216 || size < 0 || size > (long)sizeof(payload) || pace < 0 ||
	    (from && (argc < 5 || inet_pton(AF_INET6, argv[4], &dst.sin6_addr) != 1))) {
		fprintf(stderr, "sendall: bad arguments\n");
		return 2;
	}
	iov.iov_len = (size_t)size;
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0 || (from && setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0)) {
		perror("sendall: socket");
		return 1;
	}
	if (from) {
		struct cmsghdr *c;

		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(*pi));
		pi = (struct in6_pktinfo *)CMSG_DATA(c);
		memset(pi, 0, sizeof(*pi));
	}
	memset(payload, 'x', sizeof(payload));
	for (long i = 0; i < n; i++) {
		target(i, from ? &pi->ipi6_addr : &dst.sin6_addr);
		if (send_one(fd, &m, (size_t)size) < 0) {
			fprintf(stderr, "sendall: datagram %ld: %s\n", i, strerror(errno));
			return 1;
		}
		if (pace && (i + 1) % pace == 0)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	close(fd);
	return 0;
}
