// SPDX-License-Identifier: GPL-2.0-or-later
/* The store on a real SQLite database in a temporary directory: a report
 * recorded twice is recorded once (a replay), the all-time totals are the
 * sums of the reports, and the query sums them per day; every series and
 * report has its origin (host, netns, account), so two origins never mix
 * and every account numbers its own reports; a store of schema 1 (the
 * fixture store-v1.sql, written by the nftally before origins) is
 * migrated, also by two processes at once, with its totals exact and
 * attributed to the opener's host, and read as such before that. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sqlite3.h>

#include "states.h"
#include "store.h"
#include "test.h"

static const struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0 };

struct sums {
	char text[2048];
};

static void append(struct sums *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct sums *s, const char *fmt, ...)
{
	size_t n = strlen(s->text);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->text + n, sizeof(s->text) - n, fmt, ap);
	va_end(ap);
}

static void append_counts(struct sums *s, const struct counts *c)
{
	append(s, " %llu %llu %llu %llu;", (unsigned long long)c->in_bytes,
	       (unsigned long long)c->in_packets, (unsigned long long)c->out_bytes,
	       (unsigned long long)c->out_packets);
}

/* "HOST/NETNS/ACCOUNT ADDR LABEL[ CLASS] counts;" per series */
static void total(const struct report_origin *o, const char *addr, const char *label,
		  const char *cls, const struct counts *c, void *data)
{
	test_streq(o->table, "");
	append(data, "%s/%s/%s %s %s%s%s", o->host, o->netns, o->account, addr, label,
	       *cls ? " " : "", cls);
	append_counts(data, c);
}

/* "PERIOD HOST/NETNS LABEL[ ADDR][ CLASS] counts;" per row */
static int row(const struct store_row *r, void *data)
{
	append(data, "%s %s/%s %s%s%s%s%s", r->period, r->host, r->netns, r->label,
	       r->addr ? " " : "", r->addr ? r->addr : "", *r->cls ? " " : "", r->cls);
	append_counts(data, &r->c);
	return 0;
}

static char *totals_of(struct store *s, struct sums *t)
{
	struct err e = { "" };

	t->text[0] = '\0';
	test_assert(store_totals(s, total, t, &e) == 0);
	return t->text;
}

static char *query_of(struct store *s, const struct store_query *q, struct sums *t)
{
	struct err e = { "" };

	t->text[0] = '\0';
	test_assert(store_query(s, q, row, t, &e) == 0);
	return t->text;
}

/* "LABEL counts;" per label of store_label_usage */
static int label_sum(const char *label, const struct counts *c, void *data)
{
	append(data, "%s", label);
	append_counts(data, c);
	return 0;
}

static char *usage_of(struct store *s, int64_t since, int64_t until, struct sums *t)
{
	struct err e = { "" };

	t->text[0] = '\0';
	test_assert(store_label_usage(s, since, until, label_sum, t, &e) == 0);
	return t->text;
}

