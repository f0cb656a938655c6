// SPDX-License-Identifier: GPL-2.0-or-later
/* The dashboard's pages and JSON API: who may see what, the overview of
 * every label (computed by query_bills, the code of `nftally report`,
 * then filtered, sorted and paged here), a label's page with its cycles
 * and its series, and the static files.  Every string from the store is
 * HTML-escaped on the pages and URL-encoded in links.  docs/dashboard.md. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "billing.h"
#include "build-config.h"
#include "cell.h"
#include "cycle.h"
#include "dash.h"
#include "file.h"
#include "output.h"
#include "quota.h"
#include "serve.h"
#include "source.h"
#include "store.h"
#include "units.h"

#define DASH_CACHE_SECONDS 60 /* the overview's numbers are kept this long */
/* an ended cycle's numbers are read again after this long whatever the
 * store's reports say (a bound on what a stamp could miss) */
#define DASH_PREV_SECONDS 600
#define DASH_PER_PAGE 50
#define DASH_PER_PAGE_MAX 1000
#define DASH_CYCLES 12        /* cycles on a label's page: this one and 11 before */
#define DASH_RETRY_SECONDS 5  /* the overview's 503 while its first snapshot is made */

enum scope { SCOPE_NONE, SCOPE_OPERATOR, SCOPE_CUSTOMER };

/* Who the request's token makes it: every token is compared (in constant
 * time each), so the time says nothing about which one matched. */
static enum scope dash_who(const struct dash *d, const struct dash_req *rq, const char **label)
{
	enum scope s = SCOPE_NONE;

	if (!rq->token)
		return d->loopback && !d->operator_token ? SCOPE_OPERATOR : SCOPE_NONE;
	if (d->operator_token && serve_token_eq(d->operator_token, rq->token))
		s = SCOPE_OPERATOR;
	for (size_t i = 0; i < d->ntokens; i++)
		if (serve_token_eq(d->tokens[i].token, rq->token) && s == SCOPE_NONE) {
			s = SCOPE_CUSTOMER;
			*label = d->tokens[i].label;
		}
	return s;
}

void dash_text(struct dash_resp *rs, unsigned status, const char *text)
{
	free(rs->body);
	rs->status = status;
	rs->type = "text/plain; charset=utf-8";
	rs->body = strdup(text);
	rs->len = rs->body ? strlen(text) : 0;
	if (!rs->body)
		rs->status = 500;
}

/* A memstream's text as the answer (status 500 when it failed). */
static void resp_take(struct dash_resp *rs, FILE *f, char **bufp, size_t *lenp,
		      const char *type, int ret)
{
	/* the stream sets *bufp and *lenp when it is closed */
	bool ok = fclose(f) == 0;
	char *buf = *bufp;
	size_t len = *lenp;

	if (!ok || ret < 0 || !buf) {
		free(buf);
		dash_text(rs, 500, ret == -ENOMEM || ret == 0 ? "out of memory\n" :
			  "the store cannot be read: see nftally serve's messages\n");
		return;
	}
	rs->status = 200;
	rs->body = buf;
	rs->len = len;
	rs->type = type;
}

static int64_t dash_now(const struct dash *d)
{
	long long t;
	int64_t at = d->at;
	FILE *f;

	if (!d->fixed_at)
		return (int64_t)time(NULL);
	/* tests only: the time moves on as the file says */
	if (d->at_file && (f = fopen(d->at_file, "r"))) {
		if (fscanf(f, "%lld", &t) == 1)
			at = t;
		fclose(f);
	}
	return at;
}

/* ---- the overview's numbers: snapshots ---- */

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void cur_free(struct dash_cur *k);

static void snap_free(struct dash_snap *x)
{
	if (!x)
		return;
	free(x->host);
	free(x->netns);
	query_bills_free(&x->cur);
	query_bills_free(&x->prev);
	cur_free(x->kept);
	free(x->in);
	free(x->out);
	free(x);
}

/* Drop a reference (the last one frees it). */
static void snap_put(struct dash *d, struct dash_snap *x)
{
	bool last;

	if (!x)
		return;
	pthread_mutex_lock(&d->lock);
	last = --x->refs == 0;
	pthread_mutex_unlock(&d->lock);
	if (last)
		snap_free(x);
}

/* ---- the current cycle, kept between refreshes ---- */

/* One label's current cycle as far as it was read: its slots that had
 * ended, which change only by a report coming late. */
struct cur_label {
	char *label;
	int64_t since, until;
	struct counts c;                /* the samples of those slots */
	struct bill_top in, out, bill;  /* and their largest values */
};

/* Every label's (x->cur's windows, in its order), kept from one snapshot
 * of a set of filters to the next, so that a refresh reads only the slots
 * that ended since, the one in progress and the sparklines' day. */
struct dash_cur {
	int64_t to;       /* the slots before it were read: they had ended */
	int64_t lo;       /* the stamp is of the reports with a time in [lo, to] */
	int64_t stamp[3]; /* taken before the read */
	size_t n;
	struct cur_label *v;
};

/* A cycle is at most a month and a DST hour long: the current cycles'
 * reports are stamped up to 40 days before a refresh, the previous
 * cycles' up to 40 days before the current ones begin. */
#define DASH_CUR_SPAN (40 * 86400)

static void cur_free(struct dash_cur *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].label);
		bill_top_finish(&k->v[i].in);
		bill_top_finish(&k->v[i].out);
		bill_top_finish(&k->v[i].bill);
	}
	free(k->v);
	free(k);
}

/* The current cycle's read: the sparklines being filled, and k being
 * made (full) or added to. */
struct cur_ctx {
	struct dash_snap *x;
	size_t n; /* the windows (labels) the sparklines were made for; 0: not yet */
	struct dash_cur *k;  /* NULL: nothing kept (the central database) */
	bool full;
	size_t last;         /* the window of the last sample, + 1 (0: none) */
	struct counts *prog; /* [k->n]: the samples of slots not ended (in progress) */
	int64_t from;        /* the slots before it are kept: sparklines only */
	enum bill_policy bill;
	struct dash *d;      /* whose work lock the read holds */
	bool yield;          /* its store is not d->store: requests may have d->work */
	size_t seen;         /* the window of the last progress, + 1 */
};

/* Take d->work for a request: said first, so that a snapshot being made
 * lets go of it between two labels (work_yield). */
