/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The labels file: which label a discovered address is billed to, by
 * address or by prefix (the longest one containing it).  Parsing and lookup
 * only; pure. */
#ifndef NFTALLY_LABELS_H
#define NFTALLY_LABELS_H

#include <stddef.h>

#include "addr.h"
#include "err.h"

struct labels_entry {
	struct addr a;  /* class always 0 */
	size_t label;   /* offset of its label in labels.text */
	unsigned line;  /* in the file */
};

/* The prefixes of one length and family: v[lo..hi), sorted by address. */
struct labels_span {
	size_t lo, hi;
	unsigned plen;
};

struct labels {
	struct labels_entry *v; /* by family, then longest prefix first, then address */
	size_t n;
	char *text;             /* the labels, each NUL-terminated */
	size_t ntext;
	struct labels_span span[2][129]; /* [IPv6]: the lengths present, longest first */
	size_t nspan[2];
};

/* An empty set (every lookup NULL); labels_finish releases it, and may be
 * called twice. */
void labels_init(struct labels *l);
void labels_finish(struct labels *l);

/* Parse a whole buffer (not NUL-terminated; NUL bytes are an error) named
 * `name` in messages into l (initialised), replacing what l held.  Format:
 * one `ADDRESS[/PREFIX] LABEL` a line, separated by blanks, then nothing but
 * an optional '#' comment; blank lines and '#' lines are skipped.  Labels
 * follow the targets file's rules (targets_label_problem), and may not
 * start with '@' (groups are made in the targets file).  Prefixes may
 * nest: the longest one containing an address wins.  Errors "NAME:LINE:
 * ...": bad address or prefix, host bits set, the same address or prefix
 * twice, missing label, more than one field after the address, bad label,
 * line longer than TARGETS_LINE_MAX, NUL byte.  Returns 0, or a negative
 * errno with l unchanged. */
int labels_parse_buffer(struct labels *l, const char *name, const char *buf, size_t len,
			struct err *e);

/* Read and parse a file.  Errors as above, plus "PATH: cannot open: ..."
 * and "PATH: cannot read: ...". */
int labels_load(struct labels *l, const char *path, struct err *e);

/* The label of the longest prefix (a host address being the longest) that
 * contains a (an address or a prefix; its class is ignored), or NULL.  The
 * text belongs to l. */
const char *labels_lookup(const struct labels *l, const struct addr *a);

#endif
