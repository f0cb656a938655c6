// SPDX-License-Identifier: GPL-2.0-or-later
/* The Prometheus text: the exact exposition of the totals of a set of
 * reports for the addresses of a state (with none shown until seeded),
 * escaping of labels, the health with the events of the JSON lines; and
 * for many sources, where each series was counted (host, netns, account)
 * with no label set ever twice, whatever the names: the text is parsed
 * back here, and given to promtool when it is installed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "metrics.h"
#include "output.h"
#include "states.h"
#include "test.h"
#include "utf8.h"

#define BYTES_HEAD                                                                     \
	"# HELP nftally_bytes_total Bytes counted per address and direction since the " \
	"store began (layer 3, plus the configured overhead per packet).\n"             \
	"# TYPE nftally_bytes_total counter\n"
#define PACKETS_HEAD                                                                   \
	"# HELP nftally_packets_total Packets counted per address and direction since " \
	"the store began.\n# TYPE nftally_packets_total counter\n"
#define H "{host=\"gw1\"}"
#define HEALTH(accounts, addresses, events, errors)                                    \
	"# HELP nftally_accounts Accounts, one per network namespace, whose addresses " \
	"are shown.\n# TYPE nftally_accounts gauge\nnftally_accounts" H " " accounts "\n" \
	"# HELP nftally_addresses Addresses accounted.\n"                               \
	"# TYPE nftally_addresses gauge\nnftally_addresses" H " " addresses "\n"        \
	"# HELP nftally_last_read_timestamp_seconds When the counters were last read.\n" \
	"# TYPE nftally_last_read_timestamp_seconds gauge\n"                            \
	"nftally_last_read_timestamp_seconds" H " 1767225660.000\n"                     \
	"# HELP nftally_last_read_duration_seconds How long the last read of every "    \
	"counter took.\n# TYPE nftally_last_read_duration_seconds gauge\n"              \
	"nftally_last_read_duration_seconds" H " 0.250000\n"                            \
	"# HELP nftally_last_store_duration_seconds How long recording the last "       \
	"report in the store took.\n# TYPE nftally_last_store_duration_seconds gauge\n" \
	"nftally_last_store_duration_seconds" H " 0.500000\n"                           \
	"# HELP nftally_reports_total Reports made by this process.\n"                  \
	"# TYPE nftally_reports_total counter\nnftally_reports_total" H " 2\n"          \
	"# HELP nftally_start_time_seconds When this process started.\n"                \
	"# TYPE nftally_start_time_seconds gauge\n"                                     \
	"nftally_start_time_seconds" H " 1767225600.500\n"                              \
	"# HELP nftally_events_total Events printed by this process, per type.\n"       \
	"# TYPE nftally_events_total counter\n" events                                  \
	"# HELP nftally_errors_total Error events printed by this process (reading "    \
	"the table, the store, the metrics, reinstalling).\n"                           \
	"# TYPE nftally_errors_total counter\nnftally_errors_total" H " " errors "\n"    \
	"# HELP nftally_store_errors_total Reports of this process the store could "    \
	"not record.\n# TYPE nftally_store_errors_total counter\n"                      \
	"nftally_store_errors_total" H " 1\n"
#define GW "host=\"gw1\",netns=\"\","

/* No classes: an empty registry. */
static const struct addr_names no_classes;

static const struct metrics_health health = { 1767225660, 0.25, 0.5, 2, 1, 1767225600.5, NULL,
					      "gw1" };

static char *render(struct metrics *m, const struct metrics_src *src, size_t n,
		    const struct metrics_health *h)
{
	char *buf = NULL;
	size_t len = 0;

	test_assert(metrics_render(m, src, n, h, &buf, &len) == 0);
	test_assert(len == strlen(buf));
	return buf;
}

