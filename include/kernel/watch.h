/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A wake-up when someone deletes or recreates our table: a netlink socket
 * subscribed to nf_tables' notifications (NFNLGRP_NFTABLES), in the network
 * namespace of the caller.  It only says "look now"; what the table is, the
 * caller asks over its own socket. */
#ifndef NFTALLY_WATCH_H
#define NFTALLY_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct watch;

/* Subscribe in the current network namespace to the notifications about
 * table `table` of family `family` ("inet" or "bridge").  Returns NULL with
 * errno set.  The watch keeps pointers to neither argument. */
struct watch *watch_create(const char *family, const char *table);
/* Freeing NULL is harmless. */
void watch_destroy(struct watch *w);

/* The socket, for poll (readable when notifications wait). */
int watch_fd(const struct watch *w);

/* Read every notification that waits, without blocking.  Returns 1 if one
 * of them created or deleted our table, or if the kernel dropped some
 * because the socket's buffer was full (a flood of element changes, a
 * flush of a big ruleset): then the caller must look at the table.  0 if
 * nothing concerned us, negative errno if the socket failed. */
int watch_drain(struct watch *w);

/* The read loop of a notification socket, shared with discover.c: read
 * every datagram that waits on the non-blocking netlink socket fd (at most
 * burst of them, so that a storm never keeps the caller's loop from its
 * timer; the socket stays readable) into buf (len bytes), and ask
 * concerns about each message until one concerns the caller.  Returns 1
 * if one did, or if the kernel dropped some (ENOBUFS) or one was truncated
 * (either may have been the one), 0 if none did, negative errno if the
 * socket failed. */
struct nlmsghdr;
int watch_read(int fd, char *buf, size_t len, unsigned burst,
	       bool (*concerns)(const struct nlmsghdr *nlh, const void *data), const void *data);

/* Leave the group while we change the table ourselves, so that our own
 * batches neither make the kernel build a notification per element for us
 * nor fill the socket; and join it again.  Nothing that happens in
 * between is reported: after watch_resume the caller looks at the table
 * once.  0 or negative errno. */
int watch_pause(struct watch *w);
int watch_resume(struct watch *w);

#endif
