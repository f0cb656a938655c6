// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the targets-file parser: any byte string must either
 * parse into a sorted set in which targets_find locates every entry, or fail
 * with one message line and leave the set empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct targets t;
	struct err e = { "" };
	const struct target *x;
	size_t i;

	targets_init(&t);
	if (targets_parse_buffer(&t, "fuzz", (const char *)data, size, &e) < 0) {
		/* The contract: t left empty, exactly one line in e. */
		if (t.n || t.nlabels || t.v || t.labels || !e.msg[0] ||
		    strchr(e.msg, '\n'))
			abort();
		targets_finish(&t);
		return 0;
	}
	for (i = 0; i < t.n; i++) {
		x = targets_find(&t, &t.v[i].addr);
		if (!x || addr_cmp(&x->addr, &t.v[i].addr) != 0 ||
		    x->label >= t.nlabels || !targets_label(&t, x))
			abort();
		if (i > 0 && addr_cmp(&t.v[i - 1].addr, &t.v[i].addr) >= 0)
			abort(); /* sorted, and no duplicates survive */
	}
	targets_finish(&t);
	targets_finish(&t); /* documented as safe */
	return 0;
}