static void work_lock(struct dash *d)
{
	atomic_fetch_add(&d->work_waiting, 1);
	pthread_mutex_lock(&d->work);
	atomic_fetch_sub(&d->work_waiting, 1);
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* Tests only: hold the refresher's snapshot after `done` labels while the
 * hold file is there and its number is at most done, letting go of
 * d->work (nothing of the read needs it between two labels: the time zone
 * is changed only while the windows are computed, before). */
static void work_hold(struct dash *d, size_t done)
{
	long long h;
	FILE *f = fopen(d->hold_file, "r");
	bool hold = f && fscanf(f, "%lld", &h) == 1 && h >= 0 && (size_t)h <= done;

	if (f)
		fclose(f);
	if (!hold)
		return;
	pthread_mutex_unlock(&d->work);
	for (bool stop = false; !stop && access(d->hold_file, F_OK) == 0;) {
		pause_ms(20);
		pthread_mutex_lock(&d->lock);
		stop = d->stop; /* serve stopped by a test that failed holding it */
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_lock(&d->work);
}

/* Between two labels of a read (window i of n begins): the refresher's
 * snapshot says how far it is; a request waiting for d->work gets it now,
 * for its page, instead of after the whole read (a minute with 10,000
 * labels at the end of a month).  -ECANCELED: serve stops, the read with
 * it. */
static int work_yield(struct cur_ctx *c, size_t i, size_t n)
{
	struct dash *d = c->d;
	bool stop = false;

	c->seen = i + 1;
	pthread_mutex_lock(&d->lock);
	d->build_done = i;
	d->build_n = n;
	stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	if (!stop && d->hold_file && c->yield)
		work_hold(d, i);
	if (c->yield && atomic_load(&d->work_waiting)) {
		pthread_mutex_unlock(&d->work);
		pause_ms(1); /* the waiter's turn: an unlock alone hands nothing over */
		pthread_mutex_lock(&d->work);
	}
	return stop ? -ECANCELED : 0;
}

static int spark_alloc(struct dash_snap *x, size_t n)
{
	x->in = calloc(n * DASH_SPARK_SLOTS + 1, sizeof(*x->in));
	x->out = calloc(n * DASH_SPARK_SLOTS + 1, sizeof(*x->out));
	return x->in && x->out ? 0 : -ENOMEM;
}

/* The last day's samples go to the sparklines (window i of n, in the
 * order of x->cur). */
static int spark_sample(struct cur_ctx *c, const struct store_sample *s, size_t i, size_t n)
{
	struct dash_snap *x = c->x;
	size_t k;

	if (s->t < x->spark_start || s->t >= x->spark_start + DASH_SPARK_SLOTS * BILL_SLOT)
		return 0;
	if (!c->n) {
		if (spark_alloc(x, n) < 0)
			return -ENOMEM;
		c->n = n;
	}
	k = i * DASH_SPARK_SLOTS + (size_t)((s->t - x->spark_start) / BILL_SLOT);
	x->in[k] += s->c.in_bytes;
	x->out[k] += s->c.out_bytes;
	return 0;
}

/* k's n labels (and the slot in progress's counts), for a full read. */
static int cur_alloc(struct cur_ctx *c, size_t n)
{
	struct dash_cur *k = c->k;

	if (!(k->v = calloc(n + 1, sizeof(*k->v))) || !(c->prog = calloc(n + 1, sizeof(*c->prog))))
		return -ENOMEM;
	k->n = n;
	return 0;
}

static void cur_window_set(struct cur_label *l, int64_t since, int64_t until)
{
	size_t kk = bill_top_k(bill_slots(since, until, until));

	l->since = since;
	l->until = until;
	bill_top_init(&l->in, kk);
	bill_top_init(&l->out, kk);
	bill_top_init(&l->bill, kk);
}

/* Is l kept for the window of label from since to until? */
static bool kept_is(const struct cur_label *l, const char *label, int64_t since, int64_t until)
{
	return l->since == since && l->until == until && l->label && strcmp(l->label, label) == 0;
}

/* The first sample of window w (i of n): a full read takes the window;
 * a refresh needs it to be the one kept, else -ESTALE (read it all). */
static int cur_window(struct cur_ctx *c, const struct store_window *w, size_t i, size_t n)
{
	struct dash_cur *k = c->k;

	if (c->full) {
		if (!k->v && cur_alloc(c, n) < 0)
			return -ENOMEM;
		cur_window_set(&k->v[i], w->since, w->until);
		return 0;
	}
	if (n != k->n || !kept_is(&k->v[i], w->label, w->since, w->until))
		return -ESTALE;
	return 0;
}

/* A sample of the current cycle's read (query_bills_opts.sample): to the
 * sparklines, and from the window's start on to what is kept (a slot
 * that has ended) or to the slot in progress's counts. */
static int cur_sample(const struct store_sample *s, const struct store_window *w, size_t i,
		      size_t n, void *data)
{
	struct cur_ctx *c = data;
	struct cur_label *l;
	int ret;

	if (c->d && i + 1 != c->seen && (ret = work_yield(c, i, n)) < 0)
		return ret;
	ret = spark_sample(c, s, i, n);

	if (ret || !c->k || s->t < w->since || s->t < c->from)
		return ret;
	if (i + 1 != c->last && (ret = cur_window(c, w, i, n)) < 0)
		return ret;
	c->last = i + 1;
	if (s->t + BILL_SLOT > c->x->now) { /* as report: not in the percentile */
		counts_add(&c->prog[i], &s->c);
		return 0;
	}
	l = &c->k->v[i];
	counts_add(&l->c, &s->c);
	if (bill_top_add(&l->in, s->c.in_bytes) < 0 || bill_top_add(&l->out, s->c.out_bytes) < 0 ||
	    bill_top_add(&l->bill, bill_bytes(c->bill, s->c.in_bytes, s->c.out_bytes)) < 0)
		return -ENOMEM;
	return 0;
}

/* Label i's cycle as of now from what is kept and the slot in progress. */
static int cur_bill(const struct cur_ctx *c, size_t i, struct query_bill *b)
{
	const struct cur_label *l = &c->k->v[i];

	b->c = l->c;
	counts_add(&b->c, &c->prog[i]);
	b->billed = bill_bytes(c->bill, b->c.in_bytes, b->c.out_bytes);
	return bill_top_p95(&l->in, &l->out, &l->bill, bill_slots(l->since, l->until, c->x->now),
			    &b->p95);
}

static bool bill_same(const struct query_bill *a, const struct query_bill *b)
{
	return memcmp(&a->c, &b->c, sizeof(a->c)) == 0 && a->billed == b->billed &&
	       a->p95.slots == b->p95.slots && a->p95.rank == b->p95.rank &&
	       a->p95.in == b->p95.in && a->p95.out == b->p95.out && a->p95.bill == b->p95.bill;
}

/* After a full read: k takes the labels of x->cur (and the windows
 * without samples), and must give x->cur's numbers exactly, else it is
 * not kept (said: a bug).  0, or -ENOMEM. */
static int cur_made(struct cur_ctx *c)
{
	const struct query_bills *cur = &c->x->cur;
	struct dash_cur *k = c->k;
	struct query_bill b;

	if (!k->v && cur_alloc(c, cur->n) < 0)
		return -ENOMEM;
	if (k->n != cur->n)
		return -EPROTO;
	for (size_t i = 0; i < k->n; i++) {
		if (!k->v[i].until)
			cur_window_set(&k->v[i], cur->v[i].since, cur->v[i].until);
		if (!(k->v[i].label = strdup(cur->v[i].label)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < k->n; i++) {
		b = (struct query_bill){ 0 };
		if (!kept_is(&k->v[i], cur->v[i].label, cur->v[i].since, cur->v[i].until) ||
		    cur_bill(c, i, &b) < 0 || !bill_same(&b, &cur->v[i])) {
			fprintf(stderr, "nftally: serve: the current cycle of %s as kept differs "
				"from its read: not kept\n", cur->v[i].label);
			return -EPROTO;
		}
	}
	return 0;
}

/* The sparklines' slots before from (ended, read by old) are old's: its
 * label i is x's while old's windows are what is kept. */
static void spark_keep(struct dash_snap *x, const struct dash_snap *old, int64_t from)
{
	/* old's day began no later than x's: what it kept was read up to
	 * from, at most x's now (cur_take) */
	for (int64_t t = x->spark_start; t < from; t += BILL_SLOT) {
		size_t a = (size_t)((t - x->spark_start) / BILL_SLOT),
		       b = (size_t)((t - old->spark_start) / BILL_SLOT);

		for (size_t i = 0; i < x->cur.n; i++) {
			x->in[i * DASH_SPARK_SLOTS + a] += old->in[i * DASH_SPARK_SLOTS + b];
			x->out[i * DASH_SPARK_SLOTS + a] += old->out[i * DASH_SPARK_SLOTS + b];
		}
	}
}

/* After a refresh's read: the same windows as kept (else -ESTALE), and
 * x->cur's numbers from what is kept.  0, -ESTALE or -ENOMEM. */
static int cur_added(struct cur_ctx *c)
{
	struct query_bills *cur = &c->x->cur;
	struct dash_cur *k = c->k;
	int ret = 0;

	if (k->n != cur->n)
		return -ESTALE;
	for (size_t i = 0; i < k->n; i++)
		if (!kept_is(&k->v[i], cur->v[i].label, cur->v[i].since, cur->v[i].until))
			return -ESTALE;
	for (size_t i = 0; i < k->n && ret == 0; i++)
		ret = cur_bill(c, i, &cur->v[i]);
	return ret == -EINVAL ? -ESTALE : ret;
}

/* What old kept (taken from it: old is replaced), if it can be added to
 * at now: the stamp of the reports over the slots it read is the same as
 * before its read (none came late, none was pruned), the clock has not
 * gone back.  NULL: read the cycle whole. */
static struct dash_cur *cur_take(struct source *st, struct dash_snap *old, int64_t to)
{
	struct dash_cur *k = old ? old->kept : NULL;
	struct err ignored = { "" };
	int64_t stamp[3];

	if (!k)
		return NULL;
	old->kept = NULL;
	if (k->to > to || source_reports_stamp(st, k->lo, k->to, stamp, &ignored) < 0 ||
	    memcmp(stamp, k->stamp, sizeof(stamp)) != 0) {
		cur_free(k);
		return NULL;
	}
	return k;
}

/* One read of the current cycle with c (x's sparklines from the start). */
static int cur_pass(struct source *st, struct cur_ctx *c, struct query_bills_opts *o,
		    struct err *e)
{
	struct dash_snap *x = c->x;
	int ret;

	free(x->in);
	free(x->out);
	x->in = x->out = NULL;
	query_bills_free(&x->cur);
	c->n = 0;
	c->last = 0;
	o->sample_data = c;
	ret = query_bills(st, o, &x->cur, e);
	if (ret == 0 && c->n && c->n != x->cur.n) /* query_bills' result is its windows */
		ret = err_setn(e, -EPROTO, "the sparklines' labels are not the cycle's");
	if (ret == 0 && !c->n && spark_alloc(x, x->cur.n) < 0)
		ret = -ENOMEM;
	return ret;
}

/* The current cycle of every label, its 95th percentiles, totals and last
 * day (the DASH_SPARK_SLOTS whole 5-minute slots before the one in
 * progress, which may begin in the cycle before), into x: with what old
 * kept (NULL: nothing), one read of the samples from the slots that
 * ended since it was read (or the day's start, if earlier); else of the
 * whole cycle, keeping what the next refresh can add to (when the store
 * has a stamp of its reports and the totals come from its samples: the
 * largest 5 % of a month's values, 107 MB with 10,000 labels for each set
 * of filters kept; without them the refresher read a month whole for each
 * filtered snapshot at every refresh, two minutes at 10,000 labels). */
static int cur_read(struct dash *d, struct source *st, struct dash_snap *x,
		    struct dash_snap *old, struct query_bills_opts *o, struct err *e)
{
	struct cur_ctx c = { .x = x, .from = INT64_MIN, .bill = o->bill, .d = d,
			     .yield = st != d->store };
	struct err ignored = { "" };
	int64_t to = x->now / BILL_SLOT * BILL_SLOT, from;
	int ret;

	x->spark_start = to - DASH_SPARK_SLOTS * BILL_SLOT;
	o->cycle = "current";
	o->sample = cur_sample;
	o->sample_since = x->spark_start;
	if ((c.k = cur_take(st, old, to))) {
		c.from = from = c.k->to;
		c.k->to = to;
		if (!(c.prog = calloc(c.k->n + 1, sizeof(*c.prog)))) {
			ret = -ENOMEM;
			goto out;
		}
		/* stamped before the read: a report during it changes the next */
		if (source_reports_stamp(st, c.k->lo, to, c.k->stamp, &ignored) < 0) {
			ret = -ESTALE;
		} else {
			/* the sparklines' day before from is old's */
			o->sample_since = from;
			o->sample_only = true;
			ret = cur_pass(st, &c, o, e);
			o->sample_only = false;
			ret = ret ? ret : cur_added(&c);
			if (ret == 0 && old->cur.n == x->cur.n)
				spark_keep(x, old, from);
			else if (ret == 0)
				ret = -ESTALE;
		}
		x->read_from = from;
		if (ret != -ESTALE)
			goto out;
		e->msg[0] = '\0'; /* another label, cycle or window: all of it */
		cur_free(c.k);
		free(c.prog);
		c.prog = NULL;
		c.from = INT64_MIN;
		o->sample_since = x->spark_start;
	}
	c.full = true;
	x->read_from = INT64_MIN;
	if ((c.k = calloc(1, sizeof(*c.k)))) {
		c.k->to = to;
		c.k->lo = to - DASH_CUR_SPAN;
	}
	if (c.k && source_reports_stamp(st, c.k->lo, to, c.k->stamp, &ignored) < 0) {
		cur_free(c.k); /* no stamp (the central database): nothing kept */
		c.k = NULL;
	}
	ret = cur_pass(st, &c, o, e);
	if (ret == 0 && c.k && (!x->cur.from_samples || cur_made(&c) < 0)) {
		cur_free(c.k); /* the totals not from the samples: read whole */
		c.k = NULL;
	}
out:
	o->sample = NULL;
	free(c.prog);
	if (ret < 0)
		cur_free(c.k);
	else
		x->kept = c.k;
	if (ret == -ENOMEM)
		return err_setn(e, ret, "out of memory");
	return ret;
}

/* What the reports that could touch the previous cycles of x->cur are
 * stamped over: a report's samples go to the slot of its last second, so
 * times in (start, end] of each; the start at most 40 days (a month and
 * a DST hour, with room) before the end. */
static void prev_span(const struct dash_snap *x, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MAX;
	*hi = INT64_MIN;
	for (size_t i = 0; i < x->cur.n; i++) {
		if (x->cur.v[i].since < *lo)
			*lo = x->cur.v[i].since;
		if (x->cur.v[i].since > *hi)
			*hi = x->cur.v[i].since;
	}
	*lo = x->cur.n ? *lo - DASH_CUR_SPAN : 0;
	*hi = x->cur.n ? *hi : 0;
}

/* Can x keep old's previous cycles?  When they are the cycles that end
 * where x's current ones begin, label by label, read less than
 * DASH_PREV_SECONDS ago, and no report has been recorded for them (or
 * pruned) since: the store's reports say so (stamp, as taken for x). */
static bool prev_stands(const struct dash_snap *old, const struct dash_snap *x,
			const int64_t stamp[3])
{
	if (!old || !old->stamped || !x->stamped || old->prev.n != x->cur.n ||
	    time(NULL) - old->prev_made >= DASH_PREV_SECONDS ||
	    memcmp(old->prev_stamp, stamp, 3 * sizeof(*stamp)) != 0)
		return false;
	for (size_t i = 0; i < x->cur.n; i++)
		if (old->prev.v[i].until != x->cur.v[i].since ||
		    strcmp(old->prev.v[i].label, x->cur.v[i].label) != 0)
			return false;
	return true;
}

static int bills_copy(struct query_bills *to, const struct query_bills *from)
{
	*to = (struct query_bills){ calloc(from->n + 1, sizeof(*to->v)), 0 };
	if (!to->v)
		return -ENOMEM;
	for (; to->n < from->n; to->n++) {
		to->v[to->n] = from->v[to->n];
		if (!(to->v[to->n].label = strdup(from->v[to->n].label)))
			return -ENOMEM;
	}
	return 0;
}

/* A sample of the previous cycle's read: only how far it is, and the
 * store's lock to a request between two labels (work_yield). */
static int prev_sample(const struct store_sample *s, const struct store_window *w, size_t i,
		       size_t n, void *data)
{
	struct cur_ctx *c = data;

	(void)s;
	(void)w;
	return i + 1 != c->seen ? work_yield(c, i, n) : 0;
}

/* The previous cycle of every label into x: old's (the last snapshot of
 * the same filters, NULL: none) while it stands, else read, after the
 * reports' stamp is taken (a report recorded during the read changes the
 * next one's).  An ended cycle changes only by such a report. */
static int prev_read(struct dash *d, struct source *st, struct dash_snap *x,
		     const struct dash_snap *old, struct query_bills_opts *o, struct err *e)
{
	struct cur_ctx c = { .d = d, .yield = st != d->store };
	struct err ignored = { "" };
	int64_t lo, hi;
	int ret;

	prev_span(x, &lo, &hi);
	/* no stamp (the central database): read every time */
	x->stamped = source_reports_stamp(st, lo, hi, x->prev_stamp, &ignored) == 0;
	if (prev_stands(old, x, x->prev_stamp)) {
		x->prev_made = old->prev_made;
		ret = bills_copy(&x->prev, &old->prev);
		return ret < 0 ? err_setn(e, ret, "out of memory") : 0;
	}
	x->prev_made = (int64_t)time(NULL);
	o->cycle = "previous";
	/* the samples from each window's start (none before): the totals
	 * from them too when they hold the cycle, as the current one's */
	o->sample = prev_sample;
	o->sample_data = &c;
	o->sample_since = INT64_MAX;
	ret = query_bills(st, o, &x->prev, e);
	o->sample = NULL;
	return ret;
}

/* A new snapshot of the overview for host and netns as of now, by the
 * refresher from its store (it holds d->work: the cycles change the
 * process's time zone while they are computed; the read lets requests
 * have it between two labels), keeping what it can of old (the last one
 * of the same filters; NULL: none), its progress said in d.  NULL when it
 * failed (logged, unless serve stops). */
static struct dash_snap *snap_make(struct dash *d, const char *host, const char *netns,
				   int64_t now, struct dash_snap *old)
{
	struct source *st = d->bg_store;
	struct dash_snap *x = calloc(1, sizeof(*x));
	struct query_bills_opts o = { "current", d->bill, d->billing, now, NULL, host, netns, 0,
				      NULL, NULL, 0 };
	struct err e = { "" };
	int ret = x ? 0 : -ENOMEM;

	if (ret == 0 && ((host && !(x->host = strdup(host))) ||
			 (netns && !(x->netns = strdup(netns)))))
		ret = -ENOMEM;
	if (ret == 0) {
		x->now = now;
		ret = cur_read(d, st, x, old, &o, &e);
	}
	if (ret == 0) {
		pthread_mutex_lock(&d->lock);
		d->build_done = 0; /* of the previous cycle's read */
		d->build_n = x->cur.n;
		d->build_prev = true;
		pthread_mutex_unlock(&d->lock);
	}
	if (ret == 0)
		ret = prev_read(d, st, x, old, &o, &e);
	if (ret < 0) {
		if (ret != -ECANCELED)
			fprintf(stderr, "nftally: serve: %s\n", e.msg[0] ? e.msg : strerror(-ret));
		snap_free(x);
		return NULL;
	}
	x->made = (int64_t)time(NULL);
	x->refs = 1;
	if (d->at_file && x->read_from == INT64_MIN) /* tests only: which read it was */
		fprintf(stderr, "nftally: serve: test: @%lld%s%s: the current cycle read whole\n",
			(long long)now, host ? " host=" : "", host ? host : "");
	else if (d->at_file)
		fprintf(stderr, "nftally: serve: test: @%lld%s%s: the current cycle read "
			"from @%lld\n",
			(long long)now, host ? " host=" : "", host ? host : "",
			(long long)x->read_from);
	return x;
}

/* Has DASH_CACHE_SECONDS passed at t since when (or has the clock gone
 * back before it)? */
static bool aged(int64_t t, int64_t when)
{
	return t < when || t - when >= DASH_CACHE_SECONDS;
}

/* Is x, the snapshot of some filters, as of now?  With a fixed time (the
 * tests'), of that time; else made less than DASH_CACHE_SECONDS ago. */
static bool snap_fresh(const struct dash *d, const struct dash_snap *x, int64_t now)
{
	return d->fixed_at ? x->now == now : !aged((int64_t)time(NULL), x->made);
}

/* *ts: ms from now on the clock of the condition variables (monotonic:
 * the wall clock may be set back meanwhile). */
static void deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += ms % 1000 * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* How far a snapshot being made is, for the overview's 503: its labels
 * read of the current cycle, or the previous cycle; queued: not begun
 * (the refresher makes another first). */
struct dash_build {
	bool on, queued;
	size_t done, n;
	bool prev;
};

#define DASH_WAIT_MS 1500 /* a request for new filters waits this long for them */
/* a set of filters' first snapshot, not yet answered, keeps its slot this
 * long (a 503's Retry-After, and some) */
#define DASH_UNSEEN_SECONDS (3 * DASH_RETRY_SECONDS)

/* Free filter slot i (under lock); its snapshot, to snap_put after. */
static struct dash_snap *filter_clear(struct dash *d, size_t i)
{
	struct dash_filter *f = &d->filters[i];
	struct dash_snap *x = f->snap;

	free(f->host);
	free(f->netns);
	*f = (struct dash_filter){ .gen = f->gen + 1 };
	return x;
}

/* Is slot i's snapshot still to be made (under lock): being made, or
 * waiting for the refresher? */
static bool filter_making(const struct dash *d, size_t i)
{
	const struct dash_filter *f = &d->filters[i];

	return f->asked && ((d->build_slot == i && d->build_gen == f->gen) ||
			    (!f->snap && !f->failed) ||
			    /* made, not yet answered: its requester comes back
			     * after its 503's Retry-After */
			    (f->snap && !f->seen &&
			     (int64_t)time(NULL) - f->snap->made < DASH_UNSEEN_SECONDS));
}

/* The slot of host and netns into *slot (under lock): theirs, or one
 * taken for them (free, else the one asked for longest ago whose snapshot
 * is not being made: its snapshot into *drop) and queued for the
 * refresher.  0, -EBUSY (every slot's snapshot is being made or waits
 * for it: none taken) or -ENOMEM. */
static int filter_slot(struct dash *d, const char *host, const char *netns, size_t *slot,
		       struct dash_snap **drop)
{
	size_t i, lru = SIZE_MAX;

	for (i = 0; i < DASH_FILTERS; i++) {
		struct dash_filter *f = &d->filters[i];

		if (f->asked && same(f->host, host) && same(f->netns, netns)) {
			*slot = i;
			return 0;
		}
		if (!filter_making(d, i) && (lru == SIZE_MAX || f->asked < d->filters[lru].asked))
			lru = i;
	}
	if (lru == SIZE_MAX)
		return -EBUSY;
	*drop = filter_clear(d, lru);
	if ((host && !(d->filters[lru].host = strdup(host))) ||
	    (netns && !(d->filters[lru].netns = strdup(netns)))) {
		filter_clear(d, lru); /* no snapshot yet: none to drop */
		return -ENOMEM;
	}
	d->filters[lru].asked = 1; /* taken: the caller says when */
	pthread_cond_signal(&d->cond);
	*slot = lru;
	return 0;
}

/* The overview's snapshot for r's filters (a reference: snap_put it):
 * without filters the refresher's; with filters the newest the refresher
 * made of them, whatever its age (it makes them again with its own),
 * waiting at most DASH_WAIT_MS for the first.  NULL when none could be
 * made, or (*building set, with its progress) while none is made yet: no
 * request waits a minute for it. */
static struct dash_snap *snap_for(struct dash *d, const char *host, const char *netns,
				  struct dash_build *building)
{
	struct dash_snap *x = NULL, *drop = NULL;
	struct dash_filter *f;
	struct timespec until;
	size_t i = SIZE_MAX;
	unsigned gen;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	/* asked for while the refresher makes its first: made next */
	if ((host || netns) && (ret = filter_slot(d, host, netns, &i, &drop)) == 0)
		d->filters[i].asked = (int64_t)time(NULL);
	if (!d->snap && !d->failed) {
		*building = (struct dash_build){ true, false, d->build_done, d->build_n,
						 d->build_prev };
		goto out;
	}
	if (ret == -EBUSY) /* a slot for them once one is made */
		*building = (struct dash_build){ .on = true, .queued = true };
	if (ret < 0)
		goto out;
	if (i == SIZE_MAX) {
		x = d->snap;
		goto out;
	}
	f = &d->filters[i];
	gen = f->gen;
	deadline(&until, DASH_WAIT_MS);
	/* a slot is taken again only for other filters (gen): then no wait */
	while (f->gen == gen && !f->snap && !f->failed && !d->stop &&
	       pthread_cond_timedwait(&d->made, &d->lock, &until) != ETIMEDOUT)
		;
	if (f->gen == gen && f->snap) {
		x = f->snap;
		f->seen = true;
	} else if (f->gen != gen) { /* the slot taken for other filters meanwhile */
		*building = (struct dash_build){ .on = true, .queued = true };
	} else if (!f->failed) {
		bool now_i = d->build_slot == i && d->build_gen == gen;

		*building = (struct dash_build){ true, !now_i, now_i ? d->build_done : 0,
						 now_i ? d->build_n : 0, now_i && d->build_prev };
	}
out:
	if (x)
		x->refs++;
	pthread_mutex_unlock(&d->lock);
	snap_put(d, drop);
	return x;
}

/* A snapshot to make (under lock), in the order: the refresher's own, the
 * filters' without one, the others asked for in the last DASH_FILTER_IDLE
 * seconds, the one made longest ago first (those asked for longer ago are
 * forgotten into *drop); none fresh as of now, none whose making failed
 * less than DASH_CACHE_SECONDS ago.  DASH_FILTERS: its own; SIZE_MAX:
 * none. */
static size_t snap_next(struct dash *d, int64_t now, struct dash_snap **drop)
{
	int64_t t = (int64_t)time(NULL);
	size_t pick = SIZE_MAX;

	if ((!d->snap || !snap_fresh(d, d->snap, now)) && (!d->tried || aged(t, d->tried)))
		return DASH_FILTERS;
	for (size_t i = 0; i < DASH_FILTERS; i++) {
		struct dash_filter *f = &d->filters[i];

		if (!f->asked)
			continue;
		if (t - f->asked >= DASH_FILTER_IDLE && !*drop) {
			*drop = filter_clear(d, i);
			continue;
		}
		if (f->failed && !aged(t, f->tried))
			continue;
		if (!f->snap)
			return i;
		if (!snap_fresh(d, f->snap, now) &&
		    (pick == SIZE_MAX || f->snap->made < d->filters[pick].snap->made))
			pick = i;
	}
	return pick;
}

static void due_min(int64_t *due, int64_t when)
{
	if (when < *due)
		*due = when;
}

/* How long the refresher may sleep (under lock), in ms: until the next
 * snapshot is due (made DASH_CACHE_SECONDS ago, unless the time is fixed;
 * its making failed that long ago) or a set of filters is to be
 * forgotten; from 1 to DASH_CACHE_SECONDS seconds. */
static long snap_due(const struct dash *d)
{
	int64_t t = (int64_t)time(NULL), due = t + DASH_CACHE_SECONDS, wait;

	if (d->snap && !d->fixed_at)
		due_min(&due, d->snap->made + DASH_CACHE_SECONDS);
	if (d->tried && (!d->snap || d->tried > d->snap->made)) /* its last making failed */
		due_min(&due, d->tried + DASH_CACHE_SECONDS);
	for (size_t i = 0; i < DASH_FILTERS; i++) {
		const struct dash_filter *f = &d->filters[i];

		if (!f->asked)
			continue;
		due_min(&due, f->asked + DASH_FILTER_IDLE);
		if (f->failed)
			due_min(&due, f->tried + DASH_CACHE_SECONDS);
		else if (f->snap && !d->fixed_at)
			due_min(&due, f->snap->made + DASH_CACHE_SECONDS);
	}
	wait = due - t;
	return (wait < 1 ? 1 : wait > DASH_CACHE_SECONDS ? DASH_CACHE_SECONDS : wait) * 1000L;
}

/* Make snapshot `which` (snap_next's) as of now (called and returning
 * under lock, which it lets go of meanwhile). */
static void snap_run(struct dash *d, size_t which, int64_t now)
{
	struct dash_filter *f = which < DASH_FILTERS ? &d->filters[which] : NULL;
	struct dash_snap *x, *old = f ? f->snap : d->snap, *drop = NULL;
	char *host = NULL, *netns = NULL;
	unsigned gen = f ? f->gen : 0;
	bool nomem = f && ((f->host && !(host = strdup(f->host))) ||
			   (f->netns && !(netns = strdup(f->netns))));

	if (old)
		old->refs++;
	d->build_slot = which;
	d->build_gen = gen;
	d->build_done = d->build_n = 0;
	d->build_prev = false;
	pthread_mutex_unlock(&d->lock);
	if (nomem) {
		fprintf(stderr, "nftally: serve: out of memory\n");
		x = NULL;
	} else {
		pthread_mutex_lock(&d->work);
		x = snap_make(d, host, netns, now, old);
		pthread_mutex_unlock(&d->work);
	}
	free(host);
	free(netns);
	snap_put(d, old);
	pthread_mutex_lock(&d->lock);
	d->build_slot = SIZE_MAX;
	if (!f) {
		drop = x ? d->snap : NULL;
		if (x)
			d->snap = x;
		else
			d->tried = (int64_t)time(NULL);
		if (!x && !d->snap)
			d->failed = true;
	} else if (f->gen != gen) { /* taken for other filters meanwhile */
		drop = x;
	} else if (x) {
		drop = f->snap;
		f->snap = x;
		f->failed = false;
	} else {
		f->failed = true;
		f->tried = (int64_t)time(NULL);
	}
	pthread_cond_broadcast(&d->made);
	if (drop && --drop->refs == 0) {
		pthread_mutex_unlock(&d->lock);
		snap_free(drop);
		pthread_mutex_lock(&d->lock);
	}
}

/* The refresher: every snapshot, on a store connection of its own, so that
 * no request waits for the computation: its own of every label every
 * DASH_CACHE_SECONDS (once with a fixed --at; with the tests' at_file,
 * when its time changes), and the filtered ones as often while they are
 * asked for, each keeping what it can of the one before. */
static void *refresher(void *arg)
{
	struct dash *d = arg;
	struct dash_snap *drop = NULL;
	struct timespec until;
	size_t which;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		int64_t now = dash_now(d);

		which = snap_next(d, now, &drop);
		if (drop) {
			pthread_mutex_unlock(&d->lock);
			snap_put(d, drop);
			drop = NULL;
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (which != SIZE_MAX) {
			snap_run(d, which, now);
			continue;
		}
		/* the tests' time is looked at five times a second; a fixed
		 * one's snapshots stay fresh, but the filters asked for
		 * may be forgotten, or made again after failing */
		deadline(&until, d->at_file ? 200 : snap_due(d));
		pthread_cond_timedwait(&d->cond, &d->lock, &until);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int dash_start(struct dash *d, struct source *bg, struct err *e)
{
	pthread_condattr_t ca;
	int ret;

	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadline()'s clock */
	pthread_cond_init(&d->cond, &ca);
	pthread_cond_init(&d->made, &ca);
	pthread_condattr_destroy(&ca);
	d->locks = true;
	d->bg_store = bg;
	d->build_slot = SIZE_MAX;
	if ((ret = pthread_create(&d->thread, NULL, refresher, d)) != 0)
		return err_setn(e, -ret, "serve: cannot start a thread: %s", strerror(ret));
	d->started = true;
	return 0;
}

/* One line of the overview: a label's two cycles and what it sorts by. */
struct ov_row {
	const struct query_bill *cur, *prev;
	size_t i; /* in the snapshot */
	uint64_t key;
};

enum ov_sort { SORT_LABEL, SORT_IN, SORT_OUT, SORT_BILLED, SORT_P95, SORT_PREV };
static const char *const sort_names[] = { "label", "in", "out", "billed", "p95", "prev_billed" };

static int row_asc(const void *a, const void *b)
{
	const struct ov_row *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->cur->label, y->cur->label);
}

static int row_desc(const void *a, const void *b)
{
	const struct ov_row *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return strcmp(x->cur->label, y->cur->label);
}

static int row_label_desc(const void *a, const void *b)
{
	return -strcmp(((const struct ov_row *)a)->cur->label,
		       ((const struct ov_row *)b)->cur->label);
}

/* The overview's request: filters, order, page. */
struct ov_req {
	const char *label, *host, *netns;
	enum ov_sort sort;
	bool desc;
	size_t page, per_page;
};

static size_t arg_size(const struct dash_req *rq, const char *k, size_t dflt, size_t max)
{
	const char *v = rq->get(rq->ctx, k);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return dflt;
	n = strtoul(v, &end, 10);
	if (*end || n < 1)
		return dflt;
	return n > max ? max : n;
}

static const char *arg_nonempty(const struct dash_req *rq, const char *k)
{
	const char *v = rq->get(rq->ctx, k);

	return v && *v ? v : NULL;
}

/* ?netns=: empty (a form's empty field) is no filter; "-" is the
 * namespace nftally started in (the store's netns "") */
static const char *arg_netns(const struct dash_req *rq)
{
	const char *v = arg_nonempty(rq, "netns");

	return v && strcmp(v, "-") == 0 ? "" : v;
}

/* ... and back, for links and the form */
static const char *netns_text(const char *netns)
{
	return netns && !*netns ? "-" : netns;
}

static void ov_parse(const struct dash_req *rq, struct ov_req *r)
{
	const char *s = rq->get(rq->ctx, "sort"), *o = rq->get(rq->ctx, "order");

	*r = (struct ov_req){ .label = arg_nonempty(rq, "label"), .host = arg_nonempty(rq, "host"),
			      .netns = arg_netns(rq) };
	for (size_t i = 0; s && i < sizeof(sort_names) / sizeof(*sort_names); i++)
		if (strcmp(s, sort_names[i]) == 0)
			r->sort = (enum ov_sort)i;
	/* numbers: the largest first unless asked otherwise */
	r->desc = o ? strcmp(o, "desc") == 0 : r->sort != SORT_LABEL;
	r->per_page = arg_size(rq, "per_page", DASH_PER_PAGE, DASH_PER_PAGE_MAX);
	r->page = arg_size(rq, "page", 1, SIZE_MAX / DASH_PER_PAGE_MAX);
}

static uint64_t sort_key(enum ov_sort s, const struct query_bill *c, const struct query_bill *p)
{
	switch (s) {
	case SORT_IN: return c->c.in_bytes;
	case SORT_OUT: return c->c.out_bytes;
	case SORT_BILLED: return c->billed;
	case SORT_P95: return bill_bps(c->p95.bill);
	case SORT_PREV: return p ? p->billed : 0;
	default: return 0;
	}
}

/* The labels that pass the filters, sorted: *rows (malloc'd), *n. */
static int ov_rows(const struct dash_snap *x, const struct ov_req *r, struct ov_row **rows,
		   size_t *n)
{
	const struct query_bills *cur = &x->cur, *prev = &x->prev;
	struct ov_row *v = malloc((cur->n ? cur->n : 1) * sizeof(*v));
	bool filtered = r->host || r->netns;

	*n = 0;
	if (!(*rows = v))
		return -ENOMEM;
	for (size_t i = 0; i < cur->n; i++) {
		const struct query_bill *c = &cur->v[i];
		/* both lists are every label of the store, sorted */
		const struct query_bill *p = i < prev->n && strcmp(prev->v[i].label, c->label) == 0 ?
					     &prev->v[i] : NULL;

		if (r->label && !strstr(c->label, r->label))
			continue;
		/* with a host or netns: the labels with traffic from there */
		if (filtered && !c->c.in_packets && !c->c.out_packets && !c->c.in_bytes &&
		    !c->c.out_bytes && (!p || (!p->c.in_bytes && !p->c.out_bytes &&
					       !p->c.in_packets && !p->c.out_packets)))
			continue;
		v[*n] = (struct ov_row){ c, p, i, sort_key(r->sort, c, p) };
		(*n)++;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), r->sort == SORT_LABEL ? (r->desc ? row_label_desc : row_asc) :
		      r->desc ? row_desc : row_asc);
	return 0;
}

/* ---- JSON ---- */

/* A cycle with the keys of report --cycle's and --p95's JSON lines. */
static json_object *cycle_json(const struct query_bill *x, enum bill_policy p)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "period", json_object_new_string(x->period));
	json_object_object_add(o, "cycle_start", json_object_new_int64(x->since));
	json_object_object_add(o, "cycle_end", json_object_new_int64(x->until));
	output_json_u64(o, "in_bytes", x->c.in_bytes);
	output_json_u64(o, "in_packets", x->c.in_packets);
	output_json_u64(o, "out_bytes", x->c.out_bytes);
	output_json_u64(o, "out_packets", x->c.out_packets);
	json_object_object_add(o, "bill", json_object_new_string(bill_policy_name(p)));
	output_json_u64(o, "billed_bytes", x->billed);
	output_json_u64(o, "slots", x->p95.slots);
	output_json_u64(o, "rank", x->p95.rank);
	output_json_u64(o, "in_p95_bps", bill_bps(x->p95.in));
	output_json_u64(o, "out_p95_bps", bill_bps(x->p95.out));
	output_json_u64(o, "bill_p95_bps", bill_bps(x->p95.bill));
	return o;
}

/* The label's quota (NULL: none) and what its cycle so far, c, counts
 * against it (the quota's own bill=: the row's counts, so every host and
 * namespace the filters leave). */
static const struct quota *dash_quota(const struct dash *d, const struct query_bill *c,
				      uint64_t *used)
{
	const struct quota *q = d->quotas ? quotas_find(d->quotas, c->label) : NULL;

	*used = q ? quota_billed(q->bill, &c->c) : 0;
	return q;
}

/* used of limit in whole percent, rounded down (an exceeded quota > 100). */
static uint64_t quota_percent(uint64_t used, uint64_t limit)
{
	return used / limit * 100 + used % limit * 100 / limit;
}

/* The quota of the current cycle c, as the overview and the label give it
 * (NULL without one). */
static json_object *quota_json(const struct dash *d, const struct query_bill *c)
{
	uint64_t used;
	const struct quota *q = dash_quota(d, c, &used);
	json_object *o = q ? json_object_new_object() : NULL;

	if (!o)
		return NULL;
	output_json_u64(o, "limit_bytes", q->limit);
	output_json_u64(o, "used_bytes", used);
	json_object_object_add(o, "bill", json_object_new_string(quota_bill_name(q->bill)));
	output_json_u64(o, "percent", quota_percent(used, q->limit));
	json_object_object_add(o, "state", json_object_new_int(quota_state(q, used)));
	return o;
}

/* bytes over len seconds in bit/s, rounded half up (bill_bps for 300). */
static uint64_t rate(uint64_t bytes, int64_t len)
{
	return (bytes * 8 + (uint64_t)len / 2) / (uint64_t)len;
}

static json_object *rates_json(const uint64_t *v, size_t n, const int64_t *t, int64_t step)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)rate(v[i], t ? t[i + 1] - t[i]
									       : step)));
	return a;
}

