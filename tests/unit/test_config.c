/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for nftally.conf parsing and the shared value validators:
 * defaults, syntax, every error message, files, and [account] sections. */
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

/* ---- accounts: [account NAME] sections ---- */

static struct config_set set; /* large (the defaults are some 40 kB): static */

static void set_ok(const char *text)
{
	struct err e = { "" };

	config_set_finish(&set);
	config_set_init(&set);
	if (config_set_parse_buffer(&set, "nftally.conf", text, strlen(text), &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

/* Must fail with exactly `want` and leave the set untouched. */
static void set_err(const char *text, const char *want)
{
	static struct config_set s;
	static struct config before;
	struct err e = { "" };

	config_set_init(&s);
	before = s.dflt;
	test_assert(config_set_parse_buffer(&s, "nftally.conf", text, strlen(text), &e) ==
		    -EINVAL);
	test_streq(e.msg, want);
	test_assert(s.n == 0 && s.v == NULL && !s.sections);
	test_assert(memcmp(&s.dflt, &before, sizeof(before)) == 0);
	config_set_finish(&s);
}

static void test_set_without_sections(void)
{
	static struct config c;

	set_ok("table = acct\ninterfaces = eth0\n");
	test_assert(set.n == 1 && !set.sections);
	test_assert(memcmp(&set.v[0], &set.dflt, sizeof(set.dflt)) == 0);
	test_streq(set.v[0].account, "");
	test_streq(set.v[0].table, "acct");
	test_streq(set.v[0].netns, "");
	test_streq(set.v[0].host, "");
	test_streq(set.v[0].labels, "");
	test_streq(set.v[0].targets, "/etc/nftally/targets");
	test_assert(set.v[0].targets_file && !set.v[0].targets_explicit);
	test_assert(set.v[0].ndisc_addrs == 0 && set.v[0].ndisc_routes == 0);
	test_assert(config_set_find(&set, "") == &set.v[0]);
	test_assert(config_set_find(&set, "acct") == NULL);
	/* exactly what the single-config parser makes of it */
	parse_ok(&c, "table = acct\ninterfaces = eth0\n");
	test_assert(memcmp(&c, &set.v[0], sizeof(c)) == 0);
	set_ok("");
	test_assert(set.n == 1 && !set.sections);
	test_streq(set.v[0].table, "nftally");
}

static void test_set_sections(void)
{
	const char *bad = "[account z]\ntable = Z\n";
	const struct config *r, *h;
	struct err e = { "" };

	set_ok("host = node12\n"
	       "interval = 30\n"
	       "table = t0\n"
	       "exclude = 169.254.0.0/16\n"
	       "\n"
	       "[account routers]   # Neutron's\n"
	       "netns = qrouter-*\n"
	       "interfaces = qg-*\n"
	       "targets = interfaces qg-*\n"
	       "labels = /etc/nftally/fip-labels\n"
	       "  [ account\thosting-2 ]\n"
	       "table = t1\n"
	       "targets = routes veth* venet0 file /etc/nftally/targets # and a file\n"
	       "interfaces = \"eth0 tap*\"\n"
	       "exclude = \"\"\n");
	test_assert(set.n == 2 && set.sections);
	test_streq(set.dflt.account, "");
	test_streq(set.dflt.table, "t0");
	test_assert(config_set_find(&set, "") == NULL);
	test_assert(config_set_find(&set, "nope") == NULL);
	r = config_set_find(&set, "routers");
	h = config_set_find(&set, "hosting-2");
	test_assert(r == &set.v[0] && h == &set.v[1]);

	test_streq(r->account, "routers");
	test_streq(r->netns, "qrouter-*");
	test_streq(r->table, "t0");
	test_streq(r->host, "node12");
	test_assert(r->interval == 30);
	test_assert(r->nexclude == 1 && r->exclude[0].plen == 16);
	test_streq(r->exclude_where, "nftally.conf:4");
	test_assert(r->nifaces == 1);
	test_streq(r->ifaces[0], "qg-*");
	test_assert(r->ndisc_addrs == 1 && r->ndisc_routes == 0);
	test_streq(r->disc_addrs[0], "qg-*");
	test_streq(r->targets, "");
	test_assert(!r->targets_file && r->targets_explicit);
	test_streq(r->labels, "/etc/nftally/fip-labels");

	test_streq(h->account, "hosting-2");
	test_streq(h->netns, "");
	test_streq(h->table, "t1");
	test_streq(h->host, "node12");
	test_assert(h->interval == 30);
	test_assert(h->nexclude == 0);
	test_assert(h->nifaces == 2);
	test_streq(h->ifaces[0], "eth0");
	test_streq(h->ifaces[1], "tap*");
	test_assert(h->ndisc_addrs == 0 && h->ndisc_routes == 2);
	test_streq(h->disc_routes[0], "veth*");
	test_streq(h->disc_routes[1], "venet0");
	test_streq(h->targets, "/etc/nftally/targets");
	test_assert(h->targets_file && h->targets_explicit);
	test_streq(h->labels, "");

	/* one table name in different namespaces, or two tables in one */
	set_ok("[account a]#x\nnetns = x\n[account b]\n[account c]\ntable = c\n");
	test_assert(set.n == 3);
	test_streq(set.v[0].netns, "x");
	test_streq(set.v[1].table, "nftally");
	test_streq(set.v[1].netns, "");
	test_streq(set.v[2].table, "c");
	/* a key of the defaults and of a section: the section's wins; keys
	 * after a section are the section's */
	set_ok("table = x\n[account a]\ntable = y\noverhead = 14\n[account b]\n");
	test_streq(set.v[0].table, "y");
	test_assert(set.v[0].overhead == 14);
	test_streq(set.v[1].table, "x");
	test_assert(set.v[1].overhead == 0);
	test_streq(set.dflt.table, "x");
	/* a bad parse changes nothing */
	test_assert(config_set_parse_buffer(&set, "f", bad, strlen(bad), &e) == -EINVAL);
	test_streq(e.msg, "f:2: bad table name 'Z' (use a-z, 0-9, _; at most 32)");
	test_assert(set.n == 2);
	test_streq(set.v[0].account, "a");
	test_streq(set.v[0].table, "y");
}

static void test_set_errors(void)
{
	static const char *const wide[] = { "interval = 5", "state_dir = /x", "store = off",
					     "store_keep_intervals = 2d",
					     "store_keep_hours = 2d", "store_keep_days = 2d",
					     "prom_file = /x", "listen = :1", "host = h",
					     "postgresql = dbname=x" };
	char text[512], want[512];

	set_err("[foo bar]\n", "nftally.conf:1: unknown section kind 'foo' (use [account NAME])");
	set_err("[Account a]\n", "nftally.conf:1: unknown section kind 'Account' (use [account "
		"NAME])");
	set_err("table = x\n[account x\n", "nftally.conf:2: unterminated section header (no ']')");
	set_err("[account\n", "nftally.conf:1: unterminated section header (no ']')");
	set_err("[]\n", "nftally.conf:1: empty section header (use [account NAME])");
	set_err("[ \t]\n", "nftally.conf:1: empty section header (use [account NAME])");
	set_err("[account]\n", "nftally.conf:1: missing account name (use [account NAME])");
	set_err("[account a b]\n", "nftally.conf:1: text after the account name (use [account "
		"NAME])");
	set_err("[account a] x\n", "nftally.conf:1: text after section header");
	set_err("[account a]]\n", "nftally.conf:1: text after section header");
	static const char *const bad_names[] = { "A", "1a", "-a", "a.b", "a;b", "\x1b[2J",
						 "abcdefghijabcdefghijabcdefghijabc", "_a" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		char shown[64];

		snprintf(text, sizeof(text), "[account %s]\n", bad_names[i]);
		snprintf(shown, sizeof(shown), "%s", bad_names[i]);
		if (shown[0] == '\x1b')
			shown[0] = '?';
		snprintf(want, sizeof(want), "nftally.conf:1: bad account name '%s' (a-z first, "
			 "then a-z, 0-9, _, -; at most 32)", shown);
		set_err(text, want);
	}
	set_ok("[account abcdefghijabcdefghijabcdefghij-_]\n[account z]\ntable = z\n");
	test_streq(set.v[0].account, "abcdefghijabcdefghijabcdefghij-_");
	set_err("[account a]\ntable = x\n\n[account a]\n",
		"nftally.conf:4: duplicate account 'a' (line 1)");
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		char key[32];

		snprintf(text, sizeof(text), "%s\n[account a]\n%s\n", wide[i], wide[i]);
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(wide[i], " "), wide[i]);
		snprintf(want, sizeof(want), "nftally.conf:3: '%s' is daemon-wide: set it before "
			 "the first [account] section", key);
		set_err(text, want);
	}
	set_err("[account a]\n[account b]\n", "nftally.conf:2: account 'b' uses table "
		"'nftally' in the same netns as account 'a' (line 1)");
	set_err("netns = q*\n[account a]\ntable = t\n[account b]\ntable = u\n[account c]\n"
		"table = t\n", "nftally.conf:6: account 'c' uses table 't' in the same netns as "
		"account 'a' (line 2)");
	set_err("[account a]\ntable = x\ntable = y\n",
		"nftally.conf:3: duplicate key 'table' (line 2)");
	set_err("[account a]\nnetns = a\n[account b]\nnetns = b\ncolour = red\n",
		"nftally.conf:5: unknown key 'colour'");
	/* at most 128 accounts */
	{
		size_t n = 0, len = 129 * 32;
		char *big = malloc(len);

		test_assert(big);
		for (int i = 0; i < 129; i++)
			n += (size_t)snprintf(big + n, len - n, "[account a%d]\ntable = t%d\n",
					      i, i);
		set_err(big, "nftally.conf:257: more than 128 accounts");
		big[strstr(big, "[account a128]") - big] = '\0';
		set_ok(big);
		test_assert(set.n == 128);
		test_streq(set.v[127].account, "a127");
		test_streq(set.v[127].table, "t127");
		free(big);
	}
	/* the single-config parser refuses sections; its callers handle one */
	parse_err("table = x\n[account a]\n", "nftally.conf:2: [account] sections are not "
		  "allowed here");
}

static void test_netns_host(void)
{
	char text[600], want[700];

	set_ok("netns = \"\"\nhost = \"\"\n");
	test_streq(set.v[0].netns, "");
	test_streq(set.v[0].host, "");
	set_ok("netns = qrouter-[0-9a-f]*\nhost = node12.example\n");
	test_streq(set.v[0].netns, "qrouter-[0-9a-f]*");
	test_streq(set.v[0].host, "node12.example");
	static const char *const bad_netns[] = { "a/b", "/", ".", "..", "\"a\tb\"",
						 "\"a\x7f\"", "\xff" };
	for (size_t i = 0; i < sizeof(bad_netns) / sizeof(bad_netns[0]); i++) {
		const char *v = bad_netns[i];
		char shown[16];

		snprintf(text, sizeof(text), "netns = %s\n", v);
		if (v[0] == '"')
			snprintf(shown, sizeof(shown), "a?%s", v[2] == '\t' ? "b" : "");
		else
			snprintf(shown, sizeof(shown), "%s", v[0] == '\xff' ? "?" : v);
		snprintf(want, sizeof(want), "nftally.conf:1: bad netns '%s' (a name in "
			 "/run/netns or a glob: no '/', not . or .., no control characters, at "
			 "most 255 bytes)", shown);
		set_err(text, want);
	}
	/* 255 bytes, then 256 */
	strcpy(text, "netns = ");
	memset(text + 8, 'n', 255);
	strcpy(text + 8 + 255, "\n");
	set_ok(text);
	test_assert(strlen(set.v[0].netns) == 255);
	strcpy(text + 8 + 255, "n\n");
	/* quoted in the message as its first 76 bytes and "..." */
	snprintf(want, sizeof(want), "nftally.conf:1: bad netns '%.76s...' (a name in /run/netns "
		 "or a glob: no '/', not . or .., no control characters, at most 255 bytes)",
		 text + 8);
	set_err(text, want);
	set_err("host = \"a b\"\n", "nftally.conf:1: bad host name 'a b' (no blanks or control "
		"characters, at most 255 bytes)");
	set_err("host = \"a\x01\"\n", "nftally.conf:1: bad host name 'a?' (no blanks or control "
		"characters, at most 255 bytes)");
}

static void test_targets_sources(void)
{
	static struct config c;
	struct err e = { "" };

	set_ok("targets = routes * # every host route\n");
	test_assert(set.v[0].ndisc_routes == 1 && set.v[0].ndisc_addrs == 0);
	test_streq(set.v[0].disc_routes[0], "*");
	test_assert(!set.v[0].targets_file);
	set_ok("targets = \"file /t interfaces eth0 br-*\"\n");
	test_streq(set.v[0].targets, "/t");
	test_assert(set.v[0].targets_file && set.v[0].ndisc_addrs == 2);
	test_streq(set.v[0].disc_addrs[1], "br-*");
	set_ok("targets = ./file\n");
	test_streq(set.v[0].targets, "./file");
	test_assert(set.v[0].targets_file && set.v[0].ndisc_addrs == 0);

	set_err("targets = interfaces\n", "nftally.conf:1: targets: 'interfaces' needs at least "
		"one interface name");
	set_err("targets = interfaces # none\n", "nftally.conf:1: targets: 'interfaces' needs at "
		"least one interface name");
	set_err("targets = routes file /x\n", "nftally.conf:1: targets: 'routes' needs at least "
		"one interface name");
	set_err("targets = routes eth0 file\n", "nftally.conf:1: targets: 'file' needs a path");
	set_err("targets = file /a /b\n", "nftally.conf:1: targets: 'file' takes one path ('/b' "
		"follows it)");
	set_err("targets = interfaces a routes b interfaces c\n",
		"nftally.conf:1: targets: 'interfaces' named twice");
	set_err("targets = interfaces a* a*\n",
		"nftally.conf:1: targets: interface a* named twice");
	set_err("targets = interfaces * eth0\n", "nftally.conf:1: targets: '*' is every "
		"interface: name no other with it");
	set_err("targets = routes e;th\n", "nftally.conf:1: targets: bad interface name 'e;th' "
		"(1 to 15 of a-z, A-Z, 0-9, _ . @ + -)");
	set_err("targets = routes q*g\n", "nftally.conf:1: targets: bad interface name 'q*g' "
		"('*' only at the end)");
	set_err("targets = file /a\x01b\n", "nftally.conf:1: path for 'targets' contains a "
		"control character");
	set_err("targets = /x y\n", "nftally.conf:1: value contains blanks (quote it)");
	set_err("targets = interfaces a b c d e f g h i j k l m n o p q\n",
		"nftally.conf:1: targets: more than 16 interfaces");
	/* -t replaces the whole value: a file, no discovery */
	parse_ok(&c, "targets = interfaces eth0 routes veth*\n");
	test_assert(c.ndisc_addrs == 1 && c.ndisc_routes == 1 && !c.targets_file);
	test_assert(config_set_path(&c, "targets", "/t", "-t", &e) == 0);
	test_assert(c.ndisc_addrs == 0 && c.ndisc_routes == 0 && c.targets_file &&
		    c.targets_explicit);
	test_streq(c.targets, "/t");
}

static void test_wildcard_interfaces(void)
{
	static struct config c;

	parse_ok(&c, "interfaces = qg-* tap* eth0   # unquoted list\n");
	test_assert(c.nifaces == 3);
	test_streq(c.ifaces[0], "qg-*");
	test_streq(c.ifaces[1], "tap*");
	test_streq(c.ifaces[2], "eth0");
	parse_ok(&c, "interfaces = *\n");
	test_assert(c.nifaces == 1);
	test_streq(c.ifaces[0], "*");
	parse_ok(&c, "interfaces = abcdefghijklmn*\n");
	test_streq(c.ifaces[0], "abcdefghijklmn*");
	parse_ok(&c, "exclude = 10.0.0.0/8 fd00::/8 # unquoted\n");
	test_assert(c.nexclude == 2);
	parse_err("interfaces = abcdefghijklmno*\n", "nftally.conf:1: bad interface name "
		  "'abcdefghijklmno*' (1 to 15 of a-z, A-Z, 0-9, _ . @ + -)");
	parse_err("interfaces = q*g\n", "nftally.conf:1: bad interface name 'q*g' ('*' only at "
		  "the end)");
	parse_err("interfaces = **\n", "nftally.conf:1: bad interface name '**' ('*' only at "
		  "the end)");
	parse_err("interfaces = *a\n", "nftally.conf:1: bad interface name '*a' ('*' only at "
		  "the end)");
	parse_err("interfaces = \"eth0 *\"\n", "nftally.conf:1: '*' is every interface: name no "
		  "other with it");
	parse_err("interfaces = eth* eth*\n", "nftally.conf:1: interface eth* named twice");
	parse_err("interfaces = eth0#x\n", "nftally.conf:1: bad interface name 'eth0#x' (1 to 15 "
		  "of a-z, A-Z, 0-9, _ . @ + -)");

	test_assert(config_iface_match("qg-*", "qg-1a2b"));
	test_assert(config_iface_match("qg-*", "qg-"));
	test_assert(!config_iface_match("qg-*", "qg"));
	test_assert(!config_iface_match("qg-*", "qr-1"));
	test_assert(config_iface_match("*", "lo"));
	test_assert(config_iface_match("eth0", "eth0"));
	test_assert(!config_iface_match("eth0", "eth01"));
	test_assert(!config_iface_match("eth0", "eth"));
	test_assert(config_iface_match("eth0*", "eth0"));
}

static void test_set_load(void)
{
	struct err e = { "" };
	char path[4096];

	config_set_finish(&set);
	config_set_init(&set);
	test_assert(config_set_load(&set, "/nonexistent/nftally.conf", false, &e) == 0);
	test_assert(set.n == 1 && !set.sections);
	test_streq(set.v[0].table, "nftally");
	test_assert(config_set_load(&set, "/nonexistent/nftally.conf", true, &e) == -ENOENT);
	test_streq(e.msg, "/nonexistent/nftally.conf: cannot open: No such file or directory");
	test_assert(set.n == 1);
	snprintf(path, sizeof(path), "%s/tests/unit/data/accounts.conf", SRCDIR);
	test_assert(config_set_load(&set, path, true, &e) == 0);
	test_assert(set.n == 2 && set.sections);
	test_streq(set.v[0].account, "routers");
	test_streq(set.v[0].netns, "qrouter-*");
	test_streq(set.v[1].account, "guests");
	test_streq(set.v[1].table, "bridged");
	test_streq(set.v[1].template_name, "bridge");
	test_assert(set.v[1].interval == 60);
	config_set_finish(&set);
	config_set_finish(&set);
	test_assert(set.n == 0 && set.v == NULL);
}

/* postgresql = CONNINFO: unquoted words or quoted, never shown; its
 * passwords redacted for messages. */
static void test_postgresql(void)
{
	struct config c;
	char big[CONFIG_CONNINFO_MAX + 40], out[256];

	parse_ok(&c, "interval = 5\n");
	test_streq(c.postgresql, "");
	parse_ok(&c, "postgresql = host=/run/pg dbname=acct # a comment\n");
	test_streq(c.postgresql, "host=/run/pg dbname=acct");
	parse_ok(&c, "postgresql = \"host=db password=a#b\"\n");
	test_streq(c.postgresql, "host=db password=a#b");
	parse_err("postgresql = \"a\tb\"\n",
		  "nftally.conf:1: 'postgresql' contains a control character");
	snprintf(big, sizeof(big), "postgresql = %0*d\n", CONFIG_CONNINFO_MAX + 1, 0);
	parse_err(big, "nftally.conf:1: 'postgresql' needs a conninfo of 1 to 1023 bytes");

	test_streq(config_conninfo_redact("host=db password=s3cret user=n", out, sizeof(out)),
		   "host=db password=*** user=n");
	test_streq(config_conninfo_redact("password = 'a b\\' c' host=x", out, sizeof(out)),
		   "password=*** host=x");
	test_streq(config_conninfo_redact("host=x password=", out, sizeof(out)),
		   "host=x password=***");
	/* not a password keyword: left alone */
	test_streq(config_conninfo_redact("host=x passwordless=1 user=password", out,
					  sizeof(out)), "host=x passwordless=1 user=password");
	test_streq(config_conninfo_redact("postgresql://node:pw@db.example/acct?sslmode=require",
					  out, sizeof(out)),
		   "postgresql://node:***@db.example/acct?sslmode=require");
	test_streq(config_conninfo_redact("postgres://node@db/acct?password=pw&sslmode=verify-full",
					  out, sizeof(out)),
		   "postgres://node@db/acct?password=***&sslmode=verify-full");
	test_streq(config_conninfo_redact("postgresql://db/acct", out, sizeof(out)),
		   "postgresql://db/acct");
	test_streq(config_conninfo_redact("host=x password=s3cret", out, 12), "host=x pass");
}

/* The quota keys: defaults, values, errors, and daemon-wide. */
static void test_quota_keys(void)
{
	struct config c;

	config_defaults(&c);
	test_assert(!c.quotas[0] && !c.quota_hook[0] && c.quota_hook_timeout == 10);
	test_assert(c.nquota_warn == 1 && c.quota_warn[0] == 80);
	parse_ok(&c, "quotas = /etc/nftally/quotas\nquota_hook = /usr/local/bin/qh\n"
		 "quota_hook_timeout = 3600\nquota_warn = 50%,75%,90%\n");
	test_streq(c.quotas, "/etc/nftally/quotas");
	test_streq(c.quota_hook, "/usr/local/bin/qh");
	test_assert(c.quota_hook_timeout == 3600 && c.nquota_warn == 3 && c.quota_warn[2] == 90);
	parse_ok(&c, "quota_warn = none\n");
	test_assert(c.nquota_warn == 0);
	parse_err("\nquota_hook_timeout = 0\n",
		  "nftally.conf:2: bad quota_hook_timeout '0' (seconds, 1 to 3600)");
	parse_err("quota_hook_timeout = 10s\n",
		  "nftally.conf:1: bad quota_hook_timeout '10s' (seconds, 1 to 3600)");
	parse_err("quota_warn = 90%,80%\n", "nftally.conf:1: bad quota_warn '90%,80%': warnings "
		  "must be in ascending order, each once");
	parse_err("quota_warn = 100%\n", "nftally.conf:1: bad quota_warn '100%': a warning is "
		  "1% to 99% (100% is quota_exceeded)");
	parse_err("quota_hook = \"\"\n", "nftally.conf:1: empty path for 'quota_hook'");
	set_err("[account a]\nquotas = /q\n", "nftally.conf:2: 'quotas' is daemon-wide: set it "
		"before the first [account] section");
	set_err("[account a]\nquota_warn = 50%\n", "nftally.conf:2: 'quota_warn' is daemon-wide: "
		"set it before the first [account] section");
}

static void test_serve(void)
{
	struct config c;

	parse_ok(&c, "interval = 5\n");
	test_streq(c.serve_listen, "");
	test_streq(c.serve_bill, "");
	parse_ok(&c, "serve_listen = [::1]:9480\nserve_bill = max\n"
		  "serve_token_file = /etc/nftally/serve-token\nserve_tokens = /etc/nftally/t\n"
		  "serve_tls_cert = /etc/nftally/c.pem\nserve_tls_key = /etc/nftally/k.pem\n");
	test_streq(c.serve_listen, "[::1]:9480");
	test_streq(c.serve_bill, "max");
	test_streq(c.serve_token_file, "/etc/nftally/serve-token");
	test_streq(c.serve_tokens, "/etc/nftally/t");
	test_streq(c.serve_tls_cert, "/etc/nftally/c.pem");
	test_streq(c.serve_tls_key, "/etc/nftally/k.pem");
	parse_err("serve_bill = most\n",
		  "nftally.conf:1: serve_bill 'most': use sum, max, in or out");
	parse_err("serve_listen = nowhere\n", "nftally.conf:1: bad listen address 'nowhere' "
		  "(use ADDR:PORT, [ADDR6]:PORT or :PORT)");
	parse_err("serve_tokens = \"\"\n", "nftally.conf:1: empty path for 'serve_tokens'");
	set_err("[account a]\nserve_bill = sum\n",
		"nftally.conf:2: 'serve_bill' is daemon-wide: set it before the first [account] "
		"section");
}

int main(void)
{
	test_serve();
	test_postgresql();
	test_exclude_warning();
	test_defaults();
	test_store_keys();
	test_syntax();
	test_syntax_errors();
	test_values();
	test_setters();
	test_load();
	test_set_without_sections();
	test_set_sections();
	test_set_errors();
	test_netns_host();
	test_targets_sources();
	test_wildcard_interfaces();
	test_set_load();
	test_quota_keys();
	config_set_finish(&set);
	return 0;
}
