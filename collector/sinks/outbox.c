// SPDX-License-Identifier: GPL-2.0-or-later
/* The PostgreSQL sink's outbox: an SQLite file (WAL, synchronous=FULL, so
 * a report committed here survives a power cut) with one row per report
 * waiting and its rows beside it.  Reports keep the order they were
 * added in (their id), and a replayed report is recognised by its origin,
 * seq and time and not kept twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "addr.h"
#include "outbox.h"

struct outbox {
	sqlite3 *db;
	sqlite3_stmt *add, *row_add;
};

static const char outbox_sql[] =
	"PRAGMA journal_mode = WAL;"
	"PRAGMA synchronous = FULL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('schema', 1);"
	"CREATE TABLE IF NOT EXISTS outbox("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, netns TEXT NOT NULL,"
	"  account TEXT NOT NULL, tbl TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  t INTEGER NOT NULL, since INTEGER NOT NULL,"
	"  UNIQUE(host, netns, account, seq, t));"
	"CREATE TABLE IF NOT EXISTS outbox_rows("
	"  report INTEGER NOT NULL REFERENCES outbox(id), addr TEXT NOT NULL,"
	"  label TEXT NOT NULL, class TEXT NOT NULL, in_bytes INTEGER NOT NULL,"
	"  in_packets INTEGER NOT NULL, out_bytes INTEGER NOT NULL,"
	"  out_packets INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS outbox_rows_report ON outbox_rows(report);";

static int outbox_fail(struct outbox *o, struct err *e, const char *what)
{
	int rc = o->db ? sqlite3_errcode(o->db) : SQLITE_CANTOPEN;

	return err_setn(e, rc == SQLITE_FULL ? -ENOSPC : rc == SQLITE_BUSY ? -EBUSY : -EIO,
			"outbox: %s: %s", what, o->db ? sqlite3_errmsg(o->db) : "cannot open");
}

static int outbox_exec(struct outbox *o, const char *sql, struct err *e)
{
	return sqlite3_exec(o->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 :
	       outbox_fail(o, e, "exec");
}

int outbox_open(struct outbox **out, const char *path, struct err *e)
{
	struct outbox *o = calloc(1, sizeof(*o));
	int fd, ret;

	*out = NULL;
	if (!o)
		return err_setn(e, -ENOMEM, "outbox: out of memory");
	/* 0600 before SQLite opens it: the rows are the customers' traffic */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = err_setn(e, -errno, "%s: %s", path, strerror(errno));
		free(o);
		return ret;
	}
	close(fd);
	if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		ret = outbox_fail(o, e, path);
		outbox_close(o);
		return ret;
	}
	sqlite3_busy_timeout(o->db, 2000);
	ret = outbox_exec(o, outbox_sql, e);
	if (ret == 0 && (sqlite3_prepare_v2(o->db, "INSERT OR IGNORE INTO outbox(host, netns,"
					    " account, tbl, seq, t, since)"
					    " VALUES(?, ?, ?, ?, ?, ?, ?)", -1, &o->add,
					    NULL) != SQLITE_OK ||
			 sqlite3_prepare_v2(o->db, "INSERT INTO outbox_rows VALUES(?, ?, ?, ?,"
					    " ?, ?, ?, ?)", -1, &o->row_add, NULL) != SQLITE_OK))
		ret = outbox_fail(o, e, "prepare");
	if (ret < 0) {
		outbox_close(o);
		return ret;
	}
	*out = o;
	return 0;
}

void outbox_close(struct outbox *o)
{
	if (!o)
		return;
	sqlite3_finalize(o->add);
	sqlite3_finalize(o->row_add);
	sqlite3_close(o->db);
	free(o);
}

static int outbox_add_row(struct outbox *o, int64_t id, const struct report_row *d,
			  struct err *e)
{
	char addr[ADDR_STRLEN];
	int rc;

