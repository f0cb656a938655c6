// SPDX-License-Identifier: GPL-2.0-or-later
/* The quotas' usage cache against a real store in a temporary directory:
 * after every report recorded, each window's sums equal what the store
 * itself sums from that window's start (store_label_usage), also for a
 * replay (recorded once), a report before a window's start, a label new
 * since the window was read, and a window read again after a sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "qusage.h"
#include "store.h"
#include "test.h"

static struct store *st;
static unsigned loads;

static int load(void *data, int64_t since, int64_t until,
		int (*cb)(const char *label, const struct counts *c, void *arg), void *arg,
		struct err *e)
{
	loads++;
	return store_label_usage(st, since, until, cb, arg, e);
}

static char got[1024];

static int collect(const char *label, const struct counts *c, void *arg)
{
	size_t n = strlen(got);

	snprintf(got + n, sizeof(got) - n, "%s=%llu/%llu/%llu/%llu;", label,
		 (unsigned long long)c->in_bytes, (unsigned long long)c->in_packets,
		 (unsigned long long)c->out_bytes, (unsigned long long)c->out_packets);
	return 0;
}

/* The cache's sums since `since` are the store's. */
static void same(struct qusage *u, int64_t since, const char *want)
{
	char store_says[1024];
	struct err e = { "" };

	got[0] = '\0';
	test_assert(store_label_usage(st, since, INT64_MAX, collect, NULL, &e) == 0);
	snprintf(store_says, sizeof(store_says), "%s", got);
	got[0] = '\0';
	test_assert(qusage_get(u, since, load, NULL, collect, NULL, &e) == 0);
	test_streq(got, store_says);
	test_streq(got, want);
}

/* Record a report of rows (label, address, in bytes) at t; into the cache
 * if the store took it. */
static int record(struct qusage *u, uint64_t seq, int64_t t, size_t n, const char *const *labels,
		  const char *const *addrs, const uint64_t *in)
{
	struct report_row v[4];
	struct report r = { .seq = seq, .time = t, .since = t - 60, .v = v, .n = n };
	struct err e = { "" };
	const char *why;
	int ret;

	report_origin_init(&r.origin, "h1", "", "", "nftally");
	for (size_t i = 0; i < n; i++) {
		test_assert(addr_parse(addrs[i], &v[i].a, &why) == 0);
		v[i].label = labels[i];
		v[i].cls = NULL;
		v[i].d = (struct counts){ in[i], 1, 2 * in[i], 2 };
	}
	ret = store_record_report(st, &r, &e);
	test_assert(ret >= 0);
	if (ret == 0)
		test_assert(qusage_add(u, &r) == 0);
	return ret;
}

int main(void)
{
	static const struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0, 0 };
	char dir[] = "/tmp/nftally-test-qusage-XXXXXX", path[64];
	const int64_t base = 1764547200; /* 2025-12-01T00:00Z, a multiple of 300 */
	const char *const lab[] = { "a", "b", "c" };
	const char *const adr[] = { "198.18.4.1", "198.18.4.2", "2001:db8::1" };
	struct qusage *u = qusage_create();
	struct err e = { "" };

	test_assert(u && mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.db", dir);
	test_assert(store_open(&st, path, "h1", NULL, &keep, &e) == 0);

	/* before the window's start, then in it: the load reads what is there */
	test_assert(record(u, 1, base - 60, 2, lab, adr, (const uint64_t[]){ 5, 7 }) == 0);
	test_assert(record(u, 2, base + 60, 2, lab, adr, (const uint64_t[]){ 100, 200 }) == 0);
	same(u, base, "a=100/1/200/2;b=200/1/400/2;");
	test_assert(loads == 1);

	/* reports as the store takes them, a new label among them: no load */
	test_assert(record(u, 3, base + 120, 3, lab, adr, (const uint64_t[]){ 1, 2, 3 }) == 0);
	same(u, base, "a=101/2/202/4;b=202/2/404/4;c=3/1/6/2;");
	/* a replay is recorded once and added once */
	test_assert(record(u, 3, base + 120, 3, lab, adr, (const uint64_t[]){ 1, 2, 3 }) == 1);
	/* the report ending on the window's first second belongs to the slot before */
	test_assert(record(u, 4, base, 1, lab + 2, adr + 2, (const uint64_t[]){ 1000 }) == 0);
	same(u, base, "a=101/2/202/4;b=202/2/404/4;c=3/1/6/2;");
	test_assert(loads == 1);

	/* a second window, 5 minutes later: a report of the slot before it
	 * goes into the first window only */
	same(u, base + 300, "");
	test_assert(loads == 2);
	test_assert(record(u, 5, base + 300, 1, lab, adr, (const uint64_t[]){ 9 }) == 0);
	test_assert(record(u, 6, base + 360, 1, lab + 1, adr + 1, (const uint64_t[]){ 11 }) == 0);
	same(u, base, "a=110/3/220/6;b=213/3/426/6;c=3/1/6/2;");
	same(u, base + 300, "b=11/1/22/2;");
	test_assert(loads == 2);

	/* a sweep keeps what was asked for since the last one, forgets the rest */
	qusage_sweep(u);
	same(u, base + 300, "b=11/1/22/2;");
	qusage_sweep(u);
	test_assert(loads == 2);
	same(u, base, "a=110/3/220/6;b=213/3/426/6;c=3/1/6/2;");
	test_assert(loads == 3); /* read from the store again */

	qusage_destroy(u);
	qusage_destroy(NULL);
	store_close(st);
	for (const char *const *x = (const char *const[]){ "", "-wal", "-shm", NULL }; *x; x++) {
		snprintf(path, sizeof(path), "%s/s.db%s", dir, *x);
		unlink(path);
	}
	test_assert(rmdir(dir) == 0);
	return 0;
}