static int put_json(FILE *f, json_object *o)
{
	if (!o)
		return -ENOMEM;
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputc('\n', f);
	json_object_put(o);
	return 0;
}

/* The page's lines: rows [first, last) of v. */
static json_object *overview_json(const struct dash *d, const struct ov_req *r,
				  const struct dash_snap *x, const struct ov_row *v, size_t n,
				  size_t total)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	json_object_object_add(o, "now", json_object_new_int64(x->now));
	json_object_object_add(o, "made", json_object_new_int64(x->made));
	json_object_object_add(o, "bill", json_object_new_string(bill_policy_name(d->bill)));
	output_json_u64(o, "total", total);
	output_json_u64(o, "page", r->page);
	output_json_u64(o, "per_page", r->per_page);
	json_object_object_add(o, "sort", json_object_new_string(sort_names[r->sort]));
	json_object_object_add(o, "order", json_object_new_string(r->desc ? "desc" : "asc"));
	json_object_object_add(o, "spark_start", json_object_new_int64(x->spark_start));
	json_object_object_add(o, "spark_step", json_object_new_int64(BILL_SLOT));
	for (size_t i = 0; i < n; i++) {
		const uint64_t *in = &x->in[v[i].i * DASH_SPARK_SLOTS];
		const uint64_t *out = &x->out[v[i].i * DASH_SPARK_SLOTS];
		json_object *l = json_object_new_object();

		if (!l)
			break;
		json_object_object_add(l, "label", json_object_new_string(v[i].cur->label));
		json_object_object_add(l, "current", cycle_json(v[i].cur, d->bill));
		if (d->quotas && quotas_find(d->quotas, v[i].cur->label))
			json_object_object_add(l, "quota", quota_json(d, v[i].cur));
		if (v[i].prev)
			json_object_object_add(l, "previous", cycle_json(v[i].prev, d->bill));
		json_object_object_add(l, "spark_in_bps",
				       rates_json(in, DASH_SPARK_SLOTS, NULL, BILL_SLOT));
		json_object_object_add(l, "spark_out_bps",
				       rates_json(out, DASH_SPARK_SLOTS, NULL, BILL_SLOT));
		json_object_array_add(a, l);
	}
	json_object_object_add(o, "labels", a);
	return o;
}

