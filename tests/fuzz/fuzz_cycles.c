// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the cycles file (billing.h): any byte string must
 * either fail with one message line and leave the set as it was (no
 * per-label lines), or parse into lines sorted by label, each label once,
 * each day 1..31, and every label found by billing_cycle_of. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct billing b;
	struct err e = { "" };

	billing_init(&b, 1, "UTC");
	if (billing_parse_buffer(&b, "fuzz", (const char *)data, size, &e) < 0) {
		if (b.n || b.v || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
		billing_finish(&b);
		return 0;
	}
	for (size_t i = 0; i < b.n; i++) {
		const struct billing_entry *x = &b.v[i];

		if (x->c.day < 1 || x->c.day > 31 || billing_cycle_of(&b, x->label) != &x->c)
			abort();
		if (i && strcmp(b.v[i - 1].label, x->label) >= 0)
			abort(); /* sorted, and no label twice */
	}
	billing_finish(&b);
	billing_finish(&b);
	return 0;
}
