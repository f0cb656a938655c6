// SPDX-License-Identifier: GPL-2.0-or-later
/* Billing cycles: from a Unix time, a start day and a time zone to the
 * cycle's [start, end).  The zone's rules are libc's: TZ is set for the
 * call and restored before returning. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cycle.h"

/* The TZ of the caller, kept while a cycle's zone is in force. */
struct tzsave {
	char *old;
	bool had, set;
};

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int cycle_tz_check(const char *tz, struct err *e)
{
	const char *dir = getenv("TZDIR");
	char path[512];

	if (!*tz || strcmp(tz, "UTC") == 0)
		return 0;
	if (strlen(tz) >= sizeof(((struct cycle *)0)->tz))
		return err_set(e, "time zone name too long");
	if (*tz == '/' || strstr(tz, "..") || strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						      "abcdefghijklmnopqrstuvwxyz"
						      "0123456789/_-+") != strlen(tz))
		return err_set(e, "not a time zone name (use an IANA name such as "
				  "Europe/Berlin, or UTC)");
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	if (access(path, R_OK) != 0)
		return err_set(e, "unknown time zone (no %s)", path);
	return 0;
}

static int tz_enter(const char *tz, struct tzsave *sv)
{
	const char *old = getenv("TZ");

	*sv = (struct tzsave){ .had = old != NULL };
	if (!*tz)
		return 0;
	if (old && !(sv->old = strdup(old)))
		return -ENOMEM;
	if (setenv("TZ", tz, 1) < 0) {
		free(sv->old);
		return -errno;
	}
	sv->set = true;
	tzset();
	return 0;
}

static void tz_leave(struct tzsave *sv)
{
	if (!sv->set)
		return;
	if (sv->had)
		setenv("TZ", sv->old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(sv->old);
}

/* The zone's UTC offset at t, in seconds east. */
static long offset_at(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm))
		return 0;
	return tm.tm_gmtoff;
}

/* The earliest instant at which the clock reads local-seconds L or later
 * (L: the local date and time counted as if it were UTC).  Offsets near L
 * are the candidates; if none gives a time that exists, L is in a gap and
 * the answer is where the gap ends, found by bisection between the two. */
static int64_t local_to_unix(int64_t L)
{
	long cand[6];
	int n = 0;
	int64_t best = INT64_MAX, lo = INT64_MAX, hi = INT64_MIN;

	cand[n++] = offset_at(L - 2 * 86400);
	cand[n++] = offset_at(L);
	cand[n++] = offset_at(L + 2 * 86400);
	for (int i = 0; i < 3; i++)
		cand[n++] = offset_at(L - cand[i]);
	for (int i = 0; i < n; i++) {
		int64_t t = L - cand[i];

		if (offset_at(t) == cand[i] && t < best)
			best = t;
		if (t < lo)
			lo = t;
		if (t > hi)
			hi = t;
	}
	if (best != INT64_MAX)
		return best;
	/* a gap: local(lo) < L <= local(hi) */
	while (lo + 1 < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (mid + offset_at(mid) >= L)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* 00:00 of the start day of the cycle starting in month y-m (zone in force). */
static int64_t month_start(int y, int m, int day)
{
	int dim;

	while (m > 12)
		m -= 12, y++;
	while (m < 1)
		m += 12, y--;
	dim = days_in_month(y, m);
	return local_to_unix(days_from_civil(y, m, day > dim ? dim : day) * 86400);
}

/* The local year and month of t (zone in force). */
static void local_month(int64_t t, int *y, int *m)
{
	time_t tt = (time_t)t;
	struct tm tm = { 0 };

	localtime_r(&tt, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
}

/* The cycle n before the one holding t, zone in force. */
static void bounds_in_zone(int day, int64_t t, int n, int64_t *start, int64_t *end)
{
	int y, m;

	local_month(t, &y, &m);
	if (t < month_start(y, m, day))
		m--;
	m -= n;
	*start = month_start(y, m, day);
	*end = month_start(y, m + 1, day);
}

static int check(const struct cycle *c)
{
	if (c->day < 1 || c->day > 31 || !memchr(c->tz, '\0', sizeof(c->tz)))
		return -EINVAL;
	return cycle_tz_check(c->tz, NULL);
}

int cycle_shift(const struct cycle *c, int64_t t, int n, int64_t *start, int64_t *end)
{
	struct tzsave sv;
	int ret = check(c);

	/* a century either way is more than any report asks */
	if (ret < 0 || n > 1200 || n < -1200)
		return -EINVAL;
	ret = tz_enter(c->tz, &sv);
	if (ret < 0)
		return ret;
	bounds_in_zone(c->day, t, n, start, end);
	tz_leave(&sv);
	return 0;
}

int cycle_bounds(const struct cycle *c, int64_t t, int64_t *start, int64_t *end)
{
	return cycle_shift(c, t, 0, start, end);
}

int cycle_of_month(const struct cycle *c, int year, int month, int64_t *start, int64_t *end)
{
	struct tzsave sv;
	int ret = check(c);

	if (ret < 0 || month < 1 || month > 12 || year < 1970 || year > 9999)
		return -EINVAL;
	ret = tz_enter(c->tz, &sv);
	if (ret < 0)
		return ret;
	*start = month_start(year, month, c->day);
	*end = month_start(year, month + 1, c->day);
	tz_leave(&sv);
	return 0;
}

int cycle_month_of(const struct cycle *c, int64_t t, int *year, int *month)
{
	struct tzsave sv;
	int ret = check(c);

	if (ret < 0)
		return ret;
	ret = tz_enter(c->tz, &sv);
	if (ret < 0)
		return ret;
	local_month(t, year, month);
	tz_leave(&sv);
	return 0;
}
