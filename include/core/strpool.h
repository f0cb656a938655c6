/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Short strings kept in blocks: a million labels cost their bytes and not
 * a million allocations of 32 bytes each.  Pure. */
#ifndef NFTALLY_STRPOOL_H
#define NFTALLY_STRPOOL_H

#include <stddef.h>

struct strpool_block;

/* A zeroed one is empty. */
struct strpool {
	struct strpool_block *head;
};

/* Frees every string of the pool; the pool is empty again.  Safe twice. */
void strpool_finish(struct strpool *p);

/* A NUL-terminated copy of s[0..n) that lives until strpool_finish, or
 * NULL (out of memory). */
char *strpool_add(struct strpool *p, const char *s, size_t n);

#endif
