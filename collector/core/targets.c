/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The targets file: `LABEL ADDRESS...` lines (vzlist output parses as is),
 * validated into a sorted set of non-overlapping addresses, each billed to a
 * label.  Linear apart from one sort, so million-line files are fine. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "file.h"
#include "targets.h"
#include "utf8.h"

/* A file this large is a mistake (or /dev/zero), not a targets list. */
#define TARGETS_FILE_MAX ((size_t)1 << 30)

void targets_init(struct targets *t)
{
	t->labels = NULL;
	t->nlabels = 0;
	t->v = NULL;
	t->n = 0;
	t->text = (struct strpool){ 0 };
}

void targets_finish(struct targets *t)
{
	strpool_finish(&t->text);
	free(t->labels);
	free(t->v);
	targets_init(t);
}

#define TARGETS_PRESIZE_MAX (1u << 20)

/* Growth by doubling keeps appends amortised O(1). */
static int targets_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if (ncap <= n)
		ncap = n + 1;
	p = reallocarray(*v, ncap, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/* The parse state: the set being built plus a hash of labels to their index
 * so that a label on many lines is stored once.  Capacities live here, not in
 * struct targets, because only building needs them. */
struct tslot {
	size_t idx;  /* label index + 1, 0 = empty */
	uint64_t h;  /* its hash: probes and rehashes never touch the string */
};

struct tparse {
	struct targets *t;
	size_t vcap, lcap;
	struct tslot *hash; /* size hcap, a power of 2 */
	size_t hcap;
	long *gline;  /* per label: first line, negative for "@LABEL" (a group) */
	size_t gcap;
	const char *end;  /* of the buffer being parsed */
	const char *ahead; /* the next line's first field, whose slot is being */
	uint64_t ahead_h;  /* fetched into the cache while this line is parsed */
};

static uint64_t targets_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
	/* FNV's low bits, which index the table, mix poorly for labels that
	 * differ only in their last digits: fold the high bits in */
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9u;
	return h ^ h >> 32;
}

static struct tslot *targets_slot(struct tparse *p, uint64_t h, const char *s, size_t n)
{
	size_t i = (size_t)h & (p->hcap - 1);
	const char *l;

	for (;; i = (i + 1) & (p->hcap - 1)) {
		if (!p->hash[i].idx)
			return &p->hash[i];
		if (p->hash[i].h != h)
			continue;
		l = p->t->labels[p->hash[i].idx - 1];
		if (strncmp(l, s, n) == 0 && l[n] == '\0')
			return &p->hash[i];
	}
}

/* Keep the table at most half full (sized for `want` labels at least). */
static int targets_rehash(struct tparse *p, size_t want)
{
	size_t ncap = p->hcap ? p->hcap * 2 : 64, i;
	struct tslot *old = p->hash;
	size_t oldcap = p->hcap;

	if (p->hcap && p->t->nlabels < p->hcap / 2 && want < p->hcap / 2)
		return 0;
	while (ncap / 2 <= want)
		ncap *= 2;
	p->hash = calloc(ncap, sizeof(*p->hash));
	if (!p->hash) {
		p->hash = old;
		return -ENOMEM;
	}
	p->hcap = ncap;
	for (i = 0; i < oldcap; i++) {
		size_t k = (size_t)old[i].h & (ncap - 1);

		if (!old[i].idx)
			continue;
		while (p->hash[k].idx) /* labels are distinct: just find room */
			k = (k + 1) & (ncap - 1);
		p->hash[k] = old[i];
	}
	free(old);
	return 0;
}

/* Index of label s[0..n), added if new.  Returns 0 or -ENOMEM. */
static int targets_intern(struct tparse *p, const char *s, size_t n, size_t *idx)
{
	struct targets *t = p->t;
	struct tslot *slot;
	char *copy;

	uint64_t h = s == p->ahead ? p->ahead_h : targets_hash(s, n);

	if (targets_rehash(p, 0) < 0)
		return -ENOMEM;
	slot = targets_slot(p, h, s, n);
	if (slot->idx) {
		*idx = slot->idx - 1;
		return 0;
	}
	if (targets_grow((void **)&t->labels, &p->lcap, t->nlabels,
			 sizeof(*t->labels)) < 0)
		return -ENOMEM;
	copy = strpool_add(&t->text, s, n);
	if (!copy)
		return -ENOMEM;
	t->labels[t->nlabels] = copy;
	*idx = t->nlabels++;
	*slot = (struct tslot){ t->nlabels, h };
	return 0;
}