	sqlite3_bind_int64(o->row_add, 1, id);
	sqlite3_bind_text(o->row_add, 2, addr_format(&d->a, addr), -1, SQLITE_STATIC);
	sqlite3_bind_text(o->row_add, 3, d->label ? d->label : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(o->row_add, 4, d->cls ? d->cls : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(o->row_add, 5, (sqlite3_int64)d->d.in_bytes);
	sqlite3_bind_int64(o->row_add, 6, (sqlite3_int64)d->d.in_packets);
	sqlite3_bind_int64(o->row_add, 7, (sqlite3_int64)d->d.out_bytes);
	sqlite3_bind_int64(o->row_add, 8, (sqlite3_int64)d->d.out_packets);
	rc = sqlite3_step(o->row_add);
	sqlite3_reset(o->row_add);
	return rc == SQLITE_DONE ? 0 : outbox_fail(o, e, "rows");
}

int outbox_add(struct outbox *o, const struct report *r, struct err *e)
{
	const struct report_origin *g = &r->origin;
	int64_t id;
	int rc, ret = outbox_exec(o, "BEGIN IMMEDIATE", e);

	if (ret < 0)
		return ret;
	sqlite3_bind_text(o->add, 1, g->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(o->add, 2, g->netns, -1, SQLITE_STATIC);
	sqlite3_bind_text(o->add, 3, g->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(o->add, 4, g->table, -1, SQLITE_STATIC);
	sqlite3_bind_int64(o->add, 5, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(o->add, 6, r->time);
	sqlite3_bind_int64(o->add, 7, r->since);
	rc = sqlite3_step(o->add);
	sqlite3_reset(o->add);
	if (rc != SQLITE_DONE)
		ret = outbox_fail(o, e, "reports");
	else if (sqlite3_changes(o->db) == 0)
		ret = 1; /* a replay: kept already */
	id = sqlite3_last_insert_rowid(o->db);
	for (size_t i = 0; i < r->n && ret == 0; i++)
		ret = outbox_add_row(o, id, &r->v[i], e);
	if (ret == 0)
		ret = outbox_exec(o, "COMMIT", e);
	if (ret != 0)
		sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? t : "";
}

int outbox_peek(struct outbox *o, size_t max_rows,
		int (*cb)(const struct outbox_row *r, void *data), void *data,
		struct outbox_mark *m, struct err *e)
{
	/* Rows in the order they were added: a report's rows are added in
	 * one transaction after every earlier report's, so (report, rowid)
	 * is the order of rowids too, and the index on report gives them
	 * without a sort. */
	static const char sql[] =
		"SELECT o.id, host, netns, account, tbl, seq, t, since, addr, label, class,"
		" in_bytes, in_packets, out_bytes, out_packets, r.rowid FROM outbox o"
		" LEFT JOIN outbox_rows r ON r.report = o.id ORDER BY o.id, r.rowid";
	sqlite3_stmt *st;
	int64_t last = 0;
	size_t n = 0;
	int rc, ret = 0;

	m->whole = 0;
	m->row = 0;
	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
		return outbox_fail(o, e, "prepare");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		struct outbox_row r = {
			col(st, 1), col(st, 2), col(st, 3), col(st, 4),
			(uint64_t)sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6),
			sqlite3_column_int64(st, 7), col(st, 8), col(st, 9), col(st, 10),
			{ (uint64_t)sqlite3_column_int64(st, 11),
			  (uint64_t)sqlite3_column_int64(st, 12),
			  (uint64_t)sqlite3_column_int64(st, 13),
			  (uint64_t)sqlite3_column_int64(st, 14) },
		};

		if (sqlite3_column_type(st, 8) == SQLITE_NULL) {
			last = id; /* a report without traffic: nothing to send */
			continue;
		}
		if (n >= max_rows) {
			m->whole = id - 1; /* every report before this row's was handed */
			break;
		}
		n++;
		ret = cb(&r, data);
		if (ret)
			break;
		last = id;
		m->row = sqlite3_column_int64(st, 15);
	}
	if (!ret && rc == SQLITE_DONE)
		m->whole = last;
	if (!ret && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = outbox_fail(o, e, "read");
	sqlite3_finalize(st);
	return ret;
}

int outbox_drop(struct outbox *o, const struct outbox_mark *m, struct err *e)
{
	char sql[256];
	int ret = outbox_exec(o, "BEGIN IMMEDIATE", e);

	sqlite3_snprintf(sizeof(sql), sql, "DELETE FROM outbox_rows WHERE rowid <= %lld;"
			 "DELETE FROM outbox WHERE id <= %lld;", (long long)m->row,
			 (long long)m->whole);
	ret = ret ? ret : outbox_exec(o, sql, e);
	ret = ret ? ret : outbox_exec(o, "COMMIT", e);
	if (ret < 0)
		sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int outbox_size(struct outbox *o, uint64_t *reports, int64_t *oldest, struct err *e)
{
	sqlite3_stmt *st;
	int rc;

	*reports = 0;
	*oldest = 0;
	if (sqlite3_prepare_v2(o->db, "SELECT count(*), coalesce(min(t), 0) FROM outbox", -1,
			       &st, NULL) != SQLITE_OK)
		return outbox_fail(o, e, "prepare");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*reports = (uint64_t)sqlite3_column_int64(st, 0);
		*oldest = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : outbox_fail(o, e, "size");
}
