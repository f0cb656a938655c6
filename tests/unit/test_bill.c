/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for bill: the policies, the slots of a partial cycle, and
 * the 95th percentile over known sample sets, each expected value worked
 * out by hand from the definition in docs/billing.md (k = ceil(0.95 N),
 * the k-th smallest of N slots, slots without a sample 0). */
#include <errno.h>

#include "bill.h"
#include "test.h"

static void test_policy(void)
{
	enum bill_policy p;

	test_assert(bill_policy_parse("sum", &p) == 0 && p == BILL_SUM);
	test_assert(bill_policy_parse("max", &p) == 0 && p == BILL_MAX);
	test_assert(bill_policy_parse("in", &p) == 0 && p == BILL_IN);
	test_assert(bill_policy_parse("out", &p) == 0 && p == BILL_OUT);
	test_assert(bill_policy_parse("both", &p) == -EINVAL);
	test_assert(bill_policy_parse("", &p) == -EINVAL);
	test_streq(bill_policy_name(BILL_MAX), "max");
	test_assert(bill_bytes(BILL_SUM, 3, 4) == 7);
	test_assert(bill_bytes(BILL_MAX, 3, 4) == 4 && bill_bytes(BILL_MAX, 5, 4) == 5);
	test_assert(bill_bytes(BILL_IN, 3, 4) == 3 && bill_bytes(BILL_OUT, 3, 4) == 4);
	test_assert(bill_bytes(BILL_SUM, UINT64_MAX, 1) == UINT64_MAX);
}

static void test_slots(void)
{
	const int64_t s = 1767225600, e = s + 31 * 86400;

	test_assert(bill_slots(s, e, e + 5000) == 8928);   /* a past cycle: all */
	test_assert(bill_slots(s, e, s + 3299) == 10);     /* 10 ended, the 11th runs */
	test_assert(bill_slots(s, e, s + 3300) == 11);
	test_assert(bill_slots(s, e, s + 299) == 0);
	test_assert(bill_slots(s, e, s - 10) == 0);        /* a future cycle */
}

static struct bill_p95 p95(const uint64_t *in, const uint64_t *out, size_t nv, size_t n,
			   enum bill_policy p)
{
	struct bill_p95 r;

	test_assert(bill_p95(in, out, nv, n, p, &r) == 0);
	return r;
}

static void test_p95(void)
{
	uint64_t in[20], out[20], five[10], none[1] = { 0 };
	struct bill_p95 r;

	/* N = 20 full slots, in = 1..20, out = 20..1: k = ceil(19) = 19.
	 * in sorted 1..20: the 19th is 19; out likewise 19.  sum: every slot
	 * 21, so 21.  max: max(i, 21 - i) = 20,19,...,11,11,...,20, sorted
	 * 11,11,12,12,...,20,20: the 19th is 20, not max(19, 19): the policy
	 * is applied per slot before the percentile. */
	for (int i = 0; i < 20; i++) {
		in[i] = (uint64_t)i + 1;
		out[i] = 20 - (uint64_t)i;
	}
	r = p95(in, out, 20, 20, BILL_SUM);
	test_assert(r.slots == 20 && r.rank == 19 && r.in == 19 && r.out == 19 && r.bill == 21);
	test_assert(p95(in, out, 20, 20, BILL_MAX).bill == 20);
	test_assert(p95(in, out, 20, 20, BILL_IN).bill == 19);
	test_assert(p95(in, out, 20, 20, BILL_OUT).bill == 19);
	/* the order of the samples does not matter */
	test_assert(p95(out, in, 20, 20, BILL_MAX).bill == 20);

	/* ties: N = 100, ten slots of 5 in, 90 without samples (0).  k = 95:
	 * sorted, 90 zeros then 5,5,...: the 95th is 5 */
	for (int i = 0; i < 10; i++)
		five[i] = 5;
	r = p95(five, five, 10, 100, BILL_SUM);
	test_assert(r.rank == 95 && r.in == 5 && r.out == 5 && r.bill == 10);
	/* five samples: 95 zeros, the 95th is 0 (a burst of 5 % is free) */
	r = p95(five, five, 5, 100, BILL_SUM);
	test_assert(r.in == 0 && r.bill == 0);
	/* six: 94 zeros, the 95th is the smallest sample */
	five[0] = 2;
	r = p95(five, five, 6, 100, BILL_MAX);
	test_assert(r.in == 2 && r.out == 2 && r.bill == 2);

	/* a partial cycle: 10 slots ended (bill_slots), k = ceil(9.5) = 10:
	 * nothing discarded below 20 slots, the largest slot */
	r = p95(in, out, 10, 10, BILL_SUM);
	test_assert(r.rank == 10 && r.in == 10 && r.out == 20 && r.bill == 21);
	/* N = 19: k = ceil(18.05) = 19, still the largest */
	r = p95(in, out, 19, 19, BILL_IN);
	test_assert(r.rank == 19 && r.in == 19 && r.bill == 19);
	/* 31 days: N = 8928, k = ceil(8481.6) = 8482, 446 slots discarded;
	 * 30 days: N = 8640, k = 8208 exactly, 432 discarded (36 hours) */
	test_assert(p95(in, out, 20, 8928, BILL_SUM).rank == 8482);
	test_assert(p95(in, out, 20, 8640, BILL_SUM).rank == 8208);
	/* no slot yet, and more samples than slots */
	r = p95(none, none, 0, 0, BILL_SUM);
	test_assert(r.slots == 0 && r.rank == 0 && r.bill == 0);
	test_assert(bill_p95(in, out, 20, 19, BILL_SUM, &r) == -EINVAL);
}

