/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which billing cycle each label is billed on: the daemon-wide default
 * (cycle_day, timezone) and the cycles file's per-label lines.  Pure apart
 * from reading the file. */
#ifndef NFTALLY_BILLING_H
#define NFTALLY_BILLING_H

#include <stddef.h>

#include "cycle.h"
#include "err.h"

struct config;

struct billing_entry {
	char *label;    /* malloc'd */
	struct cycle c;
	unsigned line;  /* in the cycles file */
};

struct billing {
	struct cycle dflt;        /* every label the file does not name */
	struct billing_entry *v;  /* sorted by label (strcmp) */
	size_t n;
};

/* A set with dflt = { day, tz } and no per-label lines.  billing_finish
 * frees it; safe twice. */
void billing_init(struct billing *b, int day, const char *tz);
void billing_finish(struct billing *b);

/* Parse a cycles file's text (not NUL-terminated; NUL bytes are an error)
 * named `name` in messages, replacing b's per-label lines (dflt stays).
 * Format: one `LABEL DAY [TZ]` a line, separated by blanks, then nothing but
 * an optional '#' comment; blank and '#' lines skipped.  LABEL follows the
 * targets file's rules (targets_label_problem); DAY 1..31; TZ as
 * cycle_tz_check (absent: the default's zone).  Errors "NAME:LINE: ..." (a
 * label shown with its unprintable bytes as '?'): bad label, bad day, bad
 * zone, a label twice (naming the first line), text after TZ, line longer
 * than TARGETS_LINE_MAX.  0, or a negative errno with b unchanged. */
int billing_parse_buffer(struct billing *b, const char *name, const char *buf, size_t len,
			 struct err *e);

/* Read and parse the file at path (errors as file_load and above). */
int billing_load(struct billing *b, const char *path, struct err *e);

/* The set a config asks for: dflt from cycle_day and timezone, lines from
 * its cycles file if one is set.  0 or a negative errno with e set. */
int billing_from_config(struct billing *b, const struct config *c, struct err *e);

/* The cycle of label (its line, else dflt).  Never NULL; b's memory. */
const struct cycle *billing_cycle_of(const struct billing *b, const char *label);

#endif