static int targets_push(struct tparse *p, const struct addr *a, size_t label,
			unsigned line)
{
	struct targets *t = p->t;

	if (targets_grow((void **)&t->v, &p->vcap, t->n, sizeof(*t->v)) < 0)
		return -ENOMEM;
	t->v[t->n].addr = *a;
	t->v[t->n].label = label;
	t->v[t->n].line = line;
	t->v[t->n].group = false;
	t->n++;
	return 0;
}

/* ---- checking the whole set ---- */

/* Equal addresses sort by line so the earlier one is met first. */
static int targets_cmp(const void *x, const void *y)
{
	const struct target *a = x, *b = y;
	int r = addr_cmp(&a->addr, &b->addr);

	if (r != 0)
		return r;
	return (a->line > b->line) - (a->line < b->line);
}

/* Files written in address order are common: those need no sort. */
static void targets_sort(struct targets *t)
{
	for (size_t i = 1; i < t->n; i++)
		if (targets_cmp(&t->v[i - 1], &t->v[i]) > 0) {
			qsort(t->v, t->n, sizeof(*t->v), targets_cmp);
			return;
		}
}

/* A conflict between two targets; `later` is the one reported. */
struct tconflict {
	const struct target *later, *earlier;
};

/* Chain of nested prefixes containing the current entry, outermost first,
 * with the entry of smallest line among frames 0..i in minline[i].  Strictly
 * increasing prefix lengths bound the depth. */
struct tstack {
	const struct target *frame[130];
	const struct target *minline[130];
	unsigned depth;
};

static void targets_consider(struct tconflict *c, const struct target *x,
			     const struct target *y)
{
	const struct target *later = x->line >= y->line ? x : y;
	const struct target *earlier = later == x ? y : x;

	if (!c->later || later->line < c->later->line) {
		c->later = later;
		c->earlier = earlier;
	}
}

static void targets_stack_push(struct tstack *s, const struct target *x)
{
	const struct target *m = x;

	if (s->depth > 0) {
		if (addr_cmp(&s->frame[s->depth - 1]->addr, &x->addr) == 0)
			return; /* an equal, earlier entry already stands for x */
		if (s->minline[s->depth - 1]->line <= x->line)
			m = s->minline[s->depth - 1];
	}
	s->frame[s->depth] = x;
	s->minline[s->depth] = m;
	s->depth++;
}

/* After sorting, every earlier entry that overlaps x contains x, and those
 * form the stack; report the conflict whose later line comes first in the
 * file, so the message matches what a reader finds going top to bottom. */
static void targets_find_conflict(const struct targets *t, struct tconflict *c)
{
	struct tstack s = { .depth = 0 };
	const struct target *x;
	size_t i;

	c->later = c->earlier = NULL;
	for (i = 0; i < t->n; i++) {
		x = &t->v[i];
		while (s.depth > 0 &&
		       !addr_contains(&s.frame[s.depth - 1]->addr, &x->addr))
			s.depth--;
		if (s.depth > 0)
			targets_consider(c, x, s.minline[s.depth - 1]);
		targets_stack_push(&s, x);
	}
}

/* "NAME:LINE" for targets from a file, plain "NAME" for added ones. */
static void targets_where(char *buf, size_t size, const char *name, unsigned line)
{
	if (line)
		snprintf(buf, size, "%s:%u", name, line);
	else
		snprintf(buf, size, "%s", name);
}

static int targets_report(const struct tconflict *c, const char *name,
			  struct err *e)
{
	char where[sizeof(e->msg)], a[ADDR_STRLEN], b[ADDR_STRLEN], eline[32] = "";

