/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses discovered in a network namespace over rtnetlink: those on the
 * interfaces an account names, and host routes (/32, /128) through them,
 * followed by the kernel's notifications so that a change is seen at once.
 * A struct disc belongs to the namespace of the thread that created it,
 * whatever namespace that thread is in later. */
#ifndef NFTALLY_DISCOVER_H
#define NFTALLY_DISCOVER_H

#include <stddef.h>

#include "disc.h"
#include "err.h"

struct disc;

/* Open the sockets of a discovery in the calling thread's namespace: the
 * notifications' first, subscribed to the link, address and route groups,
 * so that nothing changing after it exists can be missed by the scans that
 * follow.  Addresses are looked for on interfaces matching one of the naddr
 * globs addr_ifaces, routes through those matching one of the nroute
 * route_ifaces (disc_iface_match; either may be 0).  The globs are copied.
 * Returns NULL with e set and errno set. */
struct disc *disc_create(const char (*addr_ifaces)[DISC_IFNAMSIZ], size_t naddr,
			 const char (*route_ifaces)[DISC_IFNAMSIZ], size_t nroute, struct err *e);
/* Freeing NULL is harmless. */
void disc_destroy(struct disc *d);

/* The notifications' socket, for poll: readable when disc_drain has work. */
int disc_fd(const struct disc *d);

/* What the namespace holds now: *v (the caller frees it; NULL when *n is 0)
 * gets every IPv4 address (IFA_LOCAL, not of scope host) and IPv6 address
 * of scope global (deprecated and tentative ones included) on a matching
 * interface, and the destination of every RTN_UNICAST route of prefix
 * length 32 or 128, in any routing table, whose output interface (or one
 * of whose multipath next hops') matches; sorted and without duplicates
 * (disc_addrs_unique).  Routes using nexthop objects (`ip route add ...
 * nhid N`) name no interface and are not found.  Notifications waiting
 * before the scan are discarded, as the scan already shows what they
 * said; one that arrives during the scan stays for disc_drain.  0 or a
 * negative errno with e set (then the caller scans again later: the
 * notifications read so far are gone). */
int disc_scan(struct disc *d, struct disc_addr **v, size_t *n, struct err *e);

/* Read the notifications that wait, without blocking.  1 if one of them
 * could change what disc_scan returns (an address or host route on a
 * matching interface or on one the last scan did not know, any change of
 * a matching link, since a link going down or away takes its routes with
 * it without a notification of its own), or if the kernel dropped some
 * (ENOBUFS): the caller scans again.  0 if none could; negative errno if
 * the socket failed. */
int disc_drain(struct disc *d);

#endif
