// SPDX-License-Identifier: GPL-2.0-or-later
/* The store or the central database behind one set of read calls. */
#include <errno.h>
#include <stdlib.h>

#include "pg.h"
#include "source.h"

struct source {
	struct store *store; /* one of the two */
	struct pg_read *pg;
};

int source_open_store(struct source **s, const char *path, const char *here, struct err *e)
{
	struct store *st = NULL;
	int ret;

	*s = NULL;
	if ((ret = store_open_readonly(&st, path, here, e)) < 0)
		return ret;
	if (!(*s = calloc(1, sizeof(**s)))) {
		store_close(st);
		return err_setn(e, -ENOMEM, "out of memory");
	}
	(*s)->store = st;
	return 0;
}

int source_open_pg(struct source **s, const char *conninfo, const char *tz, struct err *e)
{
	struct pg_read *r;

	*s = NULL;
	if (!(r = pg_read_open(conninfo, tz, e)))
		return -EIO;
	if (!(*s = calloc(1, sizeof(**s)))) {
		pg_read_close(r);
		return err_setn(e, -ENOMEM, "out of memory");
	}
	(*s)->pg = r;
	return 0;
}

void source_close(struct source *s)
{
	if (!s)
		return;
	store_close(s->store);
	pg_read_close(s->pg);
	free(s);
}

int source_query(struct source *s, const struct store_query *q,
		 int (*cb)(const struct store_row *row, void *data), void *data, struct err *e)
{
	return s->pg ? pg_read_query(s->pg, q, cb, data, e) : store_query(s->store, q, cb, data, e);
}

int source_labels(struct source *s, int (*cb)(const char *label, void *data), void *data,
		  struct err *e)
{
	return s->pg ? pg_read_labels(s->pg, cb, data, e) : store_labels(s->store, cb, data, e);
}

int source_first_time(struct source *s, int64_t *t, struct err *e)
{
	return s->pg ? pg_read_first_time(s->pg, t, e) : store_first_time(s->store, t, e);
}

int source_window_query(struct source *s, const struct store_wquery *q,
			int (*cb)(const struct store_row *row, void *data), void *data,
			struct err *e)
{
	return s->pg ? pg_read_window_query(s->pg, q, cb, data, e) :
		       store_window_query(s->store, q, cb, data, e);
}

int source_window_samples(struct source *s, const struct store_wquery *q,
			  int (*cb)(const struct store_sample *x, void *data), void *data,
			  struct err *e)
{
	return s->pg ? pg_read_window_samples(s->pg, q, cb, data, e) :
		       store_window_samples(s->store, q, cb, data, e);
}

int64_t source_samples_from(struct source *s)
{
	return s->pg ? INT64_MAX : store_samples_from(s->store);
}

int source_reports_stamp(struct source *s, int64_t lo, int64_t hi, int64_t stamp[3],
			 struct err *e)
{
	return s->pg ? -ENOTSUP : store_reports_stamp(s->store, lo, hi, stamp, e);
}
