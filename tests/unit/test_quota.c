/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the quotas file (every error with FILE:LINE, a bad file
 * changing nothing, hostile labels kept as text), the billed bytes of each
 * policy, the levels crossed (exact at the boundary, several at once,
 * never twice) and the enforcement rendered into the generated line. */
#include <errno.h>
#include <stdint.h>

#include "quota.h"
#include "render.h"
#include "test.h"

static struct quotas Q;
static const unsigned char dflt[] = { 80 };

static void parse_ok(const char *text)
{
	struct err e = { "" };

	if (quotas_parse_buffer(&Q, "quotas", text, strlen(text), dflt, 1, &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
}

/* Must fail with exactly `want` and leave what Q held. */
static void parse_err(const char *text, const char *want)
{
	struct err e = { "" };
	struct quotas before = Q;

	test_assert(quotas_parse_buffer(&Q, "quotas", text, strlen(text), dflt, 1, &e) == -EINVAL);
	test_streq(e.msg, want);
	test_assert(memcmp(&Q, &before, sizeof(Q)) == 0);
}

static void test_parse(void)
{
	const struct quota *q;

	parse_ok("# label limit options\n"
		 "cust-a 500GB\n"
		 "\n"
		 "cust-b  2TiB warn=50%,90% bill=max action=throttle:10mbit # a comment\n"
		 "\tcust-c 123 warn=none action=mark:0x10\n");
	test_assert(Q.n == 3);
	q = quotas_find(&Q, "cust-a");
	test_assert(q && q->limit == 500000000000ull && q->nwarn == 1 && q->warn[0] == 80);
	test_assert(q->bill == QUOTA_BILL_SUM && q->action == QUOTA_ACT_NONE && q->line == 2);
	q = quotas_find(&Q, "cust-b");
	test_assert(q && q->limit == 2ull << 40 && q->nwarn == 2 && q->warn[0] == 50 &&
		    q->warn[1] == 90 && q->bill == QUOTA_BILL_MAX);
	test_assert(q->action == QUOTA_ACT_THROTTLE && q->rate == 1250000);
	q = quotas_find(&Q, "cust-c");
	test_assert(q && q->limit == 123 && q->nwarn == 0 && q->action == QUOTA_ACT_MARK &&
		    q->mark == 0x10);
	test_assert(quotas_find(&Q, "cust-e") == NULL);
}

static void test_errors(void)
{
	parse_ok("a 1GB\n");
	/* a unit written apart is a third field: 1.5 alone is no number of bytes */
	parse_err("a 1.5 TB\n", "quotas:1: bad limit '1.5': not a whole number of bytes");
	parse_err("a 1GB\nb\n", "quotas:2: missing limit (LABEL LIMIT [options])");
	parse_err("a 1GB\nb # none\n", "quotas:2: missing limit (LABEL LIMIT [options])");
	parse_err("a 1GB\na 2GB\n", "quotas:2: label 'a' has a quota already (line 1)");
	parse_err("x 0\n", "quotas:1: a limit of 0 bytes (remove the line instead)");
	parse_err("x 1GB warn=80\n", "quotas:1: bad warn '80': a warning is a percentage such as 80%");
	parse_err("x 1GB warn=100%\n",
		  "quotas:1: bad warn '100%': a warning is 1% to 99% (100% is quota_exceeded)");
	parse_err("x 1GB warn=90%,80%\n",
		  "quotas:1: bad warn '90%,80%': warnings must be in ascending order, each once");
	parse_err("x 1GB warn=80%,\n",
		  "quotas:1: bad warn '80%,': a warning is a percentage such as 80%");
	parse_err("x 1GB bill=both\n", "quotas:1: bad bill 'both' (sum, max, in or out)");
	parse_err("x 1GB action=reject\n",
		  "quotas:1: bad action 'reject': unknown action (mark:0xNN, throttle:RATE or drop)");
	parse_ok("x 1GB action=mark:010\ny 1GB action=mark:0X1f\n");
	test_assert(Q.v[0].mark == 10 && Q.v[1].mark == 0x1f);
	parse_err("x 1GB action=mark:0\n",
		  "quotas:1: bad action 'mark:0': bad mark (1 to 0xffffffff, such as mark:0x10)");
	parse_err("x 1GB action=mark:0x100000000\n",
		  "quotas:1: bad action 'mark:0x100000000': bad mark (1 to 0xffffffff, such as "
		  "mark:0x10)");
	parse_err("x 1GB action=throttle:fast\n",
		  "quotas:1: bad action 'throttle:fast': bad rate (such as throttle:10mbit): "
		  "expected a number");
	parse_err("x 1GB warn=50% warn=60%\n", "quotas:1: warn= given twice");
	parse_err("x 1GB color=red\n", "quotas:1: unknown option 'color=red' (warn=, bill=, action=)");
	parse_err("x 1GB drop\n", "quotas:1: unknown option 'drop' (warn=, bill=, action=)");
	{
		char many[2048] = "";

		for (int i = 0; i < 17; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many),
				 "l%d 1GB action=throttle:%dkbit\n", i, i + 1);
		parse_err(many, "quotas: more than 16 different throttle rates (each is a rule "
			  "of its own)");
	}
	parse_err("\n\nx lots\n", "quotas:3: bad limit 'lots': expected a number");
	parse_err("\xff\xfe 1GB\n", "quotas:1: label is not valid UTF-8");
	parse_err("a\x01 1GB\n", "quotas:1: label contains a control character");
	/* a hostile label is text, never syntax: it parses and stays as written */
	parse_ok("\";flush_ruleset 1GB action=drop\n");
	test_assert(Q.n == 1 && strcmp(Q.v[0].label, "\";flush_ruleset") == 0);
}

static void test_billed(void)
{
	struct counts c = { .in_bytes = 700, .in_packets = 1, .out_bytes = 300, .out_packets = 2 };

	test_assert(quota_billed(QUOTA_BILL_SUM, &c) == 1000);
	test_assert(quota_billed(QUOTA_BILL_MAX, &c) == 700);
	test_assert(quota_billed(QUOTA_BILL_IN, &c) == 700);
	test_assert(quota_billed(QUOTA_BILL_OUT, &c) == 300);
	c.in_bytes = UINT64_MAX;
	test_assert(quota_billed(QUOTA_BILL_SUM, &c) == UINT64_MAX);
}

static void test_levels(void)
{
	struct quota_levels fired = { { 0, 0 } }, now;
	const struct quota *q;

	parse_ok("a 1000 warn=50%,80%\nhuge 18446744073709551615 warn=99%\n");
	q = quotas_find(&Q, "a");
	test_assert(quota_crossed(q, 499, &fired, &now) == 0 && quota_state(q, 499) == 0);
	test_assert(quota_crossed(q, 500, &fired, &now) == 1 && quota_levels_has(&now, 50));
	test_assert(quota_state(q, 500) == 1);
	fired = now;
	test_assert(quota_crossed(q, 799, &fired, &now) == 0);
	/* past both at once: both fire, the one fired before does not */
	test_assert(quota_crossed(q, 1000, &fired, &now) == 2);
	test_assert(quota_levels_has(&now, 80) && quota_levels_has(&now, 100) &&
		    !quota_levels_has(&now, 50));
	test_assert(quota_state(q, 999) == 1 && quota_state(q, 1000) == 2);
	fired.w[0] |= now.w[0];
	fired.w[1] |= now.w[1];
	test_assert(quota_crossed(q, 5000, &fired, &now) == 0);
	/* no overflow at the top */
	q = quotas_find(&Q, "huge");
	test_assert(quota_state(q, UINT64_MAX - 1) == 1 && quota_state(q, UINT64_MAX) == 2);
}

static void test_warn_values(void)
{
	unsigned char w[QUOTA_WARN_MAX];
	size_t n;

	test_assert(!quota_parse_warn("1%,2%,3%,4%,5%,6%,7%,8%", 23, w, &n) && n == 8);
	test_streq(quota_parse_warn("1%,2%,3%,4%,5%,6%,7%,8%,9%", 26, w, &n),
		   "more than 8 warnings");
	test_assert(!quota_parse_warn("none", 4, w, &n) && n == 0);
	test_streq(quota_parse_warn("", 0, w, &n), "a warning is a percentage such as 80%");
}

/* The enforcement in the generated line: nothing without it; with it the
 * sets, the rules first in each chain, and the exceeded labels' addresses
 * (never their labels). */
static void test_render(void)
{
	static const char tmpl[] = "table inet @TABLE@ {\n counter nftally_owner {\n }\n"
				   " chain f {\n  jump account_in\n }\n}\n";
	const uint64_t rates[] = { 1250000 };
	const struct render_enforced v[] = {
		{ .label = "\";flush ruleset", .action = QUOTA_ACT_DROP },
		{ .label = "slow", .action = QUOTA_ACT_THROTTLE, .rate = 0 },
	};
	struct render_enforce en = { .on = true, .rates = rates, .nrates = 1, .v = v, .n = 2 };
	struct render_policy p = { 0 };
	struct targets t;
	struct err e;
	const char *fam;
	char *out = NULL;
	struct addr a;
	const char *why;

	targets_init(&t);
	test_assert(addr_parse("198.18.4.0/24", &a, &why) == 0);
	test_assert(targets_add(&t, "\";flush ruleset", &a) == 0);
	test_assert(addr_parse("2001:db8::5", &a, &why) == 0);
	test_assert(targets_add(&t, "slow", &a) == 0);
	test_assert(addr_parse("198.18.2.2", &a, &why) == 0);
	test_assert(targets_add(&t, "fine", &a) == 0);
	p.groups = &t;
	test_assert(render_skeleton(tmpl, strlen(tmpl), "t", "x", &p, &out, &fam, &e) == 0);
	test_assert(!strstr(out, "qdrop"));
	free(out);
	p.enforce = &en;
	test_assert(render_skeleton(tmpl, strlen(tmpl), "t", "x", &p, &out, &fam, &e) == 0);
	test_assert(strstr(out, "chain account_in { ip daddr @qdrop4 drop; ip daddr @qthr4_0 update "
			   "@qmeterin4_0 { ip daddr limit rate over 1250000 bytes/second } drop; "
			   "meta mark set ip daddr map @qmark4; "));
	test_assert(strstr(out, "chain account_out { ip saddr @qdrop4 drop; "));
	test_assert(strstr(out, "set qdrop4 { type ipv4_addr; flags interval; }; "));
	test_assert(strstr(out, "map qmark6 { type ipv6_addr : mark; flags interval; }; "));
	test_assert(strstr(out, "set qmeterout6_0 { type ipv6_addr; size 65535; flags dynamic; }; "));
	/* the elements are not in it (table_enforce fills the sets), nor
	 * any label */
	test_assert(!strstr(out, "198.18.4.0/24") && !strstr(out, "flush ruleset"));
	free(out);
	targets_finish(&t);
}

/* The sets and their elements: only the exceeded labels' addresses, of
 * the set's family, action and rate, no class copies, none inside
 * another. */
static void test_members(void)
{
	const uint64_t rates[] = { 1000, 2000 };
	const struct render_enforced v[] = {
		{ .label = "d", .action = QUOTA_ACT_DROP },
		{ .label = "m", .action = QUOTA_ACT_MARK, .mark = 0x10 },
		{ .label = "t2", .action = QUOTA_ACT_THROTTLE, .rate = 1 },
	};
	struct render_enforce en = { .on = true, .rates = rates, .nrates = 2, .v = v, .n = 3 };
	static const char *const lines[][2] = {
		{ "d", "198.18.4.7" }, { "d", "198.18.4.0/24" }, { "d", "198.18.5.1" },
		{ "d", "2001:db8::1" }, { "m", "198.18.6.1" }, { "t2", "198.18.7.1" },
		{ "ok", "198.18.8.1" },
	};
	struct render_member out[16];
	char names[16][32], text[ADDR_STRLEN];
	struct targets t;
	const char *why;
	struct addr a;

	targets_init(&t);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		test_assert(addr_parse(lines[i][1], &a, &why) == 0);
		test_assert(targets_add(&t, lines[i][0], &a) == 0);
	}
	test_assert(render_enforce_sets(&en, names, 16) == 8);
	test_streq(names[0], "qdrop4");
	test_streq(names[3], "qthr4_1");
	test_streq(names[7], "qthr6_1");
	test_assert(render_enforce_sets(&en, names, 5) == 4);
	test_assert(render_enforce_members(&t, &en, "qdrop4", out) == 2);
	test_streq(addr_format(&out[0].a, text), "198.18.4.0/24");
	test_streq(addr_format(&out[1].a, text), "198.18.5.1");
	test_assert(render_enforce_members(&t, &en, "qdrop6", out) == 1);
	test_assert(render_enforce_members(&t, &en, "qmark4", out) == 1 && out[0].mark == 0x10);
	test_assert(render_enforce_members(&t, &en, "qthr4_0", out) == 0);
	test_assert(render_enforce_members(&t, &en, "qthr4_1", out) == 1);
	test_streq(addr_format(&out[0].a, text), "198.18.7.1");
	en.on = false;
	test_assert(render_enforce_sets(&en, names, 16) == 0);
	targets_finish(&t);
}

int main(void)
{
	quotas_init(&Q);
	test_parse();
	test_errors();
	test_billed();
	test_levels();
	test_warn_values();
	test_render();
	test_members();
	quotas_finish(&Q);
	quotas_finish(&Q);
	return 0;
}
