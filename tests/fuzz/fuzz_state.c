// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the state-file parser: whatever it accepts must format
 * and parse back to the same text and the same values, since a restart trusts
 * that round trip to continue counting where the last report ended. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream */
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Text equality alone misses a lossy but idempotent format (a truncated
 * counter prints the same twice), so the parsed values are compared too. */
static bool same_state(const struct state *a, const struct state *b)
{
	if (strcmp(a->table, b->table) != 0 || a->handle != b->handle ||
	    a->seq != b->seq || a->time != b->time || a->base_time != b->base_time ||
	    a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct state_entry *x = &a->v[i], *y = &b->v[i];

		if (addr_cmp(&x->addr, &y->addr) != 0 || x->rep != y->rep ||
		    x->last != y->last || x->h[0] != y->h[0] || x->h[1] != y->h[1] ||
		    memcmp(&x->c, &y->c, sizeof(x->c)) != 0 ||
		    strcmp(state_label(a, x), state_label(b, y)) != 0 ||
		    state_find(b, &x->addr) != y)
			return false;
	}
	return true;
}

/* The text form of s in a malloc'd string; aborts if formatting fails. */
static char *format(const struct state *s, const struct addr_names *an, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	if (state_format(s, an, f) < 0)
		abort();
	if (fclose(f) != 0)
		abort();
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state s, t;
	struct addr_names an;
	struct err e = { "" };
	char *text, *again;
	size_t len, len2;

	addr_names_init(&an);
	state_init(&s);
	if (state_parse_buffer(&s, &an, "fuzz", (const char *)data, size, &e) < 0) {
		if (!e.msg[0] || strchr(e.msg, '\n'))
			abort();
		state_finish(&s); /* entries parsed before the error are ours */
		return 0;
	}
	text = format(&s, &an, &len);
	state_init(&t);
	if (state_parse_buffer(&t, &an, "again", text, len, &e) < 0)
		abort(); /* our own output was refused */
	again = format(&t, &an, &len2);
	if (len != len2 || memcmp(text, again, len) != 0 || !same_state(&s, &t))
		abort();
	free(text);
	free(again);
	state_finish(&s);
	state_finish(&t);
	return 0;
}
