// SPDX-License-Identifier: GPL-2.0-or-later
/* The report model: the deltas of a report (plain, from zero after a reset
 * or a recreated counter, silently from zero after a drain, the last
 * deltas of a drained address), the overhead, and the rows report_make
 * keeps (the ones with traffic, with the origin), and the same rows made
 * a block at a time. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "states.h"
#include "test.h"

struct seen {
	char text[8][512];
	size_t n;
};

static int collect(const struct report_delta *d, void *data)
{
	struct seen *s = data;

	test_assert(s->n < 8);
	snprintf(s->text[s->n++], sizeof(s->text[0]), "%s %s %llu %llu %llu %llu %d", d->addr,
		 d->label, (unsigned long long)d->d.in_bytes,
		 (unsigned long long)d->d.in_packets, (unsigned long long)d->d.out_bytes,
		 (unsigned long long)d->d.out_packets, (int)d->reset);
	return 0;
}

static void test_each(void)
{
	struct state done, next;
	struct seen s = { .n = 0 };

	make_states(&done, &next, 0);
	test_assert(report_each(&done, &next, collect, &s) == 0);
	test_assert(s.n == 7);
	test_streq(s.text[0], "198.18.0.1 a 500 5 200 2 0");
	test_streq(s.text[1], "198.18.0.2 b 100 1 0 0 2");  /* STATE_FROM_RESET */
	test_streq(s.text[2], "198.18.0.3 c 50 1 50 1 3");  /* STATE_FROM_RECREATED */
	test_streq(s.text[3], "198.18.0.4 d 60 1 70 1 0");  /* from zero, silently */
	test_streq(s.text[4], "198.18.0.5 new 10 1 20 2 0");
	test_streq(s.text[5], "198.18.0.6 f 0 0 0 0 0");
	test_streq(s.text[6], "2001:db8::1 e 200 2 0 0 0");
	state_finish(&done);
	state_finish(&next);
}

static void test_overhead(void)
{
	struct state done, next;
	struct seen s = { .n = 0 };

	make_states(&done, &next, 14);
	test_assert(report_each(&done, &next, collect, &s) == 0);
	test_assert(s.n == 7);
	test_streq(s.text[0], "198.18.0.1 a 570 5 228 2 0");
	test_streq(s.text[6], "2001:db8::1 e 228 2 0 0 0");
	state_finish(&done);
	state_finish(&next);
}

static int stop_at_second(const struct report_delta *d, void *data)
{
	return ++*(int *)data == 2 ? 7 : 0;
}

static void test_stop(void)
{
	struct state done, next;
	int calls = 0;

	make_states(&done, &next, 0);
	test_assert(report_each(&done, &next, stop_at_second, &calls) == 7);
	test_assert(calls == 2);
	state_finish(&done);
	state_finish(&next);
}

static void test_make(void)
{
	struct state done, next;
	struct report_origin o;
	struct report r;
	char text[ADDR_STRLEN];

	make_states(&done, &next, 0);
	report_origin_init(&o, "gw1", "", "routers", "nftally");
	test_assert(report_make(&r, &o, &(struct addr_names){ 0 }, &done, &next) == 0);
	test_streq(r.origin.host, "gw1");
	test_streq(r.origin.netns, "");
	test_streq(r.origin.account, "routers");
	test_streq(r.origin.table, "nftally");
	test_assert(r.seq == 5 && r.time == 1767225660 && r.since == 1767225600);
	/* 198.18.0.6 had no traffic: no row */
	test_assert(r.n == 6);
	test_streq(addr_format(&r.v[0].a, text), "198.18.0.1");
	test_streq(r.v[0].label, "a");
	test_assert(r.v[0].d.in_bytes == 500 && r.v[0].d.in_packets == 5 &&
		    r.v[0].d.out_bytes == 200 && r.v[0].d.out_packets == 2);
	test_streq(addr_format(&r.v[4].a, text), "198.18.0.5");
	test_streq(addr_format(&r.v[5].a, text), "2001:db8::1");
	test_assert(r.v[5].d.in_bytes == 200 && r.v[5].d.in_packets == 2 &&
		    r.v[5].d.out_bytes == 0 && r.v[5].d.out_packets == 0);
	test_assert(!r.owned && r.v[1].label == state_label(&next, state_find(&next, &r.v[1].a)));
	/* owned, the report outlives the state */
	test_assert(report_own(&r) == 0 && r.owned);
	state_finish(&next);
	test_streq(r.v[1].label, "b");
	test_streq(r.v[3].label, "d");
	report_free(&r);
	report_free(&r); /* harmless */
	test_assert(r.n == 0 && r.v == NULL);
	state_finish(&done);
}

