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
static int pg_batch(struct pg *p, struct outbox *o, struct outbox_mark *m, struct err *e)
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
	ret = outbox_peek(o, PG_BATCH_ROWS, pg_copy_row, &c, m, e);
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
	int64_t oldest;
	struct outbox_mark m = { 0, 0 };
	int ret = outbox_size(o, &n, &oldest, e);

	if (ret < 0 || n == 0)
		return ret;
	ret = pg_connect(p, e);
	ret = ret ? ret : pg_batch(p, o, &m, e);
	if (ret < 0) {
		pg_disconnect(p); /* also rolls the transaction back */
		return ret;
	}
	/* committed: a failure from here on only sends the batch again */
	ret = outbox_drop(o, &m, e);
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

/* ---- reading: report and serve over the central database ---- */

struct pg_read {
	PGconn *conn;
	char tz[128];
};

struct pg_read *pg_read_open(const char *conninfo, const char *tz, struct err *e)
{
	struct pg_read *r = calloc(1, sizeof(*r));

	if (!r) {
		err_setn(e, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(r->tz, sizeof(r->tz), "%s", tz);
	if (!(r->conn = pg_connect_read(conninfo, e))) {
		free(r);
		return NULL;
	}
	return r;
}

void pg_read_close(struct pg_read *r)
{
	if (!r)
		return;
	PQfinish(r->conn);
	free(r);
}

/* sql with n text parameters: its rows, or NULL with e set.  A connection
 * that broke (a server restarted under a long-running serve) is made
 * again once. */
static PGresult *pg_read_exec(struct pg_read *r, const char *sql, int n, const char *const *param,
			      struct err *e)
{
	PGresult *res = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (PQstatus(r->conn) != CONNECTION_OK)
			PQreset(r->conn);
		res = PQexecParams(r->conn, sql, n, NULL, param, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			return res;
		if (PQstatus(r->conn) == CONNECTION_OK)
			break;
		PQclear(res);
		res = NULL;
	}
	{
		struct pg p = { .conn = r->conn };
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		if (state && strcmp(state, "42P01") == 0) { /* undefined_table */
			err_setn(e, -EIO, "postgresql: no nftally schema in this database "
				 "(no nftally has sent to it yet)");
			PQclear(res);
		} else {
			pg_fail(&p, res, "read", e);
		}
	}
	return NULL;
}

int pg_read_query(struct pg_read *r, const struct store_query *q,
		  int (*cb)(const struct store_row *row, void *data), void *data, struct err *e)
{
	/* As store_query: a report belongs to the period of its last second
	 * (time - 1 s), which --since and --until bound too; 5-minute periods
	 * are the samples' slots (the start of the slot of time - 1 s); texts
	 * sort as bytes (COLLATE "C"), as SQLite's do. */
	static const char sql[] =
		"SELECT * FROM (SELECT to_char(CASE WHEN $14::boolean THEN to_timestamp("
		"   floor((extract(epoch FROM time) - 1) / 300) * 300)"
		"  ELSE time - interval '1 second' END AT TIME ZONE $1, $2) AS period,"
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
	const char *param[14] = {
		q->utc ? "UTC" : r->tz,
		q->by == TIER_5MIN ? "YYYY-MM-DD\"T\"HH24:MI" :
		fmt[q->by == TIER_HOUR || q->by == TIER_MONTH ? q->by : TIER_DAY],
		q->merge_hosts ? "t" : "f", q->per_addr ? "t" : "f",
		q->since == INT64_MIN ? NULL : since, q->until == INT64_MAX ? NULL : until,
		q->label, q->addr, q->cls, q->host, q->netns, q->account,
		q->sum_classes ? "t" : "f", q->by == TIER_5MIN ? "t" : "f",
	};
	PGresult *res;
	int ret = 0;

	snprintf(since, sizeof(since), "%lld", (long long)q->since);
	snprintf(until, sizeof(until), "%lld", (long long)q->until);
	if (!(res = pg_read_exec(r, sql, 14, param, e)))
		return -EIO;
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
	return ret;
}

int pg_read_labels(struct pg_read *r, int (*cb)(const char *label, void *data), void *data,
		   struct err *e)
{
	PGresult *res = pg_read_exec(r, "SELECT DISTINCT label COLLATE \"C\" AS l FROM nftally_raw"
				     " ORDER BY l", 0, NULL, e);
	int ret = 0;

	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res) && ret == 0; i++)
		ret = cb(PQgetvalue(res, i, 0), data);
	PQclear(res);
	return ret;
}

