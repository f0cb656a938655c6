/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for nftally.conf parsing and the shared value validators:
 * defaults, syntax, every error message, and files. */
#include <errno.h>

#include "config.h"
#include "targets.h"
#include "test.h"

static void parse_ok(struct config *c, const char *text)
{
	struct err e = { "" };

	config_defaults(c);
	if (config_parse_buffer(c, "nftally.conf", text, strlen(text), &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

/* Must fail with exactly `want` and leave the defaults untouched. */
static void parse_err_n(const char *text, size_t len, const char *want)
{
	struct config c, d;
	struct err e = { "" };

	config_defaults(&c);
	config_defaults(&d);
	test_assert(config_parse_buffer(&c, "nftally.conf", text, len, &e) == -EINVAL);
	test_streq(e.msg, want);
	test_assert(memcmp(&c, &d, sizeof(c)) == 0);
}

static void parse_err(const char *text, const char *want)
{
	parse_err_n(text, strlen(text), want);
}

static void test_defaults(void)
{
	struct config c;

	config_defaults(&c);
	test_streq(c.table, "nftally");
	test_streq(c.template_name, "host");
	test_streq(c.template_dir, "");
	test_streq(c.targets, "/etc/nftally/targets");
	test_assert(!c.targets_explicit);
	test_assert(c.interval == 60);
	test_streq(c.state_dir, "/var/lib/nftally");
	parse_ok(&c, "");
	test_streq(c.table, "nftally");
	test_assert(!c.targets_explicit);
}

static void test_syntax(void)
{
	struct config c;

	parse_ok(&c, "# comment\n"
		     "\n"
		     "   \t\n"
		     "  # indented comment\n"
		     "table = acct_1\n"
		     "template=vz\t# the OpenVZ one\n"
		     "\ttemplate_dir   =   /usr/local/share/nftally\r\n"
		     "targets = \"/srv/my targets # not a comment\"  # but this is\n"
		     "interval =86400\n"
		     "state_dir= /var/lib/x#y");
	test_streq(c.table, "acct_1");
	test_streq(c.template_name, "vz");
	test_streq(c.template_dir, "/usr/local/share/nftally");
	test_streq(c.targets, "/srv/my targets # not a comment");
	test_assert(c.targets_explicit);
	test_assert(c.interval == 86400);
	test_streq(c.state_dir, "/var/lib/x#y");

	parse_ok(&c, "template = \"/a;b{c}'d\"\ninterval = 1\n");
	test_streq(c.template_name, "/a;b{c}'d");
	test_assert(c.interval == 1 && !c.targets_explicit);
}

static void test_syntax_errors(void)
{
	parse_err("table\n", "nftally.conf:1: expected 'key = value'");
	parse_err("\n\ntable acct\n", "nftally.conf:3: expected 'key = value'");
	parse_err("table =\n", "nftally.conf:1: missing value");
	parse_err("table = # none\n", "nftally.conf:1: missing value");
	parse_err("table = a b\n", "nftally.conf:1: value contains blanks (quote it)");
	parse_err("targets = \"/x\n", "nftally.conf:1: unterminated quote");
	parse_err("targets = \"/x\"y\n", "nftally.conf:1: text after closing quote");
	parse_err("targets = \"/x\"#y\n", "nftally.conf:1: text after closing quote");
	parse_err("targets = \"/x\" y\n", "nftally.conf:1: value contains blanks (quote it)");
	parse_err_n("table = a\0b\n", 12, "nftally.conf:1: NUL byte in line");
	parse_err_n("# a\0b\n", 6, "nftally.conf:1: NUL byte in line");
	parse_err("tables = x\n", "nftally.conf:1: unknown key 'tables'");
	parse_err("Table = x\n", "nftally.conf:1: unknown key 'Table'");
	parse_err("= x\n", "nftally.conf:1: unknown key ''");
	parse_err("\x1b[2J = x\n", "nftally.conf:1: unknown key '?[2J'");
	parse_err("table = a\ninterval = 5\n# x\ntable = b\n",
		  "nftally.conf:4: duplicate key 'table' (line 1)");
	parse_err("targets = /a\ntargets = /a\n",
		  "nftally.conf:2: duplicate key 'targets' (line 1)");
}

static void test_values(void)
{
	struct config c;
	char text[PATH_MAX + 64];

	parse_err("table = 1abc\n", "nftally.conf:1: bad table name '1abc' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_err("table = Acct\n", "nftally.conf:1: bad table name 'Acct' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_err("table = a-b\n", "nftally.conf:1: bad table name 'a-b' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_err("table = \"a;b\"\n", "nftally.conf:1: bad table name 'a;b' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_err("table = \"\"\n", "nftally.conf:1: bad table name '' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_err("table = abcdefghijabcdefghijabcdefghijabc\n",
		  "nftally.conf:1: bad table name 'abcdefghijabcdefghijabcdefghijabc' "
		  "(use a-z, 0-9, _; at most 32)");
	parse_ok(&c, "table = abcdefghijabcdefghijabcdefghijab\n");
	test_streq(c.table, "abcdefghijabcdefghijabcdefghijab");
	parse_ok(&c, "table = a\n");
	test_streq(c.table, "a");

	parse_err("interval = 0\n", "nftally.conf:1: bad interval '0' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = 86401\n", "nftally.conf:1: bad interval '86401' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = -5\n", "nftally.conf:1: bad interval '-5' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = +5\n", "nftally.conf:1: bad interval '+5' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = 5s\n", "nftally.conf:1: bad interval '5s' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = 0x10\n", "nftally.conf:1: bad interval '0x10' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = 99999999999999999999999\n",
		  "nftally.conf:1: bad interval '99999999999999999999999' "
		  "(use whole seconds, 1 to 86400)");
	parse_err("interval = \" 5\"\n", "nftally.conf:1: bad interval ' 5' "
		  "(use whole seconds, 1 to 86400)");

	parse_err("state_dir = \"\"\n", "nftally.conf:1: empty path for 'state_dir'");
	parse_err("targets = \"/a\tb\"\n",
		  "nftally.conf:1: path for 'targets' contains a control character");
	parse_err("template = /a\x7f\n",
		  "nftally.conf:1: path for 'template' contains a control character");
	strcpy(text, "template_dir = /");
	memset(text + 16, 'd', PATH_MAX - 1);
	text[16 + PATH_MAX - 1] = '\0';
	parse_err(text, "nftally.conf:1: path for 'template_dir' is longer than 4095 bytes");
	text[16 + PATH_MAX - 2] = '\0'; /* "/" + PATH_MAX - 2 = PATH_MAX - 1 bytes */
	parse_ok(&c, text);
	test_assert(strlen(c.template_dir) == PATH_MAX - 1);
}

static void test_setters(void)
{
	struct config c;
	struct err e = { "" };

	config_defaults(&c);
	test_assert(config_set_table(&c, "bad name", "--table", &e) == -EINVAL);
	test_streq(e.msg, "--table: bad table name 'bad name' (use a-z, 0-9, _; at most 32)");
	test_streq(c.table, "nftally");
	test_assert(config_set_table(&c, "x_1", "--table", &e) == 0);
	test_streq(c.table, "x_1");
	test_assert(config_set_interval(&c, "", "--interval", &e) == -EINVAL);
	test_streq(e.msg, "--interval: bad interval '' (use whole seconds, 1 to 86400)");
	test_assert(config_set_interval(&c, "10", "--interval", NULL) == 0);
	test_assert(c.interval == 10);
	test_assert(config_set_interval(&c, "x", "--interval", NULL) == -EINVAL);
	test_assert(c.interval == 10);
	test_assert(config_set_path(&c, "targets", "/t", "-t", &e) == 0);
	test_streq(c.targets, "/t");
	test_assert(c.targets_explicit);
	test_assert(config_set_path(&c, "state_dir", "", "--state-dir", &e) == -EINVAL);
	test_streq(e.msg, "--state-dir: empty path for 'state_dir'");
	test_assert(config_set_path(&c, "table", "/x", "x", &e) == -EINVAL);
}

static void test_load(void)
{
	struct config c;
	struct err e = { "" };
	char path[4096];

	config_defaults(&c);
	test_assert(config_load(&c, "/nonexistent/nftally.conf", false, &e) == 0);
	test_streq(c.table, "nftally");
	test_assert(config_load(&c, "/nonexistent/nftally.conf", true, &e) == -ENOENT);
	test_streq(e.msg, "/nonexistent/nftally.conf: cannot open: No such file or directory");
	test_assert(config_load(&c, "/", false, &e) == -EISDIR);
	test_streq(e.msg, "/: cannot read: Is a directory");

	snprintf(path, sizeof(path), "%s/tests/unit/data/nftally.conf", SRCDIR);
	test_assert(config_load(&c, path, true, &e) == 0);
	test_streq(c.table, "acct");
	test_assert(c.interval == 300);
	test_streq(c.targets, "/srv/vz targets");
	test_assert(c.targets_explicit);
	test_streq(c.state_dir, "/var/lib/nftally");
}

/* The store and metrics keys: durations, listen addresses, paths. */
static void test_store_keys(void)
{
	struct config c;

	config_defaults(&c);
	test_assert(c.keep_intervals == 2 * 86400 && c.keep_hours == 90 * 86400 &&
		    c.keep_days == 800 * 86400);
	test_streq(c.store, "");
	test_streq(c.prom_file, "");
	test_streq(c.listen, "");
	parse_ok(&c, "store = off\nstore_keep_intervals = 36h\nstore_keep_hours = 3600s\n"
		     "store_keep_days = 60m\nprom_file = /x/n.prom\nlisten = :9663\n");
	test_streq(c.store, "off");
	test_assert(c.keep_intervals == 36 * 3600 && c.keep_hours == 3600 &&
		    c.keep_days == 3600);
	test_streq(c.prom_file, "/x/n.prom");
	test_streq(c.listen, ":9663");
	parse_ok(&c, "store_keep_days = 36500d\nlisten = [::1]:1\n");
	test_assert(c.keep_days == 36500LL * 86400);
	parse_ok(&c, "listen = 127.0.0.1:65535\n");
	test_streq(c.listen, "127.0.0.1:65535");

	static const char *const bad_keep[] = { "0h", "59m", "3599s", "1", "h", "1w",
						"36501d", "99999999999999999999d", "1h ",
						"-1h", "+1h", "1.5h" };
	for (size_t i = 0; i < sizeof(bad_keep) / sizeof(bad_keep[0]); i++) {
		char text[128], want[256];

		snprintf(text, sizeof(text), "store_keep_hours = \"%s\"\n", bad_keep[i]);
		snprintf(want, sizeof(want), "nftally.conf:1: bad duration '%s' for "
			 "'store_keep_hours' (digits and a unit s, m, h or d, e.g. 36h; 1h to "
			 "36500d)", bad_keep[i]);
		parse_err(text, want);
	}
	static const char *const bad_listen[] = { "9663", ":0", ":65536", "1.2.3:80",
						  "::1:80", "[::1]", "[1.2.3.4]:80",
						  "localhost:80", ":", ":80x", "[::1]:-1" };
	for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		char text[128], want[256];

		snprintf(text, sizeof(text), "listen = \"%s\"\n", bad_listen[i]);
		snprintf(want, sizeof(want), "nftally.conf:1: bad listen address '%s' (use "
			 "ADDR:PORT, [ADDR6]:PORT or :PORT)", bad_listen[i]);
		parse_err(text, want);
	}
	parse_err("prom_file = \"\"\n", "nftally.conf:1: empty path for 'prom_file'");
}

/* Legal exclusions that are most likely mistakes are warned about. */
static void test_exclude_warning(void)
{
	struct target t[3] = { 0 };
	struct config c;
	struct err w = { "" };

	test_assert(addr_parse("198.18.2.2", &t[0].addr, NULL) == 0);
	test_assert(addr_parse("198.18.4.0/24", &t[1].addr, NULL) == 0);
	test_assert(addr_parse("2001:db8:2::2", &t[2].addr, NULL) == 0);
	parse_ok(&c, "# policy\nexclude = 198.18.1.0/28\n");
	test_assert(config_exclude_warning(&c, t, 3, &w) == 0);
	parse_ok(&c, "\nexclude = \"2001:db8:1::/64 0.0.0.0/0\"\n");
	test_assert(config_exclude_warning(&c, t, 3, &w) == 1);
	test_streq(w.msg, "nftally.conf:2: exclude 0.0.0.0/0 is every IPv4 peer: no IPv4 "
		   "traffic of any target is counted");
	parse_ok(&c, "exclude = ::/0\n");
	test_assert(config_exclude_warning(&c, NULL, 0, &w) == 1);
	test_streq(w.msg, "nftally.conf:1: exclude ::/0 is every IPv6 peer: no IPv6 "
		   "traffic of any target is counted");
	/* every target inside an exclusion (the /24 only as a whole) */
	parse_ok(&c, "exclude = \"198.18.0.0/16 2001:db8::/32\"\n");
	test_assert(config_exclude_warning(&c, t, 3, &w) == 1);
	test_streq(w.msg, "nftally.conf:1: exclude covers every target: only their traffic "
		   "with other peers is counted (exclude names peers, not targets)");
	parse_ok(&c, "exclude = \"198.18.4.0/25 198.18.2.2 2001:db8:2::2\"\n");
	test_assert(config_exclude_warning(&c, t, 3, &w) == 0);
	test_assert(config_exclude_warning(&c, t, 0, &w) == 0);
	parse_ok(&c, "");
	test_assert(config_exclude_warning(&c, t, 3, &w) == 0);
	test_assert(config_set_exclude(&c, "198.18.2.2 198.18.4.0/24", "--x", &w) == 0);
	test_assert(config_exclude_warning(&c, t, 2, &w) == 1);
	test_streq(w.msg, "--x: exclude covers every target: only their traffic with other "
		   "peers is counted (exclude names peers, not targets)");
}

int main(void)
{
	test_exclude_warning();
	test_defaults();
	test_store_keys();
	test_syntax();
	test_syntax_errors();
	test_values();
	test_setters();
	test_load();
	return 0;
}
