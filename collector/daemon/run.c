// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally run`: apply, then at every interval boundary read all counters and
 * report the deltas since the previous report.  Every report goes through
 * the state directory (pending file, print, rename), so a restart after a
 * clean stop or a kill -9 continues exactly where the last report ended.
 * Signals, the interval and changes of the targets file all arrive as file
 * descriptors, so the loop is one poll. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "account.h"
#include "backlog.h"
#include "claim.h"
#include "http.h"
#include "interval.h"
#include "log.h"
#include "output.h"
#include "report.h"
#include "run.h"
#include "sinks.h"
#include "state.h"
#include "statedir.h"
#include "watch.h"

/* Reports that may wait in memory for the store. */
#define RUN_BACKLOG_MAX BACKLOG_MAX
/* How long a write waits for another writer's lock: a locked store must
 * not hold up reports, signals or /metrics; the report waits instead. */
#define RUN_STORE_BUSY_MS 50

struct run {
	struct account *a;    /* the table this run accounts */
	struct output *out;   /* the JSON lines */
	struct err *e;        /* the caller's: why the start failed */
	/* addresses of the reported state, for table_apply to look for */
	struct addr *known;
	size_t nknown;
	struct state done;    /* what has been reported, as persisted */
	/* Addresses that left the targets file in an incremental reload:
	 * their elements are gone, their counters stay until the next report
	 * has their last deltas (values: as reported in done). */
	struct state draining;
	bool *dgone; /* per draining entry and direction: counter to delete after
		      * the report run_add_draining read it for */
	bool journal; /* names.draining exists: draining has addresses done has not */
	const struct targets *leaving; /* during a reload: the targets before it */
	uint64_t handle;      /* kernel handle of our table */
	char boot[40];        /* this boot's id: the handle means nothing in another */
	struct statedir_names names; /* of our files in the state directory */
	char store_path[PATH_MAX]; /* "" with the store off */
	int sfd, tfd, ifd, dirfd, lockfd;
	int64_t tnext;          /* the wall-clock boundary tfd is armed for */
	int claimfd; /* the table's name in this network namespace (claim.h) */
	const char *watch_name; /* basename of the targets file, for inotify */
	struct sinks *sinks;    /* the JSON lines, the store, the metrics */
	struct http *http;
	/* nf_tables notifications: a deleted table is reinstalled at once
	 * (NULL: noticed at the next interval boundary only) */
	struct watch *watch;
	int quiet; /* depth of run_quiet: out of the group while > 0 */
};

/* ---- reports ---- */

#define run_error(r, ...) output_error((r)->out, true, __VA_ARGS__)

/* The listener serves what the metrics sink renders. */
static void run_serve(char *buf, size_t len, void *data)
{
	struct run *r = data;

	if (r->http)
		http_set_body(r->http, buf, len); /* takes buf */
	else
		free(buf);
}

/* Report: persist `next` as pending, print its lines, then make it the
 * reported state (sinks_commit).  A crash before the rename replays the
 * same lines on the next start (same time, same values); a crash before
 * the pending file is complete reports nothing twice. */
static int run_report(struct run *r, struct state *next)
{
	struct account *a = r->a;
	int ret;

	next->seq = r->done.seq + 1;
	next->handle = r->handle;
	memcpy(next->boot, r->boot, sizeof(next->boot));
	next->overhead = a->cfg.overhead;
	snprintf(next->table, sizeof(next->table), "%s", a->cfg.table);
	state_sort(next);
	ret = sinks_commit(r->sinks, &r->done, next, r->e);
	if (ret < 0) {
		run_error(r, "%s", r->e->msg);
		state_finish(next);
	}
	return ret;
}

/* The reported state changed without a report (baselines reset): persist. */
static int run_save_done(struct run *r)
{
	r->done.handle = r->handle;
	memcpy(r->done.boot, r->boot, sizeof(r->done.boot));
	return statedir_save(&r->done, r->a->names, r->dirfd, r->a->cfg.state_dir, r->names.state, r->e);
}

/* Addresses of the reported state, for table_apply to look for. */
static void run_known(struct run *r)
{
	struct addr *k = realloc(r->known, (r->done.n + r->draining.n + 1) * sizeof(*k));

	if (!k)
		return; /* r->known stays as it was: only a hint */
	r->known = k;
	r->nknown = r->done.n + r->draining.n;
	for (size_t i = 0; i < r->done.n; i++)
		k[i] = r->done.v[i].addr;
	for (size_t i = 0; i < r->draining.n; i++)
		k[r->done.n + i] = r->draining.v[i].addr;
}

/* ---- table identity ---- */

static void run_forget_draining(struct run *r)
{
	state_finish(&r->draining);
	state_init(&r->draining);
	free(r->dgone);
	r->dgone = NULL;
	if (r->journal && unlinkat(r->dirfd, r->names.draining, 0) == 0)
		r->journal = false;
}

/* Drop the waiting addresses i for which drop(r, i, ctx) holds, keeping
 * r->dgone in step.  The list file goes with the last of them (an entry
 * left in it whose counters are gone is only looked for in vain). */
