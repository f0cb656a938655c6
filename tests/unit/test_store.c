// SPDX-License-Identifier: GPL-2.0-or-later
/* The store on a real SQLite database in a temporary directory: a report
 * recorded twice is recorded once (a replay), the all-time totals are the
 * sums of the reports, and the query sums them per day. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "states.h"
#include "store.h"
#include "test.h"

struct sums {
	char text[512];
};

static void total(const char *addr, const char *label, const char *cls,
		  const struct counts *c, void *data)
{
	struct sums *s = data;

	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text),
		 "%s %s %llu %llu %llu %llu;", addr, label, (unsigned long long)c->in_bytes,
		 (unsigned long long)c->in_packets, (unsigned long long)c->out_bytes,
		 (unsigned long long)c->out_packets);
}

static int row(const struct store_row *r, void *data)
{
	total(r->addr, r->label, r->cls, &r->c, data);
	return 0;
}

static void test_once_and_sums(void)
{
	struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0 };
	char dir[] = "/tmp/nftally-test-store-XXXXXX", path[PATH_MAX];
	struct state done, next;
	struct err e = { "" };
	struct store *s;
	struct report r;
	struct sums t = { "" };
	struct store_query q = { .by = TIER_DAY, .utc = true, .per_addr = true,
				 .since = 0, .until = INT64_MAX };

	test_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	test_assert(store_open(&s, path, "nftally", &keep, &e) == 0);
	make_states(&done, &next, 0);
	test_assert(report_make(&r, NULL, &(struct addr_names){ 0 }, &done, &next) == 0);
	test_assert(store_record_report(s, &r, &e) == 0);
	/* the same report again (same seq, same time): a replay, nothing written */
	test_assert(store_record_report(s, &r, &e) == 1);
	test_assert(store_totals(s, total, &t, &e) == 0);
	test_streq(t.text, "198.18.0.1 a 500 5 200 2;198.18.0.2 b 100 1 0 0;"
		   "198.18.0.3 c 50 1 50 1;198.18.0.4 d 60 1 70 1;198.18.0.5 new 10 1 20 2;"
		   "2001:db8::1 e 200 2 0 0;");
	/* the next report (another seq and time) adds up */
	r.seq = 6;
	r.time += 60;
	test_assert(store_record_report(s, &r, &e) == 0);
	t.text[0] = '\0';
	test_assert(store_totals(s, total, &t, &e) == 0);
	test_streq(t.text, "198.18.0.1 a 1000 10 400 4;198.18.0.2 b 200 2 0 0;"
		   "198.18.0.3 c 100 2 100 2;198.18.0.4 d 120 2 140 2;"
		   "198.18.0.5 new 20 2 40 4;2001:db8::1 e 400 4 0 0;");
	t.text[0] = '\0';
	test_assert(store_query(s, &q, row, &t, &e) == 0);
	test_streq(t.text, "198.18.0.1 a 1000 10 400 4;198.18.0.2 b 200 2 0 0;"
		   "198.18.0.3 c 100 2 100 2;198.18.0.4 d 120 2 140 2;"
		   "2001:db8::1 e 400 4 0 0;198.18.0.5 new 20 2 40 4;");
	store_close(s);
	/* a database of another table is refused */
	test_assert(store_open(&s, path, "other", &keep, &e) == -EINVAL);
	report_free(&r);
	state_finish(&done);
	state_finish(&next);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", dir);
	unlink(path);
	test_assert(rmdir(dir) == 0);
}

int main(void)
{
	test_once_and_sums();
	return 0;
}