/* One value of the database at path, read with SQLite directly. */
static long long db_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	test_assert(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	test_assert(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void db_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	test_assert(sqlite3_open(path, &db) == SQLITE_OK);
	test_assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* A store of schema 1 at path: the fixture, in WAL mode as nftally kept it. */
static void make_v1(const char *path)
{
	FILE *f = fopen(SRCDIR "/tests/unit/store-v1.sql", "r");
	static char sql[8192];
	size_t n;

	test_assert(f);
	n = fread(sql, 1, sizeof(sql) - 1, f);
	test_assert(n > 0 && n < sizeof(sql) - 1);
	sql[n] = '\0';
	fclose(f);
	db_exec(path, "PRAGMA journal_mode = WAL;");
	db_exec(path, sql);
}

struct tmp {
	char dir[64], path[PATH_MAX];
};

static const char *tmp_db(struct tmp *t, const char *name)
{
	if (!t->dir[0]) {
		snprintf(t->dir, sizeof(t->dir), "/tmp/nftally-test-store-XXXXXX");
		test_assert(mkdtemp(t->dir));
	}
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

static void tmp_remove(struct tmp *t)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	test_assert(system(cmd) == 0);
}

static void test_once_and_sums(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "t.db");
	struct state done, next;
	struct err e = { "" };
	struct report_origin o;
	struct store *s;
	struct report r;
	struct sums t;
	struct store_query q = { .by = TIER_DAY, .utc = true, .per_addr = true,
				 .since = 0, .until = INT64_MAX };

	test_assert(store_open(&s, path, "h1", "nftally", &keep, &e) == 0);
	make_states(&done, &next, 0);
	report_origin_init(&o, "h1", "", "", "nftally");
	test_assert(report_make(&r, &o, &(struct addr_names){ 0 }, &done, &next) == 0);
	test_assert(store_record_report(s, &r, &e) == 0);
	/* the same report again (same seq, same time): a replay, nothing written */
	test_assert(store_record_report(s, &r, &e) == 1);
	test_streq(totals_of(s, &t), "h1// 198.18.0.1 a 500 5 200 2;h1// 198.18.0.2 b 100 1 0 0;"
		   "h1// 198.18.0.3 c 50 1 50 1;h1// 198.18.0.4 d 60 1 70 1;"
		   "h1// 198.18.0.5 new 10 1 20 2;h1// 2001:db8::1 e 200 2 0 0;");
	/* the next report (another seq and time) adds up */
	r.seq = 6;
	r.time += 60;
	test_assert(store_record_report(s, &r, &e) == 0);
	test_streq(totals_of(s, &t), "h1// 198.18.0.1 a 1000 10 400 4;h1// 198.18.0.2 b 200 2 0 0;"
		   "h1// 198.18.0.3 c 100 2 100 2;h1// 198.18.0.4 d 120 2 140 2;"
		   "h1// 198.18.0.5 new 20 2 40 4;h1// 2001:db8::1 e 400 4 0 0;");
	test_streq(query_of(s, &q, &t),
		   "2026-01-01 h1/ a 198.18.0.1 1000 10 400 4;2026-01-01 h1/ b 198.18.0.2 200 2 0 0;"
		   "2026-01-01 h1/ c 198.18.0.3 100 2 100 2;2026-01-01 h1/ d 198.18.0.4 120 2 140 2;"
		   "2026-01-01 h1/ e 2001:db8::1 400 4 0 0;2026-01-01 h1/ new 198.18.0.5 20 2 40 4;");
	store_close(s);
	/* a database of another table is refused */
	test_assert(store_open(&s, path, "h1", "other", &keep, &e) == -EINVAL);
	test_assert(strstr(e.msg, "t.db: database of table nftally, not other"));
	report_free(&r);
	state_finish(&done);
	state_finish(&next);
	tmp_remove(&tmp);
}

/* A report of origin (host, netns, account) at time t with seq, of the
 * rows of v. */
static struct report report_of(const char *host, const char *netns, const char *account,
			       uint64_t seq, int64_t t, struct report_row *v, size_t n)
{
	struct report r = { .seq = seq, .time = t, .v = v, .n = n };

	report_origin_init(&r.origin, host, netns, account, "nftally");
	return r;
}

static struct report_row row_of(const char *addr, const char *label, struct counts c)
{
	struct report_row x = { .label = label, .d = c };

	test_assert(addr_parse(addr, &x.a, NULL) == 0);
	return x;
}

/* Two origins with the same address and label are two series; the same
 * seq from two accounts is two reports; a replay of one (origin, seq, t)
 * is recorded once. */
static void test_origins(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "o.db");
	struct report_row v[] = { row_of("198.18.0.1", "cust", (struct counts){ 100, 1, 10, 1 }) };
	struct report ra = report_of("h1", "", "routed", 1, 1767225660, v, 1);
	struct report rb = report_of("h1", "", "bridged", 1, 1767225660, v, 1);
	struct report rn = report_of("h1", "qr-1", "routed", 1, 1767225660, v, 1);
	struct err e = { "" };
	struct store *s;
	struct sums t;

	test_assert(store_open(&s, path, "h1", NULL, &keep, &e) == 0);
	test_assert(store_record_report(s, &ra, &e) == 0);
	test_assert(store_record_report(s, &rb, &e) == 0);  /* the same seq and t */
	test_assert(store_record_report(s, &rn, &e) == 0);  /* the same account elsewhere */
	test_assert(store_record_report(s, &rb, &e) == 1);  /* a replay */
	test_assert(store_record_report(s, &ra, &e) == 1);
	test_streq(totals_of(s, &t), "h1//routed 198.18.0.1 cust 100 1 10 1;"
		   "h1//bridged 198.18.0.1 cust 100 1 10 1;"
		   "h1/qr-1/routed 198.18.0.1 cust 100 1 10 1;");
	test_assert(db_int(path, "SELECT count(*) FROM series") == 3);
	test_assert(db_int(path, "SELECT count(*) FROM reports WHERE seq = 1") == 3);
	store_close(s);
	/* opened shared (table NULL): no table of its own, any table is accepted */
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'shared'") == 1);
	test_assert(db_int(path, "SELECT count(*) FROM meta WHERE key = 'table'") == 0);
	test_assert(store_open(&s, path, "h1", "other", &keep, &e) == 0);
	store_close(s);
	test_assert(db_int(path, "SELECT count(*) FROM meta WHERE key = 'table'") == 0);
	tmp_remove(&tmp);
}

