/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftally.conf: `key = value` lines over built-in defaults, and the value
 * checks that command-line options share.  Pure apart from reading the file. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bill.h"
#include "config.h"
#include "cycle.h"
#include "file.h"
#include "quota.h"
#include "targets.h"

/* Far more than any sensible config; refuses /dev/zero and the like. */
#define CONFIG_FILE_MAX (1 << 20)

enum config_key { KEY_TABLE, KEY_TEMPLATE, KEY_TEMPLATE_DIR, KEY_TARGETS,
		  KEY_INTERVAL, KEY_STATE_DIR, KEY_STORE, KEY_KEEP_INTERVALS,
		  KEY_KEEP_HOURS, KEY_KEEP_DAYS, KEY_PROM_FILE, KEY_LISTEN, KEY_EXCLUDE,
		  KEY_INTERFACES, KEY_OVERHEAD, KEY_CLASSES, KEY_DEFAULT_CLASS, KEY_HOST,
		  KEY_NETNS, KEY_LABELS, KEY_POSTGRESQL,
		  KEY_QUOTAS, KEY_QUOTA_HOOK, KEY_QUOTA_HOOK_TIMEOUT, KEY_QUOTA_WARN,
		  KEY_CYCLE_DAY, KEY_TIMEZONE, KEY_CYCLES, KEY_KEEP_SAMPLES,
		  KEY_SERVE_LISTEN, KEY_SERVE_BILL, KEY_SERVE_TOKEN_FILE, KEY_SERVE_TOKENS,
		  KEY_SERVE_TLS_CERT, KEY_SERVE_TLS_KEY,
		  KEY_COUNT };

static const char *const config_keys[KEY_COUNT] = {
	"table", "template", "template_dir", "targets", "interval", "state_dir",
	"store", "store_keep_intervals", "store_keep_hours", "store_keep_days",
	"prom_file", "listen", "exclude", "interfaces", "overhead", "classes",
	"default_class", "host", "netns", "labels", "postgresql",
	"quotas", "quota_hook", "quota_hook_timeout", "quota_warn",
	"cycle_day", "timezone", "cycles", "store_keep_samples",
	"serve_listen", "serve_bill", "serve_token_file", "serve_tokens",
	"serve_tls_cert", "serve_tls_key",
};

/* What one daemon has once, whatever its accounts: one timer, one state
 * directory, one store, one set of metrics, one name.  Refused inside an
 * [account] section rather than silently taken from the defaults. */
static const bool config_daemon_wide[KEY_COUNT] = {
	[KEY_INTERVAL] = true, [KEY_STATE_DIR] = true, [KEY_STORE] = true,
	[KEY_KEEP_INTERVALS] = true, [KEY_KEEP_HOURS] = true, [KEY_KEEP_DAYS] = true,
	[KEY_PROM_FILE] = true, [KEY_LISTEN] = true, [KEY_HOST] = true,
	[KEY_POSTGRESQL] = true,
	[KEY_QUOTAS] = true, [KEY_QUOTA_HOOK] = true, [KEY_QUOTA_HOOK_TIMEOUT] = true,
	[KEY_QUOTA_WARN] = true,
	[KEY_CYCLE_DAY] = true, [KEY_TIMEZONE] = true, [KEY_CYCLES] = true,
	[KEY_KEEP_SAMPLES] = true,
	[KEY_SERVE_LISTEN] = true, [KEY_SERVE_BILL] = true, [KEY_SERVE_TOKEN_FILE] = true,
	[KEY_SERVE_TOKENS] = true, [KEY_SERVE_TLS_CERT] = true, [KEY_SERVE_TLS_KEY] = true,
};

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->table, "nftally");
	strcpy(c->template_name, "host");
	strcpy(c->targets, "/etc/nftally/targets");
	c->targets_explicit = false;
	c->targets_file = true;
	c->interval = 60;
	strcpy(c->state_dir, "/var/lib/nftally");
	c->keep_intervals = 2 * 86400;
	c->keep_hours = 90 * 86400;
	c->keep_days = 800 * 86400;
	strcpy(c->default_class, "other");
	c->quota_hook_timeout = 10;
	c->quota_warn[0] = 80;
	c->nquota_warn = 1;
	c->cycle_day = 1;
	c->keep_samples = CONFIG_KEEP_SAMPLES_MIN;
}

/* Values are echoed into messages; keep them printable and short. */
static const char *config_show(char buf[80], const char *v)
{
	return err_printable(buf, 80, v, strlen(v));
}

int config_set_table(struct config *c, const char *v, const char *where,
		     struct err *e)
{
	size_t n = strlen(v), i;
	char shown[80];
	bool ok = n >= 1 && n <= CONFIG_TABLE_MAX && v[0] >= 'a' && v[0] <= 'z';

	for (i = 1; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
		     v[i] == '_';
	if (!ok)
		return err_set(e, "%s: bad table name '%s' (use a-z, 0-9, _; at most %d)",
			       where, config_show(shown, v), CONFIG_TABLE_MAX);
	memcpy(c->table, v, n + 1);
	return 0;
}

/* A decimal number of digits only (strtoul would take signs, blanks and
 * hex) up to max: the end of the digits, or NULL without a digit or past
 * max. */
static const char *config_digits(const char *v, unsigned long long max,
				 unsigned long long *n)
{
	const char *p = v;

	*n = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		*n = *n * 10 + (unsigned long long)(*p - '0');
		if (*n > max)
			return NULL;
	}
	return p == v ? NULL : p;
}

