// SPDX-License-Identifier: GPL-2.0-or-later
/* The persisted report state: exact round trip, version 1 files still read,
 * strict rejection of damaged files, and where a delta starts (handles).
 * The files and the lock are test_statedir.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "state.h"
#include "test.h"

static void add(struct state *s, const char *text, const char *label,
		uint64_t ib, uint64_t ip, uint64_t ob, uint64_t op, bool rep)
{
	struct addr a;

	test_assert(addr_parse(text, &a, NULL) == 0);
	test_assert(state_add(s, &a, label, &(struct counts){ ib, ip, ob, op }, rep) == 0);
}

static char *format(const struct state *s, const struct addr_names *an)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	test_assert(f && state_format(s, an, f) == 0);
	fclose(f);
	return buf;
}

static void test_round_trip(void)
{
	struct state s, t;
	struct err e = { "" };
	struct addr_names an = { 0 };
	struct addr a;
	char *text, *again;

	state_init(&s);
	strcpy(s.table, "nftally");
	s.handle = 42;
	s.seq = 7;
	s.time = 1795316785;
	s.base_time = 1795316780;
	strcpy(s.boot, "0f6b1c2e-54a7-4f0e-9d3b-2a1c5e7f9b10");
	strcpy(s.netns, "c:4097");
	s.genid = 4294967295u;
	s.closed = true;
	add(&s, "2001:db8:4::/64", "vm-net", 1, 2, 3, 4, true);
	add(&s, "198.18.2.2", "\";flush{}", UINT64_MAX, 0, 18446744073709551614u, 5, false);
	add(&s, "198.18.2.3", "left", 9, 1, 0, 0, true);
	s.v[1].h[0] = 7;
	s.v[1].h[1] = UINT64_MAX;
	s.v[2].h[0] = 12;
	s.v[2].h[1] = 13;
	s.v[2].last = true;
	state_sort(&s);
	text = format(&s, &an);
	test_streq(text, "nftally-state 2\n# written by nftally; do not edit\n"
		   "table nftally\nhandle 42\nseq 7\ntime 1795316785\nbase_time 1795316780\n"
		   "boot 0f6b1c2e-54a7-4f0e-9d3b-2a1c5e7f9b10\nnetns c:4097\ngenid 4294967295\nclosed\n"
		   "entry 198.18.2.2 0 18446744073709551615 0 18446744073709551614 5 7 "
		   "18446744073709551615 \";flush{}\n"
		   "entry 198.18.2.3 2 9 1 0 0 12 13 left\n"
		   "entry 2001:db8:4::/64 1 1 2 3 4 0 0 vm-net\nend\n");
	state_init(&t);
	test_assert(state_parse_buffer(&t, &an, "st", text, strlen(text), &e) == 0);
	again = format(&t, &an);
	test_streq(again, text);
	test_assert(addr_parse("2001:db8:4::/64", &a, NULL) == 0);
	test_assert(state_find(&t, &a) && state_find(&t, &a)->c.out_packets == 4);
	test_assert(addr_parse("2001:db8:4::1", &a, NULL) == 0);
	test_assert(state_find(&t, &a) == NULL);
	test_assert(t.v[0].h[0] == 7 && t.v[0].h[1] == UINT64_MAX && !t.v[0].last && !t.v[0].rep);
	test_assert(t.v[1].h[0] == 12 && t.v[1].h[1] == 13 && t.v[1].last && t.v[1].rep);
	test_assert(!t.v[2].last && t.v[2].rep);
	test_streq(t.boot, "0f6b1c2e-54a7-4f0e-9d3b-2a1c5e7f9b10");
	test_streq(t.netns, "c:4097");
	test_assert(t.genid == 4294967295u);
	test_assert(t.closed);
	free(again);
	/* read in pieces (a state file is read in blocks): the same state,
	 * wherever the text is cut */
	for (size_t cut = 1; cut < strlen(text); cut += 7) {
		struct state_parser p;
		struct state u;

		state_init(&u);
		state_parse_begin(&p, &u, &an);
		for (size_t at = 0; at < strlen(text); at += cut)
			state_parse_more(&p, text + at, strlen(text) - at < cut ? strlen(text) - at : cut);
		test_assert(state_parse_end(&p, "st", &e) == 0);
		again = format(&u, &an);
		test_streq(again, text);
		free(again);
		state_finish(&u);
	}
	free(text);
	state_finish(&s);
	state_finish(&t);
}

/* Labels are kept once for a run of entries with the same one (an
 * apply's record labels every address "-"); filtering keeps the order. */
static bool odd_entry(const struct state_entry *x, void *data)
{
	return x->addr.bytes[3] % 2;
}