/* A report recorded in parts (begin, rows block by block, end) is the
 * report recorded at once; a replay's begin says so and opens nothing; an
 * abort between blocks writes nothing of the report. */
static void test_parts(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "p.db");
	struct report_row v[] = { row_of("198.18.0.1", "a", (struct counts){ 100, 1, 10, 1 }),
				  row_of("198.18.0.2", "b", (struct counts){ 200, 2, 20, 2 }),
				  row_of("2001:db8::1", "c", (struct counts){ 300, 3, 30, 3 }) };
	struct report r1 = report_of("h1", "", "", 1, 1767225660, v, 2);
	struct report r2 = report_of("h1", "", "", 1, 1767225660, v + 2, 1);
	struct report x = report_of("h1", "", "", 2, 1767225720, v, 2);
	struct err e = { "" };
	struct store *s;
	struct sums t;

	test_assert(store_open(&s, path, "h1", "nftally", &keep, &e) == 0);
	test_assert(store_record_begin(s, &r1, &e) == 0);
	test_assert(store_record_rows(s, &r1, &e) == 0);
	test_assert(store_record_rows(s, &r2, &e) == 0);
	test_assert(store_record_end(s, &r2, &e) == 0);
	test_assert(store_record_begin(s, &r1, &e) == 1); /* a replay: nothing open */
	test_assert(store_record_begin(s, &x, &e) == 0);
	test_assert(store_record_rows(s, &x, &e) == 0);
	store_record_abort(s);
	test_streq(totals_of(s, &t), "h1// 198.18.0.1 a 100 1 10 1;h1// 198.18.0.2 b 200 2 20 2;"
		   "h1// 2001:db8::1 c 300 3 30 3;");
	test_assert(db_int(path, "SELECT count(*) FROM usage") == 3);
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 3);
	test_assert(db_int(path, "SELECT count(*) FROM reports") == 1);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'last_seq'") == 1);
	/* the aborted report goes in whole afterwards */
	test_assert(store_record_report(s, &x, &e) == 0);
	test_assert(db_int(path, "SELECT count(*) FROM usage") == 5);
	store_close(s);
	tmp_remove(&tmp);
}

/* The fixture's totals as the migration must keep them, from host node1. */
#define V1_TOTALS "node1// 198.18.0.1 a 1107 12 550 6;node1// 2001:db8::1 e 200 2 0 0;" \
		  "node1// 198.18.0.2 b national 300 3 30 3;"
#define V1_CARRIED "node1// 198.18.0.9 z 5 1 5 1;"
#define V1_DAYS "2026-01-01 node1/ a 1100 11 550 6;2026-01-01 node1/ b national 300 3 30 3;" \
		"2026-01-01 node1/ e 200 2 0 0;2026-01-02 node1/ a 7 1 0 0;"

