// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the nftally.conf parser: any byte string must either
 * leave the defaults untouched with one message line, or yield values that
 * pass the same checks the parser promises (table name, interval, paths). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *p)
{
	size_t n = strnlen(p, PATH_MAX);

	if (n == PATH_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, before; /* large (4 x PATH_MAX): keep off the stack */
	struct err e = { "" };
	size_t n;

	config_defaults(&c);
	before = c;
	if (config_parse_buffer(&c, "fuzz", (const char *)data, size, &e) < 0) {
		/* "a bad file changes nothing" */
		if (memcmp(&c, &before, sizeof(c)) != 0 || !e.msg[0] ||
		    strchr(e.msg, '\n'))
			abort();
		return 0;
	}
	n = strnlen(c.table, sizeof(c.table));
	if (n == 0 || n > CONFIG_TABLE_MAX || c.table[0] < 'a' || c.table[0] > 'z')
		abort();
	if (c.interval < 1 || c.interval > 86400)
		abort();
	check_path(c.template_name);
	check_path(c.template_dir);
	check_path(c.targets);
	check_path(c.state_dir);
	return 0;
}
