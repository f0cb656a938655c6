/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for billing (the cycles file and the lookup of a label's
 * cycle) and the config keys cycle_day, timezone and cycles. */
#include <errno.h>

#include "billing.h"
#include "config.h"
#include "test.h"

static void parse_ok(struct billing *b, const char *text)
{
	struct err e = { "" };

	if (billing_parse_buffer(b, "cycles", text, strlen(text), &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

static void parse_err_n(const char *text, size_t len, const char *want)
{
	struct billing b;
	struct err e = { "" };

	billing_init(&b, 1, "");
	parse_ok(&b, "keep 5\n");
	test_assert(billing_parse_buffer(&b, "cycles", text, len, &e) < 0);
	test_streq(e.msg, want);
	/* unchanged on error */
	test_assert(b.n == 1 && billing_cycle_of(&b, "keep")->day == 5);
	billing_finish(&b);
}

static void parse_err(const char *text, const char *want)
{
	parse_err_n(text, strlen(text), want);
}

static void test_lookup(void)
{
	struct billing b;

	billing_init(&b, 3, "UTC");
	test_assert(billing_cycle_of(&b, "anyone")->day == 3);
	test_streq(billing_cycle_of(&b, "anyone")->tz, "UTC");
	parse_ok(&b, "# customers\n"
		     "zeta 15 Europe/Berlin\n"
		     "\n"
		     "alpha 31   # the month's last day\n"
		     "b\xc3\xa4r\t7\tAmerica/New_York # UTF-8 label\r\n"
		     "m#x 2\n");
	test_assert(b.n == 4);
	test_assert(billing_cycle_of(&b, "zeta")->day == 15);
	test_streq(billing_cycle_of(&b, "zeta")->tz, "Europe/Berlin");
	test_assert(billing_cycle_of(&b, "alpha")->day == 31);
	test_streq(billing_cycle_of(&b, "alpha")->tz, "UTC"); /* the default's zone */
	test_assert(billing_cycle_of(&b, "b\xc3\xa4r")->day == 7);
	test_assert(billing_cycle_of(&b, "m#x")->day == 2); /* '#' inside a word */
	test_assert(billing_cycle_of(&b, "alph")->day == 3);
	test_assert(billing_cycle_of(&b, "")->day == 3);
	/* parsing again replaces the lines */
	parse_ok(&b, "other 9\n");
	test_assert(b.n == 1 && billing_cycle_of(&b, "zeta")->day == 3);
	billing_finish(&b);
	billing_finish(&b);
}

static void test_errors(void)
{
	char longlabel[200];

	parse_err("a\n", "cycles:1: missing day (use LABEL DAY [TZ])");
	parse_err("\na 0\n", "cycles:2: bad day '0' (1 to 31; past the month's end: its last day)");
	parse_err("a 32\n", "cycles:1: bad day '32' (1 to 31; past the month's end: its last day)");
	parse_err("a 001\n", "cycles:1: bad day '001' (1 to 31; past the month's end: its last day)");
	parse_err("a -1\n", "cycles:1: bad day '-1' (1 to 31; past the month's end: its last day)");
	parse_err("a 1x\n", "cycles:1: bad day '1x' (1 to 31; past the month's end: its last day)");
	parse_err("a 1 Mars/Base\n",
		  "cycles:1: unknown time zone (no /usr/share/zoneinfo/Mars/Base) 'Mars/Base'");
	parse_err("a 1 ../../etc/shadow\n",
		  "cycles:1: not a time zone name (use an IANA name such as Europe/Berlin, "
		  "or UTC) '../../etc/shadow'");
	parse_err("a 1 UTC extra\n", "cycles:1: text after the time zone");
	parse_err("a 1\nb 2\na 3\n", "cycles:3: label 'a' given twice (line 1)");
	/* hostile labels: never printed as they are */
	parse_err("\x1b[31mred 1\n",
		  "cycles:1: label contains a control character '?[31mred'");
	parse_err("\xff\xfe 1\n", "cycles:1: label is not valid UTF-8 '?" "?'");
	parse_err_n("a\0 1\n", 5, "cycles:1: NUL byte in line");
	memset(longlabel, 'x', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	{
		char text[256], want[256];

		snprintf(text, sizeof(text), "%s 1\n", longlabel);
		snprintf(want, sizeof(want), "cycles:1: label is longer than 128 bytes '%.76s...'",
			 longlabel);
		parse_err(text, want);
	}
}

static void test_config_keys(void)
{
	const char text[] = "cycle_day = 31\ntimezone = Europe/Berlin\ncycles = /nonexistent/c\n";
	struct config c;
	struct billing b;
	struct err e = { "" };

	config_defaults(&c);
	test_assert(c.cycle_day == 1 && c.timezone[0] == '\0' && c.cycles[0] == '\0');
	test_assert(config_parse_buffer(&c, "n.conf", text, strlen(text), &e) == 0);
	test_assert(c.cycle_day == 31);
	test_streq(c.timezone, "Europe/Berlin");
	test_streq(c.cycles, "/nonexistent/c");
	test_assert(billing_from_config(&b, &c, &e) == -ENOENT);
	test_assert(strncmp(e.msg, "/nonexistent/c: cannot open", 27) == 0);
	billing_finish(&b);
	c.cycles[0] = '\0';
	test_assert(billing_from_config(&b, &c, &e) == 0);
	test_assert(billing_cycle_of(&b, "x")->day == 31);
	test_streq(billing_cycle_of(&b, "x")->tz, "Europe/Berlin");
	billing_finish(&b);

	config_defaults(&c);
	test_assert(config_parse_buffer(&c, "n.conf", "cycle_day = 0\n", 14, &e) == -EINVAL);
	test_streq(e.msg, "n.conf:1: bad cycle_day '0' (1 to 31; past the month's end: its "
			  "last day)");
	test_assert(config_parse_buffer(&c, "n.conf", "cycle_day = 32\n", 15, &e) == -EINVAL);
	test_assert(config_parse_buffer(&c, "n.conf", "\ntimezone = Nowhere\n", 20, &e) ==
		    -EINVAL);
	test_streq(e.msg, "n.conf:2: timezone 'Nowhere': unknown time zone (no "
			  "/usr/share/zoneinfo/Nowhere)");
	config_defaults(&c);
	test_assert(c.keep_samples == 63 * 86400);
	test_assert(config_parse_buffer(&c, "n.conf", "store_keep_samples = 100d\n", 26, &e) == 0);
	test_assert(c.keep_samples == 100 * 86400);
	test_assert(config_parse_buffer(&c, "n.conf", "store_keep_samples = 62d\n", 25, &e) ==
		    -EINVAL);
	test_streq(e.msg, "n.conf:1: store_keep_samples '62d' is shorter than 63d (the current "
			  "and the previous billing cycle)");
	{
		struct config_set cs;
		const char sec[] = "[account a]\ncycle_day = 5\n";

		config_set_init(&cs);
		test_assert(config_set_parse_buffer(&cs, "n.conf", sec, strlen(sec), &e) ==
			    -EINVAL);
		test_streq(e.msg, "n.conf:2: 'cycle_day' is daemon-wide: set it before the first "
				  "[account] section");
		config_set_finish(&cs);
	}
}

int main(void)
{
	test_lookup();
	test_errors();
	test_config_keys();
	return 0;
}
