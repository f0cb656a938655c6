/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reports a durable sink (the store; later a remote database) could not
 * take yet, oldest first and bounded: they wait in memory and go in, in
 * order, as soon as the sink works again.  Only a stop or an overflow
 * before that loses one from the sink (the JSON lines have it). */
#ifndef NFTALLY_BACKLOG_H
#define NFTALLY_BACKLOG_H

#include <stddef.h>

#include "report.h"

#define BACKLOG_MAX 64

struct backlog {
	struct report v[BACKLOG_MAX]; /* v[0] the oldest */
	size_t n, max;
};

/* An empty backlog holding up to max (at most BACKLOG_MAX) reports. */
void backlog_init(struct backlog *b, size_t max);
/* Free every report waiting. */
void backlog_finish(struct backlog *b);

/* Keep *r at the end: its labels are copied (report_own) and b takes it
 * (*r is zeroed).  -ENOSPC when b is full, -ENOMEM when the labels cannot
 * be copied: then *r stays the caller's. */
int backlog_push(struct backlog *b, struct report *r);

/* Offer the waiting reports to take, oldest first: one that take accepts
 * (returns >= 0) leaves b; the first it refuses stops the drain, and its
 * (negative) return is returned, the rest still waiting.  0 when nothing
 * waits any more. */
int backlog_drain(struct backlog *b, int (*take)(const struct report *r, void *data),
		  void *data);

#endif