/* ---- HTML ---- */

static void html(FILE *f, const char *s)
{
	char *h = cell_html(s);

	fputs(h ? h : "", f);
	free(h);
}

static void url(FILE *f, const char *s)
{
	char *u = cell_url(s);

	fputs(u ? u : "", f);
	free(u);
}

/* "&k=v" (URL-encoded) when v is set, for links and the API's address. */
static void qarg(FILE *f, const char *k, const char *v, bool *first)
{
	if (!v)
		return;
	fprintf(f, "%s%s=", *first ? "?" : "&amp;", k);
	url(f, v);
	*first = false;
}

/* The overview's query string with sort, order and page as given. */
static void ov_query(FILE *f, const struct dash_req *rq, const struct ov_req *r,
		     enum ov_sort sort, bool desc, size_t page)
{
	char pp[32], pg[32];
	bool first = true;

	snprintf(pp, sizeof(pp), "%zu", r->per_page);
	snprintf(pg, sizeof(pg), "%zu", page);
	qarg(f, "label", r->label, &first);
	qarg(f, "host", r->host, &first);
	qarg(f, "netns", netns_text(r->netns), &first);
	qarg(f, "sort", sort_names[sort], &first);
	qarg(f, "order", desc ? "desc" : "asc", &first);
	qarg(f, "per_page", pp, &first);
	qarg(f, "page", pg, &first);
	qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
}

