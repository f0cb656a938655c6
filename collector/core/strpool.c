// SPDX-License-Identifier: GPL-2.0-or-later
/* Short strings in blocks that never move: the labels of the targets and
 * of a report state, freed all at once, and named by a pointer or by a
 * 32-bit reference (half the size of a pointer in a state's entries). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

/* A reference is the block's number (16 bits) and the offset in it (16
 * bits): blocks of at most 64 KiB, except that a string too long for one
 * has a block of its own, where it starts at offset 0. */
#define STRPOOL_BLOCK (64u << 10)
#define STRPOOL_BLOCKS_MAX (1u << 16)

struct strpool_block {
	size_t used, size;
	char s[];
};

void strpool_finish(struct strpool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	*p = (struct strpool){ 0 };
}

/* A block with room for n bytes: the last one, or a new one (NULL with
 * errno set: out of memory, or 4 GiB of strings already). */
static struct strpool_block *strpool_room(struct strpool *p, size_t n)
{
	struct strpool_block *b = p->n ? p->v[p->n - 1] : NULL;
	size_t size = n > STRPOOL_BLOCK ? n : STRPOOL_BLOCK;

	if (b && b->size - b->used >= n)
		return b;
	if (p->n == STRPOOL_BLOCKS_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		void *v = reallocarray(p->v, cap, sizeof(*p->v));

		if (!v)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	*b = (struct strpool_block){ .size = size };
	p->v[p->n++] = b;
	return b;
}

char *strpool_add_ref(struct strpool *p, const char *s, size_t n, uint32_t *ref)
{
	struct strpool_block *b = strpool_room(p, n + 1);
	char *at;

	if (!b)
		return NULL;
	at = b->s + b->used;
	if (ref)
		*ref = (uint32_t)(p->n - 1) << 16 | (uint32_t)b->used;
	memcpy(at, s, n);
	at[n] = '\0';
	b->used += n + 1;
	return at;
}

char *strpool_add(struct strpool *p, const char *s, size_t n)
{
	return strpool_add_ref(p, s, n, NULL);
}

const char *strpool_at(const struct strpool *p, uint32_t ref)
{
	return p->v[ref >> 16]->s + (ref & 0xffff);
}
