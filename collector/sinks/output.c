// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON lines through json-c: json-c escapes quotes, backslashes and
 * control characters, and every string is made valid UTF-8 first (json-c
 * passes any byte above 0x7f as it is, and a namespace's name can be any
 * bytes); one line per object, flushed by the caller at interval ends. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "output.h"
#include "report.h"
#include "utf8.h"

#ifndef JSON_C_TO_STRING_NOSLASHESCAPE
#define JSON_C_TO_STRING_NOSLASHESCAPE 0
#endif

void output_init(struct output *o, FILE *f)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	/* never a line without its host, even before the daemon names it */
	if (gethostname(o->origin.host, sizeof(o->origin.host) - 1) < 0)
		o->origin.host[0] = '\0';
}

void output_set_origin(struct output *o, const struct report_origin *org)
{
	if (org) {
		o->origin = *org;
		return;
	}
	o->origin.netns[0] = '\0';
	o->origin.account[0] = '\0';
	o->origin.table[0] = '\0';
}

int output_flush(struct output *o)
{
	return fflush(o->f) == 0 ? 0 : -EIO;
}

time_t output_now(void)
{
	struct timespec ts;

	/* time() may read a coarse clock that lags a timer that just fired on
	 * a whole second; the precise clock does not. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

double output_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void output_error(struct output *o, bool log, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	output_event(o, output_now(), "error", NULL, "%s", msg);
	if (log)
		log_msg(LOG_PRIO_ERR, "%s", msg);
	output_flush(o);
}

char *output_time(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* v as a JSON string, invalid UTF-8 replaced by U+FFFD (out of memory:
 * the key is left out). */
static void add_str(json_object *o, const char *k, const char *v)
{
	char *fixed = NULL;

	if (!utf8_valid(v)) {
		fixed = utf8_repair(v);
		if (!fixed)
			return;
		v = fixed;
	}
	json_object_object_add(o, k, json_object_new_string(v));
	free(fixed);
}

/* "time", then where the line was counted: every line begins alike. */
static void add_head(json_object *o, const struct output *out, time_t t)
{
	char tb[32];

	add_str(o, "time", output_time(t, tb));
	add_str(o, "host", out->origin.host);
	add_str(o, "netns", out->origin.netns);
	if (out->origin.account[0])
		add_str(o, "account", out->origin.account);
}

json_object *output_json_u64_new(uint64_t v)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8))
	return json_object_new_uint64(v);
#else
	/* json-c < 0.14 (RHEL 8) has no uint64: 2^63 bytes is 8 EiB. */
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
#endif
}

void output_json_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, output_json_u64_new(v));
}

static int emit(FILE *f, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = fprintf(f, "%s\n", s) < 0 ? -EIO : 0;

	json_object_put(o);
	return ret;
}

/* A string json-c prints as it is: printable ASCII without '"' and '\\'
 * ('/' too where json-c cannot be told not to escape it), valid UTF-8
 * that add_str does not repair either. */
static bool plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' ||
		    *s == '\\' || (!JSON_C_TO_STRING_NOSLASHESCAPE && *s == '/'))
			return false;
	return true;
}

/* A counter line written by hand, byte for byte what json-c prints for
 * output_counter's object: a dump of 100,000 addresses spent a third of
 * its time building, printing and freeing json-c objects (an allocation
 * per key).  ok false: a string json-c would escape, or no room; json-c
 * prints that line. */
#define OUTPUT_LINE_MAX 1024
struct line {
	char buf[OUTPUT_LINE_MAX];
	size_t len;
	bool ok;
};