static void test_labels_filter(void)
{
	struct state s;
	char text[32];

	state_init(&s);
	for (int i = 1; i <= 200; i++) {
		snprintf(text, sizeof(text), "198.18.0.%d", i);
		add(&s, text, i <= 100 ? "-" : i % 2 ? "odd" : "even", 0, 0, 0, 0, true);
	}
	test_assert(s.v[0].label == s.v[99].label);
	test_streq(state_label(&s, &s.v[100]), "odd");
	test_streq(state_label(&s, &s.v[101]), "even");
	state_filter(&s, odd_entry, NULL);
	test_assert(s.n == 100 && s.cap == 100);
	for (size_t i = 0; i < s.n; i++)
		test_assert(s.v[i].addr.bytes[3] == 2 * i + 1);
	test_streq(state_label(&s, &s.v[0]), "-");
	test_streq(state_label(&s, &s.v[99]), "odd");
	state_filter(&s, odd_entry, NULL);
	test_assert(s.n == 100);
	state_finish(&s);
	state_finish(&s); /* harmless twice */
}

/* A version 1 file (before handles): read with every handle unknown, and
 * written back as version 2. */
static void test_version1(void)
{
	static const char v1[] = "nftally-state 1\n# written by nftally; do not edit\n"
		"table nftally\nhandle 42\nseq 7\ntime 1795316785\nbase_time 1795316780\n"
		"entry 198.18.2.2 1 10 1 20 2 a-b\nend\n";
	struct state s;
	struct err e = { "" };
	struct addr_names an = { 0 };
	char *text;

	state_init(&s);
	test_assert(state_parse_buffer(&s, &an, "st", v1, strlen(v1), &e) == 0);
	test_assert(s.n == 1 && s.v[0].rep && !s.v[0].last);
	test_assert(s.v[0].h[0] == 0 && s.v[0].h[1] == 0);
	test_assert(s.v[0].c.in_bytes == 10 && s.v[0].c.out_packets == 2);
	test_streq(state_label(&s, &s.v[0]), "a-b");
	text = format(&s, &an);
	test_assert(strstr(text, "nftally-state 2\n") == text);
	test_assert(strstr(text, "\nentry 198.18.2.2 1 10 1 20 2 0 0 a-b\n"));
	free(text);
	state_finish(&s);
}

/* Where a delta starts: the handle says which counter, the values going
 * backwards say a reset (or, handles unknown, a recreation). */
/* Which table a state's values came from: another boot, or (both known)
 * another handle. */
static void test_other_table(void)
{
	static const char b1[] = "0f6b1c2e-54a7-4f0e-9d3b-2a1c5e7f9b10";
	static const char b2[] = "fe25aa99-6981-4ab2-8ea5-65ca2b1ca98e";
	struct state s;

	state_init(&s);
	s.handle = 7;
	strcpy(s.boot, b1);
	test_assert(!state_of_other_table(&s, 7, b1, NULL));
	test_assert(state_of_other_table(&s, 8, b1, NULL));
	/* the same handle after a reboot is another table */
	test_assert(state_of_other_table(&s, 7, b2, NULL));
	test_assert(state_of_other_table(&s, 7, "", NULL));
	/* a handle unknown on either side says nothing */
	test_assert(!state_of_other_table(&s, 0, b1, NULL));
	s.handle = 0;
	test_assert(!state_of_other_table(&s, 8, b1, NULL));
	/* a state written before the boot id was kept */
	s.handle = 7;
	s.boot[0] = 0;
	test_assert(!state_of_other_table(&s, 7, b2, NULL));
	test_assert(state_of_other_table(&s, 8, b2, NULL));
	/* the same handle and boot in another network namespace (handles
	 * start again at 1 in every new one) is another table */
	strcpy(s.boot, b1);
	strcpy(s.netns, "c:4097");
	test_assert(!state_of_other_table(&s, 7, b1, "c:4097"));
	test_assert(state_of_other_table(&s, 7, b1, "c:4098"));
	test_assert(state_of_other_table(&s, 7, b1, "i:4:4026532008"));
	/* unknown on either side: the boot and handle decide */
	test_assert(!state_of_other_table(&s, 7, b1, ""));
	s.netns[0] = 0;
	test_assert(!state_of_other_table(&s, 7, b1, "c:4098"));
	state_finish(&s);
}

