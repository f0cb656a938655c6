/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the targets file parser: formats it must accept (vzlist,
 * CRLF, comments, hostile but harmless labels), every error with its exact
 * message, duplicate and overlap detection, and a large generated file. */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "targets.h"
#include "test.h"

static void parse_ok(struct targets *t, const char *text)
{
	struct err e = { "" };

	targets_init(t);
	if (targets_parse_buffer(t, "targets", text, strlen(text), &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

/* Parse a buffer that must fail with exactly `want`; t must end up empty. */
static void parse_err_n(const char *text, size_t len, const char *want)
{
	struct targets t;
	struct err e = { "" };

	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "targets", text, len, &e) == -EINVAL);
	test_streq(e.msg, want);
	test_assert(t.n == 0 && t.nlabels == 0 && !t.v && !t.labels);
	targets_finish(&t);
}

static void parse_err(const char *text, const char *want)
{
	parse_err_n(text, strlen(text), want);
}

static const char *label_of(const struct targets *t, const char *addr)
{
	struct addr a;
	const struct target *x;

	test_assert(addr_parse(addr, &a, NULL) == 0);
	x = targets_find(t, &a);
	return x ? targets_label(t, x) : NULL;
}

static void test_basic(void)
{
	struct targets t;
	char buf[ADDR_STRLEN];
	size_t i;

	parse_ok(&t, "# billing groups\n"
		     "\n"
		     "web 198.18.0.1 198.18.4.0/24\n"
		     "db\t2001:db8::1\t2001:db8:1::/48   # primary\n"
		     "web 198.18.0.2\n");
	test_assert(t.n == 5 && t.nlabels == 2);
	test_streq(t.labels[0], "web");
	test_streq(t.labels[1], "db");
	/* Sorted by addr_cmp: IPv4 first, then by address. */
	test_streq(addr_format(&t.v[0].addr, buf), "198.18.0.1");
	test_streq(addr_format(&t.v[1].addr, buf), "198.18.0.2");
	test_streq(addr_format(&t.v[2].addr, buf), "198.18.4.0/24");
	test_streq(addr_format(&t.v[3].addr, buf), "2001:db8::1");
	test_streq(addr_format(&t.v[4].addr, buf), "2001:db8:1::/48");
	for (i = 1; i < t.n; i++)
		test_assert(addr_cmp(&t.v[i - 1].addr, &t.v[i].addr) < 0);
	test_assert(t.v[0].line == 3 && t.v[1].line == 5 && t.v[3].line == 4);
	test_streq(label_of(&t, "198.18.0.2"), "web");
	test_streq(label_of(&t, "2001:db8:1::/48"), "db");
	test_assert(label_of(&t, "198.18.4.1") == NULL); /* exact match only */
	test_assert(label_of(&t, "198.18.0.3") == NULL);
	targets_finish(&t);
	targets_finish(&t); /* twice is harmless */
	test_assert(t.n == 0 && t.v == NULL);
}

static void test_vzlist(void)
{
	struct targets t;
	struct err e = { "" };
	char path[4096];

	parse_ok(&t, "       101 198.18.0.1 198.18.0.2\n"
		     "       102 -\n"
		     "       103 2001:db8::1 198.18.0.3\n");
	test_assert(t.n == 4 && t.nlabels == 3);
	test_streq(t.labels[1], "102"); /* kept though it has no address */
	test_streq(label_of(&t, "198.18.0.3"), "103");
	test_streq(label_of(&t, "2001:db8::1"), "103");
	targets_finish(&t);

	snprintf(path, sizeof(path), "%s/tests/unit/data/vzlist.txt", SRCDIR);
	targets_init(&t);
	test_assert(targets_parse_file(&t, path, &e) == 0);
	test_assert(t.n == 4 && t.nlabels == 3);
	test_streq(label_of(&t, "198.18.0.1"), "101");
	targets_finish(&t);
}

static void test_layout(void)
{
	struct targets t;

	/* CRLF, no final newline, '#' inside a label, a label on several lines,
	 * comments right after a field's blanks, "-" with a comment after it */
	parse_ok(&t, "a 198.18.0.1\r\nvm#1 198.18.0.2 # web\r\n"
		     "  # indented comment\r\n\t\r\n"
		     "#a 1.2.3.999\n"
		     "a 198.18.0.3\t#x\nb -  # empty\na 198.18.0.4");
	test_assert(t.n == 4 && t.nlabels == 3);
	test_streq(t.labels[1], "vm#1");
	test_streq(t.labels[2], "b");
	test_streq(label_of(&t, "198.18.0.4"), "a");
	test_assert(t.v[3].line == 8);
	targets_finish(&t);

	parse_ok(&t, "");
	test_assert(t.n == 0 && t.nlabels == 0);
	targets_finish(&t);
	parse_ok(&t, "\n\n# nothing\n");
	test_assert(t.n == 0);
	targets_finish(&t);
}

/* Labels never reach nft syntax (counter names are derived from addresses),
 * so shell and nft metacharacters are just bytes; multi-byte UTF-8 is fine. */
static void test_hostile_labels_accepted(void)
{
	static const char *const labels[] = {
		"\"quoted\"", "'single'", "a;b", "{braces}", "}", "$(rm)", "`id`",
		"\\back", "semi;colon}\"", "Z\xc3\xbcrich", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\xef\xbf\xbf", "-", "--", "x=y", "a/b",
	};
	char text[256];
	struct targets t;
	size_t i;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		snprintf(text, sizeof(text), "%s 198.18.0.%zu\n", labels[i], i + 1);
		parse_ok(&t, text);
		test_assert(t.n == 1 && t.nlabels == 1);
		test_streq(t.labels[0], labels[i]);
		targets_finish(&t);
	}
	/* A newline in a would-be label ends the line: two lines, not one. */
	parse_ok(&t, "ab 198.18.0.2\ncd 198.18.0.1\n");
	test_assert(t.n == 2 && t.nlabels == 2);
	test_streq(t.labels[1], "cd");
	targets_finish(&t);
	parse_err("ab\ncd 198.18.0.1\n", "targets:1: missing address");
}

