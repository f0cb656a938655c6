/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for units: amounts and rates as written, their errors and
 * overflow, and the formats reports print. */
#include <errno.h>
#include <stdint.h>

#include "test.h"
#include "units.h"

static uint64_t bytes(const char *s)
{
	struct err e = { "" };
	uint64_t v = 12345;

	if (units_parse_bytes(s, &v, &e) < 0) {
		fprintf(stderr, "%s: %s\n", s, e.msg);
		abort();
	}
	return v;
}

static int bad_bytes(const char *s)
{
	struct err e = { "" };
	uint64_t v = 7;
	int ret = units_parse_bytes(s, &v, &e);

	test_assert(ret < 0 && e.msg[0] && v == 7);
	return ret;
}

static void test_bytes(void)
{
	test_assert(bytes("123") == 123);
	test_assert(bytes("0") == 0);
	test_assert(bytes("123B") == 123);
	test_assert(bytes("500GB") == UINT64_C(500000000000));
	test_assert(bytes("500G") == UINT64_C(500000000000));
	test_assert(bytes("500gB") == UINT64_C(500000000000));
	test_assert(bytes("2TiB") == UINT64_C(2) << 40);
	test_assert(bytes("2Ti") == UINT64_C(2) << 40);
	test_assert(bytes("1.5 TB") == UINT64_C(1500000000000));
	test_assert(bytes("1.5KiB") == 1536);
	test_assert(bytes("1kB") == 1000 && bytes("1KB") == 1000 && bytes("1KiB") == 1024);
	test_assert(bytes("3MB") == 3000000 && bytes("3MiB") == 3 << 20);
	test_assert(bytes("1PB") == UINT64_C(1000000000000000));
	test_assert(bytes("1PiB") == UINT64_C(1) << 50);
	test_assert(bytes("15EB") == UINT64_C(15000000000000000000));
	test_assert(bytes("18446744073709551615") == UINT64_MAX);
	test_assert(bytes("0.001kB") == 1);
	/* errors */
	test_assert(bad_bytes("") == -EINVAL);
	test_assert(bad_bytes("GB") == -EINVAL);
	test_assert(bad_bytes("-5") == -EINVAL);
	test_assert(bad_bytes("5 XB") == -EINVAL);
	test_assert(bad_bytes("5Gb") == -EINVAL); /* bits */
	test_assert(bad_bytes("5GBs") == -EINVAL);
	test_assert(bad_bytes("5  GB") == -EINVAL);
	test_assert(bad_bytes("1.5") == -EINVAL); /* half a byte */
	test_assert(bad_bytes("1.0001kB") == -EINVAL);
	test_assert(bad_bytes("1.2.3") == -EINVAL);
	test_assert(bad_bytes("5 GB ") == -EINVAL);
	/* overflow */
	test_assert(bad_bytes("18446744073709551616") == -ERANGE);
	test_assert(bad_bytes("99999999999999999999999") == -ERANGE);
	test_assert(bad_bytes("19EB") == -ERANGE);
	test_assert(bad_bytes("16EiB") == -ERANGE);
	test_assert(bad_bytes("18446744073709551615kB") == -ERANGE);
}

static void test_rate(void)
{
	struct err e = { "" };
	uint64_t v;

	test_assert(units_parse_rate("10mbit", &v, &e) == 0 && v == 1250000);
	test_assert(units_parse_rate("100kbit", &v, &e) == 0 && v == 12500);
	test_assert(units_parse_rate("1gbit", &v, &e) == 0 && v == 125000000);
	test_assert(units_parse_rate("1Gbit/s", &v, &e) == 0 && v == 125000000);
	test_assert(units_parse_rate("5mbytes", &v, &e) == 0 && v == 5000000);
	test_assert(units_parse_rate("2MiB/s", &v, &e) == 0 && v == 2 << 20);
	test_assert(units_parse_rate("12 bits", &v, &e) == 0 && v == 1); /* 1.5 bytes down */
	test_assert(units_parse_rate("1.5kbyte", &v, &e) == 0 && v == 1500);
	test_assert(units_parse_rate("10", &v, &e) == -EINVAL);
	test_assert(units_parse_rate("7bit", &v, &e) == -EINVAL); /* below 1 B/s */
	test_assert(units_parse_rate("10 mbps", &v, &e) == -EINVAL);
	test_assert(units_parse_rate("10mbit/h", &v, &e) == -EINVAL);
	test_assert(units_parse_rate("99999999999EB", &v, &e) == -ERANGE);
}

static void fmt(uint64_t v, const char *u, const char *want)
{
	char buf[64];

	test_assert(units_format(v, u, buf, sizeof(buf)) == 0);
	test_streq(buf, want);
}

static void test_format(void)
{
	char small[6];

	fmt(123, "bytes", "123");
	fmt(UINT64_MAX, "bytes", "18446744073709551615");
	fmt(1500000000, "GB", "1.500 GB");
	fmt(1499999999, "GB", "1.500 GB"); /* 1.499999999: half up at the third */
	fmt(1499499999, "GB", "1.499 GB");
	fmt(1073741824, "GiB", "1.000 GiB");
	fmt(0, "TB", "0.000 TB");
	fmt(UINT64_MAX, "EiB", "16.000 EiB");
	fmt(UINT64_MAX, "kB", "18446744073709551.615 kB");
	fmt(999, "auto-dec", "999 B");
	fmt(1000, "auto-dec", "1.000 kB");
	fmt(1023, "auto-bin", "1023 B");
	fmt(1536, "auto-bin", "1.500 KiB");
	fmt(UINT64_C(2500000000000), "auto-dec", "2.500 TB");
	fmt(0, "auto-bin", "0 B");
	test_assert(units_format(1, "GiBs", small, sizeof(small)) == -EINVAL);
	test_assert(units_format(1, "B", small, sizeof(small)) == -EINVAL);
	test_assert(units_format(123456, "bytes", small, sizeof(small)) == -ENOSPC);
	test_assert(units_known("GB") && units_known("bytes") && units_known("auto-bin"));
	test_assert(!units_known("gb") && !units_known(""));
}

int main(void)
{
	test_bytes();
	test_rate();
	test_format();
	return 0;
}