static void head(FILE *f, const char *title, const char *page)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>", f);
	html(f, title);
	fprintf(f, "</title>\n<link rel=\"stylesheet\" href=\"/static/dygraph.css\">\n"
		"<link rel=\"stylesheet\" href=\"/static/nftally.css\">\n"
		"<script src=\"/static/dygraph.min.js\"></script>\n"
		"<script src=\"/static/nftally.js\"></script>\n</head>\n"
		"<body data-page=\"%s\" ", page);
}

/* A number cell: the exact value in data-v, a readable one shown. */
static void num(FILE *f, const char *k, uint64_t v, bool bytes)
{
	char b[64];

	if (bytes)
		units_format(v, "auto-bin", b, sizeof(b));
	else if (v >= 1000000)
		snprintf(b, sizeof(b), "%.2f Mbit/s", (double)v / 1e6);
	else if (v >= 1000)
		snprintf(b, sizeof(b), "%.2f kbit/s", (double)v / 1e3);
	else
		snprintf(b, sizeof(b), "%" PRIu64 " bit/s", v);
	fprintf(f, "<td class=\"n\" data-k=\"%s\" data-v=\"%" PRIu64 "\" title=\"%" PRIu64 "\">%s</td>",
		k, v, v, b);
}

/* t as local time, or (utc) as UTC without touching the time zone: what
 * runs without d->work must not, as the cycles change it meanwhile */