static void test_migration(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "v1.db");
	struct store_query q = { .by = TIER_DAY, .utc = true, .since = INT64_MIN,
				 .until = INT64_MAX };
	struct report_row v[] = { row_of("198.18.0.1", "a", (struct counts){ 1, 1, 1, 1 }) };
	/* the last report of the fixture, replayed after the upgrade */
	struct report last = report_of("node1", "", "", 3, 1767312060, v, 1);
	struct err e = { "" };
	struct store *s;
	struct sums t;

	make_v1(path);
	/* read before any run migrated it: as if migrated, from the reader's host */
	test_assert(store_open_readonly(&s, path, "node1", &e) == 0);
	test_streq(totals_of(s, &t), V1_TOTALS V1_CARRIED);
	test_streq(query_of(s, &q, &t), V1_DAYS);
	test_assert(store_samples_from(s) == 1767312000);
	test_streq(usage_of(s, 1767225600, INT64_MAX, &t), "a 1107 12 550 6;b 300 3 30 3;"
		   "e 200 2 0 0;");
	store_close(s);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 1);
	/* another table is refused as before, and nothing migrated */
	test_assert(store_open(&s, path, "node1", "other", &keep, &e) == -EINVAL);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 1);
	test_assert(store_open(&s, path, "node1", "nftally", &keep, &e) == 0);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 4);
	test_streq(totals_of(s, &t), V1_TOTALS V1_CARRIED);
	test_streq(query_of(s, &q, &t), V1_DAYS);
	/* schema 3: the one interval row kept (seq 3 at 1767312060) is the one
	 * sample, in the slot of its last second; samples begin at its hour */
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 1);
	test_assert(db_int(path, "SELECT t * 1000 + in_bytes FROM samples WHERE series = 1") ==
		    1767312000LL * 1000 + 7);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'samples_from'") ==
		    1767312000);
	test_assert(store_samples_from(s) == 1767312000);
	test_streq(usage_of(s, 1767225600, INT64_MAX, &t), "a 1107 12 550 6;b 300 3 30 3;"
		   "e 200 2 0 0;");
	test_streq(usage_of(s, 1767312000, INT64_MAX, &t), "a 7 1 0 0;");
	/* the reports table too: the fixture's last report is known from node1 only */
	test_assert(store_record_report(s, &last, &e) == 1);
	last = report_of("node2", "", "", 3, 1767312060, v, 1);
	test_assert(store_record_report(s, &last, &e) == 0);
	store_close(s);
	test_assert(db_int(path, "SELECT count(*) FROM series WHERE host = 'node1' AND"
			   " netns = '' AND account = ''") == 4);
	/* opened again: nothing more to do */
	test_assert(store_open(&s, path, "other-host", "nftally", &keep, &e) == 0);
	test_streq(totals_of(s, &t), V1_TOTALS V1_CARRIED "node2// 198.18.0.1 a 1 1 1 1;");
	store_close(s);

	/* a store of schema 1 from before the tables carried and reports,
	 * opened as shared by accounts (table NULL) */
	path = tmp_db(&tmp, "older.db");
	make_v1(path);
	db_exec(path, "DROP TABLE carried; DROP TABLE reports;");
	test_assert(store_open(&s, path, "node1", NULL, &keep, &e) == 0);
	test_streq(totals_of(s, &t), V1_TOTALS);
	store_close(s);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'shared'") == 1);
	test_assert(db_int(path, "SELECT count(*) FROM reports") == 0);
	/* shared now: another table is no longer refused */
	test_assert(store_open(&s, path, "node1", "other", &keep, &e) == 0);
	store_close(s);

	/* a newer schema is refused, for writing and reading, and not touched */
	db_exec(path, "UPDATE meta SET value = 5 WHERE key = 'schema'");
	test_assert(store_open(&s, path, "node1", NULL, &keep, &e) == -EINVAL);
	test_assert(strstr(e.msg, "older.db: database schema 5 is not 4 (written by another "
			   "version of nftally)"));
	test_assert(store_open_readonly(&s, path, "node1", &e) == -EINVAL);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 5);
	tmp_remove(&tmp);
}

/* Two processes open a store of schema 1 at once: one migrates, the other
 * waits for its transaction and finds schema 2; nothing is doubled. */
static void test_migration_race(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "race.db");
	struct store_query q = { .by = TIER_DAY, .utc = true, .since = INT64_MIN,
				 .until = INT64_MAX };
	pid_t pid[2];
	int go[2];
	struct err e = { "" };
	struct store *s;
	struct sums t;

	make_v1(path);
	test_assert(pipe(go) == 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		test_assert(pid[i] >= 0);
		if (pid[i] == 0) {
			char c;
			int ret;

			close(go[1]);
			(void)!read(go[0], &c, 1); /* both start when the pipe closes */
			ret = store_open(&s, path, "node1", i ? NULL : "nftally", &keep, &e);
			store_close(s);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < 2; i++) {
		int status;

		test_assert(waitpid(pid[i], &status, 0) == pid[i]);
		test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 4);
	test_assert(db_int(path, "SELECT count(*) FROM series") == 4);
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 1);
	test_assert(store_open(&s, path, "node1", "nftally", &keep, &e) == 0);
	test_streq(totals_of(s, &t), V1_TOTALS V1_CARRIED);
	test_streq(query_of(s, &q, &t), V1_DAYS);
	store_close(s);
	tmp_remove(&tmp);
}

/* Queries: filters by host, netns and account; rows per period, host,
 * netns and label, the accounts of one host and namespace added up.
 * Rollups and a carry-over keep every origin. */
