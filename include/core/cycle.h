/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Billing cycles: the month-long periods a label's usage is billed over,
 * as functions of a Unix time, a start day and a time zone (docs/billing.md). */
#ifndef NFTALLY_CYCLE_H
#define NFTALLY_CYCLE_H

#include <stdint.h>

#include "err.h"

/* A billing cycle: it starts on day `day` (1..31; past the month's end: the
 * month's last day) at 00:00 local time of time zone `tz` (an IANA name such
 * as "Europe/Berlin", or "UTC"; "" = the host's local zone).
 *
 * A local midnight that does not exist (a DST gap at 00:00) starts the cycle
 * at the first instant after the gap; a midnight that exists twice (the
 * clock set back across 00:00) starts it at the earlier one.  In general: a
 * cycle starts at the earliest instant at which the zone's clock reads the
 * start day's 00:00:00 or later. */
struct cycle {
	int day;
	char tz[64];
};

/* The cycle holding t: [*start, *end) in Unix seconds.  0, or -EINVAL for a
 * day outside 1..31 or an unknown tz.  The process's TZ is restored before
 * returning (the daemon is one thread; these are not thread-safe). */
int cycle_bounds(const struct cycle *c, int64_t t, int64_t *start, int64_t *end);

/* The cycle n cycles before (n > 0) or after (n < 0) the one holding t.
 * 0 or -EINVAL as cycle_bounds. */
int cycle_shift(const struct cycle *c, int64_t t, int n, int64_t *start, int64_t *end);

/* The cycle that starts in month "YYYY-MM" (month 1..12).  0 or -EINVAL. */
int cycle_of_month(const struct cycle *c, int year, int month, int64_t *start, int64_t *end);

/* The local year and month of t in c's zone (for naming a cycle by the
 * month it starts in).  0 or -EINVAL as cycle_bounds. */
int cycle_month_of(const struct cycle *c, int64_t t, int *year, int *month);

/* Is tz a zone cycle_bounds accepts ("", "UTC", or an IANA name with a
 * zoneinfo file: letters, digits, '/', '_', '-', '+', no "..")?  0, or
 * -EINVAL with e saying why. */
int cycle_tz_check(const char *tz, struct err *e);

#endif
