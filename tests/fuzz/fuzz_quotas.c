// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the quotas file (quota.h): any byte string must
 * either fail with one message line and leave the set empty, or parse into
 * quotas sorted by label, each label once and found by quotas_find, each
 * with a limit, warning levels ascending below 100 %, and what its action
 * needs (a mark, a rate). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char dflt[] = { 80 };
	struct quotas q;
	struct err e = { "" };

	quotas_init(&q);
	if (quotas_parse_buffer(&q, "fuzz", (const char *)data, size, dflt, 1, &e) < 0) {
		if (q.n || q.v || !e.msg[0] || strchr(e.msg, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < q.n; i++) {
		const struct quota *x = &q.v[i];

		if (quotas_find(&q, x->label) != x || x->limit == 0 || x->nwarn > QUOTA_WARN_MAX)
			abort();
		if (i && strcmp(q.v[i - 1].label, x->label) >= 0)
			abort(); /* sorted, and no label twice */
		for (size_t k = 0; k < x->nwarn; k++)
			if (x->warn[k] < 1 || x->warn[k] > 99 || (k && x->warn[k - 1] >= x->warn[k]))
				abort();
		if ((x->action == QUOTA_ACT_MARK && x->mark == 0) ||
		    (x->action == QUOTA_ACT_THROTTLE && x->rate == 0))
			abort();
	}
	quotas_finish(&q);
	quotas_finish(&q);
	return 0;
}
