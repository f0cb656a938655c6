/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for cycle: month ends, a start day past the month's end, leap
 * years, DST in Europe/Berlin and America/New_York, and the defined answers
 * for a midnight that does not exist (Havana, Santiago) or exists twice
 * (Havana).  Expected instants are written in UTC and were checked with
 * `TZ=ZONE date -d @T`. */
#include <errno.h>
#include <time.h>

#include "cycle.h"
#include "test.h"

/* "YYYY-MM-DD HH:MM" UTC -> Unix seconds */
static int64_t utc(const char *s)
{
	struct tm tm = { 0 };

	test_assert(sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min) == 5);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static void expect(const struct cycle *c, const char *at, const char *start, const char *end)
{
	int64_t s, e;

	test_assert(cycle_bounds(c, utc(at), &s, &e) == 0);
	if (s != utc(start) || e != utc(end)) {
		fprintf(stderr, "%s day %d at %s: got %lld..%lld, want %s..%s\n", c->tz,
			c->day, at, (long long)s, (long long)e, start, end);
		abort();
	}
}

static void test_utc(void)
{
	struct cycle c = { 1, "UTC" };

	expect(&c, "2026-01-15 12:00", "2026-01-01 00:00", "2026-02-01 00:00");
	expect(&c, "2026-01-01 00:00", "2026-01-01 00:00", "2026-02-01 00:00"); /* the start */
	expect(&c, "2025-12-31 23:59", "2025-12-01 00:00", "2026-01-01 00:00"); /* just before */
	c.day = 15;
	expect(&c, "2026-01-14 23:59", "2025-12-15 00:00", "2026-01-15 00:00");
	expect(&c, "2026-01-15 00:00", "2026-01-15 00:00", "2026-02-15 00:00");
	/* day 31: the month's last day where the month is shorter */
	c.day = 31;
	expect(&c, "2026-02-10 00:00", "2026-01-31 00:00", "2026-02-28 00:00");
	expect(&c, "2026-02-28 00:00", "2026-02-28 00:00", "2026-03-31 00:00");
	expect(&c, "2026-04-30 00:00", "2026-04-30 00:00", "2026-05-31 00:00");
	expect(&c, "2026-04-29 23:59", "2026-03-31 00:00", "2026-04-30 00:00");
	/* leap years: 2024 (29), 2100 (not), 2000 (yes) */
	expect(&c, "2024-02-29 00:00", "2024-02-29 00:00", "2024-03-31 00:00");
	expect(&c, "2024-02-28 23:59", "2024-01-31 00:00", "2024-02-29 00:00");
	expect(&c, "2100-02-28 00:00", "2100-02-28 00:00", "2100-03-31 00:00");
	expect(&c, "2000-02-29 00:00", "2000-02-29 00:00", "2000-03-31 00:00");
	c.day = 29;
	expect(&c, "2025-02-28 12:00", "2025-02-28 00:00", "2025-03-29 00:00");
	expect(&c, "2024-03-01 00:00", "2024-02-29 00:00", "2024-03-29 00:00");
	c.day = 30;
	expect(&c, "2026-03-01 00:00", "2026-02-28 00:00", "2026-03-30 00:00");
	/* the year's end */
	c.day = 1;
	expect(&c, "2026-12-31 23:59", "2026-12-01 00:00", "2027-01-01 00:00");
}

static void test_dst(void)
{
	struct cycle b = { 1, "Europe/Berlin" }, ny = { 1, "America/New_York" };

	/* Berlin: CET (+1) until 2026-03-29 02:00, CEST (+2) until 2026-10-25 */
	expect(&b, "2026-03-15 00:00", "2026-02-28 23:00", "2026-03-31 22:00");
	expect(&b, "2026-02-28 22:59", "2026-01-31 23:00", "2026-02-28 23:00");
	expect(&b, "2026-02-28 23:00", "2026-02-28 23:00", "2026-03-31 22:00");
	expect(&b, "2026-10-31 22:59", "2026-09-30 22:00", "2026-10-31 23:00");
	expect(&b, "2026-10-31 23:00", "2026-10-31 23:00", "2026-11-30 23:00");
	b.day = 29; /* the day of the change: midnight is before 02:00 */
	expect(&b, "2026-03-29 12:00", "2026-03-28 23:00", "2026-04-28 22:00");
	b.day = 25;
	expect(&b, "2026-10-25 12:00", "2026-10-24 22:00", "2026-11-24 23:00");
	/* New York: EST (-5), EDT (-4) from 2026-03-08 to 2026-11-01 */
	expect(&ny, "2026-03-10 00:00", "2026-03-01 05:00", "2026-04-01 04:00");
	expect(&ny, "2026-11-01 03:59", "2026-10-01 04:00", "2026-11-01 04:00");
	expect(&ny, "2026-11-01 04:00", "2026-11-01 04:00", "2026-12-01 05:00");
	ny.day = 8;
	expect(&ny, "2026-03-08 12:00", "2026-03-08 05:00", "2026-04-08 04:00");
}

