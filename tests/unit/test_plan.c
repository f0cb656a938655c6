/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for plan: what an apply adds, mends, deletes and drains, from
 * the previous targets (incremental) or from a listing of the kernel's
 * table (full resync), and the defer rule.  Values in, values out. */
#include <stdint.h>
#include <sys/socket.h>

#include "plan.h"
#include "test.h"

#define ALL (PLAN_CTR(0) | PLAN_CTR(1) | PLAN_ELEM(0) | PLAN_ELEM(1))

static struct targets parse(const char *text)
{
	struct targets t;
	struct err e;

	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "t", text, strlen(text), &e) == 0);
	return t;
}

static struct addr A(const char *s)
{
	struct addr a;

	test_assert(addr_parse(s, &a, NULL) == 0);
	return a;
}

static struct plan_ctr ctr(const char *s, int dir)
{
	return (struct plan_ctr){ A(s), (uint8_t)dir };
}

/* An element of a's map for dir, pointing at counter ref of direction
 * rdir (ref NULL: a counter not of nftally's form). */
static struct plan_elem elem(const char *key, int dir, const char *ref, int rdir)
{
	struct addr k = A(key);
	struct plan_elem e = { .keylen = k.family == AF_INET6 ? 16 : 4,
			       .map = (uint8_t)addr_map_index(&k, dir) };

	memcpy(e.key, k.bytes, e.keylen);
	if (ref) {
		e.ref_ours = true;
		e.ref = ctr(ref, rdir);
	}
	return e;
}

/* The end element of an interval, in the map of prefix p. */
static struct plan_elem end_elem(const char *p, int dir, const char *key)
{
	struct addr k = A(key), net = A(p);
	struct plan_elem e = { .keylen = 4, .map = (uint8_t)addr_map_index(&net, dir),
			       .end = true };

	memcpy(e.key, k.bytes, 4);
	return e;
}

static void leave_is(const struct plan_leave *l, const char *a, unsigned elems, unsigned ctrs)
{
	char buf[ADDR_STRLEN];

	test_streq(addr_format(&l->addr, buf), a);
	test_assert(l->elems == elems);
	test_assert(l->ctrs == ctrs);
}

static void test_diff(void)
{
	struct targets prev = parse("a 198.18.0.1\nb 198.18.0.2\nc 2001:db8::1\n");
	/* b relabelled, c removed, d, a prefix and an IPv6 address added */
	struct targets t = parse("a 198.18.0.1\nB 198.18.0.2\nd 198.18.0.3\nn 198.18.1.0/24\n"
				 "e 2001:db8::2\n");
	struct plan_opts o = { 0 };
	struct plan p;

	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.add[0] == 0 && p.add[1] == 0);
	test_assert(p.add[2] == ALL && p.add[3] == ALL && p.add[4] == ALL);
	test_assert(p.added == 3);
	test_assert(p.nfix == 0);
	test_assert(p.nleave == 1);
	leave_is(&p.leave[0], "2001:db8::1", 3, 3);
	test_assert(p.drain == PLAN_DRAIN_NOW);
	plan_finish(&p);
	plan_finish(&p); /* harmless */

	/* nothing changes: nothing to send, nobody to drain */
	test_assert(plan_diff(&p, &t, &t, &o) == 0);
	for (size_t i = 0; i < t.n; i++)
		test_assert(p.add[i] == 0);
	test_assert(p.added == 0 && p.nleave == 0 && p.drain == PLAN_DRAIN_NONE);
	plan_finish(&p);

	/* everything leaves */
	targets_finish(&t);
	targets_init(&t);
	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.added == 0 && p.nleave == 3);
	leave_is(&p.leave[0], "198.18.0.1", 3, 3);
	leave_is(&p.leave[1], "198.18.0.2", 3, 3);
	leave_is(&p.leave[2], "2001:db8::1", 3, 3);
	plan_finish(&p);
	targets_finish(&prev);
}

