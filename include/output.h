/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON lines on a stdio stream: counter lines and event lines (see
 * docs/json.md for the schema). */
#ifndef NFTALLY_OUTPUT_H
#define NFTALLY_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct counts {
	uint64_t in_bytes, in_packets, out_bytes, out_packets;
};

/* c with `overhead` bytes added per packet (config `overhead`). */
static inline struct counts output_wire(const struct counts *c, unsigned overhead)
{
	return (struct counts){ c->in_bytes + c->in_packets * overhead, c->in_packets,
				c->out_bytes + c->out_packets * overhead, c->out_packets };
}

/* The current time for reports, from the precise realtime clock. */
time_t output_now(void);

/* RFC 3339 UTC with seconds ("2026-11-22T02:51:04Z"); buf holds 32 bytes. */
char *output_time(time_t t, char *buf);

/* One counter line.  since < 0 leaves out "since", seq 0 leaves out "seq"
 * (cumulative dumps), and cls NULL leaves out "class" (no classes).  Returns 0 or -EIO if the stream failed. */
int output_counter(FILE *f, time_t t, time_t since, uint64_t seq, const char *label,
		   const char *addr, const char *cls, const struct counts *c);

/* One event line: {"time", "event", "message"} plus "addr" if addr is not
 * NULL (then it is "event_addr" to keep counter lines recognisable). */
int output_event(FILE *f, time_t t, const char *event, const char *addr,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An event about traffic that could not be counted, with the window:
 * "lost_since" and "lost_until" (whole seconds, like "time"). */
int output_event_lost(FILE *f, time_t t, const char *event, time_t since, time_t until,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* How many events of each type this process printed. */
void output_event_counts(void (*cb)(const char *event, uint64_t n, void *data), void *data);

#endif
