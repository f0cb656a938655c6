// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally report`: totals per period, host, namespace and label from the
 * store, as an aligned table, JSON lines or CSV.  Reads only (the database is in WAL mode, so this
 * works while run writes). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "addr.h"
#include "cell.h"
#include "pg.h"
#include "query.h"
#include "store.h"

/* Rows are collected for the table format (column widths) and printed
 * directly for the others. */
struct qrow {
	char *period, *host, *netns, *label, *addr, *cls;
	struct counts c;
};

struct query {
	const struct report_opts *o;
	enum { FMT_TABLE, FMT_JSON, FMT_CSV } fmt;
	struct qrow *v;
	size_t n, cap;
	struct counts total;
	bool classes; /* network classes are configured: csv has a class column */
};

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (or a blank for T), "YYYY-MM" or
 * "@SECONDS"; local time unless utc. */
static int parse_when(const char *s, bool utc, int64_t *out)
{
	struct tm tm = { .tm_mday = 1, .tm_isdst = -1 };
	char *end;
	int n = 0;

	if (s[0] == '@') {
		long long v;

		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (s[1] < '0' || s[1] > '9' || *end || errno)
			return -EINVAL;
		*out = v;
		return 0;
	}
	if (sscanf(s, "%4d-%2d%n", &tm.tm_year, &tm.tm_mon, &n) != 2 || n != 7)
		return -EINVAL;
	if (s[n] == '-') {
		int m = 0;

		if (sscanf(s + n, "-%2d%n", &tm.tm_mday, &m) != 1 || m != 3)
			return -EINVAL;
		n += m;
		if (s[n] == 'T' || s[n] == ' ') {
			m = 0;
			if (sscanf(s + n + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) != 2 ||
			    m != 5)
				return -EINVAL;
			n += 1 + m;
			if (s[n] == ':') {
				m = 0;
				if (sscanf(s + n, ":%2d%n", &tm.tm_sec, &m) != 1 || m != 3)
					return -EINVAL;
				n += m;
			}
		}
	}
	if (s[n] || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	struct tm want = tm;

	*out = utc ? (int64_t)timegm(&tm) : (int64_t)mktime(&tm);
	/* mktime makes 31 February into 3 March: refuse what it had to move */
	if (tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon || tm.tm_year != want.tm_year)
		return -EINVAL;
	return 0;
}

static void qrow_free(struct qrow *x)
{
	free(x->period);
	free(x->host);
	free(x->netns);
	free(x->label);
	free(x->addr);
	free(x->cls);
}

static int keep_row(const struct store_row *r, void *data)
{
	struct query *q = data;
	struct qrow *x;

	q->total.in_bytes += r->c.in_bytes;
	q->total.in_packets += r->c.in_packets;
	q->total.out_bytes += r->c.out_bytes;
	q->total.out_packets += r->c.out_packets;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct qrow *v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	x = &q->v[q->n];
	x->period = strdup(r->period);
	x->host = strdup(r->host);
	x->netns = strdup(r->netns);
	x->label = strdup(r->label);
	x->addr = r->addr ? strdup(r->addr) : NULL;
	x->cls = strdup(r->cls);
	x->c = r->c;
	if (!x->period || !x->host || !x->netns || !x->label || (r->addr && !x->addr) ||
	    !x->cls) {
		qrow_free(x);
		return -ENOMEM;
	}
	q->n++;
	return 0;
}

static void json_u64(json_object *o, const char *k, uint64_t v)
{
#if JSON_C_MAJOR_VERSION > 0 || JSON_C_MINOR_VERSION >= 14
	json_object_object_add(o, k, json_object_new_uint64(v));
#else
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
#endif
}

static int print_json(const struct store_row *r, void *data)
{
	json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "period", json_object_new_string(r->period));
	json_object_object_add(o, "host", json_object_new_string(r->host));
	json_object_object_add(o, "netns", json_object_new_string(r->netns));
	json_object_object_add(o, "label", json_object_new_string(r->label));
	if (r->addr)
		json_object_object_add(o, "addr", json_object_new_string(r->addr));
	if (r->cls && *r->cls)
		json_object_object_add(o, "class", json_object_new_string(r->cls));
	json_u64(o, "in_bytes", r->c.in_bytes);
	json_u64(o, "in_packets", r->c.in_packets);
	json_u64(o, "out_bytes", r->c.out_bytes);
	json_u64(o, "out_packets", r->c.out_packets);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

/* A field as cell_csv makes it: RFC 4180, and no label a spreadsheet
 * would run as a formula. */
static int csv_field(const char *s)
{
	char *f = cell_csv(s);

	if (!f)
		return -ENOMEM;
	fputs(f, stdout);
	free(f);
	return 0;
}

static int print_csv(const struct query *q, const struct qrow *r)
{
	int ret = csv_field(r->period);

	putchar(',');
	ret |= csv_field(r->host);
	putchar(',');
	ret |= csv_field(r->netns);
	putchar(',');
	ret |= csv_field(r->label);
	if (q->o->per_addr) {
		putchar(',');
		ret |= csv_field(r->addr ? r->addr : "");
	}
	if (q->classes) {
		putchar(',');
		ret |= csv_field(r->cls ? r->cls : "");
	}
	printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", r->c.in_bytes,
	       r->c.in_packets, r->c.out_bytes, r->c.out_packets);
	return ret ? -ENOMEM : 0;
}