static void test_delta_from(void)
{
	static const struct {
		struct state_reading cur, base;
		bool last;
		enum state_from want;
	} cases[] = {
		/* the same counter, counting on */
		{ { 200, 2, 5 }, { 100, 1, 5 }, false, STATE_FROM_REPORTED },
		{ { 100, 1, 5 }, { 100, 1, 5 }, true, STATE_FROM_REPORTED },
		/* another counter that has passed the old values: only the
		 * handle tells; after a last report it is nftally's own */
		{ { 200, 2, 6 }, { 100, 1, 5 }, false, STATE_FROM_RECREATED },
		{ { 200, 2, 6 }, { 100, 1, 5 }, true, STATE_FROM_ZERO },
		{ { 50, 1, 6 }, { 100, 1, 5 }, true, STATE_FROM_ZERO },
		{ { 50, 1, 6 }, { 100, 1, 5 }, false, STATE_FROM_RECREATED },
		/* nft reset counter: the same handle, backwards */
		{ { 50, 1, 5 }, { 100, 1, 5 }, false, STATE_FROM_RESET },
		{ { 150, 0, 5 }, { 100, 1, 5 }, false, STATE_FROM_RESET },
		/* a handle unknown (a version 1 state, or a kernel that did not
		 * say): only backwards tells */
		{ { 200, 2, 6 }, { 100, 1, 0 }, false, STATE_FROM_REPORTED },
		{ { 50, 1, 6 }, { 100, 1, 0 }, false, STATE_FROM_RESET },
		/* ... but after a last report a counter can only be new: nftally
		 * deleted the old one (and clears the mark if that failed) */
		{ { 50, 1, 0 }, { 100, 1, 5 }, true, STATE_FROM_ZERO },
		{ { 200, 2, 0 }, { 100, 1, 0 }, true, STATE_FROM_ZERO },
		/* never reported, or zeroed by nftally (repair, new table) */
		{ { 7, 1, 9 }, { 0, 0, 0 }, false, STATE_FROM_REPORTED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum state_from got = state_delta_from(&cases[i].cur, &cases[i].base, cases[i].last);

		if (got != cases[i].want) {
			fprintf(stderr, "case %zu: want %d, got %d\n", i, cases[i].want, got);
			test_assert(got == cases[i].want);
		}
	}
}

static void rejects(const char *text, const char *msg)
{
	struct state s;
	struct err e = { "" };
	struct addr_names an = { 0 };

	state_init(&s);
	test_assert(state_parse_buffer(&s, &an, "st", text, strlen(text), &e) == -EINVAL);
	test_streq(e.msg, msg);
	state_finish(&s);
}

static void test_damaged(void)
{
	/* Each body follows a valid header of 5 lines (so line 6 is the first
	 * entry), with the message it must be rejected with. */
	static const char *const cases[][2] = {
		{ "entry 198.18.2.2 1 1 1 1 1 a\n", "st: state file is truncated (no end line)" },
		{ "entry 198.18.2.2 1 1 1 1 1 a\nen", "st:7: state file is damaged" },
		{ "entry 198.18.2.2 1 1 1 1 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 1 -1 1 1 1 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 1 18446744073709551616 1 1 1 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.1/24 1 1 1 1 1 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 1 1 1 1 1 a\nentry 198.18.2.2 0 1 1 1 1 b\nend\n",
		  "st: state file lists an address twice" },
		{ "end\nentry 198.18.2.2 1 1 1 1 1 a\n", "st:7: state file is damaged" },
		{ "seq x\nend\n", "st:6: state file is damaged" },
		{ "boot 0f6b1c2e x\nend\n", "st:6: state file is damaged" },
		{ "boot 0123456789abcdef0123456789abcdef01234567\nend\n",
		  "st:6: state file is damaged" },
		/* an apply's record: the generation is 32 bits */
		{ "genid 4294967296\nend\n", "st:6: state file is damaged" },
		{ "genid -1\nend\n", "st:6: state file is damaged" },
	};
	/* Version 2: handles after the values, REP 2 for a last report. */
	static const char *const cases2[][2] = {
		{ "entry 198.18.2.2 1 1 1 1 1 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 1 1 1 1 1 5 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 3 1 1 1 1 5 6 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 1 1 1 1 1 5 -6 a\nend\n", "st:6: state file is damaged" },
		{ "entry 198.18.2.2 2 1 1 1 1 5 6\nend\n", "st:6: state file is damaged" },
	};
	const char *head = "nftally-state 1\ntable t\nhandle 1\nseq 1\ntime 1\n";
	const char *head2 = "nftally-state 2\ntable t\nhandle 1\nseq 1\ntime 1\n";
	char buf[512];

	rejects("", "st: state file is truncated (no end line)");
	rejects("nftally-state 3\nend\n", "st:1: state file is damaged");
	/* version 1 knows no REP 2 */
	rejects("nftally-state 1\nentry 198.18.2.2 2 1 1 1 1 a\nend\n", "st:2: state file is damaged");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", head, cases[i][0]);
		rejects(buf, cases[i][1]);
	}
	for (size_t i = 0; i < sizeof(cases2) / sizeof(cases2[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", head2, cases2[i][0]);
		rejects(buf, cases2[i][1]);
	}

	struct state s;
	struct err e = { "" };
	static const char nul[] = "nftally-state 1\n\0end\n";

	state_init(&s);
	test_assert(state_parse_buffer(&s, &(struct addr_names){ 0 }, "st", nul, sizeof(nul) - 1,
				       &e) == -EINVAL);
	test_streq(e.msg, "st: NUL byte in state file");

	/* a line longer than any of the form is damage, unless a comment */
	static char big[3000];
	size_t n = (size_t)snprintf(big, sizeof(big), "nftally-state 2\n#");

	memset(big + n, 'x', 2000);
	strcpy(big + n + 2000, "\nend\n");
	state_init(&s);
	test_assert(state_parse_buffer(&s, &(struct addr_names){ 0 }, "st", big, strlen(big),
				       &e) == 0);
	state_finish(&s);
	big[n - 1] = 'y';
	rejects(big, "st:2: state file is damaged");
}

/* Two accounts in one process number their classes each in its own
 * registry: the same text parses to different numbers and formats back
 * the same, and a class the config no longer has is registered. */
static void test_two_registries(void)
{
	static const char text[] = "nftally-state 2\n# written by nftally; do not edit\n"
		"table t\nhandle 1\nseq 3\ntime 100\nbase_time 90\n"
		"entry 198.18.2.2 1 10 1 20 2 0 0 a\n"
		"entry 198.18.2.2@local 1 11 1 21 2 0 0 a\n"
		"entry 198.18.2.2@national 1 12 1 22 2 0 0 a\n"
		"entry 2001:db8::/64@gone 0 1 1 1 1 0 0 n\nend\n";
	struct addr_names a, b;
	struct state s, t;
	struct err e = { "" };
	char *ta, *tb;

	addr_names_init(&a);
	addr_names_init(&b);
	test_assert(addr_names_id(&a, "local") == 1 && addr_names_id(&a, "national") == 2);
	test_assert(addr_names_id(&b, "national") == 1 && addr_names_id(&b, "local") == 2);
	state_init(&s);
	state_init(&t);
	test_assert(state_parse_buffer(&s, &a, "a", text, strlen(text), &e) == 0);
	test_assert(state_parse_buffer(&t, &b, "b", text, strlen(text), &e) == 0);
	/* sorted by class number within an address: the numbering shows */
	test_assert(s.n == 4 && t.n == 4);
	test_assert(s.v[1].addr.cls == 1 && s.v[1].c.in_bytes == 11);
	test_assert(s.v[2].addr.cls == 2 && s.v[2].c.in_bytes == 12);
	test_assert(t.v[1].addr.cls == 1 && t.v[1].c.in_bytes == 12);
	test_assert(t.v[2].addr.cls == 2 && t.v[2].c.in_bytes == 11);
	test_assert(s.v[3].addr.cls == 3 && addr_names_count(&a) == 4);
	test_streq(addr_names_name(&b, t.v[3].addr.cls), "gone");
	ta = format(&s, &a);
	tb = format(&t, &b);
	test_streq(ta, text);
	test_streq(tb, "nftally-state 2\n# written by nftally; do not edit\n"
		   "table t\nhandle 1\nseq 3\ntime 100\nbase_time 90\n"
		   "entry 198.18.2.2 1 10 1 20 2 0 0 a\n"
		   "entry 198.18.2.2@national 1 12 1 22 2 0 0 a\n"
		   "entry 198.18.2.2@local 1 11 1 21 2 0 0 a\n"
		   "entry 2001:db8::/64@gone 0 1 1 1 1 0 0 n\nend\n");
	/* a state formatted with the other account's registry names the
	 * other classes: the registry must be the account's own */
	free(ta);
	ta = format(&s, &b);
	test_assert(strstr(ta, "\nentry 198.18.2.2@national 1 11 "));
	free(ta);
	free(tb);
	state_finish(&s);
	state_finish(&t);
}

/* Appending as many entries as were reserved moves none of them. */
static void test_reserve(void)
{
	struct state s;
	struct addr a = { .family = AF_INET, .plen = 32, .bytes = { 198, 18, 0, 0 } };
	const struct state_entry *v;

	state_init(&s);
	test_assert(state_reserve(&s, 1000) == 0);
	v = s.v;
	for (unsigned i = 0; i < 1000; i++) {
		a.bytes[2] = (uint8_t)(i >> 8);
		a.bytes[3] = (uint8_t)i;
		test_assert(state_add(&s, &a, "-", &(struct counts){ 0 }, true) == 0);
	}
	test_assert(s.v == v && s.n == 1000);
	test_assert(state_reserve(&s, 10) == 0 && s.v == v && s.n == 1000);
	state_finish(&s);
}

int main(void)
{
	test_reserve();
	test_two_registries();
	test_round_trip();
	test_other_table();
	test_version1();
	test_labels_filter();
	test_delta_from();
	test_damaged();
	return 0;
}
