// SPDX-License-Identifier: GPL-2.0-or-later
/* The embedded store (SQLite).  One row per series (origin, address,
 * label, class) with traffic per report in tier 0; rollups move whole
 * hours, local days and local months of old rows into the next tier
 * inside one transaction, so every sum over any window of whole stored
 * periods is the same before and after.  The report's origin, seq and time
 * are written in the transaction that records it, which is what makes a
 * replayed report a no-op here. */
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

/* 2: series and reports carry their origin (host, netns, account)
 * 3: 5-minute samples per series (billing, docs/billing.md)
 * 4: indexes by series and label, for the windows of billing and serve */
#define STORE_SCHEMA 4

/* The samples' slot: 5 minutes, and how long they are kept by default
 * (the current and the previous cycle of any start day and zone: two
 * months of at most 31 days, a DST hour, and a day to spare). */
#define STORE_SLOT 300
#define STORE_KEEP_SAMPLES (63 * 86400)

/* The statements of the windows' indexed reads (wread_sql). */
enum { WREAD_SERIES, WREAD_SAMPLES, WREAD_SAMPLE_SUM, WREAD_USAGE_SUM, WREAD_N };

struct store {
	sqlite3 *db;
	struct store_keep keep;
	/* A writer's files as opened: the path must still name them (st_dev,
	 * st_ino of PATH and PATH-wal; wal_ino 0 when there was none). */
	char *path;
	dev_t dev, wal_dev;
	ino_t ino, wal_ino;
	sqlite3_stmt *series_add, *series_get, *usage_add, *total_add, *meta_set;
	sqlite3_stmt *report_get, *report_add, *sample_add;
	int64_t next_rollup;
	/* samples hold every report from here on (a multiple of STORE_SLOT);
	 * what is older is read from usage */
	int64_t samples_from;
	/* the indexes of schema 4 are there (a read-only store of an older
	 * schema has none: its windows are read by the plain scans) */
	bool indexed;
	sqlite3_stmt *wread[WREAD_N];
};

static const char meta_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;";

/* Every table of the current schema (IF NOT EXISTS: a store of this
 * schema gets nothing new, one of schema 1 its new series and reports
 * while the migration has the old ones renamed). */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS series("
	"  id INTEGER PRIMARY KEY, host TEXT NOT NULL, netns TEXT NOT NULL,"
	"  account TEXT NOT NULL, addr TEXT NOT NULL, label TEXT NOT NULL,"
	"  class TEXT NOT NULL DEFAULT '', UNIQUE(host, netns, account, addr, label, class));"
	"CREATE TABLE IF NOT EXISTS usage("
	"  tier INTEGER NOT NULL, t INTEGER NOT NULL, series INTEGER NOT NULL,"
	"  in_bytes INTEGER NOT NULL, in_packets INTEGER NOT NULL,"
	"  out_bytes INTEGER NOT NULL, out_packets INTEGER NOT NULL,"
	"  PRIMARY KEY(tier, t, series)) WITHOUT ROWID;"
	/* every account numbers its own reports */
	"CREATE TABLE IF NOT EXISTS reports("
	"  host TEXT NOT NULL, netns TEXT NOT NULL, account TEXT NOT NULL,"
	"  seq INTEGER NOT NULL, t INTEGER NOT NULL,"
	"  PRIMARY KEY(host, netns, account, seq, t)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS totals("
	"  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,"
	"  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,"
	"  out_packets INTEGER NOT NULL);"
	/* totals carried over from a database lost under a running run: part
	 * of the all-time totals (the metrics), never of usage (report) */
	"CREATE TABLE IF NOT EXISTS carried("
	"  series INTEGER PRIMARY KEY, in_bytes INTEGER NOT NULL,"
	"  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,"
	"  out_packets INTEGER NOT NULL);"
	/* every report's deltas summed per 5-minute slot [t, t + 300) of
	 * its last second, for percentiles and cycles (docs/billing.md) */
	"CREATE TABLE IF NOT EXISTS samples("
	"  t INTEGER NOT NULL, series INTEGER NOT NULL,"
	"  in_bytes INTEGER NOT NULL, in_packets INTEGER NOT NULL,"
	"  out_bytes INTEGER NOT NULL, out_packets INTEGER NOT NULL,"
	"  PRIMARY KEY(t, series)) WITHOUT ROWID;";

/* Schema 4: what reads one label's or one series' rows needs.  The
 * samples' index holds the counts, so that a window's samples are read
 * from it alone, in (series, t) order: one pass, no sort.  A usage row is
 * read from its table by the key this index holds. */
static const char index_sql[] =
	"CREATE INDEX IF NOT EXISTS series_label ON series(label);"
	"CREATE INDEX IF NOT EXISTS samples_series ON samples(series, t, in_bytes, in_packets,"
	"  out_bytes, out_packets);"
	"CREATE INDEX IF NOT EXISTS usage_series ON usage(series, tier, t);";

/* Where samples begin in a store that had none (schema 2): the interval
 * rows are whole hours and all of them are after the hour rows, so from
 * the first interval row's hour on, or from now when there is none. */
#define SAMPLES_FROM_USAGE \
	"SELECT coalesce((min(t) - 1) / 3600 * 3600, CAST(strftime('%s', 'now') AS INTEGER)" \
	" / 3600 * 3600) FROM usage WHERE tier = 0"
/* The samples of a store of schema 2: its interval rows per slot. */
#define SAMPLES_OF_USAGE \
	"SELECT (t - 1) / 300 * 300 AS t, series, sum(in_bytes) AS in_bytes," \
	" sum(in_packets) AS in_packets, sum(out_bytes) AS out_bytes," \
	" sum(out_packets) AS out_packets FROM usage WHERE tier = 0 GROUP BY 1, 2"


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

static int store_meta_set_text(struct store *s, const char *key, const char *v,
			       struct err *e)
{
	sqlite3_bind_text(s->meta_set, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->meta_set, 2, v, -1, SQLITE_STATIC);
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

/* host, or this host's name for NULL. */
static const char *store_host(const char *host, char buf[256])
{
	if (host)
		return host;
	buf[0] = '\0';
	gethostname(buf, 255);
	buf[255] = '\0';
	return buf;
}

/* meta's text for key, copied into *v (NULL if there is none): 0 or a
 * negative errno. */
static int store_meta_text(struct store *s, const char *key, char **v, struct err *e)
{
	sqlite3_stmt *st;
	int rc, ret = store_prepare(s, &st, "SELECT value FROM meta WHERE key = ?", e);

	*v = NULL;
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		*v = strdup(t ? t : "");
		if (!*v)
			ret = err_setn(e, -ENOMEM, "store: out of memory");
	} else if (rc != SQLITE_DONE) {
		ret = store_fail(s, e, "meta");
	}
	sqlite3_finalize(st);
	return ret;
}

/* Schema 1 to 2, in the open's transaction: series and reports gain the
 * origin, their rows host's in the namespace nftally started in, account
 * '' (what a run of schema 1 counted).  Series keep their ids, so usage,
 * totals and carried need nothing.  The schema-1 reports table is made
 * first where a store from before it lacks one. */
static int store_migrate_v1(struct store *s, const char *host, struct err *e)
{
	static const char *const copy[] = {
		"INSERT INTO series(id, host, netns, account, addr, label, class)"
		" SELECT id, ?1, '', '', addr, label, class FROM series_v1",
		"INSERT INTO reports(host, netns, account, seq, t)"
		" SELECT ?1, '', '', seq, t FROM reports_v1",
	};
	int ret = store_exec(s, "CREATE TABLE IF NOT EXISTS reports(seq INTEGER NOT NULL,"
			     " t INTEGER NOT NULL, PRIMARY KEY(seq, t)) WITHOUT ROWID;"
			     "ALTER TABLE series RENAME TO series_v1;"
			     "ALTER TABLE reports RENAME TO reports_v1;", e);

	ret = ret ? ret : store_exec(s, schema_sql, e);
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]) && ret == 0; i++) {
		sqlite3_stmt *st;

		ret = store_prepare(s, &st, copy[i], e);
		if (ret < 0)
			break;
		sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = store_fail(s, e, "migration");
		sqlite3_finalize(st);
	}
	return ret ? ret : store_exec(s, "DROP TABLE series_v1; DROP TABLE reports_v1;", e);
}

