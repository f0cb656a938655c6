// SPDX-License-Identifier: GPL-2.0-or-later
/* The PostgreSQL sink through libpq.  A batch is one transaction: the
 * outbox's rows are copied into a temporary table, the month partitions
 * they need are made, and they are inserted with ON CONFLICT DO NOTHING
 * on the rows' key (origin, seq, time, address, class), so a batch the
 * server committed but nftally did not hear of is harmless when sent
 * again. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "pg.h"

#if HAVE_LIBPQ
#include <libpq-fe.h>

/* The advisory lock of the schema's changes: "nftally" in ASCII. */
#define PG_LOCK "110116116097108"
#define PG_SCHEMA 1

struct pg {
	char *conninfo;
	PGconn *conn;
};

/* Version 1 of the schema, made in one transaction under the lock. */
/* nftally_raw's columns, also those of the batch's temporary table
 * (not LIKE nftally_raw: that would need SELECT on it, which the nodes'
 * role does not have). */
#define PG_RAW_COLUMNS \
	"  host text NOT NULL, netns text NOT NULL, account text NOT NULL," \
	"  tbl text NOT NULL, label text NOT NULL, addr text NOT NULL," \
	"  class text NOT NULL, since timestamptz, time timestamptz NOT NULL," \
	"  seq bigint NOT NULL, in_bytes bigint NOT NULL, in_packets bigint NOT NULL," \
	"  out_bytes bigint NOT NULL, out_packets bigint NOT NULL"

static const char pg_schema_v1[] =
	"CREATE TABLE nftally_raw(" PG_RAW_COLUMNS ","
	"  PRIMARY KEY (host, netns, account, seq, time, addr, class))"
	"  PARTITION BY RANGE (time);"
	/* Nodes need not create tables: this one does, as its owner.  The
	 * lock is taken only when the partition is missing, so the fleet's
	 * batches do not queue on it.  A host that waited for the lock while
	 * another made the partition may still not see it (an advisory lock
	 * does not refresh the catalog cache to_regclass reads): its CREATE
	 * then finds the table there, which is what it wanted. */
	"CREATE FUNCTION nftally_partition(m timestamp) RETURNS void"
	"  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $f$"
	" DECLARE n text := 'nftally_raw_' || to_char(m, 'YYYYMM');"
	" BEGIN"
	"  IF to_regclass(n) IS NOT NULL THEN RETURN; END IF;"
	"  PERFORM pg_advisory_xact_lock(" PG_LOCK ");"
	"  IF to_regclass(n) IS NULL THEN"
	"   EXECUTE format('CREATE TABLE %I PARTITION OF nftally_raw FOR VALUES"
	"    FROM (%L) TO (%L)', n, m AT TIME ZONE 'UTC',"
	"    (m + interval '1 month') AT TIME ZONE 'UTC');"
	"  END IF;"
	" EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;"
	" END $f$;"
	"CREATE VIEW nftally_usage AS SELECT host, netns, label, addr, class,"
	"  since AS period_start, time AS period_end,"
	"  sum(in_bytes)::bigint AS in_bytes, sum(in_packets)::bigint AS in_packets,"
	"  sum(out_bytes)::bigint AS out_bytes, sum(out_packets)::bigint AS out_packets"
	"  FROM nftally_raw GROUP BY host, netns, label, addr, class, since, time;"
	"INSERT INTO nftally_schema VALUES (1);";

struct pg *pg_create(const char *conninfo)
{
	struct pg *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->conninfo = strdup(conninfo);
	if (!p->conninfo) {
		free(p);
		return NULL;
	}
	return p;
}

static void pg_disconnect(struct pg *p)
{
	PQfinish(p->conn);
	p->conn = NULL;
}

void pg_destroy(struct pg *p)
{
	if (!p)
		return;
	pg_disconnect(p);
	free(p->conninfo);
	free(p);
}

/* The server's message, one line, for e. */
static int pg_fail(struct pg *p, PGresult *res, const char *what, struct err *e)
{
	const char *m = res ? PQresultErrorMessage(res) : "";
	char msg[256];
	size_t n;

	if (!m[0])
		m = p->conn ? PQerrorMessage(p->conn) : "out of memory";
	snprintf(msg, sizeof(msg), "%s", m);
	n = strcspn(msg, "\n");
	msg[n] = '\0';
	err_setn(e, -EIO, "postgresql: %s: %s", what, msg);
	PQclear(res);
	return -EIO;
}

