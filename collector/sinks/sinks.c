// SPDX-License-Identifier: GPL-2.0-or-later
/* The report path shared by run and remove: the pending file, the sinks in
 * their fixed order, the rename that says "reported"; the failure policy,
 * and the store's life under a run (lost, replaced, reopened, its backlog). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backlog.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "sinks.h"
#include "statedir.h"

struct sinks {
	struct sinks_conf c;
	/* the store: on (configured), and open or not (lost, or failed) */
	bool store_on;
	struct store *store;
	struct store_saved carry; /* totals of a lost database, until a new one has them */
	struct backlog backlog;
	struct metrics *metrics; /* NULL: no metrics */
	struct metrics_health health;
	struct sinks_acct *accts; /* attached: the metrics list their addresses */
	bool batch, unpublished;  /* sinks_batch */
	/* PostgreSQL: its outbox, the connection, when to try again after a
	 * failure (CLOCK_MONOTONIC ms) and the delay, whether it is down (said
	 * once) and whether the outbox is past SINKS_PG_WARN (said once) */
	struct outbox *outbox;
	struct backlog pg_backlog; /* reports the outbox could not take yet */
	struct pg *pg;
	int64_t pg_retry_at, pg_delay;
	bool pg_down, pg_warned;
};

/* Reports waiting for PostgreSQL past which a pg_backlog event is said:
 * an hour of reports at the default interval. */
#define SINKS_PG_WARN 60
#define SINKS_PG_RETRY_MAX 60000

/* Rows the store records at a time when no other sink needs all of a
 * report's at once: 4.7 MB of rows instead of 72 MB at 1,000,000
 * addresses with traffic. */
#define SINKS_ROWS_BLOCK 65536

/* What one record hands every sink. */
struct sink_input {
	struct sinks_acct *a;
	const struct state *done, *next;
	/* the rows; NULL when no sink needs them.  Not const: a durable sink
	 * may take it into its backlog (then it is emptied). */
	struct report *rep;
	/* no rows made: the store makes them a block at a time from done
	 * and next (report_make_some) */
	bool blocks;
};

/* One sink: open (0 and nothing to do when c does not ask for it),
 * record one report (a negative errno: the commit must not pass it by),
 * close. */
struct sink_ops {
	const char *name;
	bool rows; /* records the rows (struct report), not only the states */
	int (*open)(struct sinks *s, struct err *e);
	int (*record)(struct sinks *s, const struct sink_input *in, struct err *e);
	void (*close)(struct sinks *s);
};

/* An error event; a daemon (with a backlog) also logs it. */
#define sinks_error(s, ...) output_error((s)->c.out, (s)->c.backlog != 0, __VA_ARGS__)

void sinks_origin_here(struct report_origin *o, const char *host, const char *netns,
		       const char *account, const char *table)
{
	char name[256] = "";

	if (!host || !host[0])
		gethostname(name, sizeof(name) - 1);
	report_origin_init(o, host && host[0] ? host : name, netns, account, table);
}

void sinks_attach(struct sinks *s, struct sinks_acct *a)
{
	struct sinks_acct **p = &s->accts;

	while (*p) /* in order: the metrics list the accounts as they came */
		p = &(*p)->next;
	a->next = NULL;
	*p = a;
}

void sinks_detach(struct sinks *s, struct sinks_acct *a)
{
	if (!s)
		return;
	for (struct sinks_acct **p = &s->accts; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			a->next = NULL;
			return;
		}
}

void sinks_batch(struct sinks *s, bool on)
{
	s->batch = on;
	if (!on && s->unpublished)
		sinks_publish(s);
}

/* ---- the JSON lines ---- */

static int sink_jsonl_record(struct sinks *s, const struct sink_input *in, struct err *e)
{
	output_set_origin(s->c.out, &in->a->origin);
	output_report(s->c.out, in->a->names, in->done, in->next); /* a closed stdout stops no one */
	return 0;
}

/* ---- the metrics ---- */