/* Schema 2 to 3, in the open's transaction: the samples of the interval
 * rows still kept (the last store_keep_intervals), and where samples begin
 * (meta samples_from): the hours before are read from usage. */
static int store_migrate_v2(struct store *s, struct err *e)
{
	int ret = store_exec(s, schema_sql, e);

	ret = ret ? ret : store_exec(s, "INSERT INTO samples " SAMPLES_OF_USAGE ";"
				     "INSERT OR REPLACE INTO meta(key, value) VALUES('samples_from',"
				     " (" SAMPLES_FROM_USAGE "));", e);
	return ret;
}

/* The schema, made, migrated from 1, 2 or 3, or refused (another
 * version).  3 to 4 is the indexes alone (index_sql, made for every
 * version). */
static int store_schema(struct store *s, const char *path, const char *host, struct err *e)
{
	int64_t v = store_meta_int(s, "schema", 0);
	int ret;

	if (v == 1) {
		ret = store_migrate_v1(s, host, e);
		ret = ret ? ret : store_migrate_v2(s, e);
	} else if (v == 2) {
		ret = store_migrate_v2(s, e);
	} else if (v == 0 || v == 3 || v == STORE_SCHEMA) {
		ret = store_exec(s, schema_sql, e);
	} else
		return err_setn(e, -EINVAL, "%s: database schema %lld is not %d (written by "
				"another version of nftally)", path, (long long)v, STORE_SCHEMA);
	ret = ret ? ret : store_exec(s, index_sql, e);
	return ret ? ret : store_meta_set(s, "schema", STORE_SCHEMA, e);
}

/* A store of one table (meta 'table', set by its first opener of one
 * table) refuses another table.  One opened as shared by accounts (table
 * NULL) is marked so (meta 'shared' 1) and is checked no more: its rows
 * say their account.  A store of one table may become shared; its rows
 * are then account ''. */
static int store_check_table(struct store *s, const char *path, const char *table,
			     struct err *e)
{
	bool shared = store_meta_int(s, "shared", 0) == 1;
	char *t = NULL;
	int ret = store_meta_text(s, "table", &t, e);

	if (ret < 0)
		return ret;
	if (!table && !shared)
		ret = store_meta_set(s, "shared", 1, e);
	else if (table && t && !shared && strcmp(t, table) != 0)
		ret = err_setn(e, -EINVAL, "%s: database of table %s, not %s", path, t, table);
	else if (table && !t && !shared)
		ret = store_meta_set_text(s, "table", table, e);
	free(t);
	return ret;
}

int store_open(struct store **out, const char *path, const char *host, const char *table,
	       const struct store_keep *keep, struct err *e)
{
	char hbuf[256];
	struct store *s;
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
	/* The schema's check, its migration and the table's check in one
	 * write transaction: another process opening at the same time waits
	 * for it (the busy timeout) and finds the schema made and migrated. */
	ret = ret ? ret : store_exec(s, "BEGIN IMMEDIATE", e);
	ret = ret ? ret : store_exec(s, meta_sql, e);
	ret = ret ? ret : store_prepare(s, &s->meta_set,
					"INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", e);
	ret = ret ? ret : store_schema(s, path, store_host(host, hbuf), e);
	ret = ret ? ret : store_check_table(s, path, table, e);
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	s->samples_from = store_meta_int(s, "samples_from", 0);
	s->indexed = true;
	if (!s->keep.samples)
		s->keep.samples = STORE_KEEP_SAMPLES;
	ret = ret ? ret : store_prepare(s, &s->sample_add,
					"INSERT INTO samples VALUES(?, ?, ?, ?, ?, ?)"
					ADD_COUNTS("t, series"), e);
	ret = ret ? ret : store_prepare(s, &s->series_add,
					"INSERT OR IGNORE INTO series(host, netns, account, addr,"
					" label, class) VALUES(?, ?, ?, ?, ?, ?)", e);
	ret = ret ? ret : store_prepare(s, &s->series_get,
					"SELECT id FROM series WHERE host = ? AND netns = ? AND"
					" account = ? AND addr = ? AND label = ? AND class = ?", e);
	ret = ret ? ret : store_prepare(s, &s->usage_add,
					"INSERT INTO usage VALUES(0, ?, ?, ?, ?, ?, ?)"
					ADD_COUNTS("tier, t, series"), e);
	ret = ret ? ret : store_prepare(s, &s->report_get,
					"SELECT 1 FROM reports WHERE host = ? AND netns = ? AND"
					" account = ? AND seq = ? AND t = ?", e);
	ret = ret ? ret : store_prepare(s, &s->report_add,
					"INSERT INTO reports VALUES(?, ?, ?, ?, ?)", e);
	ret = ret ? ret : store_prepare(s, &s->total_add,
					"INSERT INTO totals VALUES(?, ?, ?, ?, ?)"
					ADD_COUNTS("series"), e);
	ret = ret ? ret : store_identify(s, path, e);
	if (ret < 0) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		store_close(s);
		*out = NULL;
		return ret;
	}
	return 0;
}