int config_set_interval(struct config *c, const char *v, const char *where,
			struct err *e)
{
	unsigned long long n = 0;
	char shown[80];
	const char *end = config_digits(v, 86400, &n);

	if (!end || *end || n < 1)
		return err_set(e, "%s: bad interval '%s' (use whole seconds, 1 to 86400)",
			       where, config_show(shown, v));
	c->interval = (unsigned)n;
	return 0;
}

int config_set_keep(struct config *c, const char *key, const char *v, const char *where,
		    struct err *e)
{
	unsigned long long n = 0, unit = 0;
	char shown[80];
	const char *end = config_digits(v, 36500ULL * 86400, &n);

	switch (end ? *end : '\0') {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	}
	if (!unit || end[1] != '\0' || n * unit < 3600 || n * unit > 36500ULL * 86400)
		return err_set(e, "%s: bad duration '%s' for '%s' (digits and a unit s, m, "
			       "h or d, e.g. 36h; 1h to 36500d)", where, config_show(shown, v),
			       key);
	if (strcmp(key, "store_keep_intervals") == 0)
		c->keep_intervals = (long long)(n * unit);
	else if (strcmp(key, "store_keep_hours") == 0)
		c->keep_hours = (long long)(n * unit);
	else if (strcmp(key, "store_keep_days") == 0)
		c->keep_days = (long long)(n * unit);
	else if (strcmp(key, "store_keep_samples") == 0 && n * unit < CONFIG_KEEP_SAMPLES_MIN)
		return err_set(e, "%s: store_keep_samples '%s' is shorter than 63d (the current "
			       "and the previous billing cycle)", where, config_show(shown, v));
	else if (strcmp(key, "store_keep_samples") == 0)
		c->keep_samples = (long long)(n * unit);
	else
		return -EINVAL;
	return 0;
}

bool config_parse_listen(const char *v, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(v, ':'), *end;
	unsigned long long port = 0;
	char host[CONFIG_LISTEN_MAX + 1];
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || strlen(v) > CONFIG_LISTEN_MAX)
		return false;
	end = config_digits(colon + 1, 65535, &port);
	if (!end || *end || port == 0)
		return false;
	hl = (size_t)(colon - v);
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (hl == 0 || (host[0] == '[' && host[hl - 1] == ']')) {
		if (hl) {
			host[hl - 1] = '\0';
			if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
				return false;
		} else {
			s6->sin6_addr = in6addr_any;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return true;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return false;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return true;
}

/* listen and serve_listen: into dst (CONFIG_LISTEN_MAX + 1 bytes) */
static int config_listen_into(char *dst, const char *v, const char *where, struct err *e)
{
	struct sockaddr_storage ss;
	char shown[80];

	if (!config_parse_listen(v, &ss))
		return err_set(e, "%s: bad listen address '%s' (use ADDR:PORT, [ADDR6]:PORT "
			       "or :PORT)", where, config_show(shown, v));
	strcpy(dst, v);
	return 0;
}

int config_set_listen(struct config *c, const char *v, const char *where, struct err *e)
{
	return config_listen_into(c->listen, v, where, e);
}

/* serve_bill: what nftally serve bills (bill_policy_parse's words) */
static int config_set_serve_bill(struct config *c, const char *v, const char *where,
				 struct err *e)
{
	enum bill_policy p;
	char shown[80];

	if (bill_policy_parse(v, &p) < 0)
		return err_set(e, "%s: serve_bill '%s': use sum, max, in or out", where,
			       config_show(shown, v));
	snprintf(c->serve_bill, sizeof(c->serve_bill), "%s", v);
	return 0;
}

int config_set_exclude(struct config *c, const char *v, const char *where, struct err *e)
{
	struct addr x[CONFIG_EXCLUDE_MAX];
	char word[ADDR_STRLEN + 8], shown[80], t1[ADDR_STRLEN], t2[ADDR_STRLEN];
	const char *w, *why;
	size_t n = 0, len, pos = 0, vlen = strlen(v);

	while (file_field(v, vlen, &pos, &w, &len)) {
		if (n == CONFIG_EXCLUDE_MAX)
			return err_set(e, "%s: more than %d excluded prefixes", where,
				       CONFIG_EXCLUDE_MAX);
		if (len >= sizeof(word) || (snprintf(word, sizeof(word), "%.*s", (int)len, w),
					    addr_parse(word, &x[n], &why) < 0))
			return err_set(e, "%s: exclude: %s '%s'", where,
				       len >= sizeof(word) ? "bad address" : why,
				       err_printable(shown, sizeof(shown), w, len));
		for (size_t i = 0; i < n; i++)
			if (x[i].family == x[n].family && addr_overlaps(&x[i], &x[n]))
				return err_set(e, "%s: exclude: %s overlaps %s", where,
					       addr_format(&x[n], t1), addr_format(&x[i], t2));
		n++;
	}
	memcpy(c->exclude, x, n * sizeof(x[0]));
	c->nexclude = n;
	snprintf(c->exclude_where, sizeof(c->exclude_where), "%s", where);
	return 0;
}

static bool config_excluded(const struct config *c, const struct addr *a)
{
	for (size_t i = 0; i < c->nexclude; i++)
		if (c->exclude[i].family == a->family && c->exclude[i].plen <= a->plen &&
		    addr_overlaps(&c->exclude[i], a))
			return true;
	return false;
}

int config_exclude_warning(const struct config *c, const struct target *v, size_t n,
			   struct err *w)
{
	char text[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < c->nexclude; i++)
		if (c->exclude[i].plen == 0) {
			bool v4 = c->exclude[i].family == AF_INET;

			err_set(w, "%s: exclude %s is every %s peer: no %s traffic of any "
				"target is counted", c->exclude_where,
				addr_format(&c->exclude[i], text), v4 ? "IPv4" : "IPv6",
				v4 ? "IPv4" : "IPv6");
			return 1;
		}
	for (i = 0; i < n && config_excluded(c, &v[i].addr); i++)
		;
	if (!c->nexclude || !n || i < n)
		return 0;
	err_set(w, "%s: exclude covers every target: only their traffic with other "
		"peers is counted (exclude names peers, not targets)", c->exclude_where);
	return 1;
}

static bool config_ifname_ok(const char *w, size_t len)
{
	if (len == 0 || len > CONFIG_IFNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z') ||
		      (w[i] >= '0' && w[i] <= '9') || strchr("_.@+-", w[i])))
			return false;
	return true;
}

