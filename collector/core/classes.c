// SPDX-License-Identifier: GPL-2.0-or-later
/* Network classes: named lists of peer prefixes, first matching class wins.
 * The kernel's interval maps cannot hold overlapping elements, so the
 * prefixes are turned here into disjoint ranges, each with the class that
 * wins in it.  Prefixes (CIDR) are either nested or disjoint, so one sweep
 * in address order with a stack of open prefixes finds, for every stretch,
 * the best (lowest) class among the prefixes that cover it.  Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "classes.h"
#include "file.h"

#define CLASSES_FILE_MAX ((size_t)64 << 20)

typedef unsigned __int128 u128;

struct cprefix {
	u128 lo, hi;
	unsigned prio; /* index of the class in the file's order */
};

static u128 to_u128(const uint8_t bytes[16], uint8_t family)
{
	unsigned nb = family == AF_INET ? 4 : 16;
	u128 v = 0;

	for (unsigned i = 0; i < nb; i++)
		v = v << 8 | bytes[i];
	return v;
}

static void from_u128(u128 v, uint8_t family, uint8_t out[16])
{
	unsigned nb = family == AF_INET ? 4 : 16;

	memset(out, 0, 16);
	for (unsigned i = nb; i-- > 0; v >>= 8)
		out[i] = (uint8_t)v;
}

void classes_init(struct classes *c)
{
	memset(c, 0, sizeof(*c));
}

void classes_finish(struct classes *c)
{
	free(c->r);
	classes_init(c);
}

struct cparse {
	struct classes *c;
	const char *name, *dflt;
	struct err *e;
	struct cprefix *p[2]; /* [v6] */
	size_t np[2], cap[2];
};

static int by_start(const void *x, const void *y)
{
	const struct cprefix *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi > b->hi ? -1 : 1; /* the outer one first */
	return a->prio < b->prio ? -1 : a->prio > b->prio;
}

