// SPDX-License-Identifier: GPL-2.0-or-later
/* Billing policies and the 95th percentile over a cycle's 5-minute slots,
 * where a slot without a sample is a slot of 0 bytes. */
#include <errno.h>
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

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The k-th smallest (1-based) of slots values, of which v[0..nv) are
 * given (sorted here) and the rest are 0. */
static uint64_t kth(uint64_t *v, size_t nv, size_t slots, size_t k)
{
	size_t zeros = slots - nv;

	if (k <= zeros)
		return 0;
	qsort(v, nv, sizeof(*v), u64_cmp);
	return v[k - zeros - 1];
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
	/* ceil(0.95 N) = ceil(95 N / 100), in integers */
	r->rank = (95 * slots + 99) / 100;
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

uint64_t bill_bps(uint64_t bytes)
{
	unsigned __int128 b = (unsigned __int128)bytes * 8 + BILL_SLOT / 2;

	return (uint64_t)(b / BILL_SLOT);
}