bool config_iface_match(const char *glob, const char *ifname)
{
	size_t n = strlen(glob);

	if (n && glob[n - 1] == '*')
		return strncmp(glob, ifname, n - 1) == 0;
	return strcmp(glob, ifname) == 0;
}

/* A list of interface names or prefix wildcards being built, for
 * `interfaces` and the discovery sources of `targets`; pfx starts the
 * messages ("" or "targets: "). */
struct config_iflist {
	char v[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1];
	size_t n;
	const char *pfx;
};

static int config_iflist_add(struct config_iflist *l, const char *w, size_t len,
			     const char *where, struct err *e)
{
	size_t stem = len - (len > 1 && w[len - 1] == '*');
	char shown[80];

	if (l->n == CONFIG_IFACES_MAX)
		return err_set(e, "%s: %smore than %d interfaces", where, l->pfx,
			       CONFIG_IFACES_MAX);
	err_printable(shown, sizeof(shown), w, len);
	if (len <= CONFIG_IFNAME_MAX && stem && memchr(w, '*', stem) &&
	    !(len == 1 && w[0] == '*'))
		return err_set(e, "%s: %sbad interface name '%s' ('*' only at the end)", where,
			       l->pfx, shown);
	if (!(len == 1 && w[0] == '*') && (len > CONFIG_IFNAME_MAX || !config_ifname_ok(w, stem)))
		return err_set(e, "%s: %sbad interface name '%s' (1 to %d of a-z, A-Z, 0-9, _ . "
			       "@ + -)", where, l->pfx, shown, CONFIG_IFNAME_MAX);
	snprintf(l->v[l->n], sizeof(l->v[l->n]), "%.*s", (int)len, w);
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], l->v[l->n]) == 0)
			return err_set(e, "%s: %sinterface %s named twice", where, l->pfx,
				       l->v[l->n]);
	l->n++;
	return 0;
}

/* "*" next to other names is a mistake: whatever they meant, "*" takes
 * every interface. */
static int config_iflist_check(const struct config_iflist *l, const char *where,
			       struct err *e)
{
	for (size_t i = 0; l->n > 1 && i < l->n; i++)
		if (strcmp(l->v[i], "*") == 0)
			return err_set(e, "%s: %s'*' is every interface: name no other with it",
				       where, l->pfx);
	return 0;
}

int config_set_interfaces(struct config *c, const char *v, const char *where,
			  struct err *e)
{
	struct config_iflist l = { .n = 0, .pfx = "" };
	const char *w;
	size_t len, pos = 0, vlen = strlen(v);
	int r;

	while (file_field(v, vlen, &pos, &w, &len))
		if ((r = config_iflist_add(&l, w, len, where, e)) < 0)
			return r;
	if ((r = config_iflist_check(&l, where, e)) < 0)
		return r;
	memcpy(c->ifaces, l.v, sizeof(l.v)); /* none: every interface */
	c->nifaces = l.n;
	return 0;
}

int config_set_default_class(struct config *c, const char *v, const char *where,
			     struct err *e)
{
	char shown[80];

	if (!addr_class_name_ok(v))
		return err_set(e, "%s: bad class name '%s' (a-z first, then a-z, 0-9, _; at "
			       "most %d)", where, config_show(shown, v), ADDR_CLASS_NAMELEN);
	strcpy(c->default_class, v);
	return 0;
}

int config_set_overhead(struct config *c, const char *v, const char *where, struct err *e)
{
	unsigned long long n = 0;
	char shown[80];
	const char *end = config_digits(v, CONFIG_OVERHEAD_MAX, &n);

	if (!end || *end)
		return err_set(e, "%s: bad overhead '%s' (bytes per packet, 0 to %d)", where,
			       config_show(shown, v), CONFIG_OVERHEAD_MAX);
	c->overhead = (unsigned)n;
	return 0;
}

