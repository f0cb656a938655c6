// SPDX-License-Identifier: GPL-2.0-or-later
/* A simulated fleet into one PostgreSQL: HOSTS hosts, each with its own
 * outbox file and its own connection (its own struct pg), report ADDRS
 * addresses that all had traffic every simulated minute, and send them
 * through the real sink (outbox_add, then pg_send until nothing waits).
 * PROCS processes share the hosts and send at once.  Each minute is
 * timed from the moment every host has its report in its outbox (as at a
 * minute's boundary, when the whole fleet reports together) until the
 * last host's batch is committed; then the same rows are COPYed bare, in
 * one transaction, into a twin of nftally_raw (same columns, key and
 * partitioning, the same size), so the ratio of the two is measured in
 * the same run on the same server.  Minute 0 (connections, schema,
 * partition) is not timed.  The database must have no nftally schema yet
 * (nftally_raw is emptied after the setup); $FLEET_BENCH_SQL, if set, is
 * run after the setup (to distribute the tables on Citus, say).  Prints
 * key=value lines for bench/fleet.sh.
 *   usage: fleet-bench HOSTS ADDRS MINUTES PROCS CONNINFO DIR */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "outbox.h"
#include "pg.h"

struct fleet {
	size_t hosts, addrs, minutes, procs;
	const char *conninfo, *dir;
	int64_t base; /* minute 0's report time */
};

/* What a worker answers for each phase. */
struct answer {
	int ok;
	double ms;     /* the phase's wall time in this worker */
	double cpu_ms; /* its CPU time (user + system) in the phase */
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "fleet-bench: %s: %s\n", what, msg);
	exit(1);
}

static void run_sql(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(sql, PQerrorMessage(c));
	PQclear(res);
}

