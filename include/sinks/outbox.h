/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The durable outbox of the PostgreSQL sink: reports waiting for the
 * central database, in an SQLite file of the state directory, so that an
 * outage, a restart or a kill -9 loses none.  Each report is there once
 * (its origin, seq and time are unique), oldest first, and leaves only
 * when the server has committed it.  See docs/fleet.md. */
#ifndef NFTALLY_OUTBOX_H
#define NFTALLY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "report.h"

struct outbox;

/* One row waiting, as outbox_peek hands it (borrowed for the call). */
struct outbox_row {
	const char *host, *netns, *account, *table;
	uint64_t seq;
	int64_t time, since; /* since 0: unknown (counted from creation) */
	const char *addr, *label, *cls;
	struct counts c;
};

/* Open (creating with mode 0600) the outbox at path.  0 or a negative
 * errno with e set. */
int outbox_open(struct outbox **o, const char *path, struct err *e);
/* Close it (NULL is harmless). */
void outbox_close(struct outbox *o);

/* Keep report r in one transaction.  0; 1 when it is there already (a
 * replay: nothing written); a negative errno (nothing written). */
int outbox_add(struct outbox *o, const struct report *r, struct err *e);

/* How far outbox_peek handed the outbox: every report up to id whole was
 * handed whole, and every row up to rowid row (the oldest report after
 * whole may have been handed in part: the rest of it comes next). */
struct outbox_mark {
	int64_t whole, row;
};

/* Hand cb the oldest rows, in the order they were added, at most max_rows
 * of them: a report larger than that is handed over several calls (each
 * row once its batch is dropped).  *m says how far (both 0: nothing
 * waits).  A non-zero return of cb stops and is returned. */
int outbox_peek(struct outbox *o, size_t max_rows,
		int (*cb)(const struct outbox_row *r, void *data), void *data,
		struct outbox_mark *m, struct err *e);
/* Forget what outbox_peek handed up to m (the server committed it). */
int outbox_drop(struct outbox *o, const struct outbox_mark *m, struct err *e);

/* How many reports wait, and the time of the oldest (0: none). */
int outbox_size(struct outbox *o, uint64_t *reports, int64_t *oldest, struct err *e);

#endif
