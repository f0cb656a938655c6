// SPDX-License-Identifier: GPL-2.0-or-later
/* The PostgreSQL sink's cost for one report of N addresses that all had
 * traffic, against a bare COPY of the same rows into the same table in
 * the same run: per round, the report goes into an outbox and pg_send
 * sends it (temporary table, COPY, ON CONFLICT insert, one transaction
 * per PG_BATCH_ROWS rows);
 * then the rows the server got are copied out, nftally_raw emptied, and
 * the same text is COPYed straight into nftally_raw.  Prints key=value
 * lines for bench/pg.sh.
 *   usage: pg-bench N ROUNDS CONNINFO OUTBOXFILE */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "outbox.h"
#include "pg.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "pg-bench: %s: %s\n", what, msg);
	exit(1);
}

static void run_sql(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(sql, PQerrorMessage(c));
	PQclear(res);
}

/* nftally_raw as COPY text, in memory. */
static char *copy_out(PGconn *c, size_t *len)
{
	PGresult *res = PQexec(c, "COPY (SELECT * FROM nftally_raw) TO STDOUT");
	size_t cap = 1 << 20;
	char *buf = malloc(cap), *line;
	int n;

	if (PQresultStatus(res) != PGRES_COPY_OUT || !buf)
		die("copy out", PQerrorMessage(c));
	PQclear(res);
	*len = 0;
	while ((n = PQgetCopyData(c, &line, 0)) > 0) {
		if (*len + (size_t)n > cap) {
			cap = 2 * (*len + (size_t)n);
			buf = realloc(buf, cap);
			if (!buf)
				die("copy out", "out of memory");
		}
		memcpy(buf + *len, line, (size_t)n);
		*len += (size_t)n;
		PQfreemem(line);
	}
	while ((res = PQgetResult(c)))
		PQclear(res);
	return buf;
}

/* The bare COPY: the same text into nftally_raw, one transaction. */
static double copy_in(PGconn *c, const char *buf, size_t len)
{
	double t0 = now_ms();
	PGresult *res;

	run_sql(c, "BEGIN");
	res = PQexec(c, "COPY nftally_raw FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		die("copy in", PQerrorMessage(c));
	PQclear(res);
	/* in pieces of about 8 kB, as a client streaming rows would */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 8192 ? len - off : 8192;

		if (PQputCopyData(c, buf + off, (int)n) != 1)
			die("copy in", PQerrorMessage(c));
		off += n;
	}
	if (PQputCopyEnd(c, NULL) != 1)
		die("copy in", PQerrorMessage(c));
	while ((res = PQgetResult(c))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("copy in", PQerrorMessage(c));
		PQclear(res);
	}
	run_sql(c, "COMMIT");
	return now_ms() - t0;
}

static size_t count_raw(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT count(*) FROM nftally_raw");
	size_t n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("count", PQerrorMessage(c));
	n = strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int main(int argc, char **argv)
{
	struct report r = { 0 };
	struct outbox *o;
	struct pg *p;
	struct err e;
	PGconn *c;
	size_t n, rounds;
	double *send_ms, *copy_ms, *add_ms;
	char (*labels)[24];
	int64_t base = time(NULL) / 60 * 60;
	int sent;

	if (argc != 5) {
		fprintf(stderr, "usage: pg-bench N ROUNDS CONNINFO OUTBOXFILE\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	rounds = strtoul(argv[2], NULL, 10);
	if (n == 0 || rounds == 0) {
		fprintf(stderr, "pg-bench: N and ROUNDS must be at least 1\n");
		return 2;
	}
	unlink(argv[4]);
	send_ms = calloc(rounds, sizeof(double));
	copy_ms = calloc(rounds, sizeof(double));
	add_ms = calloc(rounds, sizeof(double));
	r.v = calloc(n, sizeof(*r.v));
	labels = calloc(n, sizeof(*labels));
	p = pg_create(argv[3]);
	c = PQconnectdb(argv[3]);
	if (!send_ms || !copy_ms || !add_ms || !r.v || !labels || !p)
		die("setup", "out of memory");
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", PQerrorMessage(c));
	if (outbox_open(&o, argv[4], &e) < 0)
		die("outbox", e.msg);
	report_origin_init(&r.origin, "bench", "", "", "nftally");
	for (size_t i = 0; i < n; i++) {
		struct addr *ad = &r.v[i].a;

		ad->family = AF_INET;
		ad->plen = 32;
		ad->bytes[0] = 10;
		ad->bytes[1] = (uint8_t)(i >> 16);
		ad->bytes[2] = (uint8_t)(i >> 8);
		ad->bytes[3] = (uint8_t)i;
		snprintf(labels[i], sizeof(labels[i]), "vm-%zu", i);
		r.v[i].label = labels[i];
	}
	/* round 0 warms up: the connection and the schema (one row) */
	for (size_t k = 0; k <= rounds; k++) {
		double t0;

		r.n = k ? n : 1;
		r.seq = k + 1;
		r.time = base + (int64_t)k * 60;
		r.since = r.time - 60;
		for (size_t i = 0; i < r.n; i++) {
			uint64_t pk = 1 + (i + k) % 7;

			r.v[i].d = (struct counts){ pk * 1000, pk, pk * 500, pk };
		}
		t0 = now_ms();
		if (outbox_add(o, &r, &e) < 0)
			die("outbox_add", e.msg);
		if (k)
			add_ms[k - 1] = now_ms() - t0;
		if (k)
			run_sql(c, "TRUNCATE nftally_raw");
		t0 = now_ms();
		/* batches of PG_BATCH_ROWS rows until the outbox is empty */
		while ((sent = pg_send(p, o, &e)) > 0)
			;
		if (sent < 0)
			die("pg_send", e.msg);
		if (!k)
			continue;
		send_ms[k - 1] = now_ms() - t0;
		if (count_raw(c) != n)
			die("pg_send", "not every row arrived");

		size_t len;
		char *buf = copy_out(c, &len);

		run_sql(c, "TRUNCATE nftally_raw");
		copy_ms[k - 1] = copy_in(c, buf, len);
		free(buf);
		if (count_raw(c) != n)
			die("copy", "not every row arrived");
	}
	qsort(send_ms, rounds, sizeof(double), cmp_double);
	qsort(copy_ms, rounds, sizeof(double), cmp_double);
	qsort(add_ms, rounds, sizeof(double), cmp_double);
	printf("pg_rows=%zu\npg_rounds=%zu\n", n, rounds);
	printf("pg_outbox_add_ms_median=%.1f\n", add_ms[rounds / 2]);
	printf("pg_send_ms_median=%.1f\npg_send_ms_max=%.1f\n", send_ms[rounds / 2],
	       send_ms[rounds - 1]);
	printf("pg_copy_ms_median=%.1f\npg_copy_ms_max=%.1f\n", copy_ms[rounds / 2],
	       copy_ms[rounds - 1]);
	printf("pg_send_rows_per_s=%.0f\npg_copy_rows_per_s=%.0f\n",
	       (double)n * 1e3 / send_ms[rounds / 2], (double)n * 1e3 / copy_ms[rounds / 2]);
	printf("pg_send_over_copy=%.2f\n", send_ms[rounds / 2] / copy_ms[rounds / 2]);
	outbox_close(o);
	pg_destroy(p);
	PQfinish(c);
	return 0;
}