static void test_text(void)
{
	struct metrics_health h = health;
	struct state done, next, current;
	struct metrics *m = metrics_new();
	struct report_origin gw;
	struct metrics_src src = { &gw, &no_classes, &current };
	struct output o;
	struct report r;
	char *text;
	FILE *devnull = fopen("/dev/null", "w");

	test_assert(m && devnull);
	report_origin_init(&gw, "gw1", "", "", "nftally");
	output_init(&o, devnull);
	output_event(&o, 0, "counter_reset", NULL, "x");
	output_event(&o, 0, "error", NULL, "y");
	output_event(&o, 0, "counter_reset", NULL, "z");
	h.events = &o.events;
	make_states(&done, &next, 0);
	test_assert(report_make(&r, &gw, &no_classes, &done, &next) == 0);
	/* the same report twice: the totals are sums */
	test_assert(metrics_add_report(m, &r) == 0);
	test_assert(metrics_add_report(m, &r) == 0);
	test_assert(metrics_add(m, &gw, "198.18.0.8", "q\"\\\n", NULL,
				&(struct counts){ 1, 2, 3, 4 }) == 0);
	state_init(&current);
	add(&current, "198.18.0.1", "a", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "198.18.0.7", "g", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "198.18.0.8", "q\"\\\n", (struct counts){ 0 }, 0, 0, false, false);
	add(&current, "2001:db8::1", "e", (struct counts){ 0 }, 0, 0, false, false);
	state_sort(&current);

	/* unseeded: the store's totals are not loaded, no counter yet */
	text = render(m, &src, 1, &h);
	test_streq(text, BYTES_HEAD PACKETS_HEAD
		   HEALTH("1", "4", "nftally_events_total{host=\"gw1\",event=\"counter_reset\"} 2\n"
			  "nftally_events_total{host=\"gw1\",event=\"error\"} 1\n", "1"));
	free(text);

	/* with PostgreSQL on: its outbox's size and age after the health */
	h.pg = true;
	h.pg_outbox_reports = 3;
	h.pg_outbox_age = 120.4;
	text = render(m, &src, 1, &h);
	test_streq(text, BYTES_HEAD PACKETS_HEAD
		   HEALTH("1", "4", "nftally_events_total{host=\"gw1\",event=\"counter_reset\"} 2\n"
			  "nftally_events_total{host=\"gw1\",event=\"error\"} 1\n", "1")
		   "# HELP nftally_pg_outbox_reports Reports waiting for PostgreSQL.\n"
		   "# TYPE nftally_pg_outbox_reports gauge\n"
		   "nftally_pg_outbox_reports{host=\"gw1\"} 3\n"
		   "# HELP nftally_pg_outbox_age_seconds How long the oldest report waiting for "
		   "PostgreSQL has waited (0: none).\n"
		   "# TYPE nftally_pg_outbox_age_seconds gauge\n"
		   "nftally_pg_outbox_age_seconds{host=\"gw1\"} 120\n");
	free(text);
	h.pg = false;

	metrics_set_seeded(m);
	text = render(m, &src, 1, &h);
	test_streq(text, BYTES_HEAD
		   "nftally_bytes_total{" GW "label=\"a\",addr=\"198.18.0.1\",direction=\"in\"} 1000\n"
		   "nftally_bytes_total{" GW "label=\"a\",addr=\"198.18.0.1\",direction=\"out\"} 400\n"
		   "nftally_bytes_total{" GW "label=\"g\",addr=\"198.18.0.7\",direction=\"in\"} 0\n"
		   "nftally_bytes_total{" GW "label=\"g\",addr=\"198.18.0.7\",direction=\"out\"} 0\n"
		   "nftally_bytes_total{" GW "label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"in\"} 1\n"
		   "nftally_bytes_total{" GW "label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"out\"} 3\n"
		   "nftally_bytes_total{" GW "label=\"e\",addr=\"2001:db8::1\",direction=\"in\"} 400\n"
		   "nftally_bytes_total{" GW "label=\"e\",addr=\"2001:db8::1\",direction=\"out\"} 0\n"
		   PACKETS_HEAD
		   "nftally_packets_total{" GW "label=\"a\",addr=\"198.18.0.1\",direction=\"in\"} 10\n"
		   "nftally_packets_total{" GW "label=\"a\",addr=\"198.18.0.1\",direction=\"out\"} 4\n"
		   "nftally_packets_total{" GW "label=\"g\",addr=\"198.18.0.7\",direction=\"in\"} 0\n"
		   "nftally_packets_total{" GW "label=\"g\",addr=\"198.18.0.7\",direction=\"out\"} 0\n"
		   "nftally_packets_total{" GW "label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"in\"} 2\n"
		   "nftally_packets_total{" GW "label=\"q\\\"\\\\\\n\",addr=\"198.18.0.8\",direction=\"out\"} 4\n"
		   "nftally_packets_total{" GW "label=\"e\",addr=\"2001:db8::1\",direction=\"in\"} 4\n"
		   "nftally_packets_total{" GW "label=\"e\",addr=\"2001:db8::1\",direction=\"out\"} 0\n"
		   HEALTH("1", "4", "nftally_events_total{host=\"gw1\",event=\"counter_reset\"} 2\n"
			  "nftally_events_total{host=\"gw1\",event=\"error\"} 1\n", "1"));
	free(text);

	/* no JSON lines: no events; no source: no series, no account */
	h.events = NULL;
	text = render(m, NULL, 0, &h);
	test_streq(text, BYTES_HEAD PACKETS_HEAD HEALTH("0", "0", "", "0"));
	free(text);

	report_free(&r);
	metrics_free(m);
	state_finish(&current);
	state_finish(&done);
	state_finish(&next);
	fclose(devnull);
}