static void run_draining_drop(struct run *r,
			      bool (*drop)(const struct run *r, size_t i, const void *ctx),
			      const void *ctx)
{
	size_t k = 0;

	for (size_t i = 0; i < r->draining.n; i++) {
		if (drop(r, i, ctx)) {
			free(r->draining.v[i].label);
			continue;
		}
		if (r->dgone) {
			r->dgone[2 * k] = r->dgone[2 * i];
			r->dgone[2 * k + 1] = r->dgone[2 * i + 1];
		}
		r->draining.v[k++] = r->draining.v[i];
	}
	r->draining.n = k;
	if (!k)
		run_forget_draining(r);
}

static bool run_is_target(const struct run *r, size_t i, const void *ctx)
{
	return targets_find(&r->a->tg, &r->draining.v[i].addr) != NULL;
}

/* An address that comes back while it drains keeps its counter (adding a
 * counter that exists keeps its values) and its reported values.  Called
 * whenever the targets change, so that no address is both. */
static void run_undrain(struct run *r)
{
	run_draining_drop(r, run_is_target, NULL);
}

/* The counter of e's direction dir (0 in, 1 out) is made again by nftally
 * (it knows: an event said so): its next values count from zero, whatever
 * its handle. */
static void run_zero_dir(struct state_entry *e, int dir)
{
	if (dir)
		e->c.out_bytes = e->c.out_packets = 0;
	else
		e->c.in_bytes = e->c.in_packets = 0;
	e->h[dir] = 0;
	e->last = false;
}

static void run_zero(struct state_entry *e)
{
	run_zero_dir(e, 0);
	run_zero_dir(e, 1);
}

/* Our table is new (flushed, or recreated while nftally was away): what
 * the old one counted since its values were last read is gone, and the
 * new counters count from zero.  The event names that window: from the
 * base time (the last report that read the table, or the previous
 * reinstall) to now, when the new table is there.  The base time moves to
 * now, so the next report's `since` and the next loss start where this
 * window ends: two quick deletions give adjacent windows, never
 * overlapping ones. */
static void run_table_new(struct run *r, uint64_t handle, const char *why)
{
	time_t since = (time_t)(r->done.base_time ? r->done.base_time : r->done.time);
	time_t until = output_now();
	char t0[32], t1[32], also[128] = "";

	if (r->draining.n)
		snprintf(also, sizeof(also), ", nor the last traffic of %zu removed addresses "
			 "waiting for their report (their counters went with the table)",
			 r->draining.n);
	output_event_lost(r->out, until, "table_missing", since, until,
			  "table %s %s; traffic from %s to %s could not be counted%s",
			  nl_table_desc(r->a->nl, r->a->cfg.table).s, why, output_time(since, t0),
			  output_time(until, t1), also);
	for (size_t i = 0; i < r->done.n; i++)
		run_zero(&r->done.v[i]);
	run_forget_draining(r); /* their counters went with the table */
	r->handle = handle;
	r->done.base_time = until;
	run_save_done(r);
	output_flush(r->out);
}

/* account_apply with what this run reported (o->known), its repairs as
 * events.  On failure the reason is in r->e: the loop says it on stderr
 * itself, the start leaves it to its caller. */
static int run_apply(struct run *r, struct table_apply_opts *o, struct table_result *res)
{
	o->known = r->known;
	o->nknown = r->nknown;
	return account_apply(r->a, o, r->out, res, r->e);
}

/* Reinstall a table someone deleted. */
static int run_reinstall(struct run *r)
{
	struct account *a = r->a;
	struct table_apply_opts o = { 0 };
	struct table_result res;

	if (run_apply(r, &o, &res) < 0) {
		log_msg(LOG_PRIO_ERR, "%s", r->e->msg);
		output_event(r->out, output_now(), "error", NULL, "reinstalling table %s: %s",
			     nl_table_desc(a->nl, a->cfg.table).s, r->e->msg);
		output_flush(r->out);
		return -1;
	}
	free(res.gone);
	run_table_new(r, res.handle, "was deleted outside nftally");
	output_event(r->out, output_now(), "table_reinstalled", NULL,
		     "table %s reinstalled with %zu addresses", nl_table_desc(a->nl, a->cfg.table).s, a->tg.n);
	output_flush(r->out);
	return 0;
}

/* Out of the notification group while we change the table ourselves
 * (nested: the outermost call counts), and back. */
static void run_quiet(struct run *r, bool on)
{
	int ret;

	if (!r->watch)
		return;
	if (on && r->quiet++ == 0)
		watch_pause(r->watch);
	else if (!on && --r->quiet == 0 && (ret = watch_resume(r->watch)) < 0) {
		log_msg(LOG_PRIO_WARNING, "cannot listen to nf_tables notifications again (%s); "
			"a deleted table is reinstalled at the next interval boundary",
			strerror(-ret));
		watch_destroy(r->watch);
		r->watch = NULL;
	}
}

/* A notification (or a pause, during which none came) says our table may
 * have changed: one GETTABLE tells.  Gone: reinstall now, not at the next
 * boundary.  Recreated by someone else: count the new one from zero. */
static void run_check_table(struct run *r)
{
	struct account *a = r->a;
	uint64_t h = 0;
	int ret = nl_table_exists(a->nl, a->cfg.table, &h);

	if (ret == 0) {
		run_quiet(r, true);
		run_reinstall(r);
		run_quiet(r, false);
	} else if (ret == 1 && h != 0 && h != r->handle) {
		run_table_new(r, h, "was recreated outside nftally");
	}
}