static void test_query_origins(void)
{
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "q.db");
	struct report_row va[] = { row_of("198.18.0.1", "cust", (struct counts){ 100, 1, 10, 1 }),
				   row_of("198.18.0.2", "other", (struct counts){ 5, 1, 0, 0 }) };
	struct report_row vb[] = { row_of("198.18.0.3", "cust", (struct counts){ 200, 2, 20, 2 }) };
	struct report_row vc[] = { row_of("198.18.0.1", "cust", (struct counts){ 1000, 10, 0, 0 }) };
	struct report_row vd[] = { row_of("198.18.0.1", "cust", (struct counts){ 7, 1, 7, 1 }) };
	struct report rs[] = {
		report_of("h1", "", "routed", 1, 1767225660, va, 2),
		report_of("h1", "", "bridged", 1, 1767225660, vb, 1),
		report_of("h1", "qr-1", "routers", 1, 1767225660, vc, 1),
		report_of("h2", "", "", 1, 1767225660, vd, 1),
		/* a day later */
		report_of("h1", "", "bridged", 2, 1767312060, vb, 1),
	};
	struct store_query q = { .by = TIER_DAY, .utc = true, .since = INT64_MIN,
				 .until = INT64_MAX };
	static const char all[] =
		"2026-01-01 h1/ cust 300 3 30 3;2026-01-01 h1/ other 5 1 0 0;"
		"2026-01-01 h1/qr-1 cust 1000 10 0 0;2026-01-01 h2/ cust 7 1 7 1;"
		"2026-01-02 h1/ cust 200 2 20 2;";
	static const char totals[] =
		"h1//routed 198.18.0.1 cust 100 1 10 1;h1//routed 198.18.0.2 other 5 1 0 0;"
		"h1//bridged 198.18.0.3 cust 400 4 40 4;h1/qr-1/routers 198.18.0.1 cust 1000 10 0 0;"
		"h2// 198.18.0.1 cust 7 1 7 1;";
	struct store_saved sv;
	struct err e = { "" };
	struct store *s;
	struct sums t;

	test_assert(store_open(&s, path, "h1", NULL, &keep, &e) == 0);
	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
		test_assert(store_record_report(s, &rs[i], &e) == 0);
	test_streq(query_of(s, &q, &t), all);
	q.account = "routed";
	test_streq(query_of(s, &q, &t), "2026-01-01 h1/ cust 100 1 10 1;2026-01-01 h1/ other 5 1 0 0;");
	q.account = "";
	test_streq(query_of(s, &q, &t), "2026-01-01 h2/ cust 7 1 7 1;");
	q.account = NULL;
	q.netns = "";
	test_streq(query_of(s, &q, &t),
		   "2026-01-01 h1/ cust 300 3 30 3;2026-01-01 h1/ other 5 1 0 0;"
		   "2026-01-01 h2/ cust 7 1 7 1;2026-01-02 h1/ cust 200 2 20 2;");
	q.netns = "qr-1";
	test_streq(query_of(s, &q, &t), "2026-01-01 h1/qr-1 cust 1000 10 0 0;");
	q.netns = NULL;
	q.host = "h2";
	test_streq(query_of(s, &q, &t), "2026-01-01 h2/ cust 7 1 7 1;");
	q.host = "h1";
	q.netns = "";
	q.label = "cust";
	q.per_addr = true;
	test_streq(query_of(s, &q, &t), "2026-01-01 h1/ cust 198.18.0.1 100 1 10 1;"
		   "2026-01-01 h1/ cust 198.18.0.3 200 2 20 2;2026-01-02 h1/ cust 198.18.0.3 200 2 20 2;");
	q = (struct store_query){ .by = TIER_MONTH, .utc = true, .per_addr = true,
				  .since = INT64_MIN, .until = INT64_MAX, .addr = "198.18.0.1" };
	test_streq(query_of(s, &q, &t), "2026-01 h1/ cust 198.18.0.1 100 1 10 1;"
		   "2026-01 h1/qr-1 cust 198.18.0.1 1000 10 0 0;2026-01 h2/ cust 198.18.0.1 7 1 7 1;");
	test_streq(totals_of(s, &t), totals);
	/* everything into months: the same rows, the same origins */
	test_assert(store_rollup(s, 1767312060 + 2000L * 86400, &e) == 0);
	test_assert(db_int(path, "SELECT count(*) FROM usage WHERE tier < 3") == 0);
	q = (struct store_query){ .by = TIER_DAY, .utc = true, .since = INT64_MIN,
				  .until = INT64_MAX };
	test_streq(query_of(s, &q, &t), "2026-01 h1/ cust 500 5 50 5;2026-01 h1/ other 5 1 0 0;"
		   "2026-01 h1/qr-1 cust 1000 10 0 0;2026-01 h2/ cust 7 1 7 1;");
	test_streq(totals_of(s, &t), totals);
	/* carried into a new database: per origin */
	test_assert(store_totals_save(s, &sv, &e) == 0);
	store_close(s);
	path = tmp_db(&tmp, "q2.db");
	test_assert(store_open(&s, path, "h1", NULL, &keep, &e) == 0);
	test_assert(store_carry(s, &sv, &e) == 0);
	test_streq(totals_of(s, &t), totals);
	test_assert(db_int(path, "SELECT count(*) FROM usage") == 0);
	store_saved_free(&sv);
	store_close(s);
	tmp_remove(&tmp);
}

/* "LABEL PERIOD[ ADDR] T counts;" per sample */
static int sample(const struct store_sample *x, void *data)
{
	append(data, "%s %s%s%s %lld", x->label, x->period, x->addr ? " " : "",
	       x->addr ? x->addr : "", (long long)x->t);
	append_counts(data, &x->c);
	return 0;
}

/* Samples: every report in the 5-minute slot of its last second, summed;
 * label usage and windows from them; old samples dropped, and then the
 * same sums from usage. */
