// SPDX-License-Identifier: GPL-2.0-or-later
/* The cycles file (`LABEL DAY [TZ]` lines) over the daemon-wide default
 * cycle, and the lookup of a label's cycle that reports and quotas share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "config.h"
#include "file.h"
#include "targets.h"

/* Far more than any sensible cycles file. */
#define BILLING_FILE_MAX (64 << 20)

void billing_init(struct billing *b, int day, const char *tz)
{
	memset(b, 0, sizeof(*b));
	b->dflt.day = day;
	snprintf(b->dflt.tz, sizeof(b->dflt.tz), "%s", tz);
}

static void billing_free_lines(struct billing_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].label);
	free(v);
}

void billing_finish(struct billing *b)
{
	billing_free_lines(b->v, b->n);
	b->v = NULL;
	b->n = 0;
}

struct billing_parse {
	struct billing_entry *v;
	size_t n, cap;
	const char *name;
	const struct cycle *dflt;
	struct err *e;
};

static int billing_line(const char *s, size_t len, unsigned line, void *data)
{
	struct billing_parse *p = data;
	const char *f[4], *why;
	size_t fl[4], pos = 0, nf = 0, hash;
	char shown[80], tz[sizeof(p->dflt->tz)];
	struct billing_entry *x;
	unsigned long day = 0;
	struct err sub;

	if (memchr(s, '\0', len))
		return err_set(p->e, "%s:%u: NUL byte in line", p->name, line);
	if (len > TARGETS_LINE_MAX)
		return err_set(p->e, "%s:%u: line longer than %d bytes", p->name, line,
			       TARGETS_LINE_MAX);
	/* a comment starts at a '#' that starts a word */
	for (hash = 0; hash < len; hash++)
		if (s[hash] == '#' && (hash == 0 || file_blank(s[hash - 1])))
			break;
	while (nf < 4 && file_field(s, hash, &pos, &f[nf], &fl[nf]))
		nf++;
	if (nf == 0)
		return 0;
	if ((why = targets_label_problem(f[0], fl[0])))
		return err_set(p->e, "%s:%u: %s '%s'", p->name, line, why,
			       err_printable(shown, sizeof(shown), f[0], fl[0]));
	if (nf < 2)
		return err_set(p->e, "%s:%u: missing day (use LABEL DAY [TZ])", p->name, line);
	if (nf > 3)
		return err_set(p->e, "%s:%u: text after the time zone", p->name, line);
	for (size_t i = 0; i < fl[1] && day <= 31; i++)
		day = f[1][i] >= '0' && f[1][i] <= '9' ? day * 10 + (unsigned)(f[1][i] - '0') : 99;
	if (day < 1 || day > 31 || fl[1] > 2)
		return err_set(p->e, "%s:%u: bad day '%s' (1 to 31; past the month's end: its "
			       "last day)", p->name, line,
			       err_printable(shown, sizeof(shown), f[1], fl[1]));
	if (nf == 3) {
		if (fl[2] >= sizeof(tz))
			return err_set(p->e, "%s:%u: time zone name too long", p->name, line);
		memcpy(tz, f[2], fl[2]);
		tz[fl[2]] = '\0';
		if (cycle_tz_check(tz, &sub) < 0)
			return err_set(p->e, "%s:%u: %s '%s'", p->name, line, sub.msg,
				       err_printable(shown, sizeof(shown), f[2], fl[2]));
	} else {
		snprintf(tz, sizeof(tz), "%s", p->dflt->tz);
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct billing_entry *v = reallocarray(p->v, cap, sizeof(*v));

		if (!v)
			return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
		p->v = v;
		p->cap = cap;
	}
	x = &p->v[p->n];
	if (!(x->label = strndup(f[0], fl[0])))
		return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
	x->c.day = (int)day;
	memcpy(x->c.tz, tz, sizeof(tz));
	x->line = line;
	p->n++;
	return 0;
}

static int billing_cmp(const void *a, const void *b)
{
	const struct billing_entry *x = a, *y = b;
	int d = strcmp(x->label, y->label);

	return d ? d : (x->line > y->line) - (x->line < y->line);
}

int billing_parse_buffer(struct billing *b, const char *name, const char *buf, size_t len,
			 struct err *e)
{
	struct billing_parse p = { .name = name, .dflt = &b->dflt, .e = e };
	char shown[80];
	int ret = file_each_line(buf, len, billing_line, &p);

	if (ret == 0 && p.n)
		qsort(p.v, p.n, sizeof(*p.v), billing_cmp);
	for (size_t i = 1; ret == 0 && i < p.n; i++)
		if (strcmp(p.v[i].label, p.v[i - 1].label) == 0)
			ret = err_set(e, "%s:%u: label '%s' given twice (line %u)", name,
				      p.v[i].line, err_printable(shown, sizeof(shown), p.v[i].label,
								 strlen(p.v[i].label)),
				      p.v[i - 1].line);
	if (ret < 0) {
		billing_free_lines(p.v, p.n);
		return ret;
	}
	billing_finish(b);
	b->v = p.v;
	b->n = p.n;
	return 0;
}

int billing_load(struct billing *b, const char *path, struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = file_load(path, BILLING_FILE_MAX, &buf, &len, e);

	if (ret == 0)
		ret = billing_parse_buffer(b, path, buf, len, e);
	free(buf);
	return ret;
}

int billing_from_config(struct billing *b, const struct config *c, struct err *e)
{
	billing_init(b, c->cycle_day, c->timezone);
	return c->cycles[0] ? billing_load(b, c->cycles, e) : 0;
}

const struct cycle *billing_cycle_of(const struct billing *b, const char *label)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(label, b->v[mid].label);

		if (d == 0)
			return &b->v[mid].c;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return &b->dflt;
}
