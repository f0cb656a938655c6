// SPDX-License-Identifier: GPL-2.0-or-later
/* Short strings in blocks that never move: the labels of the targets and
 * of a report state, freed all at once. */
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

#define STRPOOL_BLOCK (64u << 10)

/* A string never spans two blocks. */
struct strpool_block {
	struct strpool_block *next;
	size_t used, size;
	char s[];
};

void strpool_finish(struct strpool *p)
{
	while (p->head) {
		struct strpool_block *b = p->head;

		p->head = b->next;
		free(b);
	}
}

char *strpool_add(struct strpool *p, const char *s, size_t n)
{
	struct strpool_block *b = p->head;
	char *at;

	if (!b || b->size - b->used < n + 1) {
		size_t size = n + 1 > STRPOOL_BLOCK ? n + 1 : STRPOOL_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		*b = (struct strpool_block){ .next = p->head, .size = size };
		p->head = b;
	}
	at = b->s + b->used;
	memcpy(at, s, n);
	at[n] = '\0';
	b->used += n + 1;
	return at;
}
