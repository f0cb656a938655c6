/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reported state and the next one that the report tests share: one
 * address of every kind of delta (counted on, reset, recreated, back after
 * its drain, new, without traffic, not in the report, drained). */
#ifndef NFTALLY_TEST_STATES_H
#define NFTALLY_TEST_STATES_H

#include "state.h"
#include "test.h"

static inline void add(struct state *s, const char *text, const char *label, struct counts c,
		uint64_t hin, uint64_t hout, bool rep, bool last)
{
	struct state_entry x = { .c = c, .h = { hin, hout }, .rep = rep, .last = last };

	test_assert(addr_parse(text, &x.addr, NULL) == 0);
	test_assert(state_add_entry(s, &x, label) == 0);
}

/* The reported state and the next one of every test. */
static inline void make_states(struct state *done, struct state *next, unsigned overhead)
{
	state_init(done);
	state_init(next);
	done->seq = 4;
	done->time = done->base_time = 1767225600;
	add(done, "198.18.0.1", "a", (struct counts){ 1000, 10, 500, 5 }, 11, 12, true, false);
	add(done, "198.18.0.2", "b", (struct counts){ 2000, 20, 0, 0 }, 21, 22, true, false);
	add(done, "198.18.0.3", "c", (struct counts){ 300, 3, 300, 3 }, 31, 32, true, false);
	/* its last report: nftally deleted its counters after it */
	add(done, "198.18.0.4", "d", (struct counts){ 400, 4, 40, 4 }, 41, 42, true, true);
	add(done, "198.18.0.6", "f", (struct counts){ 5, 1, 5, 1 }, 71, 72, true, false);
	add(done, "2001:db8::1", "e", (struct counts){ 1000, 10, 1000, 10 }, 51, 52, true, false);
	next->seq = 5;
	next->time = next->base_time = 1767225660;
	next->overhead = overhead;
	/* counted on */
	add(next, "198.18.0.1", "a", (struct counts){ 1500, 15, 700, 7 }, 11, 12, true, false);
	/* in went backwards: nft reset counter */
	add(next, "198.18.0.2", "b", (struct counts){ 100, 1, 0, 0 }, 21, 22, true, false);
	/* in deleted and created again by someone else: a new handle */
	add(next, "198.18.0.3", "c", (struct counts){ 50, 1, 350, 4 }, 33, 32, true, false);
	/* came back after its drain: nftally made new counters */
	add(next, "198.18.0.4", "d", (struct counts){ 60, 1, 70, 1 }, 43, 44, true, false);
	/* never reported: from zero */
	add(next, "198.18.0.5", "new", (struct counts){ 10, 1, 20, 2 }, 61, 62, true, false);
	/* no traffic */
	add(next, "198.18.0.6", "f", (struct counts){ 5, 1, 5, 1 }, 71, 72, true, false);
	/* not in this report */
	add(next, "198.18.0.7", "g", (struct counts){ 9, 9, 9, 9 }, 81, 82, false, false);
	/* drained: its last deltas, after which its counters go */
	add(next, "2001:db8::1", "e", (struct counts){ 1200, 12, 1000, 10 }, 51, 52, true, true);
	state_sort(done);
	state_sort(next);
}

#endif
