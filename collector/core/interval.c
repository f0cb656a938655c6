// SPDX-License-Identifier: GPL-2.0-or-later
/* Interval boundaries for run's timer, as functions of the wall clock's
 * value, so that clock steps can be tested without stepping a clock. */
#include "interval.h"

int64_t interval_next(int64_t now, unsigned interval)
{
	int64_t q = now / interval;

	if (now < 0 && now % interval)
		q--; /* floor, not truncation */
	return (q + 1) * interval;
}

bool interval_wake(int64_t now, int64_t armed, bool expired, unsigned interval,
		   int64_t *next)
{
	*next = interval_next(now, interval);
	return expired || now >= armed;
}
