// SPDX-License-Identifier: GPL-2.0-or-later
/* Prometheus text exposition (format 0.0.4) of the all-time totals per
 * series (where it was counted: host, netns, account; address, label,
 * class), kept in a hash table that the store seeds at start.  A series'
 * key is its label values as printed, so two series can never print the
 * same label set. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "metrics.h"
#include "output.h"
#include "utf8.h"

/* A series' totals, or an origin's number. */
struct entry {
	char *key;
	size_t klen;
	/* totals: the render pass that listed it last; origins: its number */
	uint32_t mark;
	struct counts c;
};

/* Open addressing, cap a power of two, at most half full. */
struct table {
	struct entry *v;
	size_t n, cap;
};

/* An origin by its number: its labels as printed, and the render pass
 * that counted it last. */
struct origin {
	const char *text; /* host="...",netns="..."[,account="..."] (the origins' key) */
	uint32_t mark;
};

struct metrics {
	/* key: the origin's number (4 bytes), then the address, the label and
	 * the class as printed, each ending in '\0' but the class */
	struct table totals;
	struct table origins; /* key: struct origin's text */
	struct origin *ov; /* by number; room for ov_cap */
	size_t ov_cap;
	/* the origin looked up last: a report's rows, a store's totals come
	 * by origin, so most look-ups are three strcmp */
	struct report_origin last;
	uint32_t last_id;
	bool has_last;
	uint32_t pass; /* the current render's */
	bool seeded; /* holds the all-time totals: the counters may be shown */
};

static const struct report_origin no_origin;

static uint64_t hash(const char *k, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return h;
}

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_set_seeded(struct metrics *m)
{
	m->seeded = true;
}

static void table_finish(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].key);
	free(t->v);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	table_finish(&m->totals);
	table_finish(&m->origins);
	free(m->ov);
	free(m);
}

static struct entry *slot(struct entry *v, size_t cap, const char *key, size_t klen)
{
	size_t i = hash(key, klen) & (cap - 1);

	while (v[i].key && !(v[i].klen == klen && memcmp(v[i].key, key, klen) == 0))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct entry *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].key)
			*slot(v, cap, t->v[i].key, t->v[i].klen) = t->v[i];
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

/* The entry of key (klen bytes, plus a '\0' after them); a new one, of
 * counts 0 and mark 0, when create (key copied), else NULL if none.  NULL
 * also when out of memory.  A creation may move every entry. */
static struct entry *get(struct table *t, const char *key, size_t klen, bool create)
{
	struct entry *e = NULL;

	if (t->cap) {
		e = slot(t->v, t->cap, key, klen);
		if (e->key)
			return e;
	}
	if (!create || ((t->n + 1) * 2 > t->cap && grow(t) < 0))
		return NULL;
	e = slot(t->v, t->cap, key, klen);
	e->key = malloc(klen + 1);
	if (!e->key)
		return NULL;
	memcpy(e->key, key, klen + 1);
	e->klen = klen;
	t->n++;
	return e;
}

/* The text of the code point or invalid byte at s (n > 0 bytes left) in
 * a label value into d (4 bytes); its length, and in *used the bytes of s
 * it stands for.  The format escapes only backslash, double quote and
 * line feed; invalid UTF-8 becomes U+FFFD. */
static size_t esc_one(char *d, const char *s, size_t n, size_t *used)
{
	uint32_t cp;
	size_t k = utf8_decode((const unsigned char *)s, n, &cp);

	*used = k ? k : 1;
	if (!k) {
		memcpy(d, UTF8_REPLACEMENT, 3);
		return 3;
	}
	if (cp == '\\' || cp == '"' || cp == '\n') {
		d[0] = '\\';
		d[1] = cp == '\n' ? 'n' : (char)cp;
		return 2;
	}
	memcpy(d, s, k);
	return k;
}

