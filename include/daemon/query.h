/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `nftally report`: totals per period from the store, on stdout. */
#ifndef NFTALLY_QUERY_H
#define NFTALLY_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "bill.h"
#include "counts.h"
#include "err.h"

struct billing;

/* Options of `nftally report`, as given (checked by query_check). */
struct report_opts {
	const char *by, *label, *addr, *since, *until, *format, *cls;
	/* billing (docs/billing.md): --cycle current|previous|YYYY-MM, --bill
	 * sum|max|in|out, --units, --at T (the time the report is made as of;
	 * NULL: now) */
	const char *cycle, *bill, *units, *at;
	bool p95, all, by_class;
	/* the labels' cycles (NULL: day 1 in the local zone), and the labels
	 * --all lists besides the store's (from the targets and labels files) */
	const struct billing *billing;
	const char *const *known;
	size_t nknown;
	/* where the rows were counted (NULL: anywhere; netns "": the
	 * namespace nftally started in) */
	const char *host, *netns, *account;
	/* libpq conninfo: read the central database's nftally_raw instead of
	 * the store (NULL: the store) */
	const char *postgresql;
	bool utc, human, per_addr;
	bool merge_hosts; /* sum over hosts and namespaces (shown as "*") */
	bool any; /* one of them was given */
};

/* Are the options well formed?  0, or -EINVAL with e set. */
int query_check(const struct report_opts *o, struct err *e);

/* The totals o asks for from the store at store_path, on stdout, per
 * period, host, netns and label (and address, and class: a class column
 * in CSV if classes are configured).  here: this host's name as run
 * records it (NULL: gethostname), which the rows of a store of schema 1
 * are read as from.  0; -EINVAL with e set for options query_check
 * refuses or a database of a newer schema; -ENOENT if there is no
 * database at store_path; another negative errno (the store, out of
 * memory) with e set, or -EIO with e->msg "" when stdout cannot be
 * written.  With o->postgresql, the same from the central database
 * (store_path and here unused): -ENOTSUP with e set when built without
 * libpq, -EIO with e set when the server fails. */
int query_report(const struct report_opts *o, const char *store_path, const char *here,
		 bool classes, struct err *e);

/* A time as --since, --until and --at take it ("YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS]", "YYYY-MM", "@SECONDS"; local time unless utc).
 * 0 or -EINVAL. */
int query_parse_time(const char *s, bool utc, int64_t *out);

/* The IANA name of the local time zone (TZ, else /etc/localtime's link,
 * else "UTC") in buf. */
const char *query_local_zone(char *buf, size_t size);

/* ---- the same numbers for nftally serve (docs/dashboard.md) ---- */

struct source;
struct store_sample;
struct store_window;

/* What query_bills computes: report --cycle CYCLE --bill BILL --p95
 * --merge-hosts --all as of now (or, without a cycle, --by cycle --since
 * @SINCE: every cycle from the one holding since to the one holding now),
 * filtered as report's --label, --host and --netns (NULL: no filter). */
struct query_bills_opts {
	const char *cycle; /* "current", "previous", "YYYY-MM"; NULL: each from since */
	enum bill_policy bill;
	const struct billing *billing; /* NULL: day 1, local zone */
	int64_t now;
	const char *label, *host, *netns;
	int64_t since;
	/* serve's one read of a cycle (with cycle set; NULL: none): the read
	 * of the samples for the percentiles starts at sample_since when that
	 * is earlier than a window's start, gives every sample it reads to
	 * sample (with its window w, as it was before widening, and its
	 * index i of the n in the result's order; non-zero stops the read
	 * and is returned), and gives the totals too
	 * when the samples hold every count of the windows (the store's
	 * samples_from), instead of a second read */
	int (*sample)(const struct store_sample *x, const struct store_window *w, size_t i,
		      size_t n, void *data);
	void *sample_data;
	int64_t sample_since;
	/* with sample: the read of every window starts at sample_since, even
	 * after the window's start, and the result's percentiles are left
	 * out (zero slots, as a window without samples) and its totals are
	 * the samples read from the window's start on: the caller, which
	 * kept the slots before, makes its own (serve's refresh of the slots
	 * that ended since its last) */
	bool sample_only;
};

/* One label's cycle: its totals (report --cycle's row, summed over hosts,
 * namespaces and classes) and its 95th percentile (report --p95's row;
 * zero slots counted when it has no samples). */
struct query_bill {
	char *label;
	char period[16];
	int64_t since, until;
	struct counts c;
	uint64_t billed;
	struct bill_p95 p95;
};

struct query_bills {
	struct query_bill *v; /* sorted by label (strcmp), then cycle */
	size_t n;
	bool from_samples; /* the totals are the sums of the samples read */
};

/* Every label of the source s (that passes the filters) with its cycle,
 * computed by the code of `nftally report`, into *out (query_bills_free).
 * 0, or a negative errno with e set (-EINVAL: a bad cycle). */
int query_bills(struct source *s, const struct query_bills_opts *o, struct query_bills *out,
		struct err *e);
void query_bills_free(struct query_bills *b);

#endif