static uint64_t sql_u64(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	uint64_t v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		die(sql, PQerrorMessage(c));
	v = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* The packets of address i of host h in minute m (bytes: 1000 each in,
 * 500 out), so the totals are known in advance. */
static uint64_t packets(size_t h, size_t i, size_t m)
{
	return 1 + (h + i + m) % 7;
}

/* Host h's report of minute m, into r (r->v has f->addrs rows). */
static void fill(const struct fleet *f, struct report *r, size_t h, size_t m)
{
	r->seq = m + 1;
	r->time = f->base + (int64_t)m * 60;
	r->since = r->time - 60;
	r->n = f->addrs;
	for (size_t i = 0; i < f->addrs; i++) {
		uint64_t pk = packets(h, i, m);
		struct addr *a = &r->v[i].a;

		a->family = AF_INET;
		a->plen = 32;
		a->bytes[0] = 10;
		a->bytes[1] = (uint8_t)h;
		a->bytes[2] = (uint8_t)(i >> 8);
		a->bytes[3] = (uint8_t)i;
		r->v[i].d = (struct counts){ pk * 1000, pk, pk * 500, pk };
	}
}

/* Worker w: hosts w, w + procs, ...  For each command byte from the
 * parent ('a': add this minute's reports to the outboxes, 's': send
 * them), one struct answer back; EOF ends it. */
static int worker(const struct fleet *f, size_t w, int cmd, int ans)
{
	size_t mine = (f->hosts - w + f->procs - 1) / f->procs, m = 0;
	struct outbox **o = calloc(mine, sizeof(*o));
	struct pg **p = calloc(mine, sizeof(*p));
	char (*names)[16] = calloc(mine, sizeof(*names));
	char (*labels)[24] = calloc(f->addrs, sizeof(*labels));
	struct report r = { .v = calloc(f->addrs, sizeof(*r.v)) };
	struct err e;
	char c, path[4096];

	if (!o || !p || !names || !labels || !r.v)
		die("worker", "out of memory");
	for (size_t i = 0; i < f->addrs; i++) {
		snprintf(labels[i], sizeof(labels[i]), "vm-%zu", i);
		r.v[i].label = labels[i];
	}
	for (size_t k = 0; k < mine; k++) {
		snprintf(names[k], sizeof(names[k]), "node%03zu", w + k * f->procs);
		snprintf(path, sizeof(path), "%s/outbox-%s.db", f->dir, names[k]);
		unlink(path);
		if (outbox_open(&o[k], path, &e) < 0)
			die("outbox", e.msg);
		p[k] = pg_create(f->conninfo);
		if (!p[k])
			die("pg_create", strerror(errno));
	}
	while (read(cmd, &c, 1) == 1) {
		struct answer a = { 1, now_ms(), cpu_ms() };

		for (size_t k = 0; k < mine && a.ok; k++) {
			size_t h = w + k * f->procs;
			int ret;

			if (c == 'a') {
				report_origin_init(&r.origin, names[k], "", "", "nftally");
				fill(f, &r, h, m);
				if (outbox_add(o[k], &r, &e) < 0)
					die("outbox_add", e.msg);
				continue;
			}
			while ((ret = pg_send(p[k], o[k], &e)) > 0)
				;
			if (ret < 0) {
				fprintf(stderr, "fleet-bench: %s: %s\n", names[k], e.msg);
				a.ok = 0;
			}
		}
		if (c == 's')
			m++;
		a.ms = now_ms() - a.ms;
		a.cpu_ms = cpu_ms() - a.cpu_ms;
		if (write(ans, &a, sizeof(a)) != (ssize_t)sizeof(a))
			die("worker", "cannot answer");
	}
	for (size_t k = 0; k < mine; k++) {
		outbox_close(o[k]);
		pg_destroy(p[k]);
	}
	return 0;
}

/* One phase in every worker at once: the wall time until the last is done
 * (ms), and the sum of their CPU times in *cpu. */
static double phase(const struct fleet *f, const int *cmd, const int *ans, char c,
		    double *cpu)
{
	double t0 = now_ms();

	*cpu = 0;
	for (size_t w = 0; w < f->procs; w++)
		if (write(cmd[w], &c, 1) != 1)
			die("phase", "a worker is gone");
	for (size_t w = 0; w < f->procs; w++) {
		struct answer a;

		if (read(ans[w], &a, sizeof(a)) != (ssize_t)sizeof(a) || !a.ok)
			die("phase", "a worker failed");
		*cpu += a.cpu_ms;
	}
	return now_ms() - t0;
}

/* Minute m's rows of nftally_raw, COPYed bare into nftally_bare in one
 * transaction on one connection: the time of the COPY and commit (ms). */
static double bare_copy(PGconn *c, int64_t t)
{
	char sql[256];
	PGresult *res;
	char *line, *buf = NULL;
	size_t len = 0, cap = 0;
	double t0;
	int n;

	snprintf(sql, sizeof(sql), "COPY (SELECT * FROM nftally_raw WHERE time ="
		 " to_timestamp(%lld)) TO STDOUT", (long long)t);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		die("copy out", PQerrorMessage(c));
	PQclear(res);
	while ((n = PQgetCopyData(c, &line, 0)) > 0) {
		if (len + (size_t)n > cap) {
			cap = 2 * (len + (size_t)n);
			buf = realloc(buf, cap);
			if (!buf)
				die("copy out", "out of memory");
		}
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
		PQfreemem(line);
	}
	while ((res = PQgetResult(c)))
		PQclear(res);
	t0 = now_ms();
	run_sql(c, "BEGIN");
	res = PQexec(c, "COPY nftally_bare FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		die("copy in", PQerrorMessage(c));
	PQclear(res);
	for (size_t off = 0; off < len;) { /* in pieces of 8 kB, as a client streams */
		size_t k = len - off < 8192 ? len - off : 8192;

		if (PQputCopyData(c, buf + off, (int)k) != 1)
			die("copy in", PQerrorMessage(c));
		off += k;
	}
	if (PQputCopyEnd(c, NULL) != 1)
		die("copy in", PQerrorMessage(c));
	while ((res = PQgetResult(c))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("copy in", PQerrorMessage(c));
		PQclear(res);
	}
	run_sql(c, "COMMIT");
	free(buf);
	return now_ms() - t0;
}

/* The schema, made by one sink before the fleet starts (as the owner's
 * setup would), and the bare COPY's twin of nftally_raw. */
static void setup(const struct fleet *f, PGconn *c)
{
	struct report r = { 0 };
	struct report_row one = { 0 };
	char path[4096];
	struct outbox *o;
	struct err e;
	struct pg *p = pg_create(f->conninfo);

	/* it empties nftally_raw: never on a database in use */
	if (sql_u64(c, "SELECT (to_regclass('nftally_raw') IS NOT NULL)::int"))
		die("setup", "the database has nftally_raw already: give an empty one");
	snprintf(path, sizeof(path), "%s/outbox-setup.db", f->dir);
	unlink(path);
	if (!p || outbox_open(&o, path, &e) < 0)
		die("setup", p ? e.msg : "out of memory");
	report_origin_init(&r.origin, "setup", "", "", "nftally");
	r.v = &one;
	r.n = 1;
	r.seq = 1;
	r.time = f->base;
	one.a.family = AF_INET;
	one.a.plen = 32;
	one.label = "";
	if (outbox_add(o, &r, &e) < 0 || pg_send(p, o, &e) != 1)
		die("setup", e.msg);
	outbox_close(o);
	pg_destroy(p);
	run_sql(c, "DELETE FROM nftally_raw;"
		"CREATE TABLE nftally_bare (LIKE nftally_raw INCLUDING ALL)"
		"  PARTITION BY RANGE (time);"
		"CREATE TABLE nftally_bare_all PARTITION OF nftally_bare"
		"  FOR VALUES FROM (MINVALUE) TO (MAXVALUE)");
}

static void check(const struct fleet *f, PGconn *c)
{
	uint64_t rows = (uint64_t)f->hosts * f->addrs * (f->minutes + 1), pk = 0;
	for (size_t h = 0; h < f->hosts; h++)
		for (size_t i = 0; i < f->addrs; i++)
			for (size_t m = 0; m <= f->minutes; m++)
				pk += packets(h, i, m);
	if (sql_u64(c, "SELECT count(*) FROM nftally_raw") != rows)
		die("check", "nftally_raw does not have every row once");
	if (sql_u64(c, "SELECT sum(in_packets) FROM nftally_usage") != pk ||
	    sql_u64(c, "SELECT sum(out_bytes) FROM nftally_usage") != pk * 500)
		die("check", "the totals in nftally_usage are not those sent");
	if (sql_u64(c, "SELECT count(DISTINCT host) FROM nftally_raw") != f->hosts)
		die("check", "not every host arrived");
	printf("fleet_rows_checked=%llu\n", (unsigned long long)rows);
}

int main(int argc, char **argv)
{
	struct fleet f;
	double *send_ms, *copy_ms, *add_ms, *cpu, dummy;
	int *cmd, *ans;
	pid_t *pid;
	PGconn *c;
	size_t rows;

	if (argc != 7) {
		fprintf(stderr, "usage: fleet-bench HOSTS ADDRS MINUTES PROCS CONNINFO DIR\n");
		return 2;
	}
	f = (struct fleet){ strtoul(argv[1], NULL, 10), strtoul(argv[2], NULL, 10),
			    strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10),
			    argv[5], argv[6], time(NULL) / 60 * 60 - 3600 };
	if (!f.hosts || f.hosts > 256 || !f.addrs || f.addrs > 65536 || !f.minutes ||
	    !f.procs || f.procs > f.hosts) {
		fprintf(stderr, "fleet-bench: 1-256 hosts, 1-65536 addresses, 1 minute and"
			" 1 to HOSTS processes at least\n");
		return 2;
	}
	rows = f.hosts * f.addrs;
	send_ms = calloc(f.minutes, sizeof(double));
	copy_ms = calloc(f.minutes, sizeof(double));
	add_ms = calloc(f.minutes, sizeof(double));
	cpu = calloc(f.minutes, sizeof(double));
	cmd = calloc(f.procs, sizeof(int));
	ans = calloc(f.procs, sizeof(int));
	pid = calloc(f.procs, sizeof(pid_t));
	if (!send_ms || !copy_ms || !add_ms || !cpu || !cmd || !ans || !pid)
		die("setup", "out of memory");
	c = PQconnectdb(f.conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", PQerrorMessage(c));
	setup(&f, c);
	/* e.g. Citus: SELECT create_distributed_table('nftally_raw', 'host') */
	if (getenv("FLEET_BENCH_SQL"))
		run_sql(c, getenv("FLEET_BENCH_SQL"));
	for (size_t w = 0; w < f.procs; w++) {
		int down[2], up[2];

		if (pipe(down) < 0 || pipe(up) < 0)
			die("pipe", strerror(errno));
		pid[w] = fork();
		if (pid[w] < 0)
			die("fork", strerror(errno));
		if (pid[w] == 0) {
			close(down[1]);
			close(up[0]);
			for (size_t k = 0; k < w; k++)
				close(cmd[k]), close(ans[k]);
			exit(worker(&f, w, down[0], up[1]));
		}
		close(down[0]);
		close(up[1]);
		cmd[w] = down[1];
		ans[w] = up[0];
	}
	/* minute 0 warms up: connections, schema check, the month's partition */
	phase(&f, cmd, ans, 'a', &dummy);
	phase(&f, cmd, ans, 's', &dummy);
	bare_copy(c, f.base);
	for (size_t m = 1; m <= f.minutes; m++) {
		add_ms[m - 1] = phase(&f, cmd, ans, 'a', &dummy);
		send_ms[m - 1] = phase(&f, cmd, ans, 's', &cpu[m - 1]);
		copy_ms[m - 1] = bare_copy(c, f.base + (int64_t)m * 60);
	}
	for (size_t w = 0; w < f.procs; w++) {
		int st;

		close(cmd[w]);
		if (waitpid(pid[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			die("worker", "did not end well");
	}
	check(&f, c);
	if (sql_u64(c, "SELECT count(*) FROM nftally_bare") !=
	    (uint64_t)rows * (f.minutes + 1))
		die("check", "the bare COPY lost rows");
	qsort(send_ms, f.minutes, sizeof(double), cmp_double);
	qsort(copy_ms, f.minutes, sizeof(double), cmp_double);
	qsort(add_ms, f.minutes, sizeof(double), cmp_double);
	qsort(cpu, f.minutes, sizeof(double), cmp_double);
	printf("fleet_hosts=%zu\nfleet_addrs=%zu\nfleet_minutes=%zu\nfleet_procs=%zu\n",
	       f.hosts, f.addrs, f.minutes, f.procs);
	printf("fleet_rows_per_minute=%zu\n", rows);
	printf("fleet_outbox_add_ms_median=%.0f\n", add_ms[f.minutes / 2]);
	printf("fleet_minute_ms_median=%.0f\nfleet_minute_ms_max=%.0f\n",
	       send_ms[f.minutes / 2], send_ms[f.minutes - 1]);
	printf("fleet_minute_fraction_median=%.3f\nfleet_minute_fraction_max=%.3f\n",
	       send_ms[f.minutes / 2] / 60e3, send_ms[f.minutes - 1] / 60e3);
	printf("fleet_client_cpu_ms_median=%.0f\n", cpu[f.minutes / 2]);
	printf("fleet_rows_per_s=%.0f\n", (double)rows * 1e3 / send_ms[f.minutes / 2]);
	printf("copy_minute_ms_median=%.0f\ncopy_minute_ms_max=%.0f\n", copy_ms[f.minutes / 2],
	       copy_ms[f.minutes - 1]);
	printf("copy_rows_per_s=%.0f\n", (double)rows * 1e3 / copy_ms[f.minutes / 2]);
	printf("fleet_over_copy=%.2f\n", send_ms[f.minutes / 2] / copy_ms[f.minutes / 2]);
	PQfinish(c);
	return 0;
}
