// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON lines through json-c: labels are arbitrary UTF-8 and json-c escapes
 * them; one line per object, flushed by the caller at interval ends. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "output.h"

#ifndef JSON_C_TO_STRING_NOSLASHESCAPE
#define JSON_C_TO_STRING_NOSLASHESCAPE 0
#endif

time_t output_now(void)
{
	struct timespec ts;

	/* time() may read a coarse clock that lags a timer that just fired on
	 * a whole second; the precise clock does not. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

char *output_time(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8))
	json_object_object_add(o, k, json_object_new_uint64(v));
#else
	/* json-c < 0.14 (RHEL 8) has no uint64: 2^63 bytes is 8 EiB. */
	json_object_object_add(o, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
#endif
}

static int emit(FILE *f, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = fprintf(f, "%s\n", s) < 0 ? -EIO : 0;

	json_object_put(o);
	return ret;
}

int output_counter(FILE *f, time_t t, time_t since, uint64_t seq, const char *label,
		   const char *addr, const char *cls, const struct counts *c)
{
	json_object *o = json_object_new_object();
	char tb[32];

	if (!o)
		return -ENOMEM;
	add_str(o, "time", output_time(t, tb));
	if (since >= 0)
		add_str(o, "since", output_time(since, tb));
	if (seq)
		add_u64(o, "seq", seq);
	add_str(o, "label", label);
	add_str(o, "addr", addr);
	if (cls)
		add_str(o, "class", cls);
	add_u64(o, "in_bytes", c->in_bytes);
	add_u64(o, "in_packets", c->in_packets);
	add_u64(o, "out_bytes", c->out_bytes);
	add_u64(o, "out_packets", c->out_packets);
	return emit(f, o);
}

/* Events printed by this process, per type (the types are string
 * literals of the program, so a small table suffices). */
#define EVENT_TYPES_MAX 32
static struct {
	const char *type;
	uint64_t n;
} event_counts[EVENT_TYPES_MAX];

static void count_event(const char *event)
{
	for (size_t i = 0; i < EVENT_TYPES_MAX; i++) {
		if (!event_counts[i].type)
			event_counts[i].type = event;
		if (strcmp(event_counts[i].type, event) == 0) {
			event_counts[i].n++;
			return;
		}
	}
}

void output_event_counts(void (*cb)(const char *event, uint64_t n, void *data), void *data)
{
	for (size_t i = 0; i < EVENT_TYPES_MAX && event_counts[i].type; i++)
		cb(event_counts[i].type, event_counts[i].n, data);
}

/* An event line without its stream; NULL when out of memory. */
static json_object *event_new(time_t t, const char *event, const char *addr,
			      const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char tb[32], *msg = NULL;
	int n;

	count_event(event);
	if (!o)
		return NULL;
	n = vasprintf(&msg, fmt, ap);
	add_str(o, "time", output_time(t, tb));
	add_str(o, "event", event);
	if (addr)
		add_str(o, "event_addr", addr);
	add_str(o, "message", n < 0 ? "" : msg);
	free(msg);
	return o;
}

int output_event(FILE *f, time_t t, const char *event, const char *addr,
		 const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = event_new(t, event, addr, fmt, ap);
	va_end(ap);
	return o ? emit(f, o) : -ENOMEM;
}

int output_event_lost(FILE *f, time_t t, const char *event, time_t since, time_t until,
		      const char *fmt, ...)
{
	json_object *o;
	char tb[32];
	va_list ap;

	va_start(ap, fmt);
	o = event_new(t, event, NULL, fmt, ap);
	va_end(ap);
	if (!o)
		return -ENOMEM;
	add_str(o, "lost_since", output_time(since, tb));
	add_str(o, "lost_until", output_time(until, tb));
	return emit(f, o);
}
