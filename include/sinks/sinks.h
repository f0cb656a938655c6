/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where reports go.  One report path for run and remove: the report is
 * saved as pending in the state directory, every sink records it in a
 * fixed order (the JSON lines, the store, the metrics), then the pending
 * file is renamed to the state: the commit point.  The failure policy is
 * here too: a sink that fails is reported in an error event and stops
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

struct sinks_conf {
	struct report_origin origin; /* of every report (sinks_origin_here) */
	struct output *out;          /* the JSON lines (not owned) */
	/* the account's class names, which number the classes of every
	 * state and report (not owned; a pending file may add to them) */
	struct addr_names *names;
	int dirfd;                   /* the state directory */
	const char *dir;             /* its path, for messages */
	const char *pending, *state; /* the table's files in it (statedir_names) */
	const char *store_path;      /* NULL: no store */
	bool store_create;           /* create a missing database (run), or
				      * record only into an existing one (remove) */
	struct store_keep keep;
	/* How many reports may wait for the store; 0: none, a report the
	 * store refuses fails the commit (errors then reach the caller's err
	 * only, not the log). */
	size_t backlog;
	bool metrics;                /* keep the Prometheus totals */
	const char *prom_file;       /* write them there (NULL or "": not) */
	/* Also hand them to publish (NULL: not), which takes buf. */
	void (*publish)(char *buf, size_t len, void *data);
	void *publish_data;
};

struct sinks;

/* This host's name, the network namespace nftally started in (""), the
 * account of a config without sections (""), and table. */
void sinks_origin_here(struct report_origin *o, const char *table);

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
int sinks_commit(struct sinks *s, struct state *done, struct state *next, struct err *e);

/* A report printed (or about to be) when nftally stopped: if the pending
 * file follows done, every sink records it again (the JSON lines after a
 * `replay` event, same lines and seq; the store, which had it or not,
 * records it once) and it becomes the reported state.  A stale or damaged
 * pending file is deleted.  0, or the negative errno of a report the
 * store refused without a backlog (the pending file stays). */
int sinks_replay(struct sinks *s, struct state *done, struct err *e);

/* The metrics of current (what is reported now), with the health, to the
 * textfile and publish. */
void sinks_publish(struct sinks *s, const struct state *current);
/* The health the metrics show: the caller fills in its reads and start. */
struct metrics_health *sinks_health(struct sinks *s);

#endif
