// SPDX-License-Identifier: GPL-2.0-or-later
/* The report state and its text form: a small line-oriented text, read
 * back strictly (a damaged file is reported, not guessed).  Pure: the
 * files, the directory and the lock are statedir.c's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* Version 2 added the counters' kernel handles and "last" (REP 2) to the
 * entries; version 1 files are still read, with handles unknown. */
#define STATE_MAGIC "nftally-state 2"
#define STATE_MAGIC_V1 "nftally-state 1"

_Static_assert(sizeof(struct state_entry) == 72, "an entry of 72 bytes, see state.h");

void state_init(struct state *s)
{
	memset(s, 0, sizeof(*s));
}

void state_finish(struct state *s)
{
	strpool_finish(&s->text);
	free(s->v);
	state_init(s);
}

/* A copy of label in s's text into *ref: the last entry's, if it is the
 * same.  0 or -ENOMEM. */
static int state_intern(struct state *s, const char *label, uint32_t *ref)
{
	if (s->n && strcmp(state_label(s, &s->v[s->n - 1]), label) == 0) {
		*ref = s->v[s->n - 1].label;
		return 0;
	}
	return strpool_add_ref(&s->text, label, strlen(label), ref) ? 0 : -ENOMEM;
}

int state_add(struct state *s, const struct addr *a, const char *label,
	      const struct counts *c, bool rep)
{
	return state_add_entry(s, &(struct state_entry){ .addr = *a, .c = *c, .rep = rep }, label);
}

int state_reserve(struct state *s, size_t n)
{
	void *p;

	if (n <= s->cap)
		return 0;
	p = reallocarray(s->v, n, sizeof(*s->v));
	if (!p)
		return -ENOMEM;
	s->v = p;
	s->cap = n;
	return 0;
}

int state_add_entry(struct state *s, const struct state_entry *from, const char *label)
{
	struct state_entry *x;

	if (s->n == s->cap && state_reserve(s, s->cap ? s->cap * 2 : 64) < 0)
		return -ENOMEM;
	x = &s->v[s->n];
	*x = *from;
	if (state_intern(s, label, &x->label) < 0)
		return -ENOMEM;
	s->n++;
	return 0;
}

void state_filter(struct state *s, bool (*keep)(const struct state_entry *x, void *data),
		  void *data)
{
	size_t k = 0;
	void *p;

	for (size_t i = 0; i < s->n; i++)
		if (keep(&s->v[i], data))
			s->v[k++] = s->v[i];
	s->n = k;
	if (k == s->cap)
		return;
	if (!k) {
		free(s->v);
		s->v = NULL;
		s->cap = 0;
	} else if ((p = reallocarray(s->v, k, sizeof(*s->v))) != NULL) {
		s->v = p;
		s->cap = k;
	}
}

static int entry_cmp(const void *x, const void *y)
{
	return addr_cmp(&((const struct state_entry *)x)->addr,
			&((const struct state_entry *)y)->addr);
}

void state_sort(struct state *s)
{
	size_t i = 1;

	/* States are mostly built from sorted targets: check before sorting. */
	while (i < s->n && addr_cmp(&s->v[i - 1].addr, &s->v[i].addr) < 0)
		i++;
	if (i < s->n)
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
}

const struct state_entry *state_find(const struct state *s, const struct addr *a)
{
	struct state_entry key = { .addr = *a };

	if (!s->n)
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof(*s->v), entry_cmp);
}

enum state_from state_delta_from(const struct state_reading *cur,
				 const struct state_reading *base, bool base_last)
{
	if (cur->handle && base->handle && cur->handle != base->handle)
		return base_last ? STATE_FROM_ZERO : STATE_FROM_RECREATED;
	/* Without handles (kernels before 4.18), a counter after its last
	 * report can only be a new one: nftally deleted the old one (and
	 * clears the mark when that failed). */
	if (base_last && (!cur->handle || !base->handle))
		return STATE_FROM_ZERO;
	if (cur->bytes < base->bytes || cur->packets < base->packets)
		return STATE_FROM_RESET;
	return STATE_FROM_REPORTED;
}

bool state_of_other_table(const struct state *s, uint64_t handle, const char *boot,
			  const char *netns)
{
	return (s->boot[0] && strcmp(s->boot, boot) != 0) ||
	       (s->netns[0] && netns && netns[0] && strcmp(s->netns, netns) != 0) ||
	       (s->handle && handle && s->handle != handle);
}

/* Decimal digits of v at the end of buf[0..24); returns where they start.
 * A state of 100,000 entries is written at every report: printf's
 * generality is most of that cost. */
static char *u64_text(uint64_t v, char *end)
{
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return end;
}

