/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The labels' usage in their current billing cycles, for the quotas,
 * kept up to date from the reports as the store records them, instead of
 * summed again from the store at every report: that sum reads every
 * sample of the cycle so far (seconds per report at a thousand busy
 * addresses near a cycle's end).  A cycle start is read from the store
 * once, the first time it is asked for; from then on each report the
 * store takes is added to every window it falls into, by the same rule
 * the store's samples follow (the slot of its last second).  See
 * docs/quotas.md. */
#ifndef NFTALLY_QUSAGE_H
#define NFTALLY_QUSAGE_H

#include <stdint.h>

#include "counts.h"
#include "err.h"
#include "quotad.h"
#include "report.h"

struct qusage;

struct qusage *qusage_create(void);
void qusage_destroy(struct qusage *u);

/* quotad's usage function over the cache: each label's usage since
 * `since` (until is ignored: no report is recorded ahead of the clock),
 * through cb in label order.  The first time a since is asked for (or
 * after qusage_sweep dropped it), its sums come from load (the store). */
int qusage_get(struct qusage *u, int64_t since, quotad_usage_fn load, void *load_data,
	       int (*cb)(const char *label, const struct counts *c, void *arg), void *arg,
	       struct err *e);

/* A report the store took (recorded now, not a replay): added to every
 * window whose start is not after its slot. */
int qusage_add(struct qusage *u, const struct report *r);

/* Forget the windows no qusage_get asked for since the last sweep (the
 * cycles that ended). */
void qusage_sweep(struct qusage *u);

#endif