static void sink_metrics_took(struct sinks *s, const struct report *rep)
{
	if (s->metrics && metrics_add_report(s->metrics, rep) < 0)
		sinks_error(s, "metrics: out of memory");
}

static void sink_metrics_seed_one(const struct report_origin *o, const char *addr,
				  const char *label, const char *cls, const struct counts *c,
				  void *data)
{
	metrics_add(data, o, addr, label, cls, c);
}

/* The metrics start again from the store's all-time totals (which never
 * fall below the values shown before: a lost database's were carried
 * over).  On failure the old values stay. */
static int sink_metrics_seed(struct sinks *s, struct err *e)
{
	struct metrics *m;
	int ret;

	if (!s->metrics)
		return 0;
	m = metrics_new();
	if (!m)
		return err_setn(e, -ENOMEM, "out of memory");
	ret = store_totals(s->store, sink_metrics_seed_one, m, e);
	if (ret < 0) {
		metrics_free(m);
		return ret;
	}
	metrics_set_seeded(m);
	metrics_free(s->metrics);
	s->metrics = m;
	return 0;
}

/* Before the store: unseeded until the store's totals are loaded (its
 * open seeds them), or from 0 without a store. */
static int sink_metrics_open(struct sinks *s, struct err *e)
{
	if (!s->c.metrics)
		return 0;
	s->metrics = metrics_new();
	if (!s->metrics)
		return err_setn(e, -ENOMEM, "out of memory");
	if (!s->store_on)
		metrics_set_seeded(s->metrics);
	return 0;
}

/* With a store the metrics are its totals: they take what it took (a
 * replay it had already, or a report it could not write, would otherwise
 * make them go backwards at the next start); sink_store_record hands them
 * that.  Without one, every report. */
static int sink_metrics_record(struct sinks *s, const struct sink_input *in, struct err *e)
{
	if (!s->store_on && in->rep)
		sink_metrics_took(s, in->rep);
	return 0;
}

static void sink_metrics_close(struct sinks *s)
{
	metrics_free(s->metrics);
	s->metrics = NULL;
}

/* ---- the store ---- */

static int sink_store_open_now(struct sinks *s, struct err *e)
{
	if (!s->c.store_create && access(s->c.store_path, F_OK) < 0) {
		s->store_on = false; /* remove: no database, nothing to record into */
		return 0;
	}
	return store_open(&s->store, s->c.store_path, s->c.host, s->c.store_table, &s->c.keep, e);
}

static int sink_store_open(struct sinks *s, struct err *e)
{
	int ret;

	if (!s->store_on)
		return 0;
	ret = sink_store_open_now(s, e);
	if (ret == 0 && s->store)
		ret = sink_metrics_seed(s, e);
	if (ret == 0)
		return 0;
	store_close(s->store);
	s->store = NULL;
	if (!s->c.backlog)
		return -EIO; /* remove stops before any change */
	if (ret != -ENOSPC && ret != -EBUSY && ret != -EIO && ret != -EDQUOT)
		return ret;
	sinks_error(s, "%s; the reports wait in memory, and the next one opens the store "
		    "again", e->msg);
	e->msg[0] = '\0';
	return 0;
}

/* A database deleted or replaced under the run: say so, keep its all-time
 * totals (the open connection still reads the file) and close it. */
static void sink_store_lost(struct sinks *s, int why)
{
	struct err e;

	sinks_error(s, "%s: the database %s while nftally was running; reports went on into "
		    "the file it had open until now; it is opened again, with the all-time "
		    "totals carried over", s->c.store_path,
		    why == -ENOENT ? "was deleted" : why == -ESTALE ? "was replaced by another file" :
		    "can no longer be checked");
	if (!s->carry.n && store_totals_save(s->store, &s->carry, &e) < 0)
		sinks_error(s, "%s: the all-time totals cannot be carried over: %s",
			    s->c.store_path, e.msg);
	store_close(s->store);
	s->store = NULL;
}

/* The store to record in is the database the path names: one lost is
 * closed, and one not open (lost, or not opened since the start) is
 * opened, with the lost one's totals carried over, and the metrics seeded
 * from it.  0, or a negative errno with s->store NULL. */
