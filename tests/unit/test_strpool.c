// SPDX-License-Identifier: GPL-2.0-or-later
/* The string pool: copies that stay where they are while more are added,
 * strings longer than a block, and an empty pool. */
#include <stdlib.h>

#include "strpool.h"
#include "test.h"

static void test_many(void)
{
	struct strpool p = { 0 };
	char *v[20000], text[16];

	for (int i = 0; i < 20000; i++) {
		snprintf(text, sizeof(text), "a%d", i);
		v[i] = strpool_add(&p, text, strlen(text));
		test_assert(v[i]);
	}
	/* 20,000 strings span several blocks: none moved */
	for (int i = 0; i < 20000; i++) {
		snprintf(text, sizeof(text), "a%d", i);
		test_streq(v[i], text);
	}
	test_streq(strpool_add(&p, "xyz", 2), "xy"); /* n bytes, then a NUL */
	strpool_finish(&p);
	strpool_finish(&p);
	test_assert(p.n == 0 && p.v == NULL);
}

static void test_long(void)
{
	struct strpool p = { 0 };
	size_t n = 200000;
	char *big = malloc(n + 1), *copy, *after;

	test_assert(big);
	memset(big, 'q', n);
	big[n] = '\0';
	copy = strpool_add(&p, big, n);
	after = strpool_add(&p, "b", 1);
	test_assert(copy && strlen(copy) == n && copy[0] == 'q');
	test_streq(after, "b");
	test_streq(strpool_add(&p, "", 0), "");
	free(big);
	strpool_finish(&p);
	test_assert(p.n == 0);
}

/* References name the same strings as the pointers, across blocks and
 * after a string of a block of its own. */
static void test_refs(void)
{
	struct strpool p = { 0 };
	static char big[100000];
	uint32_t ref[30001];
	char *at[30001], text[16];

	memset(big, 'z', sizeof(big) - 1);
	for (int i = 0; i < 30001; i++) {
		if (i == 15000) {
			at[i] = strpool_add_ref(&p, big, sizeof(big) - 1, &ref[i]);
		} else {
			snprintf(text, sizeof(text), "r%d", i);
			at[i] = strpool_add_ref(&p, text, strlen(text), &ref[i]);
		}
		test_assert(at[i]);
	}
	test_assert(strpool_add_ref(&p, "x", 1, NULL) != NULL);
	for (int i = 0; i < 30001; i++) {
		test_assert(strpool_at(&p, ref[i]) == at[i]);
		if (i != 15000) {
			snprintf(text, sizeof(text), "r%d", i);
			test_streq(strpool_at(&p, ref[i]), text);
		}
	}
	test_assert(strlen(strpool_at(&p, ref[15000])) == sizeof(big) - 1);
	strpool_finish(&p);
}

int main(void)
{
	test_many();
	test_long();
	test_refs();
	return 0;
}
