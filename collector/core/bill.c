// SPDX-License-Identifier: GPL-2.0-or-later
/* Billing policies and the 95th percentile over a cycle's 5-minute slots,
 * where a slot without a sample is a slot of 0 bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bill.h"

static const char *const bill_names[] = { "sum", "max", "in", "out" };

int bill_policy_parse(const char *s, enum bill_policy *p)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, bill_names[i]) == 0) {
			*p = (enum bill_policy)i;
			return 0;
		}
	return -EINVAL;
}

const char *bill_policy_name(enum bill_policy p)
{
	return (unsigned)p < 4 ? bill_names[p] : "?";
}

uint64_t bill_bytes(enum bill_policy p, uint64_t in, uint64_t out)
{
	switch (p) {
	case BILL_SUM:
		return in > UINT64_MAX - out ? UINT64_MAX : in + out;
	case BILL_MAX:
		return in > out ? in : out;
	case BILL_IN:
		return in;
	case BILL_OUT:
		return out;
	}
	return 0;
}

size_t bill_slots(int64_t start, int64_t end, int64_t now)
{
	int64_t last = now < end ? now : end;

	return last <= start ? 0 : (size_t)((last - start) / BILL_SLOT);
}

/* The k-th smallest (0-based) of v[0..n), v reordered: what sorting would
 * put at v[k], found by Hoare's selection without sorting the rest (a
 * refresh of serve takes three for each label). */
static uint64_t select_kth(uint64_t *v, ptrdiff_t n, ptrdiff_t k)
{
	ptrdiff_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint64_t p = v[lo + (hi - lo) / 2], x;
		ptrdiff_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i <= j) {
				x = v[i];
				v[i++] = v[j];
				v[j--] = x;
			}
		}
		/* v[lo..j] <= p, v[i..hi] >= p, and p between them */
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* The k-th smallest (1-based) of slots values, of which v[0..nv) are
 * given (reordered here) and the rest are 0. */
static uint64_t kth(uint64_t *v, size_t nv, size_t slots, size_t k)
{
	size_t zeros = slots - nv;

	if (k <= zeros)
		return 0;
	return select_kth(v, (ptrdiff_t)nv, (ptrdiff_t)(k - zeros - 1));
}

/* ceil(0.95 N) = ceil(95 N / 100), in integers: the rank of the 95th
 * percentile among N slots. */
static size_t p95_rank(size_t slots)
{
	return (95 * slots + 99) / 100;
}

int bill_p95(const uint64_t *in, const uint64_t *out, size_t nv, size_t slots,
	     enum bill_policy p, struct bill_p95 *r)
{
	uint64_t *w;

	memset(r, 0, sizeof(*r));
	if (nv > slots)
		return -EINVAL;
	r->slots = slots;
	if (!slots)
		return 0;
	r->rank = p95_rank(slots);
	w = malloc((nv ? nv : 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memcpy(w, in, nv * sizeof(*w));
	r->in = kth(w, nv, slots, r->rank);
	memcpy(w, out, nv * sizeof(*w));
	r->out = kth(w, nv, slots, r->rank);
	for (size_t i = 0; i < nv; i++)
		w[i] = bill_bytes(p, in[i], out[i]);
	r->bill = kth(w, nv, slots, r->rank);
	free(w);
	return 0;
}

size_t bill_top_k(size_t slots)
{
	return slots / 20 + 1;
}

void bill_top_init(struct bill_top *t, size_t k)
{
	*t = (struct bill_top){ .k = k ? k : 1 };
}

void bill_top_finish(struct bill_top *t)
{
	free(t->v);
	*t = (struct bill_top){ .k = t->k };
}

/* Restore the heap's order below v[i] (its smallest at the root). */
static void top_sift(uint64_t *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && v[l] < v[m])
			m = l;
		if (l + 1 < n && v[l + 1] < v[m])
			m = l + 1;
		if (m == i)
			return;
		uint64_t x = v[i];

		v[i] = v[m];
		v[m] = x;
		i = m;
	}
}

int bill_top_add(struct bill_top *t, uint64_t v)
{
	size_t i;

	if (!v)
		return 0;
	if (t->n == t->k) { /* full: v replaces the smallest if larger */
		if (v > t->v[0]) {
			t->v[0] = v;
			top_sift(t->v, t->n, 0);
		}
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		uint64_t *nv;

		if (cap > t->k)
			cap = t->k;
		if (!(nv = realloc(t->v, cap * sizeof(*nv))))
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	/* up from the last leaf */
	for (i = t->n++; i && t->v[(i - 1) / 2] > v; i = (i - 1) / 2)
		t->v[i] = t->v[(i - 1) / 2];
	t->v[i] = v;
	return 0;
}

/* kth of bill_p95 over a copy of t's values (the others smaller). */
static int top_kth(const struct bill_top *t, size_t slots, size_t rank, uint64_t *w,
		   uint64_t *out)
{
	if (t->n > slots || (t->n == t->k && slots - rank + 1 > t->k))
		return -EINVAL;
	if (t->n) /* t->v is NULL while empty */
		memcpy(w, t->v, t->n * sizeof(*w));
	*out = kth(w, t->n, slots, rank);
	return 0;
}

int bill_top_p95(const struct bill_top *in, const struct bill_top *out,
		 const struct bill_top *bill, size_t slots, struct bill_p95 *r)
{
	size_t n = in->n > out->n ? in->n : out->n;
	uint64_t *w;
	int ret;

	memset(r, 0, sizeof(*r));
	r->slots = slots;
	if (!slots)
		return in->n || out->n || bill->n ? -EINVAL : 0;
	r->rank = p95_rank(slots);
	if (bill->n > n)
		n = bill->n;
	if (!(w = malloc((n ? n : 1) * sizeof(*w))))
		return -ENOMEM;
	ret = top_kth(in, slots, r->rank, w, &r->in);
	ret = ret ? ret : top_kth(out, slots, r->rank, w, &r->out);
	ret = ret ? ret : top_kth(bill, slots, r->rank, w, &r->bill);
	free(w);
	return ret;
}

uint64_t bill_bps(uint64_t bytes)
{
	unsigned __int128 b = (unsigned __int128)bytes * 8 + BILL_SLOT / 2;

	return (uint64_t)(b / BILL_SLOT);
}