static void put_entry(FILE *f, const struct addr_names *an, const struct state *s,
		      const struct state_entry *x)
{
	const uint64_t v[6] = { x->c.in_bytes, x->c.in_packets, x->c.out_bytes, x->c.out_packets,
				x->h[0], x->h[1] };
	char line[ADDR_STRLEN + ADDR_CLASS_NAMELEN + 6 * 21 + 16], num[24];
	size_t n = 0, k;

	memcpy(line, "entry ", 6);
	n = 6;
	addr_format(&x->addr, line + n);
	n += strlen(line + n);
	if (x->addr.cls)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "@%s",
				      addr_names_name(an, x->addr.cls));
	line[n++] = ' ';
	line[n++] = x->last ? '2' : x->rep ? '1' : '0';
	for (int i = 0; i < 6; i++) {
		char *p = u64_text(v[i], num + sizeof(num));

		k = (size_t)(num + sizeof(num) - p);
		line[n++] = ' ';
		memcpy(line + n, p, k);
		n += k;
	}
	line[n++] = ' ';
	fwrite(line, 1, n, f);
	fputs(state_label(s, x), f);
	fputc('\n', f);
}

int state_format(const struct state *s, const struct addr_names *an, FILE *f)
{
	fprintf(f, "%s\n# written by nftally; do not edit\ntable %s\nhandle %" PRIu64
		"\nseq %" PRIu64 "\ntime %" PRId64 "\nbase_time %" PRId64 "\n", STATE_MAGIC,
		s->table, s->handle, s->seq, s->time, s->base_time);
	if (s->overhead)
		fprintf(f, "overhead %u\n", s->overhead);
	if (s->boot[0])
		fprintf(f, "boot %s\n", s->boot);
	if (s->netns[0])
		fprintf(f, "netns %s\n", s->netns);
	if (s->genid)
		fprintf(f, "genid %" PRIu64 "\n", s->genid);
	if (s->closed)
		fprintf(f, "closed\n");
	for (size_t i = 0; i < s->n; i++)
		put_entry(f, an, s, &s->v[i]);
	fprintf(f, "end\n");
	return ferror(f) ? -EIO : 0;
}

/* Strict unsigned decimal: digits only, no overflow. */
static const char *parse_u64(const char *p, uint64_t *v)
{
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return p;
}

static const char *parse_field(const char *p, uint64_t *v)
{
	if (*p != ' ')
		return NULL;
	return parse_u64(p + 1, v);
}

/* ADDR[@CLASS] REP IB IP OB OP [HIN HOUT] LABEL: version 1 has no handles
 * and REP 0 or 1; version 2 has them, and REP 2 for "last". */
static int parse_entry(struct state *s, struct addr_names *an, const char *p, bool v1)
{
	const char *sp = strchr(p, ' ');
	char text[ADDR_STRLEN + ADDR_CLASS_NAMELEN + 2];
	uint64_t rep = 0, v[6] = { 0 };
	struct state_entry x = { 0 };

	if (!sp || (size_t)(sp - p) >= sizeof(text))
		return -EINVAL;
	char *at;
	int cls = 0;

	memcpy(text, p, (size_t)(sp - p));
	text[sp - p] = '\0';
	at = strchr(text, '@');
	if (at) {
		*at++ = '\0';
		cls = addr_names_id(an, at);
		if (cls <= 0)
			return -EINVAL;
	}
	if (addr_parse(text, &x.addr, NULL) < 0)
		return -EINVAL;
	x.addr.cls = (uint8_t)cls;
	p = parse_field(sp, &rep);
	for (int i = 0; i < (v1 ? 4 : 6) && p; i++)
		p = parse_field(p, &v[i]);
	if (!p || rep > (v1 ? 1 : 2) || *p != ' ' || !p[1] || strlen(p + 1) > 128)
		return -EINVAL;
	for (const char *q = p + 1; *q; q++)
		if ((unsigned char)*q < 0x21 || *q == 0x7f)
			return -EINVAL;
	x.rep = rep >= 1;
	x.last = rep == 2;
	x.c = (struct counts){ v[0], v[1], v[2], v[3] };
	x.h[0] = v[4];
	x.h[1] = v[5];
	return state_add_entry(s, &x, p + 1);
}