	targets_where(where, sizeof(where), name, c->later->line);
	if (c->earlier->line)
		snprintf(eline, sizeof(eline), " (line %u)", c->earlier->line);
	addr_format(&c->later->addr, a);
	addr_format(&c->earlier->addr, b);
	if (addr_cmp(&c->later->addr, &c->earlier->addr) == 0)
		return err_set(e, "%s: duplicate address %s%s", where, a, eline);
	return err_set(e, "%s: %s overlaps %s%s", where, a, b, eline);
}

int targets_finalize(struct targets *t, const char *name, struct err *e)
{
	struct tconflict c;

	targets_sort(t);
	targets_find_conflict(t, &c);
	if (c.later)
		return targets_report(&c, name, e);
	return 0;
}

/* ---- parsing lines ---- */

/* 0 if s[0..n) is valid UTF-8 without control characters (C0, DEL, C1),
 * 1 if it is not UTF-8, 2 if it holds a control character. */
static int targets_text_check(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0)
			return 1;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 2;
		i += k;
	}
	return 0;
}

bool targets_text_ok(const char *s, size_t n)
{
	return targets_text_check(s, n) == 0;
}

/* Labels only ever reach JSON and databases, never nft syntax, so quotes
 * and braces are fine; what is refused is what would garble a terminal or
 * a log line. */
const char *targets_label_problem(const char *s, size_t n)
{
	static const char *const why[3] = {
		NULL, "label is not valid UTF-8", "label contains a control character",
	};

	if (n > TARGETS_LABEL_MAX)
		return "label is longer than 128 bytes";
	return why[targets_text_check(s, n)];
}

/* Parse one address field and add it. */
static int targets_parse_addr(struct tparse *p, const char *f, size_t flen,
			      size_t label, unsigned line, const char *name,
			      struct err *e)
{
	char text[ADDR_STRLEN], shown[80];
	const char *why = "bad address";
	struct addr a;

	if (flen < sizeof(text)) {
		memcpy(text, f, flen);
		text[flen] = '\0';
		if (addr_parse(text, &a, &why) == 0)
			return targets_push(p, &a, label, line);
	}
	return err_set(e, "%s:%u: bad address '%s': %s", name, line,
		       err_printable(shown, sizeof(shown), f, flen), why);
}

/* Is the rest of the line vzlist's "-" for a container without addresses?
 * Only on its own: next to real addresses it is just a bad address. */
static bool targets_only_dash(const char *s, size_t len, size_t pos)
{
	const char *f;
	size_t flen;

	if (!file_field(s, len, &pos, &f, &flen) || flen != 1 || f[0] != '-')
		return false;
	return !file_field(s, len, &pos, &f, &flen) || f[0] == '#';
}

/* Every line of a label agrees on whether it is a group. */
static int targets_group_line(struct tparse *p, size_t idx, unsigned line, bool group,
			      const char *name, struct err *e)
{
	long *g;

	while (idx >= p->gcap) {
		size_t ncap = p->gcap ? p->gcap * 2 : 64;

		g = reallocarray(p->gline, ncap, sizeof(*g));
		if (!g)
			return err_setn(e, -ENOMEM, "%s:%u: out of memory", name, line);
		memset(g + p->gcap, 0, (ncap - p->gcap) * sizeof(*g));
		p->gline = g;
		p->gcap = ncap;
	}
	if (!p->gline[idx])
		p->gline[idx] = group ? -(long)line : (long)line;
	else if ((p->gline[idx] < 0) != group)
		return err_set(e, "%s:%u: label '%s' is %sa group (@) here but %s on line %ld",
			       name, line, p->t->labels[idx], group ? "" : "not ",
			       group ? "not" : "is one", labs(p->gline[idx]));
	return 0;
}