static int emit(struct classes *c, size_t *cap, uint8_t family, u128 lo, u128 hi,
		unsigned prio)
{
	struct class_range *r;
	uint8_t cls = (uint8_t)c->ids[prio];

	/* joined to the previous range when it continues it with the same class */
	r = c->nr ? &c->r[c->nr - 1] : NULL;
	if (r && r->family == family && r->cls == cls && to_u128(r->hi, family) + 1 == lo) {
		from_u128(hi, family, r->hi);
		return 0;
	}
	if (c->nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;

		r = realloc(c->r, ncap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		c->r = r;
		*cap = ncap;
	}
	r = &c->r[c->nr++];
	r->family = family;
	r->cls = cls;
	from_u128(lo, family, r->lo);
	from_u128(hi, family, r->hi);
	return 0;
}

/* The sweep over one family's prefixes, sorted by start, outer first. */
static int sweep(struct classes *c, size_t *cap, uint8_t family, struct cprefix *v, size_t n)
{
	struct {
		u128 hi;
		unsigned best;
	} *st = malloc((n + 1) * sizeof(*st));
	const u128 max = family == AF_INET ? (u128)0xffffffffu : ~(u128)0;
	size_t depth = 0;
	u128 pos = 0;
	bool all = false; /* pos went past the last address */
	int ret = 0;

	if (!st)
		return -ENOMEM;
	if (n)
		qsort(v, n, sizeof(*v), by_start);
	for (size_t i = 0; i <= n && ret == 0; i++) {
		/* close what ends before the next prefix (or everything at the end) */
		while (depth && ret == 0 && (i == n || st[depth - 1].hi < v[i].lo)) {
			if (!all && pos <= st[depth - 1].hi)
				ret = emit(c, cap, family, pos, st[depth - 1].hi, st[depth - 1].best);
			all |= st[depth - 1].hi == max;
			pos = st[depth - 1].hi + 1; /* wraps only past max */
			depth--;
		}
		if (i == n || ret)
			break;
		if (depth && pos < v[i].lo)
			ret = emit(c, cap, family, pos, v[i].lo - 1, st[depth - 1].best);
		pos = v[i].lo;
		st[depth].hi = v[i].hi;
		st[depth].best = depth && st[depth - 1].best < v[i].prio ? st[depth - 1].best
									 : v[i].prio;
		depth++;
	}
	free(st);
	return ret;
}

static int add_prefix(struct cparse *p, const struct addr *a, unsigned prio)
{
	int v6 = a->family == AF_INET6;
	unsigned width = v6 ? 128 : 32;
	u128 lo = to_u128(a->bytes, a->family), span;

	if (p->np[v6] == p->cap[v6]) {
		size_t ncap = p->cap[v6] ? p->cap[v6] * 2 : 256;
		struct cprefix *n = realloc(p->p[v6], ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->p[v6] = n;
		p->cap[v6] = ncap;
	}
	span = a->plen == 0 ? ~(u128)0 >> (128 - width) : (((u128)1 << (width - a->plen)) - 1);
	p->p[v6][p->np[v6]++] = (struct cprefix){ lo, lo + span, prio };
	return 0;
}

static int parse_line(const char *s, size_t len, unsigned line, void *data)
{
	struct cparse *p = data;
	const char *name = p->name, *dflt = p->dflt;
	struct err *e = p->e;
	struct classes *c = p->c;
	char cname[ADDR_CLASS_NAMELEN + 2], text[ADDR_STRLEN + 8], shown[80];
	const char *f, *why;
	size_t pos = 0, flen;
	unsigned prio;
	bool any = false;
	struct addr a;

	if (memchr(s, '\0', len))
		return err_set(e, "%s:%u: NUL byte in line", name, line);
	if (!file_field(s, len, &pos, &f, &flen) || f[0] == '#')
		return 0;
	snprintf(cname, sizeof(cname), "%.*s", (int)(flen < sizeof(cname) ? flen : sizeof(cname) - 1), f);
	if (flen > ADDR_CLASS_NAMELEN || !addr_class_name_ok(cname))
		return err_set(e, "%s:%u: bad class name '%s' (a-z first, then a-z, 0-9, _; "
			       "at most %d)", name, line, err_printable(shown, sizeof(shown), f, flen),
			       ADDR_CLASS_NAMELEN);
	if (strcmp(cname, dflt) == 0)
		return err_set(e, "%s:%u: class %s is the default class (default_class)", name,
			       line, cname);
	for (prio = 0; prio < c->n && strcmp(c->names[prio], cname) != 0; prio++)
		;
	if (prio == c->n) {
		if (c->n == ADDR_CLASSES_MAX)
			return err_set(e, "%s:%u: more than %d classes", name, line,
				       ADDR_CLASSES_MAX);
		strcpy(c->names[c->n++], cname);
	}
	while (file_field(s, len, &pos, &f, &flen) && f[0] != '#') {
		why = "bad address";
		if (flen >= sizeof(text) ||
		    (snprintf(text, sizeof(text), "%.*s", (int)flen, f), addr_parse(text, &a, &why) < 0))
			return err_set(e, "%s:%u: bad prefix '%s': %s", name, line,
				       err_printable(shown, sizeof(shown), f, flen), why);
		if (add_prefix(p, &a, prio) < 0)
			return err_setn(e, -ENOMEM, "%s:%u: out of memory", name, line);
		any = true;
	}
	if (!any)
		return err_set(e, "%s:%u: class %s without a prefix", name, line, cname);
	return 0;
}

int classes_parse_buffer(struct classes *c, struct addr_names *an, const char *name,
			 const char *buf, size_t len, const char *dflt, struct err *e)
{
	struct cparse p = { .c = c, .name = name, .dflt = dflt, .e = e };
	size_t cap = 0;
	int ret;

	classes_init(c);
	c->an = an;
	ret = file_each_line(buf, len, parse_line, &p);
	for (size_t i = 0; i < c->n && ret == 0; i++) {
		c->ids[i] = addr_names_id(an, c->names[i]);
		if (c->ids[i] < 0)
			ret = err_set(e, "%s: too many class names in this process", name);
	}
	if (ret == 0)
		addr_names_on(an, dflt);
	if (ret == 0)
		ret = sweep(c, &cap, AF_INET, p.p[0], p.np[0]);
	if (ret == 0)
		ret = sweep(c, &cap, AF_INET6, p.p[1], p.np[1]);
	if (ret == -ENOMEM)
		err_setn(e, ret, "%s: out of memory", name);
	free(p.p[0]);
	free(p.p[1]);
	if (ret < 0)
		classes_finish(c);
	return ret;
}

int classes_parse_file(struct classes *c, struct addr_names *an, const char *path,
		       const char *dflt, struct err *e)
{
	char *buf;
	size_t len;
	int ret;

	classes_init(c);
	ret = file_load(path, CLASSES_FILE_MAX, &buf, &len, e);
	if (ret < 0)
		return ret;
	ret = classes_parse_buffer(c, an, path, buf, len, dflt, e);
	free(buf);
	return ret;
}
