/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for query's options (a refusal is the cli's usage error), and
 * a report from a store that is not there (the cli's bad input). */
#include <errno.h>

#include "query.h"
#include "test.h"

static void test_check(void)
{
	struct report_opts o = { 0 };
	struct err e = { "" };

	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "month", .format = "csv", .since = "2026-01",
				  .until = "@1790000000", .addr = "2001:db8::1" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "week" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--by: use hour, day or month");
	o = (struct report_opts){ .format = "xml" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--format: use table, json or csv");
	o = (struct report_opts){ .since = "yesterday" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--since: bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], "
		   "YYYY-MM or @SECONDS)");
	o = (struct report_opts){ .addr = "198.18.0.300" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_assert(strncmp(e.msg, "--addr: ", 8) == 0);
}

static void test_no_store(void)
{
	struct report_opts o = { 0 };
	struct err e = { "" };

	test_assert(query_report(&o, "/nonexistent/nftally/t.db", false, &e) == -ENOENT);
}

int main(void)
{
	test_check();
	test_no_store();
	return 0;
}