/* ---- parsing the text back ---- */

/* One sample: its metric name and label pairs, canonical (pairs sorted,
 * empty values left out: Prometheus has no empty label), and its value. */
struct sample {
	char *series;
	unsigned long long v;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The label value at *p (after the opening quote), unescaped into out;
 * *p after the closing quote.  Only the format's escapes are accepted. */
static void parse_value(const char **p, char *out)
{
	const char *s = *p;

	while (*s != '"') {
		test_assert(*s && *s != '\n');
		if (*s == '\\') {
			s++;
			test_assert(*s == '\\' || *s == '"' || *s == 'n');
			*out++ = *s == 'n' ? '\n' : *s;
			s++;
			continue;
		}
		*out++ = *s++;
	}
	*out = '\0';
	*p = s + 1;
}

/* The sample of line l ("NAME{K="V",...} VALUE"). */
static struct sample parse_sample(const char *l)
{
	char *pairs[16], name[128], key[64], value[2048], *canon;
	const char *p = strchr(l, '{');
	size_t np = 0, len;
	struct sample x;

	test_assert(p && (size_t)(p - l) < sizeof(name));
	memcpy(name, l, (size_t)(p - l));
	name[p - l] = '\0';
	p++;
	while (*p != '}') {
		const char *eq = strchr(p, '=');

		test_assert(eq && eq[1] == '"' && (size_t)(eq - p) < sizeof(key) && np < 16);
		memcpy(key, p, (size_t)(eq - p));
		key[eq - p] = '\0';
		p = eq + 2;
		parse_value(&p, value);
		test_assert(utf8_valid(value));
		if (*value) {
			test_assert(asprintf(&pairs[np], "%s\x01%s", key, value) > 0);
			np++;
		}
		test_assert(*p == ',' || *p == '}');
		if (*p == ',')
			p++;
	}
	test_assert(sscanf(p, "} %llu", &x.v) == 1);
	qsort(pairs, np, sizeof(pairs[0]), cmp_str);
	len = strlen(name) + 1;
	for (size_t i = 0; i < np; i++)
		len += strlen(pairs[i]) + 1;
	canon = calloc(1, len + 1);
	test_assert(canon);
	strcat(canon, name);
	for (size_t i = 0; i < np; i++) {
		strcat(canon, "\x02");
		strcat(canon, pairs[i]);
		free(pairs[i]);
	}
	x.series = canon;
	return x;
}

/* The samples of text (malloc'ed, *n of them), checking that no series
 * comes twice. */
static struct sample *parse_text(const char *text, size_t *n)
{
	struct sample *v = NULL;
	char **keys;
	const char *l = text;

	*n = 0;
	while (*l) {
		const char *nl = strchr(l, '\n');
		char *line;

		test_assert(nl);
		line = strndup(l, (size_t)(nl - l));
		if (line[0] != '#') {
			v = realloc(v, (*n + 1) * sizeof(*v));
			test_assert(v);
			v[(*n)++] = parse_sample(line);
		}
		free(line);
		l = nl + 1;
	}
	keys = malloc((*n ? *n : 1) * sizeof(*keys));
	test_assert(keys);
	for (size_t i = 0; i < *n; i++)
		keys[i] = v[i].series;
	qsort(keys, *n, sizeof(*keys), cmp_str);
	for (size_t i = 1; i < *n; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0) {
			fprintf(stderr, "series twice: %s\n", keys[i]);
			test_assert(!"a series is unique");
		}
	free(keys);
	return v;
}

static void free_samples(struct sample *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].series);
	free(v);
}