static void test_label_length(void)
{
	char text[512];
	struct targets t;

	memset(text, 'L', 128);
	strcpy(text + 128, " 198.18.0.1\n");
	parse_ok(&t, text);
	test_assert(strlen(t.labels[0]) == 128);
	targets_finish(&t);

	memset(text, 'L', 129);
	strcpy(text + 129, " 198.18.0.1\n");
	parse_err(text, "targets:1: label is longer than 128 bytes");

	/* 128 bytes of 2-byte characters is fine: the limit is in bytes */
	memset(text, 0, sizeof(text));
	for (int i = 0; i < 64; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	strcpy(text + 128, " 198.18.0.1\n");
	parse_ok(&t, text);
	targets_finish(&t);
}

static void test_label_bytes_rejected(void)
{
	parse_err("ok 198.18.0.1\nbad\x7f 198.18.0.2\n",
		  "targets:2: label contains a control character");
	parse_err("a\x01 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("a\rb 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("a\vb 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("\x1b[31m 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("a\xc2\x85 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("a\xc2\x9f 198.18.0.1\n", "targets:1: label contains a control character");
	parse_err("\xff 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("a\x80 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xc0\xaf 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xe0\x80\xaf 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xf0\x80\x80\xaf 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xed\xa0\x80 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xf4\x90\x80\x80 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("\xe2\x82 198.18.0.1\n", "targets:1: label is not valid UTF-8");
	parse_err("a\xe2\x82", "targets:1: label is not valid UTF-8");
}

static void test_line_errors(void)
{
	static const char nul[] = "a 198.18.0.1\nb 198.18.0.2\nc\0 198.18.0.3\n";
	size_t big = 100 * 1024;
	char *text = malloc(big + 64);

	parse_err_n(nul, sizeof(nul) - 1, "targets:3: NUL byte in line");
	parse_err_n("a 1.2.3.4 \0", 11, "targets:1: NUL byte in line");

	test_assert(text);
	strcpy(text, "a 198.18.0.1\n");
	memset(text + 13, ' ', big);
	strcpy(text + 13 + big, "\n");
	parse_err(text, "targets:2: line is longer than 65536 bytes");

	/* exactly TARGETS_LINE_MAX bytes (CR not counted) is fine; one more not */
	memset(text, ' ', TARGETS_LINE_MAX);
	memcpy(text, "a 198.18.0.1", 12);
	strcpy(text + TARGETS_LINE_MAX, "\r\n");
	{
		struct targets t;

		parse_ok(&t, text);
		test_assert(t.n == 1);
		targets_finish(&t);
	}
	strcpy(text + TARGETS_LINE_MAX, " ");
	parse_err(text, "targets:1: line is longer than 65536 bytes");
	free(text);
}

static void test_address_errors(void)
{
	parse_err("a 1.2.3.4\nb 5.6.7.8\nc 9.9.9.9\nd 1.2.3.999\n",
		  "targets:4: bad address '1.2.3.999': bad address");
	parse_err("a 198.18.0.1/24\n",
		  "targets:1: bad address '198.18.0.1/24': host bits set in prefix");
	parse_err("a 198.18.0.0/33\n",
		  "targets:1: bad address '198.18.0.0/33': bad prefix length");
	parse_err("a 198.18.0.0/+24\n",
		  "targets:1: bad address '198.18.0.0/+24': bad prefix length");
	parse_err("a 2001:db8::1/64\n",
		  "targets:1: bad address '2001:db8::1/64': host bits set in prefix");
	parse_err("a 198.18.0.1;\n", "targets:1: bad address '198.18.0.1;': bad address");
	parse_err("a 198.18.0.1,198.18.0.2\n",
		  "targets:1: bad address '198.18.0.1,198.18.0.2': bad address");
	parse_err("a - 198.18.0.1\n", "targets:1: bad address '-': bad address");
	parse_err("a 198.18.0.1 -\n", "targets:1: bad address '-': bad address");
	parse_err("a - -\n", "targets:1: bad address '-': bad address");
	parse_err("a \xe2\x82\xac\n", "targets:1: bad address '?" "??" "': bad address");
	parse_err("a 1.2.3.4\x1b[2J\n", "targets:1: bad address '1.2.3.4?[2J': bad address");
	parse_err("a 1111111111111111111111111111111111111111111111111111111111111111"
		  "1111111111111111111111111111111111111111\n",
		  "targets:1: bad address '1111111111111111111111111111111111111111"
		  "111111111111111111111111111111111111...': bad address");
	parse_err("x\n", "targets:1: missing address");
	parse_err("  x   \n", "targets:1: missing address");
	parse_err("x # no address\n", "targets:1: missing address");
	parse_err("a 1.2.3.4\r\nx\r\n", "targets:2: missing address");
}

static void test_duplicates_overlaps(void)
{
	parse_err("a 198.18.0.1\nb 198.18.0.9\n\n\n\n\n\n\nc 198.18.0.1\n",
		  "targets:9: duplicate address 198.18.0.1 (line 1)");
	parse_err("a 198.18.0.7\na 198.18.0.1\na 198.18.0.1\n",
		  "targets:3: duplicate address 198.18.0.1 (line 2)");
	parse_err("a 198.18.0.1 198.18.0.1\n",
		  "targets:1: duplicate address 198.18.0.1 (line 1)");
	parse_err("a 1.1.1.1\nb 1.1.1.2\nn 198.18.0.0/24\nd 1.1.1.3\ne 1.1.1.4\n"
		  "f 1.1.1.5\ng 198.18.0.5\n",
		  "targets:7: 198.18.0.5 overlaps 198.18.0.0/24 (line 3)");
	parse_err("a 198.18.0.5\nb 198.18.0.0/24\n",
		  "targets:2: 198.18.0.0/24 overlaps 198.18.0.5 (line 1)");
	parse_err("a 198.18.0.0/16\nb 198.18.4.0/24\n",
		  "targets:2: 198.18.4.0/24 overlaps 198.18.0.0/16 (line 1)");
	parse_err("a 198.18.4.0/24\nb 198.18.0.0/16\n",
		  "targets:2: 198.18.0.0/16 overlaps 198.18.4.0/24 (line 1)");
	parse_err("a 198.18.4.0/24\nb 198.18.4.0/24\n",
		  "targets:2: duplicate address 198.18.4.0/24 (line 1)");
	parse_err("a 0.0.0.0/0\nb 255.255.255.255\n",
		  "targets:2: 255.255.255.255 overlaps 0.0.0.0/0 (line 1)");
	/* IPv6 */
	parse_err("a 2001:db8::1\nb 2001:DB8:0::1\n",
		  "targets:2: duplicate address 2001:db8::1 (line 1)");
	parse_err("a 2001:db8::/32\nb 198.18.0.1\nc 2001:db8:ffff::1\n",
		  "targets:3: 2001:db8:ffff::1 overlaps 2001:db8::/32 (line 1)");
	parse_err("a 2001:db8:1::/48\nb 2001:db8::/32\n",
		  "targets:2: 2001:db8::/32 overlaps 2001:db8:1::/48 (line 1)");
	/* The earliest conflict in file order wins, even if a containing prefix
	 * from further down sorts first. */
	parse_err("a 10.1.0.0/16\nb 10.1.2.3\nc 10.2.0.1\nd 10.0.0.0/8\n",
		  "targets:2: 10.1.2.3 overlaps 10.1.0.0/16 (line 1)");
	parse_err("a 10.0.0.1\nb 10.0.0.2\nc 10.0.0.0/8\nd 10.0.0.2\n",
		  "targets:3: 10.0.0.0/8 overlaps 10.0.0.1 (line 1)");
	/* ... and wins over a syntax error further down */
	parse_err("a 198.18.0.1\nb 198.18.0.1\nc 1.2.3.999\n",
		  "targets:2: duplicate address 198.18.0.1 (line 1)");
	parse_err("a 198.18.0.1\nc 1.2.3.999\nb 198.18.0.1\n",
		  "targets:2: bad address '1.2.3.999': bad address");
	/* Different families never overlap; adjacent prefixes do not either */
	{
		struct targets t;

		parse_ok(&t, "a 0.0.0.0/1\nb 128.0.0.0/1\nc ::1 ::ffff:0.0.0.1\n"
			     "d 8000::/1\n");
		test_assert(t.n == 5);
		targets_finish(&t);
		parse_ok(&t, "a 198.18.0.0/24 198.18.1.0/24 198.18.2.0 198.18.3.0/24\n");
		targets_finish(&t);
	}
	parse_err("a 0.0.0.0/1\nb 128.0.0.0/1\nc ::1 ::ffff:0.0.0.1\n"
		  "d 8000::/1\ne ::/96\nf 198.18.0.0/31\n",
		  "targets:5: ::/96 overlaps ::1 (line 3)");
}

static void test_add_finalize(void)
{
	struct targets t;
	struct err e = { "" };
	struct addr a, b, p;

	test_assert(addr_parse("198.18.0.1", &a, NULL) == 0);
	test_assert(addr_parse("2001:db8::1", &b, NULL) == 0);
	test_assert(addr_parse("198.18.0.0/24", &p, NULL) == 0);
	targets_init(&t);
	test_assert(targets_add(&t, "host", &b) == 0);
	test_assert(targets_add(&t, "host", &a) == 0);
	test_assert(targets_add(&t, "other", &a) == 0); /* ignored */
	test_assert(targets_finalize(&t, "host addresses", &e) == 0);
	test_assert(t.n == 2 && t.nlabels == 1);
	test_assert(addr_cmp(&t.v[0].addr, &a) == 0 && t.v[0].line == 0);
	test_streq(targets_label(&t, targets_find(&t, &b)), "host");
	test_assert(targets_add(&t, "net", &p) == 0);
	test_assert(targets_finalize(&t, "host addresses", &e) == -EINVAL);
	test_streq(e.msg, "host addresses: 198.18.0.1 overlaps 198.18.0.0/24");
	targets_finish(&t);

	/* in order: a walk; out of order or missing: a search */
	targets_init(&t);
	test_assert(targets_add(&t, "host", &a) == 0);
	test_assert(targets_add(&t, "host", &b) == 0);
	test_assert(targets_finalize(&t, "host addresses", &e) == 0);
	size_t at = 0;
	test_assert(targets_has(&t, &a, &at) && at == 0);
	test_assert(targets_has(&t, &b, &at) && at == 1);
	test_assert(targets_has(&t, &a, &at) && at == 1);
	test_assert(!targets_has(&t, &p, &at));
	targets_finish(&t);

	targets_init(&t);
	test_assert(targets_finalize(&t, "x", NULL) == 0);
	test_assert(targets_find(&t, &a) == NULL);
	at = 0;
	test_assert(!targets_has(&t, &a, &at) && at == 0);
	targets_finish(&t);
}

static void test_file_errors(void)
{
	struct targets t;
	struct err e = { "" };

	targets_init(&t);
	test_assert(targets_parse_file(&t, "/nonexistent/nftally/targets", &e) == -ENOENT);
	test_streq(e.msg, "/nonexistent/nftally/targets: cannot open: No such file or directory");
	test_assert(targets_parse_file(&t, "/", &e) == -EISDIR);
	test_streq(e.msg, "/: cannot read: Is a directory");
	test_assert(targets_parse_buffer(&t, "t", "x\n", 2, NULL) == -EINVAL);
	targets_finish(&t);
}

/* 200,000 lines through a real file, as a large vzlist host would have. */
static void test_large_file(void)
{
	char path[] = "/tmp/nftally-test-targets-XXXXXX";
	struct targets t;
	struct err e = { "" };
	struct addr a;
	clock_t t0;
	FILE *f;
	int fd;
	unsigned i;

	fd = mkstemp(path);
	test_assert(fd >= 0);
	f = fdopen(fd, "w");
	test_assert(f);
	/* Reverse order so the sort does real work; a /24 and an IPv6 host too. */
	for (i = 200000; i-- > 0;) {
		if (i % 2)
			fprintf(f, "  %u 10.%u.%u.%u 2001:db8::%x:%x\n", i, i >> 16,
				(i >> 8) & 255, i & 255, i >> 16, i & 0xffff);
		else
			fprintf(f, "vm%u 10.%u.%u.%u # even\n", i / 4, i >> 16,
				(i >> 8) & 255, i & 255);
	}
	fprintf(f, "net 198.18.0.0/24 2001:db8:1::/48");
	test_assert(fclose(f) == 0);

	t0 = clock();
	targets_init(&t);
	test_assert(targets_parse_file(&t, path, &e) == 0);
	test_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	test_assert(t.n == 300002);
	test_assert(t.nlabels == 100000 + 50000 + 1);
	test_assert(addr_parse("10.1.134.159", &a, NULL) == 0); /* i = 99999 */
	test_assert(targets_find(&t, &a)->line == 200000 - 99999);
	test_streq(label_of(&t, "10.1.134.159"), "99999");
	test_streq(label_of(&t, "2001:db8::1:869f"), "99999");
	test_streq(label_of(&t, "10.1.134.158"), "vm24999");
	test_streq(label_of(&t, "10.1.134.160"), "vm25000");
	test_streq(label_of(&t, "2001:db8:1::/48"), "net");
	targets_finish(&t);
	unlink(path);
}

int main(void)
{
	test_basic();
	test_vzlist();
	test_layout();
	test_hostile_labels_accepted();
	test_label_length();
	test_label_bytes_rejected();
	test_line_errors();
	test_address_errors();
	test_duplicates_overlaps();
	test_add_finalize();
	test_file_errors();
	test_large_file();
	return 0;
}