/* s as a label value into d (room for 3 * strlen(s)); its length. */
static size_t esc(char *d, const char *s)
{
	size_t n = strlen(s), i = 0, o = 0, used;

	while (i < n) {
		o += esc_one(d + o, s + i, n - i, &used);
		i += used;
	}
	return o;
}

/* s as a label value on f. */
static void put_value(FILE *f, const char *s)
{
	size_t n = strlen(s), i = 0, used;
	char d[4];

	while (i < n) {
		fwrite(d, 1, esc_one(d, s + i, n - i, &used), f);
		i += used;
	}
}

/* A key built in a buffer: the stack's when it fits, else malloc'ed. */
struct key {
	char stack[512];
	char *p;
	size_t len;
};

static char *key_room(struct key *k, size_t need)
{
	k->len = 0;
	k->p = need <= sizeof(k->stack) ? k->stack : malloc(need);
	return k->p;
}

static void key_free(struct key *k)
{
	if (k->p != k->stack)
		free(k->p);
}

static void key_put(struct key *k, const char *s)
{
	memcpy(k->p + k->len, s, strlen(s));
	k->len += strlen(s);
}

/* Room in m->ov for one more origin.  0 or -ENOMEM. */
static int ov_room(struct metrics *m)
{
	size_t cap = m->ov_cap ? 2 * m->ov_cap : 16;
	struct origin *v;

	if (m->origins.n < m->ov_cap)
		return 0;
	v = realloc(m->ov, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->ov = v;
	m->ov_cap = cap;
	return 0;
}

/* The number of origin o (NULL: all ""), numbered when new: in *id.  0 or
 * -ENOMEM. */
static int origin_id(struct metrics *m, const struct report_origin *o, uint32_t *id)
{
	struct key k;
	struct entry *e;
	size_t n;

	o = o ? o : &no_origin;
	if (m->has_last && strcmp(o->host, m->last.host) == 0 &&
	    strcmp(o->netns, m->last.netns) == 0 && strcmp(o->account, m->last.account) == 0) {
		*id = m->last_id;
		return 0;
	}
	if (!key_room(&k, 3 * (strlen(o->host) + strlen(o->netns) + strlen(o->account)) + 40))
		return -ENOMEM;
	key_put(&k, "host=\"");
	k.len += esc(k.p + k.len, o->host);
	key_put(&k, "\",netns=\"");
	k.len += esc(k.p + k.len, o->netns);
	key_put(&k, "\"");
	if (o->account[0]) { /* an empty value would be no label to Prometheus */
		key_put(&k, ",account=\"");
		k.len += esc(k.p + k.len, o->account);
		key_put(&k, "\"");
	}
	k.p[k.len] = '\0';
	n = m->origins.n;
	e = ov_room(m) == 0 ? get(&m->origins, k.p, k.len, true) : NULL;
	key_free(&k);
	if (!e)
		return -ENOMEM;
	if (m->origins.n != n) { /* new */
		e->mark = (uint32_t)n;
		m->ov[n] = (struct origin){ e->key, 0 };
	}
	m->last = *o;
	m->last_id = e->mark;
	m->has_last = true;
	*id = e->mark;
	return 0;
}

/* The entry of a series; created when create, else NULL if none.  NULL
 * also when out of memory. */
static struct entry *find(struct metrics *m, const struct report_origin *o, const char *addr,
			  const char *label, const char *cls, bool create)
{
	struct entry *t = NULL;
	struct key k;
	uint32_t id;

	if (origin_id(m, o, &id) < 0 ||
	    !key_room(&k, sizeof(id) + 3 * (strlen(addr) + strlen(label) + strlen(cls)) + 3))
		return NULL;
	memcpy(k.p, &id, sizeof(id));
	k.len = sizeof(id);
	k.len += esc(k.p + k.len, addr) + 1;
	k.p[k.len - 1] = '\0';
	k.len += esc(k.p + k.len, label) + 1;
	k.p[k.len - 1] = '\0';
	k.len += esc(k.p + k.len, cls);
	k.p[k.len] = '\0';
	t = get(&m->totals, k.p, k.len, create);
	key_free(&k);
	return t;
}

int metrics_add(struct metrics *m, const struct report_origin *o, const char *addr,
		const char *label, const char *cls, const struct counts *c)
{
	struct entry *t = find(m, o, addr, label, cls ? cls : "", true);

	if (!t)
		return -ENOMEM;
	t->c.in_bytes += c->in_bytes;
	t->c.in_packets += c->in_packets;
	t->c.out_bytes += c->out_bytes;
	t->c.out_packets += c->out_packets;
	return 0;
}

int metrics_add_report(struct metrics *m, const struct report *r)
{
	char addr[ADDR_STRLEN];
	int ret = 0;

	for (size_t i = 0; i < r->n && ret == 0; i++)
		ret = metrics_add(m, &r->origin, addr_format(&r->v[i].a, addr), r->v[i].label,
				  r->v[i].cls, &r->v[i].d);
	return ret;
}

struct health_ctx {
	FILE *f;
	const char *host; /* as printed */
	uint64_t errors;
};

static void put_event(const char *event, uint64_t n, void *data)
{
	struct health_ctx *h = data;

	fprintf(h->f, "nftally_events_total{host=\"%s\",event=\"", h->host);
	put_value(h->f, event);
	fprintf(h->f, "\"} %llu\n", (unsigned long long)n);
	if (strcmp(event, "error") == 0)
		h->errors += n;
}

/* The daemon's health, labelled by its host only: one value per daemon,
 * whatever its accounts. */
static void put_health(FILE *f, size_t addresses, size_t accounts,
		       const struct metrics_health *h)
{
	char name[256], host[3 * sizeof(name)];
	struct health_ctx ctx = { .f = f, .host = host };
	const char *H = "{host=\"";

	snprintf(name, sizeof(name), "%s", h->host ? h->host : ""); /* a host name has 255 at most */
	host[esc(host, name)] = '\0';
	fprintf(f, "# HELP nftally_accounts Accounts, one per network namespace, whose "
		"addresses are shown.\n# TYPE nftally_accounts gauge\n"
		"nftally_accounts%s%s\"} %zu\n", H, host, accounts);
	fprintf(f, "# HELP nftally_addresses Addresses accounted.\n"
		"# TYPE nftally_addresses gauge\nnftally_addresses%s%s\"} %zu\n", H, host,
		addresses);
	fprintf(f, "# HELP nftally_last_read_timestamp_seconds When the counters were last read.\n"
		"# TYPE nftally_last_read_timestamp_seconds gauge\n"
		"nftally_last_read_timestamp_seconds%s%s\"} %.3f\n", H, host, h->last_read);
	fprintf(f, "# HELP nftally_last_read_duration_seconds How long the last read of every "
		"counter took.\n# TYPE nftally_last_read_duration_seconds gauge\n"
		"nftally_last_read_duration_seconds%s%s\"} %.6f\n", H, host, h->read_seconds);
	fprintf(f, "# HELP nftally_last_store_duration_seconds How long recording the last "
		"report in the store took.\n# TYPE nftally_last_store_duration_seconds gauge\n"
		"nftally_last_store_duration_seconds%s%s\"} %.6f\n", H, host, h->store_seconds);
	fprintf(f, "# HELP nftally_reports_total Reports made by this process.\n"
		"# TYPE nftally_reports_total counter\nnftally_reports_total%s%s\"} %llu\n", H,
		host, (unsigned long long)h->reports);
	fprintf(f, "# HELP nftally_start_time_seconds When this process started.\n"
		"# TYPE nftally_start_time_seconds gauge\nnftally_start_time_seconds%s%s\"} %.3f\n",
		H, host, h->start_time);
	fprintf(f, "# HELP nftally_events_total Events printed by this process, per type.\n"
		"# TYPE nftally_events_total counter\n");
	if (h->events)
		output_tally_each(h->events, put_event, &ctx);
	fprintf(f, "# HELP nftally_errors_total Error events printed by this process "
		"(reading the table, the store, the metrics, reinstalling).\n"
		"# TYPE nftally_errors_total counter\nnftally_errors_total%s%s\"} %llu\n", H, host,
		(unsigned long long)ctx.errors);
	fprintf(f, "# HELP nftally_store_errors_total Reports of this process the store "
		"could not record.\n# TYPE nftally_store_errors_total counter\n"
		"nftally_store_errors_total%s%s\"} %llu\n", H, host,
		(unsigned long long)h->store_errors);
	if (!h->pg)
		return;
	fprintf(f, "# HELP nftally_pg_outbox_reports Reports waiting for PostgreSQL.\n"
		"# TYPE nftally_pg_outbox_reports gauge\n"
		"nftally_pg_outbox_reports%s%s\"} %llu\n", H, host,
		(unsigned long long)h->pg_outbox_reports);
	fprintf(f, "# HELP nftally_pg_outbox_age_seconds How long the oldest report waiting "
		"for PostgreSQL has waited (0: none).\n"
		"# TYPE nftally_pg_outbox_age_seconds gauge\n"
		"nftally_pg_outbox_age_seconds%s%s\"} %.0f\n", H, host, h->pg_outbox_age);
}

/* Each quota's limit, usage and state, labelled by host and label. */
static void put_quotas(FILE *f, const struct metrics_health *h)
{
	static const char *const names[3][2] = {
		{ "nftally_quota_limit_bytes", "The quota of the label: bytes per billing cycle." },
		{ "nftally_quota_used_bytes", "Bytes billed to the label in its current cycle." },
		{ "nftally_quota_exceeded", "0 below every warning, 1 a warning level reached, "
		  "2 the quota reached." },
	};

	if (!h->nquotas)
		return;
	for (int k = 0; k < 3; k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", names[k][0], names[k][1],
			names[k][0]);
		for (size_t i = 0; i < h->nquotas; i++) {
			const struct metrics_quota *q = &h->quotas[i];

			fprintf(f, "%s{host=\"", names[k][0]);
			put_value(f, h->host ? h->host : "");
			fputs("\",label=\"", f);
			put_value(f, q->label);
			fprintf(f, "\"} %llu\n", (unsigned long long)(k == 0 ? q->limit : k == 1 ? q->used
									: (uint64_t)q->state));
		}
	}
}