/* The value of the sample of name with exactly the given non-empty
 * labels ("k=v" pairs, NULL-terminated), which must be there. */
static unsigned long long value_of(const struct sample *v, size_t n, const char *name,
				   const char *const *labels)
{
	struct sample want;
	char line[4096] = "";
	size_t k = 0;

	snprintf(line, sizeof(line), "%s{", name);
	for (const char *const *l = labels; *l; l += 2) {
		char *p = line + strlen(line);

		if (k++)
			*p++ = ',';
		snprintf(p, sizeof(line) - (size_t)(p - line), "%s=\"", l[0]);
		p += strlen(p);
		for (const char *s = l[1]; *s; s++) {
			if (*s == '\\' || *s == '"')
				*p++ = '\\';
			if (*s == '\n') {
				*p++ = '\\';
				*p++ = 'n';
				continue;
			}
			*p++ = *s;
		}
		*p++ = '"';
		*p = '\0';
	}
	strcat(line, "} 0");
	want = parse_sample(line);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].series, want.series) == 0) {
			free(want.series);
			return v[i].v;
		}
	fprintf(stderr, "no series %s\n", line);
	test_assert(!"the series is there");
	return 0;
}

/* promtool, when installed, accepts text (exit 0: no error, no lint). */
static void promtool_accepts(const char *text)
{
	char path[] = "/tmp/nftally-test-metrics.XXXXXX", cmd[128];
	FILE *f;
	int fd, st;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		fprintf(stderr, "promtool not installed: its check is skipped\n");
		return;
	}
	fd = mkstemp(path);
	test_assert(fd >= 0);
	f = fdopen(fd, "w");
	test_assert(f && fputs(text, f) >= 0 && fclose(f) == 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	st = system(cmd);
	unlink(path);
	test_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- many sources ---- */

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_origins(void)
{
	struct report_origin r1, r2, acct_a, acct_b;
	struct state s1, s2, sa, sb, empty;
	struct metrics *m = metrics_new();
	struct sample *v;
	size_t n;
	char *text;

	test_assert(m);
	metrics_set_seeded(m);
	report_origin_init(&r1, "node12", "qrouter-1", "routers", "nftally");
	report_origin_init(&r2, "node12", "qrouter-2", "routers", "nftally");
	report_origin_init(&acct_a, "node12", "", "a", "ta");
	report_origin_init(&acct_b, "node12", "", "b", "tb");
	/* the same address and label in two namespaces, and in two accounts
	 * of one namespace */
	state_init(&s1);
	state_init(&s2);
	state_init(&sa);
	state_init(&sb);
	state_init(&empty);
	add(&s1, "198.18.0.1", "fip", (struct counts){ 0 }, 0, 0, false, false);
	add(&s1, "198.18.0.2", "gw", (struct counts){ 0 }, 0, 0, false, false);
	add(&s2, "198.18.0.1", "fip", (struct counts){ 0 }, 0, 0, false, false);
	add(&sa, "198.18.0.1", "fip", (struct counts){ 0 }, 0, 0, false, false);
	add(&sb, "198.18.0.1", "fip", (struct counts){ 0 }, 0, 0, false, false);
	test_assert(metrics_add(m, &r1, "198.18.0.1", "fip", NULL, &(struct counts){ 1, 2, 3, 4 }) == 0);
	test_assert(metrics_add(m, &r2, "198.18.0.1", "fip", NULL, &(struct counts){ 10, 20, 30, 40 }) == 0);
	test_assert(metrics_add(m, &acct_a, "198.18.0.1", "fip", "", &(struct counts){ 100, 1, 0, 0 }) == 0);
	test_assert(metrics_add(m, &acct_b, "198.18.0.1", "fip", NULL, &(struct counts){ 200, 2, 0, 0 }) == 0);
	/* a copy of an origin is the same origin: one series, the sum */
	{
		struct report_origin again = r1;

		test_assert(metrics_add(m, &again, "198.18.0.1", "fip", NULL,
					&(struct counts){ 1, 1, 1, 1 }) == 0);
	}
	/* r1 twice among the sources (its namespace seen twice while it is
	 * replaced), and a source without addresses */
	{
		struct metrics_src src[] = { { &r1, &no_classes, &s1 }, { &r2, &no_classes, &s2 },
					     { &acct_a, &no_classes, &sa },
					     { &acct_b, &no_classes, &sb },
					     { &r1, &no_classes, &s1 },
					     { &acct_a, &no_classes, &empty } };
		struct metrics_health h = health;

		h.host = "node12";
		text = render(m, src, 6, &h);
	}
	v = parse_text(text, &n);
	/* 5 series of 4 samples each, and the health's 9 */
	test_assert(n == 5 * 4 + 9);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "node12", "netns", "qrouter-1", "account", "routers", "label",
			       "fip", "addr", "198.18.0.1", "direction", "in")) == 2);
	test_assert(value_of(v, n, "nftally_packets_total",
			     L("host", "node12", "netns", "qrouter-1", "account", "routers", "label",
			       "fip", "addr", "198.18.0.1", "direction", "out")) == 5);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "node12", "netns", "qrouter-2", "account", "routers", "label",
			       "fip", "addr", "198.18.0.1", "direction", "out")) == 30);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "node12", "netns", "qrouter-1", "account", "routers", "label",
			       "gw", "addr", "198.18.0.2", "direction", "in")) == 0);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "node12", "account", "a", "label", "fip", "addr",
			       "198.18.0.1", "direction", "in")) == 100);
	test_assert(value_of(v, n, "nftally_packets_total",
			     L("host", "node12", "account", "b", "label", "fip", "addr",
			       "198.18.0.1", "direction", "in")) == 2);
	test_assert(value_of(v, n, "nftally_accounts", L("host", "node12")) == 4);
	test_assert(value_of(v, n, "nftally_addresses", L("host", "node12")) == 5);
	/* exactly as printed: origin first, account only when named */
	test_assert(strstr(text, "\nnftally_bytes_total{host=\"node12\",netns=\"qrouter-1\","
			   "account=\"routers\",label=\"fip\",addr=\"198.18.0.1\","
			   "direction=\"in\"} 2\n"));
	test_assert(strstr(text, "\nnftally_bytes_total{host=\"node12\",netns=\"\","
			   "account=\"a\",label=\"fip\",addr=\"198.18.0.1\",direction=\"in\"} 100\n"));
	promtool_accepts(text);
	free_samples(v, n);
	free(text);
	metrics_free(m);
	state_finish(&s1);
	state_finish(&s2);
	state_finish(&sa);
	state_finish(&sb);
	state_finish(&empty);
}

