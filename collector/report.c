// SPDX-License-Identifier: GPL-2.0-or-later
/* Turning two report states into JSON counter lines: the deltas of every
 * address reported in `next` against what `done` had reported. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "report.h"

/* x - base for one direction; a counter that went backwards was recreated
 * outside nftally and counts from zero. */
static bool sub(uint64_t xb, uint64_t xp, uint64_t bb, uint64_t bp,
		uint64_t *db, uint64_t *dp)
{
	if (xb < bb || xp < bp) {
		*db = xb;
		*dp = xp;
		return true;
	}
	*db = xb - bb;
	*dp = xp - bp;
	return false;
}

int report_each(const struct state *done, const struct state *next,
		int (*cb)(const struct report_delta *d, void *data), void *data)
{
	static const struct counts zero;
	char text[ADDR_STRLEN];

	for (size_t i = 0; i < next->n; i++) {
		const struct state_entry *x = &next->v[i], *b;
		const struct counts *base, *c = &x->c;
		struct report_delta d = { .x = x, .addr = text };
		int ret;

		if (!x->rep)
			continue;
		b = state_find(done, &x->addr);
		base = b ? &b->c : &zero;
		addr_format(&x->addr, text);
		d.reset = sub(c->in_bytes, c->in_packets, base->in_bytes, base->in_packets,
			      &d.d.in_bytes, &d.d.in_packets);
		d.reset |= sub(c->out_bytes, c->out_packets, base->out_bytes,
			       base->out_packets, &d.d.out_bytes, &d.d.out_packets);
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

	if (d->reset)
		output_event(stdout, p->next->time, "counter_reset", d->addr,
			     "counter of %s went backwards (recreated outside "
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
