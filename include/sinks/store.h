/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The embedded store: every report's deltas in an SQLite database (WAL, so
 * other processes read while nftally writes), rolled up from intervals to
 * hours, days and months as they age, and the all-time totals per address
 * and label that the metrics export.  See docs/store.md. */
#ifndef NFTALLY_STORE_H
#define NFTALLY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "counts.h"
#include "err.h"
#include "report.h"
#include "state.h"

/* The tiers of the usage table; TIER_5MIN (for store_query's `by`) reads
 * the samples instead. */
enum store_tier { TIER_5MIN = -1, TIER_INTERVAL, TIER_HOUR, TIER_DAY, TIER_MONTH };

struct store_keep {
	int64_t intervals; /* seconds interval rows are kept before they become hours */
	int64_t hours;     /* ... hour rows before they become days */
	int64_t days;      /* ... day rows before they become months (kept forever) */
	int busy_ms;       /* how long a write waits for another writer's lock
			    * (0: 10 s); also the wait of store_open */
	int64_t samples;   /* seconds 5-minute samples are kept (0: 63 days;
			    * never longer than hour rows, docs/billing.md) */
};

struct store;

/* Open (creating with mode 0600 and the schema if missing) the database at
 * path for writing.  table: the one table whose store it is (a database of
 * another table is refused), or NULL for a store shared by accounts (no
 * table check; meta records it as shared).  host: this host's name as the
 * reports' origins say it (NULL: gethostname), which the rows of a store
 * of schema 1 (from before origins) are attributed to when this open
 * migrates it, in the transaction that checks the schema (netns and
 * account ''); a database of a newer schema is refused. */
int store_open(struct store **s, const char *path, const char *host, const char *table,
	       const struct store_keep *keep, struct err *e);
/* Does the path store_open opened still name the database it opened (no
 * symlink followed)?  0 yes; -ENOENT it is gone; -ESTALE another file
 * (or a symlink) is there now; another negative errno if lstat fails. */
int store_check(struct store *s);
/* Open an existing database read-only (reports); -ENOENT if missing,
 * -EINVAL (e set) for a newer schema.  A store of schema 1 is read as if
 * migrated: its rows as from host (NULL: gethostname), netns and account
 * ''. */
int store_open_readonly(struct store **s, const char *path, const char *host, struct err *e);
void store_close(struct store *s);

/* Record a report in one transaction with its origin, seq and time: its
 * rows (series of r->origin's host, netns and account), the totals, and
 * the report itself (table reports).  Returns 0; 1 when that very report
 * (same origin, seq and time: a replay) is recorded already and nothing
 * was written; or a negative errno (nothing written).  Every account
 * numbers its own seqs: the same seq of another origin is another
 * report. */
int store_record_report(struct store *s, const struct report *r, struct err *e);
/* store_record_report in parts, for a report whose rows come a block at
 * a time (report_make_some): begin opens the transaction and records r's
 * origin, seq and time (r's rows are not looked at), returning 0, 1 for a
 * replay recorded already (then nothing is open and no rows follow) or a
 * negative errno; rows records r's rows, any number of times; end
 * commits.  A failure of rows or end returns a negative errno with the
 * transaction rolled back: nothing of the report is written. */
int store_record_begin(struct store *s, const struct report *r, struct err *e);
int store_record_rows(struct store *s, const struct report *r, struct err *e);
int store_record_end(struct store *s, const struct report *r, struct err *e);
/* Roll back what begin opened and rows recorded (a caller that cannot go
 * on between them). */
void store_record_abort(struct store *s);
/* report_make (origin all "") and store_record_report; *rows gets the
 * rows. */
int store_record(struct store *s, const struct addr_names *an, const struct state *done,
		 const struct state *next, size_t *rows, struct err *e);

/* Move rows older than the retention into the next tier (each in one
 * transaction, sums unchanged, series and so origins kept).  Cheap when
 * there is nothing to move. */
int store_rollup(struct store *s, time_t now, struct err *e);

/* Call cb with the all-time totals of every series recorded: its origin
 * (host, netns, account; table "", which the store does not keep, and
 * borrowed for the call), address, label and class. */
int store_totals(struct store *s,
		 void (*cb)(const struct report_origin *o, const char *addr, const char *label,
			    const char *cls, const struct counts *c, void *data),
		 void *data, struct err *e);

/* A copy of the all-time totals (store_totals) of a database. */
struct store_total {
	char *host, *netns, *account;
	char *addr, *label, *cls; /* cls "" without network classes */
	struct counts c;
};

struct store_saved {
	struct store_total *v;
	size_t n;
};