/* A new table: everything is added, from an empty prev. */
static void test_new_table(void)
{
	struct targets none, t = parse("a 198.18.0.1\nb 2001:db8::1\n");
	struct plan_opts o = { .defer = true };
	struct plan p;

	targets_init(&none);
	test_assert(plan_diff(&p, &t, &none, &o) == 0);
	test_assert(p.add[0] == ALL && p.add[1] == ALL);
	test_assert(p.added == 2 && p.nleave == 0 && p.drain == PLAN_DRAIN_NONE);
	plan_finish(&p);
	targets_finish(&t);
}

/* Drain now or with the caller's next report. */
static void test_defer_rule(void)
{
	struct targets prev = parse("a 198.18.0.1\nb 198.18.0.2\n");
	struct targets t = parse("a 198.18.0.1\n");
	struct plan_opts o;
	struct plan p;

	/* an incremental reload under run: the next report drains */
	o = (struct plan_opts){ .defer = true };
	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.drain == PLAN_DRAIN_ASK);
	plan_finish(&p);
	/* a full resync drains at once, whatever the caller offers */
	o = (struct plan_opts){ .full = true, .defer = true };
	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.drain == PLAN_DRAIN_NOW);
	plan_finish(&p);
	/* apply, and run's start: at once */
	o = (struct plan_opts){ 0 };
	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.drain == PLAN_DRAIN_NOW);
	plan_finish(&p);
	/* the same rule after a listing */
	{
		struct plan_ctr c[] = { ctr("198.18.0.1", 0), ctr("198.18.0.1", 1),
					ctr("198.18.0.2", 0), ctr("198.18.0.2", 1) };
		struct plan_listing l = { .ctrs = c, .nctrs = 4 };

		o = (struct plan_opts){ .defer = true };
		test_assert(plan_resync(&p, &t, &l, &o) == 0);
		test_assert(p.nleave == 1 && p.drain == PLAN_DRAIN_ASK);
		plan_finish(&p);
		o = (struct plan_opts){ .full = true, .defer = true };
		test_assert(plan_resync(&p, &t, &l, &o) == 0);
		test_assert(p.nleave == 1 && p.drain == PLAN_DRAIN_NOW);
		plan_finish(&p);
	}
	targets_finish(&prev);
	targets_finish(&t);
}

/* An address that left in an incremental reload (its counters wait for the
 * next report) and comes back in the next one: added again, and the kernel
 * keeps the counter that exists. */
static void test_diff_undrain(void)
{
	struct targets prev = parse("a 198.18.0.1\n");
	struct targets t = parse("a 198.18.0.1\nx 198.18.0.7\n");
	struct plan_opts o = { .defer = true };
	struct plan p;

	test_assert(plan_diff(&p, &t, &prev, &o) == 0);
	test_assert(p.add[0] == 0 && p.add[1] == ALL && p.added == 1);
	test_assert(p.nleave == 0 && p.drain == PLAN_DRAIN_NONE);
	plan_finish(&p);
	targets_finish(&prev);
	targets_finish(&t);
}

static bool sorted(const struct plan_listing *l)
{
	for (size_t i = 1; i < l->nctrs; i++) {
		int c = addr_cmp(&l->ctrs[i - 1].addr, &l->ctrs[i].addr);

		if (c > 0 || (c == 0 && l->ctrs[i - 1].dir >= l->ctrs[i].dir))
			return false;
	}
	return true;
}