/* Run sql (no rows expected back unless want_rows). */
static int pg_exec(struct pg *p, const char *sql, const char *what, struct err *e)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pg_fail(p, res, what, e);
	PQclear(res);
	return 0;
}

/* The one value of sql as an int (NULL: 0), or -1 on failure. */
static int pg_int(struct pg *p, const char *sql, struct err *e)
{
	PGresult *res = PQexec(p->conn, sql);
	int v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return pg_fail(p, res, "schema", e), -1;
	v = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* The schema's version: 0 when there is none yet, -1 on failure.  (A
 * query naming a table that is not there fails as a whole: asked in two.) */
static int pg_schema_version(struct pg *p, struct err *e)
{
	int v = pg_int(p, "SELECT (to_regclass('nftally_schema') IS NOT NULL)::int", e);

	return v <= 0 ? v : pg_int(p, "SELECT max(version) FROM nftally_schema", e);
}

/* Make the schema unless it is there: under the advisory lock, so that
 * hosts starting together make it once. */
static int pg_schema(struct pg *p, struct err *e)
{
	int v = pg_schema_version(p, e), ret;

	if (v < 0)
		return -EIO;
	if (v == PG_SCHEMA)
		return 0;
	if (v > PG_SCHEMA)
		return err_setn(e, -EINVAL, "postgresql: schema %d is newer than this "
				"nftally's (%d)", v, PG_SCHEMA);
	ret = pg_exec(p, "BEGIN; SELECT pg_advisory_xact_lock(" PG_LOCK ");"
		      "CREATE TABLE IF NOT EXISTS nftally_schema(version integer NOT NULL)",
		      "schema", e);
	v = ret ? -1 : pg_schema_version(p, e);
	if (v == 0)
		ret = pg_exec(p, pg_schema_v1, "schema", e);
	else if (v != PG_SCHEMA)
		ret = -EIO;
	ret = ret ? ret : pg_exec(p, "COMMIT", "schema", e);
	return ret;
}

/* Does this libpq know keyword kw?  (tcp_user_timeout came in 12; an
 * unknown keyword fails the connection.) */
static bool pg_knows(const char *kw)
{
	PQconninfoOption *o = PQconndefaults();
	bool found = false;

	for (PQconninfoOption *i = o; i && i->keyword; i++)
		found |= strcmp(i->keyword, kw) == 0;
	PQconninfoFree(o);
	return found;
}

static int pg_connect(struct pg *p, struct err *e)
{
	/* Later keywords win: the user's conninfo may set its own.  Over TCP,
	 * a path that goes silent is noticed in seconds (keepalives while
	 * waiting for an answer, tcp_user_timeout while sending), not after
	 * the kernel's minutes; 2 s like the connect and statement bounds, so
	 * a cut path holds the loop no longer than a server that is down. */
	const char *kw[] = { "connect_timeout", "application_name", "keepalives_idle",
			     "keepalives_interval", "keepalives_count", "dbname", NULL, NULL };
	const char *val[] = { "2", "nftally", "2", "1", "2", p->conninfo, NULL, NULL };
	int ret;

	if (pg_knows("tcp_user_timeout")) { /* before dbname: the user's wins */
		kw[6] = kw[5], val[6] = val[5];
		kw[5] = "tcp_user_timeout", val[5] = "2000";
	}

	if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	pg_disconnect(p);
	p->conn = PQconnectdbParams(kw, val, 1);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK)
		ret = pg_fail(p, NULL, "connect", e); /* libpq's message names no password */
	else
		/* no NOTICE on stderr for each batch ("nftally_in already exists") */
		ret = pg_exec(p, "SET statement_timeout = 2000; SET TimeZone = 'UTC';"
			      " SET client_min_messages = warning",
			      "connect", e);
	ret = ret ? ret : pg_schema(p, e);
	if (ret < 0)
		pg_disconnect(p);
	return ret;
}

/* Append s to b as a field of COPY's text format. */
static void pg_copy_text(char **b, char *end, const char *s)
{
	for (; *s && *b < end - 2; s++) {
		char c = *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' :
			 *s == '\\' ? '\\' : 0;

		if (c) {
			*(*b)++ = '\\';
			*(*b)++ = c;
		} else {
			*(*b)++ = *s;
		}
	}
}

