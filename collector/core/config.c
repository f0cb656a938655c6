/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftally.conf: `key = value` lines over built-in defaults, and the value
 * checks that command-line options share.  Pure apart from reading the file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "file.h"
#include "targets.h"

/* Far more than any sensible config; refuses /dev/zero and the like. */
#define CONFIG_FILE_MAX (1 << 20)

enum config_key { KEY_TABLE, KEY_TEMPLATE, KEY_TEMPLATE_DIR, KEY_TARGETS,
		  KEY_INTERVAL, KEY_STATE_DIR, KEY_STORE, KEY_KEEP_INTERVALS,
		  KEY_KEEP_HOURS, KEY_KEEP_DAYS, KEY_PROM_FILE, KEY_LISTEN, KEY_EXCLUDE,
		  KEY_INTERFACES, KEY_OVERHEAD, KEY_CLASSES, KEY_DEFAULT_CLASS, KEY_COUNT };

static const char *const config_keys[KEY_COUNT] = {
	"table", "template", "template_dir", "targets", "interval", "state_dir",
	"store", "store_keep_intervals", "store_keep_hours", "store_keep_days",
	"prom_file", "listen", "exclude", "interfaces", "overhead", "classes",
	"default_class",
};

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->table, "nftally");
	strcpy(c->template_name, "host");
	strcpy(c->targets, "/etc/nftally/targets");
	c->targets_explicit = false;
	c->interval = 60;
	strcpy(c->state_dir, "/var/lib/nftally");
	c->keep_intervals = 2 * 86400;
	c->keep_hours = 90 * 86400;
	c->keep_days = 800 * 86400;
	strcpy(c->default_class, "other");
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

int config_set_listen(struct config *c, const char *v, const char *where, struct err *e)
{
	struct sockaddr_storage ss;
	char shown[80];

	if (!config_parse_listen(v, &ss))
		return err_set(e, "%s: bad listen address '%s' (use ADDR:PORT, [ADDR6]:PORT "
			       "or :PORT)", where, config_show(shown, v));
	strcpy(c->listen, v);
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

int config_set_interfaces(struct config *c, const char *v, const char *where,
			  struct err *e)
{
	char names[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1], shown[80];
	const char *w;
	size_t n = 0, len, pos = 0, vlen = strlen(v);

	while (file_field(v, vlen, &pos, &w, &len)) {
		if (n == CONFIG_IFACES_MAX)
			return err_set(e, "%s: more than %d interfaces", where, CONFIG_IFACES_MAX);
		if (!config_ifname_ok(w, len))
			return err_set(e, "%s: bad interface name '%s' (1 to %d of a-z, A-Z, "
				       "0-9, _ . @ + -)", where,
				       err_printable(shown, sizeof(shown), w, len),
				       CONFIG_IFNAME_MAX);
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)len, w);
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], names[n]) == 0)
				return err_set(e, "%s: interface %s named twice", where, names[n]);
		n++;
	}
	memcpy(c->ifaces, names, sizeof(names)); /* none: every interface */
	c->nifaces = n;
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
	return NULL;
}

int config_set_path(struct config *c, const char *key, const char *v,
		    const char *where, struct err *e)
{
	char *dst = config_path_field(c, key);
	size_t n = strlen(v), i;

	if (!dst)
		return -EINVAL;
	if (n == 0)
		return err_set(e, "%s: empty path for '%s'", where, key);
	if (n >= PATH_MAX)
		return err_set(e, "%s: path for '%s' is longer than %d bytes",
			       where, key, PATH_MAX - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(e, "%s: path for '%s' contains a control character",
				       where, key);
	memcpy(dst, v, n + 1);
	if (dst == c->targets)
		c->targets_explicit = true;
	return 0;
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
};

/* The value starting at s[i]: quoted or a single blank-free word, then only
 * blanks and an optional comment.  Returns NULL or what is wrong. */
static const char *config_split_value(const char *s, size_t len, size_t i,
				      struct config_line *l)
{
	const char *close;

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
		while (i < len && !file_blank(s[i]))
			i++;
		l->vlen = (size_t)(s + i - l->value);
		if (l->vlen == 0 || l->value[0] == '#')
			return "missing value";
	}
	i = config_skip_blanks(s, len, i);
	if (i < len && s[i] != '#')
		return "value contains blanks (quote it)";
	return NULL;
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
	return config_split_value(s, len, i, l);
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

static int config_apply(struct config *c, int key, const char *v,
			const char *where, struct err *e)
{
	if (key == KEY_TABLE)
		return config_set_table(c, v, where, e);
	if (key == KEY_INTERVAL)
		return config_set_interval(c, v, where, e);
	if (key == KEY_KEEP_INTERVALS || key == KEY_KEEP_HOURS || key == KEY_KEEP_DAYS)
		return config_set_keep(c, config_keys[key], v, where, e);
	if (key == KEY_LISTEN)
		return config_set_listen(c, v, where, e);
	if (key == KEY_EXCLUDE)
		return config_set_exclude(c, v, where, e);
	if (key == KEY_INTERFACES)
		return config_set_interfaces(c, v, where, e);
	if (key == KEY_OVERHEAD)
		return config_set_overhead(c, v, where, e);
	if (key == KEY_DEFAULT_CLASS)
		return config_set_default_class(c, v, where, e);
	return config_set_path(c, config_keys[key], v, where, e);
}

/* Per-buffer parse state: where each key was first set, for duplicates. */
struct config_parse {
	struct config *c;
	const char *name;
	unsigned seen[KEY_COUNT];
	struct err *e;
};

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
	if ((problem = config_split(s, len, &l)))
		return err_set(p->e, "%s:%u: %s", p->name, line, problem);
	key = config_key_index(l.key, l.klen);
	if (key < 0)
		return err_set(p->e, "%s:%u: unknown key '%s'", p->name, line,
			       err_printable(shown, sizeof(shown), l.key, l.klen));
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

int config_parse_buffer(struct config *c, const char *name,
			const char *buf, size_t len, struct err *e)
{
	/* Work on a copy so a bad file changes nothing. */
	struct config tmp = *c;
	struct config_parse p = { .c = &tmp, .name = name, .e = e };
	int r = file_each_line(buf, len, config_line_cb, &p);

	if (r < 0)
		return r;
	*c = tmp;
	return 0;
}

int config_load(struct config *c, const char *path, bool must_exist,
		struct err *e)
{
	char *buf;
	size_t len;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !must_exist)
		return 0;
	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot open: %s", path,
				strerror(errno));
	r = file_read_all(fd, CONFIG_FILE_MAX, &buf, &len);
	close(fd);
	if (r < 0)
		return err_setn(e, r, "%s: cannot read: %s", path, strerror(-r));
	r = config_parse_buffer(c, path, buf, len, e);
	free(buf);
	return r;
}
