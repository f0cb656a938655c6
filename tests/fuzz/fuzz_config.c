// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the nftally.conf parser: any byte string must either
 * leave the defaults untouched with one message line, or yield values that
 * pass the same checks the parser promises (table name, interval, paths);
 * parsed as a set of accounts, unique valid names, the daemon-wide keys
 * alike in every account, and no two accounts on one table in one netns. */
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

static bool account_ok(const char *a)
{
	size_t n = strnlen(a, CONFIG_ACCOUNT_MAX + 1);

	if (n == 0 || n > CONFIG_ACCOUNT_MAX || a[0] < 'a' || a[0] > 'z')
		return false;
	return strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void check_set(const uint8_t *data, size_t size)
{
	static struct config_set cs;
	struct err e = { "" };

	config_set_init(&cs);
	if (config_set_parse_buffer(&cs, "fuzz", (const char *)data, size, &e) < 0) {
		if (cs.n || cs.v || cs.sections || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
		return;
	}
	if (cs.n < 1 || cs.n > CONFIG_ACCOUNTS_MAX || (!cs.sections && (cs.n != 1 ||
	    cs.v[0].account[0] || memcmp(&cs.v[0], &cs.dflt, sizeof(cs.dflt)) != 0)))
		abort();
	for (size_t i = 0; i < cs.n; i++) {
		const struct config *c = &cs.v[i];

		if (cs.sections && (!account_ok(c->account) ||
				    config_set_find(&cs, c->account) != c))
			abort();
		if (c->interval != cs.dflt.interval || strcmp(c->host, cs.dflt.host) != 0 ||
		    strcmp(c->state_dir, cs.dflt.state_dir) != 0 ||
		    strcmp(c->listen, cs.dflt.listen) != 0)
			abort();
		check_path(c->targets);
		check_path(c->labels);
		if (strchr(c->netns, '/') || c->ndisc_addrs > CONFIG_IFACES_MAX ||
		    c->ndisc_routes > CONFIG_IFACES_MAX || c->nifaces > CONFIG_IFACES_MAX)
			abort();
		for (size_t j = 0; cs.sections && j < i; j++)
			if (strcmp(c->netns, cs.v[j].netns) == 0 &&
			    strcmp(c->table, cs.v[j].table) == 0)
				abort();
	}
	config_set_finish(&cs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, before; /* large (4 x PATH_MAX): keep off the stack */
	struct err e = { "" };
	size_t n;

	check_set(data, size);
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