static void test_resync(void)
{
	struct targets t = parse("ok 198.18.0.1\n"
				 "back 198.18.0.2\n"    /* waited to drain, targeted again */
				 "new 198.18.0.3\n"
				 "net 198.18.1.0/24\n"
				 "six 2001:db8::1\n");
	struct plan_ctr c[] = {
		ctr("2001:db8::1", 1), ctr("198.18.0.1", 1), ctr("198.18.0.1", 0),
		ctr("198.18.0.2", 0), ctr("198.18.0.2", 1),
		ctr("198.18.1.0/24", 0), /* its out counter is missing */
		ctr("2001:db8::1", 0),
		ctr("198.18.0.7", 0), ctr("198.18.0.7", 1), /* left, counting */
		ctr("198.18.0.8", 1), ctr("198.18.0.8", 0), /* left, elements gone */
		ctr("198.18.0.1", 0), /* listed twice (by name) */
	};
	struct plan_elem e[] = {
		elem("198.18.0.1", 0, "198.18.0.1", 0),
		elem("198.18.0.1", 1, "198.18.0.1", 1),
		/* 198.18.0.2 and .3 have no elements */
		elem("198.18.1.0/24", 0, "198.18.1.0/24", 0),
		end_elem("198.18.1.0/24", 0, "198.18.2.0"),
		/* six's in element points at another address's counter */
		elem("2001:db8::1", 0, "198.18.0.1", 0),
		elem("2001:db8::1", 1, "2001:db8::1", 1),
		elem("198.18.0.7", 0, "198.18.0.7", 0),
		elem("198.18.0.7", 1, "198.18.0.7", 1),
		/* stray: no target, a counter not of nftally's form */
		elem("198.18.0.9", 0, NULL, 0),
		/* stray in an interval map, right after net's interval, at a
		 * target's counter; its end is the first end after its key */
		elem("198.18.2.0/24", 0, "198.18.0.1", 0),
		end_elem("198.18.2.0/24", 0, "198.18.3.0"),
		/* in back's out map, at its in counter: wrong too */
		elem("198.18.0.2", 1, "198.18.0.2", 0),
	};
	struct plan_listing l = { .ctrs = c, .nctrs = sizeof(c) / sizeof(c[0]),
				  .elems = e, .nelems = sizeof(e) / sizeof(e[0]) };
	struct plan_opts o = { .full = true };
	struct plan p;

	e[8].other = 7;
	test_assert(plan_resync(&p, &t, &l, &o) == 0);
	test_assert(l.nctrs == 11); /* sorted, the duplicate dropped */
	test_assert(sorted(&l));
	test_assert(p.add[0] == 0);
	test_assert(p.add[1] == (PLAN_ELEM(0) | PLAN_ELEM(1)));
	test_assert(p.add[2] == ALL);
	test_assert(p.add[3] == (PLAN_CTR(1) | PLAN_ELEM(1)));
	test_assert(p.add[4] == PLAN_ELEM(0)); /* re-pointed at its own counter */
	test_assert(p.added == 2);

	test_assert(p.nfix == 4);
	test_assert(p.fix[0].elem == &e[4] && p.fix[0].target == 4 && !p.fix[0].has_end);
	test_assert(p.fix[1].elem == &e[8] && p.fix[1].target == PLAN_NONE);
	test_assert(p.fix[1].elem->other == 7 && !p.fix[1].has_end);
	test_assert(p.fix[2].elem == &e[9] && p.fix[2].target == PLAN_NONE);
	test_assert(p.fix[2].has_end && memcmp(p.fix[2].end, "\xc6\x12\x03\x00", 4) == 0);
	test_assert(p.fix[3].elem == &e[11] && p.fix[3].target == 1);

	test_assert(p.nleave == 2);
	leave_is(&p.leave[0], "198.18.0.7", 3, 3);
	leave_is(&p.leave[1], "198.18.0.8", 0, 3);
	test_assert(p.drain == PLAN_DRAIN_NOW);
	plan_finish(&p);
	targets_finish(&t);
}

/* Only one counter of an address that left (the other deleted by hand),
 * and the counters of a class removed from the config. */
