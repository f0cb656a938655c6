// SPDX-License-Identifier: GPL-2.0-or-later
/* Without a targets file nftally accounts the host's own addresses, each
 * billed to the name of the interface that holds it. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "hostaddrs.h"

static bool skip_addr(const struct addr *a)
{
	if (a->family == AF_INET)
		return a->bytes[0] == 127 || (a->bytes[0] == 169 && a->bytes[1] == 254);
	return (a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80) ||
	       (a->bytes[0] == 0 && a->bytes[15] <= 1 &&
		!memcmp(a->bytes, (const uint8_t[15]){ 0 }, 15));
}

static bool to_addr(const struct sockaddr *sa, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		a->plen = 32;
		memcpy(a->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		a->family = AF_INET6;
		a->plen = 128;
		memcpy(a->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

int hostaddrs_collect(struct targets *t, struct err *e)
{
	struct ifaddrs *ifa, *i;
	int ret = 0;

	if (getifaddrs(&ifa) < 0)
		return err_setn(e, -errno, "listing this host's addresses: %s", strerror(errno));
	for (i = ifa; i && ret == 0; i = i->ifa_next) {
		struct addr a;

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (!to_addr(i->ifa_addr, &a) || skip_addr(&a))
			continue;
		ret = targets_add(t, i->ifa_name, &a);
	}
	freeifaddrs(ifa);
	if (ret < 0)
		return err_setn(e, ret, "out of memory");
	return targets_finalize(t, "host addresses", e);
}
