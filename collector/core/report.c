// SPDX-License-Identifier: GPL-2.0-or-later
/* The report model: the deltas of every address reported in `next`
 * against what `done` had reported, and the rows of the ones with traffic.
 * Pure: everything comes from the two states. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The delta of direction dir (0 in, 1 out) of x against b (NULL: never
 * reported, from zero) into *db and *dp; returns where it started. */
static enum state_from delta(const struct state_entry *x, const struct state_entry *b,
			     int dir, uint64_t *db, uint64_t *dp)
{
	const struct counts *c = &x->c;
	struct state_reading cur = { dir ? c->out_bytes : c->in_bytes,
				     dir ? c->out_packets : c->in_packets, x->h[dir] };
	struct state_reading base = { 0 };
	enum state_from from;

	if (b)
		base = (struct state_reading){ dir ? b->c.out_bytes : b->c.in_bytes,
					       dir ? b->c.out_packets : b->c.in_packets,
					       b->h[dir] };
	from = state_delta_from(&cur, &base, b && b->last);
	*db = cur.bytes - (from == STATE_FROM_REPORTED ? base.bytes : 0);
	*dp = cur.packets - (from == STATE_FROM_REPORTED ? base.packets : 0);
	return from;
}

/* The reason worth telling of the two directions' (RECREATED first). */
static enum state_from telling(enum state_from a, enum state_from b)
{
	if (a == STATE_FROM_RECREATED || b == STATE_FROM_RECREATED)
		return STATE_FROM_RECREATED;
	if (a == STATE_FROM_RESET || b == STATE_FROM_RESET)
		return STATE_FROM_RESET;
	return STATE_FROM_REPORTED;
}

/* report_each from entry *i of next on; *i ends after the entry whose cb
 * stopped the walk (or at next->n). */
static int report_walk(const struct state *done, const struct state *next, size_t *i,
		       int (*cb)(const struct report_delta *d, void *data), void *data)
{
	char text[ADDR_STRLEN];

	while (*i < next->n) {
		const struct state_entry *x = &next->v[(*i)++], *b;
		struct report_delta d = { .x = x, .label = state_label(next, x), .addr = text };
		int ret;

		if (!x->rep)
			continue;
		b = state_find(done, &x->addr);
		addr_format(&x->addr, text);
		d.reset = telling(delta(x, b, 0, &d.d.in_bytes, &d.d.in_packets),
				  delta(x, b, 1, &d.d.out_bytes, &d.d.out_packets));
		/* wire bytes: the link-layer bytes the kernel did not count */
		d.d.in_bytes += d.d.in_packets * next->overhead;
		d.d.out_bytes += d.d.out_packets * next->overhead;
		ret = cb(&d, data);
		if (ret)
			return ret;
	}
	return 0;
}

int report_each(const struct state *done, const struct state *next,
		int (*cb)(const struct report_delta *d, void *data), void *data)
{
	size_t i = 0;

	return report_walk(done, next, &i, cb, data);
}

void report_origin_init(struct report_origin *o, const char *host, const char *netns,
			const char *account, const char *table)
{
	snprintf(o->host, sizeof(o->host), "%s", host ? host : "");
	snprintf(o->netns, sizeof(o->netns), "%s", netns ? netns : "");
	snprintf(o->account, sizeof(o->account), "%s", account ? account : "");
	snprintf(o->table, sizeof(o->table), "%s", table ? table : "");
}

struct make_ctx {
	struct report *r;
	const struct addr_names *an;
	size_t cap, max; /* rows r->v holds; rows to stop at (0: none) */
};

static int make_one(const struct report_delta *d, void *data)
{
	struct make_ctx *m = data;
	struct report *r = m->r;
	struct report_row *x;

	if (!counts_any(&d->d))
		return 0; /* no traffic, no row */
	if (r->n == m->cap) { /* grows by doubling */
		size_t cap = m->cap ? 2 * m->cap : 1;

		x = realloc(r->v, cap * sizeof(*x));
		if (!x)
			return -ENOMEM;
		r->v = x;
		m->cap = cap;
	}
	r->v[r->n++] = (struct report_row){ d->x->addr, d->label,
					    addr_names_label(m->an, d->x->addr.cls), d->d };
	return m->max && r->n == m->max; /* 1: this block is full */
}

static void make_head(struct report *r, const struct report_origin *o, const struct state *done,
		      const struct state *next)
{
	memset(r, 0, sizeof(*r));
	if (o)
		r->origin = *o;
	r->seq = next->seq;
	r->time = next->time;
	r->since = done->base_time;
}

int report_make(struct report *r, const struct report_origin *o, const struct addr_names *an,
		const struct state *done, const struct state *next)
{
	struct make_ctx m = { r, an, 0, 0 };
	int ret;

	make_head(r, o, done, next);
	ret = report_each(done, next, make_one, &m);
	if (ret < 0)
		report_free(r);
	return ret;
}

int report_make_some(struct report *r, const struct report_origin *o,
		     const struct addr_names *an, const struct state *done,
		     const struct state *next, size_t *pos, size_t max)
{
	struct make_ctx m = { r, an, 0, max };
	int ret;

	make_head(r, o, done, next);
	if (!max)
		return -EINVAL;
	if (*pos >= next->n)
		return 0;
	/* the block at once: a block of every address is the common case */
	m.cap = next->n - *pos < max ? next->n - *pos : max;
	r->v = malloc(m.cap * sizeof(*r->v));
	if (!r->v)
		return -ENOMEM;
	ret = report_walk(done, next, pos, make_one, &m);
	if (ret < 0) {
		report_free(r);
		return ret;
	}
	return *pos < next->n;
}

int report_own(struct report *r)
{
	for (size_t i = 0; i < r->n && !r->owned; i++) {
		char *l = strdup(r->v[i].label);

		if (!l) {
			for (size_t k = 0; k < i; k++)
				free((char *)r->v[k].label);
			for (size_t k = 0; k < i; k++)
				r->v[k].label = ""; /* lost: the report cannot be kept */
			return -ENOMEM;
		}
		r->v[i].label = l;
	}
	r->owned = true;
	return 0;
}

void report_free(struct report *r)
{
	for (size_t i = 0; r->owned && i < r->n; i++)
		free((char *)r->v[i].label);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
