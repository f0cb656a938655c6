/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the labels file: longest-prefix lookups in both families,
 * every error with its line, a bad file changing nothing, and 100,000
 * lines. */
#include <errno.h>
#include <stdint.h>

#include "labels.h"
#include "test.h"

static struct labels L;

static void parse_ok(const char *text)
{
	struct err e = { "" };

	if (labels_parse_buffer(&L, "labels", text, strlen(text), &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

/* Must fail with exactly `want` and leave what L held. */
static void parse_err_n(const char *text, size_t len, const char *want)
{
	struct err e = { "" };
	struct labels before = L;

	test_assert(labels_parse_buffer(&L, "labels", text, len, &e) == -EINVAL);
	test_streq(e.msg, want);
	test_assert(memcmp(&L, &before, sizeof(L)) == 0);
}

static void parse_err(const char *text, const char *want)
{
	parse_err_n(text, strlen(text), want);
}

/* The label of s (an address or prefix), "(none)" for NULL. */
static const char *lookup(const char *s)
{
	struct addr a;
	const char *r;

	test_assert(addr_parse(s, &a, NULL) == 0);
	r = labels_lookup(&L, &a);
	return r ? r : "(none)";
}

static void test_lookup(void)
{
	struct addr a;

	labels_init(&L);
	test_streq(lookup("198.18.9.1"), "(none)");
	parse_ok("# Neutron's floating IPs\n"
		 "198.18.9.1 fip-vm1\n"
		 "  198.18.9.0/24\ttenant-a    # the project's range\r\n"
		 "\n"
		 "198.18.0.0/15 provider\n"
		 "2001:db8:9::1 fip-v6\n"
		 "2001:db8:9::/48 tenant-a\n"
		 "0.0.0.0/0 \"any-v4\"\n"
		 "198.18.9.128/25 ünïcode-€\n");
	test_assert(L.n == 7);
	test_assert(L.nspan[0] == 5 && L.nspan[1] == 2);
	test_assert(L.span[0][0].plen == 32 && L.span[0][4].plen == 0);
	test_assert(L.span[1][0].plen == 128 && L.span[1][1].plen == 48);
	test_streq(lookup("198.18.9.1"), "fip-vm1");
	test_streq(lookup("198.18.9.2"), "tenant-a");
	test_streq(lookup("198.18.9.0"), "tenant-a");
	test_streq(lookup("198.18.9.127"), "tenant-a");
	test_streq(lookup("198.18.9.128"), "ünïcode-€");
	test_streq(lookup("198.18.9.255"), "ünïcode-€");
	test_streq(lookup("198.18.10.1"), "provider");
	test_streq(lookup("198.19.255.255"), "provider");
	test_streq(lookup("198.20.0.0"), "\"any-v4\"");
	test_streq(lookup("10.0.0.1"), "\"any-v4\"");
	test_streq(lookup("2001:db8:9::1"), "fip-v6");
	test_streq(lookup("2001:db8:9:ffff::5"), "tenant-a");
	test_streq(lookup("2001:db8:a::1"), "(none)");
	test_streq(lookup("::ffff:198.18.9.1"), "(none)");
	/* prefixes: the longest label prefix that contains all of them */
	test_streq(lookup("198.18.9.0/24"), "tenant-a");
	test_streq(lookup("198.18.9.0/25"), "tenant-a");
	test_streq(lookup("198.18.8.0/23"), "provider");
	test_streq(lookup("2001:db8:8::/47"), "(none)");
	test_streq(lookup("0.0.0.0/0"), "\"any-v4\"");
	/* the class of counted traffic is no part of the address */
	test_assert(addr_parse("198.18.9.1", &a, NULL) == 0);
	a.cls = 3;
	test_streq(labels_lookup(&L, &a), "fip-vm1");
	/* a new file replaces the old one */
	parse_ok("2001:db8::/32 v6-only\n");
	test_assert(L.n == 1);
	test_streq(lookup("198.18.9.1"), "(none)");
	test_streq(lookup("2001:db8:9::1"), "v6-only");
	parse_ok("");
	test_assert(L.n == 0);
	test_streq(lookup("2001:db8:9::1"), "(none)");
	labels_finish(&L);
	labels_finish(&L);
}

static void test_errors(void)
{
	char text[512], want[512];

	labels_init(&L);
	parse_ok("198.18.9.1 kept\n");
	parse_err("# x\n198.18.300.1 a\n", "labels:2: bad address '198.18.300.1': bad address");
	parse_err("198.18.9.1/24 a\n", "labels:1: bad address '198.18.9.1/24': host bits set in "
		  "prefix");
	parse_err("198.18.9.0/33 a\n", "labels:1: bad address '198.18.9.0/33': bad prefix length");
	parse_err("fip-vm1 198.18.9.1\n", "labels:1: bad address 'fip-vm1': bad address");
	parse_err("\x1b[2J a\n", "labels:1: bad address '?[2J': bad address");
	parse_err("198.18.9.1\n", "labels:1: missing label");
	parse_err("198.18.9.1   # a comment\n", "labels:1: missing label");
	parse_err("198.18.9.1 @grp\n", "labels:1: label starts with '@' (groups are made in the "
		  "targets file)");
	parse_err("198.18.9.1 a\x01z\n", "labels:1: label contains a control character");
	parse_err("198.18.9.1 \xc2\x85\n", "labels:1: label contains a control character");
	parse_err("198.18.9.1 a\xff\n", "labels:1: label is not valid UTF-8");
	parse_err("198.18.9.1 a b\n", "labels:1: text after the label ('b'; a label has no "
		  "blanks)");
	parse_err("2001:db8::1 a\n198.18.9.1 b\n2001:0db8:0::1 c\n",
		  "labels:3: duplicate address 2001:db8::1 (line 1)");
	parse_err("198.18.9.0/24 a\n198.18.9.0/24 a\n198.18.9.0/24 a\n",
		  "labels:2: duplicate address 198.18.9.0/24 (line 1)");
	/* a duplicate above a bad line is what a reader meets first */
	parse_err("198.18.9.1 a\n198.18.9.1 b\n198.18.9.2\n",
		  "labels:2: duplicate address 198.18.9.1 (line 1)");
	parse_err("198.18.9.3 a\n198.18.9.4\n198.18.9.3 b\n", "labels:2: missing label");
	parse_err_n("198.18.9.1 a\0b\n", 15, "labels:1: NUL byte in line");
	/* labels: 128 bytes, not 129 */
	snprintf(text, sizeof(text), "198.18.9.1 %0128d\n", 0);
	parse_ok(text);
	snprintf(text, sizeof(text), "198.18.9.1 %0129d\n", 0);
	parse_err(text, "labels:1: label is longer than 128 bytes");
	/* lines: 65536 bytes, not 65537 */
	{
		size_t n = 65537;
		char *big = malloc(n + 2);

		test_assert(big);
		memset(big, ' ', n);
		memcpy(big, "198.18.9.1 long", 15);
		big[n] = '\n';
		parse_err_n(big, n + 1, "labels:1: line is longer than 65536 bytes");
		parse_ok((big[n - 1] = '\0', big));
		test_streq(lookup("198.18.9.1"), "long");
		free(big);
	}
	snprintf(want, sizeof(want), "kept");
	parse_ok("198.18.9.1 kept\n");
	test_streq(lookup("198.18.9.1"), want);
	labels_finish(&L);
}

static void test_load(void)
{
	struct err e = { "" };
	char path[512];

	labels_init(&L);
	test_assert(labels_load(&L, "/nonexistent/labels", &e) == -ENOENT);
	test_streq(e.msg, "/nonexistent/labels: cannot open: No such file or directory");
	test_assert(labels_load(&L, "/", &e) == -EISDIR);
	test_streq(e.msg, "/: cannot read: Is a directory");
	snprintf(path, sizeof(path), "%s/tests/unit/data/fip-labels", SRCDIR);
	test_assert(labels_load(&L, path, &e) == 0);
	test_assert(L.n == 3);
	test_streq(lookup("198.18.9.11"), "project-blue");
	test_streq(lookup("198.18.9.12"), "project-green");
	test_streq(lookup("2001:db8:9::11"), "project-blue");
	labels_finish(&L);
}

/* 100,000 host addresses and 1,000 prefixes in reverse order: one sort,
 * then every lookup right. */
static void test_large(void)
{
	size_t cap = 8u << 20, n = 0;
	char *buf = malloc(cap), want[32], s[64];

	test_assert(buf);
	labels_init(&L);
	for (int i = 99999; i >= 0; i--)
		n += (size_t)snprintf(buf + n, cap - n, "198.%d.%d.%d host-%d\n", 20 + i / 65536,
				      i / 256 % 256, i % 256, i);
	for (int i = 999; i >= 0; i--)
		n += (size_t)snprintf(buf + n, cap - n, "2001:db8:%x::/48 net-%d\n", i, i);
	test_assert(labels_parse_buffer(&L, "big", buf, n, &(struct err){ "" }) == 0);
	test_assert(L.n == 101000);
	for (int i = 0; i < 100000; i += 7) {
		snprintf(s, sizeof(s), "198.%d.%d.%d", 20 + i / 65536, i / 256 % 256, i % 256);
		snprintf(want, sizeof(want), "host-%d", i);
		test_streq(lookup(s), want);
	}
	test_streq(lookup("198.21.134.160"), "(none)"); /* the 100,001st */
	for (int i = 0; i < 1000; i += 3) {
		snprintf(s, sizeof(s), "2001:db8:%x:%x::1", i, i);
		snprintf(want, sizeof(want), "net-%d", i);
		test_streq(lookup(s), want);
	}
	labels_finish(&L);
	free(buf);
}

int main(void)
{
	test_lookup();
	test_errors();
	test_load();
	test_large();
	return 0;
}
