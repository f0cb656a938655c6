// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally report`: totals per period, host, namespace and label from the
 * store, as an aligned table, JSON lines or CSV; per billing cycle and the
 * 95th percentile of 5-minute samples (docs/billing.md).  Reads only (the
 * database is in WAL mode, so this works while run writes). */
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
#include "bill.h"
#include "billing.h"
#include "cell.h"
#include "cycle.h"
#include "output.h"
#include "pg.h"
#include "query.h"
#include "source.h"
#include "store.h"
#include "units.h"

/* Rows are collected for the table format (column widths), for --all
 * (the zero rows go between them) and for CSV, and printed directly
 * otherwise. */
struct qrow {
	char *period, *host, *netns, *label, *addr, *cls;
	struct counts c;
	int64_t since, until; /* a cycle's window; 0, 0 for a period row */
};

/* A 95th percentile row: a label's (or address's) cycle. */
struct prow {
	char *period, *label, *addr;
	int64_t since, until;
	struct bill_p95 r;
};

/* The window of one label's cycle, with its name ("YYYY-MM"). */
struct qwin {
	struct store_window w;
	char period[16];
};

struct query {
	const struct report_opts *o;
	enum { FMT_TABLE, FMT_JSON, FMT_CSV } fmt;
	struct qrow *v;
	size_t n, cap;
	struct counts total;
	bool classes; /* network classes are configured: csv has a class column */
	bool stream;  /* JSON printed as it comes */
	/* billing */
	enum { MODE_PERIOD, MODE_CYCLE, MODE_P95 } mode;
	enum { CYC_CURRENT, CYC_PREVIOUS, CYC_MONTH, CYC_EACH } cyc;
	int cyc_year, cyc_month;
	bool has_bill;
	enum bill_policy bill;
	int64_t now, since, until;
	struct qwin *w;   /* sorted by label, then since */
	size_t nw, wcap;
	char **labels;    /* the labels windows are made for, sorted */
	size_t nlabels, lcap;
	struct prow *p;
	size_t np, pcap;
	/* the samples of the group being read (label, period, addr) */
	uint64_t *sin, *sout;
	size_t ns, scap;
	const struct qwin *gw;
	char *gaddr;
	int ret;
	/* serve's one read (query_bills_opts.sample): every sample read from
	 * sample_since on goes to sample, and each window's sum to tot[] */
	const struct query_bills_opts *bo;
	struct counts *tot;
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

static const struct qwin *query_window(const struct query *q, const char *label,
				       const char *period);

int query_parse_time(const char *s, bool utc, int64_t *out)
{
	return parse_when(s, utc, out);
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
	x->since = x->until = 0;
	if (q->mode != MODE_PERIOD) {
		const struct qwin *w = query_window(q, r->label, r->period);

		if (w) {
			x->since = w->w.since;
			x->until = w->w.until;
		}
	}
	if (!x->period || !x->host || !x->netns || !x->label || (r->addr && !x->addr) ||
	    !x->cls) {
		qrow_free(x);
		return -ENOMEM;
	}
	q->n++;
	return 0;
}

static int print_json_row(const struct query *q, const struct store_row *r, int64_t since,
			  int64_t until)
{
	json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "period", json_object_new_string(r->period));
	if (until) {
		json_object_object_add(o, "cycle_start", json_object_new_int64(since));
		json_object_object_add(o, "cycle_end", json_object_new_int64(until));
	}
	json_object_object_add(o, "host", json_object_new_string(r->host));
	json_object_object_add(o, "netns", json_object_new_string(r->netns));
	json_object_object_add(o, "label", json_object_new_string(r->label));
	if (r->addr)
		json_object_object_add(o, "addr", json_object_new_string(r->addr));
	if (r->cls && *r->cls)
		json_object_object_add(o, "class", json_object_new_string(r->cls));
	output_json_u64(o, "in_bytes", r->c.in_bytes);
	output_json_u64(o, "in_packets", r->c.in_packets);
	output_json_u64(o, "out_bytes", r->c.out_bytes);
	output_json_u64(o, "out_packets", r->c.out_packets);
	if (q->has_bill) {
		json_object_object_add(o, "bill", json_object_new_string(bill_policy_name(q->bill)));
		output_json_u64(o, "billed_bytes", bill_bytes(q->bill, r->c.in_bytes, r->c.out_bytes));
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

/* JSON lines as they come from the store (no window, no zero rows). */
static int print_json(const struct store_row *r, void *data)
{
	return print_json_row(data, r, 0, 0);
}

static int print_json_rows(const struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		const struct qrow *x = &q->v[i];
		const struct store_row r = { x->period, x->host, x->netns, x->label, x->addr,
					     x->cls, x->c };

		if (print_json_row(q, &r, x->since, x->until) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* v in --units (bytes without it), for CSV: the number without its unit. */
static const char *csv_amount(const struct query *q, uint64_t v, char buf[64])
{
	char *sp;

	if (!q->o->units || units_format(v, q->o->units, buf, 64) < 0)
		snprintf(buf, 64, "%" PRIu64, v);
	else if ((sp = strchr(buf, ' ')))
		*sp = '\0';
	return buf;
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

	if (q->mode != MODE_PERIOD)
		printf(",%" PRId64 ",%" PRId64, r->since, r->until);
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
	{
		char a[64], b[64], c[64];

		printf(",%s,%" PRIu64 ",%s,%" PRIu64, csv_amount(q, r->c.in_bytes, a),
		       r->c.in_packets, csv_amount(q, r->c.out_bytes, b), r->c.out_packets);
		if (q->has_bill)
			printf(",%s", csv_amount(q, bill_bytes(q->bill, r->c.in_bytes,
							       r->c.out_bytes), c));
	}
	putchar('\n');
	return ret ? -ENOMEM : 0;
}

/* CSV keeps its columns for the whole file: a class column when classes
 * are configured or any row has one (rows from before they were removed). */
static int print_csv_rows(struct query *q)
{
	for (size_t i = 0; i < q->n; i++)
		q->classes |= q->v[i].cls && *q->v[i].cls;
	const char *u = q->o->units && strcmp(q->o->units, "bytes") ? q->o->units : "bytes";

	printf("period%s,host,netns,label%s%s,in_%s,in_packets,out_%s,out_packets",
	       q->mode != MODE_PERIOD ? ",cycle_start,cycle_end" : "",
	       q->o->per_addr ? ",addr" : "", q->classes ? ",class" : "", u, u);
	if (q->has_bill)
		printf(",billed_%s", u);
	putchar('\n');
	for (size_t i = 0; i < q->n; i++)
		if (print_csv(q, &q->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* 1234567 -> "1.2 MiB" (binary units), "1.235 MB" (units "MB"), or the
 * plain number. */
static const char *amount(uint64_t v, bool human, bool bytes, const char *units,
			  char buf[32])
{
	static const char *const bu[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	static const char *const pu[] = { "", "k", "M", "G", "T", "P", "E" };
	double d = (double)v;
	int i = 0;

	if (bytes && units && units_format(v, units, buf, 32) == 0)
		return buf;
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

#define COLS 11
#define COL_NETNS 2
#define COL_ADDR 4
#define COL_CLASS 5
#define COL_COUNTS 6 /* the first of the four counts, right-aligned */
#define COL_BILLED 10

/* The cells of one line: the header (i == 0), a row, or the total. */
static void row_cells(const struct query *q, size_t i, const char *cells[COLS],
		      char b[5][32])
{
	static const char *const head[COLS] = { "PERIOD", "HOST", "NETNS", "LABEL", "ADDR",
						"CLASS", "IN", "IN_PKTS", "OUT", "OUT_PKTS",
						"BILLED" };
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
	cells[COL_COUNTS] = amount(c->in_bytes, human, true, q->o->units, b[0]);
	cells[COL_COUNTS + 1] = amount(c->in_packets, human, false, NULL, b[1]);
	cells[COL_COUNTS + 2] = amount(c->out_bytes, human, true, q->o->units, b[2]);
	cells[COL_COUNTS + 3] = amount(c->out_packets, human, false, NULL, b[3]);
	cells[COL_BILLED] = amount(bill_bytes(q->bill, c->in_bytes, c->out_bytes), human, true,
				   q->o->units, b[4]);
}

/* The table shows the columns that say something: NETNS when a row is
 * from another namespace than the one nftally started in, CLASS when a
 * row has a class.  (CSV and JSON keep theirs for every row.) */
static void print_table(struct query *q)
{
	bool show[COLS] = { true, true, false, true, q->o->per_addr, false,
			    true, true, true, true, q->has_bill };
	const char *cells[COLS];
	size_t wid[COLS] = { 0 };
	char b[5][32];

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
	for (size_t i = 0; i < q->np; i++) {
		free(q->p[i].period);
		free(q->p[i].label);
		free(q->p[i].addr);
	}
	free(q->p);
	for (size_t i = 0; i < q->nlabels; i++)
		free(q->labels[i]);
	free(q->labels);
	free(q->w);
	free(q->sin);
	free(q->sout);
	free(q->gaddr);
	free(q->tot);
}

/* --cycle: current, previous or YYYY-MM. */
static int parse_cycle(const char *s, struct query *q)
{
	int n = 0;

	if (strcmp(s, "current") == 0) {
		q->cyc = CYC_CURRENT;
		return 0;
	}
	if (strcmp(s, "previous") == 0) {
		q->cyc = CYC_PREVIOUS;
		return 0;
	}
	if (sscanf(s, "%4d-%2d%n", &q->cyc_year, &q->cyc_month, &n) != 2 || n != 7 || s[n] ||
	    q->cyc_month < 1 || q->cyc_month > 12 || q->cyc_year < 1970)
		return -EINVAL;
	q->cyc = CYC_MONTH;
	return 0;
}

/* The billing options into q: the mode, the cycle, the policy, now. */
static int query_billing_options(const struct report_opts *o, struct store_query *sq,
				 struct query *q, struct err *e)
{
	bool by_cycle = o->by && strcmp(o->by, "cycle") == 0;

	q->mode = o->p95 ? MODE_P95 : o->cycle || by_cycle ? MODE_CYCLE : MODE_PERIOD;
	q->cyc = by_cycle ? CYC_EACH : CYC_CURRENT;
	if (o->cycle && parse_cycle(o->cycle, q) < 0)
		return err_set(e, "--cycle: use current, previous or YYYY-MM");
	if (o->cycle && by_cycle)
		return err_set(e, "--cycle names one cycle: not with --by cycle");
	if (q->mode != MODE_PERIOD && o->by && !by_cycle)
		return err_set(e, "--cycle and --p95 report whole cycles: --by cycle or none");
	if (o->cycle && (o->since || o->until))
		return err_set(e, "--cycle names the period: not with --since or --until");
	if (o->bill && bill_policy_parse(o->bill, &q->bill) < 0)
		return err_set(e, "--bill: use sum, max, in or out");
	q->has_bill = o->bill != NULL;
	if (o->units && !units_known(o->units))
		return err_set(e, "--units: use bytes, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, "
			       "PiB, auto-dec or auto-bin");
	if (o->at && parse_when(o->at, o->utc, &q->now) < 0)
		return err_set(e, "--at: bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], "
			       "YYYY-MM or @SECONDS)");
	return 0;
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
	else if (o->by && strcmp(o->by, "5min") == 0)
		sq->by = TIER_5MIN;
	else if (o->by && strcmp(o->by, "day") != 0 && strcmp(o->by, "cycle") != 0)
		return err_set(e, "--by: use 5min, hour, day, month or cycle");
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
	/* one row over the classes unless they are asked for */
	sq->sum_classes = !o->by_class && !o->cls;
	return query_billing_options(o, sq, q, e);
}

int query_check(const struct report_opts *o, struct err *e)
{
	struct store_query sq = { .by = TIER_DAY };
	struct query q = { 0 };
	struct report_opts eff;
	char canon[ADDR_STRLEN];

	return query_options(o, &sq, &q, &eff, canon, e);
}

/* ---- billing: the labels, their cycles' windows ---- */

/* Room for one more of n elements of size bytes in *v (*cap of them),
 * doubling.  0 or -ENOMEM (*v unchanged). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? 2 * *cap : 64;
	void *nv;

	if (n < *cap)
		return 0;
	if (!(nv = realloc(*v, c * size)))
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

static int label_add(const char *label, void *data)
{
	struct query *q = data;

	if (q->o->label && strcmp(label, q->o->label) != 0)
		return 0;
	if (grow((void **)&q->labels, &q->lcap, q->nlabels, sizeof(*q->labels)) < 0)
		return -ENOMEM;
	if (!(q->labels[q->nlabels] = strdup(label)))
		return -ENOMEM;
	q->nlabels++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The labels of the store, and with --all those of the targets and
 * labels files (and --label's), once each, sorted. */
static int query_labels(struct source *s, struct query *q, struct err *e)
{
	size_t n = 0;
	int ret = source_labels(s, label_add, q, e);

	for (size_t i = 0; ret == 0 && q->o->all && i < q->o->nknown; i++)
		ret = label_add(q->o->known[i], q);
	if (ret == 0 && q->o->all && q->o->label)
		ret = label_add(q->o->label, q);
	if (ret == -ENOMEM)
		return err_setn(e, ret, "out of memory");
	if (ret < 0)
		return ret;
	if (q->nlabels)
		qsort(q->labels, q->nlabels, sizeof(*q->labels), str_cmp);
	for (size_t i = 0; i < q->nlabels; i++) {
		if (n && strcmp(q->labels[n - 1], q->labels[i]) == 0) {
			free(q->labels[i]);
			continue;
		}
		q->labels[n++] = q->labels[i];
	}
	q->nlabels = n;
	return 0;
}

static int window_add(struct query *q, const char *label, const struct cycle *c,
		      int64_t since, int64_t until)
{
	struct qwin *x;
	int y = 0, m = 0;

	if (grow((void **)&q->w, &q->wcap, q->nw, sizeof(*q->w)) < 0)
		return -ENOMEM;
	x = &q->w[q->nw++];
	cycle_month_of(c, since, &y, &m);
	snprintf(x->period, sizeof(x->period), "%04d-%02d", y, m);
	x->w = (struct store_window){ label, NULL, since, until };
	return 0;
}

/* The windows of one label: its cycle asked for, or each of its cycles
 * that overlaps [q->since, q->until) (at most 1200). */
static int label_windows(struct query *q, const char *label, struct err *e)
{
	static const struct cycle dflt = { 1, "" };
	const struct cycle *c = q->o->billing ? billing_cycle_of(q->o->billing, label) : &dflt;
	int64_t a, b;
	int ret;

	switch (q->cyc) {
	case CYC_CURRENT:
		ret = cycle_bounds(c, q->now, &a, &b);
		break;
	case CYC_PREVIOUS:
		ret = cycle_shift(c, q->now, 1, &a, &b);
		break;
	case CYC_MONTH:
		ret = cycle_of_month(c, q->cyc_year, q->cyc_month, &a, &b);
		break;
	default:
		ret = cycle_bounds(c, q->since, &a, &b);
		for (int i = 0; ret == 0 && a < q->until && i < 1200; i++) {
			if (window_add(q, label, c, a, b) < 0)
				return err_setn(e, -ENOMEM, "out of memory");
			ret = cycle_bounds(c, b, &a, &b);
		}
		goto out;
	}
	if (ret == 0 && window_add(q, label, c, a, b) < 0)
		return err_setn(e, -ENOMEM, "out of memory");
out:
	if (ret < 0)
		return err_setn(e, ret, "the cycle of label %s: bad day or time zone", label);
	return 0;
}

static int qwin_cmp(const void *a, const void *b)
{
	const struct qwin *x = a, *y = b;
	int d = strcmp(x->w.label, y->w.label);

	return d ? d : (x->w.since > y->w.since) - (x->w.since < y->w.since);
}

static int query_windows(struct source *s, struct query *q, const struct store_query *sq,
			 struct err *e)
{
	int ret = query_labels(s, q, e);

	q->since = sq->since;
	q->until = sq->until == INT64_MAX ? q->now : sq->until;
	if (ret == 0 && q->cyc == CYC_EACH && sq->since == INT64_MIN)
		ret = source_first_time(s, &q->since, e);
	if (ret == 0 && q->since == INT64_MAX)
		q->since = q->now; /* an empty store: the current cycle */
	for (size_t i = 0; ret == 0 && i < q->nlabels; i++)
		ret = label_windows(q, q->labels[i], e);
	if (ret < 0)
		return ret;
	if (q->nw)
		qsort(q->w, q->nw, sizeof(*q->w), qwin_cmp);
	for (size_t i = 0; i < q->nw; i++)
		q->w[i].w.period = q->w[i].period;
	return 0;
}

static const struct qwin *query_window(const struct query *q, const char *label,
				       const char *period)
{
	size_t lo = 0, hi = q->nw;

	while (lo < hi) { /* the first window of label */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(q->w[mid].w.label, label) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < q->nw && strcmp(q->w[lo].w.label, label) == 0; lo++)
		if (strcmp(q->w[lo].period, period) == 0)
			return &q->w[lo];
	return NULL;
}

/* ---- the 95th percentile ---- */

/* The group read so far (one window of a label, or of an address) into a
 * row: its slots that have ended by now, the samples in them. */
static int p95_flush(struct query *q)
{
	const struct qwin *w = q->gw;
	struct prow *x;
	size_t slots, nv = 0;
	int ret;

	if (!w)
		return 0;
	slots = bill_slots(w->w.since, w->w.until, q->now);
	for (size_t i = 0; i < q->ns; i++) /* the slot in progress is left out */
		if (q->sin[i] != UINT64_MAX) {
			q->sin[nv] = q->sin[i];
			q->sout[nv++] = q->sout[i];
		}
	if (grow((void **)&q->p, &q->pcap, q->np, sizeof(*q->p)) < 0)
		return -ENOMEM;
	x = &q->p[q->np];
	*x = (struct prow){ .since = w->w.since, .until = w->w.until };
	ret = bill_p95(q->sin, q->sout, nv, slots, q->bill, &x->r);
	x->period = strdup(w->period);
	x->label = strdup(w->w.label);
	x->addr = q->gaddr ? strdup(q->gaddr) : NULL;
	q->np++;
	q->ns = 0;
	q->gw = NULL;
	if (ret < 0 || !x->period || !x->label || (q->gaddr && !x->addr))
		return -ENOMEM;
	return 0;
}

static int p95_sample(const struct store_sample *x, void *data)
{
	struct query *q = data;
	const struct qwin *w = query_window(q, x->label, x->period);
	int ret;

	if (!w)
		return 0;
	if (q->bo && (ret = q->bo->sample(x, &w->w, (size_t)(w - q->w), q->nw,
					  q->bo->sample_data)))
		return ret;
	if (x->t < w->w.since) /* read for sample only (the window was widened) */
		return 0;
	if (q->tot)
		counts_add(&q->tot[w - q->w], &x->c);
	if (q->bo && q->bo->sample_only) /* the caller makes its percentiles */
		return 0;
	if (w != q->gw || (x->addr && (!q->gaddr || strcmp(x->addr, q->gaddr) != 0))) {
		if ((ret = p95_flush(q)) < 0)
			return ret;
		q->gw = w;
		free(q->gaddr);
		q->gaddr = x->addr ? strdup(x->addr) : NULL;
		if (x->addr && !q->gaddr)
			return -ENOMEM;
	}
	if (q->ns == q->scap) {
		size_t cap = q->scap ? 2 * q->scap : 1024;
		uint64_t *a = realloc(q->sin, cap * sizeof(*a)), *b;

		if (!a)
			return -ENOMEM;
		q->sin = a;
		if (!(b = realloc(q->sout, cap * sizeof(*b))))
			return -ENOMEM;
		q->sout = b;
		q->scap = cap;
	}
	/* a sample of a slot that has not ended is marked to leave out */
	q->sin[q->ns] = x->t + BILL_SLOT > q->now ? UINT64_MAX : x->c.in_bytes;
	q->sout[q->ns++] = x->c.out_bytes;
	return 0;
}

/* Rows of windows in order: by label, then cycle, then address. */
static int window_cmp(const char *l1, int64_t s1, const char *a1, const char *l2, int64_t s2,
		      const char *a2)
{
	int d = strcmp(l1, l2);

	if (d)
		return d;
	if (s1 != s2)
		return (s1 > s2) - (s1 < s2);
	return strcmp(a1 ? a1 : "", a2 ? a2 : "");
}

static int prow_cmp(const void *a, const void *b)
{
	const struct prow *x = a, *y = b;

	return window_cmp(x->label, x->since, x->addr, y->label, y->since, y->addr);
}

/* --all: a row of zeros for every window without samples (labels only). */
static int p95_zero_rows(struct query *q)
{
	size_t have = q->np;

	for (size_t i = 0; i < q->nw && !q->o->per_addr; i++) {
		bool found = false;

		for (size_t j = 0; j < have && !found; j++)
			found = q->p[j].since == q->w[i].w.since &&
				strcmp(q->p[j].label, q->w[i].w.label) == 0;
		if (found)
			continue;
		q->gw = &q->w[i];
		q->ns = 0;
		if (p95_flush(q) < 0)
			return -ENOMEM;
	}
	if (q->np)
		qsort(q->p, q->np, sizeof(*q->p), prow_cmp);
	return 0;
}

static void print_p95(const struct query *q)
{
	const char *pol = bill_policy_name(q->bill);
	bool addr = q->o->per_addr;

	if (q->fmt == FMT_CSV)
		printf("period,cycle_start,cycle_end,label%s,slots,rank,in_p95_bytes,"
		       "out_p95_bytes,%s_p95_bytes,in_p95_bps,out_p95_bps,%s_p95_bps\n",
		       addr ? ",addr" : "", pol, pol);
	else if (q->fmt == FMT_TABLE)
		printf("%-8s  %-20s  %s%6s  %14s  %14s  %14s\n", "CYCLE", "LABEL",
		       addr ? "ADDR                      " : "", "SLOTS", "IN_P95_BPS",
		       "OUT_P95_BPS", q->bill == BILL_SUM ? "SUM_P95_BPS" :
		       q->bill == BILL_MAX ? "MAX_P95_BPS" : q->bill == BILL_IN ? "IN_P95_BPS" :
		       "OUT_P95_BPS");
	for (size_t i = 0; i < q->np; i++) {
		const struct prow *x = &q->p[i];
		const struct bill_p95 *r = &x->r;

		if (q->fmt == FMT_JSON) {
			json_object *o = json_object_new_object();

			if (!o)
				return;
			json_object_object_add(o, "period", json_object_new_string(x->period));
			json_object_object_add(o, "cycle_start", json_object_new_int64(x->since));
			json_object_object_add(o, "cycle_end", json_object_new_int64(x->until));
			json_object_object_add(o, "label", json_object_new_string(x->label));
			if (x->addr)
				json_object_object_add(o, "addr", json_object_new_string(x->addr));
			output_json_u64(o, "slots", r->slots);
			output_json_u64(o, "rank", r->rank);
			json_object_object_add(o, "bill", json_object_new_string(pol));
			output_json_u64(o, "in_p95_bytes", r->in);
			output_json_u64(o, "out_p95_bytes", r->out);
			output_json_u64(o, "bill_p95_bytes", r->bill);
			output_json_u64(o, "in_p95_bps", bill_bps(r->in));
			output_json_u64(o, "out_p95_bps", bill_bps(r->out));
			output_json_u64(o, "bill_p95_bps", bill_bps(r->bill));
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else if (q->fmt == FMT_CSV) {
			csv_field(x->period);
			printf(",%" PRId64 ",%" PRId64 ",", x->since, x->until);
			csv_field(x->label);
			if (addr) {
				putchar(',');
				csv_field(x->addr ? x->addr : "");
			}
			printf(",%zu,%zu,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			       ",%" PRIu64 "\n", r->slots, r->rank, r->in, r->out, r->bill,
			       bill_bps(r->in), bill_bps(r->out), bill_bps(r->bill));
		} else {
			char label[256];

			snprintf(label, sizeof(label), "%s", x->label);
			cell_strip_bidi(label);
			printf("%-8s  ", x->period);
			put_cell(label, 20, false);
			if (addr) {
				fputs("  ", stdout);
				put_cell(x->addr ? x->addr : "", 24, false);
			}
			printf("  %6zu  %14" PRIu64 "  %14" PRIu64 "  %14" PRIu64 "\n", r->slots,
			       bill_bps(r->in), bill_bps(r->out), bill_bps(r->bill));
		}
	}
}

/* ---- --all: rows of zeros ---- */

static int qrow_cmp_window(const void *a, const void *b)
{
	const struct qrow *x = a, *y = b;
	int d = window_cmp(x->label, x->since, NULL, y->label, y->since, NULL);

	if (d || (d = strcmp(x->host, y->host)) || (d = strcmp(x->netns, y->netns)))
		return d;
	if ((d = strcmp(x->addr ? x->addr : "", y->addr ? y->addr : "")))
		return d;
	return strcmp(x->cls, y->cls);
}

static int qrow_cmp_period(const void *a, const void *b)
{
	const struct qrow *x = a, *y = b;
	int d;

	if ((d = strcmp(x->period, y->period)) || (d = strcmp(x->host, y->host)) ||
	    (d = strcmp(x->netns, y->netns)) || (d = strcmp(x->label, y->label)))
		return d;
	if ((d = strcmp(x->addr ? x->addr : "", y->addr ? y->addr : "")))
		return d;
	return strcmp(x->cls, y->cls);
}

static int zero_row(struct query *q, const char *period, const char *label)
{
	const char *anywhere = q->o->merge_hosts ? "*" : "";
	const struct store_row r = { period, anywhere, anywhere, label,
				     q->o->per_addr ? "" : NULL, "", { 0 } };

	return keep_row(&r, q);
}

/* Every label without a row in a window (or in a period that has rows)
 * gets one of zeros, host and netns "" ("*" with --merge-hosts). */
static int zero_rows(struct query *q)
{
	size_t have = q->n;
	int ret = 0;

	if (q->mode == MODE_CYCLE) {
		for (size_t i = 0; i < q->nw && ret == 0; i++) {
			bool found = false;

			for (size_t j = 0; j < have && !found; j++)
				found = q->v[j].since == q->w[i].w.since &&
					strcmp(q->v[j].label, q->w[i].w.label) == 0;
			if (!found)
				ret = zero_row(q, q->w[i].period, q->w[i].w.label);
		}
		if (ret == 0 && q->n)
			qsort(q->v, q->n, sizeof(*q->v), qrow_cmp_window);
		return ret;
	}
	for (size_t i = 0; i < have && ret == 0; i++) {
		if (i && strcmp(q->v[i].period, q->v[i - 1].period) == 0)
			continue; /* each period once */
		for (size_t l = 0; l < q->nlabels && ret == 0; l++) {
			bool found = false;

			for (size_t j = i; j < have && !found &&
			     strcmp(q->v[j].period, q->v[i].period) == 0; j++)
				found = strcmp(q->v[j].label, q->labels[l]) == 0;
			if (!found)
				ret = zero_row(q, q->v[i].period, q->labels[l]);
		}
	}
	if (ret == 0 && q->n)
		qsort(q->v, q->n, sizeof(*q->v), qrow_cmp_period);
	return ret;
}

/* This host's time zone as an IANA name, for the central database's
 * periods in local time: $TZ, else the zone /etc/localtime links to, else
 * /etc/timezone, else UTC (a zone PostgreSQL cannot name otherwise). */
const char *query_local_zone(char *buf, size_t size)
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

/* The rows of the store for q: per period, per cycle, or the 95th
 * percentiles. */
static int query_store(struct source *s, struct query *q, struct store_query *sq,
		       struct err *e)
{
	struct store_wquery wq = { .per_addr = sq->per_addr, .merge_hosts = sq->merge_hosts,
				   .sum_classes = sq->sum_classes, .addr = sq->addr,
				   .cls = sq->cls, .host = sq->host, .netns = sq->netns,
				   .account = sq->account };
	int ret;

	if (q->mode == MODE_PERIOD) {
		if (q->o->all && (ret = query_labels(s, q, e)) < 0)
			return ret;
		return source_query(s, sq, q->stream ? print_json : keep_row, q, e);
	}
	if ((ret = query_windows(s, q, sq, e)) < 0)
		return ret;
	if (!q->nw) /* no label (q->w NULL): nothing to read */
		return 0;
	wq.nw = q->nw;
	/* store_window_* read a plain array of windows */
	{
		struct store_window *v = malloc(q->nw * sizeof(*v));

		if (!v)
			return err_setn(e, -ENOMEM, "out of memory");
		for (size_t i = 0; i < q->nw; i++) {
			v[i] = q->w[i].w;
			if (q->bo && q->mode == MODE_P95 &&
			    (q->bo->sample_since < v[i].since || q->bo->sample_only))
				v[i].since = q->bo->sample_since;
		}
		wq.w = v;
		if (q->mode == MODE_P95 && q->bo && !(q->tot = calloc(q->nw, sizeof(*q->tot))))
			ret = -ENOMEM;
		else if (q->mode == MODE_P95) {
			wq.merge_hosts = true;
			wq.sum_classes = true;
			ret = source_window_samples(s, &wq, p95_sample, q, e);
			ret = ret ? ret : p95_flush(q);
		} else {
			ret = source_window_query(s, &wq, keep_row, q, e);
		}
		free(v);
	}
	return ret == -ENOMEM ? err_setn(e, ret, "out of memory") : ret;
}

/* What was collected, in the format asked for. */
static int query_print(struct query *q)
{
	int ret = 0;

	if (q->mode == MODE_P95) {
		if (q->o->all)
			ret = p95_zero_rows(q);
		if (ret == 0)
			print_p95(q);
		return ret;
	}
	if (q->o->all && (ret = zero_rows(q)) < 0)
		return ret;
	if (q->fmt == FMT_TABLE)
		print_table(q);
	else if (q->fmt == FMT_CSV)
		ret = print_csv_rows(q);
	else if (!q->stream)
		ret = print_json_rows(q);
	return ret;
}

int query_report(const struct report_opts *o, const char *store_path, const char *here,
		 bool classes, struct err *e)
{
	struct store_query sq = { .by = TIER_DAY, .utc = o->utc, .label = o->label,
				  .since = INT64_MIN, .until = INT64_MAX, .cls = o->cls,
				  .host = o->host, .netns = o->netns, .account = o->account };
	struct query q = { .classes = classes, .now = (int64_t)time(NULL) };
	struct report_opts eff;
	char canon[ADDR_STRLEN];
	struct source *s = NULL;
	int ret = query_options(o, &sq, &q, &eff, canon, e);

	if (ret < 0)
		return ret;
	sq.merge_hosts = o->merge_hosts;
	q.stream = q.fmt == FMT_JSON && q.mode == MODE_PERIOD && !o->all;
	/* both sources give the same rows to the same printers */
	if (o->postgresql) {
		char tz[256];

		ret = source_open_pg(&s, o->postgresql, query_local_zone(tz, sizeof(tz)), e);
	} else {
		ret = source_open_store(&s, store_path, here, e);
	}
	if (ret < 0) {
		query_free(&q);
		return ret;
	}
	ret = query_store(s, &q, &sq, e);
	if (ret == 0 && query_print(&q) < 0)
		ret = err_setn(e, -ENOMEM, "out of memory");
	source_close(s);
	query_free(&q);
	if (ret == 0 && fflush(stdout) != 0) {
		e->msg[0] = '\0'; /* as for every command: exit 3, nothing said */
		return -EIO;
	}
	return ret == -ENOENT ? -EIO : ret; /* -ENOENT says "no database" */
}

/* ---- the same numbers for nftally serve ---- */

/* One pass of report over s: --cycle o->cycle, with or without --p95
 * (with bo: serve's one read, query_bills_opts.sample). */
static int bills_pass(struct source *s, const struct report_opts *o, int64_t now,
		      const struct query_bills_opts *bo, struct query *q, struct err *e)
{
	struct store_query sq = { .by = TIER_DAY, .since = INT64_MIN, .until = INT64_MAX,
				  .label = o->label, .host = o->host, .netns = o->netns,
				  .account = o->account };
	struct report_opts eff;
	char canon[ADDR_STRLEN];
	int ret;

	*q = (struct query){ .now = now, .bo = bo };
	if ((ret = query_options(o, &sq, q, &eff, canon, e)) < 0)
		return ret;
	/* q->o points at eff: keep it for the pass only */
	sq.merge_hosts = o->merge_hosts;
	ret = query_store(s, q, &sq, e);
	q->o = o;
	return ret;
}

/* Can the totals of p's windows be the sums of the samples its read gave
 * (p.tot)?  When the samples hold every count of every window: report's
 * totals are then the same samples summed by the store (STORE_FINEST). */
static bool bills_from_samples(struct source *s, const struct query *p)
{
	int64_t from = source_samples_from(s);

	if (!p->tot)
		return false;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i].w.since < from)
			return false;
	return true;
}

/* The totals of window w into x: from the samples' sums (tot), else from
 * the rows of the totals' pass t from *j on (in window order). */
static void bills_totals(const struct query *t, size_t *j, const struct qwin *w,
			 const struct counts *tot, struct query_bill *x)
{
	if (tot) {
		x->c = *tot;
		return;
	}
	while (*j < t->n && window_cmp(t->v[*j].label, t->v[*j].since, NULL, w->w.label,
				       w->w.since, NULL) < 0)
		(*j)++;
	for (; *j < t->n && window_cmp(t->v[*j].label, t->v[*j].since, NULL, w->w.label,
				       w->w.since, NULL) == 0; (*j)++)
		counts_add(&x->c, &t->v[*j].c);
}

int query_bills(struct source *s, const struct query_bills_opts *bo, struct query_bills *out,
		struct err *e)
{
	static const uint64_t none;
	char since[32];
	struct report_opts o = { .cycle = bo->cycle, .bill = bill_policy_name(bo->bill),
				 .billing = bo->billing, .label = bo->label, .host = bo->host,
				 .netns = bo->netns, .merge_hosts = true, .format = "json" };
	struct query t = { 0 }, p = { 0 };
	bool one = false;
	size_t j = 0, k = 0;
	int ret;

	if (!bo->cycle) { /* --by cycle --since @SINCE */
		snprintf(since, sizeof(since), "@%" PRId64, bo->since);
		o.by = "cycle";
		o.since = since;
	}
	*out = (struct query_bills){ 0 };
	o.p95 = true;
	ret = bills_pass(s, &o, bo->now, bo->sample && bo->cycle ? bo : NULL, &p, e);
	o.p95 = false;
	if (ret == 0 && !(one = (bo->sample_only && p.tot) || bills_from_samples(s, &p)))
		ret = bills_pass(s, &o, bo->now, NULL, &t, e);
	out->from_samples = one;
	if (ret == 0 && p.nw && !(out->v = calloc(p.nw, sizeof(*out->v))))
		ret = err_setn(e, -ENOMEM, "out of memory");
	/* every window (label, cycle) with its rows (if any) and its
	 * percentile (zero slots when it has no samples: report --all's
	 * row); windows, rows and percentiles are all in (label, cycle)
	 * order, so one walk joins them */
	for (size_t i = 0; ret == 0 && i < p.nw; i++) {
		const struct qwin *w = &p.w[i];
		struct query_bill *x = &out->v[out->n];

		x->label = strdup(w->w.label);
		if (!x->label) {
			ret = err_setn(e, -ENOMEM, "out of memory");
			break;
		}
		out->n++;
		memcpy(x->period, w->period, sizeof(x->period));
		x->since = w->w.since;
		x->until = w->w.until;
		bills_totals(&t, &j, w, one ? &p.tot[i] : NULL, x);
		x->billed = bill_bytes(bo->bill, x->c.in_bytes, x->c.out_bytes);
		while (k < p.np && window_cmp(p.p[k].label, p.p[k].since, NULL, w->w.label,
					      w->w.since, NULL) < 0)
			k++;
		if (k < p.np && window_cmp(p.p[k].label, p.p[k].since, NULL, w->w.label,
					   w->w.since, NULL) == 0)
			x->p95 = p.p[k].r;
		else if (bo->sample_only) /* the caller makes every percentile */
			x->p95 = (struct bill_p95){ 0 };
		else if (bill_p95(&none, &none, 0, bill_slots(x->since, x->until, bo->now),
				  bo->bill, &x->p95) < 0)
			ret = err_setn(e, -ENOMEM, "out of memory");
	}
	query_free(&t);
	query_free(&p);
	if (ret < 0)
		query_bills_free(out);
	return ret;
}

void query_bills_free(struct query_bills *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].label);
	free(b->v);
	*b = (struct query_bills){ 0 };
}
