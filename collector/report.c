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

/* The lines of report `next` against the reported state `done`: a pure
 * function of the two, so a report replayed after a crash prints the very
 * same lines. */
void report_print(const struct state *done, const struct state *next)
{
	static const struct counts zero;
	char text[ADDR_STRLEN];

	for (size_t i = 0; i < next->n; i++) {
		const struct state_entry *x = &next->v[i], *b;
		const struct counts *base, *c = &x->c;
		struct counts d;
		bool reset;

		if (!x->rep)
			continue;
		b = state_find(done, &x->addr);
		base = b ? &b->c : &zero;
		addr_format(&x->addr, text);
		reset = sub(c->in_bytes, c->in_packets, base->in_bytes, base->in_packets,
			    &d.in_bytes, &d.in_packets);
		reset |= sub(c->out_bytes, c->out_packets, base->out_bytes,
			     base->out_packets, &d.out_bytes, &d.out_packets);
		if (reset)
			output_event(stdout, next->time, "counter_reset", text,
				     "counter of %s went backwards (recreated outside "
				     "nftally); counting it from zero", text);
		/* since: when the values this delta starts from were read; a first
		 * report from no state counts from the counters' creation */
		output_counter(stdout, next->time, done->base_time ? done->base_time : -1,
			       next->seq, x->label, text, &d);
	}
	fflush(stdout);
}


void report_replay(int dirfd, const char *dirpath, const char *file,
		   const char *pending, struct state *done)
{
	struct state p;
	struct err e;
	int ret;

	state_init(&p);
	ret = state_load(&p, dirfd, dirpath, pending, &e);
	if (ret == 0 && p.seq == done->seq + 1 && strcmp(p.table, done->table) == 0) {
		output_event(stdout, (time_t)p.time, "replay", NULL,
			     "report %llu may not have been delivered before nftally "
			     "stopped; printing it again", (unsigned long long)p.seq);
		report_print(done, &p);
		if (state_rename(dirfd, dirpath, pending, file, &e) == 0) {
			state_finish(done);
			*done = p;
			state_init(&p);
		}
	} else if (ret != -ENOENT) {
		unlinkat(dirfd, pending, 0); /* stale or incomplete */
	}
	state_finish(&p);
}
