/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus exposition: per address and direction the bytes and packets
 * counted since the store began (counters that never go backwards: they
 * add up nftally's deltas, which never are negative), and nftally's own
 * health.  Written to a node_exporter textfile and/or served over HTTP
 * (see http.h).  See docs/metrics.md. */
#ifndef NFTALLY_METRICS_H
#define NFTALLY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "counts.h"
#include "err.h"
#include "report.h"
#include "state.h"

struct metrics;

/* One quota's state (docs/quotas.md). */
struct metrics_quota {
	const char *label;
	uint64_t limit, used; /* bytes billed in the current cycle */
	int state;            /* 0 ok, 1 a warning reached, 2 exceeded */
};

struct metrics_health {
	double last_read;          /* Unix time of the last report's read */
	double read_seconds;       /* how long reading every counter took */
	double store_seconds;      /* how long recording it took */
	uint64_t reports;          /* reports made by this process */
	uint64_t store_errors;     /* reports the store could not record */
	double start_time;         /* when this process started */
	/* the events printed on the JSON lines (output.h; NULL: none) */
	const struct output_tally *events;
	/* the daemon's host name, the one label of the health metrics
	 * (NULL: "") */
	const char *host;
	/* the PostgreSQL sink's outbox (shown only with pg on): reports
	 * waiting, and the age of the oldest (0: none waits) */
	bool pg;
	uint64_t pg_outbox_reports;
	double pg_outbox_age;
	/* the quotas (NULL: none configured) */
	const struct metrics_quota *quotas;
	size_t nquotas;
};

/* New totals, unseeded: metrics_render shows no byte or packet counter
 * until metrics_set_seeded says they hold the all-time totals (the
 * store's, or with the store off, from 0). */
struct metrics *metrics_new(void);
void metrics_set_seeded(struct metrics *m);
void metrics_free(struct metrics *m);

/* Add c to the totals of the series (origin o's host, netns and account;
 * addr, label, class; o NULL: all ""; cls NULL or "" without classes):
 * loading them from the store, and at every report (through
 * metrics_add_report).  Names that differ only in bytes that are not
 * UTF-8 (shown as U+FFFD) are one series.  0 or -ENOMEM. */
int metrics_add(struct metrics *m, const struct report_origin *o, const char *addr,
		const char *label, const char *cls, const struct counts *c);
/* Add the rows of a report, from its origin.  0 or -ENOMEM. */
int metrics_add_report(struct metrics *m, const struct report *r);

/* One source of accounted addresses: an account in one namespace. */
struct metrics_src {
	const struct report_origin *origin; /* NULL: all "" */
	const struct addr_names *an;        /* its class labels */
	const struct state *current;        /* its addresses, reported now */
};

/* The exposition text for the addresses of every source (every
 * accounted address, with traffic or not; 0 for one never added) in a
 * malloc'ed buffer.  Each series once, whatever the sources: the same
 * (origin, address, label, class) twice is shown once, and sources that
 * differ in host, netns or account are different series.  Time and
 * memory linear in the series.  0, or -ENOMEM (*buf NULL). */
int metrics_render(struct metrics *m, const struct metrics_src *src, size_t n,
		   const struct metrics_health *h, char **buf, size_t *len);

/* Write buf to path atomically, mode 0644: into a new file of a random
 * name PATH.tmp.XXXXXX (O_EXCL: nothing existing is opened or followed),
 * renamed to PATH.  Refuses a world-writable directory without the sticky
 * bit (-EPERM).  0 or -errno with e set. */
int metrics_write_file(const char *path, const char *buf, size_t len, struct err *e);

#endif