static void test_samples(void)
{
	const int64_t t0 = 1767225600; /* 2026-01-01 00:00 UTC */
	struct store_keep k = keep;
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "samples.db");
	struct err e = { "" };
	struct store *s;
	struct sums t;

	k.samples = 3600;
	test_assert(store_open(&s, path, "h1", "nftally", &k, &e) == 0);
	test_assert(store_samples_from(s) == 0);
	/* ten reports a minute apart: 1..5 end in (t0, t0 + 300], 6..10 in
	 * (t0 + 300, t0 + 600]; a: 100 * i in, b of class national 1 in */
	for (int i = 1; i <= 10; i++) {
		struct report_row v[] = {
			row_of("198.18.0.1", "a", (struct counts){ 100 * (uint64_t)i, 1, 10, 1 }),
			row_of("198.18.0.1", "a", (struct counts){ 1, 1, 0, 0 }),
			row_of("198.18.0.2", "b", (struct counts){ 7, 1, 3, 1 }),
		};
		struct report r = report_of("h1", "", "", (uint64_t)i, t0 + 60 * i, v, 3);

		v[1].cls = "national";
		test_assert(store_record_report(s, &r, &e) == 0);
	}
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 6);
	/* a: 100+200+...+500 = 1500 (+5 national), 600+...+1000 = 4000 (+5) */
	test_streq(usage_of(s, t0, t0 + 300, &t), "a 1505 10 50 5;b 35 5 15 5;");
	test_streq(usage_of(s, t0 + 300, t0 + 600, &t), "a 4005 10 50 5;b 35 5 15 5;");
	test_streq(usage_of(s, t0, t0 + 600, &t), "a 5510 20 100 10;b 70 10 30 10;");
	test_streq(usage_of(s, t0 + 600, INT64_MAX, &t), "");
	{
		struct store_window w[] = {
			{ "a", "first", t0, t0 + 300 }, { "a", "second", t0 + 300, t0 + 600 },
			{ "b", "all", t0, t0 + 600 },
		};
		struct store_wquery q = { .w = w, .nw = 3, .per_addr = true };

		t.text[0] = '\0';
		test_assert(store_window_samples(s, &q, sample, &t, &e) == 0);
		test_streq(t.text, "a first 198.18.0.1 1767225600 1505 10 50 5;"
			   "a second 198.18.0.1 1767225900 4005 10 50 5;"
			   "b all 198.18.0.2 1767225600 35 5 15 5;"
			   "b all 198.18.0.2 1767225900 35 5 15 5;");
		t.text[0] = '\0';
		test_assert(store_window_query(s, &q, row, &t, &e) == 0);
		test_streq(t.text, "first h1/ a 198.18.0.1 1500 5 50 5;"
			   "first h1/ a 198.18.0.1 national 5 5 0 0;"
			   "second h1/ a 198.18.0.1 4000 5 50 5;"
			   "second h1/ a 198.18.0.1 national 5 5 0 0;"
			   "all h1/ b 198.18.0.2 70 10 30 10;");
		q.sum_classes = true;
		q.per_addr = false;
		q.nw = 1;
		t.text[0] = '\0';
		test_assert(store_window_query(s, &q, row, &t, &e) == 0);
		test_streq(t.text, "first h1/ a 1505 10 50 5;");
		/* a filter by class */
		q.sum_classes = false;
		q.cls = "national";
		t.text[0] = '\0';
		test_assert(store_window_query(s, &q, row, &t, &e) == 0);
		test_streq(t.text, "first h1/ a national 5 5 0 0;");
	}
	{
		struct store_query q = { .by = TIER_5MIN, .utc = true, .since = INT64_MIN,
					 .until = INT64_MAX, .sum_classes = true, .label = "a" };

		test_streq(query_of(s, &q, &t), "2026-01-01T00:00 h1/ a 1505 10 50 5;"
			   "2026-01-01T00:05 h1/ a 4005 10 50 5;");
	}
	/* ten days later, samples older than an hour go: samples_from moves
	 * to the hour, and the sums come from usage (an hour row now) */
	test_assert(store_rollup(s, t0 + 10 * 86400 + 1800, &e) == 0);
	test_assert(store_samples_from(s) == t0 + 10 * 86400 - 3600);
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 0);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'samples_from'") ==
		    t0 + 10 * 86400 - 3600);
	test_streq(usage_of(s, t0, t0 + 3600, &t), "a 5510 20 100 10;b 70 10 30 10;");
	store_close(s);
	/* and read-only the same */
	test_assert(store_open_readonly(&s, path, "h1", &e) == 0);
	test_assert(store_samples_from(s) == t0 + 10 * 86400 - 3600);
	test_streq(usage_of(s, t0, t0 + 3600, &t), "a 5510 20 100 10;b 70 10 30 10;");
	store_close(s);
	tmp_remove(&tmp);
}