/* ---- quotas ---- */

int config_set_quota_hook_timeout(struct config *c, const char *v, const char *where,
				  struct err *e)
{
	char shown[80], *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end || errno || n < 1 || n > 3600)
		return err_set(e, "%s: bad quota_hook_timeout '%s' (seconds, 1 to 3600)", where,
			       config_show(shown, v));
	c->quota_hook_timeout = (unsigned)n;
	return 0;
}

int config_set_quota_warn(struct config *c, const char *v, const char *where, struct err *e)
{
	unsigned char w[CONFIG_QUOTA_WARN_MAX];
	size_t n = 0;
	const char *why = quota_parse_warn(v, strlen(v), w, &n);
	char shown[80];

	_Static_assert(CONFIG_QUOTA_WARN_MAX == QUOTA_WARN_MAX, "one maximum");
	if (why)
		return err_set(e, "%s: bad quota_warn '%s': %s", where, config_show(shown, v), why);
	memcpy(c->quota_warn, w, n);
	c->nquota_warn = n;
	return 0;
}

/* ---- billing cycles ---- */

int config_set_cycle_day(struct config *c, const char *v, const char *where, struct err *e)
{
	unsigned long long n = 0;
	char shown[80];
	const char *end = config_digits(v, 31, &n);

	if (!end || *end || n < 1)
		return err_set(e, "%s: bad cycle_day '%s' (1 to 31; past the month's end: its "
			       "last day)", where, config_show(shown, v));
	c->cycle_day = (int)n;
	return 0;
}

int config_set_timezone(struct config *c, const char *v, const char *where, struct err *e)
{
	struct err why;
	char shown[80];

	if (cycle_tz_check(v, &why) < 0)
		return err_set(e, "%s: timezone '%s': %s", where, config_show(shown, v), why.msg);
	snprintf(c->timezone, sizeof(c->timezone), "%s", v);
	return 0;
}

static char *config_path_field(struct config *c, const char *key)
{
	if (strcmp(key, "template") == 0)
		return c->template_name;
	if (strcmp(key, "template_dir") == 0)
		return c->template_dir;
	if (strcmp(key, "targets") == 0)
		return c->targets;
	if (strcmp(key, "state_dir") == 0)
		return c->state_dir;
	if (strcmp(key, "store") == 0)
		return c->store;
	if (strcmp(key, "prom_file") == 0)
		return c->prom_file;
	if (strcmp(key, "classes") == 0)
		return c->classes;
	if (strcmp(key, "labels") == 0)
		return c->labels;
	if (strcmp(key, "quotas") == 0)
		return c->quotas;
	if (strcmp(key, "quota_hook") == 0)
		return c->quota_hook;
	if (strcmp(key, "cycles") == 0)
		return c->cycles;
	if (strcmp(key, "serve_token_file") == 0)
		return c->serve_token_file;
	if (strcmp(key, "serve_tokens") == 0)
		return c->serve_tokens;
	if (strcmp(key, "serve_tls_cert") == 0)
		return c->serve_tls_cert;
	if (strcmp(key, "serve_tls_key") == 0)
		return c->serve_tls_key;
	return NULL;
}