/* Mark the members of groups; a group too large for its pairs is an error. */
static int targets_mark_groups(struct tparse *p, const char *name, struct err *e)
{
	struct targets *t = p->t;
	size_t *count;

	if (!p->gline)
		return 0;
	count = calloc(2 * t->nlabels + 1, sizeof(*count));
	if (!count)
		return err_setn(e, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < t->n; i++) {
		struct target *x = &t->v[i];
		size_t *c = &count[2 * x->label + (x->addr.family == AF_INET6)];

		x->group = x->label < p->gcap && p->gline[x->label] < 0;
		if (x->group && ++*c > TARGETS_GROUP_MAX) {
			free(count);
			return err_set(e, "%s:%u: group '%s' has more than %d IPv%c members",
				       name, x->line, t->labels[x->label], TARGETS_GROUP_MAX,
				       x->addr.family == AF_INET6 ? '6' : '4');
		}
	}
	free(count);
	return 0;
}

/* Start fetching the hash slot of the next line's label: with 100,000
 * labels the table is larger than the caches, and a miss per line was a
 * third of the parse. */
static void targets_look_ahead(struct tparse *p, const char *eol)
{
	const char *nl = eol < p->end ? memchr(eol, '\n', (size_t)(p->end - eol)) : NULL;
	const char *f, *next, *next_end;
	size_t pos = 0, flen;

	p->ahead = NULL;
	if (!nl)
		return;
	/* the next line only, as file_each_line will hand it over */
	next = nl + 1;
	next_end = memchr(next, '\n', (size_t)(p->end - next));
	if (!next_end)
		next_end = p->end;
	if (next_end > next && next_end[-1] == '\r')
		next_end--;
	if (!file_field(next, (size_t)(next_end - next), &pos, &f, &flen) || f[0] == '@' ||
	    f[0] == '#')
		return;
	p->ahead = f;
	p->ahead_h = targets_hash(f, flen);
	__builtin_prefetch(&p->hash[p->ahead_h & (p->hcap - 1)]);
}

/* One line without its newline.  Blank and comment lines add nothing. */
static int targets_parse_line(struct tparse *p, const char *s, size_t len,
			      unsigned line, const char *name, struct err *e)
{
	const char *f, *label, *problem;
	size_t pos = 0, flen, llen, idx;
	bool any = false, group;
	int r;

	if (len > TARGETS_LINE_MAX)
		return err_set(e, "%s:%u: line is longer than %d bytes", name,
			       line, TARGETS_LINE_MAX);
	if (memchr(s, '\0', len))
		return err_set(e, "%s:%u: NUL byte in line", name, line);
	if (!file_field(s, len, &pos, &label, &llen) || label[0] == '#')
		return 0;
	targets_look_ahead(p, s + len);
	group = label[0] == '@';
	if (group && llen == 1)
		return err_set(e, "%s:%u: '@' without a group name", name, line);
	label += group;
	llen -= group;
	problem = targets_label_problem(label, llen);
	if (problem)
		return err_set(e, "%s:%u: %s", name, line, problem);
	if ((r = targets_intern(p, label, llen, &idx)) < 0)
		return err_setn(e, r, "%s:%u: out of memory", name, line);
	if ((r = targets_group_line(p, idx, line, group, name, e)) < 0)
		return r;
	if (targets_only_dash(s, len, pos))
		return 0;
	while (file_field(s, len, &pos, &f, &flen) && f[0] != '#') {
		r = targets_parse_addr(p, f, flen, idx, line, name, e);
		if (r == -ENOMEM)
			return err_setn(e, r, "%s:%u: out of memory", name, line);
		if (r < 0)
			return r;
		any = true;
	}
	if (!any)
		return err_set(e, "%s:%u: missing address", name, line);
	return 0;
}

struct tlines {
	struct tparse *p;
	const char *name;
	struct err *e;
};

static int targets_line_cb(const char *s, size_t n, unsigned line, void *data)
{
	const struct tlines *l = data;

	return targets_parse_line(l->p, s, n, line, l->name, l->e);
}

static int targets_parse_lines(struct tparse *p, const char *name,
			       const char *buf, size_t len, struct err *e)
{
	struct tlines l = { p, name, e };

	return file_each_line(buf, len, targets_line_cb, &l);
}

