/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for netns_id: the text of an identity both ways, strictness of
 * the parser, and which identities are the same namespace. */
#include <errno.h>
#include <stdint.h>

#include "netns_id.h"
#include "test.h"

static void check_format(struct netns_id id, const char *want)
{
	char buf[NETNS_ID_STRLEN];
	struct netns_id back = { 7, 7, 7 };

	test_assert(netns_id_format(&id, buf, sizeof(buf)) == 0);
	test_streq(buf, want);
	test_assert(netns_id_parse(buf, &back) == 0);
	if (id.cookie) {
		test_assert(back.cookie == id.cookie && back.dev == 0 && back.ino == 0);
	} else {
		test_assert(back.cookie == 0 && back.dev == id.dev && back.ino == id.ino);
	}
}

static void test_format(void)
{
	char buf[NETNS_ID_STRLEN], small[8];
	struct netns_id max = { 0, UINT64_MAX, UINT64_MAX };

	check_format((struct netns_id){ 4097, 4, 4026532291 }, "c:4097");
	check_format((struct netns_id){ UINT64_MAX, 0, 0 }, "c:18446744073709551615");
	check_format((struct netns_id){ 0, 4, 4026532291 }, "i:4:4026532291");
	check_format((struct netns_id){ 0, 0, 1 }, "i:0:1");
	/* The longest text fits NETNS_ID_STRLEN exactly or with room. */
	check_format(max, "i:18446744073709551615:18446744073709551615");
	test_assert(netns_id_format(&max, buf, sizeof(buf)) == 0);
	test_assert(strlen(buf) + 1 <= NETNS_ID_STRLEN);
	test_assert(netns_id_format(&max, small, sizeof(small)) == -ENOSPC);
	test_streq(small, "");
	test_assert(netns_id_format(&max, small, 0) == -ENOSPC);
}

static void check_bad(const char *s)
{
	struct netns_id id = { 1, 2, 3 };

	if (netns_id_parse(s, &id) != -EINVAL) {
		fprintf(stderr, "netns_id_parse(\"%s\") accepted\n", s);
		abort();
	}
	/* untouched on error */
	test_assert(id.cookie == 1 && id.dev == 2 && id.ino == 3);
}

static void test_parse_bad(void)
{
	check_bad("");
	check_bad("c:");
	check_bad("c:0");               /* no cookie is 0 */
	check_bad("c: 5");
	check_bad("c:+5");
	check_bad("c:-5");
	check_bad("c:0x10");
	check_bad("c:5 ");
	check_bad("c:5\n");
	check_bad("c:18446744073709551616"); /* overflow */
	check_bad("C:5");
	check_bad("x:5");
	check_bad("5");
	check_bad("i:4");
	check_bad("i:4:");
	check_bad("i::5");
	check_bad("i:4:0");             /* no inode is 0 */
	check_bad("i:4:5:6");
	check_bad("i:-4:5");
	check_bad("i:4:5x");
	check_bad("i:18446744073709551616:5");
}

static void test_same(void)
{
	struct netns_id a = { 100, 4, 4026532291 }, b = { 100, 9, 9 }, c = { 101, 4, 4026532291 };
	struct netns_id ia = { 0, 4, 4026532291 }, ib = { 0, 4, 4026532292 }, ic = { 0, 5, 4026532291 };
	struct netns_id parsed;

	/* With cookies, the cookie decides: an inode number handed out again
	 * (c) is another namespace. */
	test_assert(netns_id_same(&a, &b));
	test_assert(!netns_id_same(&a, &c));
	/* Without, dev and ino. */
	test_assert(netns_id_same(&ia, &ia));
	test_assert(!netns_id_same(&ia, &ib));
	test_assert(!netns_id_same(&ia, &ic));
	/* One with a cookie and one without are never the same. */
	test_assert(!netns_id_same(&a, &ia));
	test_assert(!netns_id_same(&ia, &a));
	/* What a state file says compares with what the kernel says now. */
	test_assert(netns_id_parse("c:100", &parsed) == 0);
	test_assert(netns_id_same(&parsed, &a) && !netns_id_same(&parsed, &c));
	test_assert(netns_id_parse("i:4:4026532291", &parsed) == 0);
	test_assert(netns_id_same(&parsed, &ia) && !netns_id_same(&parsed, &ib));
}

int main(void)
{
	test_format();
	test_parse_bad();
	test_same();
	printf("netns_id: all tests passed\n");
	return 0;
}