/* Namespace names are any bytes but '/' and NUL: quotes, backslashes,
 * line ends and other controls are escaped or kept as the format says,
 * and bytes that are not UTF-8 become U+FFFD, so two names that differ
 * only there are one series (never two with the same labels). */
static void test_hostile(void)
{
	static const char *const names[] = {
		"q\"uote", "back\\slash", "new\nline", "tab\tcr\rctl\x01", "bad\xff", "bad\xfe",
		"\xc0\xaf", "ok-\xc3\xa9", "trunc\xe2\x82",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct report_origin o[N];
	struct metrics_src src[N];
	struct metrics *m = metrics_new();
	struct state s;
	struct sample *v;
	size_t n;
	char *text;

	test_assert(m);
	metrics_set_seeded(m);
	state_init(&s);
	add(&s, "198.18.0.1", "l\"\\\n", (struct counts){ 0 }, 0, 0, false, false);
	for (size_t i = 0; i < N; i++) {
		report_origin_init(&o[i], "h\"\xff", names[i], "acct", "t");
		src[i] = (struct metrics_src){ &o[i], &no_classes, &s };
		test_assert(metrics_add(m, &o[i], "198.18.0.1", "l\"\\\n", NULL,
					&(struct counts){ i + 1, 1, 0, 0 }) == 0);
	}
	{
		struct metrics_health h = health;

		h.host = "h\"\xff";
		text = render(m, src, N, &h);
	}
	v = parse_text(text, &n); /* checks: valid escapes, valid UTF-8, unique */
	/* "bad\xff" and "bad\xfe" are one series: 8 of 4 samples, and 9 */
	test_assert(n == 8 * 4 + 9);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "h\"\xef\xbf\xbd", "netns", "new\nline", "account", "acct",
			       "label", "l\"\\\n", "addr", "198.18.0.1", "direction", "in")) == 3);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "h\"\xef\xbf\xbd", "netns", "bad\xef\xbf\xbd", "account",
			       "acct", "label", "l\"\\\n", "addr", "198.18.0.1", "direction",
			       "in")) == 5 + 6);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "h\"\xef\xbf\xbd", "netns", "\xef\xbf\xbd\xef\xbf\xbd",
			       "account", "acct", "label", "l\"\\\n", "addr", "198.18.0.1",
			       "direction", "in")) == 7);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "h\"\xef\xbf\xbd", "netns", "trunc\xef\xbf\xbd\xef\xbf\xbd",
			       "account", "acct", "label", "l\"\\\n", "addr", "198.18.0.1",
			       "direction", "in")) == 9);
	test_assert(value_of(v, n, "nftally_accounts", L("host", "h\"\xef\xbf\xbd")) == 8);
	/* exactly as printed */
	test_assert(strstr(text, "{host=\"h\\\"\xef\xbf\xbd\",netns=\"tab\tcr\rctl\x01\","
			   "account=\"acct\",label=\"l\\\"\\\\\\n\",addr=\"198.18.0.1\","
			   "direction=\"out\"} 0\n"));
	test_assert(strstr(text, "netns=\"back\\\\slash\""));
	test_assert(strstr(text, "netns=\"q\\\"uote\""));
	test_assert(strstr(text, "netns=\"ok-\xc3\xa9\""));
	test_assert(utf8_valid(text));
	promtool_accepts(text);
	free_samples(v, n);
	free(text);
	metrics_free(m);
	state_finish(&s);
}

