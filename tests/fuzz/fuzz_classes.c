// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the classes file: any byte string either parses
 * into ranges that are ordered, disjoint and each of a configured class, or
 * fails with one message line and leaves nothing behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "classes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct classes c;
	struct addr_names an = { 0 };
	struct err e = { "" };

	if (classes_parse_buffer(&c, &an, "fuzz", (const char *)data, size, "other", &e) < 0) {
		if (c.nr || c.r || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < c.nr; i++) {
		const struct class_range *r = &c.r[i], *p = i ? &c.r[i - 1] : NULL;
		size_t nb = r->family == AF_INET ? 4 : 16;
		bool known = false;

		if (memcmp(r->lo, r->hi, nb) > 0)
			abort();
		if (p && p->family == r->family && memcmp(p->hi, r->lo, nb) >= 0)
			abort(); /* ordered and disjoint */
		for (size_t k = 0; k < c.n; k++)
			known |= c.ids[k] == r->cls;
		if (!known)
			abort();
	}
	classes_finish(&c);
	return 0;
}
