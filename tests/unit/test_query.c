/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for query's options (a refusal is the cli's usage error), a
 * report from a store that is not there (the cli's bad input), and the
 * report's table, CSV and JSON with the origin's columns, from a store of
 * three origins in a temporary directory, and a fourth summed with them
 * over hosts (--merge-hosts). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "query.h"
#include "store.h"
#include "test.h"

static void test_check(void)
{
	struct report_opts o = { 0 };
	struct err e = { "" };

	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "month", .format = "csv", .since = "2026-01",
				  .until = "@1790000000", .addr = "2001:db8::1" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "week" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--by: use 5min, hour, day, month or cycle");
	/* billing's options */
	o = (struct report_opts){ .cycle = "2026-13" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--cycle: use current, previous or YYYY-MM");
	o = (struct report_opts){ .cycle = "previous", .since = "2026-01" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--cycle names the period: not with --since or --until");
	o = (struct report_opts){ .cycle = "current", .by = "day" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--cycle and --p95 report whole cycles: --by cycle or none");
	o = (struct report_opts){ .p95 = true, .by = "hour" };
	test_assert(query_check(&o, &e) == -EINVAL);
	o = (struct report_opts){ .cycle = "current", .by = "cycle" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--cycle names one cycle: not with --by cycle");
	o = (struct report_opts){ .bill = "both" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--bill: use sum, max, in or out");
	o = (struct report_opts){ .units = "gb" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_assert(strncmp(e.msg, "--units: use bytes, kB", 22) == 0);
	o = (struct report_opts){ .at = "soon" };
	test_assert(query_check(&o, &e) == -EINVAL);
	/* the central database answers every option */
	o = (struct report_opts){ .p95 = true, .cycle = "previous", .all = true,
				  .at = "@1767225600", .postgresql = "dbname=x" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "5min", .postgresql = "dbname=x" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .cycle = "2026-02", .bill = "max", .units = "GiB", .p95 = true,
				  .all = true, .by_class = true, .at = "@1767225600" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .by = "cycle", .bill = "in", .units = "bytes",
				  .postgresql = NULL };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .bill = "out", .units = "TB", .by_class = true,
				  .postgresql = "dbname=x" };
	test_assert(query_check(&o, &e) == 0);
	o = (struct report_opts){ .format = "xml" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--format: use table, json or csv");
	o = (struct report_opts){ .since = "yesterday" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_streq(e.msg, "--since: bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], "
		   "YYYY-MM or @SECONDS)");
	o = (struct report_opts){ .addr = "198.18.0.300" };
	test_assert(query_check(&o, &e) == -EINVAL);
	test_assert(strncmp(e.msg, "--addr: ", 8) == 0);
}

static void test_no_store(void)
{
	struct report_opts o = { 0 };
	struct err e = { "" };

	test_assert(query_report(&o, "/nonexistent/nftally/t.db", NULL, false, &e) == -ENOENT);
}

static void record(struct store *s, const char *host, const char *netns, const char *account,
		   const char *addr, const char *label, struct counts c)
{
	struct report_row x = { .label = label, .d = c };
	struct report r = { .seq = 1, .time = 1767225660, .v = &x, .n = 1 };
	struct err e = { "" };

	test_assert(addr_parse(addr, &x.a, NULL) == 0);
	report_origin_init(&r.origin, host, netns, account, "nftally");
	test_assert(store_record_report(s, &r, &e) == 0);
}

/* What query_report prints for o, in buf. */
static void report_to(const struct report_opts *o, const char *path, char *buf, size_t size)
{
	char out[PATH_MAX];
	struct err e = { "" };
	int fd, saved;
	ssize_t n;

	snprintf(out, sizeof(out), "%s.out", path);
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	test_assert(fd >= 0);
	fflush(stdout);
	saved = dup(1);
	test_assert(saved >= 0 && dup2(fd, 1) == 1);
	test_assert(query_report(o, path, "node1", false, &e) == 0);
	fflush(stdout);
	test_assert(dup2(saved, 1) == 1);
	close(saved);
	n = pread(fd, buf, size - 1, 0);
	test_assert(n >= 0 && (size_t)n < size - 1);
	buf[n] = '\0';
	close(fd);
	unlink(out);
}

static void test_origin_columns(void)
{
	static const struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0 };
	char dir[] = "/tmp/nftally-test-query-XXXXXX", path[PATH_MAX], buf[4096];
	struct report_opts o = { .utc = true, .format = "csv" };
	struct err e = { "" };
	struct store *s;

	test_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/q.db", dir);
	test_assert(store_open(&s, path, "h1", NULL, &keep, &e) == 0);
	/* routed and bridged guests of one customer in one namespace: one row */
	record(s, "h1", "", "routed", "198.18.0.1", "cust", (struct counts){ 100, 1, 10, 1 });
	record(s, "h1", "", "bridged", "198.18.0.3", "cust", (struct counts){ 200, 2, 20, 2 });
	record(s, "h1", "qr-1", "routers", "198.18.0.1", "cust", (struct counts){ 1000, 10, 0, 0 });
	store_close(s);
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "period,host,netns,label,in_bytes,in_packets,out_bytes,out_packets\n"
		   "2026-01-01,h1,,cust,300,3,30,3\n"
		   "2026-01-01,h1,qr-1,cust,1000,10,0,0\n");
	o.per_addr = true;
	o.account = "bridged";
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "period,host,netns,label,addr,in_bytes,in_packets,out_bytes,out_packets\n"
		   "2026-01-01,h1,,cust,198.18.0.3,200,2,20,2\n");
	o = (struct report_opts){ .utc = true, .format = "json", .netns = "qr-1" };
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "{\"period\":\"2026-01-01\",\"host\":\"h1\",\"netns\":\"qr-1\","
		   "\"label\":\"cust\",\"in_bytes\":1000,\"in_packets\":10,\"out_bytes\":0,"
		   "\"out_packets\":0}\n");
	o = (struct report_opts){ .utc = true };
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "PERIOD      HOST  NETNS  LABEL    IN  IN_PKTS  OUT  OUT_PKTS\n"
		   "2026-01-01  h1           cust    300        3   30         3\n"
		   "2026-01-01  h1    qr-1   cust   1000       10    0         0\n"
		   "TOTAL                           1300       13   30         3\n");
	/* the namespace's column only when a row is from another one */
	o.netns = "";
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "PERIOD      HOST  LABEL   IN  IN_PKTS  OUT  OUT_PKTS\n"
		   "2026-01-01  h1    cust   300        3   30         3\n");
	/* --merge-hosts: the label wherever it was counted, one row */
	test_assert(store_open(&s, path, "h1", NULL, &keep, &e) == 0);
	record(s, "h2", "", "", "198.18.0.9", "cust", (struct counts){ 5, 1, 7, 1 });
	store_close(s);
	o = (struct report_opts){ .utc = true, .format = "csv", .merge_hosts = true };
	report_to(&o, path, buf, sizeof(buf));
	test_streq(buf, "period,host,netns,label,in_bytes,in_packets,out_bytes,out_packets\n"
		   "2026-01-01,*,*,cust,1305,14,37,4\n");
	unlink(path);
	snprintf(path, sizeof(path), "%s/q.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/q.db-shm", dir);
	unlink(path);
	test_assert(rmdir(dir) == 0);
}

int main(void)
{
	test_check();
	test_no_store();
	test_origin_columns();
	return 0;
}