static int config_check_path(const char *key, const char *v, size_t n, const char *where,
			     struct err *e)
{
	if (n == 0)
		return err_set(e, "%s: empty path for '%s'", where, key);
	if (n >= PATH_MAX)
		return err_set(e, "%s: path for '%s' is longer than %d bytes",
			       where, key, PATH_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(e, "%s: path for '%s' contains a control character",
				       where, key);
	return 0;
}

int config_set_path(struct config *c, const char *key, const char *v,
		    const char *where, struct err *e)
{
	char *dst = config_path_field(c, key);
	size_t n = strlen(v);
	int r;

	if (!dst)
		return -EINVAL;
	if ((r = config_check_path(key, v, n, where, e)) < 0)
		return r;
	memcpy(dst, v, n + 1);
	if (dst == c->targets) {
		c->targets_explicit = true;
		c->targets_file = true;
		c->ndisc_addrs = c->ndisc_routes = 0;
	}
	return 0;
}

/* ---- targets as sources ---- */

enum config_source { SRC_NONE, SRC_ADDRS, SRC_ROUTES, SRC_FILE, SRC_COUNT };

static const char *const config_sources[SRC_COUNT] = { "", "interfaces", "routes", "file" };

static enum config_source config_source_kind(const char *w, size_t len)
{
	for (int k = SRC_ADDRS; k < SRC_COUNT; k++)
		if (strlen(config_sources[k]) == len && memcmp(config_sources[k], w, len) == 0)
			return (enum config_source)k;
	return SRC_NONE;
}

/* The sources of one `targets` value while it is read. */
struct config_targets {
	struct config_iflist l[SRC_FILE]; /* [SRC_ADDRS], [SRC_ROUTES] */
	const char *path;
	size_t plen;
	bool seen[SRC_COUNT];
	enum config_source cur;
};

/* The source that just ended (at a keyword or the end) has its operands. */
static int config_source_done(const struct config_targets *t, const char *where,
			      struct err *e)
{
	if (t->cur == SRC_FILE && !t->path)
		return err_set(e, "%s: targets: 'file' needs a path", where);
	if (t->cur != SRC_NONE && t->cur != SRC_FILE && t->l[t->cur].n == 0)
		return err_set(e, "%s: targets: '%s' needs at least one interface name", where,
			       config_sources[t->cur]);
	if (t->cur != SRC_NONE && t->cur != SRC_FILE)
		return config_iflist_check(&t->l[t->cur], where, e);
	return 0;
}

static int config_source_word(struct config_targets *t, const char *w, size_t len,
			      const char *where, struct err *e)
{
	enum config_source k = config_source_kind(w, len);
	char shown[80];
	int r;

	if (k != SRC_NONE) {
		if ((r = config_source_done(t, where, e)) < 0)
			return r;
		if (t->seen[k])
			return err_set(e, "%s: targets: '%s' named twice", where,
				       config_sources[k]);
		t->seen[k] = true;
		t->cur = k;
		return 0;
	}
	if (t->cur != SRC_FILE)
		return config_iflist_add(&t->l[t->cur], w, len, where, e);
	if (t->path)
		return err_set(e, "%s: targets: 'file' takes one path ('%s' follows it)", where,
			       err_printable(shown, sizeof(shown), w, len));
	t->path = w;
	t->plen = len;
	return config_check_path("targets", w, len, where, e);
}

int config_set_targets(struct config *c, const char *v, const char *where, struct err *e)
{
	struct config_targets t = { .path = NULL };
	size_t vlen = strlen(v), pos = 0, len;
	const char *w;
	int r;

	if (!file_field(v, vlen, &pos, &w, &len) || config_source_kind(w, len) == SRC_NONE)
		return config_set_path(c, "targets", v, where, e);
	for (int k = 0; k < SRC_FILE; k++)
		t.l[k].pfx = "targets: ";
	pos = 0;
	while (file_field(v, vlen, &pos, &w, &len))
		if ((r = config_source_word(&t, w, len, where, e)) < 0)
			return r;
	if ((r = config_source_done(&t, where, e)) < 0)
		return r;
	snprintf(c->targets, sizeof(c->targets), "%.*s", t.path ? (int)t.plen : 0,
		 t.path ? t.path : "");
	c->targets_explicit = true;
	c->targets_file = t.path != NULL;
	memcpy(c->disc_addrs, t.l[SRC_ADDRS].v, sizeof(c->disc_addrs));
	c->ndisc_addrs = t.l[SRC_ADDRS].n;
	memcpy(c->disc_routes, t.l[SRC_ROUTES].v, sizeof(c->disc_routes));
	c->ndisc_routes = t.l[SRC_ROUTES].n;
	return 0;
}

/* ---- names of namespaces and of the host ---- */

int config_set_netns(struct config *c, const char *v, const char *where, struct err *e)
{
	size_t n = strlen(v);
	char shown[80];

	/* a name is a file in /run/netns, and both go into every output line */
	if (n > CONFIG_NETNS_MAX || strchr(v, '/') || strcmp(v, ".") == 0 ||
	    strcmp(v, "..") == 0 || !targets_text_ok(v, n))
		return err_set(e, "%s: bad netns '%s' (a name in /run/netns or a glob: no '/', "
			       "not . or .., no control characters, at most %d bytes)", where,
			       config_show(shown, v), CONFIG_NETNS_MAX);
	memcpy(c->netns, v, n + 1);
	return 0;
}

int config_set_host(struct config *c, const char *v, const char *where, struct err *e)
{
	size_t n = strlen(v);
	char shown[80];

	if (n > CONFIG_HOST_MAX || strpbrk(v, " \t") || !targets_text_ok(v, n))
		return err_set(e, "%s: bad host name '%s' (no blanks or control characters, "
			       "at most %d bytes)", where, config_show(shown, v), CONFIG_HOST_MAX);
	memcpy(c->host, v, n + 1);
	return 0;
}

/* What libpq parses is its own business (a bad conninfo is said when it
 * connects); what is refused here is what no conninfo holds.  The value
 * is never shown: it may hold a password. */
int config_set_postgresql(struct config *c, const char *v, const char *where,
			  struct err *e)
{
	size_t n = strlen(v);

	if (n == 0 || n > CONFIG_CONNINFO_MAX)
		return err_set(e, "%s: 'postgresql' needs a conninfo of 1 to %d bytes", where,
			       CONFIG_CONNINFO_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(e, "%s: 'postgresql' contains a control character", where);
	memcpy(c->postgresql, v, n + 1);
	return 0;
}

/* A URI's user:PASSWORD@ as user:***@ into out. */
static void conninfo_uri_redact(const char *in, char *out, size_t size)
{
	const char *p = strstr(in, "://") + 3;
	const char *at = p + strcspn(p, "@/?");
	const char *colon = memchr(p, ':', (size_t)(at - p));

	if (*at != '@' || !colon)
		snprintf(out, size, "%s", in);
	else
		snprintf(out, size, "%.*s:***%s", (int)(colon - in), in, at);
}

/* Where the value at q (after "password") ends: a word, or '...' with
 * backslash escapes; NULL when no '=' follows. */
static const char *conninfo_value_end(const char *q)
{
	q += strspn(q, " ");
	if (*q != '=')
		return NULL;
	q++;
	q += strspn(q, " ");
	if (*q != '\'')
		return q + strcspn(q, " &");
	for (q++; *q && *q != '\''; q++)
		if (*q == '\\' && q[1])
			q++;
	return *q ? q + 1 : q;
}

char *config_conninfo_redact(const char *in, char *out, size_t size)
{
	char uri[2 * CONFIG_CONNINFO_MAX + 64];
	const char *src = in, *p, *end;
	size_t o = 0;

	if (!size)
		return out;
	if (strstr(in, "://")) {
		conninfo_uri_redact(in, uri, sizeof(uri));
		src = uri;
	}
	for (p = src; *p && o + 1 < size;) {
		/* a keyword starts the text or follows a blank, '?' or '&' */
		bool start = p == src || p[-1] == ' ' || p[-1] == '?' || p[-1] == '&';

		end = start && strncmp(p, "password", 8) == 0 ? conninfo_value_end(p + 8) : NULL;
		if (!end) {
			out[o++] = *p++;
			continue;
		}
		o += (size_t)snprintf(out + o, size - o, "password=***");
		p = end;
	}
	out[o < size ? o : size - 1] = '\0';
	return out;
}

/* ---- parsing ---- */

static size_t config_skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && file_blank(s[i]))
		i++;
	return i;
}