int pg_read_first_time(struct pg_read *r, int64_t *t, struct err *e)
{
	/* the start of the oldest row: its report's last second */
	PGresult *res = pg_read_exec(r, "SELECT extract(epoch FROM min(time))::bigint - 1"
				     " FROM nftally_raw", 0, NULL, e);

	if (!res)
		return -EIO;
	*t = PQgetisnull(res, 0, 0) ? INT64_MAX : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* The windows as three parameters: labels one a line (a label holds no
 * control character), starts and ends separated by commas. */
static int pg_windows(const struct store_wquery *q, char **labels, char **since, char **until)
{
	size_t nl = 1, nn = 1;
	char *l, *a, *b;

	for (size_t i = 0; i < q->nw; i++)
		nl += strlen(q->w[i].label) + 1;
	nn += q->nw * 22;
	l = *labels = malloc(nl);
	a = *since = malloc(nn);
	b = *until = malloc(nn);
	if (!l || !a || !b)
		return -ENOMEM;
	*l = *a = *b = '\0';
	for (size_t i = 0; i < q->nw; i++) {
		l += sprintf(l, "%s%s", i ? "\n" : "", q->w[i].label);
		a += sprintf(a, "%s%lld", i ? "," : "", (long long)q->w[i].since);
		b += sprintf(b, "%s%lld", i ? "," : "", (long long)q->w[i].until);
	}
	return 0;
}

/* What the window queries share: the windows (numbered from 1 in their
 * order) joined to the rows whose report's last second is in them. */
#define PG_WINDOWS_SELECT(cols) \
	"WITH w AS (SELECT * FROM unnest(string_to_array($1, E'\\n')," \
	"  string_to_array($2, ',')::bigint[], string_to_array($3, ',')::bigint[])" \
	"  WITH ORDINALITY AS w(label, since, until, i))" \
	" SELECT w.i, " cols " FROM w JOIN nftally_raw r ON r.label = w.label" \
	"  AND r.time > to_timestamp(w.since) AND r.time <= to_timestamp(w.until)" \
	" WHERE ($4::text IS NULL OR r.addr = $4) AND ($5::text IS NULL OR r.class = $5)" \
	"  AND ($6::text IS NULL OR r.host = $6) AND ($7::text IS NULL OR r.netns = $7)" \
	"  AND ($8::text IS NULL OR r.account = $8)"

/* Per window, host, netns, (address) and class ($9: hosts merged, $10:
 * per address, $11: classes summed). */
#define PG_WINDOWS_Q PG_WINDOWS_SELECT( \
	"CASE WHEN $9::boolean THEN '*' ELSE r.host END AS h," \
	" CASE WHEN $9::boolean THEN '*' ELSE r.netns END AS n," \
	" CASE WHEN $10::boolean THEN r.addr END AS a," \
	" CASE WHEN $11::boolean THEN '' ELSE r.class END AS c," \
	" sum(r.in_bytes)::text, sum(r.in_packets)::text, sum(r.out_bytes)::text," \
	" sum(r.out_packets)::text") " GROUP BY 1, 2, 3, 4, 5"
/* Per window, (address) and 5-minute slot: the slot of time - 1 s; over
 * hosts, namespaces and classes ($9 and $11 unused: always so). */
#define PG_WINDOWS_S PG_WINDOWS_SELECT( \
	"CASE WHEN $10::boolean THEN r.addr END AS a," \
	" (floor((extract(epoch FROM r.time) - 1) / 300) * 300)::bigint AS t," \
	" sum(r.in_bytes)::text, sum(r.in_packets)::text, sum(r.out_bytes)::text," \
	" sum(r.out_packets)::text, $9::boolean AND $11::boolean") " GROUP BY 1, 2, 3"

static PGresult *pg_window_exec(struct pg_read *r, const struct store_wquery *q,
				const char *sql, struct err *e)
{
	char *labels = NULL, *since = NULL, *until = NULL;
	const char *param[11] = { NULL, NULL, NULL, q->addr, q->cls, q->host, q->netns,
				  q->account, q->merge_hosts ? "t" : "f",
				  q->per_addr ? "t" : "f", q->sum_classes ? "t" : "f" };
	PGresult *res = NULL;

	if (pg_windows(q, &labels, &since, &until) < 0) {
		err_setn(e, -ENOMEM, "out of memory");
	} else {
		param[0] = labels;
		param[1] = since;
		param[2] = until;
		res = pg_read_exec(r, sql, 11, param, e);
	}
	free(labels);
	free(since);
	free(until);
	return res;
}

/* Row i's window (its first column numbers them from 1). */
static const struct store_window *pg_window_of(const PGresult *res, int i,
					       const struct store_wquery *q)
{
	long k = strtol(PQgetvalue(res, i, 0), NULL, 10) - 1;

	return k >= 0 && (size_t)k < q->nw ? &q->w[k] : NULL;
}