/* A store of schema 1 read as one of 2: a view of its series with the
 * origin's columns, in the connection's temp schema (a read-only
 * connection may write there), which comes first in name lookups. */
static int store_read_v1(struct store *s, const char *host, struct err *e)
{
	char hbuf[256];
	char *sql = sqlite3_mprintf("CREATE TEMP VIEW series AS SELECT id, %Q AS host,"
				    " '' AS netns, '' AS account, addr, label, class"
				    " FROM main.series", store_host(host, hbuf));
	int ret;

	if (!sql)
		return err_setn(e, -ENOMEM, "store: out of memory");
	ret = store_exec(s, sql, e);
	sqlite3_free(sql);
	return ret;
}

/* A store of schema 2 (or 1) read as one of 3: its interval rows as the
 * samples, from the first of them on. */
static int store_read_v2(struct store *s, struct err *e)
{
	sqlite3_stmt *st;
	int ret = store_exec(s, "CREATE TEMP VIEW samples AS " SAMPLES_OF_USAGE, e);

	ret = ret ? ret : store_prepare(s, &st, SAMPLES_FROM_USAGE, e);
	if (ret < 0)
		return ret;
	if (sqlite3_step(st) == SQLITE_ROW)
		s->samples_from = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int store_open_readonly(struct store **out, const char *path, const char *host,
			struct err *e)
{
	int64_t v;
	int ret;

	if (access(path, F_OK) < 0)
		return err_setn(e, -errno, "%s: cannot open database: %s", path,
				strerror(errno));
	/* NOMUTEX: a store is used by one thread at a time (serve's two take
	 * turns under its lock), and SQLite's own mutex, taken for every
	 * column of every row, was a sixth of a window's reading */
	ret = store_open_db(out, path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, e);
	if (ret < 0)
		return ret;
	(*out)->samples_from = store_meta_int(*out, "samples_from", 0);
	/* a meta that cannot be read (no database, a damaged one): the
	 * query says what is wrong */
	v = store_meta_int(*out, "schema", STORE_SCHEMA);
	if (v == 1)
		ret = store_read_v1(*out, host, e);
	if (v == 1 || v == 2)
		ret = ret ? ret : store_read_v2(*out, e);
	else if (v != 3 && v != STORE_SCHEMA)
		ret = err_setn(e, -EINVAL, "%s: database schema %lld is not %d (written by "
			       "another version of nftally)", path, (long long)v, STORE_SCHEMA);
	/* read as it is: a store of schema 3 gets its indexes from the next
	 * run that opens it for writing */
	(*out)->indexed = v == STORE_SCHEMA;
	if (ret < 0) {
		store_close(*out);
		*out = NULL;
	}
	return ret;
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
	sqlite3_finalize(s->sample_add);
	for (int i = 0; i < WREAD_N; i++)
		sqlite3_finalize(s->wread[i]);
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

/* What names a series: where it was counted, and what. */
struct series_key {
	const char *host, *netns, *account, *addr, *label, *cls;
};

/* Bind the key's six texts as parameters 1 to 6. */
static void bind_series(sqlite3_stmt *st, const struct series_key *k)
{
	const char *v[] = { k->host, k->netns, k->account, k->addr, k->label, k->cls };

	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
}

/* The series' id, made if new.  Looked up first: every report after an
 * address's first finds it, in one descent of the series' index instead
 * of two (an insert that is ignored, then the lookup). */
static int store_series(struct store *s, const struct series_key *k, int64_t *id,
			struct err *e)
{
	int rc;

	bind_series(s->series_get, k);
	rc = sqlite3_step(s->series_get);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s->series_get, 0);
	sqlite3_reset(s->series_get);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return store_fail(s, e, "series");
	bind_series(s->series_add, k);
	if (store_step(s->series_add) != SQLITE_DONE || sqlite3_changes(s->db) != 1)
		return store_fail(s, e, "series");
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int64_t store_slot(int64_t t)
{
	int64_t l = t - 1;

	return (l >= 0 ? l / STORE_SLOT : (l - STORE_SLOT + 1) / STORE_SLOT) * STORE_SLOT;
}

static int record_one(struct store *s, const struct report_origin *o, int64_t t,
		      const struct report_row *d, struct err *e)
{
	char addr[ADDR_STRLEN];
	const struct series_key k = { o->host, o->netns, o->account, addr_format(&d->a, addr),
				      d->label, d->cls ? d->cls : "" };
	int64_t id = 0;
	int ret = store_series(s, &k, &id, e);

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
	sqlite3_bind_int64(s->sample_add, 1, store_slot(t));
	sqlite3_bind_int64(s->sample_add, 2, id);
	bind_counts(s->sample_add, 3, &d->d);
	if (store_step(s->sample_add) != SQLITE_DONE)
		return store_fail(s, e, "samples");
	return 0;
}

/* Bind report r's key (origin, seq, time) from parameter 1 on. */
static void bind_report(sqlite3_stmt *st, const struct report *r)
{
	sqlite3_bind_text(st, 1, r->origin.host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->origin.netns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->origin.account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(st, 5, r->time);
}

/* Is report r (its origin, seq, time) recorded already?  1 yes, 0 no, or a
 * negative errno. */
static int store_has_report(struct store *s, const struct report *r, struct err *e)
{
	int rc;

	bind_report(s->report_get, r);
	rc = store_step(s->report_get);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_fail(s, e, "reports");
}

int store_record_begin(struct store *s, const struct report *r, struct err *e)
{
	int ret = store_exec(s, "BEGIN IMMEDIATE", e);

	if (ret < 0)
		return ret;
	/* A replay prints the very report it printed before, same origin, seq
	 * and time: recorded once.  A state started afresh counts seq from 1
	 * again, at other times; every account counts its own. */
	ret = store_has_report(s, r, e);
	if (ret == 1) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (ret == 0) {
		bind_report(s->report_add, r);
		if (store_step(s->report_add) != SQLITE_DONE)
			ret = store_fail(s, e, "reports");
	}
	if (ret < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int store_record_rows(struct store *s, const struct report *r, struct err *e)
{
	int ret = 0;

	for (size_t i = 0; i < r->n && ret == 0; i++)
		ret = record_one(s, &r->origin, r->time, &r->v[i], e);
	if (ret < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int store_record_end(struct store *s, const struct report *r, struct err *e)
{
	int ret = store_meta_set(s, "last_seq", (sqlite3_int64)r->seq, e);

	ret = ret ? ret : store_meta_set(s, "last_time", r->time, e);
	ret = ret ? ret : store_exec(s, "COMMIT", e);
	if (ret < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

void store_record_abort(struct store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_record_report(struct store *s, const struct report *r, struct err *e)
{
	int ret = store_record_begin(s, r, e);

	if (ret != 0)
		return ret;
	ret = store_record_rows(s, r, e);
	return ret ? ret : store_record_end(s, r, e);
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

/* Samples older than keep.samples go, and samples_from moves up: never
 * below day_cut, so that no day or month row read from usage reaches into
 * the samples' time (docs/billing.md). */
static int store_drop_samples(struct store *s, int64_t now, int64_t day_cut, struct err *e)
{
	int64_t from = (now - s->keep.samples) / 3600 * 3600;
	char sql[160];
	int ret;

	if (from < day_cut)
		from = day_cut / STORE_SLOT * STORE_SLOT;
	if (from <= s->samples_from)
		return 0;
	snprintf(sql, sizeof(sql), "DELETE FROM samples WHERE t < %lld", (long long)from);
	ret = store_exec(s, sql, e);
	ret = ret ? ret : store_meta_set(s, "samples_from", from, e);
	if (ret == 0)
		s->samples_from = from;
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
	ret = ret ? ret : store_drop_samples(s, now, day_cut, e);
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

static const char *column_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? t : "";
}

static struct counts column_counts(sqlite3_stmt *st, int first)
{
	return (struct counts){
		(uint64_t)sqlite3_column_int64(st, first),
		(uint64_t)sqlite3_column_int64(st, first + 1),
		(uint64_t)sqlite3_column_int64(st, first + 2),
		(uint64_t)sqlite3_column_int64(st, first + 3),
	};
}

/* A row of store_query's and store_window_query's columns: period, host,
 * netns, label, addr, class and the four counts. */
static struct store_row row_of(sqlite3_stmt *st)
{
	return (struct store_row){
		.period = column_text(st, 0),
		.host = column_text(st, 1),
		.netns = column_text(st, 2),
		.label = column_text(st, 3),
		.addr = (const char *)sqlite3_column_text(st, 4),
		.cls = column_text(st, 5),
		.c = column_counts(st, 6),
	};
}

int store_totals(struct store *s,
		 void (*cb)(const struct report_origin *o, const char *addr, const char *label,
			    const char *cls, const struct counts *c, void *data),
		 void *data, struct err *e)
{
	struct report_origin o;
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, &st, "SELECT host, netns, account, addr, label, class,"
			  " sum(t.in_bytes), sum(t.in_packets), sum(t.out_bytes),"
			  " sum(t.out_packets) FROM (SELECT * FROM totals UNION ALL"
			  " SELECT * FROM carried) t JOIN series s ON s.id = t.series"
			  " GROUP BY t.series", e) < 0)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct counts c = column_counts(st, 6);

		report_origin_init(&o, column_text(st, 0), column_text(st, 1),
				   column_text(st, 2), "");
		cb(&o, column_text(st, 3), column_text(st, 4), column_text(st, 5), &c, data);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, e, "totals");
}

int store_query(struct store *s, const struct store_query *q,
		int (*cb)(const struct store_row *row, void *data), void *data,
		struct err *e)
{
	/* A row's period is the report's `by` or its own tier, whichever is
	 * coarser; days and months were rolled up in local time and keep it.
	 * Samples are tier -1, five minutes. */
	static const char sql_fmt[] =
		"SELECT strftime(CASE max(?1, tier) WHEN -1 THEN '%%Y-%%m-%%dT%%H:%%M'"
		"  WHEN 1 THEN '%%Y-%%m-%%dT%%H:00'"
		"  WHEN 2 THEN '%%Y-%%m-%%d' ELSE '%%Y-%%m' END,"
		"  start, 'unixepoch', CASE WHEN ?2 AND tier < 2 THEN '+0 seconds'"
		"  ELSE 'localtime' END) AS period, CASE WHEN ?11 THEN '*' ELSE host END AS h,"
		"  CASE WHEN ?11 THEN '*' ELSE netns END AS n, label, %s,"
		"  CASE WHEN ?12 THEN '' ELSE class END AS c,"
		" sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)"
		" FROM %s"
		" WHERE start >= ?3 AND start < ?4 AND (?5 IS NULL OR label = ?5)"
		"  AND (?6 IS NULL OR addr = ?6) AND (?7 IS NULL OR class = ?7)"
		"  AND (?8 IS NULL OR host = ?8) AND (?9 IS NULL OR netns = ?9)"
		"  AND (?10 IS NULL OR account = ?10)"
		" GROUP BY period, h, n, label%s, c"
		" ORDER BY period, h, n, label%s, c";
	static const char usage_rows[] =
		"(SELECT u.*, CASE tier WHEN 0 THEN t - 1 ELSE t END AS start FROM usage u%s)";
	static const char sample_rows[] =
		"(SELECT -1 AS tier, t AS start, series, in_bytes, in_packets, out_bytes,"
		" out_packets FROM samples%s)";
	const char *filter[6] = { q->label, q->addr, q->cls, q->host, q->netns, q->account };
	/* one label of a store of schema 4 (a label's page): its series, then
	 * their rows by the indexes; else every row in the time asked for */
	bool one = q->label && s->indexed;
	char rows[256], from[384], sql[2048];
	sqlite3_stmt *st;
	int rc, ret = 0;

	snprintf(rows, sizeof(rows), q->by == TIER_5MIN ? sample_rows : usage_rows,
		 !one ? "" : q->by == TIER_5MIN ? " INDEXED BY samples_series" :
		 " INDEXED BY usage_series");
	if (one)
		snprintf(from, sizeof(from), "series s CROSS JOIN %s u ON u.series = s.id"
			 " AND s.label = ?5", rows);
	else
		snprintf(from, sizeof(from), "%s JOIN series s ON s.id = series", rows);
	snprintf(sql, sizeof(sql), sql_fmt, q->per_addr ? "addr" : "NULL", from,
		 q->per_addr ? ", addr" : "", q->per_addr ? ", addr" : "");
	if (store_prepare(s, &st, sql, e) < 0)
		return -EIO;
	sqlite3_bind_int(st, 1, (int)q->by);
	sqlite3_bind_int(st, 2, q->utc);
	sqlite3_bind_int64(st, 3, q->since);
	sqlite3_bind_int64(st, 4, q->until);
	sqlite3_bind_int(st, 11, q->merge_hosts);
	sqlite3_bind_int(st, 12, q->sum_classes);
	/* the filters ?5 to ?10; a NULL pointer binds SQL NULL: no filter */
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(st, 5 + i, filter[i], -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0) {
		struct store_row row = row_of(st);

		ret = cb(&row, data);
	}
	sqlite3_finalize(st);
	if (ret)
		return ret;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, e, "query");
}

/* ---- billing: windows over the finest rows ---- */

/* Every count once, at the finest resolution kept: the samples from
 * samples_from (:from) on, usage rows that start before it.  A row's
 * start: a sample's slot, an interval row's last second, the first second
 * of an hour, day or month.  :lo and :hi bound the starts read; each part
 * is a range of a primary key. */
#define STORE_FINEST \
	"(SELECT series, t AS start, in_bytes, in_packets, out_bytes, out_packets" \
	"  FROM samples WHERE t >= :from AND t >= :lo AND t < :hi" \
	" UNION ALL SELECT series, t - 1, in_bytes, in_packets, out_bytes, out_packets" \
	"  FROM usage WHERE tier = 0 AND t > :lo AND t <= :from AND t <= :hi" \
	" UNION ALL SELECT series, t, in_bytes, in_packets, out_bytes, out_packets" \
	"  FROM usage WHERE tier IN (1, 2, 3) AND t >= :lo AND t < :from AND t < :hi)"

/* After the rows of st: cb's non-zero return, 0, or the step's error. */
static int store_rows_end(struct store *s, sqlite3_stmt *st, int rc, int ret, const char *what,
			  struct err *e)
{
	sqlite3_finalize(st);
	if (ret)
		return ret;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, e, what);
}

int64_t store_samples_from(const struct store *s)
{
	return s->samples_from;
}

static void bind_named_int(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

static void bind_named_text(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

int store_label_usage(struct store *s, int64_t since, int64_t until,
		      int (*cb)(const char *label, const struct counts *c, void *data),
		      void *data, struct err *e)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (store_prepare(s, &st, "SELECT label, sum(in_bytes), sum(in_packets), sum(out_bytes),"
			  " sum(out_packets) FROM " STORE_FINEST " u JOIN series s ON s.id ="
			  " u.series WHERE u.start >= :lo AND u.start < :hi GROUP BY label"
			  " ORDER BY label", e) < 0)
		return -EIO;
	bind_named_int(st, ":from", s->samples_from);
	bind_named_int(st, ":lo", since);
	bind_named_int(st, ":hi", until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0) {
		struct counts c = column_counts(st, 1);

		ret = cb(column_text(st, 0), &c, data);
	}
	return store_rows_end(s, st, rc, ret, "label usage", e);
}

int store_reports_stamp(struct store *s, int64_t lo, int64_t hi, int64_t stamp[3],
			struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	/* the reports are few next to the samples (one row a report): a scan */
	if (store_prepare(s, &st, "SELECT count(*), coalesce(sum(seq), 0), coalesce(sum(t), 0)"
			  " FROM reports WHERE t >= ?1 AND t <= ?2", e) < 0)
		return -EIO;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	rc = sqlite3_step(st);
	for (int i = 0; i < 3; i++)
		stamp[i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, e, "reports");
}

int store_labels(struct store *s, int (*cb)(const char *label, void *data), void *data,
		 struct err *e)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (store_prepare(s, &st, "SELECT DISTINCT label FROM series ORDER BY label", e) < 0)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0)
		ret = cb(column_text(st, 0), data);
	return store_rows_end(s, st, rc, ret, "labels", e);
}

int store_first_time(struct store *s, int64_t *t, struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	/* each min() a lookup in a primary key */
	if (store_prepare(s, &st, "SELECT min(m) FROM (SELECT min(t) - 1 AS m FROM usage WHERE"
			  " tier = 0 UNION ALL SELECT min(t) FROM usage WHERE tier = 1 UNION ALL"
			  " SELECT min(t) FROM usage WHERE tier = 2 UNION ALL SELECT min(t) FROM"
			  " usage WHERE tier = 3 UNION ALL SELECT min(t) FROM samples)", e) < 0)
		return -EIO;
	rc = sqlite3_step(st);
	*t = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ?
	     sqlite3_column_int64(st, 0) : INT64_MAX;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, e, "first time");
}

/* The windows into temp.win (the connection's own; a read-only one may
 * write there), and the earliest and latest bounds of them. */
static int store_load_windows(struct store *s, const struct store_wquery *q, int64_t *lo,
			      int64_t *hi, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int ret = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS win(label TEXT NOT NULL,"
			     " period TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER NOT NULL);"
			     "CREATE INDEX IF NOT EXISTS temp.win_label ON win(label, since);"
			     "SAVEPOINT win;", e);

	*lo = INT64_MAX;
	*hi = INT64_MIN;
	if (ret < 0)
		return ret;
	/* the rows in one transaction of the temp schema, not one each */
	ret = store_exec(s, "DELETE FROM temp.win;", e);
	ret = ret ? ret : store_prepare(s, &st, "INSERT INTO temp.win VALUES(?, ?, ?, ?)", e);
	for (size_t i = 0; i < q->nw && ret == 0; i++) {
		const struct store_window *w = &q->w[i];

		sqlite3_bind_text(st, 1, w->label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, w->period, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, w->since);
		sqlite3_bind_int64(st, 4, w->until);
		if (store_step(st) != SQLITE_DONE)
			ret = store_fail(s, e, "windows");
		if (w->since < *lo)
			*lo = w->since;
		if (w->until > *hi)
			*hi = w->until;
	}
	sqlite3_finalize(st);
	if (ret < 0)
		sqlite3_exec(s->db, "ROLLBACK TO win", NULL, NULL, NULL);
	sqlite3_exec(s->db, "RELEASE win", NULL, NULL, NULL);
	return ret;
}

/* Bind the windows' bounds and the filters of q by name. */
static void bind_wquery(struct store *s, sqlite3_stmt *st, const struct store_wquery *q,
			int64_t lo, int64_t hi)
{
	bind_named_int(st, ":from", s->samples_from);
	bind_named_int(st, ":lo", lo);
	bind_named_int(st, ":hi", hi);
	bind_named_int(st, ":merge", q->merge_hosts);
	bind_named_int(st, ":sumcls", q->sum_classes);
	bind_named_text(st, ":addr", q->addr);
	bind_named_text(st, ":cls", q->cls);
	bind_named_text(st, ":host", q->host);
	bind_named_text(st, ":netns", q->netns);
	bind_named_text(st, ":account", q->account);
}

#define WQUERY_FILTERS \
	" AND (:addr IS NULL OR addr = :addr) AND (:cls IS NULL OR class = :cls)" \
	" AND (:host IS NULL OR host = :host) AND (:netns IS NULL OR netns = :netns)" \
	" AND (:account IS NULL OR account = :account)"

/* The windows' totals and samples (%s: the address column, then ", addr"
 * in GROUP BY and ORDER BY). */
#define WINDOW_TOTALS_SQL \
	"SELECT w.period, CASE WHEN :merge THEN '*' ELSE host END AS h," \
	"  CASE WHEN :merge THEN '*' ELSE netns END AS n, s.label, %s," \
	"  CASE WHEN :sumcls THEN '' ELSE class END AS c," \
	"  sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)" \
	" FROM " STORE_FINEST " u JOIN series s ON s.id = u.series" \
	" JOIN temp.win w ON w.label = s.label AND u.start >= w.since AND u.start < w.until" \
	" WHERE 1" WQUERY_FILTERS \
	" GROUP BY s.label, w.period, h, n%s, c" \
	" ORDER BY s.label, w.since, h, n%s, c"
#define WINDOW_SAMPLES_SQL \
	"SELECT s.label, w.period, %s, u.t," \
	"  sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)" \
	" FROM samples u JOIN series s ON s.id = u.series" \
	" JOIN temp.win w ON w.label = s.label AND u.t >= w.since AND u.t < w.until" \
	" WHERE u.t >= :lo AND u.t < :hi" WQUERY_FILTERS \
	" GROUP BY s.label, w.period%s, u.t" \
	" ORDER BY s.label, w.since%s, u.t"

/* The windows of q loaded, and the query of the totals or of the samples
 * prepared and bound. */
static int store_window_prepare(struct store *s, const struct store_wquery *q, bool samples,
				sqlite3_stmt **st, struct err *e)
{
	const char *a = q->per_addr ? "addr" : "NULL", *g = q->per_addr ? ", addr" : "";
	char sql[2048];
	int64_t lo, hi;
	int ret = store_load_windows(s, q, &lo, &hi, e);

	if (ret < 0)
		return ret;
	if (samples)
		snprintf(sql, sizeof(sql), WINDOW_SAMPLES_SQL, a, g, g);
	else
		snprintf(sql, sizeof(sql), WINDOW_TOTALS_SQL, a, g, g);
	if (store_prepare(s, st, sql, e) < 0)
		return -EIO;
	bind_wquery(s, *st, q, lo, hi);
	return 0;
}

/* ---- the windows from the indexes of schema 4 ---- */

/* One series of a window's label, as the filters leave it, and its sums
 * in the window being read. */
struct wseries {
	int64_t id;
	char *host, *netns, *addr, *cls;
	int64_t rows; /* the rows summed in c: a series without is no row */
	struct counts c;
};

/* One slot's counts, while the series of a group are summed. */
struct wslot {
	int64_t t;
	struct counts c;
};

/* What the indexed reads keep between windows: the series of the label
 * being read, and the rows of a group of several series. */
struct wread {
	struct wseries *sv;
	size_t ns, scap;
	struct wslot *v;
	size_t nv, vcap;
};

static void wread_clear(struct wread *x)
{
	for (size_t i = 0; i < x->ns; i++) {
		free(x->sv[i].host);
		free(x->sv[i].netns);
		free(x->sv[i].addr);
		free(x->sv[i].cls);
	}
	x->ns = 0;
}

static void wread_finish(struct wread *x)
{
	wread_clear(x);
	free(x->sv);
	free(x->v);
}

/* Grow *v (of *cap elements of size) to hold n + 1: 0 or -ENOMEM. */
static int wgrow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return 0;
	if (!(nv = realloc(*v, (*cap ? 2 * *cap : 16) * size)))
		return -ENOMEM;
	*v = nv;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

/* The statements of the indexed reads, prepared once per connection: a
 * label's series (by series_label), a series' samples in a window, and
 * the sums of its finest rows there, as STORE_FINEST: samples from
 * samples_from (?4) on, usage rows before (by samples_series and
 * usage_series). */
static const char *const wread_sql[] = {
	"SELECT id, host, netns, addr, class FROM series WHERE label = ?1"
	" AND (?2 IS NULL OR addr = ?2) AND (?3 IS NULL OR class = ?3)"
	" AND (?4 IS NULL OR host = ?4) AND (?5 IS NULL OR netns = ?5)"
	" AND (?6 IS NULL OR account = ?6)",
	"SELECT t, in_bytes, in_packets, out_bytes, out_packets FROM samples"
	" INDEXED BY samples_series WHERE series = ?1 AND t >= ?2 AND t < ?3 ORDER BY t",
	"SELECT count(*), sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)"
	" FROM samples INDEXED BY samples_series WHERE series = ?1 AND t >= max(?2, ?4)"
	" AND t < ?3",
	"SELECT count(*), sum(in_bytes), sum(in_packets), sum(out_bytes), sum(out_packets)"
	" FROM (SELECT * FROM usage INDEXED BY usage_series WHERE series = ?1 AND tier = 0"
	"  AND t > ?2 AND t <= min(?3, ?4)"
	" UNION ALL SELECT * FROM usage INDEXED BY usage_series WHERE series = ?1"
	"  AND tier IN (1, 2, 3) AND t >= ?2 AND t < min(?3, ?4))",
};

static int wread_prepare(struct store *s, struct err *e)
{
	int ret = 0;

	for (size_t i = 0; i < WREAD_N && ret == 0; i++)
		if (!s->wread[i])
			ret = store_prepare(s, &s->wread[i], wread_sql[i], e);
	return ret;
}

/* The series of label that q's filters keep into x->sv.  0 or a
 * negative errno with e set. */
static int wread_series(struct store *s, const struct store_wquery *q, const char *label,
			struct wread *x, struct err *e)
{
	const char *f[] = { label, q->addr, q->cls, q->host, q->netns, q->account };
	sqlite3_stmt *st = s->wread[WREAD_SERIES];
	int rc = SQLITE_DONE, ret = 0;

	wread_clear(x);
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(st, i + 1, f[i], -1, SQLITE_STATIC);
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct wseries *n;

		if (wgrow((void **)&x->sv, &x->scap, x->ns, sizeof(*x->sv)) < 0) {
			ret = -ENOMEM;
			break;
		}
		n = &x->sv[x->ns++];
		*n = (struct wseries){ .id = sqlite3_column_int64(st, 0),
				       .host = strdup(column_text(st, 1)),
				       .netns = strdup(column_text(st, 2)),
				       .addr = strdup(column_text(st, 3)),
				       .cls = strdup(column_text(st, 4)) };
		if (!n->host || !n->netns || !n->addr || !n->cls)
			ret = -ENOMEM;
	}
	sqlite3_reset(st);
	if (ret < 0)
		return err_setn(e, ret, "store: out of memory");
	return rc == SQLITE_DONE ? 0 : store_fail(s, e, "series");
}

/* Series in (address, id) order: the groups of a per-address read. */
static int wseries_addr_cmp(const void *a, const void *b)
{
	const struct wseries *x = a, *y = b;
	int d = strcmp(x->addr, y->addr);

	return d ? d : (x->id > y->id) - (x->id < y->id);
}

/* Windows (pointers into q->w) in (label, since) order. */
static int wsort_cmp(const void *a, const void *b)
{
	const struct store_window *x = *(const struct store_window *const *)a;
	const struct store_window *y = *(const struct store_window *const *)b;
	int d = strcmp(x->label, y->label);

	return d ? d : (x->since > y->since) - (x->since < y->since);
}

typedef int wread_fn(struct store *s, const struct store_wquery *q, struct wread *x,
		     const struct store_window *w, void *arg, struct err *e);

/* Call fn for every window of q in (label, since) order, with the series
 * of its label in x->sv (read once per label, in (address, id) order
 * when per_addr).  0, fn's non-zero return, or a negative errno. */
static int wread_each(struct store *s, const struct store_wquery *q, wread_fn *fn, void *arg,
		      struct err *e)
{
	const struct store_window **w = malloc((q->nw ? q->nw : 1) * sizeof(*w));
	struct wread x = { 0 };
	int ret = w ? wread_prepare(s, e) : err_setn(e, -ENOMEM, "store: out of memory");

	for (size_t i = 0; ret == 0 && i < q->nw; i++)
		w[i] = &q->w[i];
	if (ret == 0)
		qsort(w, q->nw, sizeof(*w), wsort_cmp);
	for (size_t i = 0; ret == 0 && i < q->nw; i++) {
		if (i == 0 || strcmp(w[i]->label, w[i - 1]->label) != 0) {
			ret = wread_series(s, q, w[i]->label, &x, e);
			if (ret == 0 && q->per_addr && x.ns > 1)
				qsort(x.sv, x.ns, sizeof(*x.sv), wseries_addr_cmp);
		}
		ret = ret ? ret : fn(s, q, &x, w[i], arg, e);
	}
	wread_finish(&x);
	free(w);
	return ret;
}

/* Add the rows of statement st (their count, then the four sums) of
 * series se in window w to se.  0 or a negative errno with e set. */
static int wread_sum(struct store *s, sqlite3_stmt *st, struct wseries *se,
		     const struct store_window *w, struct err *e)
{
	int rc;

	sqlite3_bind_int64(st, 1, se->id);
	sqlite3_bind_int64(st, 2, w->since);
	sqlite3_bind_int64(st, 3, w->until);
	sqlite3_bind_int64(st, 4, s->samples_from);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
		struct counts c = column_counts(st, 1);

		se->rows += sqlite3_column_int64(st, 0);
		counts_add(&se->c, &c);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, e, "query");
}

/* A series' totals row as q groups it: host, netns, address, class. */
struct wkey {
	const char *h, *n, *addr, *c;
	const struct wseries *se;
};

static int wkey_cmp(const void *a, const void *b)
{
	const struct wkey *x = a, *y = b;
	int d = strcmp(x->h, y->h);

	d = d ? d : strcmp(x->n, y->n);
	d = d ? d : strcmp(x->addr ? x->addr : "", y->addr ? y->addr : "");
	return d ? d : strcmp(x->c, y->c);
}

struct wtotals {
	int (*cb)(const struct store_row *row, void *data);
	void *data;
};

/* One window's totals: each series summed by its indexes (usage only for
 * a window that starts before samples_from), then grouped by key in
 * WINDOW_TOTALS_SQL's order. */
static int wtotals_window(struct store *s, const struct store_wquery *q, struct wread *x,
			  const struct store_window *w, void *arg, struct err *e)
{
	const struct wtotals *t = arg;
	struct wkey *k = malloc((x->ns ? x->ns : 1) * sizeof(*k));
	size_t nk = 0;
	int ret = k ? 0 : err_setn(e, -ENOMEM, "store: out of memory");

	for (size_t i = 0; ret == 0 && i < x->ns; i++) {
		struct wseries *se = &x->sv[i];

		se->rows = 0;
		se->c = (struct counts){ 0 };
		ret = wread_sum(s, s->wread[WREAD_SAMPLE_SUM], se, w, e);
		if (ret == 0 && w->since < s->samples_from)
			ret = wread_sum(s, s->wread[WREAD_USAGE_SUM], se, w, e);
		if (ret == 0 && se->rows)
			k[nk++] = (struct wkey){ q->merge_hosts ? "*" : se->host,
						 q->merge_hosts ? "*" : se->netns,
						 q->per_addr ? se->addr : NULL,
						 q->sum_classes ? "" : se->cls, se };
	}
	if (ret == 0 && nk > 1)
		qsort(k, nk, sizeof(*k), wkey_cmp);
	for (size_t i = 0, j; ret == 0 && i < nk; i = j) {
		struct store_row r = { w->period, k[i].h, k[i].n, w->label, k[i].addr, k[i].c,
				       { 0 } };

		for (j = i; j < nk && wkey_cmp(&k[i], &k[j]) == 0; j++)
			counts_add(&r.c, &k[j].se->c);
		ret = t->cb(&r, t->data);
	}
	free(k);
	return ret;
}

static int wslot_cmp(const void *a, const void *b)
{
	const struct wslot *x = a, *y = b;

	return (x->t > y->t) - (x->t < y->t);
}

struct wsamples {
	int (*cb)(const struct store_sample *x, void *data);
	void *data;
};

/* The samples of series sv[0..n) in window w, summed per slot, to cb in
 * slot order: one series straight from its index, several gathered,
 * sorted and summed.  0, cb's non-zero return, or a negative errno. */
static int wsamples_group(struct store *s, struct wread *x, const struct wseries *sv,
			  size_t n, const struct store_window *w, bool per_addr,
			  const struct wsamples *o, struct err *e)
{
	sqlite3_stmt *st = s->wread[WREAD_SAMPLES];
	struct store_sample out = { w->label, w->period, per_addr ? sv->addr : NULL, 0, { 0 } };
	int rc = SQLITE_DONE, ret = 0;

	x->nv = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		sqlite3_bind_int64(st, 1, sv[i].id);
		sqlite3_bind_int64(st, 2, w->since);
		sqlite3_bind_int64(st, 3, w->until);
		while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct wslot v = { sqlite3_column_int64(st, 0), column_counts(st, 1) };

			if (n == 1) {
				out.t = v.t;
				out.c = v.c;
				ret = o->cb(&out, o->data);
			} else if (wgrow((void **)&x->v, &x->vcap, x->nv, sizeof(*x->v)) < 0) {
				ret = err_setn(e, -ENOMEM, "store: out of memory");
			} else {
				x->v[x->nv++] = v;
			}
		}
		sqlite3_reset(st);
		if (ret == 0 && rc != SQLITE_DONE)
			ret = store_fail(s, e, "samples");
	}
	if (ret || n == 1)
		return ret;
	if (x->nv > 1) /* none read: x->v may still be NULL */
		qsort(x->v, x->nv, sizeof(*x->v), wslot_cmp);
	for (size_t i = 0; i < x->nv && ret == 0;) {
		out.t = x->v[i].t;
		out.c = (struct counts){ 0 };
		for (; i < x->nv && x->v[i].t == out.t; i++)
			counts_add(&out.c, &x->v[i].c);
		ret = o->cb(&out, o->data);
	}
	return ret;
}