/* Midnights that do not exist or exist twice (the defined answers). */
static void test_odd_midnights(void)
{
	struct cycle h = { 10, "America/Havana" }, s = { 8, "America/Santiago" };

	/* Havana 2024-03-10: 00:00 CST jumps to 01:00 CDT at 05:00Z: the
	 * cycle starts there, the first instant of that day */
	expect(&h, "2024-03-20 00:00", "2024-03-10 05:00", "2024-04-10 04:00");
	expect(&h, "2024-03-10 04:59", "2024-02-10 05:00", "2024-03-10 05:00");
	/* Havana 2024-11-03: 01:00 CDT goes back to 00:00 CST; 00:00 is
	 * 04:00Z and again 05:00Z: the earlier one */
	h.day = 3;
	expect(&h, "2024-11-03 04:30", "2024-11-03 04:00", "2024-12-03 05:00");
	expect(&h, "2024-11-03 03:59", "2024-10-03 04:00", "2024-11-03 04:00");
	/* Santiago 2024-09-08: 00:00 -04 jumps to 01:00 -03 at 04:00Z */
	expect(&s, "2024-09-08 04:00", "2024-09-08 04:00", "2024-10-08 03:00");
	expect(&s, "2024-09-08 03:59", "2024-08-08 04:00", "2024-09-08 04:00");
	/* Santiago 2024-04-07: 00:00 -03 goes back to 23:00 -04 on the 6th,
	 * so 00:00 of the 7th first reads at 04:00Z */
	s.day = 7;
	expect(&s, "2024-04-07 03:30", "2024-03-07 03:00", "2024-04-07 04:00");
	expect(&s, "2024-04-07 04:00", "2024-04-07 04:00", "2024-05-07 04:00");
}

static void test_shift_month(void)
{
	struct cycle c = { 31, "Europe/Berlin" };
	int64_t s, e;

	test_assert(cycle_shift(&c, utc("2026-03-15 00:00"), 1, &s, &e) == 0);
	test_assert(s == utc("2026-01-30 23:00") && e == utc("2026-02-27 23:00"));
	test_assert(cycle_shift(&c, utc("2026-03-15 00:00"), 0, &s, &e) == 0);
	test_assert(s == utc("2026-02-27 23:00") && e == utc("2026-03-30 22:00"));
	test_assert(cycle_shift(&c, utc("2026-03-15 00:00"), -1, &s, &e) == 0);
	test_assert(s == utc("2026-03-30 22:00") && e == utc("2026-04-29 22:00"));
	test_assert(cycle_shift(&c, utc("2026-01-15 00:00"), 13, &s, &e) == 0);
	test_assert(s == utc("2024-11-29 23:00") && e == utc("2024-12-30 23:00"));
	test_assert(cycle_of_month(&c, 2026, 2, &s, &e) == 0);
	test_assert(s == utc("2026-02-27 23:00") && e == utc("2026-03-30 22:00"));
	test_assert(cycle_of_month(&c, 2026, 12, &s, &e) == 0);
	test_assert(s == utc("2026-12-30 23:00") && e == utc("2027-01-30 23:00"));
	{
		int y, m;

		/* 2026-02-27 23:00Z is 28 February in Berlin, 27th in UTC */
		test_assert(cycle_month_of(&c, utc("2026-02-28 23:00"), &y, &m) == 0);
		test_assert(y == 2026 && m == 3);
		test_assert(cycle_month_of(&c, utc("2026-02-28 22:59"), &y, &m) == 0);
		test_assert(y == 2026 && m == 2);
	}
	test_assert(cycle_of_month(&c, 2026, 13, &s, &e) == -EINVAL);
	test_assert(cycle_of_month(&c, 2026, 0, &s, &e) == -EINVAL);
}

static void test_errors_and_tz(void)
{
	struct cycle c = { 0, "UTC" };
	struct err e = { "" };
	int64_t s, en;

	test_assert(cycle_bounds(&c, 0, &s, &en) == -EINVAL);
	c.day = 32;
	test_assert(cycle_bounds(&c, 0, &s, &en) == -EINVAL);
	c.day = 1;
	snprintf(c.tz, sizeof(c.tz), "Mars/Olympus_Mons");
	test_assert(cycle_bounds(&c, 0, &s, &en) == -EINVAL);
	snprintf(c.tz, sizeof(c.tz), "../../etc/passwd");
	test_assert(cycle_bounds(&c, 0, &s, &en) == -EINVAL);
	test_assert(cycle_tz_check("/etc/localtime", &e) == -EINVAL);
	test_assert(cycle_tz_check("Europe/Berlin;rm", &e) == -EINVAL);
	test_assert(cycle_tz_check("Europe/Berlin", &e) == 0);
	test_assert(cycle_tz_check("", &e) == 0);
	/* the caller's TZ comes back, set or unset */
	setenv("TZ", "Asia/Tokyo", 1);
	snprintf(c.tz, sizeof(c.tz), "America/New_York");
	test_assert(cycle_bounds(&c, utc("2026-03-10 00:00"), &s, &en) == 0);
	test_streq(getenv("TZ"), "Asia/Tokyo");
	{
		time_t t = 0;
		struct tm tm;

		localtime_r(&t, &tm);
		test_assert(tm.tm_gmtoff == 9 * 3600);
	}
	/* "" is the zone in force: Tokyo's 00:00 is 15:00Z the day before */
	c.tz[0] = '\0';
	expect(&c, "2026-03-10 00:00", "2026-02-28 15:00", "2026-03-31 15:00");
	unsetenv("TZ");
	snprintf(c.tz, sizeof(c.tz), "UTC");
	test_assert(cycle_bounds(&c, 0, &s, &en) == 0);
	test_assert(getenv("TZ") == NULL);
}

int main(void)
{
	test_utc();
	test_dst();
	test_odd_midnights();
	test_shift_month();
	test_errors_and_tz();
	return 0;
}