/* A store of schema 2 (as it was before samples: the table and meta key
 * taken away) is migrated at open: its interval rows become the samples,
 * samples_from the hour of the first of them, and the hour rows before
 * are read from usage. */
static void test_migration_v2(void)
{
	const int64_t t0 = 1767225600;
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "v2.db");
	struct err e = { "" };
	struct store *s;
	struct sums t;

	test_assert(store_open(&s, path, "h1", "nftally", &keep, &e) == 0);
	for (int i = 1; i <= 3; i++) {
		struct report_row v[] = { row_of("198.18.0.1", "a",
						 (struct counts){ 10 * (uint64_t)i, 1, 0, 0 }) };
		/* an hour apart: t0 + 3600 i - 60 */
		struct report r = report_of("h1", "", "", (uint64_t)i, t0 + 3600 * i - 60, v, 1);

		test_assert(store_record_report(s, &r, &e) == 0);
	}
	store_close(s);
	/* schema 2: no samples; the first report rolled up into its hour */
	db_exec(path, "DROP TABLE samples; DELETE FROM meta WHERE key = 'samples_from';"
		"UPDATE meta SET value = 2 WHERE key = 'schema';"
		"DELETE FROM usage WHERE tier = 0 AND t = 1767229140;"
		"INSERT INTO usage VALUES(1, 1767225600, 1, 10, 1, 0, 0);");
	test_assert(store_open_readonly(&s, path, "h1", &e) == 0);
	test_assert(store_samples_from(s) == t0 + 3600);
	test_streq(usage_of(s, t0, t0 + 3 * 3600, &t), "a 60 3 0 0;");
	store_close(s);
	test_assert(store_open(&s, path, "h1", "nftally", &keep, &e) == 0);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 4);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'samples_from'") ==
		    t0 + 3600);
	/* the reports at +2h-60 and +3h-60 in slots +2h-300 and +3h-300 */
	test_assert(db_int(path, "SELECT count(*) FROM samples WHERE t = 1767232500 AND"
			   " in_bytes = 20") == 1);
	test_assert(db_int(path, "SELECT count(*) FROM samples WHERE t = 1767236100 AND"
			   " in_bytes = 30") == 1);
	test_assert(db_int(path, "SELECT count(*) FROM samples") == 2);
	/* the whole: the hour row and the two samples; each part alone */
	test_streq(usage_of(s, t0, t0 + 3 * 3600, &t), "a 60 3 0 0;");
	test_streq(usage_of(s, t0, t0 + 3600, &t), "a 10 1 0 0;");
	test_streq(usage_of(s, t0 + 3600, t0 + 3 * 3600, &t), "a 50 2 0 0;");
	store_close(s);
	tmp_remove(&tmp);
}

/* Every window row and sample of q's flags and filters, as text. */
struct wtext {
	char *p;
	size_t n;
};

