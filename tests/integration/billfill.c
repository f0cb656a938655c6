// SPDX-License-Identifier: GPL-2.0-or-later
/* Fill a store through the store API with known reports, for billing.sh:
 * `billfill DB HOST < LINES`, each line `TIME LABEL ADDR IN_BYTES OUT_BYTES
 * [CLASS]` (one packet each way per line with bytes); consecutive lines of
 * one TIME are one report (seq counting from 1).  Exit 0, or 1 with the
 * store's message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define MAXROWS 256

static int flush(struct store *s, struct report *r, uint64_t *seq, struct err *e)
{
	int ret;

	if (!r->n)
		return 0;
	r->seq = ++*seq;
	ret = store_record_report(s, r, e);
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->v[i].label);
		free((char *)r->v[i].cls);
	}
	r->n = 0;
	return ret < 0 ? ret : 0;
}

int main(int argc, char **argv)
{
	static const struct store_keep keep = { 2 * 86400, 90 * 86400, 800 * 86400, 0, 0 };
	static struct report_row v[MAXROWS];
	struct report r = { .v = v };
	char line[1024], label[256], addr[128], cls[64];
	unsigned long long in, out;
	long long t;
	uint64_t seq = 0;
	struct err e = { "" };
	struct store *s;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: billfill DB HOST < LINES\n");
		return 2;
	}
	if (store_open(&s, argv[1], argv[2], "nftally", &keep, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	report_origin_init(&r.origin, argv[2], "", "", "nftally");
	while (fgets(line, sizeof(line), stdin)) {
		struct report_row *x;
		int n;

		cls[0] = '\0';
		n = sscanf(line, "%lld %255s %127s %llu %llu %63s", &t, label, addr, &in, &out, cls);
		if (n < 5)
			continue;
		if (r.n && (t != r.time || r.n == MAXROWS) && (ret = flush(s, &r, &seq, &e)) < 0)
			break;
		r.time = t;
		x = &v[r.n++];
		memset(x, 0, sizeof(*x));
		if (addr_parse(addr, &x->a, NULL) < 0) {
			fprintf(stderr, "bad address %s\n", addr);
			return 1;
		}
		x->label = strdup(label);
		x->cls = cls[0] ? strdup(cls) : NULL;
		x->d = (struct counts){ in, in ? 1 : 0, out, out ? 1 : 0 };
	}
	ret = flush(s, &r, &seq, &e);
	store_close(s);
	if (ret < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	return 0;
}
