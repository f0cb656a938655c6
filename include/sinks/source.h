/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What report and serve read: the local store (store.h) or the central
 * PostgreSQL database (pg.h), through one set of calls that give the same
 * rows, windows and samples in the same order.  One source is for one
 * thread at a time. */
#ifndef NFTALLY_SOURCE_H
#define NFTALLY_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

struct source;

/* The store at path, read-only (here: the host the store's rows of schema
 * 1 are from, NULL: gethostname); as store_open_readonly. */
int source_open_store(struct source **s, const char *path, const char *here, struct err *e);
/* The database conninfo names; periods not in UTC are in the time zone tz
 * (an IANA name). */
int source_open_pg(struct source **s, const char *conninfo, const char *tz, struct err *e);
void source_close(struct source *s);

/* As store_query, store_labels, store_first_time, store_window_query and
 * store_window_samples. */
int source_query(struct source *s, const struct store_query *q,
		 int (*cb)(const struct store_row *row, void *data), void *data, struct err *e);
int source_labels(struct source *s, int (*cb)(const char *label, void *data), void *data,
		  struct err *e);
int source_first_time(struct source *s, int64_t *t, struct err *e);
int source_window_query(struct source *s, const struct store_wquery *q,
			int (*cb)(const struct store_row *row, void *data), void *data,
			struct err *e);
int source_window_samples(struct source *s, const struct store_wquery *q,
			  int (*cb)(const struct store_sample *x, void *data), void *data,
			  struct err *e);
/* Where the samples begin (store_samples_from): every count from there on
 * is in them.  INT64_MAX for the central database (not known here). */
int64_t source_samples_from(struct source *s);
/* A stamp of the reports recorded with a time in [lo, hi] (their number
 * and sums of seq and time), which a report recorded (or removed) there
 * changes: 0, -ENOTSUP for the central database, or a negative errno
 * with e set. */
int source_reports_stamp(struct source *s, int64_t lo, int64_t hi, int64_t stamp[3],
			 struct err *e);

#endif
