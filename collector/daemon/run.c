// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally run`: one daemon for every account of the config.  An account
 * is one table in one network namespace; an account whose `netns` is a
 * glob has one instance (a struct run) per namespace in /run/netns that
 * matches, made and let go as namespaces come and go.  At every interval
 * boundary every instance reads its counters and reports the deltas since
 * its previous report.  Every report goes through the state directory
 * (pending file, print, rename), so a restart after a clean stop or a
 * kill -9 continues exactly where the last report ended.  Signals, the
 * interval, changes of targets files, addresses and routes, and
 * namespaces all arrive as file descriptors, so the loop is one poll. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "account.h"
#include "backlog.h"
#include "billing.h"
#include "claim.h"
#include "discover.h"
#include "http.h"
#include "interval.h"
#include "log.h"
#include "netns.h"
#include "output.h"
#include "quotad.h"
#include "qusage.h"
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
/* A namespace whose name appeared is tried this often until its bind
 * mount is there (`ip netns add` creates the file, then mounts on it),
 * for at most RUN_NETNS_WAIT_MS. */
#define RUN_NETNS_RETRY_MS 10
#define RUN_NETNS_WAIT_MS 3000
/* Enforcement sets of one table: 4, and 2 per throttle rate */
#define RUN_ENFORCE_SETS 64

struct run;

/* What every account shares: the config, the JSON lines, the state
 * directory, the sinks, the timer, the signals, the listener, and the
 * namespaces' directory. */
struct daemon {
	const struct config_set *cs;
	const char *only;      /* --account: the one account to run, or NULL */
	struct output *out;
	struct err *e;         /* the caller's: why the start failed */
	char boot[40];         /* this boot's id: handles mean nothing in another */
	char host[256];
	struct report_origin origin; /* of its own lines: the host only */
	int dirfd;             /* the state directory */
	int selffd;            /* the network namespace nftally started in */
	char selfid[48];       /* its identity (netns_id_format) */
	int sfd, tfd;
	int64_t tnext;         /* the wall-clock boundary tfd is armed for */
	unsigned interval;
	char store_path[PATH_MAX];
	struct sinks *sinks;   /* the JSON lines, the store, the metrics */
	struct http *http;
	struct netns_dir *nsdir; /* NULL: no account follows namespaces */
	struct run **v;        /* the instances */
	size_t n;
	struct quotad *qd;     /* the quotas (NULL: none) */
	struct qusage *qu;     /* their labels' usage, kept from the store's reports */
	struct billing billing; /* their cycles (config cycle_day, timezone, cycles) */
	/* namespaces named but not mounted yet, tried again until a deadline */
	struct run_wait {
		char name[256];
		struct timespec until;
	} *wait;
	size_t nwait;
	bool stopping;
};

/* One account in one namespace. */
struct run {
	struct daemon *d;
	struct account *a;    /* the table this instance accounts (owned) */
	struct addr_names names; /* its class names (a->names) */
	struct output *out;   /* d->out */
	struct err *e;        /* its own: what failed, for the event */
	struct err ebuf;
	int nsfd;             /* its namespace (-1: the daemon's own) */
	char nsid[48];        /* the namespace's identity (netns_id_format) */
	struct sinks_acct sa; /* its side of the report path */
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
	/* The ruleset generation right after our last apply of a->tg (0:
	 * unknown, or something of ours changed since that the targets do not
	 * say): while it has not moved, a full resync has nothing to mend. */
	uint32_t genid;
	struct statedir_names names_f; /* of our files in the state directory */
	int ifd, lockfd;
	int claimfd; /* the table's name in its network namespace (claim.h) */
	const char *watch_name; /* basename of the targets file, for inotify */
	const char *labels_name; /* and of the labels file */
	/* nf_tables notifications: a deleted table is reinstalled at once
	 * (NULL: noticed at the next interval boundary only) */
	struct watch *watch;
	int quiet; /* depth of run_quiet: out of the group while > 0 */
	struct disc *disc; /* its interfaces' addresses and routes (NULL: none) */
};

/* ---- reports ---- */

#define run_error(r, ...) output_error((r)->out, true, __VA_ARGS__)

/* The listener serves what the metrics sink renders. */
static void run_serve(char *buf, size_t len, void *data)
{
	struct daemon *d = data;

	if (d->http)
		http_set_body(d->http, buf, len); /* takes buf */
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
	memcpy(next->boot, r->d->boot, sizeof(next->boot));
	memcpy(next->netns, r->nsid, sizeof(next->netns));
	next->overhead = a->cfg.overhead;
	snprintf(next->table, sizeof(next->table), "%s", a->cfg.table);
	state_sort(next);
	ret = sinks_commit(r->d->sinks, &r->sa, &r->done, next, r->e);
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
	memcpy(r->done.boot, r->d->boot, sizeof(r->done.boot));
	memcpy(r->done.netns, r->nsid, sizeof(r->done.netns));
	return statedir_save(&r->done, r->a->names, r->d->dirfd, r->a->cfg.state_dir, r->names_f.state, r->e);
}

/* Addresses of the reported state that are no target, for table_apply to
 * look for (NULL: out of memory; they are only a hint): the targets'
 * counters are looked for anyway.  Made for each apply and not kept; all
 * of them were 19 MB at 1,000,000 addresses beside a refill. */
static struct addr *run_known(const struct run *r, size_t *n)
{
	const struct targets *t = &r->a->tg;
	size_t cap = 0, at = 0, atd = 0;
	struct addr *k;

	*n = 0;
	for (size_t i = 0; i < r->done.n; i++)
		cap += !targets_has(t, &r->done.v[i].addr, &at);
	for (size_t i = 0; i < r->draining.n; i++)
		cap += !targets_has(t, &r->draining.v[i].addr, &atd);
	k = malloc((cap + 1) * sizeof(*k));
	if (!k)
		return NULL;
	at = atd = 0;
	for (size_t i = 0; i < r->done.n; i++)
		if (!targets_has(t, &r->done.v[i].addr, &at))
			k[(*n)++] = r->done.v[i].addr;
	for (size_t i = 0; i < r->draining.n; i++)
		if (!targets_has(t, &r->draining.v[i].addr, &atd))
			k[(*n)++] = r->draining.v[i].addr;
	return k;
}

/* ---- table identity ---- */

