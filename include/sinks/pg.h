/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL sink: reports from the outbox (outbox.h) into the
 * central database, a batch at a time, exactly once (an idempotent key:
 * a batch sent again inserts nothing twice).  nftally creates and
 * migrates the schema (nftally_schema, the partitioned nftally_raw, the
 * view nftally_usage) under an advisory lock.  Blocking libpq with short
 * timeouts (connect 2 s, each statement 2 s): one batch holds the loop
 * for a few seconds at the very worst.  See docs/fleet.md. */
#ifndef NFTALLY_PG_H
#define NFTALLY_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "outbox.h"
#include "store.h"

#define PG_BATCH_ROWS 10000 /* rows per transaction (a larger report spans several) */

struct pg;

/* A sink for the database conninfo names (keyword/value or URI; copied).
 * Connects at the first pg_send.  NULL with errno set: ENOTSUP when
 * nftally was built without libpq, ENOMEM. */
struct pg *pg_create(const char *conninfo);
void pg_destroy(struct pg *p);

/* Send the oldest batch of o (connecting, and making the schema, first if
 * need be) and drop it from o once the server committed it.  The number
 * of reports sent (0: none waited), or a negative errno with e set (the
 * connection is closed; the batch stays in o). */
int pg_send(struct pg *p, struct outbox *o, struct err *e);

/* Reading the central database, for `nftally report --postgresql` and
 * `nftally serve --postgresql` (through source.h): the same rows, periods,
 * windows, samples, filters and order as the store's functions of the
 * same names give, from nftally_raw.  Periods are in the time zone tz (an
 * IANA name) unless a query asks for UTC.  Every value is a parameter of
 * one PQexecParams.  A connection is for one thread at a time; one that
 * broke is made again once per call.  Each returns 0, cb's nonzero
 * return, -ENOTSUP when built without libpq, or -EIO with e set (the
 * server's message; "no nftally schema" when nftally_raw is not there). */
struct pg_read;

/* NULL with e set when it cannot connect. */
struct pg_read *pg_read_open(const char *conninfo, const char *tz, struct err *e);
void pg_read_close(struct pg_read *r);
int pg_read_query(struct pg_read *r, const struct store_query *q,
		  int (*cb)(const struct store_row *row, void *data), void *data, struct err *e);
int pg_read_labels(struct pg_read *r, int (*cb)(const char *label, void *data), void *data,
		   struct err *e);
int pg_read_first_time(struct pg_read *r, int64_t *t, struct err *e);
int pg_read_window_query(struct pg_read *r, const struct store_wquery *q,
			 int (*cb)(const struct store_row *row, void *data), void *data,
			 struct err *e);
int pg_read_window_samples(struct pg_read *r, const struct store_wquery *q,
			   int (*cb)(const struct store_sample *x, void *data), void *data,
			   struct err *e);

/* `nftally pg-schema`: connect to the database conninfo names, make or
 * migrate nftally's schema (as pg_send would, under the same advisory
 * lock), disconnect.  *version gets the schema's version afterwards.  1
 * when it was made or migrated now, 0 when it was up to date already;
 * -ENOTSUP with e set when built without libpq, -EINVAL when the schema
 * is newer than this nftally's, -EIO with e set (the server's message in
 * one line: unreachable, no CREATE on the schema, ...). */
int pg_setup(const char *conninfo, int *version, struct err *e);

#endif