/* One window's samples: per address (or all of the label's series at
 * once), the series' samples read by their index. */
static int wsamples_window(struct store *s, const struct store_wquery *q, struct wread *x,
			   const struct store_window *w, void *arg, struct err *e)
{
	int ret = 0;

	for (size_t j = 0, k; ret == 0 && j < x->ns; j = k) {
		for (k = j + 1; k < x->ns; k++) /* a group: one address, or all */
			if (q->per_addr && strcmp(x->sv[k].addr, x->sv[j].addr) != 0)
				break;
		ret = wsamples_group(s, x, &x->sv[j], k - j, w, q->per_addr, arg, e);
	}
	return ret;
}

int store_window_query(struct store *s, const struct store_wquery *q,
		       int (*cb)(const struct store_row *row, void *data), void *data,
		       struct err *e)
{
	struct wtotals t = { cb, data };
	sqlite3_stmt *st;
	int rc, ret;

	if (s->indexed)
		return wread_each(s, q, wtotals_window, &t, e);
	ret = store_window_prepare(s, q, false, &st, e);

	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0) {
		struct store_row row = row_of(st);

		ret = cb(&row, data);
	}
	return store_rows_end(s, st, rc, ret, "query", e);
}

int store_window_samples(struct store *s, const struct store_wquery *q,
			 int (*cb)(const struct store_sample *x, void *data), void *data,
			 struct err *e)
{
	struct wsamples o = { cb, data };
	sqlite3_stmt *st;
	int rc, ret;

