// SPDX-License-Identifier: GPL-2.0-or-later
/* The PostgreSQL outbox on a file in a temporary directory: each report
 * kept once, handed out oldest first, a report larger than a batch over
 * several batches, dropped only up to what was sent, and still there
 * after a close and an open. */
#include <stdio.h>
#include <unistd.h>

#include "addr.h"
#include "outbox.h"
#include "test.h"

static void row(struct report_row *r, const char *a, const char *label, uint64_t in_bytes)
{
	const char *why;

	test_assert(addr_parse(a, &r->a, &why) == 0);
	r->label = label;
	r->cls = NULL;
	r->d = (struct counts){ in_bytes, 1, 2 * in_bytes, 2 };
}

static char seen[512];

static int collect(const struct outbox_row *r, void *data)
{
	size_t n = strlen(seen);

	snprintf(seen + n, sizeof(seen) - n, "%s/%s/%s/%llu/%lld/%lld/%s/%s/%s/%llu/%llu;",
		 r->host, r->account, r->table, (unsigned long long)r->seq, (long long)r->since,
		 (long long)r->time, r->addr, r->label, r->cls,
		 (unsigned long long)r->c.in_bytes, (unsigned long long)r->c.out_bytes);
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/nftally-test-outbox-XXXXXX", path[64];
	struct report_row v[2];
	struct report r = { .seq = 7, .time = 1000, .v = v, .n = 2, .since = 940 };
	struct outbox *o;
	struct err e = { "" };
	uint64_t n;
	int64_t oldest;
	struct outbox_mark last;

	test_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pg-outbox.db", dir);
	report_origin_init(&r.origin, "h1", "", "acc", "nftally");
	row(&v[0], "198.18.4.1", "a", 100);
	row(&v[1], "2001:db8::1", "b", 300);
	test_assert(outbox_open(&o, path, &e) == 0);
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 0 && oldest == 0);
	test_assert(outbox_add(o, &r, &e) == 0);
	test_assert(outbox_add(o, &r, &e) == 1); /* a replay: kept once */
	r.seq = 8, r.time = 1060, r.n = 1, r.since = 1000;
	test_assert(outbox_add(o, &r, &e) == 0);
	r.seq = 9, r.time = 1120, r.n = 0, r.since = 1060; /* no traffic: in order */
	test_assert(outbox_add(o, &r, &e) == 0);
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 3 && oldest == 1000);
	outbox_close(o);

	/* still there after a close; a batch of 1 row is half the first report */
	test_assert(outbox_open(&o, path, &e) == 0);
	test_assert(outbox_peek(o, 1, collect, NULL, &last, &e) == 0);
	test_streq(seen, "h1/acc/nftally/7/940/1000/198.18.4.1/a//100/200;");
	test_assert(last.whole == 0 && last.row > 0);
	test_assert(outbox_drop(o, &last, &e) == 0);
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 3 && oldest == 1000);
	outbox_close(o);

	/* the rest of it after another close, and nothing of it twice */
	test_assert(outbox_open(&o, path, &e) == 0);
	seen[0] = '\0';
	test_assert(outbox_peek(o, 1, collect, NULL, &last, &e) == 0);
	test_streq(seen, "h1/acc/nftally/7/940/1000/2001:db8::1/b//300/600;");
	test_assert(outbox_drop(o, &last, &e) == 0);
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 2 && oldest == 1060);
	seen[0] = '\0';
	test_assert(outbox_peek(o, 100, collect, NULL, &last, &e) == 0);
	test_streq(seen, "h1/acc/nftally/8/1000/1060/198.18.4.1/a//100/200;");
	test_assert(outbox_drop(o, &last, &e) == 0); /* the empty report 9 went too */
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 0);

	/* an empty report first, then one of 2 rows in batches of 2: both whole */
	r.seq = 10, r.time = 1180, r.n = 0, r.since = 1120;
	test_assert(outbox_add(o, &r, &e) == 0);
	r.seq = 11, r.time = 1240, r.n = 2, r.since = 1180;
	test_assert(outbox_add(o, &r, &e) == 0);
	seen[0] = '\0';
	test_assert(outbox_peek(o, 2, collect, NULL, &last, &e) == 0);
	test_streq(seen, "h1/acc/nftally/11/1180/1240/198.18.4.1/a//100/200;"
		   "h1/acc/nftally/11/1180/1240/2001:db8::1/b//300/600;");
	test_assert(outbox_drop(o, &last, &e) == 0);
	test_assert(outbox_size(o, &n, &oldest, &e) == 0 && n == 0);
	test_assert(outbox_peek(o, 100, collect, NULL, &last, &e) == 0 && last.whole == 0 &&
		    last.row == 0);
	outbox_close(o);
	outbox_close(NULL);
	test_assert(unlink(path) == 0); /* -wal and -shm went with the last close */
	test_assert(rmdir(dir) == 0);
	return 0;
}
