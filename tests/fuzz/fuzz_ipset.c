// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for import-ipset: any byte string either fails with one
 * message line and writes nothing, or writes a file the targets parser
 * accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipset.h"
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct err e = { "" };
	struct targets t;
	int ret;

	if (!f)
		return 0;
	ret = ipset_import((const char *)data, size, "fuzz", NULL, 0, f, NULL, &e);
	fclose(f);
	if (ret < 0) {
		if (len || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
	} else {
		targets_init(&t);
		if (targets_parse_buffer(&t, "out", out, len, &e) < 0)
			abort();
		targets_finish(&t);
	}
	free(out);
	return 0;
}