static void when(FILE *f, int64_t t, bool utc)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char b[64];

	if (utc) {
		gmtime_r(&tt, &tm);
		fprintf(f, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min);
		return;
	}
	localtime_r(&tt, &tm);
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M %Z", &tm);
	html(f, b);
}

/* A quota's bar: a meter of used against the limit, and the percent. */
static void quota_cell(FILE *f, const struct dash *d, const struct query_bill *c)
{
	uint64_t used;
	const struct quota *q = dash_quota(d, c, &used);
	char u[32], l[32];
	uint64_t warn;

	if (!q) {
		fputs("<td class=\"quota\"></td>", f);
		return;
	}
	units_format(used, "auto-bin", u, sizeof(u));
	units_format(q->limit, "auto-bin", l, sizeof(l));
	/* the meter's colours: below the first warning good, from there to
	 * the limit a warning, at the limit (exceeded) bad */
	warn = q->nwarn ? q->limit / 100 * q->warn[0] + q->limit % 100 * q->warn[0] / 100 :
	       q->limit - 1;
	fprintf(f, "<td class=\"quota quota-%d\" data-quota-used=\"%" PRIu64 "\" "
		"data-quota-limit=\"%" PRIu64 "\" title=\"%s of %s (%s)\"><meter min=\"0\" "
		"max=\"%" PRIu64 "\" low=\"%" PRIu64 "\" high=\"%" PRIu64 "\" optimum=\"0\" "
		"value=\"%" PRIu64 "\"></meter> %" PRIu64 "%%</td>", quota_state(q, used), used,
		q->limit, u, l, quota_bill_name(q->bill), q->limit, warn, q->limit - 1,
		used < q->limit ? used : q->limit, quota_percent(used, q->limit));
}

static void overview_html(FILE *f, const struct dash *d, const struct dash_req *rq,
			  const struct ov_req *r, const struct ov_row *v, size_t n, size_t total,
			  int64_t now)
{
	static const char *const heads[] = { "Label", "In", "Out", "Billed", "p95", "Previous" };
	size_t pages = total ? (total + r->per_page - 1) / r->per_page : 1;

	head(f, "nftally: overview", "overview");
	fputs("data-api=\"/api/overview", f);
	ov_query(f, rq, r, r->sort, r->desc, r->page);
	fputs("\">\n<h1>nftally</h1>\n<form method=\"get\" action=\"/\">\n"
	      "<label>label <input name=\"label\" value=\"", f);
	html(f, r->label ? r->label : "");
	fputs("\"></label>\n<label>host <input name=\"host\" value=\"", f);
	html(f, r->host ? r->host : "");
	fputs("\"></label>\n<label>netns <input name=\"netns\" value=\"", f);
	html(f, r->netns ? netns_text(r->netns) : "");
	fputs("\"></label>\n", f);
	if (rq->query_token) {
		fputs("<input type=\"hidden\" name=\"token\" value=\"", f);
		html(f, rq->token);
		fputs("\">\n", f);
	}
	fprintf(f, "<button>filter</button></form>\n<p id=\"summary\">%zu labels, page %zu of %zu; "
		"billed: %s; as of ", total, r->page, pages, bill_policy_name(d->bill));
	when(f, now, true);
	fputs("</p>\n<table id=\"overview\"><thead><tr>", f);
	for (size_t i = 0; i < 6; i++) {
		enum ov_sort s = (enum ov_sort)(i == 4 ? SORT_P95 : i == 5 ? SORT_PREV : i);

		fputs("<th><a href=\"/", f);
		ov_query(f, rq, r, s, r->sort == s ? !r->desc : s != SORT_LABEL, 1);
		fprintf(f, "\">%s</a>%s</th>", heads[i], r->sort == s ? (r->desc ? " ▼" : " ▲") : "");
		if (i == 0)
			fputs("<th>Cycle</th>", f);
	}
	if (d->quotas)
		fputs("<th>Quota</th>", f);
	fputs("<th>Last day</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct query_bill *c = v[i].cur;
		bool first = false;

		fputs("<tr data-label=\"", f);
		html(f, c->label);
		fputs("\"><td class=\"label\"><a href=\"/label?l=", f);
		url(f, c->label);
		qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
		fputs("\">", f);
		html(f, c->label);
		fprintf(f, "</a></td><td>%s</td>", c->period);
		num(f, "in_bytes", c->c.in_bytes, true);
		num(f, "out_bytes", c->c.out_bytes, true);
		num(f, "billed_bytes", c->billed, true);
		num(f, "bill_p95_bps", bill_bps(c->p95.bill), false);
		num(f, "prev_billed_bytes", v[i].prev ? v[i].prev->billed : 0, true);
		if (d->quotas)
			quota_cell(f, d, c);
		fprintf(f, "<td><div class=\"spark\" data-i=\"%zu\"></div></td></tr>\n", i);
	}
	fputs("</tbody></table>\n<nav>", f);
	if (r->page > 1) {
		fputs("<a id=\"prev\" href=\"/", f);
		ov_query(f, rq, r, r->sort, r->desc, r->page - 1);
		fputs("\">previous page</a> ", f);
	}
	if (r->page < pages) {
		fputs("<a id=\"next\" href=\"/", f);
		ov_query(f, rq, r, r->sort, r->desc, r->page + 1);
		fputs("\">next page</a>", f);
	}
	fputs("</nav>\n<p class=\"foot\"><a href=\"/api/overview", f);
	ov_query(f, rq, r, r->sort, r->desc, r->page);
	fputs("\">this page as JSON</a></p>\n</body></html>\n", f);
}

/* The overview while its first snapshot (of these filters) is made: 503
 * at once, with how far it is; the page reloads itself. */
static void building(const struct dash_build *b, struct dash_resp *rs, bool page)
{
	const char *step = b->queued ? "queued" : b->prev ? "previous" : "current";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret = 0;

	if (!f) {
		dash_text(rs, 500, "out of memory\n");
		return;
	}
	if (page) {
		fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			"<meta http-equiv=\"refresh\" content=\"%d\">\n<title>nftally: "
			"building the overview</title>\n"
			"<link rel=\"stylesheet\" href=\"/static/nftally.css\">\n</head>\n"
			"<body data-page=\"building\"><h1>Building the overview</h1>\n"
			"<p id=\"building\" data-step=\"%s\" data-labels-done=\"%zu\" "
			"data-labels=\"%zu\">", DASH_RETRY_SECONDS, step, b->done, b->n);
		if (b->queued)
			fputs("Queued: another overview is being made first.", f);
		else
			fprintf(f, "The %s cycle: %zu of %zu labels read.", step, b->done, b->n);
		fprintf(f, " This page reloads itself every %d seconds.</p>\n</body></html>\n",
			DASH_RETRY_SECONDS);
	} else {
		json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "building", json_object_new_boolean(1));
			json_object_object_add(o, "step", json_object_new_string(step));
			json_object_object_add(o, "labels_done", json_object_new_uint64(b->done));
			json_object_object_add(o, "labels", json_object_new_uint64(b->n));
			json_object_object_add(o, "retry_after",
					       json_object_new_int(DASH_RETRY_SECONDS));
		}
		ret = put_json(f, o);
	}
	resp_take(rs, f, &buf, &len, page ? "text/html; charset=utf-8" : "application/json", ret);
	if (rs->status == 200) {
		rs->status = 503;
		rs->retry_after = DASH_RETRY_SECONDS;
	}
}

/* The overview: the page (html) or its JSON. */
static void overview(struct dash *d, const struct dash_req *rq, struct dash_resp *rs, bool page)
{
	struct ov_req r;
	struct ov_row *v = NULL;
	struct dash_build b = { 0 };
	struct dash_snap *x;
	size_t n = 0, first, count;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	ov_parse(rq, &r);
	if (!(x = snap_for(d, r.host, r.netns, &b)) && b.on) {
		building(&b, rs, page);
		return;
	}
	if (!x) {
		dash_text(rs, 500, "the store cannot be read: see nftally serve's messages\n");
		return;
	}
	ret = ov_rows(x, &r, &v, &n);
	first = (r.page - 1) * r.per_page;
	count = first < n ? (n - first < r.per_page ? n - first : r.per_page) : 0;
	if (!(f = open_memstream(&buf, &len))) {
		dash_text(rs, 500, "out of memory\n");
		goto out;
	}
	if (ret == 0 && page)
		overview_html(f, d, rq, &r, v + (first < n ? first : 0), count, n, x->now);
	else if (ret == 0)
		ret = put_json(f, overview_json(d, &r, x, v + (first < n ? first : 0), count, n));
	resp_take(rs, f, &buf, &len, page ? "text/html; charset=utf-8" : "application/json", ret);
out:
	snap_put(d, x);
	free(v);
}

/* ---- a label's page ---- */

enum { T5MIN, THOUR, TDAY, NTIERS };

/* One series: the total, an address's or a class's bytes per slot. */
struct sgroup {
	char *name;
	uint64_t *in, *out;
};

struct tier {
	const char *name;
	enum store_tier by;
	bool utc;
	size_t n;
	int64_t *t;            /* n + 1 slot starts (the last: the end) */
	struct sgroup total;
	struct sgroup *addr, *cls;
	size_t naddr, ncls;
};

