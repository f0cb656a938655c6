// SPDX-License-Identifier: GPL-2.0-or-later
/* The JSON lines sink: the exact lines of a report (counter_reset events
 * before their counter lines, "since", "seq"), of a first report and of a
 * cumulative line, escaping, and the events it counted. */
#include <stdio.h>
#include <stdlib.h>

#include "output.h"
#include "states.h"
#include "test.h"

#define T1 "\"time\":\"2026-01-01T00:01:00Z\""
#define LINE(label, addr, ib, ip, ob, op)                                              \
	"{" T1 ",\"since\":\"2026-01-01T00:00:00Z\",\"seq\":5,\"label\":\"" label "\","  \
	"\"addr\":\"" addr "\",\"in_bytes\":" #ib ",\"in_packets\":" #ip ","            \
	"\"out_bytes\":" #ob ",\"out_packets\":" #op "}\n"

/* No classes: an empty registry. */
static const struct addr_names no_classes;

/* The lines of report (done, next) on a fresh stream; *o keeps the count
 * of its events. */
static char *lines(struct output *o, const struct state *done, const struct state *next)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	test_assert(f);
	output_init(o, f);
	test_assert(output_report(o, &no_classes, done, next) == 0);
	fclose(f);
	return buf;
}

static void test_report_lines(void)
{
	static const char want[] =
		LINE("a", "198.18.0.1", 500, 5, 200, 2)
		"{" T1 ",\"event\":\"counter_reset\",\"event_addr\":\"198.18.0.2\",\"message\":"
		"\"counter of 198.18.0.2 went backwards (reset, or recreated, outside nftally); "
		"counting it from zero\"}\n"
		LINE("b", "198.18.0.2", 100, 1, 0, 0)
		"{" T1 ",\"event\":\"counter_reset\",\"event_addr\":\"198.18.0.3\",\"message\":"
		"\"counter of 198.18.0.3 was deleted and created again outside nftally (a new "
		"kernel handle); counting it from zero\"}\n"
		LINE("c", "198.18.0.3", 50, 1, 50, 1)
		LINE("d", "198.18.0.4", 60, 1, 70, 1)
		LINE("new", "198.18.0.5", 10, 1, 20, 2)
		LINE("f", "198.18.0.6", 0, 0, 0, 0)
		LINE("e", "2001:db8::1", 200, 2, 0, 0);
	struct state done, next;
	struct output o;
	char *buf;

	make_states(&done, &next, 0);
	buf = lines(&o, &done, &next);
	test_streq(buf, want);
	free(buf);
	/* the same two states, the same lines: what a replay prints */
	buf = lines(&o, &done, &next);
	test_streq(buf, want);
	test_assert(o.events.v[0].type && o.events.v[0].n == 2);
	test_streq(o.events.v[0].type, "counter_reset");
	test_assert(o.events.v[1].type == NULL);
	free(buf);
	state_finish(&done);
	state_finish(&next);
}

static void test_first_and_cumulative(void)
{
	struct state done, next;
	struct output o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	test_assert(f);
	output_init(&o, f);
	state_init(&done); /* no state: counts from the counters' creation */
	state_init(&next);
	next.seq = 1;
	next.time = 1767225660;
	add(&next, "198.18.0.9", "q\"\\", (struct counts){ 7, 1, 0, 0 }, 0, 0, true, false);
	test_assert(output_report(&o, &no_classes, &done, &next) == 0);
	/* a cumulative line (dump, remove without a state): no since, no seq */
	test_assert(output_counter(&o, 1767225660, -1, 0, "x", "198.18.0.9", NULL,
				   &next.v[0].c) == 0);
	test_assert(output_event_lost(&o, 1767225660, "table_missing", 1767225600, 1767225660,
				      "gone %d", 1) == 0);
	fclose(f);
	test_streq(buf,
		   "{" T1 ",\"seq\":1,\"label\":\"q\\\"\\\\\",\"addr\":\"198.18.0.9\","
		   "\"in_bytes\":7,\"in_packets\":1,\"out_bytes\":0,\"out_packets\":0}\n"
		   "{" T1 ",\"label\":\"x\",\"addr\":\"198.18.0.9\","
		   "\"in_bytes\":7,\"in_packets\":1,\"out_bytes\":0,\"out_packets\":0}\n"
		   "{" T1 ",\"event\":\"table_missing\",\"message\":\"gone 1\","
		   "\"lost_since\":\"2026-01-01T00:00:00Z\",\"lost_until\":\"2026-01-01T00:01:00Z\"}\n");
	test_streq(o.events.v[0].type, "table_missing");
	test_assert(o.events.v[0].n == 1);
	free(buf);
	state_finish(&next);
}

static void count(const char *event, uint64_t n, void *data)
{
	char *s = data;

	sprintf(s + strlen(s), "%s=%llu;", event, (unsigned long long)n);
}

static void test_tally(void)
{
	struct output o;
	char seen[128] = "";
	FILE *f = fopen("/dev/null", "w");

	test_assert(f);
	output_init(&o, f);
	output_event(&o, 0, "error", NULL, "a");
	output_event(&o, 0, "start", NULL, "b");
	output_event(&o, 0, "error", "198.18.0.1", "c");
	output_tally_each(&o.events, count, seen);
	test_streq(seen, "error=2;start=1;");
	fclose(f);
}

int main(void)
{
	test_report_lines();
	test_first_and_cumulative();
	test_tally();
	return 0;
}
