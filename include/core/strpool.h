/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Short strings kept in blocks: a million labels cost their bytes and not
 * a million allocations of 32 bytes each.  Pure. */
#ifndef NFTALLY_STRPOOL_H
#define NFTALLY_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct strpool_block;

/* A zeroed one is empty. */
struct strpool {
	struct strpool_block **v; /* in order of creation; strings go to the last */
	size_t n, cap;
};

/* Frees every string of the pool; the pool is empty again.  Safe twice. */
void strpool_finish(struct strpool *p);

/* A NUL-terminated copy of s[0..n) that lives until strpool_finish, or
 * NULL (out of memory). */
char *strpool_add(struct strpool *p, const char *s, size_t n);

/* The same, and (if ref is not NULL) a 32-bit reference to the copy for
 * strpool_at.  NULL also when the pool holds 4 GiB already. */
char *strpool_add_ref(struct strpool *p, const char *s, size_t n, uint32_t *ref);

/* The string of a reference strpool_add_ref gave for p. */
const char *strpool_at(const struct strpool *p, uint32_t ref);

#endif