/* Blocks of every size hold report_make's rows, in its order, with its
 * head; a block may end on entries without traffic, the last may be empty. */
static void test_make_some(void)
{
	struct state done, next;
	struct report_origin o;
	struct report all, r;

	make_states(&done, &next, 0);
	report_origin_init(&o, "gw1", "", "routers", "nftally");
	test_assert(report_make(&all, &o, &(struct addr_names){ 0 }, &done, &next) == 0);
	test_assert(all.n == 6);
	for (size_t max = 1; max <= 8; max++) {
		size_t pos = 0, rows = 0, blocks = 0;
		int more;

		do {
			more = report_make_some(&r, &o, &(struct addr_names){ 0 }, &done, &next,
						&pos, max);
			test_assert(more >= 0 && r.n <= max && blocks++ < 8);
			test_streq(r.origin.account, "routers");
			test_assert(r.seq == all.seq && r.time == all.time && r.since == all.since);
			for (size_t i = 0; i < r.n; i++, rows++) {
				const struct report_row *x = &r.v[i], *y = &all.v[rows];

				test_assert(addr_cmp(&x->a, &y->a) == 0 && x->label == y->label &&
					    x->cls == y->cls &&
					    memcmp(&x->d, &y->d, sizeof(x->d)) == 0);
			}
			report_free(&r);
		} while (more);
		test_assert(rows == all.n && pos == next.n);
	}
	{
		size_t pos = 0;

		test_assert(report_make_some(&r, &o, &(struct addr_names){ 0 }, &done, &next,
					     &pos, 0) == -EINVAL);
	}
	report_free(&all);
	state_finish(&done);
	state_finish(&next);
}

static void test_origin_truncated(void)
{
	struct report_origin o;
	char longname[300];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	report_origin_init(&o, longname, NULL, longname, "t");
	test_assert(strlen(o.host) == sizeof(o.host) - 1);
	test_assert(strlen(o.account) == sizeof(o.account) - 1);
	test_streq(o.netns, "");
	test_assert(strlen(o.account) == sizeof(o.account) - 1);
}

static void test_empty(void)
{
	struct state done, next;
	struct report r;

	state_init(&done);
	state_init(&next);
	next.seq = 1;
	next.time = 60;
	test_assert(report_make(&r, NULL, &(struct addr_names){ 0 }, &done, &next) == 0);
	test_assert(r.n == 0 && r.seq == 1 && r.time == 60);
	test_streq(r.origin.host, "");
	report_free(&r);
}

/* A row carries its class's label from the account's registry: the same
 * class number is another label in two registries that number classes
 * differently; without classes configured there is no label. */
static void test_class_labels(void)
{
	struct addr_names a, b;
	struct state done, next;
	struct report r;
	struct addr x;

	addr_names_init(&a);
	addr_names_init(&b);
	test_assert(addr_names_id(&a, "local") == 1 && addr_names_id(&a, "national") == 2);
	test_assert(addr_names_id(&b, "national") == 1 && addr_names_id(&b, "local") == 2);
	state_init(&done);
	state_init(&next);
	next.seq = 1;
	test_assert(addr_parse("198.18.0.1", &x, NULL) == 0);
	x.cls = 1;
	test_assert(state_add(&next, &x, "h", &(struct counts){ 1, 1, 0, 0 }, true) == 0);
	test_assert(report_make(&r, NULL, &a, &done, &next) == 0);
	test_assert(r.n == 1 && r.v[0].cls == NULL);
	report_free(&r);
	addr_names_on(&a, "other");
	addr_names_on(&b, "other");
	test_assert(report_make(&r, NULL, &a, &done, &next) == 0);
	test_streq(r.v[0].cls, "local");
	report_free(&r);
	test_assert(report_make(&r, NULL, &b, &done, &next) == 0);
	test_streq(r.v[0].cls, "national");
	report_free(&r);
	next.v[0].addr.cls = 0;
	test_assert(report_make(&r, NULL, &b, &done, &next) == 0);
	test_streq(r.v[0].cls, "other");
	report_free(&r);
	state_finish(&done);
	state_finish(&next);
}

int main(void)
{
	test_class_labels();
	test_each();
	test_overhead();
	test_stop();
	test_make();
	test_make_some();
	test_origin_truncated();
	test_empty();
	return 0;
}
