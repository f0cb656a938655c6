/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The JSON lines sink: counter lines and event lines on the stdio stream
 * it is given (see docs/json.md for the schema), and how many events of
 * each type it printed. */
#ifndef NFTALLY_OUTPUT_H
#define NFTALLY_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "counts.h"
#include "report.h"
#include "state.h"

/* Events printed, per type (the types are string literals of the program,
 * so a small table suffices; more types than fit are not counted). */
#define OUTPUT_EVENT_TYPES_MAX 32
struct output_tally {
	struct {
		const char *type;
		uint64_t n;
	} v[OUTPUT_EVENT_TYPES_MAX];
};

/* One stream of JSON lines, where its lines say they were counted, and
 * what was printed on it. */
struct output {
	FILE *f;
	struct report_origin origin;
	struct output_tally events;
	/* "time" of the last counter line, as text */
	time_t time_at;
	char time_text[32];
};

/* o prints on f (not owned), no event counted yet, daemon-wide lines
 * (see output_set_origin) of this host: gethostname(), until the caller
 * names another (output_set_origin with the configured `host`). */
void output_init(struct output *o, FILE *f);

struct json_object;
/* Add v to JSON object o under k as an unsigned integer (json-c before
 * 0.14, RHEL 8's, has none: clamped to 2^63 - 1 there), as every JSON
 * nftally writes has it. */
void output_json_u64(struct json_object *o, const char *k, uint64_t v);
/* The same value, for an array. */
struct json_object *output_json_u64_new(uint64_t v);
/* Every line printed from now on says it was counted at org (copied):
 * "host", "netns", and "account" unless it is "", right after "time".
 * NULL: daemon-wide lines (the daemon's own events), "netns" "" and no
 * "account", the host kept.  An account's lines are printed between its
 * origin and NULL. */
void output_set_origin(struct output *o, const struct report_origin *org);
/* Flush the stream: 0 or -EIO. */
int output_flush(struct output *o);

/* The current time for reports, from the precise realtime clock. */
time_t output_now(void);
/* Milliseconds since t0 (CLOCK_MONOTONIC), for the durations reported. */
double output_ms_since(const struct timespec *t0);

/* RFC 3339 UTC with seconds ("2026-11-22T02:51:04Z"); buf holds 32 bytes. */
char *output_time(time_t t, char *buf);

/* One counter line.  since < 0 leaves out "since", seq 0 leaves out "seq"
 * (cumulative dumps), and cls NULL leaves out "class" (no classes).  Returns 0 or -EIO if the stream failed. */
int output_counter(struct output *o, time_t t, time_t since, uint64_t seq, const char *label,
		   const char *addr, const char *cls, const struct counts *c);

/* One event line: {"time", "event", "message"} plus "addr" if addr is not
 * NULL (then it is "event_addr" to keep counter lines recognisable). */
int output_event(struct output *o, time_t t, const char *event, const char *addr,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An `error` event now, also on stderr (log_msg) when log is true, and
 * the stream flushed: what a daemon says of a failure it goes on after. */
void output_error(struct output *o, bool log, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An event about traffic that could not be counted, with the window:
 * "lost_since" and "lost_until" (whole seconds, like "time"). */
int output_event_lost(struct output *o, time_t t, const char *event, time_t since, time_t until,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* An event about a label: "label" after "event" and "message". */
int output_event_label(struct output *o, time_t t, const char *event, const char *label,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A quota event (quota_warning, quota_exceeded): "label", "used" and
 * "limit" (bytes), "cycle_start" and "cycle_end", "fraction" (percent /
 * 100, such as 0.8) and "bill", after "event" and "message". */
int output_quota_event(struct output *o, time_t t, const char *event, const char *label,
		       uint64_t used, uint64_t limit, time_t cycle_start, time_t cycle_end,
		       unsigned percent, const char *bill);
/* The same event as one JSON line with its newline, not printed (counted
 * as printed): for a writer that is not this process's stdio. NULL when
 * out of memory. */
char *output_quota_event_line(struct output *o, time_t t, const char *event,
			      const char *label, uint64_t used, uint64_t limit,
			      time_t cycle_start, time_t cycle_end, unsigned percent,
			      const char *bill);

/* Call cb with how many events of each type t counted, in the order of
 * their first. */
void output_tally_each(const struct output_tally *t,
		       void (*cb)(const char *event, uint64_t n, void *data), void *data);

/* The lines of report next against the reported state done: per entry of
 * next marked rep (report_each) a counter_reset event when its counter
 * counts from zero for a reason to tell, then its counter line, with
 * "since" the time done's values were read (left out when never) and
 * next's seq.  A pure function of the two states, so a report replayed
 * after a crash prints the very same lines; "class" is an's label of the
 * entry's class (addr_names_label).  Flushes; 0 or -EIO. */
int output_report(struct output *o, const struct addr_names *an, const struct state *done,
		  const struct state *next);

#endif
