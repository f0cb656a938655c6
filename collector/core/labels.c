/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The labels file: `ADDRESS[/PREFIX] LABEL` lines naming who discovered
 * addresses are billed to, e.g. exported from Neutron's floating IPs or
 * vzlist.  One sort after reading; a lookup is a binary search per prefix
 * length present, so files of 100,000 lines cost little either way. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "file.h"
#include "labels.h"
#include "targets.h"

/* As for the targets file: larger is a mistake (or /dev/zero). */
#define LABELS_FILE_MAX ((size_t)1 << 30)

void labels_init(struct labels *l)
{
	memset(l, 0, sizeof(*l));
}

void labels_finish(struct labels *l)
{
	free(l->v);
	free(l->text);
	labels_init(l);
}

/* The set being read, with the capacities only building needs. */
struct lparse {
	struct labels *l;
	size_t vcap, tcap;
	const char *name;
	struct err *e;
};

static int labels_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	q = reallocarray(*p, ncap, size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = ncap;
	return 0;
}

static int labels_push(struct lparse *p, const struct addr *a, const char *label, size_t n,
		       unsigned line)
{
	struct labels *l = p->l;

	if (labels_grow((void **)&l->v, &p->vcap, l->n + 1, sizeof(*l->v)) < 0 ||
	    labels_grow((void **)&l->text, &p->tcap, l->ntext + n + 1, 1) < 0)
		return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
	memcpy(l->text + l->ntext, label, n);
	l->text[l->ntext + n] = '\0';
	l->v[l->n] = (struct labels_entry){ .a = *a, .label = l->ntext, .line = line };
	l->n++;
	l->ntext += n + 1;
	return 0;
}

/* One line without its newline. */
static int labels_parse_line(struct lparse *p, const char *s, size_t len, unsigned line)
{
	char text[ADDR_STRLEN], shown[80];
	const char *f, *label, *why = "bad address", *problem;
	size_t pos = 0, flen, llen;
	struct addr a;

	if (len > TARGETS_LINE_MAX)
		return err_set(p->e, "%s:%u: line is longer than %d bytes", p->name, line,
			       TARGETS_LINE_MAX);
	if (memchr(s, '\0', len))
		return err_set(p->e, "%s:%u: NUL byte in line", p->name, line);
	if (!file_field(s, len, &pos, &f, &flen) || f[0] == '#')
		return 0;
	if (flen >= sizeof(text) || (memcpy(text, f, flen), text[flen] = '\0',
				     addr_parse(text, &a, &why) < 0))
		return err_set(p->e, "%s:%u: bad address '%s': %s", p->name, line,
			       err_printable(shown, sizeof(shown), f, flen), why);
	if (!file_field(s, len, &pos, &label, &llen) || label[0] == '#')
		return err_set(p->e, "%s:%u: missing label", p->name, line);
	if (label[0] == '@')
		return err_set(p->e, "%s:%u: label starts with '@' (groups are made in the "
			       "targets file)", p->name, line);
	if ((problem = targets_label_problem(label, llen)))
		return err_set(p->e, "%s:%u: %s", p->name, line, problem);
	if (file_field(s, len, &pos, &f, &flen) && f[0] != '#')
		return err_set(p->e, "%s:%u: text after the label ('%s'; a label has no blanks)",
			       p->name, line, err_printable(shown, sizeof(shown), f, flen));
	return labels_push(p, &a, label, llen, line);
}

static int labels_line_cb(const char *s, size_t n, unsigned line, void *data)
{
	return labels_parse_line(data, s, n, line);
}

/* Family, then the longest prefix first (the order lookups try them), then
 * address; equal entries by line, so the later one is the duplicate. */
static int labels_cmp(const void *x, const void *y)
{
	const struct labels_entry *a = x, *b = y;
	int r;

	if (a->a.family != b->a.family)
		return a->a.family < b->a.family ? -1 : 1;
	if (a->a.plen != b->a.plen)
		return a->a.plen > b->a.plen ? -1 : 1;
	r = memcmp(a->a.bytes, b->a.bytes, sizeof(a->a.bytes));
	if (r)
		return r;
	return (a->line > b->line) - (a->line < b->line);
}

