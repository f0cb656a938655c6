// SPDX-License-Identifier: GPL-2.0-or-later
/* The backlog of a durable sink: order, bound, recovery in order, a
 * refused report that stays first, and labels that outlive the state. */
#include <errno.h>
#include <string.h>

#include "backlog.h"
#include "test.h"

/* A report of one row labelled label, with seq. */
static void make(struct report *r, uint64_t seq, const char *label)
{
	static struct report_row row;

	memset(r, 0, sizeof(*r));
	test_assert(addr_parse("198.18.0.1", &row.a, NULL) == 0);
	row.label = label;
	row.d = (struct counts){ seq * 100, seq, 0, 0 };
	r->v = malloc(sizeof(row));
	test_assert(r->v);
	r->v[0] = row;
	r->n = 1;
	r->seq = seq;
	r->time = 1767225600 + (int64_t)seq * 60;
}

struct taker {
	uint64_t seqs[BACKLOG_MAX];
	size_t n;
	uint64_t refuse; /* refuse this seq (0: none) */
};

static int take(const struct report *r, void *data)
{
	struct taker *t = data;

	if (r->seq == t->refuse)
		return -EBUSY;
	test_streq(r->v[0].label, "lab");
	test_assert(r->v[0].d.in_bytes == r->seq * 100);
	t->seqs[t->n++] = r->seq;
	return 0;
}

static void test_order_and_recovery(void)
{
	struct backlog b;
	struct report r;
	struct taker t = { .n = 0, .refuse = 3 };
	char label[8];

	backlog_init(&b, 8);
	for (uint64_t seq = 1; seq <= 4; seq++) {
		strcpy(label, "lab");
		make(&r, seq, label);
		test_assert(backlog_push(&b, &r) == 0);
		test_assert(r.v == NULL && r.n == 0); /* taken */
		strcpy(label, "XXX"); /* the state's label changes: the copy stays */
	}
	test_assert(b.n == 4);
	/* the store refuses report 3: 1 and 2 go in, 3 and 4 wait, in order */
	test_assert(backlog_drain(&b, take, &t) == -EBUSY);
	test_assert(t.n == 2 && t.seqs[0] == 1 && t.seqs[1] == 2);
	test_assert(b.n == 2 && b.v[0].seq == 3 && b.v[1].seq == 4);
	/* it works again: the rest, oldest first, each once */
	t.refuse = 0;
	test_assert(backlog_drain(&b, take, &t) == 0);
	test_assert(t.n == 4 && t.seqs[2] == 3 && t.seqs[3] == 4);
	test_assert(b.n == 0);
	/* nothing waits: nothing offered */
	test_assert(backlog_drain(&b, take, &t) == 0 && t.n == 4);
	backlog_finish(&b);
}

static void test_bound(void)
{
	struct backlog b;
	struct report r;

	backlog_init(&b, 2);
	make(&r, 1, "lab");
	test_assert(backlog_push(&b, &r) == 0);
	make(&r, 2, "lab");
	test_assert(backlog_push(&b, &r) == 0);
	make(&r, 3, "lab");
	test_assert(backlog_push(&b, &r) == -ENOSPC);
	test_assert(r.n == 1 && r.seq == 3 && !r.owned); /* still the caller's */
	report_free(&r);
	test_assert(b.n == 2 && b.v[0].seq == 1 && b.v[1].seq == 2);
	backlog_finish(&b); /* frees what waits */
	test_assert(b.n == 0);
	/* no more than BACKLOG_MAX, whatever is asked */
	backlog_init(&b, 1000);
	test_assert(b.max == BACKLOG_MAX);
	/* a backlog of 0 takes nothing */
	backlog_init(&b, 0);
	make(&r, 1, "lab");
	test_assert(backlog_push(&b, &r) == -ENOSPC);
	report_free(&r);
}

int main(void)
{
	test_order_and_recovery();
	test_bound();
	return 0;
}
