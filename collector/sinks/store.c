// SPDX-License-Identifier: GPL-2.0-or-later
/* The embedded store (SQLite).  One row per address with traffic per
 * report in tier 0; rollups move whole hours, local days and local months
 * of old rows into the next tier inside one transaction, so every sum over
 * any window of whole stored periods is the same before and after.  The
 * report's seq and time are written in the transaction that records it,
 * which is what makes a replayed report a no-op here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "addr.h"
#include "report.h"
#include "store.h"

#define STORE_SCHEMA 1

struct store {
	sqlite3 *db;
	struct store_keep keep;
	/* A writer's files as opened: the path must still name them (st_dev,
	 * st_ino of PATH and PATH-wal; wal_ino 0 when there was none). */
	char *path;
	dev_t dev, wal_dev;
	ino_t ino, wal_ino;
	sqlite3_stmt *series_add, *series_get, *usage_add, *total_add, *meta_set;
	sqlite3_stmt *report_get, *report_add;
	int64_t next_rollup;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS series("
	"  id INTEGER PRIMARY KEY, addr TEXT NOT NULL, label TEXT NOT NULL,"
	"  class TEXT NOT NULL DEFAULT '', UNIQUE(addr, label, class));"
	"CREATE TABLE IF NOT EXISTS usage("
	"  tier INTEGER NOT NULL, t INTEGER NOT NULL, series INTEGER NOT NULL,"
	"  in_bytes INTEGER NOT NULL, in_packets INTEGER NOT NULL,"
	"  out_bytes INTEGER NOT NULL, out_packets INTEGER NOT NULL,"
	"  PRIMARY KEY(tier, t, series)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS reports("
	"  seq INTEGER NOT NULL, t INTEGER NOT NULL, PRIMARY KEY(seq, t)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS totals("
	"  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,"
	"  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,"
	"  out_packets INTEGER NOT NULL);"
	/* totals carried over from a database lost under a running run: part
	 * of the all-time totals (the metrics), never of usage (report) */
	"CREATE TABLE IF NOT EXISTS carried("
	"  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,"
	"  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,"
	"  out_packets INTEGER NOT NULL);";

/* The conflict target is named: SQLite before 3.35 (RHEL 8 and 9) needs it. */
#define ADD_COUNTS(target) \
	" ON CONFLICT(" target ") DO UPDATE SET in_bytes = in_bytes + excluded.in_bytes," \
	" in_packets = in_packets + excluded.in_packets," \
	" out_bytes = out_bytes + excluded.out_bytes," \
	" out_packets = out_packets + excluded.out_packets"

/* SQLite's error as an errno, for the caller to tell what passes from
 * what needs a person: -ENOSPC a full disk, -EBUSY a lock held by another
 * writer, -EIO an I/O error (these pass); -EACCES a file or directory that
 * cannot be written, -EBADMSG the rest (no database, a damaged one, SQL
 * this SQLite does not know). */
static int store_errno(struct store *s)
{
	switch (s && s->db ? sqlite3_errcode(s->db) : SQLITE_ERROR) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_IOERR:
		return -EIO;
	default:
		return -EBADMSG;
	}
}

static int store_fail(struct store *s, struct err *e, const char *what)
{
	return err_setn(e, store_errno(s), "store: %s: %s", what,
			s && s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

static int store_exec(struct store *s, const char *sql, struct err *e)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(s, e, sql);
	return 0;
}

static int store_prepare(struct store *s, sqlite3_stmt **st, const char *sql, struct err *e)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return store_fail(s, e, "prepare");
	return 0;
}

static int64_t store_meta_int(struct store *s, const char *key, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return dflt;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Run a prepared statement once and reset it at once: the prepared
 * statements are never left active, since an active one holds a read
 * transaction open and keeps the WAL from restarting. */
static int store_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc;
}

static int store_meta_set(struct store *s, const char *key, sqlite3_int64 v, struct err *e)
{
	sqlite3_bind_text(s->meta_set, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->meta_set, 2, v);
	return store_step(s->meta_set) == SQLITE_DONE ? 0 : store_fail(s, e, "meta");
}