static bool labels_same(const struct labels_entry *a, const struct labels_entry *b)
{
	return a->a.family == b->a.family && a->a.plen == b->a.plen &&
	       memcmp(a->a.bytes, b->a.bytes, sizeof(a->a.bytes)) == 0;
}

/* Sort; of the duplicates, report the one a reader meets first going down
 * the file. */
static int labels_sort_check(struct lparse *p)
{
	struct labels *l = p->l;
	const struct labels_entry *later = NULL, *earlier = NULL;
	char text[ADDR_STRLEN];

	if (l->n < 2)
		return 0; /* and qsort is not given NULL */
	qsort(l->v, l->n, sizeof(*l->v), labels_cmp);
	for (size_t i = 1; i < l->n; i++)
		if (labels_same(&l->v[i - 1], &l->v[i]) &&
		    (!later || l->v[i].line < later->line)) {
			later = &l->v[i];
			/* the first of a run of equal ones, which sorts first */
			earlier = &l->v[i - 1];
			while (earlier > l->v && labels_same(earlier - 1, later))
				earlier--;
		}
	if (!later)
		return 0;
	return err_set(p->e, "%s:%u: duplicate address %s (line %u)", p->name, later->line,
		       addr_format(&later->a, text), earlier->line);
}

static void labels_index(struct labels *l)
{
	memset(l->nspan, 0, sizeof(l->nspan));
	for (size_t i = 0; i < l->n; i++) {
		int f = l->v[i].a.family == AF_INET6;
		struct labels_span *s = &l->span[f][l->nspan[f]];

		if (l->nspan[f] && s[-1].plen == l->v[i].a.plen) {
			s[-1].hi = i + 1;
			continue;
		}
		*s = (struct labels_span){ .lo = i, .hi = i + 1, .plen = l->v[i].a.plen };
		l->nspan[f]++;
	}
}

int labels_parse_buffer(struct labels *l, const char *name, const char *buf, size_t len,
			struct err *e)
{
	struct labels tmp;
	struct lparse p = { .l = &tmp, .name = name, .e = e };
	int r;

	labels_init(&tmp);
	r = file_each_line(buf, len, labels_line_cb, &p);
	if (r == 0 || r == -EINVAL) {
		/* a duplicate above a bad line is the first problem a reader
		 * meets: it wins over the line's own */
		int d = labels_sort_check(&p);

		if (d < 0)
			r = d;
	}
	if (r < 0) {
		labels_finish(&tmp);
		return r;
	}
	labels_index(&tmp);
	labels_finish(l);
	*l = tmp;
	return 0;
}

int labels_load(struct labels *l, const char *path, struct err *e)
{
	char *buf;
	size_t len;
	int r = file_load(path, LABELS_FILE_MAX, &buf, &len, e);

	if (r < 0)
		return r;
	r = labels_parse_buffer(l, path, buf, len, e);
	free(buf);
	return r;
}

/* a's bytes with every bit past plen cleared. */
static void labels_mask(const struct addr *a, unsigned plen, uint8_t out[16])
{
	memcpy(out, a->bytes, 16);
	for (unsigned i = plen / 8; i < 16; i++)
		out[i] = i == plen / 8 ? (uint8_t)(out[i] & (0xff00 >> (plen % 8))) : 0;
}

static const struct labels_entry *labels_search(const struct labels *l,
						const struct labels_span *s,
						const uint8_t key[16])
{
	size_t lo = s->lo, hi = s->hi, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = memcmp(l->v[mid].a.bytes, key, 16);
		if (r == 0)
			return &l->v[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *labels_lookup(const struct labels *l, const struct addr *a)
{
	int f = a->family == AF_INET6;
	const struct labels_entry *hit;
	uint8_t key[16];

	for (size_t i = 0; i < l->nspan[f]; i++) {
		const struct labels_span *s = &l->span[f][i];

		if (s->plen > a->plen)
			continue;
		labels_mask(a, s->plen, key);
		if ((hit = labels_search(l, s, key)))
			return l->text + hit->label;
	}
	return NULL;
}
