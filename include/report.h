/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lines of one report, computed from the reported state before it and
 * the state it closes with. */
#ifndef NFTALLY_REPORT_H
#define NFTALLY_REPORT_H

#include "state.h"

/* One delta of a report: entry x of next, its address as text, the delta
 * against the reported state, and, if a counter of the address counts from
 * zero for a reason to tell (RESET or RECREATED, the latter first), that
 * reason; else STATE_FROM_REPORTED. */
struct report_delta {
	const struct state_entry *x;
	const char *addr;
	struct counts d;
	enum state_from reset;
};

/* Call cb for every entry of next marked rep, in order: the deltas that
 * report_print prints.  Stops at and returns the first non-zero return of
 * cb. */
int report_each(const struct state *done, const struct state *next,
		int (*cb)(const struct report_delta *d, void *data), void *data);

/* Print on stdout one counter line per entry of next marked rep: its delta
 * against done (an entry done does not know counts from zero; a counter
 * that went backwards or was recreated outside nftally counts from zero,
 * after a counter_reset event; see state_delta_from).  A pure function of
 * the two states, so a report replayed after a crash prints the very same
 * lines.  Flushes stdout. */
void report_print(const struct state *done, const struct state *next);

/* A report printed (or about to be) when nftally stopped, in file
 * `pending` of the state directory: if it follows done, print it again
 * (same lines, same seq; after a `replay` event) and make it the reported
 * state (renamed to `file`, and *done replaced).  printed (if not NULL) is
 * called after printing and before the rename, as for a new report; if
 * it fails (returns a negative errno) the pending file stays, and so does
 * *done, and report_replay returns that error.  Otherwise 0.  A stale or damaged pending
 * file is deleted. */
int report_replay(int dirfd, const char *dirpath, const char *file,
		  const char *pending, struct state *done,
		  int (*printed)(const struct state *done, const struct state *p, void *data),
		  void *data);

#endif
