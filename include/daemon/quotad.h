/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Quotas in the daemon (docs/quotas.md): the quotas file, reread when it
 * changes; after each report, every label's usage in its billing cycle,
 * the events quota_warning and quota_exceeded, once per label, cycle and
 * level across restarts and kill -9 (STATE_DIR/quota.state); the hook,
 * run asynchronously and killed after its timeout; the metrics; and which
 * labels an exceeded enforcing quota holds (render_enforce). */
#ifndef NFTALLY_QUOTAD_H
#define NFTALLY_QUOTAD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "counts.h"
#include "cycle.h"
#include "err.h"
#include "metrics.h"
#include "output.h"
#include "quota.h"
#include "render.h"

struct quotad;

/* Every label's usage in [since, until): cb once per label that has any
 * (labels without rows are 0).  0 or a negative errno (e set). */
typedef int (*quotad_usage_fn)(void *data, int64_t since, int64_t until,
			       int (*cb)(const char *label, const struct counts *c, void *arg),
			       void *arg, struct err *e);
/* The billing cycle of a label. */
typedef const struct cycle *(*quotad_cycle_fn)(void *data, const char *label);

/* Load cfg's quotas file (it must exist and be valid: the start fails
 * otherwise) and STATE_DIR/quota.state (dirfd, dirpath), and deliver the
 * events a crash left recorded but not delivered.  Events go to out.
 * NULL with e set. */
struct quotad *quotad_create(const struct config *cfg, int dirfd, const char *dirpath,
			     struct output *out, struct err *e);
/* Kills nothing: hooks still running go on alone. */
void quotad_destroy(struct quotad *qd);

/* Reread the quotas file if it changed (or always, with force): a bad
 * file keeps the quotas as they were, after a quotas_rejected event. */
void quotad_reload(struct quotad *qd, bool force);

/* The usage of every label with a quota, now: new levels crossed become
 * events and hook runs, the metrics and the enforcement follow.  Returns
 * 1 when the enforcement changed (the tables must be applied again), 0,
 * or a negative errno when the usage could not be read (nothing
 * changed, an error event said why). */
int quotad_evaluate(struct quotad *qd, time_t now, quotad_usage_fn usage,
		    quotad_cycle_fn cycle, void *data);

/* The sets every table's skeleton renders (valid until the next
 * quotad_evaluate or quotad_reload). */
const struct render_enforce *quotad_enforce(const struct quotad *qd);

/* The metrics of each quota (valid as above). */
const struct metrics_quota *quotad_metrics(const struct quotad *qd, size_t *n);

/* Reap hooks that ended, kill those past their timeout (an error event
 * each), and say in how many ms to be called again (-1: no hook runs). */
int quotad_tick(struct quotad *qd);

#endif
