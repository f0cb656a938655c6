/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dashboard's requests and answers, apart from the HTTP library: who
 * a request's token makes it (operator, one label's customer, nobody),
 * the JSON API and the HTML pages from the store (docs/dashboard.md). */
#ifndef NFTALLY_DASH_H
#define NFTALLY_DASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bill.h"
#include "query.h"

struct billing;
struct dash_cur;
struct source;

struct dash_token {
	char *token, *label;
};

#define DASH_SPARK_SLOTS 288 /* the overview's last day: 5-minute slots */

/* The overview's numbers for one set of filters, as of now: every label's
 * two cycles and its last day, shared (refs, under dash.lock) by the
 * requests that page through it. */
struct dash_snap {
	unsigned refs;
	char *host, *netns;     /* the filters (NULL: none) */
	int64_t now, made;      /* as of; when computed (time(NULL)) */
	struct query_bills cur, prev; /* cur.v[i], prev.v[i]: the same label */
	int64_t spark_start;
	uint64_t *in, *out;     /* [i * DASH_SPARK_SLOTS + slot]: bytes of cur.v[i] */
	/* prev as the store's reports stood before it was read (source_
	 * reports_stamp over its cycles; stamped false: none), and when it
	 * was read: the next snapshot of these filters keeps it while they
	 * stand, an ended cycle being the same */
	int64_t prev_stamp[3], prev_made;
	bool stamped;
	/* the current cycle as read, for the next snapshot of these filters
	 * to add the slots ended since to (NULL: none; it takes it) */
	struct dash_cur *kept;
	int64_t read_from; /* the current cycle was read from (INT64_MIN: whole) */
};

/* The filtered snapshots kept: the last sets of filters asked.  The
 * refresher makes them again with its own while they are asked for, and
 * forgets a set not asked for DASH_FILTER_IDLE seconds. */
#define DASH_FILTERS 4
#define DASH_FILTER_IDLE 600

/* One set of filters (host, netns: at least one) and its newest snapshot. */
struct dash_filter {
	char *host, *netns;
	int64_t asked;          /* time(NULL) of the last request (0: a free slot) */
	unsigned gen;           /* one more each time the slot takes other filters */
	struct dash_snap *snap; /* NULL: not made yet */
	int64_t tried;          /* with failed: when its last making failed */
	bool failed;
	bool seen;              /* a snapshot of the slot's filters was answered */
};

struct dash {
	struct source *store;
	const struct billing *billing;
	const struct quotas *quotas; /* NULL: none (no quota bars) */
	enum bill_policy bill;
	int64_t at;          /* with fixed_at: the time the pages are made as of */
	/* tests only ($NFTALLY_SERVE_AT_FILE, with fixed_at): a file whose
	 * number is the time instead of at, read for every page; the
	 * refresher makes new snapshots when it changes */
	const char *at_file;
	/* tests only ($NFTALLY_SERVE_HOLD_FILE, with at_file): while the file
	 * at this path exists, the snapshot the refresher makes stops once
	 * it has read as many labels as the file's number (docs/dashboard.md) */
	const char *hold_file;
	bool fixed_at, loopback;
	char *operator_token; /* NULL: none */
	struct dash_token *tokens;
	size_t ntokens;
	const char *web_dir, *dygraphs;
	/* the snapshots, all made by the refresher: its own (no filters) and
	 * the filtered ones; lock guards them, work the store d->store and
	 * the process's time zone (which the cycles change while they are
	 * computed) */
	pthread_mutex_t lock, work;
	/* cond wakes the refresher (new filters, a test's time, stop); made
	 * wakes the requests waiting for a snapshot of new filters */
	pthread_cond_t cond, made;
	struct dash_snap *snap;
	struct dash_filter filters[DASH_FILTERS];
	bool stop, failed, started, locks;
	int64_t tried; /* when the refresher's own last failed to be made */
	/* the snapshot the refresher is making (under lock): build_slot
	 * DASH_FILTERS its own, i < DASH_FILTERS filters[i]'s as of build_gen,
	 * SIZE_MAX none; its labels read of the current cycle (build_n 0: not
	 * known yet), or the previous cycle's read after them (build_prev) */
	size_t build_slot;
	unsigned build_gen;
	size_t build_done, build_n;
	bool build_prev;
	/* requests waiting for work: a snapshot being made lets them have it
	 * between two labels */
	atomic_uint work_waiting;
	pthread_t thread;
	struct source *bg_store; /* the refresher's own connection */
	/* the HTTP library's */
	void *mhd;
	char *cert, *key;
};

/* A request: its path, its query arguments (get(ctx, name), NULL when
 * absent, percent-decoded) and the token it came with (NULL: none). */
struct dash_req {
	const char *url, *token;
	bool head, query_token; /* the token came as ?token= */
	const char *(*get)(void *ctx, const char *name);
	void *ctx;
};

/* The answer: status, body (malloc'd; the caller frees it), its type. */
struct dash_resp {
	unsigned status;
	char *body;
	size_t len;
	const char *type;
	char *location; /* malloc'd, for a redirect */
	bool cache;     /* a static file */
	unsigned retry_after; /* seconds, for a 503 (0: no Retry-After) */
};

/* Answer rq into *rs (always filled: a 500 when out of memory). */
void dash_answer(struct dash *d, const struct dash_req *rq, struct dash_resp *rs);
/* A plain-text answer. */
void dash_text(struct dash_resp *rs, unsigned status, const char *text);
/* Start the refresher thread (the overview's snapshots) on bg, a store
 * connection of its own (d takes it).  0 or a negative errno with e set. */
int dash_start(struct dash *d, struct source *bg, struct err *e);
/* Stop the refresher; free what d holds (tokens, snapshots, stores,
 * cert, key); not d. */
void dash_finish(struct dash *d);

#endif
