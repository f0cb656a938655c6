/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pure half of address discovery: which interfaces an account names,
 * and the discovered addresses as one sorted list without duplicates.
 * Reading them from the kernel is kernel/discover.c's. */
#ifndef NFTALLY_DISC_H
#define NFTALLY_DISC_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* Interface names as the kernel bounds them (IFNAMSIZ), NUL included. */
#define DISC_IFNAMSIZ 16

/* One discovered address: a host address (/32 or /128), the interface it
 * was found on, and whether a host route through that interface (true) or
 * an address of the interface (false) named it. */
struct disc_addr {
	struct addr a;
	char ifname[DISC_IFNAMSIZ];
	bool route;
};

/* Does interface name ifname match glob?  A glob is an exact name, a
 * prefix followed by one trailing '*' ("qg-*", as nft's iifname "qg-*"),
 * or "*" alone (any name).  A '*' anywhere else is an ordinary byte. */
bool disc_iface_match(const char *glob, const char *ifname);

/* Does ifname match any of the n globs? */
bool disc_iface_match_any(const char (*globs)[DISC_IFNAMSIZ], size_t n, const char *ifname);

/* Order: the address (addr_cmp), then interface addresses before routes,
 * then the interface name.  memcmp-like result. */
int disc_addr_cmp(const struct disc_addr *a, const struct disc_addr *b);

/* Sort v[0..n) by disc_addr_cmp and keep the first entry of each address:
 * an address both on an interface and routed, or on two interfaces, is
 * listed once, as the interface address of the interface whose name sorts
 * first.  Returns the new count. */
size_t disc_addrs_unique(struct disc_addr *v, size_t n);

#endif
