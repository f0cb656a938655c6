// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the labels-file parser: any byte string must either
 * fail with one message line and leave the set as it was (empty), or parse
 * into a set in which every entry's own address finds its own label (no
 * longer prefix can contain it) and no entry is there twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct labels l;
	struct err e = { "" };

	labels_init(&l);
	if (labels_parse_buffer(&l, "fuzz", (const char *)data, size, &e) < 0) {
		if (l.n || l.v || l.text || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct labels_entry *x = &l.v[i], *p = i ? &l.v[i - 1] : NULL;

		if (labels_lookup(&l, &x->a) != l.text + x->label || x->label >= l.ntext)
			abort();
		if (p && p->a.family == x->a.family && p->a.plen == x->a.plen &&
		    memcmp(p->a.bytes, x->a.bytes, 16) >= 0)
			abort(); /* sorted, and no duplicates survive */
	}
	labels_finish(&l);
	labels_finish(&l);
	return 0;
}
