/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The wall-clock boundaries that run's reports fall on: whole multiples of
 * the interval since the Unix epoch (with 60 s, whole minutes UTC), and
 * what a wake-up of the timer means after the clock was set.  Pure. */
#ifndef NFTALLY_INTERVAL_H
#define NFTALLY_INTERVAL_H

#include <stdbool.h>
#include <stdint.h>

/* The first boundary after now (seconds since the epoch; interval > 0). */
int64_t interval_next(int64_t now, unsigned interval);

/* The timer woke at wall-clock second now, having been armed for the
 * boundary armed; expired: it expired (else the clock was set, ECANCELED).
 * Sets *next to the boundary to arm now, and returns whether a report is
 * due: when the timer expired, or when the clock was set forward past the
 * armed boundary (one report, however many boundaries it skipped).  A
 * step backward gives no report, and the next boundary of the new clock. */
bool interval_wake(int64_t now, int64_t armed, bool expired, unsigned interval,
		   int64_t *next);

#endif
