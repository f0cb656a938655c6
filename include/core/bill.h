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

/* A slot's bytes as a rate in bit/s: bytes * 8 / 300, rounded half up. */
uint64_t bill_bps(uint64_t bytes);

#endif
