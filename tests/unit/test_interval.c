/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for interval: the boundaries run's timer is armed for, and
 * what a wake-up means after the wall clock was stepped forward or back
 * (values, not a clock: a test must not set the host's clock). */
#include "interval.h"
#include "test.h"

static void test_next(void)
{
	test_assert(interval_next(0, 60) == 60);
	test_assert(interval_next(59, 60) == 60);
	test_assert(interval_next(60, 60) == 120); /* a boundary: the next one */
	test_assert(interval_next(1795319880, 60) == 1795319940);
	test_assert(interval_next(1795319881, 60) == 1795319940);
	test_assert(interval_next(1795319999, 3600) == 1795320000);
	test_assert(interval_next(1795305600 - 1, 86400) == 1795305600); /* midnight UTC */
	test_assert(interval_next(1795305600, 86400) == 1795392000);
	test_assert(interval_next(7, 1) == 8);
	test_assert(interval_next(-1, 60) == 0);
	test_assert(interval_next(-60, 60) == 0);
	test_assert(interval_next(-61, 60) == -60);
	test_assert(interval_next(1795319881, 7) % 7 == 0);
	test_assert(interval_next(INT64_C(4102444799), 60) == INT64_C(4102444800)); /* 2100 */
}

static void test_wake(void)
{
	const int64_t t = 1795319880; /* a whole minute */
	int64_t next;

	/* an expiry at the boundary: due, armed for the next */
	test_assert(interval_wake(t, t, true, 60, &next));
	test_assert(next == t + 60);
	/* read late (a long report): one report, the next boundary after now */
	test_assert(interval_wake(t + 130, t, true, 60, &next));
	test_assert(next == t + 180);
	/* clock stepped back by an hour while waiting for t: no report, and
	 * the next boundary of the new clock (not an hour's wait) */
	test_assert(!interval_wake(t - 3600 + 10, t, false, 60, &next));
	test_assert(next == t - 3600 + 60);
	/* stepped back by 30 s from t - 10: the same boundary again, later */
	test_assert(!interval_wake(t - 40, t, false, 60, &next));
	test_assert(next == t);
	/* stepped forward, not past the boundary: no report */
	test_assert(!interval_wake(t - 5, t, false, 60, &next));
	test_assert(next == t);
	/* stepped forward past one boundary: one report now */
	test_assert(interval_wake(t + 5, t, false, 60, &next));
	test_assert(next == t + 60);
	/* forward by a day: still one report, then the minute grid */
	test_assert(interval_wake(t + 86400 + 17, t, false, 60, &next));
	test_assert(next == t + 86400 + 60);
	/* exactly onto the boundary */
	test_assert(interval_wake(t, t, false, 60, &next));
	test_assert(next == t + 60);
}

int main(void)
{
	test_next();
	test_wake();
	return 0;
}
