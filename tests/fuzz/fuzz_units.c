// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the byte and rate units (units.h): any string is
 * either refused with one message line or parsed; a byte count parsed
 * formats back in "bytes" to the same number. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], buf[64], want[32];
	struct err e = { "" };
	uint64_t v;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (units_parse_bytes(s, &v, &e) < 0) {
		if (!e.msg[0] || strchr(e.msg, '\n'))
			abort();
	} else {
		snprintf(want, sizeof(want), "%" PRIu64, v);
		if (units_format(v, "bytes", buf, sizeof(buf)) != 0 || strcmp(buf, want) != 0)
			abort();
		if (units_format(v, "auto-bin", buf, sizeof(buf)) != 0 ||
		    units_format(v, "GB", buf, sizeof(buf)) != 0)
			abort();
	}
	e.msg[0] = '\0';
	if (units_parse_rate(s, &v, &e) < 0 ? !e.msg[0] || strchr(e.msg, '\n') : v == 0)
		abort();
	return 0;
}