static int store_open_db(struct store **out, const char *path, int flags, struct err *e)
{
	struct store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return err_setn(e, -ENOMEM, "store: out of memory");
#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		int ret = err_setn(e, store_errno(s), "%s: cannot open database: %s", path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");

		sqlite3_close(s->db);
		free(s);
		return ret;
	}
	sqlite3_busy_timeout(s->db, 10000);
	*out = s;
	return 0;
}

/* Remember which files the path names now, the database open and its
 * write-ahead log (which exists from the first transaction on). */
static int store_identify(struct store *s, const char *path, struct err *e)
{
	char wal[PATH_MAX];
	struct stat st;

	s->path = strdup(path);
	if (!s->path)
		return err_setn(e, -ENOMEM, "store: out of memory");
	if (lstat(path, &st) < 0)
		return err_setn(e, -errno, "%s: %s", path, strerror(errno));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (lstat(wal, &st) == 0) {
		s->wal_dev = st.st_dev;
		s->wal_ino = st.st_ino;
	}
	return 0;
}

int store_check(struct store *s)
{
	struct stat st;

	if (lstat(s->path, &st) < 0)
		return -errno;
	return st.st_dev == s->dev && st.st_ino == s->ino ? 0 : -ESTALE;
}

int store_open(struct store **out, const char *path, const char *table,
	       const struct store_keep *keep, struct err *e)
{
	struct store *s;
	sqlite3_stmt *st = NULL;
	int fd, ret;

	/* created here so that it is 0600 and never a symlink we follow */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot open database: %s", path,
				strerror(errno));
	close(fd);
	ret = store_open_db(out, path, SQLITE_OPEN_READWRITE, e);
	if (ret < 0)
		return ret;
	s = *out;
	s->keep = *keep;
	if (keep->busy_ms)
		sqlite3_busy_timeout(s->db, keep->busy_ms);
	/* FULL: a commit is on disk before the state file says "reported" */
	ret = store_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", e);
	ret = ret ? ret : store_exec(s, "BEGIN IMMEDIATE", e);
	ret = ret ? ret : store_exec(s, schema_sql, e);
	ret = ret ? ret : store_prepare(s, &s->meta_set,
					"INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", e);
	if (ret == 0) {
		int64_t v = store_meta_int(s, "schema", 0);

		if (v == 0)
			ret = store_meta_set(s, "schema", STORE_SCHEMA, e);
		else if (v != STORE_SCHEMA)
			ret = err_setn(e, -EINVAL, "%s: database schema %lld is not %d (written "
				       "by another version of nftally)", path, (long long)v,
				       STORE_SCHEMA);
	}
	if (ret == 0 && store_prepare(s, &st, "SELECT value FROM meta WHERE key = 'table'",
				      e) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 0);

			if (!t || strcmp(t, table) != 0)
				ret = err_setn(e, -EINVAL, "%s: database of table %s, not %s",
					       path, t ? t : "?", table);
		} else {
			sqlite3_stmt *ins;

			ret = store_prepare(s, &ins, "INSERT INTO meta VALUES('table', ?)", e);
			if (ret == 0) {
				sqlite3_bind_text(ins, 1, table, -1, SQLITE_STATIC);
				if (sqlite3_step(ins) != SQLITE_DONE)
					ret = store_fail(s, e, "meta");
				sqlite3_finalize(ins);
			}
		}
		sqlite3_finalize(st);
	}
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	ret = ret ? ret : store_prepare(s, &s->series_add,
					"INSERT OR IGNORE INTO series(addr, label, class) VALUES(?, ?, ?)",
					e);
	ret = ret ? ret : store_prepare(s, &s->series_get,
					"SELECT id FROM series WHERE addr = ? AND label = ? AND class = ?",
					e);
	ret = ret ? ret : store_prepare(s, &s->usage_add,
					"INSERT INTO usage VALUES(0, ?, ?, ?, ?, ?, ?)"
					ADD_COUNTS("tier, t, series"), e);
	ret = ret ? ret : store_prepare(s, &s->report_get,
					"SELECT 1 FROM reports WHERE seq = ? AND t = ?", e);
	ret = ret ? ret : store_prepare(s, &s->report_add,
					"INSERT INTO reports VALUES(?, ?)", e);
	ret = ret ? ret : store_prepare(s, &s->total_add,
					"INSERT INTO totals VALUES(?, ?, ?, ?, ?)"
					ADD_COUNTS("series"), e);
	ret = ret ? ret : store_identify(s, path, e);
	if (ret < 0) {
		store_close(s);
		*out = NULL;
		return ret;
	}
	return 0;
}