static void pg_copy_time(char **b, char *end, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	*b += strftime(*b, (size_t)(end - *b), "%Y-%m-%d %H:%M:%S+00", &tm);
}

struct pg_copy {
	struct pg *p;
	size_t rows;
};

/* One row into the COPY: the columns of nftally_raw, in order. */
static int pg_copy_row(const struct outbox_row *r, void *data)
{
	struct pg_copy *c = data;
	const char *text[] = { r->host, r->netns, r->account, r->table, r->label, r->addr,
			       r->cls };
	char line[4096], *b = line, *end = line + sizeof(line) - 128;

	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		pg_copy_text(&b, end, text[i]);
		*b++ = '\t';
	}
	if (r->since)
		pg_copy_time(&b, end, r->since);
	else
		b += sprintf(b, "\\N");
	*b++ = '\t';
	pg_copy_time(&b, end, r->time);
	b += sprintf(b, "\t%llu\t%llu\t%llu\t%llu\t%llu\n", (unsigned long long)r->seq,
		     (unsigned long long)r->c.in_bytes, (unsigned long long)r->c.in_packets,
		     (unsigned long long)r->c.out_bytes, (unsigned long long)r->c.out_packets);
	c->rows++;
	return PQputCopyData(c->p->conn, line, (int)(b - line)) == 1 ? 0 : -EIO;
}