	if (s->indexed)
		return wread_each(s, q, wsamples_window, &o, e);
	ret = store_window_prepare(s, q, true, &st, e);

	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0) {
		struct store_sample x = {
			.label = column_text(st, 0),
			.period = column_text(st, 1),
			.addr = (const char *)sqlite3_column_text(st, 2),
			.t = sqlite3_column_int64(st, 3),
			.c = column_counts(st, 4),
		};

		ret = cb(&x, data);
	}
	return store_rows_end(s, st, rc, ret, "samples", e);
}

/* ---- carrying the totals of a lost database over ---- */

struct saved_ctx {
	struct store_saved *sv;
	int ret;
};

static void save_one(const struct report_origin *o, const char *addr, const char *label,
		     const char *cls, const struct counts *c, void *data)
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
	t->host = strdup(o->host);
	t->netns = strdup(o->netns);
	t->account = strdup(o->account);
	t->addr = strdup(addr);
	t->label = strdup(label);
	t->cls = strdup(cls ? cls : "");
	t->c = *c;
	sv->n++;
	if (!t->host || !t->netns || !t->account || !t->addr || !t->label || !t->cls)
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
		free(sv->v[i].host);
		free(sv->v[i].netns);
		free(sv->v[i].account);
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
	const struct series_key k = { t->host, t->netns, t->account, t->addr, t->label, t->cls };
	struct counts cur = { 0 }, d;
	int64_t id = 0;
	int rc, ret = store_series(s, &k, &id, e);

	if (ret < 0)
		return ret;
	sqlite3_bind_int64(get, 1, id);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		cur = column_counts(get, 0);
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