static int sink_store_ready(struct sinks *s, struct err *e)
{
	int ret;

	if (s->store && (ret = store_check(s->store)) != 0)
		sink_store_lost(s, ret);
	if (s->store)
		return 0;
	ret = sink_store_open_now(s, e);
	if (ret == 0 && s->carry.n)
		ret = store_carry(s->store, &s->carry, e);
	ret = ret ? ret : sink_metrics_seed(s, e);
	if (ret < 0) {
		store_close(s->store);
		s->store = NULL;
		return ret;
	}
	output_event(s->c.out, output_now(), "store_recovered", NULL,
		     "the database is open again%s", s->carry.n ?
		     "; the all-time totals of the lost one are carried over" : "");
	store_saved_free(&s->carry);
	return 0;
}

struct take_ctx {
	struct sinks *s;
	struct err *e;
};

/* A report the store recorded: the metrics' totals and whoever asked
 * (stored) take it too. */
static void sink_store_took(struct sinks *s, const struct report *rep)
{
	sink_metrics_took(s, rep);
	if (s->c.stored)
		s->c.stored(rep, s->c.stored_data);
}

/* One waiting report into the store. */
static int sink_store_take(const struct report *rep, void *data)
{
	struct take_ctx *t = data;
	int ret;

	if (!t->s->store)
		return err_setn(t->e, -EIO, "the store is not open");
	ret = store_record_report(t->s->store, rep, t->e);
	if (ret < 0)
		return ret;
	if (ret == 0) /* 1: it was there already */
		sink_store_took(t->s, rep);
	output_event(t->s->c.out, output_now(), "store_recovered", NULL,
		     "report %llu is in the store now", (unsigned long long)rep->seq);
	return 0;
}

/* The report's rows into the store a block at a time, in one
 * transaction: what store_record_report does with them all at once. */
static int sink_store_blocks(struct sinks *s, const struct sink_input *in, struct err *e)
{
	struct report r;
	size_t pos = 0;
	int more, ret;

	more = report_make_some(&r, &in->a->origin, in->a->names, in->done, in->next, &pos,
				SINKS_ROWS_BLOCK);
	if (more < 0)
		return err_setn(e, more, "store: out of memory");
	ret = store_record_begin(s->store, &r, e);
	while (ret == 0) {
		ret = store_record_rows(s->store, &r, e);
		if (ret < 0 || !more)
			break;
		report_free(&r);
		more = report_make_some(&r, &in->a->origin, in->a->names, in->done, in->next,
					&pos, SINKS_ROWS_BLOCK);
		if (more < 0) {
			store_record_abort(s->store);
			return err_setn(e, more, "store: out of memory");
		}
	}
	ret = ret ? ret : store_record_end(s->store, &r, e);
	report_free(&r);
	return ret;
}

/* What the store took, a block at a time, to the metrics and the quotas. */
static void sink_store_took_blocks(struct sinks *s, const struct sink_input *in)
{
	struct report r;
	size_t pos = 0;
	int more = 1;

	while (more > 0 && (s->metrics || s->c.stored)) {
		more = report_make_some(&r, &in->a->origin, in->a->names, in->done, in->next,
					&pos, SINKS_ROWS_BLOCK);
		if (more >= 0)
			sink_store_took(s, &r);
		else
			sinks_error(s, "report %llu: out of memory for the metrics and the quotas",
				    (unsigned long long)in->next->seq);
		report_free(&r);
	}
}

/* The report into the store: its rows made already, or a block at a time. */
static int sink_store_put(struct sinks *s, const struct sink_input *in, struct err *e)
{
	return in->rep ? store_record_report(s->store, in->rep, e) : sink_store_blocks(s, in, e);
}

/* Without a backlog (remove): in the store, or the commit stops. */
static int sink_store_strict(struct sinks *s, const struct sink_input *in, struct err *e)
{
	int ret = sink_store_put(s, in, e);

	if (ret >= 0)
		return 0;
	sinks_error(s, "report %llu is not in the store: %s", (unsigned long long)in->next->seq,
		    e->msg);
	return -EIO;
}

