/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's own addresses as targets, for running without a targets file. */
#ifndef NFTALLY_HOSTADDRS_H
#define NFTALLY_HOSTADDRS_H

#include "err.h"
#include "targets.h"

/* Add every IPv4 and IPv6 address of every interface except loopback ones
 * (127/8, ::1) and link-local ones (169.254/16, fe80::/10) to t, labelled with the interface name, and finalize
 * t.  Returns 0 or a negative errno with e set. */
int hostaddrs_collect(struct targets *t, struct err *e);

#endif