static struct counts pg_counts(const PGresult *res, int i, int col)
{
	return (struct counts){ pg_u64(res, i, col), pg_u64(res, i, col + 1),
				pg_u64(res, i, col + 2), pg_u64(res, i, col + 3) };
}

/* Run a window query (samples: PG_WINDOWS_S, else PG_WINDOWS_Q) and give
 * each row to rows or samples. */
static int pg_window_each(struct pg_read *r, const struct store_wquery *q, bool samples,
			  int (*rows)(const struct store_row *row, void *data),
			  int (*slots)(const struct store_sample *x, void *data), void *data,
			  struct err *e)
{
	static const char sql_q[] = "SELECT * FROM (" PG_WINDOWS_Q ") x"
		" ORDER BY i, h COLLATE \"C\", n COLLATE \"C\", a COLLATE \"C\", c COLLATE \"C\"";
	static const char sql_s[] = "SELECT * FROM (" PG_WINDOWS_S ") x"
		" ORDER BY i, a COLLATE \"C\", t";
	PGresult *res;
	int ret = 0;

	if (!q->nw)
		return 0;
	if (!(res = pg_window_exec(r, q, samples ? sql_s : sql_q, e)))
		return -EIO;
	for (int i = 0; i < PQntuples(res) && ret == 0; i++) {
		const struct store_window *w = pg_window_of(res, i, q);

		if (w && samples)
			ret = slots(&(struct store_sample){
				.label = w->label, .period = w->period,
				.addr = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
				.t = strtoll(PQgetvalue(res, i, 2), NULL, 10),
				.c = pg_counts(res, i, 3) }, data);
		else if (w)
			ret = rows(&(struct store_row){
				.period = w->period, .label = w->label,
				.host = PQgetvalue(res, i, 1), .netns = PQgetvalue(res, i, 2),
				.addr = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
				.cls = PQgetvalue(res, i, 4), .c = pg_counts(res, i, 5) }, data);
	}
	PQclear(res);
	return ret;
}

int pg_read_window_query(struct pg_read *r, const struct store_wquery *q,
			 int (*cb)(const struct store_row *row, void *data), void *data,
			 struct err *e)
{
	return pg_window_each(r, q, false, cb, NULL, data, e);
}

int pg_read_window_samples(struct pg_read *r, const struct store_wquery *q,
			   int (*cb)(const struct store_sample *x, void *data), void *data,
			   struct err *e)
{
	return pg_window_each(r, q, true, NULL, cb, data, e);
}

/* `nftally pg-schema`: the schema made or brought up to date by its own
 * connection (no statement bound: the owner's one-off, not the loop's). */
int pg_setup(const char *conninfo, int *version, struct err *e)
{
	const char *kw[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *val[] = { "10", "nftally-pg-schema", conninfo, NULL };
	struct pg p = { .conn = PQconnectdbParams(kw, val, 1) };
	int before = -1, ret;

	*version = 0;
	if (!p.conn || PQstatus(p.conn) != CONNECTION_OK)
		ret = pg_fail(&p, NULL, "connect", e);
	else
		ret = pg_exec(&p, "SET client_min_messages = warning", "connect", e);
	if (ret == 0)
		before = pg_schema_version(&p, e);
	ret = ret ? ret : before < 0 ? -EIO : pg_schema(&p, e);
	if (ret == 0)
		*version = pg_schema_version(&p, e);
	if (ret == 0 && *version < 0)
		ret = -EIO;
	PQfinish(p.conn);
	return ret < 0 ? ret : before != *version;
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

struct pg_read *pg_read_open(const char *conninfo, const char *tz, struct err *e)
{
	err_setn(e, -ENOTSUP, "--postgresql: nftally was built without libpq");
	return NULL;
}

void pg_read_close(struct pg_read *r)
{
}

int pg_read_query(struct pg_read *r, const struct store_query *q,
		  int (*cb)(const struct store_row *row, void *data), void *data, struct err *e)
{
	return -ENOTSUP;
}

int pg_read_labels(struct pg_read *r, int (*cb)(const char *label, void *data), void *data,
		   struct err *e)
{
	return -ENOTSUP;
}

int pg_read_first_time(struct pg_read *r, int64_t *t, struct err *e)
{
	return -ENOTSUP;
}

int pg_read_window_query(struct pg_read *r, const struct store_wquery *q,
			 int (*cb)(const struct store_row *row, void *data), void *data,
			 struct err *e)
{
	return -ENOTSUP;
}

int pg_read_window_samples(struct pg_read *r, const struct store_wquery *q,
			   int (*cb)(const struct store_sample *x, void *data), void *data,
			   struct err *e)
{
	return -ENOTSUP;
}

int pg_setup(const char *conninfo, int *version, struct err *e)
{
	*version = 0;
	return err_setn(e, -ENOTSUP, "pg-schema: nftally was built without libpq");
}

#endif
