// SPDX-License-Identifier: GPL-2.0-or-later
/* The JSON lines sink: the exact lines of a report (counter_reset events
 * before their counter lines, "since", "seq"), of a first report and of a
 * cumulative line, escaping, the events it counted, and where every line
 * says it was counted (host, netns, account), also for hostile names,
 * checked by parsing the lines back with json-c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "output.h"
#include "states.h"
#include "test.h"
#include "utf8.h"

/* "time" and the origin of an account's lines */
#define T1 "\"time\":\"2026-01-01T00:01:00Z\",\"host\":\"gw1\",\"netns\":\"qrouter-1\"," \
	"\"account\":\"routers\""
/* of daemon-wide lines */
#define T1D "\"time\":\"2026-01-01T00:01:00Z\",\"host\":\"gw1\",\"netns\":\"\""
#define LINE(label, addr, ib, ip, ob, op)                                              \
	"{" T1 ",\"since\":\"2026-01-01T00:00:00Z\",\"seq\":5,\"label\":\"" label "\","  \
	"\"addr\":\"" addr "\",\"in_bytes\":" #ib ",\"in_packets\":" #ip ","            \
	"\"out_bytes\":" #ob ",\"out_packets\":" #op "}\n"

/* No classes: an empty registry. */
static const struct addr_names no_classes;

static struct report_origin routers;

/* A fresh stream into *buf for o, its lines from org (NULL: as
 * output_init leaves them). */
static FILE *stream(struct output *o, char **buf, size_t *len, const struct report_origin *org)
{
	FILE *f = open_memstream(buf, len);

	test_assert(f);
	output_init(o, f);
	if (org)
		output_set_origin(o, org);
	return f;
}

/* The lines of report (done, next) on a fresh stream; *o keeps the count
 * of its events. */