static int tier_slots(struct tier *x, int which, int64_t now)
{
	x->n = which == T5MIN ? 288 : which == THOUR ? 720 : 365;
	if (!(x->t = calloc(x->n + 1, sizeof(*x->t))))
		return -ENOMEM;
	if (which == TDAY) { /* local days: 365 ending with today */
		time_t tt = (time_t)now;
		struct tm tm;

		localtime_r(&tt, &tm);
		for (size_t i = 0; i <= x->n; i++) {
			struct tm d = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon,
					.tm_mday = tm.tm_mday - (int)x->n + 1 + (int)i, .tm_isdst = -1 };

			x->t[i] = (int64_t)mktime(&d);
		}
		return 0;
	}
	{
		int64_t step = which == T5MIN ? BILL_SLOT : 3600;
		/* 5 minutes: whole slots before the one in progress; hours: up
		 * to the end of this hour */
		int64_t end = which == T5MIN ? now / step * step : now / step * step + step;

		for (size_t i = 0; i <= x->n; i++)
			x->t[i] = end - (int64_t)(x->n - i) * step;
	}
	return 0;
}

static int group_init(struct sgroup *g, const char *name, size_t n)
{
	g->name = strdup(name);
	g->in = calloc(n ? n : 1, sizeof(*g->in));
	g->out = calloc(n ? n : 1, sizeof(*g->out));
	return g->name && g->in && g->out ? 0 : -ENOMEM;
}

static void group_free(struct sgroup *g)
{
	free(g->name);
	free(g->in);
	free(g->out);
}

/* The group named name among v[0..*n), added when missing. */
static struct sgroup *group_of(struct sgroup **v, size_t *n, const char *name, size_t slots)
{
	struct sgroup *nv;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, name) == 0)
			return &(*v)[i];
	if (!(nv = realloc(*v, (*n + 1) * sizeof(*nv))))
		return NULL;
	*v = nv;
	memset(&nv[*n], 0, sizeof(*nv));
	if (group_init(&nv[*n], name, slots) < 0) {
		group_free(&nv[*n]);
		return NULL;
	}
	return &nv[(*n)++];
}

/* A row's period ("YYYY-MM-DDTHH:MM" in UTC, "YYYY-MM-DD" local) to its
 * slot, or -1. */
