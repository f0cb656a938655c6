/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where reports go.  One report path for run and remove: the report is
 * saved as pending in the state directory, every sink records it in a
 * fixed order (the JSON lines, PostgreSQL's outbox, the store, the
 * metrics), then the pending file is renamed to the state: the commit
 * point.  The failure policy is here too: a sink that fails is reported in an error event and stops
 * neither the others nor the counting; a report the store cannot take
 * waits in a backlog (backlog.h), or, without one (remove), keeps the
 * pending file for a replay and fails the commit.  To add a sink, see
 * docs/design.md ("Code and installed files"). */
#ifndef NFTALLY_SINKS_H
#define NFTALLY_SINKS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "metrics.h"
#include "output.h"
#include "report.h"
#include "state.h"
#include "store.h"

/* What all accounts share: one JSON stream, one state directory, one
 * store, one set of metrics. */
struct sinks_conf {
	struct output *out;          /* the JSON lines (not owned) */
	int dirfd;                   /* the state directory */
	const char *dir;             /* its path, for messages */
	const char *store_path;      /* NULL: no store */
	/* the store's table: a database of another table is refused; NULL
	 * for a store shared by the accounts of one daemon */
	const char *store_table;
	const char *host;            /* this host's name (the store's migration) */
	bool store_create;           /* create a missing database (run), or
				      * record only into an existing one (remove) */
	struct store_keep keep;
	/* How many reports may wait for the store; 0: none, a report the
	 * store refuses fails the commit (errors then reach the caller's err
	 * only, not the log). */
	size_t backlog;
	/* the central database's conninfo (NULL or "": none); its reports
	 * wait in STATE_DIR/pg-outbox.db until sinks_tick sends them */
	const char *postgresql;
	bool metrics;                /* keep the Prometheus totals */
	const char *prom_file;       /* write them there (NULL or "": not) */
	/* Also hand them to publish (NULL: not), which takes buf; buf NULL
	 * before they are made: let go of the last (none is served while
	 * the new one is made, in the same thread). */
	void (*publish)(char *buf, size_t len, void *data);
	void *publish_data;
	/* Each report the store recorded (not a replay it had already), as
	 * it records it (NULL: none to tell). */
	void (*stored)(const struct report *r, void *data);
	void *stored_data;
};

struct sinks;

/* One account's side of the report path (many share one struct sinks):
 * where its reports come from, the class names that number its states
 * (not owned; a pending file may add to them), its files in the state
 * directory (statedir_names), and, once attached, what it reported last
 * for the metrics to list. */
struct sinks_acct {
	struct report_origin origin;
	struct addr_names *names;
	const char *pending, *state;
	const struct state *current; /* NULL: not listed in the metrics */
	struct sinks_acct *next;     /* sinks_attach's list */
};

/* This host's name (host, or gethostname() if host is NULL or ""), the
 * network namespace netns ("" the one nftally started in), account and
 * table. */
void sinks_origin_here(struct report_origin *o, const char *host, const char *netns,
		       const char *account, const char *table);

/* The metrics list a's addresses (a->current) from now on, until
 * sinks_detach; a stays the caller's. */
void sinks_attach(struct sinks *s, struct sinks_acct *a);
void sinks_detach(struct sinks *s, struct sinks_acct *a);
/* While batched, commits do not publish the metrics; the end of the batch
 * publishes once if any did (a tick of many accounts renders once). */
void sinks_batch(struct sinks *s, bool on);

/* Open the sinks of c (copied; its strings are borrowed): the store, if
 * any, and the metrics, seeded with its all-time totals.  What a person
 * must fix (a database of another table or version, a path that cannot
 * be opened or written) fails; with a backlog a full disk, a lock or an
 * I/O error only delays the store, after an error event.  0 or a
 * negative errno with e set. */
int sinks_open(struct sinks **s, const struct sinks_conf *c, struct err *e);
/* Close them; reports still waiting for the store are tried once more,
 * and each one that cannot go in is named in an error event. */
void sinks_close(struct sinks *s);

/* The commit point: next (seq, time, table set, sorted) saved as pending,
 * recorded by every sink, then renamed to the state; *done becomes next
 * (and next is emptied) once it is printed, and the metrics are
 * published.  0, or a negative errno with e set: a failed save (nothing
 * printed, *done unchanged), a report the store refused without a backlog
 * (printed, pending kept, *done unchanged), or a failed rename (printed
 * and reported: the pending file replays it after a restart). */
int sinks_commit(struct sinks *s, struct sinks_acct *a, struct state *done, struct state *next,
		 struct err *e);

/* A report printed (or about to be) when nftally stopped: if the pending
 * file follows done, every sink records it again (the JSON lines after a
 * `replay` event, same lines and seq; the store, which had it or not,
 * records it once) and it becomes the reported state.  A stale or damaged
 * pending file is deleted.  0, or the negative errno of a report the
 * store refused without a backlog (the pending file stays). */
int sinks_replay(struct sinks *s, struct sinks_acct *a, struct state *done, struct err *e);

/* Send what waits for PostgreSQL: at most one batch, not before a retry
 * after a failure is due (the delay doubles from 1 to 60 s).  The
 * milliseconds until it wants to be called again (-1: nothing waits).
 * Never holds the caller longer than libpq's timeouts (docs/fleet.md). */
int sinks_tick(struct sinks *s);

/* The metrics of every attached account (what each reported last), with
 * the health, to the textfile and publish. */
void sinks_publish(struct sinks *s);
/* The store, NULL while it is not open (it failed, and waits for the next
 * report to be opened again). */
struct store *sinks_store(struct sinks *s);
/* The health the metrics show: the caller fills in its reads and start. */
struct metrics_health *sinks_health(struct sinks *s);

#endif