int store_open_readonly(struct store **out, const char *path, struct err *e)
{
	if (access(path, F_OK) < 0)
		return err_setn(e, -errno, "%s: cannot open database: %s", path,
				strerror(errno));
	return store_open_db(out, path, SQLITE_OPEN_READONLY, e);
}

/* Is PATH-wal still the log this connection writes?  Closing the last
 * connection deletes PATH-wal and PATH-shm by name: right for its own
 * files, wrong for those of a database moved into its place. */
static bool store_wal_ours(const struct store *s)
{
	char wal[PATH_MAX];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	return lstat(wal, &st) == 0 && st.st_dev == s->wal_dev && st.st_ino == s->wal_ino;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->path && !store_wal_ours(s)) {
		int keep = 1; /* the checkpoint still goes into our own file */

		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &keep);
	}
	sqlite3_finalize(s->series_add);
	sqlite3_finalize(s->series_get);
	sqlite3_finalize(s->usage_add);
	sqlite3_finalize(s->total_add);
	sqlite3_finalize(s->meta_set);
	sqlite3_finalize(s->report_get);
	sqlite3_finalize(s->report_add);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* ---- recording ---- */

static void bind_counts(sqlite3_stmt *st, int first, const struct counts *c)
{
	sqlite3_bind_int64(st, first, (sqlite3_int64)c->in_bytes);
	sqlite3_bind_int64(st, first + 1, (sqlite3_int64)c->in_packets);
	sqlite3_bind_int64(st, first + 2, (sqlite3_int64)c->out_bytes);
	sqlite3_bind_int64(st, first + 3, (sqlite3_int64)c->out_packets);
}

static void bind_series(sqlite3_stmt *st, const char *addr, const char *label,
			const char *cls)
{
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cls, -1, SQLITE_STATIC);
}

static int store_series(struct store *s, const char *addr, const char *label,
			const char *cls, int64_t *id, struct err *e)
{
	int rc;

	bind_series(s->series_add, addr, label, cls);
	if (store_step(s->series_add) != SQLITE_DONE)
		return store_fail(s, e, "series");
	if (sqlite3_changes(s->db) == 1) {
		*id = sqlite3_last_insert_rowid(s->db);
		return 0;
	}
	bind_series(s->series_get, addr, label, cls);
	rc = sqlite3_step(s->series_get);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s->series_get, 0);
	sqlite3_reset(s->series_get);
	return rc == SQLITE_ROW ? 0 : store_fail(s, e, "series");
}

static int record_one(struct store *s, int64_t t, const struct report_row *d, struct err *e)
{
	char addr[ADDR_STRLEN];
	int64_t id = 0;
	int ret = store_series(s, addr_format(&d->a, addr), d->label, d->cls ? d->cls : "", &id,
			       e);

	if (ret < 0)
		return ret;
	sqlite3_bind_int64(s->usage_add, 1, t);
	sqlite3_bind_int64(s->usage_add, 2, id);
	bind_counts(s->usage_add, 3, &d->d);
	if (store_step(s->usage_add) != SQLITE_DONE)
		return store_fail(s, e, "usage");
	sqlite3_bind_int64(s->total_add, 1, id);
	bind_counts(s->total_add, 2, &d->d);
	if (store_step(s->total_add) != SQLITE_DONE)
		return store_fail(s, e, "totals");
	return 0;
}