/* The batch's transaction up to its COMMIT. */
static int pg_batch(struct pg *p, struct outbox *o, int64_t *last, struct err *e)
{
	struct pg_copy c = { p, 0 };
	PGresult *res;
	int ret = pg_exec(p, "BEGIN; CREATE TEMP TABLE IF NOT EXISTS nftally_in("
			  PG_RAW_COLUMNS ") ON COMMIT DELETE ROWS", "begin", e);

	if (ret < 0)
		return ret;
	res = PQexec(p->conn, "COPY nftally_in FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		return pg_fail(p, res, "copy", e);
	PQclear(res);
	ret = outbox_peek(o, PG_BATCH_ROWS, pg_copy_row, &c, last, e);
	if (PQputCopyEnd(p->conn, ret ? "outbox" : NULL) != 1)
		return pg_fail(p, NULL, "copy", e);
	res = PQgetResult(p->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return ret ? ret : pg_fail(p, res, "copy", e);
	PQclear(res);
	while ((res = PQgetResult(p->conn)))
		PQclear(res);
	if (ret)
		return ret;
	ret = pg_exec(p, "SELECT nftally_partition(m) FROM (SELECT DISTINCT"
		      " date_trunc('month', time AT TIME ZONE 'UTC') AS m FROM nftally_in) x",
		      "partition", e);
	ret = ret ? ret : pg_exec(p, "INSERT INTO nftally_raw SELECT * FROM nftally_in"
				  " ON CONFLICT DO NOTHING", "insert", e);
	return ret ? ret : pg_exec(p, "COMMIT", "commit", e);
}

int pg_send(struct pg *p, struct outbox *o, struct err *e)
{
	uint64_t n;
	int64_t oldest, last = 0;
	int ret = outbox_size(o, &n, &oldest, e);

	if (ret < 0 || n == 0)
		return ret;
	ret = pg_connect(p, e);
	ret = ret ? ret : pg_batch(p, o, &last, e);
	if (ret < 0) {
		pg_disconnect(p); /* also rolls the transaction back */
		return ret;
	}
	/* committed: a failure from here on only sends the batch again */
	ret = outbox_drop(o, last, e);
	return ret < 0 ? ret : 1;
}

/* Read only: no schema made, no statement bound (a year of a fleet may
 * take a while); the conninfo's own keywords win. */
static PGconn *pg_connect_read(const char *conninfo, struct err *e)
{
	const char *kw[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *val[] = { "10", "nftally-report", conninfo, NULL };
	PGconn *c = PQconnectdbParams(kw, val, 1);
	struct pg p = { .conn = c };

	if (!c || PQstatus(c) != CONNECTION_OK) {
		pg_fail(&p, NULL, "connect", e);
		PQfinish(c);
		return NULL;
	}
	return c;
}

static uint64_t pg_u64(const PGresult *res, int row, int col)
{
	return strtoull(PQgetvalue(res, row, col), NULL, 10);
}

int pg_report(const char *conninfo, const struct store_query *q, const char *tz,
	      int (*cb)(const struct store_row *row, void *data), void *data, struct err *e)
{
	/* As store_query: a report belongs to the period of its last second
	 * (time - 1 s), which --since and --until bound too; texts sort as
	 * bytes (COLLATE "C"), as SQLite's do. */
	static const char sql[] =
		"SELECT * FROM (SELECT to_char((time - interval '1 second') AT TIME ZONE $1, $2)"
		"  AS period,"
		"  CASE WHEN $3::boolean THEN '*' ELSE host END AS h,"
		"  CASE WHEN $3::boolean THEN '*' ELSE netns END AS n, label,"
		"  CASE WHEN $4::boolean THEN addr END AS a,"
		"  CASE WHEN $13::boolean THEN '' ELSE class END AS c,"
		"  sum(in_bytes)::text, sum(in_packets)::text, sum(out_bytes)::text,"
		"  sum(out_packets)::text"
		" FROM nftally_raw"
		" WHERE ($5::bigint IS NULL OR time - interval '1 second' >= to_timestamp($5::bigint))"
		"  AND ($6::bigint IS NULL OR time - interval '1 second' < to_timestamp($6::bigint))"
		"  AND ($7::text IS NULL OR label = $7) AND ($8::text IS NULL OR addr = $8)"
		"  AND ($9::text IS NULL OR class = $9) AND ($10::text IS NULL OR host = $10)"
		"  AND ($11::text IS NULL OR netns = $11) AND ($12::text IS NULL OR account = $12)"
		" GROUP BY 1, 2, 3, 4, 5, 6) r"
		" ORDER BY period COLLATE \"C\", h COLLATE \"C\", n COLLATE \"C\","
		"  label COLLATE \"C\", a COLLATE \"C\", c COLLATE \"C\"";
	static const char *const fmt[] = { [TIER_HOUR] = "YYYY-MM-DD\"T\"HH24:00",
					   [TIER_DAY] = "YYYY-MM-DD", [TIER_MONTH] = "YYYY-MM" };
	char since[24], until[24];
	const char *param[13] = {
		tz, fmt[q->by == TIER_HOUR || q->by == TIER_MONTH ? q->by : TIER_DAY],
		q->merge_hosts ? "t" : "f", q->per_addr ? "t" : "f",
		q->since == INT64_MIN ? NULL : since, q->until == INT64_MAX ? NULL : until,
		q->label, q->addr, q->cls, q->host, q->netns, q->account,
		q->sum_classes ? "t" : "f",
	};
	PGconn *c = pg_connect_read(conninfo, e);
	PGresult *res;
	int ret = 0;

	if (!c)
		return -EIO;
	snprintf(since, sizeof(since), "%lld", (long long)q->since);
	snprintf(until, sizeof(until), "%lld", (long long)q->until);
	res = PQexecParams(c, sql, 13, NULL, param, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		struct pg p = { .conn = c };
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state && strcmp(state, "42P01") == 0) { /* undefined_table */
			err_setn(e, -EIO, "postgresql: no nftally schema in this database "
				 "(no nftally has sent to it yet)");
			PQclear(res);
		} else {
			pg_fail(&p, res, "report", e);
		}
		PQfinish(c);
		return -EIO;
	}
	for (int i = 0; i < PQntuples(res) && ret == 0; i++) {
		struct store_row row = {
			.period = PQgetvalue(res, i, 0),
			.host = PQgetvalue(res, i, 1),
			.netns = PQgetvalue(res, i, 2),
			.label = PQgetvalue(res, i, 3),
			.addr = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
			.cls = PQgetvalue(res, i, 5),
			.c = { pg_u64(res, i, 6), pg_u64(res, i, 7), pg_u64(res, i, 8),
			       pg_u64(res, i, 9) },
		};

		ret = cb(&row, data);
	}
	PQclear(res);
	PQfinish(c);
	return ret;
}

#else

struct pg *pg_create(const char *conninfo)
{
	errno = ENOTSUP;
	return NULL;
}

void pg_destroy(struct pg *p)
{
}

int pg_send(struct pg *p, struct outbox *o, struct err *e)
{
	return err_setn(e, -ENOTSUP, "postgresql: built without libpq");
}

int pg_report(const char *conninfo, const struct store_query *q, const char *tz,
	      int (*cb)(const struct store_row *row, void *data), void *data, struct err *e)
{
	return err_setn(e, -ENOTSUP, "--postgresql: nftally was built without libpq");
}

#endif