static void test_resync_partial(void)
{
	struct targets t = parse("a 198.18.0.1\n");
	struct plan_ctr c[] = { ctr("198.18.0.5", 1), ctr("198.18.0.1", 0), ctr("198.18.0.1", 1),
				ctr("198.18.0.1", 0), ctr("198.18.0.1", 1) };
	struct plan_elem e[] = { elem("198.18.0.1", 0, "198.18.0.1", 0),
				 elem("198.18.0.1", 1, "198.18.0.1", 1),
				 elem("198.18.0.1", 0, "198.18.0.1", 0) };
	struct plan_listing l = { .ctrs = c, .nctrs = 5, .elems = e, .nelems = 3 };
	struct plan_opts o = { 0 };
	struct plan p;

	c[3].addr.cls = c[4].addr.cls = 1;
	e[2].cls = 1;
	e[2].ref.addr.cls = 1;
	test_assert(plan_resync(&p, &t, &l, &o) == 0);
	test_assert(p.add[0] == 0 && p.added == 0 && p.nfix == 0);
	test_assert(p.nleave == 2);
	leave_is(&p.leave[0], "198.18.0.1", 1, 3);
	test_assert(p.leave[0].addr.cls == 1);
	leave_is(&p.leave[1], "198.18.0.5", 0, 2);
	plan_finish(&p);
	targets_finish(&t);
}

/* An empty table (its skeleton only): everything is added. */
static void test_resync_empty(void)
{
	struct targets t = parse("a 198.18.0.1\nb 2001:db8::1\n");
	struct plan_listing l = { 0 };
	struct plan_opts o = { .defer = true };
	struct plan p;

	test_assert(plan_resync(&p, &t, &l, &o) == 0);
	test_assert(p.add[0] == ALL && p.add[1] == ALL && p.added == 2);
	test_assert(p.nfix == 0 && p.nleave == 0 && p.drain == PLAN_DRAIN_NONE);
	plan_finish(&p);
	targets_finish(&t);
}

static void test_candidates(void)
{
	struct targets t = parse("a 198.18.0.1\nb 2001:db8::1\n");
	/* .7 is in hint too (read once), .1 is a target (read as one) */
	struct addr known[] = { A("198.18.0.7"), A("198.18.0.1"), A("198.18.0.4") };
	struct targets hint = parse("x 198.18.0.1\ny 198.18.0.5\nz 198.18.0.7\n");
	struct plan_elem e[] = {
		elem("198.18.0.1", 0, "198.18.0.1", 0),   /* a target's: a candidate already */
		elem("198.18.0.8", 1, "198.18.0.8", 1),   /* left: a candidate */
		elem("198.18.0.9", 0, NULL, 0),           /* not of nftally's form */
		elem("198.18.0.1", 1, "198.18.0.6", 0),   /* wrong: its counter may drain */
		end_elem("198.18.1.0/24", 0, "198.18.2.0"),
	};
	struct plan_ctr *c;
	size_t n;
	char buf[ADDR_STRLEN];
	const char *want[] = { "198.18.0.1", "198.18.0.1", "2001:db8::1", "2001:db8::1",
			       "198.18.0.4", "198.18.0.4", "198.18.0.5", "198.18.0.5",
			       "198.18.0.7", "198.18.0.7", "198.18.0.8", "198.18.0.6" };
	const int dirs[] = { 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0 };

	test_assert(plan_candidates(&t, known, 3, &hint, e, 5, &c, &n) == 0);
	test_assert(n == 12);
	for (size_t i = 0; i < n; i++) {
		test_streq(addr_format(&c[i].addr, buf), want[i]);
		test_assert(c[i].dir == dirs[i]);
	}
	free(c);
	/* without a hint every known address that is no target */
	test_assert(plan_candidates(&t, known, 3, NULL, e, 0, &c, &n) == 0);
	test_assert(n == 8);
	test_streq(addr_format(&c[4].addr, buf), "198.18.0.7");
	test_streq(addr_format(&c[6].addr, buf), "198.18.0.4");
	free(c);
	targets_finish(&hint);
	targets_finish(&t);

	test_assert(plan_dump_counters(4095, 0));
	test_assert(!plan_dump_counters(4096, 0));
	test_assert(plan_dump_counters(2000, 2095));
	test_assert(!plan_dump_counters(2000, 2096));
}

int main(void)
{
	test_diff();
	test_new_table();
	test_defer_rule();
	test_diff_undrain();
	test_resync();
	test_resync_partial();
	test_resync_empty();
	test_candidates();
	return 0;
}