/* Is report (seq, t) recorded already?  1 yes, 0 no, or a negative errno. */
static int store_has_report(struct store *s, uint64_t seq, int64_t t, struct err *e)
{
	int rc;

	sqlite3_bind_int64(s->report_get, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(s->report_get, 2, t);
	rc = store_step(s->report_get);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_fail(s, e, "reports");
}

int store_record_report(struct store *s, const struct report *r, struct err *e)
{
	int ret = store_exec(s, "BEGIN IMMEDIATE", e);

	if (ret < 0)
		return ret;
	/* A replay prints the very report it printed before, same seq and
	 * same time: recorded once.  A state started afresh counts seq from 1
	 * again, at other times. */
	ret = store_has_report(s, r->seq, r->time, e);
	if (ret == 1) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (ret == 0) {
		sqlite3_bind_int64(s->report_add, 1, (sqlite3_int64)r->seq);
		sqlite3_bind_int64(s->report_add, 2, r->time);
		if (store_step(s->report_add) != SQLITE_DONE)
			ret = store_fail(s, e, "reports");
	}
	for (size_t i = 0; i < r->n && ret == 0; i++)
		ret = record_one(s, r->time, &r->v[i], e);
	ret = ret ? ret : store_meta_set(s, "last_seq", (sqlite3_int64)r->seq, e);
	ret = ret ? ret : store_meta_set(s, "last_time", r->time, e);
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	if (ret < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	return 0;
}

int store_record(struct store *s, const struct addr_names *an, const struct state *done,
		 const struct state *next, size_t *rows, struct err *e)
{
	struct report r;
	int ret = report_make(&r, NULL, an, done, next);

	if (ret < 0)
		return err_setn(e, ret, "store: out of memory");
	if (rows)
		*rows = r.n;
	ret = store_record_report(s, &r, e);
	report_free(&r);
	return ret;
}

/* ---- rollups ---- */

/* Local midnight of the day (or first of the month) that holds t. */
static int64_t local_start(int64_t t, bool month)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
	if (month)
		tm.tm_mday = 1;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* Rows of tier `from` with start before cutoff, summed into tier from+1
 * under the period key `key` (an SQL expression of t), then deleted. */
static int store_move(struct store *s, int from, const char *start, const char *key,
		      int64_t cutoff, struct err *e)
{
	char sql[1024];
	int ret;

	snprintf(sql, sizeof(sql),
		 "INSERT INTO usage SELECT %d, %s, series, sum(in_bytes), sum(in_packets),"
		 " sum(out_bytes), sum(out_packets) FROM usage WHERE tier = %d AND %s < %lld"
		 " GROUP BY 2, series" ADD_COUNTS("tier, t, series") ";"
		 "DELETE FROM usage WHERE tier = %d AND %s < %lld;",
		 from + 1, key, from, start, (long long)cutoff, from, start, (long long)cutoff);
	ret = store_exec(s, sql, e);
	return ret;
}

int store_rollup(struct store *s, time_t now, struct err *e)
{
	int64_t hour_cut, day_cut, month_cut;
	int ret;

	if (now < s->next_rollup)
		return 0;
	/* interval rows cover (t - interval, t]: they start before t */
	hour_cut = (now - s->keep.intervals) / 3600 * 3600;
	day_cut = local_start(now - s->keep.hours, false);
	month_cut = local_start(now - s->keep.days, true);
	ret = store_exec(s, "BEGIN IMMEDIATE", e);
	ret = ret ? ret : store_move(s, TIER_INTERVAL, "t - 1", "(t - 1) / 3600 * 3600",
				     hour_cut, e);
	ret = ret ? ret : store_move(s, TIER_HOUR, "t",
				     "strftime('%s', t, 'unixepoch', 'localtime', "
				     "'start of day', 'utc')", day_cut, e);
	ret = ret ? ret : store_move(s, TIER_DAY, "t",
				     "strftime('%s', t, 'unixepoch', 'localtime', "
				     "'start of month', 'utc')", month_cut, e);
	if (ret == 0) {
		char sql[128];

		/* the reports a replay could still repeat are the recent ones */
		snprintf(sql, sizeof(sql), "DELETE FROM reports WHERE t < %lld",
			 (long long)hour_cut);
		ret = store_exec(s, sql, e);
	}
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	if (ret < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	s->next_rollup = now / 3600 * 3600 + 3600; /* once an hour is enough */
	return 0;
}

/* ---- reading ---- */

int store_totals(struct store *s,
		 void (*cb)(const char *addr, const char *label, const char *cls,
			    const struct counts *c, void *data),
		 void *data, struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, &st, "SELECT addr, label, class, sum(t.in_bytes), sum(t.in_packets),"
			  " sum(t.out_bytes), sum(t.out_packets) FROM (SELECT * FROM totals UNION ALL"
			  " SELECT * FROM carried) t JOIN series s ON s.id = t.series"
			  " GROUP BY t.series", e) < 0)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct counts c = {
			(uint64_t)sqlite3_column_int64(st, 3), (uint64_t)sqlite3_column_int64(st, 4),
			(uint64_t)sqlite3_column_int64(st, 5), (uint64_t)sqlite3_column_int64(st, 6),
		};

		cb((const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1),
		   (const char *)sqlite3_column_text(st, 2), &c, data);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, e, "totals");
}

