/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the dashboard without HTTP or root: serve_token_eq, who
 * a request's token makes it (operator on loopback without a token, a
 * customer on its label only, 401 and 403 otherwise, a customer's / sent
 * to its page), the overview's and a label's numbers against what was
 * recorded (a 503 while the first snapshot is made), the filtered
 * snapshots kept and forgotten, and a hostile label escaped on the pages.  A store of known
 * reports in a temporary directory, the refresher thread running. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "dash.h"
#include "serve.h"
#include "source.h"
#include "store.h"
#include "test.h"

#define T0 1767225600 /* 2026-01-01 00:00 UTC */
#define HOSTILE "<script>alert(1)</script>"

static void test_token_eq(void)
{
	test_assert(serve_token_eq("0123456789abcdef", "0123456789abcdef"));
	test_assert(!serve_token_eq("0123456789abcdef", "0123456789abcdeg"));
	test_assert(!serve_token_eq("0123456789abcdef", "0123456789abcde"));
	test_assert(!serve_token_eq("0123456789abcde", "0123456789abcdef"));
	test_assert(!serve_token_eq("", "x"));
	test_assert(serve_token_eq("", ""));
}

static void record(struct store *s, int64_t t, const char *addr, const char *label,
		   uint64_t in, uint64_t out, uint64_t seq)
{
	struct report_row x = { .label = label, .d = { in, 1, out, 1 } };
	struct report r = { .seq = seq, .time = t, .v = &x, .n = 1 };
	struct err e = { "" };

	test_assert(addr_parse(addr, &x.a, NULL) == 0);
	report_origin_init(&r.origin, "node1", "", "", "nftally");
	test_assert(store_record_report(s, &r, &e) == 0);
}

