/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The report model every sink shares: where a report comes from (host,
 * network namespace, account, table), its deltas, and its rows, all computed from
 * the reported state before it and the state it closes with.  Pure: no
 * clock, no stream, no socket; the times are the states'. */
#ifndef NFTALLY_REPORT_H
#define NFTALLY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "counts.h"
#include "state.h"

/* Where a report comes from: one table of one account in one network
 * namespace of one host.  Copies, so a report that waits outlives whatever
 * named them. */
struct report_origin {
	char host[256];   /* the host's name */
	char netns[256];  /* the network namespace's name; "" the one nftally started in */
	char account[33]; /* the account's name; "" for a config without sections */
	char table[40];
};

/* Fill o with copies of the four names (truncated to fit; NULL is ""). */
void report_origin_init(struct report_origin *o, const char *host, const char *netns,
			const char *account, const char *table);

/* One delta of a report: entry x of next, its address as text, the delta
 * against the reported state, and, if a counter of the address counts from
 * zero for a reason to tell (RESET or RECREATED, the latter first), that
 * reason; else STATE_FROM_REPORTED. */
struct report_delta {
	const struct state_entry *x;
	const char *label; /* x's, in next */
	const char *addr;
	struct counts d;
	enum state_from reset;
};

/* Call cb for every entry of next marked rep, in order: its delta against
 * done (an entry done does not know counts from zero; a counter that went
 * backwards or was recreated outside nftally counts from zero; see
 * state_delta_from), with next->overhead bytes added per packet.  A pure
 * function of the two states, so a report replayed after a crash has the
 * very same deltas.  Stops at and returns the first non-zero return of
 * cb. */
int report_each(const struct state *done, const struct state *next,
		int (*cb)(const struct report_delta *d, void *data), void *data);

/* One row of a report: an address with traffic. */
struct report_row {
	struct addr a;
	const char *label; /* borrowed from the state, or owned (report_own) */
	/* the class's label (addr_names_label), NULL without classes:
	 * borrowed from the account's registry, which outlives its reports */
	const char *cls;
	struct counts d;
};

/* A report as the sinks that keep it take it: the deltas that are not
 * zero, with the report's seq and time and its origin. */
struct report {
	struct report_origin origin;
	uint64_t seq;
	int64_t time;
	struct report_row *v;
	size_t n;
	bool owned; /* the labels are copies */
	/* when the values its deltas start from were read (the closed
	 * state's base_time; 0: counted from the counters' creation) */
	int64_t since;
};

/* The rows of report next (closing done), from origin o (NULL: all
 * names ""); the labels are next's, the class labels an's.  0 or
 * -ENOMEM. */
int report_make(struct report *r, const struct report_origin *o, const struct addr_names *an,
		const struct state *done, const struct state *next);
/* The rows of report next (closing done) a block at a time, for a sink
 * that need not hold every row of a report at once (72 bytes a row: 72 MB
 * at 1,000,000 addresses with traffic): r gets the head and the rows of
 * the entries of next from *pos on, at most max (max > 0) of them, and
 * *pos moves past the entries looked at.  Start with *pos 0; the blocks
 * of one walk hold the rows report_make makes, in its order.  1 while
 * entries are left, 0 after the last block (which may hold no rows), or
 * -ENOMEM (r freed), -EINVAL for max 0.  r is the caller's to report_free after each call. */
int report_make_some(struct report *r, const struct report_origin *o,
		     const struct addr_names *an, const struct state *done,
		     const struct state *next, size_t *pos, size_t max);
/* Copy the labels, so the report outlives the state.  0 or -ENOMEM (then
 * the labels are "": the report cannot be kept). */
int report_own(struct report *r);
/* Free what r holds (harmless on a zeroed or freed report). */
void report_free(struct report *r);

#endif