/* Address a in next as reported in done (from, if not NULL: values,
 * handles, whether it was a last report), not reported again; from zero if
 * it was not. */
static int run_carry(struct state *next, const struct addr *a, const char *label,
		     const struct state_entry *from)
{
	struct state_entry x = { .addr = *a };

	if (from) {
		x.c = from->c;
		x.h[0] = from->h[0];
		x.h[1] = from->h[1];
		x.last = from->last;
	}
	return state_add_entry(next, &x, label);
}

/* One entry per target in next: the value read (cur[i], from the counters
 * with handles h[2 * i] and h[2 * i + 1]; reported when rep) where there is
 * one, else the value already reported (not reported again). */
static int run_add_targets(struct run *r, struct state *next, const struct counts *cur,
			   const uint64_t *h, const bool *miss, bool rep)
{
	const struct targets *t = &r->a->tg;
	int ret = 0;

	for (size_t i = 0; i < t->n && ret == 0; i++) {
		const struct target *x = &t->v[i];

		if (cur && !(miss && miss[i])) {
			struct state_entry e = { .addr = x->addr, .c = cur[i], .rep = rep,
						 .h = { h[2 * i], h[2 * i + 1] } };

			ret = state_add_entry(next, &e, targets_label(t, x));
			continue;
		}
		ret = run_carry(next, &x->addr, targets_label(t, x), state_find(&r->done, &x->addr));
	}
	return ret;
}

static void run_reload(struct run *r, const char *why, bool full);

/* ---- ticks ---- */

static int run_read(struct run *r, struct counts *cur, uint64_t *h, bool *miss,
		    size_t *missing)
{
	struct account *a = r->a;
	uint64_t h1 = 0, h2 = 0;
	int ret;

	for (int tries = 0; tries < 3; tries++) {
		if (nl_table_exists(a->nl, a->cfg.table, &h1) == 0)
			return -ENOENT;
		ret = table_read(a->nl, a->cfg.table, &a->tg, cur, h, miss, missing, r->e);
		if (ret < 0)
			return ret;
		nl_table_exists(a->nl, a->cfg.table, &h2);
		if (h1 == h2)
			break; /* the values all come from one table */
	}
	if (h2 != r->handle && h2 != 0)
		run_table_new(r, h2, "was recreated outside nftally");
	return 0;
}

/* Counters of the targets marked in miss are gone: the ones the repair
 * creates count from zero, so their reported base is zero too (and their
 * handles unknown: the counter_missing event told already).  A direction
 * whose counter was read (h, its handle, not 0) keeps its reported value:
 * that counter stays and counts on. */
static void run_forget(struct run *r, const bool *miss, const uint64_t *h)
{
	const struct targets *t = &r->a->tg;

	for (size_t i = 0; i < t->n; i++) {
		struct state_entry *d;

		if (!miss[i])
			continue;
		d = (struct state_entry *)state_find(&r->done, &t->v[i].addr);
		for (int dir = 0; d && dir < 2; dir++)
			if (!h[2 * i + dir])
				run_zero_dir(d, dir);
	}
	run_save_done(r);
}

/* The last deltas of the addresses that left since the last report: read
 * now that they stopped counting.  A counter that is gone (someone deleted
 * it) has nothing more to say: its direction keeps its reported value, and
 * an address with both gone leaves the list.  A counter that cannot be
 * read now is tried again at the next report.  Sets r->dgone[2 * i + d]
 * for the counters to delete once the report is saved. */
static bool run_flagged(const struct run *r, size_t i, const void *ctx)
{
	return ((const bool *)ctx)[i];
}

static int run_add_draining(struct run *r, struct state *next)
{
	struct account *a = r->a;
	size_t n = r->draining.n;
	struct nl_counter *c = malloc(2 * n * sizeof(*c) + 1);
	bool *del = calloc(2 * n + 1, sizeof(*del)), *gone = calloc(n + 1, sizeof(*gone));
	int ret = c && del && gone ? 0 : -ENOMEM;

	if (ret == 0 && n)
		ret = table_read_counters_of(a->nl, a->cfg.table, &r->draining.v[0].addr,
					     sizeof(r->draining.v[0]), n, c, r->e);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct state_entry *w = &r->draining.v[i];
		const struct state_entry *d = state_find(&r->done, &w->addr);
		const struct nl_counter *in = &c[2 * i], *out = &c[2 * i + 1];
		struct state_entry v = *(d ? d : w);

		if (in->err == -ENOENT && out->err == -ENOENT) {
			gone[i] = true; /* nothing left to report or delete */
		} else if ((in->err && in->err != -ENOENT) || (out->err && out->err != -ENOENT)) {
			/* not now: stays at its reported values */
			ret = run_carry(next, &w->addr, w->label, &v);
		} else {
			if (!in->err) {
				v.c.in_bytes = in->bytes, v.c.in_packets = in->packets;
				v.h[0] = in->handle;
			}
			if (!out->err) {
				v.c.out_bytes = out->bytes, v.c.out_packets = out->packets;
				v.h[1] = out->handle;
			}
			del[2 * i] = !in->err;
			del[2 * i + 1] = !out->err;
			/* its counters go after this report: one of that name
			 * met later is one nftally made again */
			v.rep = v.last = true;
			ret = state_add_entry(next, &v, w->label);
		}
	}
	if (ret < 0) {
		if (ret == -ENOMEM)
			err_setn(r->e, ret, "out of memory");
		run_error(r, "reading the counters of removed addresses: %s", r->e->msg);
		goto out;
	}
	free(r->dgone);
	r->dgone = del;
	del = NULL;
	run_draining_drop(r, run_flagged, gone);