int targets_parse_buffer(struct targets *t, const char *name,
			 const char *buf, size_t len, struct err *e)
{
	struct tparse p = { .t = t, .end = buf + len };
	struct tconflict c;
	size_t lines = 1;
	int r;

	/* room for a label and a target per line from the start (for at most
	 * TARGETS_PRESIZE_MAX lines: a file of blank lines grows no tables) */
	for (const char *q = buf; lines < TARGETS_PRESIZE_MAX &&
	     (q = memchr(q, '\n', len - (size_t)(q - buf))); q++)
		lines++;
	if (targets_rehash(&p, lines) < 0 ||
	    targets_grow((void **)&t->v, &p.vcap, lines - 1, sizeof(*t->v)) < 0 ||
	    targets_grow((void **)&t->labels, &p.lcap, lines - 1, sizeof(*t->labels)) < 0)
		r = err_setn(e, -ENOMEM, "%s: out of memory", name);
	else
		r = targets_parse_lines(&p, name, buf, len, e);
	if (r == 0)
		r = targets_mark_groups(&p, name, e);
	free(p.hash);
	free(p.gline);
	if (r == -EINVAL) {
		/* A duplicate above the bad line is the first problem a reader
		 * meets, so it wins over the syntax error. */
		targets_sort(t);
		targets_find_conflict(t, &c);
		if (c.later)
			targets_report(&c, name, e);
	}
	if (r == 0)
		r = targets_finalize(t, name, e);
	if (r < 0)
		targets_finish(t);
	return r;
}

int targets_parse_file(struct targets *t, const char *path, struct err *e)
{
	char *buf;
	size_t len;
	int r = file_load(path, TARGETS_FILE_MAX, &buf, &len, e);

	if (r < 0)
		return r;
	r = targets_parse_buffer(t, path, buf, len, e);
	free(buf);
	return r;
}

/* Meant for a host's handful of own addresses, so linear searches and
 * exact-size reallocations are fine; file parsing uses the hash instead. */
static int targets_add_label(struct targets *t, const char *label, size_t *idx)
{
	char **v, *copy;
	size_t i;

	for (i = 0; i < t->nlabels; i++) {
		if (strcmp(t->labels[i], label) == 0) {
			*idx = i;
			return 0;
		}
	}
	v = reallocarray(t->labels, t->nlabels + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->labels = v;
	if (!(copy = strpool_add(&t->text, label, strlen(label))))
		return -ENOMEM;
	t->labels[t->nlabels] = copy;
	*idx = t->nlabels++;
	return 0;
}

int targets_add(struct targets *t, const char *label, const struct addr *a)
{
	struct target *v;
	size_t i, idx;

	for (i = 0; i < t->n; i++)
		if (addr_cmp(&t->v[i].addr, a) == 0)
			return 0;
	if (targets_add_label(t, label, &idx) < 0)
		return -ENOMEM;
	v = reallocarray(t->v, t->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	t->v[t->n].addr = *a;
	t->v[t->n].label = idx;
	t->v[t->n].line = 0;
	t->v[t->n].group = false;
	t->n++;
	return 0;
}

const struct target *targets_find(const struct targets *t, const struct addr *a)
{
	size_t lo = 0, hi = t->n, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = addr_cmp(&t->v[mid].addr, a);
		if (r == 0)
			return &t->v[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool targets_has(const struct targets *t, const struct addr *a, size_t *at)
{
	while (*at < t->n && addr_cmp(&t->v[*at].addr, a) < 0)
		(*at)++;
	if (*at < t->n && addr_cmp(&t->v[*at].addr, a) == 0)
		return true;
	return targets_find(t, a) != NULL; /* out of order, or none */
}

int targets_expand_classes(struct targets *t, const int *ids, size_t n)
{
	struct target *v;

	if (n == 0 || t->n == 0)
		return 0;
	v = reallocarray(NULL, t->n * (n + 1), sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k <= n; k++) {
			v[i * (n + 1) + k] = t->v[i];
			v[i * (n + 1) + k].addr.cls = (uint8_t)(k ? ids[k - 1] : 0);
		}
	free(t->v);
	t->v = v;
	t->n *= n + 1;
	qsort(t->v, t->n, sizeof(*t->v), targets_cmp);
	return 0;
}