/* Copy s's totals into *sv (to free with store_saved_free). */
int store_totals_save(struct store *s, struct store_saved *sv, struct err *e);
void store_saved_free(struct store_saved *sv);
/* Carry the totals of a lost database over into s, in one transaction:
 * table carried gets what keeps every total of s (per series and field)
 * from being below the saved one, so that store_totals never falls back.
 * usage, and so report, is unchanged.  0 or a negative errno. */
int store_carry(struct store *s, const struct store_saved *sv, struct err *e);

/* What report asks for. */
struct store_query {
	/* TIER_HOUR, TIER_DAY or TIER_MONTH; TIER_5MIN: the samples (only
	 * as far back as they are kept) */
	enum store_tier by;
	bool utc;           /* periods in UTC instead of local time */
	bool per_addr;
	bool merge_hosts;   /* sum over hosts and namespaces (both shown as "*") */
	const char *label;  /* NULL: all */
	const char *addr;   /* NULL: all; canonical text */
	const char *cls;    /* NULL: all classes */
	/* NULL: all; "" is a value (netns "": the namespace nftally started in) */
	const char *host, *netns, *account;
	int64_t since, until; /* [since, until) on the start of each row */
	bool sum_classes;   /* one row over all classes (its cls "") */
};

struct store_row {
	const char *period, *host, *netns, *label;
	const char *addr; /* NULL unless per_addr */
	const char *cls; /* "" without network classes */
	struct counts c;
};

/* Totals per period, host, netns and label (and address), and class:
 * the accounts of one host and namespace add up.  Ordered by period,
 * host, netns, label, address, class.  Returns 0 or a negative errno. */
int store_query(struct store *s, const struct store_query *q,
		int (*cb)(const struct store_row *row, void *data), void *data,
		struct err *e);

/* ---- billing (docs/billing.md) ---- */

/* The start of the 5-minute sample slot that a report at time t goes
 * into: the one holding its last second, t - 1. */
int64_t store_slot(int64_t t);

/* Sum per label of every origin's usage in [since, until) from the finest
 * rows that cover it: the 5-minute samples where they are kept, usage
 * rows before (whose periods must then fit the window to be exact: an
 * hour row counts if its hour starts in it, a day or month row if its
 * local day or month does).  cb per label in strcmp order (labels with
 * no rows are not called); a non-zero return of cb stops and is
 * returned.  0 or a negative errno with e set. */
int store_label_usage(struct store *s, int64_t since, int64_t until,
		      int (*cb)(const char *label, const struct counts *c, void *data),
		      void *data, struct err *e);

/* Every label that has a series, in strcmp order.  0, cb's non-zero
 * return, or a negative errno with e set. */
int store_labels(struct store *s, int (*cb)(const char *label, void *data), void *data,
		 struct err *e);

/* The time of the first report recorded (the start of the oldest row),
 * or INT64_MAX for an empty store, in *t. */
int store_first_time(struct store *s, int64_t *t, struct err *e);

/* A label's window [since, until) (multiples of 300 s for exact sums),
 * named `period` in the rows. */
struct store_window {
	const char *label, *period;
	int64_t since, until;
};

/* What store_window_query and store_window_samples read: the windows
 * (several per label, not overlapping, are fine; labels without one are
 * not read), and filters and grouping as store_query's. */
struct store_wquery {
	const struct store_window *w;
	size_t nw;
	bool per_addr, merge_hosts, sum_classes;
	const char *addr, *cls, *host, *netns, *account; /* NULL: all */
};

/* Totals per window, host, netns, label (and address) and class, from
 * the finest rows as store_label_usage; row->period is the window's.
 * Ordered by label, period, host, netns, address, class.  0, cb's
 * non-zero return, or a negative errno with e set. */
int store_window_query(struct store *s, const struct store_wquery *q,
		       int (*cb)(const struct store_row *row, void *data), void *data,
		       struct err *e);

/* One 5-minute sample: the slot [t, t + 300) of a window's label (and
 * address), summed over hosts, namespaces, accounts and classes (as the
 * filters leave them). */
struct store_sample {
	const char *label, *period, *addr; /* addr NULL unless per_addr */
	int64_t t;
	struct counts c;
};

/* The samples in each window (slots with traffic only), ordered by label,
 * period, address, t.  Samples exist only from store_samples_from on.
 * 0, cb's non-zero return, or a negative errno with e set. */
int store_window_samples(struct store *s, const struct store_wquery *q,
			 int (*cb)(const struct store_sample *x, void *data), void *data,
			 struct err *e);

/* Where the samples begin: every report from there on is in them. */
int64_t store_samples_from(const struct store *s);

/* The number of reports recorded with a time in [lo, hi], the sum of
 * their seq and of their times, into stamp: what serve compares to know
 * that an ended cycle has no new report (or lost one to the pruning).
 * 0 or a negative errno with e set. */
int store_reports_stamp(struct store *s, int64_t lo, int64_t hi, int64_t stamp[3],
			struct err *e);

#endif