static void wtext_add(struct wtext *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wtext_add(struct wtext *x, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	test_assert(k > 0 && (size_t)k < sizeof(buf));
	test_assert((x->p = realloc(x->p, x->n + (size_t)k + 1)) != NULL);
	memcpy(x->p + x->n, buf, (size_t)k + 1);
	x->n += (size_t)k;
}

static int wtext_row(const struct store_row *r, void *data)
{
	wtext_add(data, "%s %s/%s %s %s %s %llu %llu %llu %llu;", r->period, r->host, r->netns,
		  r->label, r->addr ? r->addr : "-", r->cls, (unsigned long long)r->c.in_bytes,
		  (unsigned long long)r->c.in_packets, (unsigned long long)r->c.out_bytes,
		  (unsigned long long)r->c.out_packets);
	return 0;
}

static int wtext_sample(const struct store_sample *x, void *data)
{
	wtext_add(data, "%s %s %s %lld %llu %llu %llu %llu;", x->label, x->period,
		  x->addr ? x->addr : "-", (long long)x->t, (unsigned long long)x->c.in_bytes,
		  (unsigned long long)x->c.in_packets, (unsigned long long)x->c.out_bytes,
		  (unsigned long long)x->c.out_packets);
	return 0;
}

/* The windows' totals and samples of s under every grouping and a few
 * filters, as one text (to free). */
static char *windows_text(struct store *s, const struct store_window *w, size_t nw)
{
	struct wtext x = { NULL, 0 };
	struct err e = { "" };

	for (int f = 0; f < 11; f++) {
		struct store_wquery q = { .w = w, .nw = nw, .per_addr = f & 1,
					  .merge_hosts = f & 2, .sum_classes = f & 4 };

		if (f == 8)
			q.host = "h2";
		if (f == 9)
			q.cls = "national";
		if (f == 10)
			q.addr = "198.18.0.2";
		wtext_add(&x, "[%d]", f);
		test_assert(store_window_query(s, &q, wtext_row, &x, &e) == 0);
		test_assert(store_window_samples(s, &q, wtext_sample, &x, &e) == 0);
	}
	return x.p;
}

/* Schema 4's indexes change how windows are read, not what: hour rows,
 * interval rows and samples of two hosts, two addresses and two classes
 * give the same rows read by the indexes (written, read-only) as by the
 * scans of a store of schema 3 (read-only), which the next open for
 * writing migrates to 4. */
static void test_indexes(void)
{
	const int64_t t0 = 1767225600;
	struct store_keep k = { 5400, 90 * 86400, 800 * 86400, 0, 3600 };
	struct store_window w[] = {
		{ "a", "w1", t0, t0 + 7200 }, { "a", "w2", t0 + 7200, t0 + 21600 },
		{ "b", "all", t0, t0 + 22200 }, { "c", "none", t0, t0 + 22200 },
	};
	struct tmp tmp = { "" };
	const char *path = tmp_db(&tmp, "indexes.db");
	struct err e = { "" };
	char *want, *got;
	struct store *s;

	test_assert(store_open(&s, path, "h1", "nftally", &k, &e) == 0);
	for (int i = 1; i <= 36; i++) { /* every 10 minutes for 6 hours */
		for (int h = 1; h <= 2; h++) {
			uint64_t in = 100 * (uint64_t)i;
			struct report_row v[] = {
				row_of("198.18.0.1", "a", (struct counts){ in, 1, 7, 1 }),
				row_of("198.18.0.2", "a", (struct counts){ (uint64_t)h, 1, 0, 0 }),
				row_of("198.18.0.1", "a", (struct counts){ 3, 1, (uint64_t)i, 1 }),
				row_of("198.18.0.3", "b", (struct counts){ 5, 1, 5, 1 }),
			};
			struct report r = report_of(h == 1 ? "h1" : "h2", "", "", (uint64_t)i,
						    t0 + 600 * i, v, 4);

			v[2].cls = "national";
			test_assert(store_record_report(s, &r, &e) == 0);
		}
	}
	/* hour rows before +2h, interval rows to +3h, samples from +3h */
	test_assert(store_rollup(s, t0 + 4 * 3600 + 60, &e) == 0);
	test_assert(store_samples_from(s) == t0 + 3 * 3600);
	test_assert(db_int(path, "SELECT count(*) FROM usage WHERE tier = 1") > 0);
	test_assert(db_int(path, "SELECT count(*) FROM usage WHERE tier = 0 AND t <= "
			   "1767236400") > 0);
	want = windows_text(s, w, 4);
	/* per address: w1 from hour rows (reports 1 to 12: 100 * 78 in),
	 * w2 from interval rows and samples (13 to 36: 100 * 588) */
	test_assert(strstr(want, "[1]w1 h1/ a 198.18.0.1  7800 12 84 12;"
			   "w1 h1/ a 198.18.0.1 national 36 12 78 12;"
			   "w1 h1/ a 198.18.0.2  12 12 0 0;w1 h2/ a 198.18.0.1  7800 12 84 12;"));
	test_assert(strstr(want, "w2 h2/ a 198.18.0.2  48 24 0 0;"
			   "all h1/ b 198.18.0.3  180 36 180 36;"));
	store_close(s);
	test_assert(store_open_readonly(&s, path, "h1", &e) == 0);
	got = windows_text(s, w, 4);
	test_streq(got, want);
	free(got);
	store_close(s);
	/* the same store as schema 3 wrote it */
	db_exec(path, "DROP INDEX series_label; DROP INDEX samples_series; DROP INDEX usage_series;"
		"UPDATE meta SET value = 3 WHERE key = 'schema'");
	test_assert(store_open_readonly(&s, path, "h1", &e) == 0);
	got = windows_text(s, w, 4);
	test_streq(got, want);
	free(got);
	store_close(s);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 3);
	test_assert(store_open(&s, path, "h1", "nftally", &k, &e) == 0);
	test_assert(db_int(path, "SELECT value FROM meta WHERE key = 'schema'") == 4);
	test_assert(db_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND"
			   " name IN ('series_label', 'samples_series', 'usage_series')") == 3);
	got = windows_text(s, w, 4);
	test_streq(got, want);
	free(got);
	free(want);
	store_close(s);
	tmp_remove(&tmp);
}

int main(void)
{
	/* months and days rolled up are in local time: make it UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	test_once_and_sums();
	test_origins();
	test_parts();
	test_migration();
	test_migration_race();
	test_query_origins();
	test_samples();
	test_migration_v2();
	test_indexes();
	return 0;
}
