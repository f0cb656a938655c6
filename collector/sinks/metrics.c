// SPDX-License-Identifier: GPL-2.0-or-later
/* Prometheus text exposition (format 0.0.4) of the all-time totals per
 * address and label, kept in a hash table that the store seeds at start. */
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

struct total {
	char *key; /* "ADDR\0LABEL" */
	size_t klen;
	struct counts c;
};

struct metrics {
	struct total *v; /* open addressing, cap a power of two */
	size_t n, cap;
	bool seeded; /* holds the all-time totals: the counters may be shown */
};

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

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].key);
	free(m->v);
	free(m);
}

static struct total *slot(struct total *v, size_t cap, const char *key, size_t klen)
{
	size_t i = hash(key, klen) & (cap - 1);

	while (v[i].key && !(v[i].klen == klen && memcmp(v[i].key, key, klen) == 0))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int grow(struct metrics *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct total *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].key)
			*slot(v, cap, m->v[i].key, m->v[i].klen) = m->v[i];
	free(m->v);
	m->v = v;
	m->cap = cap;
	return 0;
}

/* The entry of (addr, label); created when create, else NULL if none. */
static struct total *find(struct metrics *m, const char *addr, const char *label,
			  const char *cls, bool create)
{
	size_t al = strlen(addr), ll = strlen(label), cl = strlen(cls);
	size_t klen = al + 1 + ll + 1 + cl;
	char stackkey[256], *key = klen < sizeof(stackkey) ? stackkey : malloc(klen + 1);
	struct total *t = NULL;

	if (!key)
		return NULL;
	memcpy(key, addr, al + 1);
	memcpy(key + al + 1, label, ll + 1);
	memcpy(key + al + 1 + ll + 1, cls, cl + 1);
	if (m->cap) {
		t = slot(m->v, m->cap, key, klen);
		if (!t->key)
			t = NULL;
	}
	if (!t && create && ((m->n + 1) * 2 <= m->cap || grow(m) == 0)) {
		t = slot(m->v, m->cap, key, klen);
		t->key = key == stackkey ? malloc(klen + 1) : key;
		if (t->key) {
			if (key == stackkey)
				memcpy(t->key, key, klen + 1);
			key = NULL;
			t->klen = klen;
			m->n++;
		} else {
			t = NULL;
		}
	}
	if (key != stackkey)
		free(key);
	return t;
}

int metrics_add(struct metrics *m, const char *addr, const char *label, const char *cls,
		const struct counts *c)
{
	struct total *t = find(m, addr, label, cls ? cls : "", true);

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
		ret = metrics_add(m, addr_format(&r->v[i].a, addr), r->v[i].label, r->v[i].cls,
				  &r->v[i].d);
	return ret;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

struct health_ctx {
	FILE *f;
	uint64_t errors;
};

static void put_event(const char *event, uint64_t n, void *data)
{
	struct health_ctx *h = data;

	fprintf(h->f, "nftally_events_total{event=\"");
	put_value(h->f, event);
	fprintf(h->f, "\"} %llu\n", (unsigned long long)n);
	if (strcmp(event, "error") == 0)
		h->errors += n;
}

static void put_health(FILE *f, size_t addresses, const struct metrics_health *h)
{
	struct health_ctx ctx = { .f = f };

	fprintf(f, "# HELP nftally_addresses Addresses accounted.\n"
		"# TYPE nftally_addresses gauge\nnftally_addresses %zu\n", addresses);
	fprintf(f, "# HELP nftally_last_read_timestamp_seconds When the counters were last read.\n"
		"# TYPE nftally_last_read_timestamp_seconds gauge\n"
		"nftally_last_read_timestamp_seconds %.3f\n", h->last_read);
	fprintf(f, "# HELP nftally_last_read_duration_seconds How long the last read of every "
		"counter took.\n# TYPE nftally_last_read_duration_seconds gauge\n"
		"nftally_last_read_duration_seconds %.6f\n", h->read_seconds);
	fprintf(f, "# HELP nftally_last_store_duration_seconds How long recording the last "
		"report in the store took.\n# TYPE nftally_last_store_duration_seconds gauge\n"
		"nftally_last_store_duration_seconds %.6f\n", h->store_seconds);
	fprintf(f, "# HELP nftally_reports_total Reports made by this process.\n"
		"# TYPE nftally_reports_total counter\nnftally_reports_total %llu\n",
		(unsigned long long)h->reports);
	fprintf(f, "# HELP nftally_start_time_seconds When this process started.\n"
		"# TYPE nftally_start_time_seconds gauge\nnftally_start_time_seconds %.3f\n",
		h->start_time);
	fprintf(f, "# HELP nftally_events_total Events printed by this process, per type.\n"
		"# TYPE nftally_events_total counter\n");
	if (h->events)
		output_tally_each(h->events, put_event, &ctx);
	fprintf(f, "# HELP nftally_errors_total Error events printed by this process "
		"(reading the table, the store, the metrics, reinstalling).\n"
		"# TYPE nftally_errors_total counter\nnftally_errors_total %llu\n",
		(unsigned long long)ctx.errors);
	fprintf(f, "# HELP nftally_store_errors_total Reports of this process the store "
		"could not record.\n# TYPE nftally_store_errors_total counter\n"
		"nftally_store_errors_total %llu\n", (unsigned long long)h->store_errors);
}

int metrics_render(struct metrics *m, const struct addr_names *an, const struct state *current,
		   const struct metrics_health *h, char **buf, size_t *len)
{
	static const char *const dirs[2] = { "in", "out" };
	FILE *f = open_memstream(buf, len);
	char addr[ADDR_STRLEN];

	if (!f)
		return -errno;
	for (int kind = 0; kind < 2; kind++) {
		const char *name = kind ? "nftally_packets_total" : "nftally_bytes_total";

		fprintf(f, "# HELP %s %s counted per address and direction since the "
			"store began%s.\n# TYPE %s counter\n", name,
			kind ? "Packets" : "Bytes",
			kind ? "" : " (layer 3, plus the configured overhead per packet)", name);
		/* Unseeded (the store not open yet), the values would be
		 * below the ones shown before: none is better than less. */
		for (size_t i = 0; m->seeded && i < current->n; i++) {
			const struct state_entry *x = &current->v[i];
			const char *cls = addr_names_label(an, x->addr.cls);
			const struct total *t;

			addr_format(&x->addr, addr);
			t = find(m, addr, x->label, cls ? cls : "", false);
			for (int d = 0; d < 2; d++) {
				uint64_t v = 0;

				if (t)
					v = kind ? (d ? t->c.out_packets : t->c.in_packets)
						 : (d ? t->c.out_bytes : t->c.in_bytes);
				fprintf(f, "%s{label=\"", name);
				put_value(f, x->label);
				fprintf(f, "\",addr=\"%s\",direction=\"%s\"", addr, dirs[d]);
				if (cls)
					fprintf(f, ",class=\"%s\"", cls);
				fprintf(f, "} %llu\n", (unsigned long long)v);
			}
		}
	}
	put_health(f, current->n, h);
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
