/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What is billed (in+out, the larger, in or out) and the 95th percentile
 * of 5-minute samples over a cycle, as pure functions of the samples
 * (docs/billing.md has the definition and a worked example). */
#ifndef NFTALLY_BILL_H
#define NFTALLY_BILL_H

#include <stddef.h>
#include <stdint.h>

#define BILL_SLOT 300 /* seconds of one sample */

enum bill_policy { BILL_SUM, BILL_MAX, BILL_IN, BILL_OUT };

/* "sum", "max", "in", "out" into *p: 0 or -EINVAL. */
int bill_policy_parse(const char *s, enum bill_policy *p);
const char *bill_policy_name(enum bill_policy p);

/* The billed bytes of in and out under p (sum saturates at UINT64_MAX). */
uint64_t bill_bytes(enum bill_policy p, uint64_t in, uint64_t out);

/* How many whole slots of [start, end) have ended by now: all of them
 * for a past cycle; for the current one those before the slot in
 * progress (which is left out, its sample not complete yet); 0 before
 * start.  start is a multiple of BILL_SLOT. */
size_t bill_slots(int64_t start, int64_t end, int64_t now);

struct bill_p95 {
	size_t slots;      /* N: the slots of the cycle counted (bill_slots) */
	size_t rank;       /* k = ceil(0.95 * N), 1-based; 0 when N is 0 */
	uint64_t in, out;  /* the k-th smallest in bytes and out bytes of a slot */
	uint64_t bill;     /* the k-th smallest of bill_bytes(p, in_i, out_i) */
};

/* The 95th percentiles of N = slots slots, of which nv (<= slots) have
 * samples in[i], out[i] (in any order) and the others count as 0: each of
 * in, out and the policy's per-slot value sorted ascending over all N
 * slots, and the k-th smallest taken, k = ceil(0.95 * N) (the top
 * N - k, 5 % rounded down, discarded).  0; -EINVAL if nv > slots;
 * -ENOMEM. */
int bill_p95(const uint64_t *in, const uint64_t *out, size_t nv, size_t slots,
	     enum bill_policy p, struct bill_p95 *r);

/* The largest values of a series of slots, at most k of them (a min-heap
 * in v[0..n), grown up to k): what the 95th percentile of the series
 * needs while it has no more than 20 k - 1 slots, so that a cycle's can
 * be kept and added to slot by slot.  Zero: empty. */
struct bill_top {
	uint64_t *v;
	size_t n, cap, k;
};

/* The k a cycle of slots slots needs: floor(0.05 slots) + 1, the rank
 * from the top of its 95th percentile, N - ceil(0.95 N) + 1, for its
 * longest N (and so for every shorter one). */
size_t bill_top_k(size_t slots);

/* Keep at most k values in t (k >= 1; t zero or finished).  No
 * allocation until a value is added. */
void bill_top_init(struct bill_top *t, size_t k);
void bill_top_finish(struct bill_top *t);

/* One slot's value into t (0 is not kept: slots without one count as 0
 * anyway).  0 or -ENOMEM (t unchanged). */
int bill_top_add(struct bill_top *t, uint64_t v);

/* bill_p95's result for N = slots slots whose largest values are in, out
 * and bill (the policy's per-slot values), the other slots' values being
 * smaller: the same k-th smallest, as the (N - k + 1)-th largest.  0;
 * -EINVAL when a full top is too short for N (N > 20 k - 1) or holds
 * more values than slots; -ENOMEM. */
int bill_top_p95(const struct bill_top *in, const struct bill_top *out,
		 const struct bill_top *bill, size_t slots, struct bill_p95 *r);

/* A slot's bytes as a rate in bit/s: bytes * 8 / 300, rounded half up. */
uint64_t bill_bps(uint64_t bytes);

#endif