/* The query arguments of a request: "k=v&k=v" (no escapes) */
static const char *get(void *ctx, const char *k)
{
	static char v[256];
	const char *q = ctx, *p;
	size_t n = strlen(k);

	for (p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (strncmp(p, k, n) == 0 && p[n] == '=') {
			snprintf(v, sizeof(v), "%.*s", (int)strcspn(p + n + 1, "&"), p + n + 1);
			return v;
		}
	return NULL;
}

static unsigned ask(struct dash *d, const char *url, const char *query, const char *token,
		    struct dash_resp *rs)
{
	struct dash_req rq = { .url = url, .token = token, .get = get, .ctx = (void *)query };

	free(rs->body);
	free(rs->location);
	dash_answer(d, &rq, rs);
	return rs->status;
}

static void test_dash(void)
{
	static const struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0, 0 };
	char dir[] = "/tmp/nftally-test-dash-XXXXXX", path[PATH_MAX];
	struct dash d = { .bill = BILL_SUM, .fixed_at = true, .at = T0 + 1800, .loopback = true,
			  .dygraphs = SERVE_DYGRAPHS_DEFAULT };
	struct dash_token tok = { "customer-token-0123", "cust-a" };
	struct dash_resp rs = { 0 };
	struct store *s;
	struct source *bg;
	struct err e = { "" };

	test_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.db", dir);
	test_assert(store_open(&s, path, "node1", "nftally", &keep, &e) == 0);
	/* cust-a: 3000 B in, 600 out in slot 0; 1500 in at slot 2; December: 100 in */
	record(s, T0 + 300, "198.18.0.1", "cust-a", 3000, 600, 1);
	record(s, T0 + 900, "198.18.0.1", "cust-a", 1500, 0, 2);
	record(s, T0 - 600, "198.18.0.1", "cust-a", 100, 0, 3);
	record(s, T0 + 300, "198.18.0.2", "cust-b", 10, 20, 4);
	record(s, T0 + 300, "198.18.0.3", HOSTILE, 1, 1, 5);
	store_close(s);
	test_assert(source_open_store(&d.store, path, "node1", &e) == 0);
	test_assert(source_open_store(&bg, path, "node1", &e) == 0);
	d.tokens = &tok;
	d.ntokens = 1;
	test_assert(dash_start(&d, bg, &e) == 0);

	/* the operator, on loopback without a token file; while the first
	 * snapshot is made the overview answers 503 at once (for at most 10 s) */
	for (int i = 0; ask(&d, "/api/overview", "sort=label", NULL, &rs) == 503; i++) {
		test_assert(i < 1000 && strstr(rs.body, "{\"building\":true,"));
		test_assert(rs.retry_after == 5);
		usleep(10000);
	}
	test_assert(rs.status == 200);
	test_assert(strstr(rs.body, "\"total\":3,"));
	/* cust-a's January: 4500 in, 600 out, 5100 billed; 6 slots ended by
	 * +1800, k = 6: the largest slot, in 3000 B = 80 bit/s, sum 3600 B = 96 */
	test_assert(strstr(rs.body, "{\"label\":\"cust-a\",\"current\":{\"period\":\"2026-01\","
			   "\"cycle_start\":1767225600,\"cycle_end\":1769904000,\"in_bytes\":4500,"
			   "\"in_packets\":2,\"out_bytes\":600,\"out_packets\":2,\"bill\":\"sum\","
			   "\"billed_bytes\":5100,\"slots\":6,\"rank\":6,\"in_p95_bps\":80,"
			   "\"out_p95_bps\":16,\"bill_p95_bps\":96}"));
	test_assert(strstr(rs.body, "\"previous\":{\"period\":\"2025-12\""));
	test_assert(ask(&d, "/api/overview", "sort=billed&per_page=1&page=2", NULL, &rs) == 200);
	test_assert(strstr(rs.body, "\"labels\":[{\"label\":\"cust-b\""));
	test_assert(ask(&d, "/api/label", "l=cust-a", NULL, &rs) == 200);
	test_assert(strstr(rs.body, "\"cycles\":[{\"period\":\"2026-01\""));
	/* the HTML: the hostile label escaped, never raw */
	test_assert(ask(&d, "/", "", NULL, &rs) == 200);
	test_assert(strstr(rs.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	test_assert(strstr(rs.body, "href=\"/label?l=%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
	test_assert(!strstr(rs.body, HOSTILE));
	test_assert(ask(&d, "/label", "l=" HOSTILE, NULL, &rs) == 200);
	test_assert(!strstr(rs.body, HOSTILE));
	test_assert(ask(&d, "/api/label", "l=nobody", NULL, &rs) == 404);
	test_assert(ask(&d, "/api/label", "", NULL, &rs) == 400);
	test_assert(ask(&d, "/nowhere", "", NULL, &rs) == 404);

	/* a customer: its label only */
	test_assert(ask(&d, "/api/label", "l=cust-a", tok.token, &rs) == 200);
	test_assert(ask(&d, "/label", "l=cust-a", tok.token, &rs) == 200);
	test_assert(ask(&d, "/api/label", "l=cust-b", tok.token, &rs) == 403);
	test_assert(ask(&d, "/label", "l=cust-b", tok.token, &rs) == 403);
	test_assert(ask(&d, "/api/overview", "", tok.token, &rs) == 403);
	test_assert(ask(&d, "/", "", tok.token, &rs) == 303);
	test_streq(rs.location, "/label?l=cust-a");
	test_assert(ask(&d, "/api/label", "l=cust-a", "customer-token-0124", &rs) == 401);

	/* filtered overviews, made by the refresher too (a request waits
	 * 1.5 s for new filters, then 503): the last DASH_FILTERS sets asked
	 * are kept, the one asked for longest ago taken for new ones; one not
	 * asked for DASH_FILTER_IDLE seconds is forgotten */
	for (int i = 0; i <= DASH_FILTERS; i++) {
		char q[32];

		snprintf(q, sizeof(q), i < DASH_FILTERS ? "host=h%d" : "host=node1", i);
		for (int j = 0; ask(&d, "/api/overview", q, NULL, &rs) == 503; j++)
			test_assert(j < 20 && rs.retry_after == 5);
		test_assert(rs.status == 200);
		test_assert(strstr(rs.body, i < DASH_FILTERS ? "\"total\":0," : "\"total\":3,"));
		/* h2 asked for longest ago: node1 takes its slot */
		pthread_mutex_lock(&d.lock);
		for (int j = 0; i == DASH_FILTERS - 1 && j < DASH_FILTERS; j++)
			if (strcmp(d.filters[j].host, "h2") == 0)
				d.filters[j].asked -= 100;
		pthread_mutex_unlock(&d.lock);
	}
	pthread_mutex_lock(&d.lock);
	int h0 = 0, h2 = 0, node1 = 0;

	for (int i = 0; i < DASH_FILTERS; i++) {
		test_assert(d.filters[i].asked && d.filters[i].snap && !d.filters[i].netns);
		h0 += strcmp(d.filters[i].host, "h0") == 0;
		h2 += strcmp(d.filters[i].host, "h2") == 0;
		if (strcmp(d.filters[i].host, "node1") == 0) {
			node1++;
			d.filters[i].asked -= DASH_FILTER_IDLE;
		}
	}
	test_assert(h0 == 1 && h2 == 0 && node1 == 1);
	pthread_cond_signal(&d.cond);
	pthread_mutex_unlock(&d.lock);
	for (int i = 0, kept = DASH_FILTERS; kept == DASH_FILTERS; i++) {
		test_assert(i < 500);
		usleep(10000);
		pthread_mutex_lock(&d.lock);
		kept = 0;
		for (int j = 0; j < DASH_FILTERS; j++)
			kept += d.filters[j].asked != 0;
		pthread_mutex_unlock(&d.lock);
	}

	/* not loopback (or a token file): no token, nothing */
	d.loopback = false;
	test_assert(ask(&d, "/api/overview", "", NULL, &rs) == 401);
	test_assert(ask(&d, "/api/label", "l=cust-a", NULL, &rs) == 401);
	test_assert(ask(&d, "/api/label", "l=cust-a", tok.token, &rs) == 200);
	test_assert(ask(&d, "/static/nftally.css", "", NULL, &rs) == 200);
	/* only our two files and the library: no path, no other name */
	test_assert(ask(&d, "/static/../d.db", "", NULL, &rs) == 401);
	test_assert(ask(&d, "/static/d.db", "", NULL, &rs) == 404);

	free(rs.body);
	free(rs.location);
	d.tokens = NULL;
	d.ntokens = 0;
	dash_finish(&d);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.db-shm", dir);
	unlink(path);
	test_assert(rmdir(dir) == 0);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	test_token_eq();
	test_dash();
	return 0;
}