out:
	free(c);
	free(del);
	free(gone);
	return ret;
}

/* Their last deltas are reported: the counters go, and the addresses leave
 * the list.  If that fails they stay, and the next report carries them
 * again (with what they counted since, normally nothing). */
static bool run_deleted(const struct run *r, size_t i, const void *ctx)
{
	return r->dgone[2 * i] || r->dgone[2 * i + 1];
}

static void run_delete_draining(struct run *r)
{
	struct account *a = r->a;

	if (!r->draining.n || !r->dgone)
		return;
	if (table_delete_counters(a->nl, a->cfg.table, &r->draining.v[0].addr,
				  sizeof(r->draining.v[0]), r->draining.n, r->dgone, r->e) < 0) {
		run_error(r, "deleting the counters of removed addresses: %s", r->e->msg);
		/* they stay, and count on if their address comes back: no
		 * longer a last report to count from zero after */
		for (size_t i = 0; i < r->draining.n; i++) {
			struct state_entry *d = (struct state_entry *)state_find(
				&r->done, &r->draining.v[i].addr);

			if (d)
				d->last = false;
		}
		return;
	}
	run_draining_drop(r, run_deleted, NULL); /* drained */
	free(r->dgone);
	r->dgone = NULL;
}

static int run_tick(struct run *r)
{
	struct account *a = r->a;
	struct counts *cur = calloc(a->tg.n + 1, sizeof(*cur));
	uint64_t *h = calloc(2 * a->tg.n + 1, sizeof(*h));
	bool *miss = calloc(a->tg.n + 1, sizeof(*miss));
	struct state next;
	size_t missing = 0;
	time_t now;
	int ret = cur && h && miss ? 0 : -ENOMEM;

	struct timespec t0;

	state_init(&next);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ret == 0)
		ret = run_read(r, cur, h, miss, &missing);
	sinks_health(r->sinks)->read_seconds = output_ms_since(&t0) / 1e3;
	if (ret == -ENOENT || (ret == 0 && missing && table_owned(a->nl, a->cfg.table,
								   NULL, r->e) == 0)) {
		ret = run_reinstall(r);
		goto out;
	}
	if (ret < 0) {
		run_error(r, "%s", r->e->msg);
		goto out;
	}
	next.time = next.base_time = output_now();
	sinks_health(r->sinks)->last_read = (double)next.time;
	ret = run_add_targets(r, &next, cur, h, miss, true);
	now = next.time;
	if (ret == 0 && r->draining.n)
		ret = run_add_draining(r, &next);
	ret = ret ? ret : run_report(r, &next);
	if (ret == 0)
		run_delete_draining(r);
	if (missing) {
		output_event(r->out, now, "counter_missing", NULL,
			     "%zu addresses have no counter in table %s; what they "
			     "counted since the last report is lost; repairing the table",
			     missing, nl_table_desc(a->nl, a->cfg.table).s);
		run_forget(r, miss, h);
		run_reload(r, "repair", true);
	}
out:
	state_finish(&next);
	free(cur);
	free(h);
	free(miss);
	output_flush(r->out);
	return ret;
}

/* ---- topology changes ---- */

/* The addresses of a table_result's gone, sorted, for lookups in
 * O(log n): a full resync may find 100,000 addresses gone while as many
 * wait to drain. */
struct run_gone_set {
	struct addr *v;
	size_t n;
};

static int run_addr_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

static int run_gone_set_init(struct run_gone_set *g, const struct table_result *res)
{
	g->n = res->ngone;
	g->v = malloc((g->n + 1) * sizeof(*g->v));
	if (!g->v)
		return -ENOMEM;
	for (size_t i = 0; i < g->n; i++)
		g->v[i] = res->gone[i].addr;
	qsort(g->v, g->n, sizeof(*g->v), run_addr_cmp);
	return 0;
}

static bool run_gone_has(const struct run_gone_set *g, const struct addr *a)
{
	return bsearch(a, g->v, g->n, sizeof(*g->v), run_addr_cmp) != NULL;
}

static bool run_in_gone(const struct run *r, size_t i, const void *ctx)
{
	return run_gone_has(ctx, &r->draining.v[i].addr);
}

/* The final report of addresses that left, while their counters still
 * exist: it carries every target that stays at its reported value. */