/* One line split into its parts; pointers into the caller's buffer. */
struct config_line {
	const char *key, *value;
	size_t klen, vlen;
	int index; /* of the key, -1 if unknown */
};

/* The value starting at s[i]: quoted, or a single blank-free word (a list,
 * the words up to a comment), then only blanks and an optional comment.
 * Returns NULL or what is wrong. */
static const char *config_split_value(const char *s, size_t len, size_t i, bool list,
				      struct config_line *l)
{
	const char *close;
	size_t end;

	if (i < len && s[i] == '"') {
		close = memchr(s + i + 1, '"', len - i - 1);
		if (!close)
			return "unterminated quote";
		l->value = s + i + 1;
		l->vlen = (size_t)(close - l->value);
		i = (size_t)(close - s) + 1;
		if (i < len && !file_blank(s[i]))
			return "text after closing quote";
	} else {
		l->value = s + i;
		do {
			while (i < len && !file_blank(s[i]))
				i++;
			end = i;
			i = config_skip_blanks(s, len, i);
		} while (list && i < len && s[i] != '#');
		l->vlen = (size_t)(s + end - l->value);
		if (l->vlen == 0 || l->value[0] == '#')
			return "missing value";
	}
	i = config_skip_blanks(s, len, i);
	if (i < len && s[i] != '#')
		return "value contains blanks (quote it)";
	return NULL;
}

static int config_key_index(const char *key, size_t klen)
{
	int k;

	for (k = 0; k < KEY_COUNT; k++)
		if (strlen(config_keys[k]) == klen &&
		    memcmp(config_keys[k], key, klen) == 0)
			return k;
	return -1;
}

/* Lists may go unquoted: `exclude`, `interfaces`, `targets` written as
 * sources (a path keeps the one-word rule, so a stray blank in it is still
 * caught), and `postgresql`'s keyword = value pairs (quoted, a '#' in a
 * password is not a comment). */
static bool config_list_value(int key, const char *s, size_t len)
{
	size_t pos = 0, flen;
	const char *f;

	if (key == KEY_EXCLUDE || key == KEY_INTERFACES || key == KEY_POSTGRESQL)
		return true;
	return key == KEY_TARGETS && len && s[0] != '"' && file_field(s, len, &pos, &f, &flen) &&
	       config_source_kind(f, flen) != SRC_NONE;
}

/* Split `key = value # comment`.  Returns NULL or what is wrong. */
static const char *config_split(const char *s, size_t len, struct config_line *l)
{
	size_t i = config_skip_blanks(s, len, 0);

	l->key = s + i;
	while (i < len && !file_blank(s[i]) && s[i] != '=')
		i++;
	l->klen = (size_t)(s + i - l->key);
	i = config_skip_blanks(s, len, i);
	if (i == len || s[i] != '=')
		return "expected 'key = value'";
	i = config_skip_blanks(s, len, i + 1);
	l->index = config_key_index(l->key, l->klen);
	return config_split_value(s, len, i, config_list_value(l->index, s + i, len - i), l);
}

static int config_apply(struct config *c, int key, const char *v,
			const char *where, struct err *e)
{
	switch (key) {
	case KEY_TABLE:
		return config_set_table(c, v, where, e);
	case KEY_INTERVAL:
		return config_set_interval(c, v, where, e);
	case KEY_KEEP_INTERVALS:
	case KEY_KEEP_HOURS:
	case KEY_KEEP_DAYS:
	case KEY_KEEP_SAMPLES:
		return config_set_keep(c, config_keys[key], v, where, e);
	case KEY_LISTEN:
		return config_set_listen(c, v, where, e);
	case KEY_SERVE_LISTEN:
		return config_listen_into(c->serve_listen, v, where, e);
	case KEY_SERVE_BILL:
		return config_set_serve_bill(c, v, where, e);
	case KEY_EXCLUDE:
		return config_set_exclude(c, v, where, e);
	case KEY_INTERFACES:
		return config_set_interfaces(c, v, where, e);
	case KEY_OVERHEAD:
		return config_set_overhead(c, v, where, e);
	case KEY_DEFAULT_CLASS:
		return config_set_default_class(c, v, where, e);
	case KEY_TARGETS:
		return config_set_targets(c, v, where, e);
	case KEY_HOST:
		return config_set_host(c, v, where, e);
	case KEY_POSTGRESQL:
		return config_set_postgresql(c, v, where, e);
	case KEY_NETNS:
		return config_set_netns(c, v, where, e);
	case KEY_QUOTA_HOOK_TIMEOUT:
		return config_set_quota_hook_timeout(c, v, where, e);
	case KEY_QUOTA_WARN:
		return config_set_quota_warn(c, v, where, e);
	case KEY_CYCLE_DAY:
		return config_set_cycle_day(c, v, where, e);
	case KEY_TIMEZONE:
		return config_set_timezone(c, v, where, e);
	}
	return config_set_path(c, config_keys[key], v, where, e);
}

