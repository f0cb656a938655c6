// SPDX-License-Identifier: GPL-2.0-or-later
/* A bounded queue of reports, oldest first; the reports own their labels,
 * so they outlive the states they were made from. */
#include <errno.h>
#include <string.h>

#include "backlog.h"

void backlog_init(struct backlog *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max < BACKLOG_MAX ? max : BACKLOG_MAX;
}

void backlog_finish(struct backlog *b)
{
	for (size_t i = 0; i < b->n; i++)
		report_free(&b->v[i]);
	b->n = 0;
}

int backlog_push(struct backlog *b, struct report *r)
{
	int ret;

	if (b->n >= b->max)
		return -ENOSPC;
	ret = report_own(r);
	if (ret < 0)
		return ret;
	b->v[b->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

int backlog_drain(struct backlog *b, int (*take)(const struct report *r, void *data),
		  void *data)
{
	while (b->n) {
		int ret = take(&b->v[0], data);

		if (ret < 0)
			return ret;
		report_free(&b->v[0]);
		memmove(b->v, b->v + 1, --b->n * sizeof(b->v[0]));
	}
	return 0;
}