static int run_drained(const struct table_result *res, void *data)
{
	struct run *r = data;
	struct run_gone_set gs;
	struct state next;
	int ret;

	if (run_gone_set_init(&gs, res) < 0)
		return -ENOMEM;
	state_init(&next);
	next.time = output_now();
	next.base_time = r->done.base_time; /* the staying addresses were not read */
	ret = run_add_targets(r, &next, NULL, NULL, NULL, false);
	for (size_t i = 0; i < res->ngone && ret == 0; i++) {
		const struct table_gone *g = &res->gone[i];
		const struct state_entry *d = state_find(&r->done, &g->addr);
		const struct target *t = r->leaving ? targets_find(r->leaving, &g->addr) : NULL;
		const struct state_entry *w = state_find(&r->draining, &g->addr);
		/* last: its counters are deleted after this report */
		struct state_entry x = { .addr = g->addr, .c = g->c, .h = { g->h[0], g->h[1] },
					 .rep = true, .last = true };

		ret = state_add_entry(&next, &x, d ? d->label : t ? targets_label(r->leaving, t) :
				      w ? w->label : "(unknown)");
	}
	/* Addresses still waiting for their last report stay in the state
	 * at their reported values: the next report's deltas start there. */
	for (size_t i = 0; i < r->draining.n && ret == 0; i++) {
		const struct state_entry *w = &r->draining.v[i];
		const struct state_entry *d = state_find(&r->done, &w->addr);

		if (!run_gone_has(&gs, &w->addr) && !targets_find(&r->a->tg, &w->addr))
			ret = run_carry(&next, &w->addr, w->label, d ? d : w);
	}
	if (ret < 0) {
		state_finish(&next);
		free(gs.v);
		return ret;
	}
	ret = run_report(r, &next);
	if (ret == 0) /* those among res->gone were drained by this report */
		run_draining_drop(r, run_in_gone, &gs);
	free(gs.v);
	return ret;
}

/* Addresses that left in an incremental reload: their last deltas wait for
 * the next report instead of a report of their own now (which would write
 * the whole state twice): their counters stay, not counting.  A restart
 * before that report must find the counters to drain them: by the saved
 * state for addresses a report had, and by names.draining (written here,
 * small) for those added since the last report.  If that cannot be
 * written, they are drained now. */
static int run_defer(const struct table_result *res, void *data)
{
	struct run *r = data;
	struct account *a = r->a;
	struct state next;
	bool unknown = false;
	struct err e;
	int ret = 0;

	state_init(&next);
	for (size_t i = 0; i < r->draining.n && ret == 0; i++)
		ret = run_carry(&next, &r->draining.v[i].addr, r->draining.v[i].label,
				&r->draining.v[i]);
	for (size_t i = 0; i < res->ngone && ret == 0; i++) {
		const struct addr *g = &res->gone[i].addr;
		const struct state_entry *d = state_find(&r->done, g);
		const struct target *t = r->leaving ? targets_find(r->leaving, g) : NULL;

		if (state_find(&r->draining, g))
			continue; /* waiting already (a reload that had to list the table) */
		unknown |= !d;
		/* never reported: from zero, the counter's creation */
		ret = run_carry(&next, g, d ? d->label : t ? targets_label(r->leaving, t) :
				"(unknown)", d);
	}
	state_sort(&next);
	if (ret == 0 && unknown) {
		snprintf(next.table, sizeof(next.table), "%s", a->cfg.table);
		ret = statedir_save(&next, a->names, r->dirfd, a->cfg.state_dir, r->names.draining, &e);
		if (ret == 0)
			r->journal = true;
		else
			log_msg(LOG_PRIO_WARNING, "%s; the removed addresses are drained now", e.msg);
	}
	if (ret < 0) {
		state_finish(&next);
		return 0;
	}
	state_finish(&r->draining);
	r->draining = next;
	return 1;
}


/* Re-read the targets: a bad file changes nothing; a good one is applied
 * and every address that stays keeps counting.  A file change applies the
 * difference to what this run installed; a full reload (SIGHUP, repair)
 * compares with the kernel's table and rebuilds the skeleton, so it also
 * mends what someone changed by hand. */
static void run_reload(struct run *r, const char *why, bool full)
{
	struct account *a = r->a;
	struct targets nt, old = a->tg;
	struct table_result res;
	time_t now = output_now();
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (account_load_targets(a, &nt, r->e) < 0) {
		output_event(r->out, now, "targets_rejected", NULL, "%s", r->e->msg);
		log_msg(LOG_PRIO_WARNING, "%s; the running table stays as it was", r->e->msg);
		goto out;
	}
	a->tg = nt;
	run_known(r);
	/* old is what this run installed in the table it knows; a full
	 * resync looks at the kernel's table instead, and drains at once */
	struct table_apply_opts o = { .prev = &old, .prev_handle = r->handle,
				      .drained = run_drained, .defer = run_defer, .data = r,
				      .full = full };

	r->leaving = &old;
	ret = run_apply(r, &o, &res);
	r->leaving = NULL;
	if (ret < 0) {
		log_msg(LOG_PRIO_ERR, "%s", r->e->msg);
		output_event(r->out, now, "targets_rejected", NULL, "%s", r->e->msg);
		nt = a->tg;
		a->tg = old;
		run_undrain(r); /* deferred before the failure, still targets */
		goto out;
	}
	run_undrain(r);
	output_event(r->out, now, "reloaded", NULL,
		     "%s (%s): %zu addresses (%zu new, %zu removed) in %.1f ms",
		     a->targets_name, why, nt.n, res.added, res.ngone, output_ms_since(&t0));
	/* Someone deleted or replaced the table just before: this apply made
	 * or found a new one, whose counters count from zero. */
	if (r->handle && res.handle && res.handle != r->handle) {
		run_table_new(r, res.handle, res.created ? "was deleted outside nftally" :
			      "was recreated outside nftally");
		if (res.created)
			output_event(r->out, output_now(), "table_reinstalled", NULL,
				     "table %s reinstalled with %zu addresses",
				     nl_table_desc(a->nl, a->cfg.table).s, a->tg.n);
	}
	free(res.gone);
	nt = old; /* what is left to free */
out:
	targets_finish(&nt);
	output_flush(r->out);
}