int store_query(struct store *s, const struct store_query *q,
		int (*cb)(const struct store_row *row, void *data), void *data,
		struct err *e)
{
	/* A row's period is the report's `by` or its own tier, whichever is
	 * coarser; days and months were rolled up in local time and keep it. */
	static const char sql_fmt[] =
		"SELECT strftime(CASE max(?1, tier) WHEN 1 THEN '%%Y-%%m-%%dT%%H:00'"
		"  WHEN 2 THEN '%%Y-%%m-%%d' ELSE '%%Y-%%m' END,"
		"  start, 'unixepoch', CASE WHEN ?2 AND tier < 2 THEN '+0 seconds'"
		"  ELSE 'localtime' END) AS period, label, %s, class,"
		" sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)"
		" FROM (SELECT u.*, CASE tier WHEN 0 THEN t - 1 ELSE t END AS start"
		"  FROM usage u) JOIN series s ON s.id = series"
		" WHERE start >= ?3 AND start < ?4 AND (?5 IS NULL OR label = ?5)"
		"  AND (?6 IS NULL OR addr = ?6) AND (?7 IS NULL OR class = ?7)"
		" GROUP BY period, label%s, class ORDER BY period, label%s, class";
	char sql[1024];
	sqlite3_stmt *st;
	int rc, ret = 0;

	snprintf(sql, sizeof(sql), sql_fmt, q->per_addr ? "addr" : "NULL",
		 q->per_addr ? ", addr" : "", q->per_addr ? ", addr" : "");
	if (store_prepare(s, &st, sql, e) < 0)
		return -EIO;
	sqlite3_bind_int(st, 1, (int)q->by);
	sqlite3_bind_int(st, 2, q->utc);
	sqlite3_bind_int64(st, 3, q->since);
	sqlite3_bind_int64(st, 4, q->until);
	if (q->label)
		sqlite3_bind_text(st, 5, q->label, -1, SQLITE_STATIC);
	if (q->addr)
		sqlite3_bind_text(st, 6, q->addr, -1, SQLITE_STATIC);
	if (q->cls)
		sqlite3_bind_text(st, 7, q->cls, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0) {
		struct store_row row = {
			.period = (const char *)sqlite3_column_text(st, 0),
			.label = (const char *)sqlite3_column_text(st, 1),
			.addr = (const char *)sqlite3_column_text(st, 2),
			.cls = (const char *)sqlite3_column_text(st, 3),
			.c = { (uint64_t)sqlite3_column_int64(st, 4),
			       (uint64_t)sqlite3_column_int64(st, 5),
			       (uint64_t)sqlite3_column_int64(st, 6),
			       (uint64_t)sqlite3_column_int64(st, 7) },
		};

		ret = cb(&row, data);
	}
	sqlite3_finalize(st);
	if (ret)
		return ret;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, e, "query");
}

