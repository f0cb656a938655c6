/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The identity of a network namespace as a value: what two observations of
 * "the namespace called NAME" are compared by, and its text in state
 * files.  Pure; reading an identity from the kernel is kernel/netns.c's. */
#ifndef NFTALLY_NETNS_ID_H
#define NFTALLY_NETNS_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cookie: the kernel's SO_NETNS_COOKIE (Linux >= 5.14), never reused while
 * the machine is up; 0 when the kernel has none.  dev, ino: the namespace's
 * nsfs inode, whose number the kernel hands out again once the namespace
 * is freed (see docs/design.md, Namespaces and discovery). */
struct netns_id {
	uint64_t cookie;
	uint64_t dev, ino;
};

/* Longest text of netns_id_format, NUL included: "i:" DEV ":" INO. */
#define NETNS_ID_STRLEN 44

/* Are a and b the same namespace?  By cookie when both have one, else by
 * dev and ino (an identity parsed from "c:..." has none: it is never the
 * same as one without a cookie). */
bool netns_id_same(const struct netns_id *a, const struct netns_id *b);

/* "c:COOKIE" when id has a cookie, else "i:DEV:INO", in decimal, into buf
 * (size bytes; NETNS_ID_STRLEN always suffice).  Returns 0, or -ENOSPC
 * (buf then holds "" if size > 0). */
int netns_id_format(const struct netns_id *id, char *buf, size_t size);

/* The inverse: strict decimal (digits only, no sign, no blanks, no
 * overflow), a non-zero cookie or inode, nothing after.  Returns 0 with
 * *id set (the other fields 0), or -EINVAL with *id untouched. */
int netns_id_parse(const char *s, struct netns_id *id);

#endif
