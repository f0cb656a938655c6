/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lines of one report, computed from the reported state before it and
 * the state it closes with. */
#ifndef NFTALLY_REPORT_H
#define NFTALLY_REPORT_H

#include "state.h"

/* Print on stdout one counter line per entry of next marked rep: its delta
 * against done (an entry done does not know counts from zero; one that went
 * backwards was recreated and counts from zero, after a counter_reset
 * event).  A pure function of the two states, so a report replayed after a
 * crash prints the very same lines.  Flushes stdout. */
void report_print(const struct state *done, const struct state *next);

/* A report printed (or about to be) when nftally stopped, in file
 * `pending` of the state directory: if it follows done, print it again
 * (same lines, same seq; after a `replay` event) and make it the reported
 * state (renamed to `file`, and *done replaced).  A stale or damaged pending
 * file is deleted. */
void report_replay(int dirfd, const char *dirpath, const char *file,
		   const char *pending, struct state *done);

#endif