static void test_bps(void)
{
	test_assert(bill_bps(150) == 4);       /* 1200 / 300 exactly */
	test_assert(bill_bps(1000) == 27);     /* 26.67 */
	test_assert(bill_bps(18) == 0);        /* 0.48 */
	test_assert(bill_bps(19) == 1);        /* 0.507 */
	test_assert(bill_bps(37500000) == 1000000); /* 1 Mbit/s */
	test_assert(bill_bps(UINT64_MAX) == 491913175298921376ULL); /* no overflow */
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The rank-th smallest (1-based) of slots values, v[0..n) and zeros, by
 * sorting: an oracle apart from bill.c's selection. */
static uint64_t sorted_kth(const uint64_t *v, size_t n, size_t slots, size_t rank)
{
	static uint64_t w[8928];

	memcpy(w, v, n * sizeof(*w));
	qsort(w, n, sizeof(*w), u64_cmp);
	return rank <= slots - n ? 0 : w[rank - (slots - n) - 1];
}

/* The kept top of a series gives bill_p95's percentiles exactly, slot by
 * slot up to the longest cycle it is made for: series with zeros, ties,
 * rising (each value replacing the smallest kept) and missing slots. */
static void top_check(const uint64_t *in, const uint64_t *out, size_t nmax, size_t step)
{
	struct bill_top ti, to, tb;
	size_t k = bill_top_k(nmax);
	struct bill_p95 a, b;
	static uint64_t bb[8928];

	for (size_t i = 0; i < nmax; i++)
		bb[i] = bill_bytes(BILL_MAX, in[i], out[i]);
	bill_top_init(&ti, k);
	bill_top_init(&to, k);
	bill_top_init(&tb, k);
	for (size_t n = 1; n <= nmax; n++) {
		test_assert(bill_top_add(&ti, in[n - 1]) == 0);
		test_assert(bill_top_add(&to, out[n - 1]) == 0);
		test_assert(bill_top_add(&tb, bill_bytes(BILL_MAX, in[n - 1], out[n - 1])) == 0);
		test_assert(ti.n <= k && to.n <= k && tb.n <= k);
		if (n % step && n != nmax)
			continue;
		/* n slots with values, then as many again empty while they fit */
		for (size_t slots = n; slots <= nmax && slots <= 2 * n; slots += n / 3 + 1) {
			test_assert(bill_p95(in, out, n, slots, BILL_MAX, &a) == 0);
			test_assert(bill_top_p95(&ti, &to, &tb, slots, &b) == 0);
			test_assert(a.slots == b.slots && a.rank == b.rank);
			test_assert(a.in == b.in && a.out == b.out && a.bill == b.bill);
			test_assert(a.in == sorted_kth(in, n, slots, a.rank) &&
				    a.out == sorted_kth(out, n, slots, a.rank) &&
				    a.bill == sorted_kth(bb, n, slots, a.rank));
		}
	}
	/* a full top is too short for a longer cycle */
	if (ti.n == k)
		test_assert(bill_top_p95(&ti, &to, &tb, 20 * k, &b) == -EINVAL);
	bill_top_finish(&ti);
	bill_top_finish(&to);
	bill_top_finish(&tb);
}

static void test_top(void)
{
	static uint64_t in[8928], out[8928];
	uint64_t x = 12345;
	struct bill_top t;
	struct bill_p95 r;

	test_assert(bill_top_k(8928) == 447 && bill_top_k(19) == 1 && bill_top_k(20) == 2);
	for (size_t i = 0; i < 8928; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		in[i] = (x >> 33) % 7 == 0 ? 0 : (x >> 40) % 50;  /* zeros and ties */
		out[i] = (x >> 20) % 1000000007;
	}
	top_check(in, out, 600, 1);
	top_check(in, out, 8928, 97);
	for (size_t i = 0; i < 8928; i++) { /* rising, and falling */
		in[i] = i + 1;
		out[i] = 8928 - i;
	}
	top_check(in, out, 8928, 101);
	bill_top_init(&t, 1);
	test_assert(bill_top_p95(&t, &t, &t, 0, &r) == 0 && r.slots == 0 && r.rank == 0);
	test_assert(bill_top_p95(&t, &t, &t, 19, &r) == 0 && r.rank == 19 && r.bill == 0);
	test_assert(bill_top_add(&t, 5) == 0 && bill_top_add(&t, 3) == 0 && t.n == 1);
	test_assert(bill_top_p95(&t, &t, &t, 19, &r) == 0 && r.in == 5);
	test_assert(bill_top_p95(&t, &t, &t, 20, &r) == -EINVAL);
	bill_top_finish(&t);
}

int main(void)
{
	test_policy();
	test_slots();
	test_p95();
	test_bps();
	test_top();
	return 0;
}