static long tier_slot(const struct tier *x, const char *period)
{
	struct tm tm = { .tm_isdst = -1 };
	int64_t t;
	size_t lo = 0, hi = x->n;

	if (x->utc) {
		if (sscanf(period, "%4d-%2d-%2dT%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min) != 5)
			return -1;
	} else if (sscanf(period, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3 ||
		   strlen(period) != 10) {
		return -1;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = x->utc ? (int64_t)timegm(&tm) : (int64_t)mktime(&tm);
	while (lo < hi) { /* the last slot starting at or before t */
		size_t mid = lo + (hi - lo) / 2;

		if (x->t[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 || t >= x->t[x->n] ? -1 : (long)lo - 1;
}

/* One row per slot, address and class: added to the total, to its
 * address's and to its class's series (one read of the store for all
 * three). */
static int tier_row(const struct store_row *r, void *data)
{
	struct tier *x = data;
	long i = tier_slot(x, r->period);
	struct sgroup *g[3] = { &x->total };

	if (i < 0)
		return 0;
	g[1] = group_of(&x->addr, &x->naddr, r->addr ? r->addr : "", x->n);
	g[2] = group_of(&x->cls, &x->ncls, r->cls, x->n);
	if (!g[1] || !g[2])
		return -ENOMEM;
	for (int k = 0; k < 3; k++) {
		g[k]->in[i] += r->c.in_bytes;
		g[k]->out[i] += r->c.out_bytes;
	}
	return 0;
}

static int tier_read(struct dash *d, struct tier *x, int which, const char *label,
		     const char *host, const char *netns, int64_t now, struct err *e)
{
	static const char *const names[] = { "5min", "hour", "day" };
	struct store_query q = { .by = which == T5MIN ? TIER_5MIN : which == THOUR ? TIER_HOUR :
					   TIER_DAY, .utc = which != TDAY, .merge_hosts = true,
				 .label = label, .host = host, .netns = netns, .per_addr = true };
	int ret;

	x->name = names[which];
	x->by = q.by;
	x->utc = q.utc;
	if ((ret = tier_slots(x, which, now)) < 0 || (ret = group_init(&x->total, "", x->n)) < 0)
		return ret;
	q.since = x->t[0];
	q.until = x->t[x->n];
	return source_query(d->store, &q, tier_row, x, e);
}

static void tier_free(struct tier *x)
{
	free(x->t);
	group_free(&x->total);
	for (size_t i = 0; i < x->naddr; i++)
		group_free(&x->addr[i]);
	for (size_t i = 0; i < x->ncls; i++)
		group_free(&x->cls[i]);
	free(x->addr);
	free(x->cls);
}

static json_object *group_json(const struct tier *x, const struct sgroup *g, const char *k)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (k)
		json_object_object_add(o, k, json_object_new_string(g->name));
	json_object_object_add(o, "in_bps", rates_json(g->in, x->n, x->t, 0));
	json_object_object_add(o, "out_bps", rates_json(g->out, x->n, x->t, 0));
	return o;
}

static json_object *tier_json(const struct tier *x)
{
	json_object *o = group_json(x, &x->total, NULL), *t = json_object_new_array(),
		    *a = json_object_new_array(), *c = json_object_new_array();

	for (size_t i = 0; t && i < x->n; i++)
		json_object_array_add(t, json_object_new_int64(x->t[i]));
	for (size_t i = 0; a && i < x->naddr; i++)
		json_object_array_add(a, group_json(x, &x->addr[i], "addr"));
	/* a store without network classes has one class, "" */
	for (size_t i = 0; c && i < x->ncls; i++)
		if (x->ncls > 1 || x->cls[i].name[0])
			json_object_array_add(c, group_json(x, &x->cls[i], "class"));
	if (!o) {
		json_object_put(t);
		json_object_put(a);
		json_object_put(c);
		return NULL;
	}
	json_object_object_add(o, "t", t);
	json_object_object_add(o, "addr", a);
	json_object_object_add(o, "class", c);
	return o;
}

/* The label's cycles: this one and DASH_CYCLES - 1 before, oldest first,
 * in one query_bills (report --by cycle). */
static int label_cycles(struct dash *d, const char *label, const char *host, const char *netns,
			int64_t now, struct query_bills *v, struct err *e)
{
	static const struct cycle dflt = { 1, "" };
	const struct cycle *c = d->billing ? billing_cycle_of(d->billing, label) : &dflt;
	struct query_bills_opts o = { NULL, d->bill, d->billing, now, label, host, netns, 0 };
	int64_t end;

	if (cycle_shift(c, now, DASH_CYCLES - 1, &o.since, &end) < 0)
		return err_set(e, "the cycle of label %s: bad day or time zone", label);
	return query_bills(d->store, &o, v, e);
}

/* The current cycle's use of a label's quota as it grew: the cycle's
 * start at 0, then the end of each 5-minute slot with traffic and the
 * billed bytes (the quota's own bill=) of the cycle up to it; the last
 * value is the quota's used_bytes. */
struct qcurve {
	const struct quota *q;
	struct counts sum;
	int64_t *t;
	uint64_t *used;
	size_t n, cap;
};

static int qcurve_add(struct qcurve *x, int64_t t, uint64_t used)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		int64_t *nt = realloc(x->t, cap * sizeof(*nt));
		uint64_t *nu;

		if (!nt)
			return -ENOMEM;
		x->t = nt;
		if (!(nu = realloc(x->used, cap * sizeof(*nu))))
			return -ENOMEM;
		x->used = nu;
		x->cap = cap;
	}
	x->t[x->n] = t;
	x->used[x->n++] = used;
	return 0;
}

static int qcurve_sample(const struct store_sample *s, void *data)
{
	struct qcurve *x = data;

	x->sum.in_bytes += s->c.in_bytes;
	x->sum.in_packets += s->c.in_packets;
	x->sum.out_bytes += s->c.out_bytes;
	x->sum.out_packets += s->c.out_packets;
	return qcurve_add(x, s->t + BILL_SLOT, quota_billed(x->q->bill, &x->sum));
}

static int qcurve_read(struct dash *d, struct qcurve *x, const struct query_bill *c,
		       const char *host, const char *netns, struct err *e)
{
	struct store_window w = { c->label, c->period, c->since, c->until };
	struct store_wquery q = { .w = &w, .nw = 1, .merge_hosts = true, .sum_classes = true,
				  .host = host, .netns = netns };
	int ret;

	if (!d->quotas || !(x->q = quotas_find(d->quotas, c->label)))
		return 0;
	if (qcurve_add(x, c->since, 0) < 0)
		return err_setn(e, -ENOMEM, "out of memory");
	ret = source_window_samples(d->store, &q, qcurve_sample, x, e);
	return ret == -ENOMEM ? err_setn(e, ret, "out of memory") : ret;
}

static void qcurve_json(json_object *quota, const struct qcurve *x)
{
	json_object *u = json_object_new_object(), *t = json_object_new_array(),
		    *v = json_object_new_array();

	for (size_t i = 0; t && v && i < x->n; i++) {
		json_object_array_add(t, json_object_new_int64(x->t[i]));
		json_object_array_add(v, output_json_u64_new(x->used[i]));
	}
	if (!quota || !u || !t || !v) {
		json_object_put(u);
		json_object_put(t);
		json_object_put(v);
		return;
	}
	json_object_object_add(u, "t", t);
	json_object_object_add(u, "used_bytes", v);
	json_object_object_add(quota, "usage", u);
}

static json_object *label_json(const struct dash *d, const char *label,
			       const struct query_bills *cy, const struct tier t[NTIERS],
			       const struct qcurve *qc, int64_t now)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array(),
		    *s = json_object_new_object();

	if (!o || !a || !s) {
		json_object_put(o);
		json_object_put(a);
		json_object_put(s);
		return NULL;
	}
	json_object_object_add(o, "label", json_object_new_string(label));
	json_object_object_add(o, "now", json_object_new_int64(now));
	json_object_object_add(o, "bill", json_object_new_string(bill_policy_name(d->bill)));
	for (size_t i = cy->n; i-- > 0;) /* this cycle first */
		json_object_array_add(a, cycle_json(&cy->v[i], d->bill));
	json_object_object_add(o, "cycles", a);
	if (cy->n && d->quotas && quotas_find(d->quotas, label)) {
		json_object *q = quota_json(d, &cy->v[cy->n - 1]);

		qcurve_json(q, qc);
		json_object_object_add(o, "quota", q);
	}
	for (int i = 0; i < NTIERS; i++)
		json_object_object_add(s, t[i].name, tier_json(&t[i]));
	json_object_object_add(o, "series", s);
	return o;
}

static void label_html(FILE *f, const struct dash *d, const struct dash_req *rq,
		       const char *label, const char *host, const char *netns, bool operator,
		       const struct query_bills *cy, int64_t now)
{
	static const char *const charts[][2] = {
		{ "5min", "The last day, 5-minute averages, with this cycle's 95th percentile" },
		{ "hour", "30 days, hourly averages" },
		{ "day", "12 months, daily averages" },
		{ "addr", "Per address, the last day" },
		{ "class", "Per class, the last day" },
	};
	bool first = true;

	head(f, label, "label");
	fputs("data-api=\"/api/label", f);
	qarg(f, "l", label, &first);
	qarg(f, "host", host, &first);
	qarg(f, "netns", netns_text(netns), &first);
	qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
	fputs("\">\n", f);
	if (operator) {
		first = true;
		fputs("<p><a href=\"/", f);
		qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
		fputs("\">all labels</a></p>\n", f);
	}
	fputs("<h1 id=\"label\">", f);
	html(f, label);
	fprintf(f, "</h1>\n<p id=\"summary\">billed: %s; as of ", bill_policy_name(d->bill));
	when(f, now, false);
	fputs("</p>\n<table id=\"cycles\"><thead><tr><th>Cycle</th><th>From</th><th>To</th>"
	      "<th>In</th><th>Out</th><th>Billed</th><th>In p95</th><th>Out p95</th>"
	      "<th>Billed p95</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = cy->n; i-- > 0;) {
		const struct query_bill *c = &cy->v[i];

		fprintf(f, "<tr data-period=\"%s\"><td>%s</td><td>", c->period, c->period);
		when(f, c->since, false);
		fputs("</td><td>", f);
		when(f, c->until, false);
		fputs("</td>", f);
		num(f, "in_bytes", c->c.in_bytes, true);
		num(f, "out_bytes", c->c.out_bytes, true);
		num(f, "billed_bytes", c->billed, true);
		num(f, "in_p95_bps", bill_bps(c->p95.in), false);
		num(f, "out_p95_bps", bill_bps(c->p95.out), false);
		num(f, "bill_p95_bps", bill_bps(c->p95.bill), false);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (cy->n && d->quotas && quotas_find(d->quotas, label)) {
		fputs("<table id=\"quota\"><thead><tr><th>Quota this cycle</th></tr></thead>"
		      "<tbody><tr>", f);
		quota_cell(f, d, &cy->v[cy->n - 1]);
		fputs("</tr></tbody></table>\n<h2>This cycle's use of the quota</h2>\n"
		      "<div class=\"chart\" id=\"chart-quota\" data-tier=\"quota\"></div>\n", f);
	}
	for (size_t i = 0; i < sizeof(charts) / sizeof(*charts); i++)
		fprintf(f, "<h2>%s</h2>\n<div class=\"chart\" id=\"chart-%s\" data-tier=\"%s\">"
			"</div>\n", charts[i][1], charts[i][0], charts[i][0]);
	fputs("<p class=\"foot\"><a href=\"/api/label", f);
	first = true;
	qarg(f, "l", label, &first);
	qarg(f, "host", host, &first);
	qarg(f, "netns", netns_text(netns), &first);
	qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
	fputs("\">this label as JSON</a></p>\n</body></html>\n", f);
}

static void label_page(struct dash *d, const struct dash_req *rq, struct dash_resp *rs,
		       const char *label, bool page, bool operator)
{
	const char *host = arg_nonempty(rq, "host"), *netns = arg_netns(rq);
	struct query_bills cy = { 0 };
	struct tier t[NTIERS] = { 0 };
	struct qcurve qc = { 0 };
	int64_t now = dash_now(d);
	struct err e = { "" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	/* the cycles change the process's time zone while they are computed */
	work_lock(d);
	ret = label_cycles(d, label, host, netns, now, &cy, &e);
	if (ret == 0 && !cy.n) {
		dash_text(rs, 404, "no such label in the store\n");
		goto out;
	}
	for (int i = 0; ret == 0 && !page && i < NTIERS; i++)
		ret = tier_read(d, &t[i], i, label, host, netns, now, &e);
	if (ret == 0 && !page)
		ret = qcurve_read(d, &qc, &cy.v[cy.n - 1], host, netns, &e);
	if (ret < 0 && e.msg[0])
		fprintf(stderr, "nftally: serve: %s\n", e.msg);
	if (!(f = open_memstream(&buf, &len))) {
		dash_text(rs, 500, "out of memory\n");
		goto out;
	}
	if (ret == 0 && page)
		label_html(f, d, rq, label, host, netns, operator, &cy, now);
	else if (ret == 0)
		ret = put_json(f, label_json(d, label, &cy, t, &qc, now));
	resp_take(rs, f, &buf, &len, page ? "text/html; charset=utf-8" : "application/json", ret);
out:
	pthread_mutex_unlock(&d->work);
	query_bills_free(&cy);
	for (int i = 0; i < NTIERS; i++)
		tier_free(&t[i]);
	free(qc.t);
	free(qc.used);
}

/* ---- static files ---- */

static void static_file(const struct dash *d, const char *name, struct dash_resp *rs)
{
	const char *dirs[] = { d->web_dir, NFTALLY_WEB_DIR, NFTALLY_SOURCE_WEB_DIR };
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	struct err e = { "" };
	int ret = -ENOENT;

	if (strcmp(name, "dygraph.min.js") == 0 || strcmp(name, "dygraph.css") == 0) {
		const char *slash = strrchr(d->dygraphs, '/');

		/* the library from where the system keeps it (never a copy of ours) */
		if (strcmp(name, "dygraph.min.js") == 0)
			snprintf(path, sizeof(path), "%s", d->dygraphs);
		else
			snprintf(path, sizeof(path), "%.*s/dygraph.css",
				 slash ? (int)(slash - d->dygraphs) : 1, slash ? d->dygraphs : ".");
		ret = file_load(path, 4 << 20, &buf, &len, &e);
	} else if (strcmp(name, "nftally.js") == 0 || strcmp(name, "nftally.css") == 0) {
		for (size_t i = 0; ret == -ENOENT && i < 3; i++) {
			if (!dirs[i])
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
			ret = file_load(path, 4 << 20, &buf, &len, &e);
		}
	}
	if (ret < 0) {
		dash_text(rs, 404, "not found\n");
		return;
	}
	rs->status = 200;
	rs->body = buf;
	rs->len = len;
	rs->cache = true;
	rs->type = strstr(name, ".css") ? "text/css; charset=utf-8" :
		   "text/javascript; charset=utf-8";
}

/* ---- routes ---- */

void dash_answer(struct dash *d, const struct dash_req *rq, struct dash_resp *rs)
{
	const char *own = NULL, *l;
	enum scope s;

	*rs = (struct dash_resp){ 0 };
	if (strcmp(rq->url, "/favicon.ico") == 0) { /* none: say so without an error */
		dash_text(rs, 204, "");
		return;
	}
	if (strncmp(rq->url, "/static/", 8) == 0 && !strchr(rq->url + 8, '/')) {
		static_file(d, rq->url + 8, rs);
		return;
	}
	s = dash_who(d, rq, &own);
	if (s == SCOPE_NONE) {
		dash_text(rs, 401, rq->token ? "this token is not known\n" :
			  "a token is needed (basic auth, Authorization: Bearer, or ?token=)\n");
		return;
	}
	if (strcmp(rq->url, "/") == 0 && s == SCOPE_CUSTOMER) {
		FILE *f;
		bool first = true;
		size_t len;

		/* a customer's start page is its label's */
		if ((f = open_memstream(&rs->location, &len))) {
			fputs("/label", f);
			qarg(f, "l", own, &first);
			qarg(f, "token", rq->query_token ? rq->token : NULL, &first);
			fclose(f);
		}
		dash_text(rs, rs->location ? 303 : 500, "see /label\n");
		/* qarg writes &amp; for HTML; a Location header wants & */
		for (char *p = rs->location ? strstr(rs->location, "&amp;") : NULL; p;
		     p = strstr(p + 1, "&amp;"))
			memmove(p + 1, p + 5, strlen(p + 5) + 1);
		return;
	}
	if (strcmp(rq->url, "/") == 0 || strcmp(rq->url, "/api/overview") == 0) {
		if (s != SCOPE_OPERATOR)
			dash_text(rs, 403, "the overview is the operator's\n");
		else
			overview(d, rq, rs, rq->url[1] == '\0');
		return;
	}
	if (strcmp(rq->url, "/label") == 0 || strcmp(rq->url, "/api/label") == 0) {
		l = rq->get(rq->ctx, "l");
		if (!l || !*l)
			dash_text(rs, 400, "which label? (?l=LABEL)\n");
		else if (s == SCOPE_CUSTOMER && strcmp(l, own) != 0)
			dash_text(rs, 403, "this token is not for this label\n");
		else
			label_page(d, rq, rs, l, rq->url[1] == 'l', s == SCOPE_OPERATOR);
		return;
	}
	dash_text(rs, 404, "not found\n");
}

void dash_finish(struct dash *d)
{
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_broadcast(&d->cond);
		pthread_cond_broadcast(&d->made);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
		d->started = false;
	}
	snap_free(d->snap);
	d->snap = NULL;
	for (size_t i = 0; i < DASH_FILTERS; i++)
		snap_free(filter_clear(d, i));
	if (d->locks) {
		pthread_mutex_destroy(&d->lock);
		pthread_mutex_destroy(&d->work);
		pthread_cond_destroy(&d->cond);
		pthread_cond_destroy(&d->made);
		d->locks = false;
	}
	source_close(d->store);
	source_close(d->bg_store);
	d->store = d->bg_store = NULL;
	free(d->operator_token);
	for (size_t i = 0; i < d->ntokens; i++) {
		free(d->tokens[i].token);
		free(d->tokens[i].label);
	}
	free(d->tokens);
	free(d->cert);
	free(d->key);
}