static void run_forget_draining(struct run *r)
{
	state_finish(&r->draining);
	state_init(&r->draining);
	free(r->dgone);
	r->dgone = NULL;
	if (r->journal && unlinkat(r->d->dirfd, r->names_f.draining, 0) == 0)
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
		if (drop(r, i, ctx))
			continue; /* its label is the state's text, freed with it */
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
 * overlapping ones.  A table someone else made while nftally was not
 * running was made at a moment nothing tells: the window ends at the
 * latest now, its counters hold what they counted since, and the next
 * report has no `since` (its values count from the table's creation). */
static void run_table_new_at(struct run *r, uint64_t handle, const char *why, bool now)
{
	time_t since = (time_t)(r->done.base_time ? r->done.base_time : r->done.time);
	time_t until = output_now();
	char t0[32], t1[32], also[128] = "";

	if (r->draining.n)
		snprintf(also, sizeof(also), ", nor the last traffic of %zu removed addresses "
			 "waiting for their report (their counters went with the table)",
			 r->draining.n);
	output_event_lost(r->out, until, "table_missing", since, until,
			  "table %s %s; traffic from %s to %s%s%s could not be counted%s",
			  nl_table_desc(r->a->nl, r->a->cfg.table).s, why, output_time(since, t0),
			  now ? "" : "the new table's creation (at the latest ", output_time(until, t1),
			  now ? "" : ")", also);
	for (size_t i = 0; i < r->done.n; i++)
		run_zero(&r->done.v[i]);
	run_forget_draining(r); /* their counters went with the table */
	r->handle = handle;
	r->done.base_time = now ? until : 0;
	run_save_done(r);
	output_flush(r->out);
}

static void run_table_new(struct run *r, uint64_t handle, const char *why)
{
	run_table_new_at(r, handle, why, true);
}

/* account_apply with what this run reported (o->known), its repairs as
 * events.  On failure the reason is in r->e: the loop says it on stderr
 * itself, the start leaves it to its caller. */
static int run_apply(struct run *r, struct table_apply_opts *o, struct table_result *res)
{
	struct addr *known = run_known(r, &o->nknown);
	int ret;

	o->known = known;
	ret = account_apply(r->a, o, r->out, res, r->e);
	o->known = NULL;
	o->nknown = 0;
	free(known);
	return ret;
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
	r->genid = res.genid;
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

/* x (its address and label kept) as reported in done (from, if not
 * NULL: values, handles, whether it was a last report), not reported
 * again; from zero if it was not. */
static void run_carried(struct state_entry *x, const struct state_entry *from)
{
	x->c = from ? from->c : (struct counts){ 0 };
	x->h[0] = from ? from->h[0] : 0;
	x->h[1] = from ? from->h[1] : 0;
	x->last = from && from->last;
	x->rep = false;
}

/* Address a into next as run_carried makes it. */
static int run_carry(struct state *next, const struct addr *a, const char *label,
		     const struct state_entry *from)
{
	struct state_entry x = { .addr = *a };

	run_carried(&x, from);
	return state_add_entry(next, &x, label);
}

/* One entry per target in next, at the value already reported (not
 * reported again). */
static int run_add_targets(struct run *r, struct state *next)
{
	const struct targets *t = &r->a->tg;
	int ret = 0;

	for (size_t i = 0; i < t->n && ret == 0; i++) {
		const struct target *x = &t->v[i];

		ret = run_carry(next, &x->addr, targets_label(t, x), state_find(&r->done, &x->addr));
	}
	return ret;
}

/* The entry x (in a state being made) of a target whose counters could not
 * be read: at its reported value, not reported again, as run_carry makes
 * it. */
static void run_unread(const struct run *r, struct state_entry *x)
{
	run_carried(x, state_find(&r->done, &x->addr));
}

static void run_reload(struct run *r, const char *why, bool full);

/* ---- ticks ---- */

/* The targets whose counters were missing at a read: their indexes, and
 * the handles of the directions that were there (0: missing too). */
struct run_missing {
	struct run_miss {
		size_t i;
		uint64_t h[2];
	} *v;
	size_t n, cap;
};

static int run_missing_add(struct run_missing *m, size_t i, const uint64_t *h)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		void *v = reallocarray(m->v, cap, sizeof(*m->v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct run_miss){ i, { h[0], h[1] } };
	return 0;
}

/* One entry per target appended to next, in the targets' order, with the
 * values and handles read now (rep: to be reported), TABLE_READ_BLOCK
 * targets at a time: the values of 1,000,000 addresses (49 MB with their
 * handles) are never held beside that state.  A counter that
 * cannot be read reads as zero with handle 0, and its target goes into m
 * (if not NULL).  0 or a negative errno with r->e set. */
static int run_read_into(struct run *r, struct state *next, bool rep, struct run_missing *m)
{
	struct account *a = r->a;
	const struct targets *t = &a->tg;
	size_t block = t->n < TABLE_READ_BLOCK ? t->n : TABLE_READ_BLOCK;
	struct nl_counter *c = malloc(2 * block * sizeof(*c) + 1);
	int ret = c ? 0 : -ENOMEM;

	for (size_t at = 0; at < t->n && ret == 0; at += block) {
		size_t k = t->n - at < block ? t->n - at : block;

		ret = table_read_counters_of(a->nl, a->cfg.table, &t->v[at].addr, sizeof(*t->v),
					     k, c, r->e);
		if (ret < 0)
			break;
		for (size_t j = 0; j < k && ret == 0; j++) {
			const struct target *x = &t->v[at + j];
			struct state_entry e = { .addr = x->addr, .rep = rep };

			if (table_counter_pair(&c[2 * j], &e.c, e.h) && m)
				ret = run_missing_add(m, at + j, e.h);
			if (ret == 0)
				ret = state_add_entry(next, &e, targets_label(t, x));
		}
		if (ret < 0)
			err_setn(r->e, ret, "out of memory");
	}
	if (!c)
		err_setn(r->e, ret, "out of memory");
	free(c);
	return ret;
}

/* next made afresh from the counters (see run_read_into), all from one
 * table: read again if its handle changed meanwhile. */
static int run_read(struct run *r, struct state *next, struct run_missing *m)
{
	struct account *a = r->a;
	uint64_t h1 = 0, h2 = 0;
	int ret;

	for (int tries = 0; tries < 3; tries++) {
		if (nl_table_exists(a->nl, a->cfg.table, &h1) == 0)
			return -ENOENT;
		state_finish(next);
		m->n = 0;
		ret = run_read_into(r, next, true, m);
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

/* Counters of the targets in m are gone: the ones the repair creates count
 * from zero, so their reported base is zero too (and their handles
 * unknown: the counter_missing event told already).  A direction whose
 * counter was read (its handle in m, not 0) keeps its reported value:
 * that counter stays and counts on. */
static void run_forget(struct run *r, const struct run_missing *m)
{
	const struct targets *t = &r->a->tg;

	for (size_t k = 0; k < m->n; k++) {
		struct state_entry *d =
			(struct state_entry *)state_find(&r->done, &t->v[m->v[k].i].addr);

		for (int dir = 0; d && dir < 2; dir++)
			if (!m->v[k].h[dir])
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
			ret = run_carry(next, &w->addr, state_label(&r->draining, w), &v);
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
			ret = state_add_entry(next, &v, state_label(&r->draining, w));
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

/* A report: the counters are read into the state being made (next),
 * then it is reported against the last one (r->done). */
static int run_tick(struct run *r, time_t t)
{
	struct account *a = r->a;
	struct run_missing m = { 0 };
	struct state next;
	time_t now;
	int ret;

	struct timespec t0;

	state_init(&next);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = run_read(r, &next, &m);
	sinks_health(r->d->sinks)->read_seconds = output_ms_since(&t0) / 1e3;
	if (ret == -ENOENT || (ret == 0 && m.n && table_owned(a->nl, a->cfg.table,
							       NULL, r->e) == 0)) {
		ret = run_reinstall(r);
		goto out;
	}
	if (ret < 0) {
		run_error(r, "%s", r->e->msg);
		goto out;
	}
	next.time = next.base_time = t;
	sinks_health(r->d->sinks)->last_read = (double)next.time;
	/* after run_read, which may have zeroed r->done (a new table) */
	for (size_t k = 0; k < m.n; k++)
		run_unread(r, &next.v[m.v[k].i]);
	now = next.time;
	if (r->draining.n)
		ret = run_add_draining(r, &next);
	ret = ret ? ret : run_report(r, &next);
	if (ret == 0)
		run_delete_draining(r);
	if (m.n) {
		output_event(r->out, now, "counter_missing", NULL,
			     "%zu addresses have no counter in table %s; what they "
			     "counted since the last report is lost; repairing the table",
			     m.n, nl_table_desc(a->nl, a->cfg.table).s);
		run_forget(r, &m);
		run_reload(r, "repair", true);
	}
out:
	state_finish(&next);
	free(m.v);
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
	ret = run_add_targets(r, &next);
	for (size_t i = 0; i < res->ngone && ret == 0; i++) {
		const struct table_gone *g = &res->gone[i];
		const struct state_entry *d = state_find(&r->done, &g->addr);
		const struct target *t = r->leaving ? targets_find(r->leaving, &g->addr) : NULL;
		const struct state_entry *w = state_find(&r->draining, &g->addr);
		/* last: its counters are deleted after this report */
		struct state_entry x = { .addr = g->addr, .c = g->c, .h = { g->h[0], g->h[1] },
					 .rep = true, .last = true };

		ret = state_add_entry(&next, &x, d ? state_label(&r->done, d) :
				      t ? targets_label(r->leaving, t) :
				      w ? state_label(&r->draining, w) : "(unknown)");
	}
	/* Addresses still waiting for their last report stay in the state
	 * at their reported values: the next report's deltas start there. */
	for (size_t i = 0; i < r->draining.n && ret == 0; i++) {
		const struct state_entry *w = &r->draining.v[i];
		const struct state_entry *d = state_find(&r->done, &w->addr);

		if (!run_gone_has(&gs, &w->addr) && !targets_find(&r->a->tg, &w->addr))
			ret = run_carry(&next, &w->addr, state_label(&r->draining, w), d ? d : w);
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
		ret = run_carry(&next, &r->draining.v[i].addr,
				state_label(&r->draining, &r->draining.v[i]),
				&r->draining.v[i]);
	for (size_t i = 0; i < res->ngone && ret == 0; i++) {
		const struct addr *g = &res->gone[i].addr;
		const struct state_entry *d = state_find(&r->done, g);
		const struct target *t = r->leaving ? targets_find(r->leaving, g) : NULL;

		if (state_find(&r->draining, g))
			continue; /* waiting already (a reload that had to list the table) */
		unknown |= !d;
		/* never reported: from zero, the counter's creation */
		ret = run_carry(&next, g, d ? state_label(&r->done, d) :
				t ? targets_label(r->leaving, t) :
				"(unknown)", d);
	}
	state_sort(&next);
	if (ret == 0 && unknown) {
		snprintf(next.table, sizeof(next.table), "%s", a->cfg.table);
		ret = statedir_save(&next, a->names, r->d->dirfd, a->cfg.state_dir, r->names_f.draining, &e);
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
	targets_init(&nt);
	/* a bad labels file changes nothing either: the labels stay */
	if ((a->cfg.labels[0] && labels_load(&a->labels, a->cfg.labels, r->e) < 0) ||
	    account_load_targets(a, &nt, r->e) < 0) {
		output_event(r->out, now, "targets_rejected", NULL, "%s", r->e->msg);
		log_msg(LOG_PRIO_WARNING, "%s; the running table stays as it was", r->e->msg);
		goto out;
	}
	a->tg = nt;
	/* old is what this run installed in the table it knows; a full
	 * resync looks at the kernel's table instead, and drains at once */
	struct table_apply_opts o = { .prev = &old, .prev_handle = r->handle,
				      .drained = run_drained, .defer = run_defer, .data = r,
				      .full = full, .prev_genid = r->genid };

	r->leaving = &old;
	ret = run_apply(r, &o, &res);
	r->leaving = NULL;
	r->genid = ret < 0 ? 0 : res.genid;
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

/* ---- namespaces ---- */

/* Work in r's namespace (its sockets were made there; libnftables and the
 * claim make theirs when called), with its origin on the JSON lines.
 * 0, or -1 when the namespace cannot be entered: nothing may be done then,
 * since the daemon's own namespace may hold a table of that name. */
static int run_in(struct run *r)
{
	if (r->nsfd >= 0 && setns(r->nsfd, CLONE_NEWNET) < 0) {
		output_error(r->out, true, "cannot enter network namespace %s: %s", r->a->netns,
			     strerror(errno));
		return -1;
	}
	output_set_origin(r->out, &r->sa.origin);
	return 0;
}

/* Back to the daemon's own namespace.  Failing that, nothing done next
 * could be trusted: stop. */
static void run_out(struct run *r)
{
	output_set_origin(r->out, &r->d->origin);
	if (r->nsfd >= 0 && setns(r->d->selffd, CLONE_NEWNET) < 0) {
		log_msg(LOG_PRIO_ERR, "cannot return to nftally's own network namespace: %s",
			strerror(errno));
		abort();
	}
}

/* ---- the timer and the signals ---- */

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

/* Arm the timer for the boundary next (whole multiples of the interval in
 * wall-clock time, so a 60 s interval ends on whole minutes).  With
 * CANCEL_ON_SET a step of the clock wakes us (ECANCELED) rather than
 * leaving the timer on the old clock's boundary: an hour away after a step
 * back by an hour. */
static int run_arm(struct daemon *d, int64_t next)
{
	struct itimerspec its = { .it_value = { .tv_sec = next },
				  .it_interval = { .tv_sec = d->interval } };

	d->tnext = next;
	if (timerfd_settime(d->tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* The timer woke: re-armed for the next boundary of the clock as it is
 * now; 1 if a report is due (see interval_wake). */
static int run_timer(struct daemon *d)
{
	uint64_t ticks;
	ssize_t n = read(d->tfd, &ticks, sizeof(ticks));
	struct timespec now;
	int64_t next;
	bool due;
	int ret;

	if (n < 0 && errno != ECANCELED)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	due = interval_wake(now.tv_sec, d->tnext, n > 0, d->interval, &next);
	ret = run_arm(d, next);
	if (ret < 0)
		output_error(d->out, true, "timer: %s", strerror(-ret));
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

static int run_setup_fds(struct daemon *d)
{
	struct timespec now;
	sigset_t set;

	/* blocked since main() knew the command (run_block_signals): what
	 * came during the start waits here */
	run_signal_set(&set);
	d->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (d->sfd < 0 || d->tfd < 0)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &now);
	return run_arm(d, interval_next(now.tv_sec, d->interval));
}

/* ---- one instance's file descriptors ---- */

/* Watch the directory of path: editors and config management replace
 * files by renaming, which a watch on the file itself would miss.  The
 * file's name in it, or NULL if it cannot be watched. */
static const char *run_watch_dir(struct run *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash == path)
		strcpy(dir, "/");
	if (r->ifd < 0)
		r->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (r->ifd < 0 || inotify_add_watch(r->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
					    IN_CREATE | IN_DELETE | IN_MOVED_FROM) < 0) {
		log_msg(LOG_PRIO_WARNING, "cannot watch %s (%s); reload with SIGHUP", dir,
			strerror(errno));
		return NULL;
	}
	return slash ? slash + 1 : path;
}

/* The targets file and the labels file, followed as they change. */
static void run_watch(struct run *r)
{
	struct account *a = r->a;

	if (a->cfg.targets_file &&
	    (a->cfg.targets_explicit || strcmp(a->targets_name, a->cfg.targets) == 0))
		r->watch_name = run_watch_dir(r, a->cfg.targets); /* not host addresses */
	if (a->cfg.labels[0])
		r->labels_name = run_watch_dir(r, a->cfg.labels);
}

/* Did the inotify events name our files?  Drains the queue.  *renamed
 * (if not NULL): the last of them renamed a file into place, which is
 * then whole (how editors and config management write). */
static bool run_watch_hit(struct run *r, bool *renamed)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(r->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && ((r->watch_name && strcmp(ev->name, r->watch_name) == 0) ||
					(r->labels_name && strcmp(ev->name, r->labels_name) == 0))) {
				hit = true;
				if (renamed)
					*renamed = (ev->mask & IN_MOVED_TO) != 0;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

/* A file written in place arrives as several events (created, written,
 * closed, maybe opened again): wait until it is quiet for 200 ms.  A
 * file renamed into place is whole at once and needs no wait. */
static void run_settle(struct run *r)
{
	struct pollfd p = { .fd = r->ifd, .events = POLLIN };
	bool renamed = false;

	while (!renamed && poll(&p, 1, 200) > 0)
		run_watch_hit(r, &renamed);
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
static bool run_watch_wake(struct run *r)
{
	int ret = watch_drain(r->watch);

	if (ret >= 0)
		return ret > 0;
	log_msg(LOG_PRIO_WARNING, "nf_tables notifications failed (%s); a deleted table is "
		"reinstalled at the next interval boundary", strerror(-ret));
	watch_destroy(r->watch);
	r->watch = NULL;
	r->quiet = 0;
	return true;
}

/* The addresses on its interfaces and through its routes, as the kernel
 * has them now, into r->a->disc: 1 if they changed, 0 if not, -1 if they
 * cannot be read (said as an error event). */
static int run_discover(struct run *r)
{
	struct disc_addr *v = NULL;
	size_t n = 0;
	bool same;

	if (disc_scan(r->disc, &v, &n, r->e) < 0) {
		output_error(r->out, true, "reading the addresses of network namespace %s: %s",
			     r->a->netns[0] ? r->a->netns : "(nftally's own)", r->e->msg);
		return -1;
	}
	same = n == r->a->ndisc;
	for (size_t i = 0; same && i < n; i++)
		same = addr_cmp(&v[i].a, &r->a->disc[i].a) == 0 &&
		       strcmp(v[i].ifname, r->a->disc[i].ifname) == 0;
	if (same) {
		free(v);
		return 0;
	}
	free(r->a->disc);
	r->a->disc = v;
	r->a->ndisc = n;
	return 1;
}

/* ---- start ---- */

/* A report printed but not yet marked as done when nftally stopped: print
 * the same lines again (same time, same values) and mark it done. */
static void run_replay(struct run *r)
{
	sinks_replay(r->d->sinks, &r->sa, &r->done, r->e); /* a failed write waits in memory */
}

/* Load what was reported before; a damaged file is kept aside and counting
 * starts from the current values (nothing reported twice). */
static int run_load_state(struct run *r, bool *damaged)
{
	struct account *a = r->a;
	char aside[STATEDIR_NAME_MAX + 16];
	int ret = statedir_load(&r->done, a->names, r->d->dirfd, a->cfg.state_dir, r->names_f.state, r->e);

	*damaged = false;
	if (ret == -ENOENT) {
		r->done.time = output_now();
		return 0;
	}
	if (ret == -EINVAL) {
		snprintf(aside, sizeof(aside), "%s.damaged", r->names_f.state);
		output_event(r->out, output_now(), "state_damaged", NULL,
			     "%s; kept as %s/%s; traffic since the last report before it "
			     "is not reported", r->e->msg, a->cfg.state_dir, aside);
		renameat(r->d->dirfd, r->names_f.state, r->d->dirfd, aside);
		state_init(&r->done);
		*damaged = true;
		return 0;
	}
	if (ret == 0 && strcmp(r->done.table, a->cfg.table) != 0)
		return err_setn(r->e, -EINVAL, "%s/%s belongs to table %s", a->cfg.state_dir,
				r->names_f.state, r->done.table);
	return ret;
}

/* Addresses a run deferred the drain of and never reported (it stopped
 * before its next report): their counters are looked for by name too.  A
 * damaged list is only a hint lost (the counters stay, not counting). */
static void run_load_draining(struct run *r, bool damaged)
{
	struct account *a = r->a;
	struct err e;
	int ret = statedir_load(&r->draining, a->names, r->d->dirfd, a->cfg.state_dir, r->names_f.draining, &e);

	if (ret == -ENOENT)
		return;
	r->journal = true;
	if (ret < 0 || strcmp(r->draining.table, a->cfg.table) != 0) {
		log_msg(LOG_PRIO_WARNING, "%s: ignored (%s)", r->names_f.draining,
			ret < 0 ? e.msg : "another table's");
		run_forget_draining(r);
		return;
	}
	run_undrain(r); /* targets again: they count on, from their counters */
	/* Without a trusted state their values in the list are what was
	 * reported: the drain counts from there, not from zero. */
	for (size_t i = 0; damaged && i < r->draining.n; i++)
		if (run_carry(&r->done, &r->draining.v[i].addr,
			      state_label(&r->draining, &r->draining.v[i]),
			      &r->draining.v[i]) < 0)
			break;
	state_sort(&r->done);
}

/* A damaged state: take the current values as reported. */
static int run_baseline_now(struct run *r)
{
	int ret = run_read_into(r, &r->done, false, NULL);

	state_sort(&r->done);
	r->done.time = r->done.base_time = output_now();
	return ret;
}

/* The state's last report closed a namespace that went away (its last
 * traffic is reported): a namespace of that name now is a new one, whose
 * table counts from zero, and nothing was lost. */
static void run_reopened(struct run *r)
{
	if (strcmp(r->done.netns, r->nsid) != 0) {
		output_event(r->out, output_now(), "netns_new", NULL,
			     "network namespace %s is a new one (the one of that name before "
			     "went away, and its last traffic was reported); its addresses "
			     "count from zero", r->a->netns);
		for (size_t i = 0; i < r->done.n; i++)
			run_zero(&r->done.v[i]);
		run_forget_draining(r);
	}
	r->done.closed = false;
}

/* The account's files, its state, its table: what the one-account run
 * did at its start, in r's namespace. */
static int run_start(struct run *r)
{
	struct account *a = r->a;
	struct table_result res;
	char id[PATH_MAX];
	bool damaged, closed;
	int ret;

	statedir_names_init(&r->names_f, a->key);
	r->sa.pending = r->names_f.pending;
	r->sa.state = r->names_f.state;
	r->lockfd = statedir_lock(r->d->dirfd, a->cfg.state_dir, a->key,
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
	snprintf(r->done.table, sizeof(r->done.table), "%s", a->cfg.table);
	r->handle = r->done.handle;
	closed = !damaged && r->done.closed;
	if (damaged || closed)
		unlinkat(r->d->dirfd, r->names_f.pending, 0); /* nothing to replay it against */
	else
		run_replay(r);
	run_load_draining(r, damaged);
	struct table_apply_opts o = { .drained = run_drained, .data = r };
	struct targets prev;
	struct state rec;

	/* The last apply's record, if nothing was committed since and it
	 * left no counters to drain: no listing of the table.  Else what it
	 * installed is where to look for counters (not listed either). */
	state_init(&rec);
	if (account_applied_prev(a, r->d->dirfd, r->names_f.applied, r->d->boot, r->nsid, &rec,
				 &prev, true)) {
		o.prev = &prev;
		o.prev_handle = rec.handle;
	} else if (prev.n) {
		o.hint = &prev;
	}
	ret = run_apply(r, &o, &res);
	free(prev.v);
	state_finish(&rec);
	if (ret < 0)
		return ret;
	free(res.gone);
	if (damaged)
		ret = run_baseline_now(r);
	/* Handles start again in every boot and every new network namespace:
	 * a table this apply had to create, or one of another boot or
	 * namespace, is new whatever its handle (the same number as the
	 * state's is likely). */
	if (ret == 0 && closed)
		run_reopened(r);
	else if (ret == 0 && !damaged && (r->done.handle || r->done.n) &&
		 (res.created || state_of_other_table(&r->done, res.handle, r->d->boot, r->nsid)))
		run_table_new_at(r, res.handle, res.created ? "was gone while nftally was not running"
				 : "was recreated while nftally was not running", res.created);
	r->handle = res.handle;
	r->genid = res.genid;
	return ret ? ret : run_save_done(r);
}

/* Let go of everything r holds (its namespace too: the kernel may free
 * it now). */
static void run_destroy(struct run *r)
{
	const int fds[] = { r->ifd, r->lockfd, r->claimfd, r->nsfd };

	if (!r)
		return;
	sinks_detach(r->d->sinks, &r->sa);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	state_finish(&r->done);
	state_finish(&r->draining);
	free(r->dgone);
	watch_destroy(r->watch);
	disc_destroy(r->disc);
	account_finish(r->a);
	free(r->a);
	free(r);
}

/* Load, render and open account cfg in r's namespace (entered), then
 * start it. */
static int run_open_account(struct run *r)
{
	struct account *a = r->a;
	struct err w;
	int ret = account_load_classes(a, r->e);

	if (ret == 0 && account_discovers(a)) {
		r->disc = disc_create(a->cfg.disc_addrs, a->cfg.ndisc_addrs, a->cfg.disc_routes,
				      a->cfg.ndisc_routes, r->e);
		ret = r->disc ? 0 : -errno;
		if (ret == 0 && run_discover(r) < 0)
			ret = -EIO;
	}
	if (ret == 0)
		ret = account_load_targets(a, &a->tg, r->e);
	if (ret == 0)
		ret = account_load_template(a, r->e);
	if (ret == 0 && config_exclude_warning(&a->cfg, a->tg.v, a->tg.n, &w))
		log_msg(LOG_PRIO_WARNING, "%s", w.msg);
	if (ret < 0)
		return ret == -EIO || ret == -ENOMEM || ret == -EPERM ? ret : -EINVAL;
	ret = account_open(a, r->e);
	if (ret < 0)
		return ret;
	return run_start(r);
}

/* Account cfg in namespace netns ("": the daemon's own) from now on:
 * *out the new instance, or a negative errno with the reason in d->e
 * (-EAGAIN: the namespace's name is there, its mount not yet). */
static int run_create(struct daemon *d, const struct config *cfg, const char *netns,
		      struct run **out)
{
	struct run *r = calloc(1, sizeof(*r));
	struct netns_id id;
	int ret;

	*out = NULL;
	if (!r || !(r->a = calloc(1, sizeof(*r->a)))) {
		free(r);
		return err_setn(d->e, -ENOMEM, "out of memory");
	}
	*r = (struct run){ .d = d, .a = r->a, .out = d->out, .e = &r->ebuf, .ifd = -1,
			   .lockfd = -1, .claimfd = -1, .nsfd = -1 };
	state_init(&r->done);
	state_init(&r->draining);
	addr_names_init(&r->names);
	r->a->cfg = *cfg;
	r->a->names = &r->names;
	r->a->enforce = d->qd ? quotad_enforce(d->qd) : NULL;
	snprintf(r->a->netns, sizeof(r->a->netns), "%s", netns);
	account_key(r->a);
	sinks_origin_here(&r->sa.origin, d->host, netns, cfg->account, cfg->table);
	r->sa.names = &r->names;
	ret = netns[0] ? netns_open(NETNS_RUN_DIR, netns, &r->nsfd, r->e) : 0;
	if (ret == 0)
		ret = netns_identity(r->nsfd >= 0 ? r->nsfd : d->selffd, &id, r->e);
	if (ret == 0)
		netns_id_format(&id, r->nsid, sizeof(r->nsid));
	if (ret == 0 && run_in(r) < 0)
		ret = err_setn(r->e, -EIO, "cannot enter network namespace %s", netns);
	else if (ret == 0) {
		ret = run_open_account(r);
		if (ret == 0) {
			run_watch(r);
			run_watch_table(r);
			output_event(r->out, output_now(), "start", NULL,
				     "accounting %zu addresses from %s in table %s every %u s",
				     r->a->tg.n, r->a->targets_name,
				     nl_table_desc(r->a->nl, r->a->cfg.table).s, d->interval);
			output_flush(r->out);
		}
		run_out(r);
	}
	if (ret < 0) {
		if (cfg->account[0])
			err_setn(d->e, ret, "account %s%s%s: %s", cfg->account, netns[0] ? " in network namespace " : "",
				 netns, r->e->msg[0] ? r->e->msg : strerror(-ret));
		else
			err_setn(d->e, ret, "%s", r->e->msg[0] ? r->e->msg : strerror(-ret));
		run_destroy(r);
		return ret;
	}
	r->sa.current = &r->done;
	sinks_attach(d->sinks, &r->sa);
	*out = r;
	return 0;
}

static int run_add(struct daemon *d, struct run *r)
{
	struct run **v = realloc(d->v, (d->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->v = v;
	d->v[d->n++] = r;
	return 0;
}

/* ---- namespaces coming and going ---- */

static bool run_account_wanted(const struct daemon *d, const struct config *cfg)
{
	return !d->only || strcmp(d->only, cfg->account) == 0;
}

static struct run *run_find(const struct daemon *d, const char *account, const char *netns)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i]->a->cfg.account, account) == 0 &&
		    strcmp(d->v[i]->a->netns, netns) == 0)
			return d->v[i];
	return NULL;
}

static void run_wait_add(struct daemon *d, const char *name)
{
	struct run_wait *w;

	for (size_t i = 0; i < d->nwait; i++)
		if (strcmp(d->wait[i].name, name) == 0)
			return;
	w = realloc(d->wait, (d->nwait + 1) * sizeof(*w));
	if (!w)
		return; /* the next interval boundary looks again */
	d->wait = w;
	w = &d->wait[d->nwait++];
	snprintf(w->name, sizeof(w->name), "%s", name);
	clock_gettime(CLOCK_MONOTONIC, &w->until);
	w->until.tv_sec += RUN_NETNS_WAIT_MS / 1000;
	w->until.tv_nsec += (RUN_NETNS_WAIT_MS % 1000) * 1000000L;
	if (w->until.tv_nsec >= 1000000000L) {
		w->until.tv_sec++;
		w->until.tv_nsec -= 1000000000L;
	}
}

/* Namespace `name` is there: every account whose netns matches it and has
 * no instance there gets one.  1 if it must be tried again (not mounted
 * yet), else 0. */
static int run_ns_added(struct daemon *d, const char *name)
{
	const struct config_set *cs = d->cs;
	int again = 0;

	if (name[0] == '.')
		return 0;
	for (size_t i = 0; i < cs->n; i++) {
		const struct config *cfg = &cs->v[i];
		struct run *r;
		int ret;

		if (!cfg->netns[0] || !run_account_wanted(d, cfg) ||
		    fnmatch(cfg->netns, name, 0) != 0 || run_find(d, cfg->account, name))
			continue;
		ret = run_create(d, cfg, name, &r);
		if (ret == -EAGAIN || ret == -ENOENT) {
			again = ret == -EAGAIN;
			continue;
		}
		if (ret < 0) {
			output_error(d->out, true, "%s", d->e->msg);
			continue;
		}
		if (run_add(d, r) < 0) {
			output_error(d->out, true, "out of memory");
			run_destroy(r);
		}
	}
	d->e->msg[0] = '\0';
	return again;
}

/* r's namespace went away (its name is gone, or names another one now):
 * its last report, read while r still holds the namespace, then r lets
 * go of it so that the kernel can free it. */
static void run_ns_close(struct daemon *d, size_t k, time_t t)
{
	struct run *r = d->v[k];

	if (run_in(r) == 0) {
		run_quiet(r, true);
		run_tick(r, t);
		run_quiet(r, false);
		r->done.closed = true;
		run_save_done(r);
		output_event(r->out, output_now(), "netns_gone", NULL,
			     "network namespace %s went away; report %llu was its last",
			     r->a->netns, (unsigned long long)r->done.seq);
		output_flush(r->out);
		run_out(r);
	}
	run_destroy(r);
	memmove(&d->v[k], &d->v[k + 1], (d->n - k - 1) * sizeof(*d->v));
	d->n--;
}

static void run_ns_removed(struct daemon *d, const char *name)
{
	time_t t = output_now();

	for (size_t k = d->n; k-- > 0;)
		if (d->v[k]->a->netns[0] && strcmp(d->v[k]->a->netns, name) == 0)
			run_ns_close(d, k, t);
}

static int run_ns_list_cb(const char *name, void *data)
{
	if (run_ns_added(data, name) > 0)
		run_wait_add(data, name);
	return 0;
}

/* Does r's name still name r's namespace? */
static bool run_ns_current(const struct run *r)
{
	char path[PATH_MAX];
	struct stat a, b;

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, r->a->netns);
	return stat(path, &a) == 0 && fstat(r->nsfd, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Is key (a state file's name without ".state") one of an instance, or
 * of a namespace waiting for its mount? */
static bool run_key_live(const struct daemon *d, const struct config *cfg, const char *key)
{
	struct account tmp = { .cfg = *cfg };

	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i]->a->key, key) == 0)
			return true;
	for (size_t i = 0; i < d->nwait; i++) {
		snprintf(tmp.netns, sizeof(tmp.netns), "%s", d->wait[i].name);
		account_key(&tmp);
		if (strcmp(tmp.key, key) == 0)
			return true;
	}
	return false;
}

/* The namespace's name in key, "account.NAME@NETNS" with NETNS escaped;
 * a name too long for a key (ending in a hash) is shown as the key. */
static void run_key_netns(const char *key, char *buf, size_t size)
{
	const char *p = strchr(key, '@');
	size_t n = 0;

	p = p ? p + 1 : key;
	if (strchr(p, '~'))
		p = key;
	for (; *p && n + 1 < size; p++) {
		unsigned v;

		if (p[0] == '%' && sscanf(p + 1, "%2x", &v) == 1 && p[1] && p[2]) {
			buf[n++] = (char)v;
			p += 2;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

/* One orphan: its state not closed says its namespace's traffic since
 * that report was never read; it is said once (the state is marked
 * closed, so a namespace of that name later is a new one). */
static void run_ns_orphan(struct daemon *d, const struct config *cfg, const char *key)
{
	struct statedir_names names;
	struct addr_names an;
	struct report_origin org;
	struct state st;
	char netns[256], t0[32], t1[32];
	struct err e;
	time_t since, until = output_now();
	int lock;

	statedir_names_init(&names, key);
	lock = statedir_lock(d->dirfd, cfg->state_dir, key, "", &e);
	if (lock < 0)
		return; /* another run holds it: its business */
	addr_names_init(&an);
	state_init(&st);
	if (statedir_load(&st, &an, d->dirfd, cfg->state_dir, names.state, &e) == 0 &&
	    !st.closed) {
		run_key_netns(key, netns, sizeof(netns));
		sinks_origin_here(&org, d->host, netns, cfg->account, st.table);
		since = (time_t)(st.base_time ? st.base_time : st.time);
		output_set_origin(d->out, &org);
		output_event_lost(d->out, until, "netns_gone", since, until,
				  "network namespace %s went away (or is no longer accounted) while "
				  "no run held it: what its table counted from %s on, until it went "
				  "(at the latest %s), could not be read", netns,
				  output_time(since, t0), output_time(until, t1));
		output_set_origin(d->out, &d->origin);
		output_flush(d->out);
		st.closed = true;
		statedir_save(&st, &an, d->dirfd, cfg->state_dir, names.state, &e);
		unlinkat(d->dirfd, names.pending, 0);
		unlinkat(d->dirfd, names.draining, 0);
	}
	state_finish(&st);
	close(lock);
}

/* State files of an account's namespaces that no instance holds: the
 * namespace went away (or stopped matching netns) while no run held it. */
static void run_ns_orphans(struct daemon *d)
{
	DIR *dp;
	struct dirent *de;
	int fd = dup(d->dirfd);

	if (fd < 0 || !(dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);
		char key[STATEDIR_NAME_MAX];

		if (len <= 6 || len >= sizeof(key) || strcmp(de->d_name + len - 6, ".state") != 0 ||
		    strncmp(de->d_name, "account.", 8) != 0 || !strchr(de->d_name, '@'))
			continue;
		memcpy(key, de->d_name, len - 6);
		key[len - 6] = '\0';
		for (size_t i = 0; i < d->cs->n; i++) {
			const struct config *cfg = &d->cs->v[i];
			size_t an = strlen(cfg->account);

			if (cfg->netns[0] && run_account_wanted(d, cfg) &&
			    strncmp(key + 8, cfg->account, an) == 0 && key[8 + an] == '@' &&
			    !run_key_live(d, cfg, key))
				run_ns_orphan(d, cfg, key);
		}
	}
	closedir(dp);
}

/* Look at /run/netns as it is (at the start, at every interval boundary,
 * and after an overflow of its events): namespaces gone or replaced are
 * closed, new ones get their instances, and the states of namespaces that
 * went while no run held them are said. */
static void run_ns_rescan(struct daemon *d)
{
	time_t t = output_now();

	if (!d->nsdir)
		return;
	for (size_t k = d->n; k-- > 0;)
		if (d->v[k]->a->netns[0] && !run_ns_current(d->v[k]))
			run_ns_close(d, k, t);
	netns_dir_list(NETNS_RUN_DIR, run_ns_list_cb, d);
	run_ns_orphans(d);
}

static void run_ns_event(const char *name, bool added, void *data)
{
	struct daemon *d = data;

	if (!name)
		run_ns_rescan(d);
	else if (!added)
		run_ns_removed(d, name);
	else if (run_ns_added(d, name) > 0)
		run_wait_add(d, name);
}

/* Names whose mount was not there yet: tried again; given up on (an
 * error event) after RUN_NETNS_WAIT_MS. */
static void run_ns_retry(struct daemon *d)
{
	struct timespec now;
	size_t k = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < d->nwait; i++) {
		struct run_wait w = d->wait[i];
		bool late = now.tv_sec > w.until.tv_sec ||
			    (now.tv_sec == w.until.tv_sec && now.tv_nsec >= w.until.tv_nsec);

		if (run_ns_added(d, w.name) == 0)
			continue;
		if (late) {
			output_error(d->out, true, "%s/%s did not become a network namespace within "
				     "%d ms; it is looked at again at the next interval boundary",
				     NETNS_RUN_DIR, w.name, RUN_NETNS_WAIT_MS);
			continue;
		}
		d->wait[k++] = w;
	}
	d->nwait = k;
}

/* ---- the loop ---- */

/* What one poll found for one instance. */
enum { RUN_FD_FILE, RUN_FD_WATCH, RUN_FD_CLAIM, RUN_FD_DISC, RUN_FDS };

/* The instance's work after a poll: a notification, a due report, a
 * signal's resync, a changed targets file, changed addresses. */
static void run_work(struct run *r, const struct pollfd *p, bool due, bool hup, time_t t)
{
	bool check = false, file, disc, any, renamed = false;

	if (p[RUN_FD_CLAIM].revents & POLLIN)
		claim_drain(r->claimfd); /* someone looked who holds the table */
	if (r->watch && (p[RUN_FD_WATCH].revents & (POLLIN | POLLERR)))
		check = run_watch_wake(r);
	file = r->ifd >= 0 && (p[RUN_FD_FILE].revents & POLLIN);
	disc = r->disc && (p[RUN_FD_DISC].revents & (POLLIN | POLLERR));
	any = check || due || hup || file || disc;
	if (!any || run_in(r) < 0)
		return;
	/* Our own changes below are not notified to us; what others did
	 * meanwhile is looked for once, after. */
	run_quiet(r, true);
	if (check)
		run_check_table(r);
	if (hup)
		run_reload(r, "SIGHUP", true);
	if (due)
		run_tick(r, t);
	if (file && run_watch_hit(r, &renamed)) {
		if (!renamed)
			run_settle(r);
		run_reload(r, "file changed", false);
	}
	if (disc && disc_drain(r->disc) != 0 && run_discover(r) > 0)
		run_reload(r, "addresses changed", false);
	run_quiet(r, false);
	if (r->watch)
		run_check_table(r);
	run_out(r);
}

/* The last deltas of every instance before exiting. */
static void run_stop(struct daemon *d)
{
	time_t t = output_now();

	sinks_batch(d->sinks, true);
	for (size_t i = 0; i < d->n; i++) {
		struct run *r = d->v[i];

		if (run_in(r) < 0)
			continue;
		run_quiet(r, true);
		run_tick(r, t);
		run_quiet(r, false);
		run_out(r);
	}
	sinks_batch(d->sinks, false);
}

/* One signal: 1 to stop, 0 to go on; *hup for a resync. */
static int run_signal(struct daemon *d, bool *hup)
{
	struct signalfd_siginfo si;

	if (read(d->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		*hup = true;
		return 0;
	}
	return 1;
}

/* ---- quotas ---- */

/* Every label's usage in [since, until) from the store, all hosts,
 * namespaces and accounts that record into it summed. */
static int run_store_usage(void *data, int64_t since, int64_t until,
			   int (*cb)(const char *label, const struct counts *c, void *arg),
			   void *arg, struct err *e)
{
	struct daemon *d = data;
	struct store *s = sinks_store(d->sinks);

	if (!s)
		return err_setn(e, -EAGAIN, "the store is not open (quotas need the store)");
	return store_label_usage(s, since, until, cb, arg, e);
}

/* quotad's usage: the cache, which reads the store once per cycle start
 * (run_store_usage) and takes each report as the store records it. */
static int run_quota_usage(void *data, int64_t since, int64_t until,
			   int (*cb)(const char *label, const struct counts *c, void *arg),
			   void *arg, struct err *e)
{
	struct daemon *d = data;

	return qusage_get(d->qu, since, run_store_usage, d, cb, arg, e);
}

/* A report the store recorded, for the quotas' usage. */
static void run_stored(const struct report *r, void *data)
{
	struct daemon *d = data;

	if (d->qu && qusage_add(d->qu, r) < 0)
		output_error(d->out, true, "quotas: out of memory; the usage of a cycle is "
			     "read from the store again");
}

static const struct cycle *run_quota_cycle(void *data, const char *label)
{
	const struct daemon *d = data;

	return billing_cycle_of(&d->billing, label);
}

/* Apply every table again with the quotas' new enforcement: the sets'
 * elements change (and the skeleton, when the sets it declares do), the
 * addresses do not.  Sets the skeleton no longer declares (old[0..nold))
 * are deleted once it no longer uses them. */
static void run_enforce(struct run *r, const char (*old)[32], size_t nold)
{
	char now[RUN_ENFORCE_SETS][32], gone[RUN_ENFORCE_SETS][32];
	size_t nnow = render_enforce_sets(r->a->enforce, now, RUN_ENFORCE_SETS), ngone = 0;
	struct table_apply_opts o = { .prev = &r->a->tg, .prev_handle = r->handle };
	struct table_result res;
	uint32_t gen = 0;

	if (run_in(r) < 0)
		return;
	run_quiet(r, true);
	r->genid = 0;
	if (run_apply(r, &o, &res) < 0) {
		output_error(r->out, true, "applying table %s for quota enforcement: %s",
			     nl_table_desc(r->a->nl, r->a->cfg.table).s, r->e->msg);
	} else {
		free(res.gone);
		gen = res.genid;
	}
	for (size_t i = 0; i < nold; i++) {
		bool kept = false;

		for (size_t k = 0; k < nnow && !kept; k++)
			kept = strcmp(old[i], now[k]) == 0;
		if (!kept)
			memcpy(gone[ngone++], old[i], sizeof(gone[0]));
	}
	if (ngone)
		table_drop_sets(r->a->nl, r->a->cfg.table, (const char (*)[32])gone, ngone);
	else
		r->genid = gen; /* the table is what a->tg says */
	run_quiet(r, false);
	output_flush(r->out);
	run_out(r);
}

/* After the reports (recorded in the store): the quotas file if it
 * changed (always on SIGHUP), the usage, the events, the enforcement. */
static void run_quotas(struct daemon *d, bool hup)
{
	char old[RUN_ENFORCE_SETS][32];
	size_t n, nold;

	if (hup) {
		struct billing b;
		struct err e;

		/* a bad cycles file keeps the cycles as they were */
		if (billing_from_config(&b, d->cs->n ? &d->cs->v[0] : &d->cs->dflt, &e) < 0) {
			output_error(d->out, true, "quotas: %s; the billing cycles stay as they were",
				     e.msg);
		} else {
			billing_finish(&d->billing);
			d->billing = b;
		}
	}
	quotad_reload(d->qd, hup);
	/* the sets before (quotad_reload changes no enforcement) */
	nold = render_enforce_sets(quotad_enforce(d->qd), old, RUN_ENFORCE_SETS);
	if (quotad_evaluate(d->qd, output_now(), run_quota_usage, run_quota_cycle, d) == 1)
		for (size_t i = 0; i < d->n; i++)
			run_enforce(d->v[i], (const char (*)[32])old, nold);
	qusage_sweep(d->qu);
	sinks_health(d->sinks)->quotas = quotad_metrics(d->qd, &n);
	sinks_health(d->sinks)->nquotas = n;
	sinks_publish(d->sinks);
	output_flush(d->out);
}

enum { RUN_P_SIG, RUN_P_TIMER, RUN_P_HTTP, RUN_P_NSDIR, RUN_P_FIXED };

static int run_loop(struct daemon *d)
{
	struct pollfd *p = NULL;
	size_t cap = 0;

	for (;;) {
		size_t np = RUN_P_FIXED + RUN_FDS * d->n;
		int timeout, pgwait, hookwait;
		bool due = false, hup = false;
		time_t t;

		/* before its timeout is asked: a body larger than a block
		 * leaves the rest to send, which the library's edge-triggered
		 * epoll descriptor does not say again (its timeout is 0 then) */
		if (d->http)
			http_run(d->http);
		timeout = d->http ? http_timeout_ms(d->http) : -1;

		if (np > cap) {
			struct pollfd *q = realloc(p, np * sizeof(*p));

			if (!q) {
				free(p);
				return -ENOMEM;
			}
			p = q;
			cap = np;
		}
		p[RUN_P_SIG] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
		p[RUN_P_TIMER] = (struct pollfd){ .fd = d->tfd, .events = POLLIN };
		p[RUN_P_HTTP] = (struct pollfd){ .fd = d->http ? http_fd(d->http) : -1, .events = POLLIN };
		p[RUN_P_NSDIR] = (struct pollfd){ .fd = d->nsdir ? netns_dir_fd(d->nsdir) : -1,
						  .events = POLLIN };
		for (size_t i = 0; i < d->n; i++) {
			struct run *r = d->v[i];
			struct pollfd *q = &p[RUN_P_FIXED + RUN_FDS * i];

			q[RUN_FD_FILE] = (struct pollfd){ .fd = r->ifd, .events = POLLIN };
			q[RUN_FD_WATCH] = (struct pollfd){ .fd = r->watch ? watch_fd(r->watch) : -1,
							   .events = POLLIN };
			q[RUN_FD_CLAIM] = (struct pollfd){ .fd = r->claimfd, .events = POLLIN };
			q[RUN_FD_DISC] = (struct pollfd){ .fd = r->disc ? disc_fd(r->disc) : -1,
							  .events = POLLIN };
		}
		if (d->nwait && (timeout < 0 || timeout > RUN_NETNS_RETRY_MS))
			timeout = RUN_NETNS_RETRY_MS;
		/* one batch for PostgreSQL, and when the next is due */
		pgwait = sinks_tick(d->sinks);
		if (pgwait >= 0 && (timeout < 0 || timeout > pgwait))
			timeout = pgwait;
		/* hooks that ended are reaped, those past their time killed */
		hookwait = d->qd ? quotad_tick(d->qd) : -1;
		if (hookwait >= 0 && (timeout < 0 || timeout > hookwait))
			timeout = hookwait;
		if (poll(p, np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			free(p);
			return -errno;
		}
		if ((p[RUN_P_SIG].revents & POLLIN) && run_signal(d, &hup)) {
			free(p);
			run_stop(d);
			return 0;
		}
		if (p[RUN_P_TIMER].revents & POLLIN)
			due = run_timer(d) > 0;
		t = output_now();
		/* the instances as they were polled; namespaces change after */
		sinks_batch(d->sinks, true);
		for (size_t i = 0; i < d->n; i++)
			run_work(d->v[i], &p[RUN_P_FIXED + RUN_FDS * i], due, hup, t);
		sinks_batch(d->sinks, false);
		if (d->qd && (due || hup))
			run_quotas(d, hup);
		if (d->nsdir && (p[RUN_P_NSDIR].revents & POLLIN))
			netns_dir_drain(d->nsdir, run_ns_event, d);
		if (d->nwait)
			run_ns_retry(d);
		if (due)
			run_ns_rescan(d);
	}
}

/* ---- the daemon ---- */

/* The store (NULL if it cannot be opened now), the metrics seeded with its
 * totals (so they continue across restarts), and the listener.  Only
 * what a person must fix stops the start: a database of another table or
 * version, or a path that cannot be opened or written.  A full disk, a
 * lock or an I/O error only delays the store: the reports wait in memory
 * and the next one opens it again.  The daemon-wide keys are the same in
 * every account (only allowed outside sections). */
static int run_open_outputs(struct daemon *d, const struct config *cfg)
{
	struct sinks_conf c = {
		.out = d->out, .dirfd = d->dirfd, .dir = cfg->state_dir,
		.store_path = account_store_path(cfg, d->store_path, sizeof(d->store_path)),
		.store_table = d->cs->sections ? NULL : cfg->table,
		.host = d->host,
		.store_create = true,
		.keep = { cfg->keep_intervals, cfg->keep_hours, cfg->keep_days,
			  RUN_STORE_BUSY_MS, cfg->keep_samples },
		.backlog = RUN_BACKLOG_MAX,
		.metrics = cfg->prom_file[0] || cfg->listen[0],
		.prom_file = cfg->prom_file,
		.postgresql = cfg->postgresql,
		.publish = run_serve, .publish_data = d,
		/* only quotas keep the usage: without them the sinks need
		 * not walk a report's rows again for it */
		.stored = cfg->quotas[0] ? run_stored : NULL, .stored_data = d,
	};
	int ret = sinks_open(&d->sinks, &c, d->e);

	if (ret < 0)
		return ret;
	if (cfg->listen[0]) {
		ret = http_start(&d->http, cfg->listen, d->e);
		if (ret < 0)
			return ret == -EINVAL || ret == -ENOTSUP ? -EINVAL : ret;
	}
	return 0;
}

/* Every account of the daemon's own namespace now (any failure fails the
 * start), and the namespaces' directory followed if an account names
 * namespaces. */
static int run_start_all(struct daemon *d)
{
	const struct config_set *cs = d->cs;
	bool follow = false;
	int ret;

	for (size_t i = 0; i < cs->n; i++) {
		const struct config *cfg = &cs->v[i];
		struct run *r;

		if (!run_account_wanted(d, cfg))
			continue;
		if (cfg->netns[0]) {
			follow = true;
			continue;
		}
		ret = run_create(d, cfg, "", &r);
		if (ret < 0)
			return ret;
		if (run_add(d, r) < 0) {
			run_destroy(r);
			return err_setn(d->e, -ENOMEM, "out of memory");
		}
	}
	if (d->only && !follow && !d->n)
		return err_setn(d->e, -EINVAL, "no account %s in the config", d->only);
	if (!follow)
		return 0;
	d->nsdir = netns_dir_create(NETNS_RUN_DIR);
	if (!d->nsdir)
		return err_setn(d->e, -errno, "cannot follow %s: %s", NETNS_RUN_DIR,
				strerror(errno));
	run_ns_rescan(d);
	return 0;
}

static int run_daemon_start(struct daemon *d)
{
	const struct config *cfg = d->cs->n ? &d->cs->v[0] : &d->cs->dflt;
	struct netns_id id;
	int ret;

	statedir_boot_id(d->boot, sizeof(d->boot));
	if (cfg->host[0])
		snprintf(d->host, sizeof(d->host), "%s", cfg->host);
	else
		gethostname(d->host, sizeof(d->host) - 1);
	report_origin_init(&d->origin, d->host, "", "", "");
	output_set_origin(d->out, &d->origin);
	d->interval = cfg->interval;
	d->dirfd = statedir_open(cfg->state_dir, d->e);
	if (d->dirfd < 0)
		return d->dirfd;
	ret = netns_open_self(&d->selffd, d->e);
	if (ret == 0)
		ret = netns_identity(d->selffd, &id, d->e);
	if (ret < 0)
		return ret;
	netns_id_format(&id, d->selfid, sizeof(d->selfid));
	ret = run_open_outputs(d, cfg);
	/* before the accounts: their first skeleton has the quotas' sets */
	if (ret == 0 && cfg->quotas[0] && strcmp(cfg->store, "off") == 0)
		ret = err_set(d->e, "quotas need the store: the usage of a cycle is read from it "
			      "(store = off)");
	if (ret == 0 && cfg->quotas[0]) {
		ret = billing_from_config(&d->billing, cfg, d->e);
		if (ret == 0 && !(d->qu = qusage_create()))
			ret = err_setn(d->e, -ENOMEM, "out of memory");
		if (ret == 0 && !(d->qd = quotad_create(cfg, d->dirfd, cfg->state_dir, d->out, d->e)))
			ret = -EINVAL;
		/* what the store says is exceeded is enforced by the first
		 * apply already: a restart lifts nothing, not even briefly */
		if (ret == 0) {
			quotad_evaluate(d->qd, output_now(), run_quota_usage, run_quota_cycle, d);
			qusage_sweep(d->qu);
		}
	}
	if (ret == 0)
		ret = run_start_all(d);
	if (ret == 0 && d->qd)
		run_quotas(d, false);
	if (ret == 0)
		ret = run_setup_fds(d);
	return ret;
}

/* Blocks of 1 MiB and more (a report's states and read buffers) are
 * mapped and given back when freed.  glibc's default raises that bound
 * to the size of every mapped block freed (up to 32 MiB), after which
 * the next report's arrays, grown by doubling, come from the heap and
 * leave freed holes there that still count as resident: 10 MB more at
 * the second report of a run at 100,000 addresses.  Setting the bound
 * keeps it where it is. */
#define RUN_MMAP_THRESHOLD (1 << 20)

int run_daemon(const struct config_set *cs, const char *only, struct output *out, struct err *e)
{
	struct daemon d = { .cs = cs, .only = only, .out = out, .e = e, .dirfd = -1,
			    .selffd = -1, .sfd = -1, .tfd = -1 };
	int ret;

#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, RUN_MMAP_THRESHOLD);
#endif
	ret = run_daemon_start(&d);

	if (ret == 0) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		sinks_health(d.sinks)->start_time = (double)now.tv_sec +
						    (double)now.tv_nsec / 1e9;
		sinks_publish(d.sinks);
		ret = run_loop(&d);
	}
	/* Reports still waiting for the store go in (sinks_close tries the
	 * backlog a last time) before the locks and the claims are let go:
	 * a run started next must not write beside us. */
	for (size_t i = 0; d.sinks && i < d.n; i++)
		sinks_detach(d.sinks, &d.v[i]->sa);
	sinks_close(d.sinks);
	d.sinks = NULL;
	for (size_t i = 0; i < d.n; i++) {
		d.v[i]->d = &d;
		run_destroy(d.v[i]);
	}
	free(d.v);
	free(d.wait);
	quotad_destroy(d.qd);
	qusage_destroy(d.qu);
	billing_finish(&d.billing);
	netns_dir_destroy(d.nsdir);
	const int fds[] = { d.sfd, d.tfd, d.dirfd, d.selffd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	http_stop(d.http);
	if (ret < 0 && !e->msg[0])
		err_setn(e, ret, "%s", strerror(-ret));
	return ret < 0 ? ret : 0;
}