/* Per-buffer parse state.  Keys go to c: the set's defaults until the
 * first section, then the section's account. */
struct config_parse {
	struct config_set *cs;
	struct config *c;
	unsigned *lines;      /* of each account's section header */
	bool allow_sections;
	const char *name;
	unsigned seen[KEY_COUNT]; /* line of each key in this section, for duplicates */
	struct err *e;
};

static bool config_account_name_ok(const char *s, size_t n)
{
	if (n < 1 || n > CONFIG_ACCOUNT_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* A new account, starting as a copy of the finished defaults. */
static int config_add_account(struct config_parse *p, const char *nm, size_t n,
			      unsigned line)
{
	struct config_set *cs = p->cs;
	struct config *v;
	unsigned *lines;

	for (size_t i = 0; i < cs->n; i++)
		if (strlen(cs->v[i].account) == n && memcmp(cs->v[i].account, nm, n) == 0)
			return err_set(p->e, "%s:%u: duplicate account '%s' (line %u)", p->name,
				       line, cs->v[i].account, p->lines[i]);
	if (cs->n == CONFIG_ACCOUNTS_MAX)
		return err_set(p->e, "%s:%u: more than %d accounts", p->name, line,
			       CONFIG_ACCOUNTS_MAX);
	v = reallocarray(cs->v, cs->n + 1, sizeof(*v));
	if (v)
		cs->v = v;
	lines = reallocarray(p->lines, cs->n + 1, sizeof(*lines));
	if (lines)
		p->lines = lines;
	if (!v || !lines)
		return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
	v[cs->n] = cs->dflt;
	memcpy(v[cs->n].account, nm, n);
	v[cs->n].account[n] = '\0';
	lines[cs->n] = line;
	p->c = &v[cs->n++];
	cs->sections = true;
	memset(p->seen, 0, sizeof(p->seen));
	return 0;
}

/* `[account NAME]` at s[0], with optional blanks inside the brackets and a
 * comment after them. */
static int config_parse_section(struct config_parse *p, const char *s, size_t len,
				unsigned line)
{
	const char *close = memchr(s, ']', len), *kind, *nm, *more;
	size_t pos = 0, klen, nlen, mlen, inner, i;
	char shown[80];

	if (!close)
		return err_set(p->e, "%s:%u: unterminated section header (no ']')", p->name,
			       line);
	i = config_skip_blanks(s, len, (size_t)(close - s) + 1);
	if (i < len && s[i] != '#')
		return err_set(p->e, "%s:%u: text after section header", p->name, line);
	inner = (size_t)(close - s) - 1;
	if (!file_field(s + 1, inner, &pos, &kind, &klen))
		return err_set(p->e, "%s:%u: empty section header (use [account NAME])",
			       p->name, line);
	if (klen != 7 || memcmp(kind, "account", 7) != 0)
		return err_set(p->e, "%s:%u: unknown section kind '%s' (use [account NAME])",
			       p->name, line, err_printable(shown, sizeof(shown), kind, klen));
	if (!file_field(s + 1, inner, &pos, &nm, &nlen))
		return err_set(p->e, "%s:%u: missing account name (use [account NAME])",
			       p->name, line);
	if (file_field(s + 1, inner, &pos, &more, &mlen))
		return err_set(p->e, "%s:%u: text after the account name (use [account NAME])",
			       p->name, line);
	if (!p->allow_sections)
		return err_set(p->e, "%s:%u: [account] sections are not allowed here", p->name,
			       line);
	if (!config_account_name_ok(nm, nlen))
		return err_set(p->e, "%s:%u: bad account name '%s' (a-z first, then a-z, 0-9, "
			       "_, -; at most %d)", p->name, line,
			       err_printable(shown, sizeof(shown), nm, nlen), CONFIG_ACCOUNT_MAX);
	return config_add_account(p, nm, nlen, line);
}

static int config_parse_line(struct config_parse *p, const char *s, size_t len,
			     unsigned line)
{
	char where[sizeof(p->e->msg)], shown[80], *v;
	struct config_line l;
	const char *problem;
	size_t i = config_skip_blanks(s, len, 0);
	int key, r;

	if (memchr(s, '\0', len))
		return err_set(p->e, "%s:%u: NUL byte in line", p->name, line);
	if (i == len || s[i] == '#')
		return 0;
	if (s[i] == '[')
		return config_parse_section(p, s + i, len - i, line);
	if ((problem = config_split(s, len, &l)))
		return err_set(p->e, "%s:%u: %s", p->name, line, problem);
	key = l.index;
	if (key < 0)
		return err_set(p->e, "%s:%u: unknown key '%s'", p->name, line,
			       err_printable(shown, sizeof(shown), l.key, l.klen));
	if (p->cs->sections && config_daemon_wide[key])
		return err_set(p->e, "%s:%u: '%s' is daemon-wide: set it before the first "
			       "[account] section", p->name, line, config_keys[key]);
	if (p->seen[key])
		return err_set(p->e, "%s:%u: duplicate key '%s' (line %u)", p->name,
			       line, config_keys[key], p->seen[key]);
	p->seen[key] = line;
	if (!(v = strndup(l.value, l.vlen)))
		return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
	snprintf(where, sizeof(where), "%s:%u", p->name, line);
	r = config_apply(p->c, key, v, where, p->e);
	free(v);
	return r;
}

static int config_line_cb(const char *s, size_t n, unsigned line, void *data)
{
	return config_parse_line(data, s, n, line);
}

/* After the last line: the one account of a file without sections, and no
 * two accounts on one table in one namespace (they would fight over it). */
static int config_parse_end(struct config_parse *p)
{
	struct config_set *cs = p->cs;

	if (!cs->sections) {
		if (!(cs->v = malloc(sizeof(*cs->v))))
			return err_setn(p->e, -ENOMEM, "%s: out of memory", p->name);
		cs->v[0] = cs->dflt;
		cs->n = 1;
		return 0;
	}
	for (size_t i = 1; i < cs->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cs->v[i].netns, cs->v[j].netns) == 0 &&
			    strcmp(cs->v[i].table, cs->v[j].table) == 0)
				return err_set(p->e, "%s:%u: account '%s' uses table '%s' in the "
					       "same netns as account '%s' (line %u)", p->name,
					       p->lines[i], cs->v[i].account, cs->v[i].table,
					       cs->v[j].account, p->lines[j]);
	return 0;
}

void config_set_init(struct config_set *cs)
{
	config_defaults(&cs->dflt);
	cs->v = NULL;
	cs->n = 0;
	cs->sections = false;
}

void config_set_finish(struct config_set *cs)
{
	free(cs->v);
	cs->v = NULL;
	cs->n = 0;
	cs->sections = false;
}

static int config_set_parse(struct config_set *cs, const char *name, const char *buf,
			    size_t len, bool allow_sections, struct err *e)
{
	/* Built aside (the defaults alone are some 40 kB) so a bad file changes
	 * nothing. */
	struct config_set *tmp = malloc(sizeof(*tmp));
	struct config_parse p = { .name = name, .allow_sections = allow_sections, .e = e };
	int r;

	if (!tmp)
		return err_setn(e, -ENOMEM, "%s: out of memory", name);
	config_set_init(tmp);
	tmp->dflt = cs->dflt;
	p.cs = tmp;
	p.c = &tmp->dflt;
	r = file_each_line(buf, len, config_line_cb, &p);
	if (r == 0)
		r = config_parse_end(&p);
	free(p.lines);
	if (r == 0) {
		config_set_finish(cs);
		*cs = *tmp;
	} else {
		config_set_finish(tmp);
	}
	free(tmp);
	return r;
}

int config_set_parse_buffer(struct config_set *cs, const char *name, const char *buf,
			    size_t len, struct err *e)
{
	return config_set_parse(cs, name, buf, len, true, e);
}

const struct config *config_set_find(const struct config_set *cs, const char *account)
{
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i].account, account) == 0)
			return &cs->v[i];
	return NULL;
}

