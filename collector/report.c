// SPDX-License-Identifier: GPL-2.0-or-later
/* Turning two report states into JSON counter lines: the deltas of every
 * address reported in `next` against what `done` had reported. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
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

int report_each(const struct state *done, const struct state *next,
		int (*cb)(const struct report_delta *d, void *data), void *data)
{
	char text[ADDR_STRLEN];

	for (size_t i = 0; i < next->n; i++) {
		const struct state_entry *x = &next->v[i], *b;
		struct report_delta d = { .x = x, .addr = text };
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

struct print_ctx {
	const struct state *done, *next;
};

static int print_one(const struct report_delta *d, void *data)
{
	const struct print_ctx *p = data;

	if (d->reset == STATE_FROM_RECREATED)
		output_event(stdout, p->next->time, "counter_reset", d->addr,
			     "counter of %s was deleted and created again outside "
			     "nftally (a new kernel handle); counting it from zero", d->addr);
	else if (d->reset == STATE_FROM_RESET)
		output_event(stdout, p->next->time, "counter_reset", d->addr,
			     "counter of %s went backwards (reset, or recreated, outside "
			     "nftally); counting it from zero", d->addr);
	/* since: when the values this delta starts from were read; a first
	 * report from no state counts from the counters' creation */
	output_counter(stdout, p->next->time,
		       p->done->base_time ? p->done->base_time : -1, p->next->seq,
		       d->x->label, d->addr, addr_class_label(d->x->addr.cls), &d->d);
	return 0;
}

/* The lines of report `next` against the reported state `done`: a pure
 * function of the two, so a report replayed after a crash prints the very
 * same lines. */
void report_print(const struct state *done, const struct state *next)
{
	struct print_ctx p = { done, next };

	report_each(done, next, print_one, &p);
	fflush(stdout);
}

int report_replay(int dirfd, const char *dirpath, const char *file,
		  const char *pending, struct state *done,
		  int (*printed)(const struct state *done, const struct state *p, void *data),
		  void *data)
{
	struct state p;
	struct err e;
	int ret, kept = 0;

	state_init(&p);
	ret = state_load(&p, dirfd, dirpath, pending, &e);
	if (ret == 0 && p.seq == done->seq + 1 && strcmp(p.table, done->table) == 0) {
		output_event(stdout, (time_t)p.time, "replay", NULL,
			     "report %llu may not have been delivered before nftally "
			     "stopped; printing it again", (unsigned long long)p.seq);
		report_print(done, &p);
		if (printed)
			kept = printed(done, &p, data);
		if (kept == 0 && state_rename(dirfd, dirpath, pending, file, &e) == 0) {
			state_finish(done);
			*done = p;
			state_init(&p);
		}
	} else if (ret != -ENOENT) {
		unlinkat(dirfd, pending, 0); /* stale or incomplete */
	}
	state_finish(&p);
	return kept < 0 ? kept : 0;
}
