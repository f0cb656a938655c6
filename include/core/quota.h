/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The quotas file (docs/quotas.md): a byte limit per label and billing
 * cycle, the fractions of it that warn, what is billed, and the opt-in
 * enforcement of an exceeded quota; and the pure decisions made from it:
 * which levels a label's usage has crossed.  Pure: labels stay text of
 * nftally's own; nothing here reaches nft syntax but numbers. */
#ifndef NFTALLY_QUOTA_H
#define NFTALLY_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counts.h"
#include "err.h"

#define QUOTA_WARN_MAX 8       /* warning fractions per quota */
#define QUOTA_FILE_MAX (8 << 20)
#define QUOTA_MAX 100000       /* lines of one quotas file */
#define QUOTA_RATES_MAX 16     /* distinct throttle rates: a rule each */

/* What is billed against the limit, from a cycle's in and out bytes. */
enum quota_bill { QUOTA_BILL_SUM, QUOTA_BILL_MAX, QUOTA_BILL_IN, QUOTA_BILL_OUT };

/* What an exceeded quota does to the label's packets (docs/quotas.md). */
enum quota_action { QUOTA_ACT_NONE, QUOTA_ACT_MARK, QUOTA_ACT_THROTTLE, QUOTA_ACT_DROP };

struct quota {
	char *label;            /* as reports show it (malloc'd) */
	uint64_t limit;         /* bytes per cycle, > 0 */
	unsigned char warn[QUOTA_WARN_MAX]; /* percents 1..99, ascending */
	size_t nwarn;
	enum quota_bill bill;
	enum quota_action action;
	uint32_t mark;          /* QUOTA_ACT_MARK: the packet mark, not 0 */
	uint64_t rate;          /* QUOTA_ACT_THROTTLE: bytes per second, > 0 */
	unsigned line;
};

struct quotas {
	struct quota *v;        /* sorted by label, each label once */
	size_t n;
};

void quotas_init(struct quotas *q);
/* Frees what q holds; harmless twice. */
void quotas_finish(struct quotas *q);

/* Parse a quotas file's text (named `name` in messages):
 *   LABEL LIMIT [warn=P%[,P%...]|warn=none] [bill=sum|max|in|out]
 *         [action=mark:0xNN|throttle:RATE|drop]
 * '#' starts a comment.  LIMIT as units_parse_bytes, RATE as
 * units_parse_rate; warn defaults to dflt_warn[0..ndflt).  Errors
 * "NAME:LINE: ..." (a label twice, bad fields, unknown options).  0 or a
 * negative errno; on error q is unchanged. */
int quotas_parse_buffer(struct quotas *q, const char *name, const char *buf, size_t len,
			const unsigned char *dflt_warn, size_t ndflt, struct err *e);
/* The same, from a file (at most QUOTA_FILE_MAX bytes). */
int quotas_load(struct quotas *q, const char *path, const unsigned char *dflt_warn,
		size_t ndflt, struct err *e);

/* The quota of label, or NULL. */
const struct quota *quotas_find(const struct quotas *q, const char *label);

/* "80%,90%" (or "none": no warnings) into out[0..*n): percents 1..99,
 * strictly ascending, at most QUOTA_WARN_MAX.  NULL, or what is wrong. */
const char *quota_parse_warn(const char *s, size_t len, unsigned char *out, size_t *n);

/* The billed bytes of c under policy b. */
uint64_t quota_billed(enum quota_bill b, const struct counts *c);

/* A set of levels: bit p (1..100) for the warning at p percent, bit 100
 * for the limit itself. */
struct quota_levels {
	uint64_t w[2];
};

static inline bool quota_levels_has(const struct quota_levels *l, unsigned p)
{
	return (l->w[p / 64] >> (p % 64)) & 1;
}

static inline void quota_levels_add(struct quota_levels *l, unsigned p)
{
	l->w[p / 64] |= (uint64_t)1 << (p % 64);
}

/* The levels of q that `used` billed bytes have reached (used >= limit *
 * p / 100, computed without overflow), which `fired` does not hold yet,
 * into *out; returns how many.  At most one level of each; a usage that
 * jumps past several crosses them all at once. */
size_t quota_crossed(const struct quota *q, uint64_t used, const struct quota_levels *fired,
		     struct quota_levels *out);

/* The state metric: 0 below every level, 1 a warning level reached, 2 the
 * limit reached. */
int quota_state(const struct quota *q, uint64_t used);

/* "sum", "max", "in", "out"; "none", "mark", "throttle", "drop". */
const char *quota_bill_name(enum quota_bill b);
const char *quota_action_name(enum quota_action a);

#endif