int config_parse_buffer(struct config *c, const char *name,
			const char *buf, size_t len, struct err *e)
{
	struct config_set *cs = malloc(sizeof(*cs));
	int r;

	if (!cs)
		return err_setn(e, -ENOMEM, "%s: out of memory", name);
	config_set_init(cs);
	cs->dflt = *c;
	r = config_set_parse(cs, name, buf, len, false, e);
	if (r == 0)
		*c = cs->v[0];
	config_set_finish(cs);
	free(cs);
	return r;
}

/* The file's text in *buf (malloc'd), or *buf NULL when it is missing and
 * may be. */
static int config_read(const char *path, bool must_exist, char **buf, size_t *len,
		       struct err *e)
{
	struct err quiet;
	int r;

	*buf = NULL;
	r = file_load(path, CONFIG_FILE_MAX, buf, len, &quiet);
	if (r == -ENOENT && !must_exist)
		return 0; /* and the caller's message stays as it was */
	if (r < 0 && e)
		*e = quiet;
	return r;
}

int config_set_load(struct config_set *cs, const char *path, bool must_exist,
		    struct err *e)
{
	char *buf;
	size_t len = 0;
	int r = config_read(path, must_exist, &buf, &len, e);

	if (r == 0)
		r = config_set_parse_buffer(cs, path, buf ? buf : "", len, e);
	free(buf);
	return r;
}

int config_load(struct config *c, const char *path, bool must_exist,
		struct err *e)
{
	char *buf;
	size_t len;
	int r = config_read(path, must_exist, &buf, &len, e);

	if (r == 0 && buf)
		r = config_parse_buffer(c, path, buf, len, e);
	free(buf);
	return r;
}