/* ---- start and loop ---- */

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

/* Arm the timer for the boundary next (whole multiples of the interval in
 * wall-clock time, so a 60 s interval ends on whole minutes).  With
 * CANCEL_ON_SET a step of the clock wakes us (ECANCELED) rather than
 * leaving the timer on the old clock's boundary: an hour away after a step
 * back by an hour. */
static int run_arm(struct run *r, int64_t next)
{
	struct itimerspec its = { .it_value = { .tv_sec = next },
				  .it_interval = { .tv_sec = r->a->cfg.interval } };

	r->tnext = next;
	if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* The timer woke: re-armed for the next boundary of the clock as it is
 * now; 1 if a report is due (see interval_wake). */
static int run_timer(struct run *r)
{
	uint64_t ticks;
	ssize_t n = read(r->tfd, &ticks, sizeof(ticks));
	struct timespec now;
	int64_t next;
	bool due;
	int ret;

	if (n < 0 && errno != ECANCELED)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	due = interval_wake(now.tv_sec, r->tnext, n > 0, r->a->cfg.interval, &next);
	ret = run_arm(r, next);
	if (ret < 0)
		run_error(r, "timer: %s", strerror(-ret));
	return due;
}

static void run_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int run_block_signals(void)
{
	sigset_t set;

	run_signal_set(&set);
	return sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -errno : 0;
}

static int run_setup_fds(struct run *r, unsigned interval)
{
	struct timespec now;
	sigset_t set;

	/* blocked since main() knew the command (run_block_signals): what
	 * came during the start waits here */
	run_signal_set(&set);
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	r->tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (r->sfd < 0 || r->tfd < 0)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &now);
	return run_arm(r, interval_next(now.tv_sec, interval));
}

/* Watch the directory of the targets file: editors and config management
 * replace files by renaming, which a watch on the file itself would miss. */
static void run_watch(struct run *r)
{
	struct account *a = r->a;
	char dir[PATH_MAX];
	const char *slash;

	if (!a->cfg.targets_explicit && strcmp(a->targets_name, a->cfg.targets) != 0)
		return; /* host addresses: no file */
	slash = strrchr(a->cfg.targets, '/');
	r->watch_name = slash ? slash + 1 : a->cfg.targets;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - a->cfg.targets) : 1,
		 slash ? a->cfg.targets : ".");
	if (slash == a->cfg.targets)
		strcpy(dir, "/");
	r->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (r->ifd >= 0 && inotify_add_watch(r->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
					     IN_CREATE | IN_DELETE | IN_MOVED_FROM) < 0) {
		log_msg(LOG_PRIO_WARNING, "cannot watch %s (%s); reload with SIGHUP", dir,
			strerror(errno));
		close(r->ifd);
		r->ifd = -1;
	}
}

/* Did the inotify events name our file?  Drains the queue. */
static bool run_watch_hit(struct run *r)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(r->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, r->watch_name) == 0)
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

/* A file being written arrives as several events: wait until it is quiet. */
static void run_settle(struct run *r)
{
	struct pollfd p = { .fd = r->ifd, .events = POLLIN };

	while (poll(&p, 1, 200) > 0)
		run_watch_hit(r);
}

