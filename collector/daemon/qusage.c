// SPDX-License-Identifier: GPL-2.0-or-later
/* The quotas' usage cache (qusage.h): per window (a cycle start), the
 * labels sorted by name with their counts. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "qusage.h"
#include "store.h"

struct qlabel_sum {
	char *label;
	struct counts c;
};

struct qwindow {
	int64_t since;
	struct qlabel_sum *v; /* sorted by label (strcmp) */
	size_t n, cap;
	bool asked;           /* since the last sweep */
};

struct qusage {
	struct qwindow *w;
	size_t n;
};

struct qusage *qusage_create(void)
{
	return calloc(1, sizeof(struct qusage));
}

static void qwindow_free(struct qwindow *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].label);
	free(w->v);
}

void qusage_destroy(struct qusage *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		qwindow_free(&u->w[i]);
	free(u->w);
	free(u);
}

/* The index of label in w, or where it goes (*found false). */
static size_t qwindow_find(const struct qwindow *w, const char *label, bool *found)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w->v[mid].label, label);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* c added to label's sum in w (a new label inserted in its place). */
static int qwindow_add(struct qwindow *w, const char *label, const struct counts *c)
{
	bool found;
	size_t i = qwindow_find(w, label, &found);

	if (!found) {
		char *l = strdup(label);

		if (!l)
			return -ENOMEM;
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 64;
			struct qlabel_sum *v = realloc(w->v, cap * sizeof(*v));

			if (!v) {
				free(l);
				return -ENOMEM;
			}
			w->v = v;
			w->cap = cap;
		}
		memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
		w->v[i] = (struct qlabel_sum){ .label = l };
		w->n++;
	}
	w->v[i].c.in_bytes += c->in_bytes;
	w->v[i].c.in_packets += c->in_packets;
	w->v[i].c.out_bytes += c->out_bytes;
	w->v[i].c.out_packets += c->out_packets;
	return 0;
}

static int qwindow_load_cb(const char *label, const struct counts *c, void *arg)
{
	return qwindow_add(arg, label, c);
}

int qusage_get(struct qusage *u, int64_t since, quotad_usage_fn load, void *load_data,
	       int (*cb)(const char *label, const struct counts *c, void *arg), void *arg,
	       struct err *e)
{
	struct qwindow *w = NULL;
	int ret = 0;

	for (size_t i = 0; i < u->n && !w; i++)
		if (u->w[i].since == since)
			w = &u->w[i];
	if (!w) {
		struct qwindow *v = realloc(u->w, (u->n + 1) * sizeof(*v)), nw = { .since = since };

		if (!v)
			return err_setn(e, -ENOMEM, "quotas: out of memory");
		u->w = v;
		/* up to now: every report the store has; later ones through qusage_add */
		ret = load(load_data, since, INT64_MAX, qwindow_load_cb, &nw, e);
		if (ret < 0) {
			qwindow_free(&nw);
			return ret;
		}
		u->w[u->n] = nw;
		w = &u->w[u->n++];
	}
	w->asked = true;
	for (size_t i = 0; i < w->n && ret == 0; i++)
		ret = cb(w->v[i].label, &w->v[i].c, arg);
	return ret;
}

int qusage_add(struct qusage *u, const struct report *r)
{
	int64_t slot = store_slot(r->time);
	int ret = 0;

	for (size_t k = 0; k < u->n;) {
		int bad = 0;

		for (size_t i = 0; i < r->n && u->w[k].since <= slot && !bad; i++) {
			const struct report_row *d = &r->v[i];

			bad = qwindow_add(&u->w[k], d->label ? d->label : "", &d->d);
		}
		if (!bad) {
			k++;
			continue;
		}
		/* half added: forget the window, the next qusage_get loads it */
		qwindow_free(&u->w[k]);
		u->w[k] = u->w[--u->n];
		ret = -ENOMEM;
	}
	return ret;
}

void qusage_sweep(struct qusage *u)
{
	size_t k = 0;

	for (size_t i = 0; i < u->n; i++) {
		if (!u->w[i].asked) {
			qwindow_free(&u->w[i]);
			continue;
		}
		u->w[i].asked = false;
		u->w[k++] = u->w[i];
	}
	u->n = k;
}