/* A new render pass: no series and no origin is listed in it yet. */
static void next_pass(struct metrics *m)
{
	if (++m->pass != 0)
		return;
	for (size_t i = 0; i < m->totals.cap; i++) /* wrapped, once in 2^32 renders */
		m->totals.v[i].mark = 0;
	for (size_t i = 0; i < m->origins.n; i++)
		m->ov[i].mark = 0;
	m->pass = 1;
}

/* Every series of the sources once, in their order, into list (room for
 * every entry of every source), and how many origins they have.  Two
 * passes: the first creates what is missing (the table may move), the
 * second lists, when nothing moves any more.  0 or -ENOMEM. */
static int list_series(struct metrics *m, const struct metrics_src *src, size_t n,
		       struct entry **list, size_t *nlist, size_t *norigins)
{
	char addr[ADDR_STRLEN];

	*nlist = *norigins = 0;
	for (int listing = 0; listing < 2; listing++) {
		if (listing)
			next_pass(m);
		for (size_t s = 0; s < n; s++) {
			const struct state *cur = src[s].current;
			uint32_t id;

			if (origin_id(m, src[s].origin, &id) < 0)
				return -ENOMEM;
			if (listing && m->ov[id].mark != m->pass) {
				m->ov[id].mark = m->pass;
				++*norigins;
			}
			for (size_t i = 0; i < cur->n; i++) {
				const struct state_entry *x = &cur->v[i];
				const char *cls = addr_names_label(src[s].an, x->addr.cls);
				const char *label = state_label(cur, x);
				struct entry *t = find(m, src[s].origin, addr_format(&x->addr, addr),
						       label, cls ? cls : "", !listing);

				if (!t)
					return -ENOMEM;
				if (listing && t->mark != m->pass) {
					t->mark = m->pass;
					list[(*nlist)++] = t;
				}
			}
		}
	}
	return 0;
}

