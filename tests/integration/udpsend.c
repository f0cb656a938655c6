// SPDX-License-Identifier: GPL-2.0-or-later
/* Test helper: send COUNT UDP datagrams of PAYLOAD bytes to ADDR PORT, from
 * SRC if given, GAP microseconds apart if given (steady traffic).  Exact sizes make exact expected byte counts:
 * IPv4 = PAYLOAD + 28 bytes at layer 3, IPv6 = PAYLOAD + 48. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *dst, *src = NULL;
	static char payload[65536];
	long size, count, gap = 0;
	int fd;

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: udpsend ADDR PORT PAYLOAD COUNT [SRC [GAP_US]]\n");
		return 2;
	}
	size = atol(argv[3]);
	count = atol(argv[4]);
	if (argc == 7)
		gap = atol(argv[6]);
	if (size < 0 || size > 65000 || count < 0 || gap < 0 || gap > 10000000 ||
	    getaddrinfo(argv[1], argv[2], &hints, &dst) != 0 ||
	    (argc >= 6 && getaddrinfo(argv[5], NULL, &hints, &src) != 0)) {
		fprintf(stderr, "udpsend: bad arguments\n");
		return 2;
	}
	fd = socket(dst->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || (src && bind(fd, src->ai_addr, src->ai_addrlen) < 0)) {
		perror("udpsend: socket");
		return 1;
	}
	memset(payload, 'x', sizeof(payload));
	for (long i = 0; i < count; i++) {
		if (sendto(fd, payload, (size_t)size, 0, dst->ai_addr, dst->ai_addrlen) != size) {
			perror("udpsend: sendto");
			return 1;
		}
		if (gap)
			usleep((useconds_t)gap);
	}
	close(fd);
	freeaddrinfo(dst);
	if (src)
		freeaddrinfo(src);
	return 0;
}
