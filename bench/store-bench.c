// SPDX-License-Identifier: GPL-2.0-or-later
/* The store's cost at scale, on a real file: record K reports of N
 * addresses that all had traffic (one row each), roll them up, and run a
 * report over them.  Prints key=value lines for bench/run.sh.
 *   usage: store-bench N K DBFILE */
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long long wal_bytes(const char *db)
{
	char wal[4096];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", db);
	return stat(wal, &st) == 0 ? (long long)st.st_size : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int count_row(const struct store_row *r, void *data)
{
	(*(size_t *)data)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400 };
	struct state a, b, *done = &a, *next = &b;
	struct store *s;
	struct err e;
	struct stat st;
	size_t n, k, rows = 0;
	double *ms, t0;
	time_t base;

	if (argc != 4) {
		fprintf(stderr, "usage: store-bench N K DBFILE\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	k = strtoul(argv[2], NULL, 10);
	if (n == 0 || k == 0) {
		fprintf(stderr, "store-bench: N and K must be at least 1\n");
		return 2;
	}
	ms = calloc(k + 1, sizeof(*ms));
	unlink(argv[3]);
	if (!ms || store_open(&s, argv[3], "bench", "bench", &keep, &e) < 0) {
		fprintf(stderr, "store-bench: %s\n", e.msg);
		return 1;
	}
	state_init(done);
	state_init(next);
	/* K intervals that end now: nothing is old enough to roll up yet */
	base = time(NULL) / 60 * 60 - (time_t)k * 60;
	for (size_t i = 0; i < n; i++) {
		struct addr ad = { .family = AF_INET, .plen = 32 };
		char label[32];

		ad.bytes[0] = 10;
		ad.bytes[1] = (uint8_t)(i >> 16);
		ad.bytes[2] = (uint8_t)(i >> 8);
		ad.bytes[3] = (uint8_t)i;
		snprintf(label, sizeof(label), "vm-%zu", i);
		state_add(done, &ad, label, &(struct counts){ 0 }, false);
	}
	state_sort(done);
	done->time = base;
	for (size_t r = 0; r < k; r++) {
		state_finish(next);
		state_init(next);
		for (size_t i = 0; i < n; i++) {
			struct counts c = done->v[i].c;
			uint64_t p = 1 + (i + r) % 7;

			c.in_bytes += p * 1000;
			c.in_packets += p;
			c.out_bytes += p * 500;
			c.out_packets += p;
			state_add(next, &done->v[i].addr, state_label(done, &done->v[i]), &c, true);
		}
		state_sort(next);
		next->seq = r + 1;
		next->time = base + (time_t)(r + 1) * 60;
		t0 = now_ms();
		if (store_record(s, &(struct addr_names){ 0 }, done, next, &rows, &e) < 0) {
			fprintf(stderr, "store-bench: %s\n", e.msg);
			return 1;
		}
		ms[r] = now_ms() - t0;
		struct state *t = done;

		done = next;
		next = t;
	}
	qsort(ms, k, sizeof(*ms), cmp_double);
	/* the write-ahead log is never shrunk: its size is space the store keeps */
	printf("store_wal_bytes_after_records=%lld\n", wal_bytes(argv[3]));
	store_close(s); /* checkpoints the WAL into the file */
	stat(argv[3], &st);
	if (store_open(&s, argv[3], "bench", "bench", &keep, &e) < 0) {
		fprintf(stderr, "store-bench: %s\n", e.msg);
		return 1;
	}
	printf("store_addresses=%zu\nstore_reports=%zu\nstore_rows_per_report=%zu\n", n, k, rows);
	printf("store_record_ms_median=%.1f\nstore_record_ms_max=%.1f\n", ms[k / 2], ms[k - 1]);
	/* the file holds the rows, the series (address, label) and totals:
	 * per row, with those shared over k reports */
	printf("store_file_bytes=%lld\nstore_bytes_per_row=%.1f\n", (long long)st.st_size,
	       (double)st.st_size / (double)(n * k));

	struct store_query q = { .by = TIER_DAY, .per_addr = true, .since = INT64_MIN,
				 .until = INT64_MAX };
	size_t out = 0;

	t0 = now_ms();
	store_query(s, &q, count_row, &out, &e);
	printf("store_report_ms=%.1f\nstore_report_rows=%zu\n", now_ms() - t0, out);
	/* everything older than the retention: one rollup moves it all */
	keep.intervals = 3600;
	store_close(s);
	if (store_open(&s, argv[3], "bench", "bench", &keep, &e) < 0) {
		fprintf(stderr, "store-bench: %s\n", e.msg);
		return 1;
	}
	t0 = now_ms();
	if (store_rollup(s, base + (time_t)(k + 1) * 60 + 2 * 3600, &e) < 0) {
		fprintf(stderr, "store-bench: %s\n", e.msg);
		return 1;
	}
	printf("store_rollup_ms=%.1f\n", now_ms() - t0);
	printf("store_wal_bytes_after_rollup=%lld\n", wal_bytes(argv[3]));
	store_close(s);
	state_finish(done);
	state_finish(next);
	free(ms);
	return 0;
}
