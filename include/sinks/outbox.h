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

/* Hand cb the rows of the oldest reports, whole reports only, until more
 * than max_rows were handed (at least one report, however large); *last
 * gets the id of the last report handed (0: none waits).  A non-zero
 * return of cb stops and is returned. */
int outbox_peek(struct outbox *o, size_t max_rows,
		int (*cb)(const struct outbox_row *r, void *data), void *data, int64_t *last,
		struct err *e);
/* Forget the reports up to id last (the server committed them). */
int outbox_drop(struct outbox *o, int64_t last, struct err *e);

/* How many reports wait, and the time of the oldest (0: none). */
int outbox_size(struct outbox *o, uint64_t *reports, int64_t *oldest, struct err *e);

#endif