static int parse_line(struct state *s, struct addr_names *an, const char *line,
		      unsigned lineno, bool *end, bool *v1)
{
	uint64_t v;
	const char *p;

	if (lineno == 1) {
		*v1 = strcmp(line, STATE_MAGIC_V1) == 0;
		return *v1 || strcmp(line, STATE_MAGIC) == 0 ? 0 : -EINVAL;
	}
	if (*end)
		return -EINVAL; /* nothing after "end" */
	if (line[0] == '#')
		return 0;
	if (strcmp(line, "end") == 0) {
		*end = true;
		return 0;
	}
	if (strncmp(line, "entry ", 6) == 0)
		return parse_entry(s, an, line + 6, *v1);
	if (strncmp(line, "table ", 6) == 0 && strlen(line + 6) < sizeof(s->table)) {
		strcpy(s->table, line + 6);
		return 0;
	}
	if (strncmp(line, "handle ", 7) == 0 && (p = parse_u64(line + 7, &v)) && !*p) {
		s->handle = v;
		return 0;
	}
	if (strncmp(line, "boot ", 5) == 0 && strlen(line + 5) < sizeof(s->boot) &&
	    strspn(line + 5, "0123456789abcdef-") == strlen(line + 5)) {
		strcpy(s->boot, line + 5);
		return 0;
	}
	if (strncmp(line, "netns ", 6) == 0 && strlen(line + 6) < sizeof(s->netns) &&
	    strspn(line + 6, "ci:0123456789") == strlen(line + 6)) {
		strcpy(s->netns, line + 6);
		return 0;
	}
	if (strncmp(line, "genid ", 6) == 0 && (p = parse_u64(line + 6, &v)) && !*p &&
	    v <= UINT32_MAX) {
		s->genid = v;
		return 0;
	}
	if (strcmp(line, "closed") == 0) {
		s->closed = true;
		return 0;
	}
	if (strncmp(line, "seq ", 4) == 0 && (p = parse_u64(line + 4, &v)) && !*p) {
		s->seq = v;
		return 0;
	}
	if (strncmp(line, "time ", 5) == 0 && (p = parse_u64(line + 5, &v)) && !*p &&
	    v <= INT64_MAX) {
		s->time = (int64_t)v;
		return 0;
	}
	if (strncmp(line, "base_time ", 10) == 0 && (p = parse_u64(line + 10, &v)) && !*p &&
	    v <= INT64_MAX) {
		s->base_time = (int64_t)v;
		return 0;
	}
	if (strncmp(line, "overhead ", 9) == 0 && (p = parse_u64(line + 9, &v)) && !*p &&
	    v <= 1000 /* CONFIG_OVERHEAD_MAX */) {
		s->overhead = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

void state_parse_begin(struct state_parser *p, struct state *s, struct addr_names *an)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->an = an;
}

/* The line gathered in p is complete. */
static void state_parse_gathered(struct state_parser *p)
{
	size_t n = p->s->n;

	p->line[p->len] = '\0';
	p->lineno++;
	if (p->toolong && p->line[0] != '#')
		p->ret = -EINVAL; /* no line of the form is this long */
	else
		p->ret = parse_line(p->s, p->an, p->line, p->lineno, &p->end, &p->v1);
	if (p->keep && !p->ret && p->s->n > n && !p->keep(&p->s->v[n], p->keep_data))
		p->s->n = n;
	p->len = 0;
	p->toolong = false;
}

void state_parse_more(struct state_parser *p, const char *buf, size_t len)
{
	const char *end = buf + len;

	if (memchr(buf, '\0', len))
		p->nul = true;
	while (buf < end && !p->ret && !p->nul) {
		const char *nl = memchr(buf, '\n', (size_t)(end - buf));
		size_t n = (size_t)((nl ? nl : end) - buf), room = sizeof(p->line) - 1 - p->len;

		if (n > room) {
			p->toolong = true;
			n = room;
		}
		memcpy(p->line + p->len, buf, n);
		p->len += n;
		if (!nl)
			return;
		state_parse_gathered(p);
		buf = nl + 1;
	}
}

int state_parse_end(struct state_parser *p, const char *name, struct err *e)
{
	struct state *s = p->s;

	if (p->nul)
		return err_set(e, "%s: NUL byte in state file", name);
	if (!p->ret && (p->len || p->toolong)) {
		p->ret = -EINVAL; /* a truncated last line */
		p->lineno++;
	}
	if (p->ret == -ENOMEM)
		return err_setn(e, p->ret, "out of memory");
	if (p->ret < 0)
		return err_set(e, "%s:%u: state file is damaged", name, p->lineno);
	if (!p->end)
		return err_set(e, "%s: state file is truncated (no end line)", name);
	state_sort(s);
	for (size_t i = 1; i < s->n; i++)
		if (addr_cmp(&s->v[i - 1].addr, &s->v[i].addr) == 0)
			return err_set(e, "%s: state file lists an address twice", name);
	return 0;
}

int state_parse_buffer(struct state *s, struct addr_names *an, const char *name,
		       const char *buf, size_t len, struct err *e)
{
	struct state_parser p;

	state_parse_begin(&p, s, an);
	state_parse_more(&p, buf, len);
	return state_parse_end(&p, name, e);
}