static void line_put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - l->len) {
		l->ok = false;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* key: the text before the value, `"name":` with its comma. */
static void line_str(struct line *l, const char *key, const char *v)
{
	if (!plain(v))
		l->ok = false;
	line_put(l, key, strlen(key));
	line_put(l, "\"", 1);
	line_put(l, v, strlen(v));
	line_put(l, "\"", 1);
}

static void line_u64(struct line *l, const char *key, uint64_t v)
{
	char digits[24], *d = digits + sizeof(digits);

#if !(defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8)))
	if (v > INT64_MAX)
		v = INT64_MAX; /* as output_json_u64_new clamps it */
#endif
	do
		*--d = (char)('0' + v % 10);
	while (v /= 10);
	line_put(l, key, strlen(key));
	line_put(l, d, (size_t)(digits + sizeof(digits) - d));
}

/* "time" as RFC 3339: the lines of one report share it. */
static const char *line_time(struct output *out, time_t t)
{
	if (!out->time_text[0] || out->time_at != t) {
		output_time(t, out->time_text);
		out->time_at = t;
	}
	return out->time_text;
}

static int counter_json(struct output *out, time_t t, time_t since, uint64_t seq,
			const char *label, const char *addr, const char *cls,
			const struct counts *c)
{
	json_object *o = json_object_new_object();
	char tb[32];

	if (!o)
		return -ENOMEM;
	add_head(o, out, t);
	if (since >= 0)
		add_str(o, "since", output_time(since, tb));
	if (seq)
		output_json_u64(o, "seq", seq);
	add_str(o, "label", label);
	add_str(o, "addr", addr);
	if (cls)
		add_str(o, "class", cls);
	output_json_u64(o, "in_bytes", c->in_bytes);
	output_json_u64(o, "in_packets", c->in_packets);
	output_json_u64(o, "out_bytes", c->out_bytes);
	output_json_u64(o, "out_packets", c->out_packets);
	return emit(out->f, o);
}

int output_counter(struct output *out, time_t t, time_t since, uint64_t seq, const char *label,
		   const char *addr, const char *cls, const struct counts *c)
{
	struct line l;
	char tb[32];

	l.len = 0;
	l.ok = true;
	line_str(&l, "{\"time\":", line_time(out, t));
	line_str(&l, ",\"host\":", out->origin.host);
	line_str(&l, ",\"netns\":", out->origin.netns);
	if (out->origin.account[0])
		line_str(&l, ",\"account\":", out->origin.account);
	if (since >= 0)
		line_str(&l, ",\"since\":", output_time(since, tb));
	if (seq)
		line_u64(&l, ",\"seq\":", seq);
	line_str(&l, ",\"label\":", label);
	line_str(&l, ",\"addr\":", addr);
	if (cls)
		line_str(&l, ",\"class\":", cls);
	line_u64(&l, ",\"in_bytes\":", c->in_bytes);
	line_u64(&l, ",\"in_packets\":", c->in_packets);
	line_u64(&l, ",\"out_bytes\":", c->out_bytes);
	line_u64(&l, ",\"out_packets\":", c->out_packets);
	line_put(&l, "}\n", 2);
	if (!l.ok)
		return counter_json(out, t, since, seq, label, addr, cls, c);
	return fwrite(l.buf, 1, l.len, out->f) == l.len ? 0 : -EIO;
}

static void count_event(struct output_tally *t, const char *event)
{
	for (size_t i = 0; i < OUTPUT_EVENT_TYPES_MAX; i++) {
		if (!t->v[i].type)
			t->v[i].type = event;
		if (strcmp(t->v[i].type, event) == 0) {
			t->v[i].n++;
			return;
		}
	}
}

void output_tally_each(const struct output_tally *t,
		       void (*cb)(const char *event, uint64_t n, void *data), void *data)
{
	for (size_t i = 0; i < OUTPUT_EVENT_TYPES_MAX && t->v[i].type; i++)
		cb(t->v[i].type, t->v[i].n, data);
}

/* An event line without its stream; NULL when out of memory. */
static json_object *event_new(struct output *out, time_t t, const char *event,
			      const char *addr, const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char *msg = NULL;
	int n;

	count_event(&out->events, event);
	if (!o)
		return NULL;
	n = vasprintf(&msg, fmt, ap);
	add_head(o, out, t);
	add_str(o, "event", event);
	if (addr)
		add_str(o, "event_addr", addr);
	add_str(o, "message", n < 0 ? "" : msg);
	free(msg);
	return o;
}

int output_event(struct output *out, time_t t, const char *event, const char *addr,
		 const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = event_new(out, t, event, addr, fmt, ap);
	va_end(ap);
	return o ? emit(out->f, o) : -ENOMEM;
}

int output_event_lost(struct output *out, time_t t, const char *event, time_t since, time_t until,
		      const char *fmt, ...)
{
	json_object *o;
	char tb[32];
	va_list ap;

	va_start(ap, fmt);
	o = event_new(out, t, event, NULL, fmt, ap);
	va_end(ap);
	if (!o)
		return -ENOMEM;
	add_str(o, "lost_since", output_time(since, tb));
	add_str(o, "lost_until", output_time(until, tb));
	return emit(out->f, o);
}

/* An event about a label, without its stream; NULL when out of memory. */
static json_object *label_event(struct output *out, time_t t, const char *event,
				const char *label, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static json_object *label_event(struct output *out, time_t t, const char *event,
				const char *label, const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = event_new(out, t, event, NULL, fmt, ap);
	va_end(ap);
	if (o)
		add_str(o, "label", label);
	return o;
}

int output_event_label(struct output *out, time_t t, const char *event, const char *label,
		       const char *fmt, ...)
{
	char msg[512];
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = label_event(out, t, event, label, "%s", msg);
	return o ? emit(out->f, o) : -ENOMEM;
}

static json_object *quota_event(struct output *out, time_t t, const char *event,
				const char *label, uint64_t used, uint64_t limit, time_t cycle_start,
				time_t cycle_end, unsigned percent, const char *bill)
{
	char tb[32], frac[16];
	json_object *o = label_event(out, t, event, label, "label %s used %llu of %llu bytes (%s) "
				     "in the cycle from %s: %u%% reached", label,
				     (unsigned long long)used, (unsigned long long)limit, bill,
				     output_time(cycle_start, tb), percent);

	if (!o)
		return NULL;
	/* 0.8, not json-c's 0.80000000000000004 */
	snprintf(frac, sizeof(frac), "%u.%02u", percent / 100, percent % 100);
	if (frac[strlen(frac) - 1] == '0')
		frac[strlen(frac) - 1] = '\0';
	if (strcmp(frac, "1.0") == 0)
		strcpy(frac, "1");
	output_json_u64(o, "used", used);
	output_json_u64(o, "limit", limit);
	add_str(o, "cycle_start", output_time(cycle_start, tb));
	add_str(o, "cycle_end", output_time(cycle_end, tb));
	json_object_object_add(o, "fraction", json_object_new_double_s(percent / 100.0, frac));
	add_str(o, "bill", bill);
	return o;
}

int output_quota_event(struct output *out, time_t t, const char *event, const char *label,
		       uint64_t used, uint64_t limit, time_t cycle_start, time_t cycle_end,
		       unsigned percent, const char *bill)
{
	json_object *o = quota_event(out, t, event, label, used, limit, cycle_start, cycle_end,
				     percent, bill);

	return o ? emit(out->f, o) : -ENOMEM;
}

char *output_quota_event_line(struct output *out, time_t t, const char *event,
			      const char *label, uint64_t used, uint64_t limit,
			      time_t cycle_start, time_t cycle_end, unsigned percent,
			      const char *bill)
{
	json_object *o = quota_event(out, t, event, label, used, limit, cycle_start, cycle_end,
				     percent, bill);
	char *line = NULL;

	if (o && asprintf(&line, "%s\n", json_object_to_json_string_ext(o,
			  JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}

struct report_ctx {
	struct output *o;
	const struct addr_names *an;
	const struct state *done, *next;
	int ret;
};

static int report_one(const struct report_delta *d, void *data)
{
	struct report_ctx *p = data;
	int ret = 0;

	if (d->reset == STATE_FROM_RECREATED)
		ret = output_event(p->o, p->next->time, "counter_reset", d->addr,
				   "counter of %s was deleted and created again outside "
				   "nftally (a new kernel handle); counting it from zero", d->addr);
	else if (d->reset == STATE_FROM_RESET)
		ret = output_event(p->o, p->next->time, "counter_reset", d->addr,
				   "counter of %s went backwards (reset, or recreated, outside "
				   "nftally); counting it from zero", d->addr);
	/* since: when the values this delta starts from were read; a first
	 * report from no state counts from the counters' creation */
	ret |= output_counter(p->o, p->next->time,
			      p->done->base_time ? p->done->base_time : -1, p->next->seq,
			      d->label, d->addr, addr_names_label(p->an, d->x->addr.cls), &d->d);
	if (ret && !p->ret)
		p->ret = -EIO;
	return 0; /* a failed line does not hold up the others */
}

int output_report(struct output *o, const struct addr_names *an, const struct state *done,
		  const struct state *next)
{
	struct report_ctx p = { o, an, done, next, 0 };

	report_each(done, next, report_one, &p);
	return output_flush(o) < 0 ? -EIO : p.ret;
}
