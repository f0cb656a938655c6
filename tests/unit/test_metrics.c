// SPDX-License-Identifier: GPL-2.0-or-later
/* The Prometheus text: the exact exposition of the totals of a set of
 * reports for the addresses of a state (with none shown until seeded),
 * escaping of labels, and the health with the events of the JSON lines. */
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "output.h"
#include "states.h"
#include "test.h"

#define BYTES_HEAD                                                                     \
	"# HELP nftally_bytes_total Bytes counted per address and direction since the " \
	"store began (layer 3, plus the configured overhead per packet).\n"             \
	"# TYPE nftally_bytes_total counter\n"
#define PACKETS_HEAD                                                                   \
	"# HELP nftally_packets_total Packets counted per address and direction since " \
	"the store began.\n# TYPE nftally_packets_total counter\n"
#define HEALTH(addresses, events, errors)                                              \
	"# HELP nftally_addresses Addresses accounted.\n"                               \
	"# TYPE nftally_addresses gauge\nnftally_addresses " addresses "\n"             \
	"# HELP nftally_last_read_timestamp_seconds When the counters were last read.\n" \
	"# TYPE nftally_last_read_timestamp_seconds gauge\n"                            \
	"nftally_last_read_timestamp_seconds 1767225660.000\n"                          \
	"# HELP nftally_last_read_duration_seconds How long the last read of every "    \
	"counter took.\n# TYPE nftally_last_read_duration_seconds gauge\n"              \
	"nftally_last_read_duration_seconds 0.250000\n"                                 \
	"# HELP nftally_last_store_duration_seconds How long recording the last "       \
	"report in the store took.\n# TYPE nftally_last_store_duration_seconds gauge\n" \
	"nftally_last_store_duration_seconds 0.500000\n"                                \
	"# HELP nftally_reports_total Reports made by this process.\n"                  \
	"# TYPE nftally_reports_total counter\nnftally_reports_total 2\n"               \
	"# HELP nftally_start_time_seconds When this process started.\n"                \
	"# TYPE nftally_start_time_seconds gauge\n"                                     \
	"nftally_start_time_seconds 1767225600.500\n"                                   \
	"# HELP nftally_events_total Events printed by this process, per type.\n"       \
	"# TYPE nftally_events_total counter\n" events                                  \
	"# HELP nftally_errors_total Error events printed by this process (reading "    \
	"the table, the store, the metrics, reinstalling).\n"                           \
	"# TYPE nftally_errors_total counter\nnftally_errors_total " errors "\n"         \
	"# HELP nftally_store_errors_total Reports of this process the store could "    \
	"not record.\n# TYPE nftally_store_errors_total counter\n"                      \
	"nftally_store_errors_total 1\n"

/* No classes: an empty registry. */
static const struct addr_names no_classes;

static char *render(struct metrics *m, const struct state *current,
		    const struct metrics_health *h)
{
	char *buf = NULL;
	size_t len = 0;

	test_assert(metrics_render(m, &no_classes, current, h, &buf, &len) == 0);
	test_assert(len == strlen(buf));
	return buf;
}

static void test_text(void)
{
	struct metrics_health h = { 1767225660, 0.25, 0.5, 2, 1, 1767225600.5, NULL };
	struct state done, next, current;
	struct metrics *m = metrics_new();
	struct output o;
	struct report r;
	char *text;
	FILE *devnull = fopen("/dev/null", "w");

	test_assert(m && devnull);
	output_init(&o, devnull);
	output_event(&o, 0, "counter_reset", NULL, "x");
	output_event(&o, 0, "error", NULL, "y");
	output_event(&o, 0, "counter_reset", NULL, "z");
	h.events = &o.events;
	make_states(&done, &next, 0);
	test_assert(report_make(&r, NULL, &no_classes, &done, &next) == 0);
	/* the same report twice: the totals are sums */
	test_assert(metrics_add_report(m, &r) == 0);
	test_assert(metrics_add_report(m, &r) == 0);
	test_assert(metrics_add(m, "198.18.0.8", "q\"\\\n", NULL,
				&(struct counts){ 1, 2, 3, 4 }) == 0);
	state_init(&current);
	add(&current, "198.18.0.1", "a", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "198.18.0.7", "g", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "198.18.0.8", "q\"\\\n", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "2001:db8::1", "e", (struct counts){ 0 }, 0, 0, false, false);
	state_sort(&current);

	/* unseeded: the store's totals are not loaded, no counter yet */
	text = render(m, &current, &h);
	test_streq(text, BYTES_HEAD PACKETS_HEAD
		   HEALTH("4", "nftally_events_total{event=\"counter_reset\"} 2\n"
			  "nftally_events_total{event=\"error\"} 1\n", "1"));
	free(text);

	metrics_set_seeded(m);
	text = render(m, &current, &h);
	test_streq(text, BYTES_HEAD
		   "nftally_bytes_total{label=\"a\",addr=\"198.18.0.1\",direction=\"in\"} 1000\n"
		   "nftally_bytes_total{label=\"a\",addr=\"198.18.0.1\",direction=\"out\"} 400\n"
		   "nftally_bytes_total{label=\"g\",addr=\"198.18.0.7\",direction=\"in\"} 0\n"
		   "nftally_bytes_total{label=\"g\",addr=\"198.18.0.7\",direction=\"out\"} 0\n"
		   "nftally_bytes_total{label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"in\"} 1\n"
		   "nftally_bytes_total{label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"out\"} 3\n"
		   "nftally_bytes_total{label=\"e\",addr=\"2001:db8::1\",direction=\"in\"} 400\n"
		   "nftally_bytes_total{label=\"e\",addr=\"2001:db8::1\",direction=\"out\"} 0\n"
		   PACKETS_HEAD
		   "nftally_packets_total{label=\"a\",addr=\"198.18.0.1\",direction=\"in\"} 10\n"
		   "nftally_packets_total{label=\"a\",addr=\"198.18.0.1\",direction=\"out\"} 4\n"
		   "nftally_packets_total{label=\"g\",addr=\"198.18.0.7\",direction=\"in\"} 0\n"
		   "nftally_packets_total{label=\"g\",addr=\"198.18.0.7\",direction=\"out\"} 0\n"
		   "nftally_packets_total{label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"in\"} 2\n"
		   "nftally_packets_total{label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"out\"} 4\n"
		   "nftally_packets_total{label=\"e\",addr=\"2001:db8::1\",direction=\"in\"} 4\n"
		   "nftally_packets_total{label=\"e\",addr=\"2001:db8::1\",direction=\"out\"} 0\n"
		   HEALTH("4", "nftally_events_total{event=\"counter_reset\"} 2\n"
			  "nftally_events_total{event=\"error\"} 1\n", "1"));
	free(text);

	/* no JSON lines: no events */
	h.events = NULL;
	state_finish(&current);
	state_init(&current);
	text = render(m, &current, &h);
	test_streq(text, BYTES_HEAD PACKETS_HEAD HEALTH("0", "", "0"));
	free(text);

	report_free(&r);
	metrics_free(m);
	state_finish(&done);
	state_finish(&next);
	fclose(devnull);
}

int main(void)
{
	test_text();
	return 0;
}