/* Many series through the table's growth: every one once, with its sum. */
static void test_many(void)
{
	enum { ADDRS = 3000, NS = 3 };
	struct report_origin o[NS];
	struct metrics_src src[NS];
	struct state s;
	struct metrics *m = metrics_new();
	struct sample *v;
	size_t n;
	char *text, addr[32], label[32];

	test_assert(m);
	metrics_set_seeded(m);
	state_init(&s);
	for (int i = 0; i < ADDRS; i++) {
		snprintf(addr, sizeof(addr), "198.18.%d.%d", i / 250, i % 250 + 1);
		snprintf(label, sizeof(label), "vm-%d", i);
		add(&s, addr, label, (struct counts){ 0 }, 0, 0, false, false);
	}
	state_sort(&s);
	for (int k = 0; k < NS; k++) {
		char ns[16];

		snprintf(ns, sizeof(ns), "ns%d", k);
		report_origin_init(&o[k], "h", ns, "", "t");
		src[k] = (struct metrics_src){ &o[k], &no_classes, &s };
		/* interleaved origins: the look-up cache misses every time */
	}
	for (int i = 0; i < ADDRS; i++)
		for (int k = 0; k < NS; k++) {
			snprintf(addr, sizeof(addr), "198.18.%d.%d", i / 250, i % 250 + 1);
			snprintf(label, sizeof(label), "vm-%d", i);
			test_assert(metrics_add(m, &o[k], addr, label, NULL,
						&(struct counts){ (uint64_t)i * 10 + (uint64_t)k, 1, 2, 3 }) == 0);
		}
	text = render(m, src, NS, &health);
	v = parse_text(text, &n);
	test_assert(n == (size_t)ADDRS * NS * 4 + 9);
	test_assert(value_of(v, n, "nftally_bytes_total",
			     L("host", "h", "netns", "ns2", "label", "vm-2999", "addr",
			       "198.18.11.250", "direction", "in")) == 29992);
	test_assert(value_of(v, n, "nftally_addresses", L("host", "gw1")) == ADDRS * NS);
	free_samples(v, n);
	free(text);
	metrics_free(m);
	state_finish(&s);
}

int main(void)
{
	test_text();
	test_origins();
	test_hostile();
	test_many();
	return 0;
}