/* A report the store could not take into its backlog: its rows, made now
 * if they were made a block at a time.  0 or a negative errno. */
static int sink_store_keep(struct sinks *s, const struct sink_input *in)
{
	struct report r;
	int ret;

	if (in->rep)
		return backlog_push(&s->backlog, in->rep);
	ret = report_make(&r, &in->a->origin, in->a->names, in->done, in->next);
	ret = ret ? ret : backlog_push(&s->backlog, &r);
	report_free(&r); /* emptied by a push that took it */
	return ret;
}

/* A report printed: into the store (in one transaction with its seq and
 * time, so that a replay of it records nothing) and into the metrics'
 * totals.  If the store cannot take it, it waits in the backlog and goes
 * in, in order, as soon as the store works again; only a stop or an
 * overflow before that loses it from the store (an error event says so;
 * the JSON lines have it). */
static int sink_store_record(struct sinks *s, const struct sink_input *in, struct err *err)
{
	struct take_ctx t = { s, err };
	struct report *rep = in->rep;
	struct timespec t0;
	int ret;

	if (!s->store_on || (!rep && !in->blocks))
		return 0;
	if (!s->c.backlog)
		return sink_store_strict(s, in, err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = sink_store_ready(s, err);
	ret = ret ? ret : backlog_drain(&s->backlog, sink_store_take, &t);
	if (ret == 0)
		ret = sink_store_put(s, in, err);
	s->health.store_seconds = output_ms_since(&t0) / 1e3;
	if (ret == 0 && rep)
		sink_store_took(s, rep);
	else if (ret == 0)
		sink_store_took_blocks(s, in);
	if (ret < 0) {
		s->health.store_errors++;
		if (sink_store_keep(s, in) == 0) {
			sinks_error(s, "report %llu is not in the store yet (%s); it waits in "
				    "memory and is retried with the next report",
				    (unsigned long long)in->next->seq, err->msg);
			return 0;
		}
		sinks_error(s, "report %llu is not in the store: %s (%zu reports wait already)",
			    (unsigned long long)in->next->seq, err->msg, s->backlog.max);
		return 0;
	}
	if (store_rollup(s->store, in->next->time, err) < 0)
		sinks_error(s, "rollup: %s", err->msg);
	return 0;
}

static void sink_store_close(struct sinks *s)
{
	struct take_ctx t;
	struct err e = { "" };

	t = (struct take_ctx){ s, &e };
	if (backlog_drain(&s->backlog, sink_store_take, &t) < 0)
		for (size_t i = 0; i < s->backlog.n; i++)
			output_event(s->c.out, output_now(), "error", NULL,
				     "report %llu is not in the store: %s",
				     (unsigned long long)s->backlog.v[i].seq, e.msg);
	backlog_finish(&s->backlog);
	store_close(s->store);
	s->store = NULL;
	store_saved_free(&s->carry);
}

/* ---- PostgreSQL: the outbox now, the server in sinks_tick ---- */

static int sink_pg_open(struct sinks *s, struct err *e)
{
	char path[4096];
	int ret;

	if (!s->c.postgresql || !s->c.postgresql[0])
		return 0;
	snprintf(path, sizeof(path), "%s/pg-outbox.db", s->c.dir);
	ret = outbox_open(&s->outbox, path, e);
	if (ret < 0)
		return ret;
	s->pg = pg_create(s->c.postgresql);
	if (!s->pg)
		return err_setn(e, -errno, "postgresql: %s", errno == ENOTSUP ?
				"this nftally was built without libpq" : "out of memory");
	s->health.pg = true;
	return 0;
}

static int sink_pg_take(const struct report *rep, void *data)
{
	struct take_ctx *t = data;
	int ret = outbox_add(t->s->outbox, rep, t->e);

	return ret < 0 ? ret : 0;
}

/* A copy of rep into the outbox's backlog: rep itself goes on to the
 * store and the metrics.  0 or a negative errno. */
static int sink_pg_keep(struct sinks *s, const struct report *rep)
{
	struct report c = *rep;
	int ret;

	c.owned = false;
	c.v = malloc((rep->n ? rep->n : 1) * sizeof(*c.v));
	if (!c.v)
		return -ENOMEM;
	if (rep->n) /* a report without traffic may have no rows at all (v NULL) */
		memcpy(c.v, rep->v, rep->n * sizeof(*c.v));
	ret = backlog_push(&s->pg_backlog, &c);
	if (ret < 0)
		report_free(&c); /* labels still rep's: not owned, not freed */
	return ret;
}

/* Into the outbox, in its own transaction: a crash between the store's
 * and this one replays the pending report, which the outbox then takes
 * (or has already: it keeps each report once).  One the outbox cannot
 * take (a full disk) waits in memory, like the store's, and goes in
 * first at the next report; only a stop or an overflow before that loses
 * it from PostgreSQL (an error event says so). */
static int sink_pg_record(struct sinks *s, const struct sink_input *in, struct err *e)
{
	struct take_ctx t = { s, e };
	struct report *rep = in->rep;
	int ret;

	if (!s->outbox || !rep)
		return 0;
	ret = backlog_drain(&s->pg_backlog, sink_pg_take, &t);
	ret = ret ? ret : outbox_add(s->outbox, rep, e);
	if (ret >= 0)
		return 0;
	if (sink_pg_keep(s, rep) == 0)
		sinks_error(s, "report %llu is not in the PostgreSQL outbox yet (%s); it waits "
			    "in memory and is retried with the next report",
			    (unsigned long long)in->next->seq, e->msg);
	else
		sinks_error(s, "report %llu is not in the PostgreSQL outbox: %s",
			    (unsigned long long)in->next->seq, e->msg);
	return 0;
}

/* The last reports (the stop's own) go now if the server works: a few
 * batches at most, so that a stop is not held up by a long backlog. */
static void sink_pg_close(struct sinks *s)
{
	struct err e;

	struct take_ctx t = { s, &e };

	if (s->outbox && backlog_drain(&s->pg_backlog, sink_pg_take, &t) < 0)
		for (size_t i = 0; i < s->pg_backlog.n; i++)
			output_event(s->c.out, output_now(), "error", NULL,
				     "report %llu is not in the PostgreSQL outbox: %s",
				     (unsigned long long)s->pg_backlog.v[i].seq, e.msg);
	backlog_finish(&s->pg_backlog);
	for (int i = 0; i < 4 && s->pg && !s->pg_down; i++)
		if (pg_send(s->pg, s->outbox, &e) <= 0)
			break;
	pg_destroy(s->pg);
	s->pg = NULL;
	outbox_close(s->outbox);
	s->outbox = NULL;
}

static int64_t sinks_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The outbox's size and age into the health; an event when it passes
 * SINKS_PG_WARN reports (again once it fell back under it). */
static void sinks_pg_measure(struct sinks *s)
{
	uint64_t n = 0;
	int64_t oldest = 0;
	struct err e;

	if (outbox_size(s->outbox, &n, &oldest, &e) < 0)
		return;
	s->health.pg_outbox_reports = n;
	s->health.pg_outbox_age = oldest ? (double)(output_now() - oldest) : 0;
	if (n > SINKS_PG_WARN && !s->pg_warned)
		output_event(s->c.out, output_now(), "pg_backlog", NULL,
			     "%llu reports wait for PostgreSQL, the oldest since %.0f s",
			     (unsigned long long)n, s->health.pg_outbox_age);
	s->pg_warned = n > SINKS_PG_WARN;
}

int sinks_tick(struct sinks *s)
{
	int64_t now = sinks_ms();
	struct err e = { "" };
	int ret;

	if (!s || !s->pg)
		return -1;
	if (now < s->pg_retry_at)
		return (int)(s->pg_retry_at - now);
	ret = pg_send(s->pg, s->outbox, &e);
	if (ret < 0) {
		if (!s->pg_down)
			sinks_error(s, "%s; the reports wait in the outbox and are sent when "
				    "it works again", e.msg);
		s->pg_down = true;
		s->pg_delay = s->pg_delay ? s->pg_delay * 2 : 1000;
		if (s->pg_delay > SINKS_PG_RETRY_MAX)
			s->pg_delay = SINKS_PG_RETRY_MAX;
		s->pg_retry_at = sinks_ms() + s->pg_delay;
	} else {
		if (s->pg_down && ret > 0)
			output_event(s->c.out, output_now(), "pg_recovered", NULL,
				     "PostgreSQL takes reports again");
		if (ret > 0)
			s->pg_down = false;
		s->pg_delay = 0;
		s->pg_retry_at = 0;
	}
	sinks_pg_measure(s);
	if (ret < 0)
		return (int)s->pg_delay;
	return ret > 0 ? 0 : -1; /* more may wait: at once */
}

/* ---- the sinks in their order ---- */

static const struct sink_ops jsonl_sink = { "json lines", false, NULL, sink_jsonl_record, NULL };
static const struct sink_ops store_sink = { "store", true, sink_store_open, sink_store_record,
					    sink_store_close };
static const struct sink_ops pg_sink = { "postgresql", true, sink_pg_open, sink_pg_record,
				       sink_pg_close };
static const struct sink_ops metrics_sink = { "metrics", true, sink_metrics_open, sink_metrics_record,
					      sink_metrics_close };

/* Opened in this order (the metrics first: the store's open seeds them),
 * records in the order of sinks_record, closed in reverse. */
static const struct sink_ops *const sinks_open_order[] = { &jsonl_sink, &metrics_sink,
							   &store_sink, &pg_sink };
/* The JSON lines first: what is printed is reported; PostgreSQL's outbox
 * before the store, which may take the report itself into its backlog
 * (the outbox keeps a copy; the server is sent to in sinks_tick, never
 * here); the store before the metrics, which take what it took. */
static const struct sink_ops *const sinks_record_order[] = { &jsonl_sink, &pg_sink,
							     &store_sink, &metrics_sink };
#define NSINKS (sizeof(sinks_record_order) / sizeof(sinks_record_order[0]))

int sinks_open(struct sinks **out, const struct sinks_conf *c, struct err *e)
{
	struct sinks *s = calloc(1, sizeof(*s));
	int ret = 0;

	*out = NULL;
	if (!s)
		return err_setn(e, -ENOMEM, "out of memory");
	s->c = *c;
	s->store_on = c->store_path != NULL;
	s->health.events = &c->out->events;
	s->health.host = s->c.host;
	backlog_init(&s->backlog, c->backlog);
	backlog_init(&s->pg_backlog, c->backlog);
	for (size_t i = 0; i < NSINKS && ret == 0; i++)
		if (sinks_open_order[i]->open)
			ret = sinks_open_order[i]->open(s, e);
	if (ret < 0) {
		sinks_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void sinks_close(struct sinks *s)
{
	if (!s)
		return;
	for (size_t i = NSINKS; i-- > 0;)
		if (sinks_open_order[i]->close)
			sinks_open_order[i]->close(s);
	free(s);
}

/* Every sink records the report next (closing done), in order; a sink's
 * failure stops the others only when it must stop the commit. */
static int sinks_record(struct sinks *s, struct sinks_acct *a, const struct state *done,
			const struct state *next, struct err *e)
{
	struct report rep = { .seq = 0 };
	/* All the rows at once only for a sink that needs them so: the
	 * outbox, and the metrics without a store.  The store makes them a
	 * block at a time and hands the metrics what it took. */
	bool whole = s->outbox || (!s->store_on && s->metrics);
	struct sink_input in = { a, done, next, NULL, !whole };
	bool made = false;
	int ret = 0;

	s->health.reports++;
	for (size_t i = 0; i < NSINKS && ret == 0; i++) {
		const struct sink_ops *k = sinks_record_order[i];

		/* the rows, once, for the first sink that needs them */
		if (k->rows && !made && whole) {
			made = true;
			if (report_make(&rep, &a->origin, a->names, done, next) == 0)
				in.rep = &rep;
			else if (s->c.backlog)
				sinks_error(s, "report %llu: out of memory for the store and the "
					    "metrics", (unsigned long long)next->seq);
			else
				ret = err_setn(e, -ENOMEM, "store: out of memory");
		}
		if (ret == 0 && (!k->rows || in.rep || in.blocks))
			ret = k->record(s, &in, e);
	}
	if (ret < 0 && ret != -EIO)
		sinks_error(s, "report %llu is not in the store: %s",
			    (unsigned long long)next->seq, e->msg);
	report_free(&rep);
	return ret < 0 ? -EIO : 0;
}

int sinks_commit(struct sinks *s, struct sinks_acct *a, struct state *done, struct state *next,
		 struct err *e)
{
	int ret = statedir_save(next, a->names, s->c.dirfd, s->c.dir, a->pending, e);

	if (ret < 0)
		return ret;
	ret = sinks_record(s, a, done, next, e);
	if (ret < 0)
		return ret; /* the pending file replays it */
	/* Printed is reported, whether or not the rename works: if it does
	 * not, the pending file replays these very lines after a restart. */
	ret = statedir_rename(s->c.dirfd, s->c.dir, a->pending, a->state, e);
	state_finish(done);
	*done = *next;
	state_init(next);
	if (s->batch)
		s->unpublished = true;
	else
		sinks_publish(s);
	return ret;
}

int sinks_replay(struct sinks *s, struct sinks_acct *a, struct state *done, struct err *e)
{
	struct state p;
	struct err le;
	int ret, kept = 0;

	state_init(&p);
	ret = statedir_load(&p, a->names, s->c.dirfd, s->c.dir, a->pending, &le);
	if (ret == 0 && p.seq == done->seq + 1 && strcmp(p.table, done->table) == 0) {
		output_set_origin(s->c.out, &a->origin);
		output_event(s->c.out, (time_t)p.time, "replay", NULL,
			     "report %llu may not have been delivered before nftally "
			     "stopped; printing it again", (unsigned long long)p.seq);
		kept = sinks_record(s, a, done, &p, e);
		if (kept == 0 && statedir_rename(s->c.dirfd, s->c.dir, a->pending, a->state,
						 &le) == 0) {
			state_finish(done);
			*done = p;
			state_init(&p);
		}
	} else if (ret != -ENOENT) {
		unlinkat(s->c.dirfd, a->pending, 0); /* stale or incomplete */
	}
	state_finish(&p);
	return kept;
}

struct metrics_health *sinks_health(struct sinks *s)
{
	return &s->health;
}

void sinks_publish(struct sinks *s)
{
	struct metrics_src *src;
	char *buf = NULL;
	size_t len = 0, n = 0;
	struct err e;
	int ret;

	s->unpublished = false;
	if (!s->metrics)
		return;
	/* the last text goes before the new one is made: two would be held
	 * at once, 400 MB each at 1,000,000 addresses (a scrape under way
	 * keeps its own until it is sent) */
	if (s->c.publish)
		s->c.publish(NULL, 0, s->c.publish_data);
	for (const struct sinks_acct *a = s->accts; a; a = a->next)
		n++;
	src = calloc(n + 1, sizeof(*src));
	n = 0;
	for (const struct sinks_acct *a = s->accts; src && a; a = a->next)
		if (a->current)
			src[n++] = (struct metrics_src){ &a->origin, a->names, a->current };
	ret = src ? metrics_render(s->metrics, src, n, &s->health, &buf, &len) : -ENOMEM;
	free(src);
	if (ret < 0) {
		sinks_error(s, "metrics: out of memory");
		return;
	}
	if (s->c.prom_file && s->c.prom_file[0] &&
	    metrics_write_file(s->c.prom_file, buf, len, &e) < 0)
		sinks_error(s, "%s", e.msg);
	if (s->c.publish)
		s->c.publish(buf, len, s->c.publish_data); /* takes buf */
	else
		free(buf);
}

struct store *sinks_store(struct sinks *s)
{
	return s->store;
}