static char *lines(struct output *o, const struct state *done, const struct state *next)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = stream(o, &buf, &len, &routers);

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
	FILE *f = stream(&o, &buf, &len, &routers);

	state_init(&done); /* no state: counts from the counters' creation */
	state_init(&next);
	next.seq = 1;
	next.time = 1767225660;
	add(&next, "198.18.0.9", "q\"\\", (struct counts){ 7, 1, 0, 0 }, 0, 0, true, false);
	test_assert(output_report(&o, &no_classes, &done, &next) == 0);
	/* back to daemon-wide: the host stays, netns "", no account */
	output_set_origin(&o, NULL);
	/* a cumulative line (dump, remove without a state): no since, no seq */
	test_assert(output_counter(&o, 1767225660, -1, 0, "x", "198.18.0.9", NULL,
				   &next.v[0].c) == 0);
	test_assert(output_event_lost(&o, 1767225660, "table_missing", 1767225600, 1767225660,
				      "gone %d", 1) == 0);
	fclose(f);
	test_streq(buf,
		   "{" T1 ",\"seq\":1,\"label\":\"q\\\"\\\\\",\"addr\":\"198.18.0.9\","
		   "\"in_bytes\":7,\"in_packets\":1,\"out_bytes\":0,\"out_packets\":0}\n"
		   "{" T1D ",\"label\":\"x\",\"addr\":\"198.18.0.9\","
		   "\"in_bytes\":7,\"in_packets\":1,\"out_bytes\":0,\"out_packets\":0}\n"
		   "{" T1D ",\"event\":\"table_missing\",\"message\":\"gone 1\","
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

/* The value of key in the JSON object of line (one line, strict JSON,
 * valid UTF-8), or NULL if it has none; *keys its keys in order. */
static char *field(const char *line, const char *key, char *keys, size_t size)
{
	json_tokener *tok = json_tokener_new();
	json_object *o, *v;
	char *r = NULL;
	int flags = JSON_TOKENER_STRICT;

	test_assert(tok);
#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	json_tokener_set_flags(tok, flags);
	o = json_tokener_parse_ex(tok, line, (int)strlen(line));
	test_assert(o && json_tokener_get_error(tok) == json_tokener_success);
	test_assert(json_object_is_type(o, json_type_object));
	keys[0] = '\0';
	json_object_object_foreach(o, k, val) {
		(void)val;
		snprintf(keys + strlen(keys), size - strlen(keys), "%s,", k);
	}
	if (json_object_object_get_ex(o, key, &v))
		r = strdup(json_object_get_string(v));
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/* Every line of buf (lines of one origin) carries host, netns and
 * account exactly, right after "time". */
static void check_lines(const char *buf, const char *host, const char *netns,
			const char *account, const char *order, size_t want_lines)
{
	const char *l = buf;
	size_t n = 0;

	test_assert(utf8_valid(buf));
	while (*l) {
		const char *nl = strchr(l, '\n');
		char *line, keys[512], *h, *ns, *a;

		test_assert(nl);
		line = strndup(l, (size_t)(nl - l));
		test_assert(!strchr(line, '\r') && !strchr(line, '\t')); /* escaped */
		h = field(line, "host", keys, sizeof(keys));
		ns = field(line, "netns", keys, sizeof(keys));
		a = field(line, "account", keys, sizeof(keys));
		test_assert(h && ns);
		test_streq(h, host);
		test_streq(ns, netns);
		if (account)
			test_streq(a, account);
		else
			test_assert(a == NULL);
		test_assert(strncmp(keys, order, strlen(order)) == 0);
		free(h);
		free(ns);
		free(a);
		free(line);
		n++;
		l = nl + 1;
	}
	test_assert(n == want_lines);
}

/* Names as hostile as a namespace's can be: quotes, backslashes, control
 * characters, bytes that are not UTF-8 (replaced by U+FFFD). */
static void test_hostile_origin(void)
{
	static const char netns[] = "q\"b\\n\nt\tr\rc\x01\x1f\x7f-\xff\xfe-\xc3\xa9-\xe2\x82";
	static const char netns_shown[] = "q\"b\\n\nt\tr\rc\x01\x1f\x7f-" UTF8_REPLACEMENT
		UTF8_REPLACEMENT "-\xc3\xa9-" UTF8_REPLACEMENT UTF8_REPLACEMENT;
	struct report_origin hostile;
	struct state done, next;
	struct output o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	report_origin_init(&hostile, "h\xc0\x80\"", netns, "acc\\", "t");
	f = stream(&o, &buf, &len, &hostile);
	make_states(&done, &next, 0);
	test_assert(output_report(&o, &no_classes, &done, &next) == 0);
	/* a message naming the namespace is repaired too */
	test_assert(output_event(&o, 1767225660, "netns_added", NULL, "namespace %s", netns) == 0);
	test_assert(output_event_lost(&o, 1767225660, "table_missing", 1767225600, 1767225660,
				      "x") == 0);
	fclose(f);
	check_lines(buf, "h" UTF8_REPLACEMENT UTF8_REPLACEMENT "\"", netns_shown, "acc\\",
		    "time,host,netns,account,", 7 + 2 + 2);
	test_assert(strstr(buf, "\"message\":\"namespace q\\\"b\\\\n\\nt\\tr\\rc\\u0001"));
	free(buf);

	/* daemon-wide after it: host kept, netns "", no account */
	buf = NULL;
	f = open_memstream(&buf, &len);
	test_assert(f);
	o.f = f;
	output_set_origin(&o, NULL);
	test_assert(output_event(&o, 1767225660, "start", NULL, "s") == 0);
	test_assert(output_counter(&o, 1767225660, -1, 0, "x", "198.18.0.9", NULL,
				   &(struct counts){ 1, 1, 1, 1 }) == 0);
	fclose(f);
	check_lines(buf, "h" UTF8_REPLACEMENT UTF8_REPLACEMENT "\"", "", NULL,
		    "time,host,netns,", 2);
	free(buf);
	state_finish(&done);
	state_finish(&next);
}

/* Before any origin is set, the lines name this host. */
static void test_default_host(void)
{
	char host[256] = "";
	char *buf = NULL;
	size_t len = 0;
	struct output o;
	FILE *f = stream(&o, &buf, &len, NULL);

	test_assert(gethostname(host, sizeof(host) - 1) == 0 && host[0]);
	test_assert(output_event(&o, 1767225660, "start", NULL, "s") == 0);
	fclose(f);
	check_lines(buf, host, "", NULL, "time,host,netns,event,message,", 1);
	free(buf);
}

/* Quota events: the exact line, the level as a short decimal, the label
 * kept as text (escaped, never cut). */
static void test_quota_events(void)
{
	struct report_origin daemon;
	char *buf = NULL;
	size_t len = 0;
	struct output o;
	FILE *f;

	report_origin_init(&daemon, "gw1", "", "", "");
	f = stream(&o, &buf, &len, &daemon);
	test_assert(output_quota_event(&o, 1767225660, "quota_warning", "vm", 5120, 10240,
				       1764547200, 1767225600, 50, "sum") == 0);
	test_assert(output_quota_event(&o, 1767225660, "quota_warning", "a\"b", 5, 100,
				       1764547200, 1767225600, 5, "max") == 0);
	test_assert(output_quota_event(&o, 1767225660, "quota_exceeded", "vm", 10240, 10240,
				       1764547200, 1767225600, 100, "in") == 0);
	test_assert(output_event_label(&o, 1767225660, "quota_lifted", "vm", "lifted") == 0);
	fclose(f);
	test_streq(buf,
		   "{" T1D ",\"event\":\"quota_warning\",\"message\":\"label vm used 5120 of 10240 "
		   "bytes (sum) in the cycle from 2025-12-01T00:00:00Z: 50% reached\",\"label\":\"vm\","
		   "\"used\":5120,\"limit\":10240,\"cycle_start\":\"2025-12-01T00:00:00Z\","
		   "\"cycle_end\":\"2026-01-01T00:00:00Z\",\"fraction\":0.5,\"bill\":\"sum\"}\n"
		   "{" T1D ",\"event\":\"quota_warning\",\"message\":\"label a\\\"b used 5 of 100 "
		   "bytes (max) in the cycle from 2025-12-01T00:00:00Z: 5% reached\",\"label\":\"a\\\"b\","
		   "\"used\":5,\"limit\":100,\"cycle_start\":\"2025-12-01T00:00:00Z\","
		   "\"cycle_end\":\"2026-01-01T00:00:00Z\",\"fraction\":0.05,\"bill\":\"max\"}\n"
		   "{" T1D ",\"event\":\"quota_exceeded\",\"message\":\"label vm used 10240 of 10240 "
		   "bytes (in) in the cycle from 2025-12-01T00:00:00Z: 100% reached\",\"label\":\"vm\","
		   "\"used\":10240,\"limit\":10240,\"cycle_start\":\"2025-12-01T00:00:00Z\","
		   "\"cycle_end\":\"2026-01-01T00:00:00Z\",\"fraction\":1,\"bill\":\"in\"}\n"
		   "{" T1D ",\"event\":\"quota_lifted\",\"message\":\"lifted\",\"label\":\"vm\"}\n");
	free(buf);
}

/* json-c's text for output_counter's line, built here the way output.c
 * did before it wrote counter lines by hand. */
static char *jsonc_line(const struct output *o, time_t t, time_t since, uint64_t seq,
			const char *label, const char *addr, const char *cls,
			const struct counts *c)
{
	json_object *j = json_object_new_object();
	const char *text;
	char tb[32], *line;
	char *fixed = utf8_valid(label) ? NULL : utf8_repair(label);

	json_object_object_add(j, "time", json_object_new_string(output_time(t, tb)));
	json_object_object_add(j, "host", json_object_new_string(o->origin.host));
	json_object_object_add(j, "netns", json_object_new_string(o->origin.netns));
	if (o->origin.account[0])
		json_object_object_add(j, "account", json_object_new_string(o->origin.account));
	if (since >= 0)
		json_object_object_add(j, "since", json_object_new_string(output_time(since, tb)));
	if (seq)
		output_json_u64(j, "seq", seq);
	json_object_object_add(j, "label", json_object_new_string(fixed ? fixed : label));
	json_object_object_add(j, "addr", json_object_new_string(addr));
	if (cls)
		json_object_object_add(j, "class", json_object_new_string(cls));
	output_json_u64(j, "in_bytes", c->in_bytes);
	output_json_u64(j, "in_packets", c->in_packets);
	output_json_u64(j, "out_bytes", c->out_bytes);
	output_json_u64(j, "out_packets", c->out_packets);
#ifndef JSON_C_TO_STRING_NOSLASHESCAPE
#define JSON_C_TO_STRING_NOSLASHESCAPE 0
#endif
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	test_assert(asprintf(&line, "%s\n", text) > 0);
	json_object_put(j);
	free(fixed);
	return line;
}

/* Counter lines are written by hand where json-c would print the strings
 * as they are, and by json-c otherwise: either way the bytes json-c
 * prints. */
static void test_counter_like_jsonc(void)
{
	static char big[1500];
	const char *labels[] = { "a", "a/b", "", "caf\xc3\xa9", "tab\there", "q\"\\",
				 "bad\xff", "del\x7f", big };
	const struct counts cs[] = { { 0, 0, 0, 0 }, { 1, 2, 3, 4 },
				     { UINT64_MAX, INT64_MAX, (uint64_t)INT64_MAX + 1, 10 } };

	memset(big, 'x', sizeof(big) - 1);
	for (int org = 0; org < 2; org++)
		for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
			for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
				char *buf = NULL, *want;
				size_t len = 0;
				struct output o;
				FILE *f = stream(&o, &buf, &len, org ? &routers : NULL);
				time_t since = k == 1 ? 1767225600 : -1;
				const char *cls = i % 2 ? "gold" : NULL;

				test_assert(output_counter(&o, 1767225660, since, k, labels[i],
							   "2001:db8::1", cls, &cs[k]) == 0);
				fclose(f);
				want = jsonc_line(&o, 1767225660, since, k, labels[i],
						  "2001:db8::1", cls, &cs[k]);
				test_streq(buf, want);
				free(want);
				free(buf);
			}
}

int main(void)
{
	report_origin_init(&routers, "gw1", "qrouter-1", "routers", "nftally");
	test_quota_events();
	test_report_lines();
	test_first_and_cumulative();
	test_tally();
	test_hostile_origin();
	test_default_host();
	test_counter_like_jsonc();
	return 0;
}