/* One signal: 1 to stop, 0 to go on. */
static int run_signal(struct run *r)
{
	struct signalfd_siginfo si;

	if (read(r->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		run_reload(r, "SIGHUP", true);
		return 0;
	}
	return 1;
}

/* Subscribe to nf_tables' notifications, then look once: the table may
 * have gone between the start's apply and the subscription.  Without
 * them (an error is unlikely: the group exists since Linux 3.13), a
 * deleted table is noticed at the next interval boundary. */
static void run_watch_table(struct run *r)
{
	r->watch = watch_create(nl_family_name(r->a->nl), r->a->cfg.table);
	if (!r->watch)
		log_msg(LOG_PRIO_WARNING, "cannot listen to nf_tables notifications (%s); a deleted "
			"table is reinstalled at the next interval boundary", strerror(errno));
	else
		run_check_table(r);
}

/* The notifications waiting: 1 if the table must be looked at. */
static bool run_watch_wake(struct run *r, struct pollfd *p)
{
	int ret = watch_drain(r->watch);

	if (ret >= 0)
		return ret > 0;
	log_msg(LOG_PRIO_WARNING, "nf_tables notifications failed (%s); a deleted table is "
		"reinstalled at the next interval boundary", strerror(-ret));
	watch_destroy(r->watch);
	r->watch = NULL;
	r->quiet = 0;
	p->fd = -1;
	return true;
}

static int run_loop(struct run *r)
{
	struct pollfd p[6] = { { .fd = r->sfd, .events = POLLIN },
			       { .fd = r->tfd, .events = POLLIN },
			       { .fd = r->ifd, .events = POLLIN },
			       { .fd = r->http ? http_fd(r->http) : -1, .events = POLLIN },
			       { .fd = r->watch ? watch_fd(r->watch) : -1, .events = POLLIN },
			       { .fd = r->claimfd, .events = POLLIN } };

	for (;;) {
		bool check;

		p[4].fd = r->watch ? watch_fd(r->watch) : -1; /* it may have failed */
		if (r->http)
			http_run(r->http);
		if (poll(p, 6, r->http ? http_timeout_ms(r->http) : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		check = r->watch && (p[4].revents & (POLLIN | POLLERR)) && run_watch_wake(r, &p[4]);
		if (p[5].revents & POLLIN)
			claim_drain(r->claimfd); /* someone looked who holds the table */
		if (!check && !((p[0].revents | p[1].revents | p[2].revents) & POLLIN))
			continue; /* HTTP or claim only */
		/* Our own changes below are not notified to us; what others
		 * did meanwhile is looked for once, after. */
		run_quiet(r, true);
		if (check)
			run_check_table(r);
		if ((p[0].revents & POLLIN) && run_signal(r)) {
			run_tick(r); /* the last deltas before exiting */
			return 0;
		}
		if ((p[1].revents & POLLIN) && run_timer(r))
			run_tick(r);
		if (r->ifd >= 0 && (p[2].revents & POLLIN) && run_watch_hit(r)) {
			run_settle(r);
			run_reload(r, "file changed", false);
		}
		run_quiet(r, false);
		if (r->watch)
			run_check_table(r);
	}
}

/* A report printed but not yet marked as done when nftally stopped: print
 * the same lines again (same time, same values) and mark it done. */
static void run_replay(struct run *r)
{
	sinks_replay(r->sinks, &r->done, r->e); /* a failed write waits in memory */
}

/* Load what was reported before; a damaged file is kept aside and counting
 * starts from the current values (nothing reported twice). */
static int run_load_state(struct run *r, bool *damaged)
{
	struct account *a = r->a;
	char aside[80];
	int ret = statedir_load(&r->done, a->names, r->dirfd, a->cfg.state_dir, r->names.state, r->e);

	*damaged = false;
	if (ret == -ENOENT) {
		r->done.time = output_now();
		return 0;
	}
	if (ret == -EINVAL) {
		snprintf(aside, sizeof(aside), "%s.damaged", r->names.state);
		output_event(r->out, output_now(), "state_damaged", NULL,
			     "%s; kept as %s/%s; traffic since the last report before it "
			     "is not reported", r->e->msg, a->cfg.state_dir, aside);
		renameat(r->dirfd, r->names.state, r->dirfd, aside);
		state_init(&r->done);
		*damaged = true;
		return 0;
	}
	if (ret == 0 && strcmp(r->done.table, a->cfg.table) != 0)
		return err_setn(r->e, -EINVAL, "%s/%s belongs to table %s", a->cfg.state_dir,
				r->names.state, r->done.table);
	return ret;
}

/* Addresses a run deferred the drain of and never reported (it stopped
 * before its next report): their counters are looked for by name too.  A
 * damaged list is only a hint lost (the counters stay, not counting). */
static void run_load_draining(struct run *r, bool damaged)
{
	struct account *a = r->a;
	struct err e;
	int ret = statedir_load(&r->draining, a->names, r->dirfd, a->cfg.state_dir, r->names.draining, &e);

	if (ret == -ENOENT)
		return;
	r->journal = true;
	if (ret < 0 || strcmp(r->draining.table, a->cfg.table) != 0) {
		log_msg(LOG_PRIO_WARNING, "%s: ignored (%s)", r->names.draining,
			ret < 0 ? e.msg : "another table's");
		run_forget_draining(r);
		return;
	}
	run_undrain(r); /* targets again: they count on, from their counters */
	/* Without a trusted state their values in the list are what was
	 * reported: the drain counts from there, not from zero. */
	for (size_t i = 0; damaged && i < r->draining.n; i++)
		if (run_carry(&r->done, &r->draining.v[i].addr, r->draining.v[i].label,
			      &r->draining.v[i]) < 0)
			break;
	state_sort(&r->done);
}

/* A damaged state: take the current values as reported. */
static int run_baseline_now(struct run *r)
{
	struct account *a = r->a;
	struct counts *cur = calloc(a->tg.n + 1, sizeof(*cur));
	uint64_t *h = calloc(2 * a->tg.n + 1, sizeof(*h));
	size_t missing;
	int ret = cur && h ? 0 : -ENOMEM;

	if (ret == 0)
		ret = table_read(a->nl, a->cfg.table, &a->tg, cur, h, NULL, &missing, r->e);
	if (ret == 0)
		ret = run_add_targets(r, &r->done, cur, h, NULL, false);
	free(cur);
	free(h);
	state_sort(&r->done);
	r->done.time = r->done.base_time = output_now();
	return ret;
}

/* The store (NULL if it cannot be opened now), the metrics seeded with its
 * totals (so they continue across restarts), and the listener.  Only
 * what a person must fix stops the start: a database of another table or
 * version, or a path that cannot be opened or written.  A full disk, a
 * lock or an I/O error only delays the store: the reports wait in memory
 * and the next one opens it again. */
static int run_open_outputs(struct run *r)
{
	struct account *a = r->a;
	struct sinks_conf c = {
		.out = r->out, .names = a->names, .dirfd = r->dirfd, .dir = a->cfg.state_dir,
		.pending = r->names.pending, .state = r->names.state,
		.store_path = account_store_path(&a->cfg, r->store_path, sizeof(r->store_path)),
		.store_create = true,
		.keep = { a->cfg.keep_intervals, a->cfg.keep_hours, a->cfg.keep_days,
			  RUN_STORE_BUSY_MS },
		.backlog = RUN_BACKLOG_MAX,
		.metrics = a->cfg.prom_file[0] || a->cfg.listen[0],
		.prom_file = a->cfg.prom_file,
		.publish = run_serve, .publish_data = r,
	};
	int ret;

	sinks_origin_here(&c.origin, a->cfg.table);
	ret = sinks_open(&r->sinks, &c, r->e);
	if (ret < 0)
		return ret;
	if (a->cfg.listen[0]) {
		ret = http_start(&r->http, a->cfg.listen, r->e);
		if (ret < 0)
			return ret == -EINVAL || ret == -ENOTSUP ? -EINVAL : ret;
	}
	return 0;
}

static int run_start(struct run *r)
{
	struct account *a = r->a;
	struct table_result res;
	bool damaged;
	int ret;

	statedir_names_init(&r->names, a->cfg.table);
	statedir_boot_id(r->boot, sizeof(r->boot));
	r->dirfd = statedir_open(a->cfg.state_dir, r->e);
	if (r->dirfd < 0)
		return r->dirfd;
	char id[PATH_MAX];

	r->lockfd = statedir_lock(r->dirfd, a->cfg.state_dir, a->cfg.table,
			       account_targets_id(a, id, sizeof(id)), r->e);
	if (r->lockfd < 0)
		return r->lockfd;
	/* the lock first: whoever sees the claim finds the lock file open */
	ret = claim_take(nl_family_name(a->nl), a->cfg.table, &r->claimfd, r->e);
	if (ret < 0)
		return ret;
	if (r->claimfd < 0) {
		log_msg(LOG_PRIO_WARNING, "%s", r->e->msg);
		r->e->msg[0] = 0; /* said; not the text of a later failure */
	}
	ret = run_load_state(r, &damaged);
	if (ret < 0)
		return ret;
	ret = run_open_outputs(r);
	if (ret < 0)
		return ret;
	snprintf(r->done.table, sizeof(r->done.table), "%s", a->cfg.table);
	r->handle = r->done.handle;
	if (damaged)
		unlinkat(r->dirfd, r->names.pending, 0); /* nothing to replay it against */
	else
		run_replay(r);
	run_load_draining(r, damaged);
	run_known(r);
	struct table_apply_opts o = { .drained = run_drained, .data = r };

	ret = run_apply(r, &o, &res);
	if (ret < 0)
		return ret;
	free(res.gone);
	if (damaged)
		ret = run_baseline_now(r);
	/* Handles start again in every boot and every new network namespace:
	 * a table this apply had to create, or one of another boot, is new
	 * whatever its handle (the same number as the state's is likely). */
	if (ret == 0 && !damaged && (r->done.handle || r->done.n) &&
	    (res.created || state_of_other_table(&r->done, res.handle, r->boot)))
		run_table_new(r, res.handle, res.created ? "was gone while nftally was not running"
				: "was recreated while nftally was not running");
	r->handle = res.handle;
	return ret ? ret : run_save_done(r);
}

int run_account(struct account *a, struct output *out, struct err *e)
{
	struct run r = { .a = a, .out = out, .e = e, .sfd = -1, .tfd = -1, .ifd = -1, .dirfd = -1, .lockfd = -1,
			 .claimfd = -1 };
	int ret;

	state_init(&r.done);
	state_init(&r.draining);
	ret = run_start(&r);
	if (ret == 0)
		ret = run_setup_fds(&r, a->cfg.interval);
	if (ret == 0) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		sinks_health(r.sinks)->start_time = (double)now.tv_sec +
						    (double)now.tv_nsec / 1e9;
		sinks_publish(r.sinks, &r.done);
		run_watch(&r);
		run_watch_table(&r);
		output_event(r.out, output_now(), "start", NULL,
			     "accounting %zu addresses from %s in table %s every %u s",
			     a->tg.n, a->targets_name, nl_table_desc(a->nl, a->cfg.table).s, a->cfg.interval);
		output_flush(r.out);
		ret = run_loop(&r);
	}
	/* Reports still waiting for the store go in (sinks_close tries the
	 * backlog a last time) before the lock and the claim are let go: a
	 * run started next must not write beside us. */
	sinks_close(r.sinks);
	const int fds[] = { r.sfd, r.tfd, r.ifd, r.dirfd, r.lockfd, r.claimfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	state_finish(&r.done);
	state_finish(&r.draining);
	free(r.dgone);
	watch_destroy(r.watch);
	http_stop(r.http);
	free(r.known);
	if (ret < 0 && !e->msg[0])
		err_setn(e, ret, "%s", strerror(-ret));
	return ret < 0 ? ret : 0;
}