/* CSV keeps its columns for the whole file: a class column when classes
 * are configured or any row has one (rows from before they were removed). */
static int print_csv_rows(struct query *q)
{
	for (size_t i = 0; i < q->n; i++)
		q->classes |= q->v[i].cls && *q->v[i].cls;
	printf("period,host,netns,label%s%s,in_bytes,in_packets,out_bytes,out_packets\n",
	       q->o->per_addr ? ",addr" : "", q->classes ? ",class" : "");
	for (size_t i = 0; i < q->n; i++)
		if (print_csv(q, &q->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* 1234567 -> "1.2 MiB" (binary units), or the plain number. */
static const char *amount(uint64_t v, bool human, bool bytes, char buf[32])
{
	static const char *const bu[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	static const char *const pu[] = { "", "k", "M", "G", "T", "P", "E" };
	double d = (double)v;
	int i = 0;

	if (!human) {
		snprintf(buf, 32, "%" PRIu64, v);
		return buf;
	}
	while (d >= (bytes ? 1024 : 1000) && i < 6) {
		d /= bytes ? 1024 : 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, 32, "%" PRIu64 "%s%s", v, bytes ? " " : "", bytes ? bu[0] : "");
	else
		snprintf(buf, 32, "%.1f %s", d, bytes ? bu[i] : pu[i]);
	return buf;
}

/* Labels are UTF-8 without control characters (the targets parser checks),
 * but the host's interface names are only bytes: keep the terminal safe. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void put_cell(const char *s, size_t width, bool right)
{
	size_t w = text_width(s);

	if (right)
		for (; w < width; w++)
			putchar(' ');
	for (const char *p = s; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	if (!right)
		for (; w < width; w++)
			putchar(' ');
}

#define COLS 10
#define COL_NETNS 2
#define COL_ADDR 4
#define COL_CLASS 5
#define COL_COUNTS 6 /* the first of the four counts, right-aligned */

/* The cells of one line: the header (i == 0), a row, or the total. */
static void row_cells(const struct query *q, size_t i, const char *cells[COLS],
		      char b[4][32])
{
	static const char *const head[COLS] = { "PERIOD", "HOST", "NETNS", "LABEL", "ADDR",
						"CLASS", "IN", "IN_PKTS", "OUT", "OUT_PKTS" };
	const struct qrow *r = i && i <= q->n ? &q->v[i - 1] : NULL;
	const struct counts *c = r ? &r->c : &q->total;
	const bool human = q->o->human;

	memcpy(cells, head, sizeof(head));
	if (!i)
		return;
	cells[0] = r ? r->period : "TOTAL";
	cells[1] = r ? r->host : "";
	cells[2] = r ? r->netns : "";
	cells[3] = r ? r->label : "";
	cells[COL_ADDR] = r && r->addr ? r->addr : "";
	cells[COL_CLASS] = r ? r->cls : "";
	cells[COL_COUNTS] = amount(c->in_bytes, human, true, b[0]);
	cells[COL_COUNTS + 1] = amount(c->in_packets, human, false, b[1]);
	cells[COL_COUNTS + 2] = amount(c->out_bytes, human, true, b[2]);
	cells[COL_COUNTS + 3] = amount(c->out_packets, human, false, b[3]);
}

/* The table shows the columns that say something: NETNS when a row is
 * from another namespace than the one nftally started in, CLASS when a
 * row has a class.  (CSV and JSON keep theirs for every row.) */
static void print_table(struct query *q)
{
	bool show[COLS] = { true, true, false, true, q->o->per_addr, false,
			    true, true, true, true };
	const char *cells[COLS];
	size_t wid[COLS] = { 0 };
	char b[4][32];

	for (size_t i = 0; i < q->n; i++) {
		show[COL_NETNS] |= *q->v[i].netns != '\0';
		show[COL_CLASS] |= *q->v[i].cls != '\0';
		/* a name must not reorder what the terminal shows after it */
		cell_strip_bidi(q->v[i].host);
		cell_strip_bidi(q->v[i].netns);
		cell_strip_bidi(q->v[i].label);
		if (q->v[i].addr)
			cell_strip_bidi(q->v[i].addr);
	}
	for (size_t i = 0; i <= q->n + 1; i++) {
		row_cells(q, i, cells, b);
		for (int k = 0; k < COLS; k++)
			if (text_width(cells[k]) > wid[k])
				wid[k] = text_width(cells[k]);
	}
	for (size_t i = 0; i <= q->n + 1; i++) {
		bool first = true;

		if (i == q->n + 1 && q->n < 2)
			break; /* a total of one row says nothing new */
		row_cells(q, i, cells, b);
		for (int k = 0; k < COLS; k++) {
			if (!show[k])
				continue;
			if (!first)
				fputs("  ", stdout);
			put_cell(cells[k], wid[k], k >= COL_COUNTS);
			first = false;
		}
		putchar('\n');
	}
}

static void query_free(struct query *q)
{
	for (size_t i = 0; i < q->n; i++)
		qrow_free(&q->v[i]);
	free(q->v);
}

/* Check the options into sq and q.  Returns 0 or -EINVAL with e set. */
static int query_options(const struct report_opts *o, struct store_query *sq, struct query *q,
			 struct report_opts *eff, char canon[ADDR_STRLEN], struct err *e)
{
	static const char when[] = "bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], "
				   "YYYY-MM or @SECONDS)";

	*eff = *o;
	q->o = eff;
	if (o->by && strcmp(o->by, "hour") == 0)
		sq->by = TIER_HOUR;
	else if (o->by && strcmp(o->by, "month") == 0)
		sq->by = TIER_MONTH;
	else if (o->by && strcmp(o->by, "day") != 0)
		return err_set(e, "--by: use hour, day or month");
	if (!o->format || strcmp(o->format, "table") == 0)
		q->fmt = FMT_TABLE;
	else if (strcmp(o->format, "json") == 0)
		q->fmt = FMT_JSON;
	else if (strcmp(o->format, "csv") == 0)
		q->fmt = FMT_CSV;
	else
		return err_set(e, "--format: use table, json or csv");
	if (o->since && parse_when(o->since, o->utc, &sq->since) < 0)
		return err_set(e, "--since: %s", when);
	if (o->until && parse_when(o->until, o->utc, &sq->until) < 0)
		return err_set(e, "--until: %s", when);
	if (o->addr) {
		struct addr ad;
		const char *why;

		if (addr_parse(o->addr, &ad, &why) < 0)
			return err_set(e, "--addr: %s", why);
		sq->addr = addr_format(&ad, canon);
		eff->per_addr = true;
	}
	sq->per_addr = eff->per_addr;
	return 0;
}

int query_check(const struct report_opts *o, struct err *e)
{
	struct store_query sq = { .by = TIER_DAY };
	struct query q = { 0 };
	struct report_opts eff;
	char canon[ADDR_STRLEN];

	return query_options(o, &sq, &q, &eff, canon, e);
}

/* This host's time zone as an IANA name, for the central database's
 * periods in local time: $TZ, else the zone /etc/localtime links to, else
 * /etc/timezone, else UTC (a zone PostgreSQL cannot name otherwise). */
static const char *local_zone(char *buf, size_t size)
{
	const char *tz = getenv("TZ"), *z;
	char link[PATH_MAX];
	ssize_t n;
	FILE *f;

	if (tz && *tz == ':')
		tz++;
	if (tz && *tz && *tz != '/') {
		snprintf(buf, size, "%s", tz);
		return buf;
	}
	n = tz && *tz ? -1 : readlink("/etc/localtime", link, sizeof(link) - 1);
	if (tz && *tz)
		snprintf(link, sizeof(link), "%s", tz), n = (ssize_t)strlen(link);
	if (n > 0) {
		link[n] = '\0';
		z = strstr(link, "zoneinfo/");
		if (z) {
			snprintf(buf, size, "%s", z + strlen("zoneinfo/"));
			return buf;
		}
	}
	f = fopen("/etc/timezone", "r");
	if (f && fgets(buf, (int)size, f)) {
		buf[strcspn(buf, " \n")] = '\0';
		fclose(f);
		if (*buf)
			return buf;
	} else if (f) {
		fclose(f);
	}
	snprintf(buf, size, "UTC");
	return buf;
}

int query_report(const struct report_opts *o, const char *store_path, const char *here,
		 bool classes, struct err *e)
{
	struct store_query sq = { .by = TIER_DAY, .utc = o->utc, .label = o->label,
				  .since = INT64_MIN, .until = INT64_MAX, .cls = o->cls,
				  .host = o->host, .netns = o->netns, .account = o->account };
	struct query q = { .classes = classes };
	struct report_opts eff;
	char canon[ADDR_STRLEN];
	struct store *s = NULL;
	int ret = query_options(o, &sq, &q, &eff, canon, e);

	if (ret < 0)
		return ret;
	sq.merge_hosts = o->merge_hosts;
	/* both sources give the same rows to the same printers */
	if (o->postgresql) {
		char tz[256];

		ret = pg_report(o->postgresql, &sq, o->utc ? "UTC" : local_zone(tz, sizeof(tz)),
				q.fmt == FMT_JSON ? print_json : keep_row, &q, e);
	} else {
		ret = store_open_readonly(&s, store_path, here, e);
		if (ret < 0)
			return ret;
		ret = store_query(s, &sq, q.fmt == FMT_JSON ? print_json : keep_row, &q, e);
	}
	if (ret == 0 && q.fmt == FMT_TABLE)
		print_table(&q);
	if (ret == 0 && q.fmt == FMT_CSV && print_csv_rows(&q) < 0)
		ret = err_setn(e, -ENOMEM, "out of memory");
	store_close(s);
	query_free(&q);
	if (ret == 0 && fflush(stdout) != 0) {
		e->msg[0] = '\0'; /* as for every command: exit 3, nothing said */
		return -EIO;
	}
	return ret == -ENOENT ? -EIO : ret; /* -ENOENT says "no database" */
}