/* The samples of one series: both directions of bytes (kind 0) or
 * packets (1). */
static void put_series(FILE *f, const struct metrics *m, const char *name, int kind,
		       const struct entry *t)
{
	static const char *const dirs[2] = { "in", "out" };
	const char *addr = t->key + sizeof(uint32_t), *label = addr + strlen(addr) + 1;
	const char *cls = label + strlen(label) + 1;
	uint32_t id;

	memcpy(&id, t->key, sizeof(id));
	for (int d = 0; d < 2; d++) {
		uint64_t v = kind ? (d ? t->c.out_packets : t->c.in_packets)
				  : (d ? t->c.out_bytes : t->c.in_bytes);

		fprintf(f, "%s{%s,label=\"%s\",addr=\"%s\"", name, m->ov[id].text, label, addr);
		if (*cls)
			fprintf(f, ",class=\"%s\"", cls);
		fprintf(f, ",direction=\"%s\"} %llu\n", dirs[d], (unsigned long long)v);
	}
}

int metrics_render(struct metrics *m, const struct metrics_src *src, size_t n,
		   const struct metrics_health *h, char **buf, size_t *len)
{
	struct entry **list;
	size_t all = 0, nlist, norigins;
	FILE *f;
	int ret;

	*buf = NULL;
	for (size_t s = 0; s < n; s++)
		all += src[s].current->n;
	list = malloc((all ? all : 1) * sizeof(*list));
	if (!list)
		return -ENOMEM;
	ret = list_series(m, src, n, list, &nlist, &norigins);
	f = ret == 0 ? open_memstream(buf, len) : NULL;
	if (!f) {
		free(list);
		return -ENOMEM;
	}
	for (int kind = 0; kind < 2; kind++) {
		const char *name = kind ? "nftally_packets_total" : "nftally_bytes_total";

		fprintf(f, "# HELP %s %s counted per address and direction since the "
			"store began%s.\n# TYPE %s counter\n", name,
			kind ? "Packets" : "Bytes",
			kind ? "" : " (layer 3, plus the configured overhead per packet)", name);
		/* Unseeded (the store not open yet), the values would be
		 * below the ones shown before: none is better than less. */
		for (size_t i = 0; m->seeded && i < nlist; i++)
			put_series(f, m, name, kind, list[i]);
	}
	put_health(f, nlist, norigins, h);
	put_quotas(f, h);
	free(list);
	if (fclose(f) != 0) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The directory of path into dir ("." without a slash). */
static void dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, PATH_MAX, ".");
	else if (slash == path)
		snprintf(dir, PATH_MAX, "/");
	else
		snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path);
}

int metrics_write_file(const char *path, const char *buf, size_t len, struct err *e)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	struct stat st;
	int fd, ret;

	/* In a directory anyone may write to, anyone may also rename over
	 * the published file, unless the sticky bit keeps them to their own. */
	dir_of(path, dir);
	if (stat(dir, &st) < 0)
		return err_setn(e, -errno, "%s: cannot write: %s: %s", path, dir, strerror(errno));
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		return err_setn(e, -EPERM, "%s: not written: its directory %s is world-writable "
				"without the sticky bit (anyone could replace the file)", path, dir);
	/* A fresh name with O_EXCL: a file or symlink someone prepared under
	 * a predictable name is never opened, followed or written through. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot create a temporary file in %s: %s", path,
				dir, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0) {
			ret = err_setn(e, -errno, "%s: cannot write: %s", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0) {
		ret = err_setn(e, -errno, "%s: cannot set mode 0644: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = err_setn(e, -errno, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}