/* ---- carrying the totals of a lost database over ---- */

struct saved_ctx {
	struct store_saved *sv;
	int ret;
};

static void save_one(const char *addr, const char *label, const char *cls,
		     const struct counts *c, void *data)
{
	struct saved_ctx *x = data;
	struct store_saved *sv = x->sv;
	struct store_total *t;

	if (x->ret < 0)
		return;
	if ((sv->n & (sv->n - 1)) == 0) { /* grows at powers of two */
		t = realloc(sv->v, (sv->n ? 2 * sv->n : 1) * sizeof(*t));
		if (!t) {
			x->ret = -ENOMEM;
			return;
		}
		sv->v = t;
	}
	t = &sv->v[sv->n];
	t->addr = strdup(addr);
	t->label = strdup(label);
	t->cls = strdup(cls ? cls : "");
	t->c = *c;
	sv->n++;
	if (!t->addr || !t->label || !t->cls)
		x->ret = -ENOMEM;
}

int store_totals_save(struct store *s, struct store_saved *sv, struct err *e)
{
	struct saved_ctx x = { sv, 0 };
	int ret;

	memset(sv, 0, sizeof(*sv));
	ret = store_totals(s, save_one, &x, e);
	if (ret == 0 && x.ret < 0)
		ret = err_setn(e, x.ret, "store: out of memory");
	if (ret < 0)
		store_saved_free(sv);
	return ret;
}

void store_saved_free(struct store_saved *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		free(sv->v[i].addr);
		free(sv->v[i].label);
		free(sv->v[i].cls);
	}
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* What keeps one total from falling below the saved one: per field the
 * saved value less the current one, or 0. */
static uint64_t store_short(uint64_t saved, uint64_t now)
{
	return saved > now ? saved - now : 0;
}

static int carry_one(struct store *s, sqlite3_stmt *get, sqlite3_stmt *add,
		     const struct store_total *t, struct err *e)
{
	struct counts cur = { 0 }, d;
	int64_t id = 0;
	int rc, ret = store_series(s, t->addr, t->label, t->cls, &id, e);

	if (ret < 0)
		return ret;
	sqlite3_bind_int64(get, 1, id);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		cur = (struct counts){
			(uint64_t)sqlite3_column_int64(get, 0), (uint64_t)sqlite3_column_int64(get, 1),
			(uint64_t)sqlite3_column_int64(get, 2), (uint64_t)sqlite3_column_int64(get, 3),
		};
	sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, e, "carried");
	d = (struct counts){
		store_short(t->c.in_bytes, cur.in_bytes),
		store_short(t->c.in_packets, cur.in_packets),
		store_short(t->c.out_bytes, cur.out_bytes),
		store_short(t->c.out_packets, cur.out_packets),
	};
	if (!(d.in_bytes | d.in_packets | d.out_bytes | d.out_packets))
		return 0;
	sqlite3_bind_int64(add, 1, id);
	bind_counts(add, 2, &d);
	return store_step(add) == SQLITE_DONE ? 0 : store_fail(s, e, "carried");
}

int store_carry(struct store *s, const struct store_saved *sv, struct err *e)
{
	sqlite3_stmt *get = NULL, *add = NULL;
	int ret = store_exec(s, "BEGIN IMMEDIATE", e);

	ret = ret ? ret : store_prepare(s, &get, "SELECT sum(in_bytes), sum(in_packets),"
					" sum(out_bytes), sum(out_packets) FROM (SELECT * FROM totals"
					" UNION ALL SELECT * FROM carried) WHERE series = ?"
					" GROUP BY series", e);
	ret = ret ? ret : store_prepare(s, &add, "INSERT INTO carried VALUES(?, ?, ?, ?, ?)"
					ADD_COUNTS("series"), e);
	for (size_t i = 0; i < sv->n && ret == 0; i++)
		ret = carry_one(s, get, add, &sv->v[i], e);
	sqlite3_finalize(get);
	sqlite3_finalize(add);
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	if (ret < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}
