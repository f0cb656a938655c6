/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The targets file: which addresses nftally counts and which label each is
 * billed to.  Parsing and validation only; pure, no sockets. */
#ifndef NFTALLY_TARGETS_H
#define NFTALLY_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "strpool.h"

#define TARGETS_LABEL_MAX 128   /* bytes, not counting the NUL */
#define TARGETS_LINE_MAX 65536  /* longer lines are an error */
#define TARGETS_GROUP_MAX 256   /* members of one group per address family */

struct target {
	struct addr addr;
	uint32_t label; /* index into targets.labels (32 bits: a million targets
			 * are 32 MB, not 40) */
	unsigned line; /* line in the file it came from (0 if not from a file) */
	bool group;    /* its label is a group ("@LABEL" in the file): traffic
			* between two members of the group is not counted */
};

struct targets {
	char **labels;   /* each label once, in order of first appearance; their
			  * text is in text, the set's */
	size_t nlabels;
	struct target *v; /* sorted by addr_cmp after targets_finalize/parse */
	size_t n;
	struct strpool text;
};

/* An empty set; targets_finish releases it.  Safe to finish twice. */
void targets_init(struct targets *t);
void targets_finish(struct targets *t);

/* Parse a whole buffer (which need not be NUL-terminated and may contain NUL
 * bytes, which are an error) named `name` in messages.  On success fills t
 * (which must be freshly initialised) sorted and validated, and returns 0.
 * On error returns a negative errno, leaves t empty, and puts one line of the
 * form "NAME:LINE: what is wrong" in e.
 *
 * Format: one target per line, `LABEL ADDRESS [ADDRESS ...]`, separated by
 * spaces or tabs, leading blanks allowed (vzlist pads its first column).
 * '#' starts a comment (whole line, or after blanks).  A label written
 * "@LABEL" is a group (the label is LABEL): every line of it must say so, and
 * a group has at most TARGETS_GROUP_MAX members per address family.  A lone "-" as the only
 * address means "no address" (vzlist prints it for containers without IPs).
 * Errors: bad address/prefix, host bits set, duplicate address, overlapping
 * prefixes (with any label), label too long (> TARGETS_LABEL_MAX), label with
 * control characters or invalid UTF-8, line too long, NUL byte. */
int targets_parse_buffer(struct targets *t, const char *name,
			 const char *buf, size_t len, struct err *e);

/* Read and parse a file.  Errors as above, plus "PATH: cannot open: ..." */
int targets_parse_file(struct targets *t, const char *path, struct err *e);

/* Add one target programmatically (used for the host's own addresses when no
 * targets file exists).  Duplicates of an existing address are ignored.
 * Call targets_finalize afterwards.  Returns 0 or -ENOMEM. */
int targets_add(struct targets *t, const char *label, const struct addr *a);

/* Sort and check for overlaps after targets_add calls; same errors as parse. */
int targets_finalize(struct targets *t, const char *name, struct err *e);

/* With network classes: every target once per class, the default class
 * (cls 0) and each of ids[0..n), sorted again.  Returns 0 or -ENOMEM. */
int targets_expand_classes(struct targets *t, const int *ids, size_t n);

/* The target whose address (and class) equals a exactly, or NULL. */
const struct target *targets_find(const struct targets *t, const struct addr *a);
/* Whether a is a target, as targets_find; *at (0 for the first call) is
 * where the last call stopped, so that addresses asked in sorted order
 * (a state, a record) cost one walk, not a search each. */
bool targets_has(const struct targets *t, const struct addr *a, size_t *at);

/* NULL if s[0..n) is acceptable as a label (here, in the labels file and
 * wherever labels come from), else why not: "label is longer than 128
 * bytes", "label is not valid UTF-8", "label contains a control character". */
const char *targets_label_problem(const char *s, size_t n);

/* s[0..n) is valid UTF-8 without control characters (C0, DEL, C1): text
 * that may go into a log line, JSON or a metric label as it is. */
bool targets_text_ok(const char *s, size_t n);

/* Label text of a target. */
static inline const char *targets_label(const struct targets *t,
					const struct target *x)
{
	return t->labels[x->label];
}

#endif
