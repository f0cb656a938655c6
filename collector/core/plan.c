// SPDX-License-Identifier: GPL-2.0-or-later
/* The plan of an apply, decided from values: what the targets need that the
 * table lacks, what the table holds that no target needs, and how the
 * addresses that leave are drained.  Sorting and merge walks only, so that
 * 100,000 addresses plan in milliseconds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plan.h"

void plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
}

void plan_finish(struct plan *p)
{
	free(p->add);
	free(p->fix);
	free(p->leave);
	plan_init(p);
}

bool plan_dump_counters(size_t ntargets, size_t nknown)
{
	/* Object dumps are quadratic in the number of objects (the kernel
	 * re-walks its list for every chunk); above this many counters, look
	 * them up by name. */
	return 2 * (ntargets + nknown) < 8192;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

int plan_listing_add_ctr(struct plan_listing *l, const struct plan_ctr *c)
{
	if (grow((void **)&l->ctrs, &l->capctrs, l->nctrs, sizeof(*c)) < 0)
		return -ENOMEM;
	l->ctrs[l->nctrs++] = *c;
	return 0;
}

int plan_listing_add_elem(struct plan_listing *l, const struct plan_elem *e)
{
	if (grow((void **)&l->elems, &l->capelems, l->nelems, sizeof(*e)) < 0)
		return -ENOMEM;
	l->elems[l->nelems++] = *e;
	return 0;
}

void plan_listing_finish(struct plan_listing *l)
{
	free(l->ctrs);
	free(l->elems);
	memset(l, 0, sizeof(*l));
}

static int leave_add(struct plan *p, size_t *cap, const struct addr *a, uint8_t elems,
		     uint8_t ctrs)
{
	if (grow((void **)&p->leave, cap, p->nleave, sizeof(*p->leave)) < 0)
		return -ENOMEM;
	p->leave[p->nleave++] = (struct plan_leave){ *a, elems, ctrs };
	return 0;
}

/* Who drains what leaves: an incremental reload may leave it to the
 * caller's next report; a full resync drains at once. */
static void plan_set_drain(struct plan *p, const struct plan_opts *o)
{
	if (!p->nleave)
		p->drain = PLAN_DRAIN_NONE;
	else
		p->drain = o->defer && !o->full ? PLAN_DRAIN_ASK : PLAN_DRAIN_NOW;
}

static int plan_fail(struct plan *p, int ret)
{
	plan_finish(p);
	return ret;
}

int plan_diff(struct plan *p, const struct targets *t, const struct targets *prev,
	      const struct plan_opts *o)
{
	size_t i = 0, j = 0, cap = 0;

	plan_init(p);
	p->add = calloc(t->n + 1, 1);
	if (!p->add)
		return -ENOMEM;
	while (i < t->n || j < prev->n) {
		int c = i == t->n ? 1 : j == prev->n ? -1 :
			addr_cmp(&t->v[i].addr, &prev->v[j].addr);

		if (c < 0) {
			p->add[i++] = PLAN_CTR(0) | PLAN_CTR(1) | PLAN_ELEM(0) | PLAN_ELEM(1);
			p->added++;
		} else if (c > 0) {
			if (leave_add(p, &cap, &prev->v[j++].addr, 3, 3) < 0)
				return plan_fail(p, -ENOMEM);
		} else {
			i++;
			j++;
		}
	}
	plan_set_drain(p, o);
	return 0;
}

static int ctr_cmp(const void *x, const void *y)
{
	const struct plan_ctr *a = x, *b = y;
	int c = addr_cmp(&a->addr, &b->addr);

	return c ? c : (int)a->dir - (int)b->dir;
}

static void ctrs_sort_unique(struct plan_listing *l)
{
	size_t k = 0;

	if (l->nctrs < 2)
		return;
	qsort(l->ctrs, l->nctrs, sizeof(*l->ctrs), ctr_cmp);
	for (size_t i = 1; i < l->nctrs; i++)
		if (ctr_cmp(&l->ctrs[i], &l->ctrs[k]) != 0 && ++k != i)
			l->ctrs[k] = l->ctrs[i];
	l->nctrs = k + 1;
}

/* Elements the plan judges: starts of an address of the map's family (an
 * end element only bounds its interval). */
static bool elem_judged(const struct plan_elem *e)
{
	return !e->end && e->keylen == (e->map & 2 ? 16 : 4);
}

/* The target whose element in map m of class cls has this key: targets are
 * sorted by family, bytes, length, class, so its candidates are together. */
static size_t target_at_key(const struct targets *t, const struct plan_elem *e)
{
	struct addr probe = { .family = e->map & 2 ? AF_INET6 : AF_INET };
	size_t lo = 0, hi = t->n;

	memcpy(probe.bytes, e->key, e->keylen);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&t->v[mid].addr, &probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->n && t->v[lo].addr.family == probe.family &&
	       memcmp(t->v[lo].addr.bytes, probe.bytes, 16) == 0; lo++)
		if (addr_is_host(&t->v[lo].addr) == !(e->map & 4) && t->v[lo].addr.cls == e->cls)
			return lo;
	return PLAN_NONE;
}

/* The element of an address that left: it points at its own counter. */
static bool elem_is_own(const struct plan_elem *e)
{
	return e->ref_ours && addr_map_index(&e->ref.addr, e->ref.dir) == e->map &&
	       e->ref.addr.cls == e->cls && memcmp(e->ref.addr.bytes, e->key, e->keylen) == 0;
}

static size_t ctr_find(const struct plan_listing *l, const struct plan_ctr *c)
{
	const struct plan_ctr *f = l->nctrs ? bsearch(c, l->ctrs, l->nctrs, sizeof(*c), ctr_cmp)
					    : NULL;

	return f ? (size_t)(f - l->ctrs) : PLAN_NONE;
}

/* Judge every element: a right one marks what it points at (the target's
 * element bit in p->add, or the leaving counter's bit in referenced), a
 * wrong one becomes a fix. */
static int judge_elems(struct plan *p, const struct targets *t, const struct plan_listing *l,
		       uint8_t *referenced)
{
	size_t cap = 0;

	for (size_t i = 0; i < l->nelems; i++) {
		const struct plan_elem *e = &l->elems[i];
		size_t x, c;

		if (!elem_judged(e))
			continue;
		x = target_at_key(t, e);
		if (x != PLAN_NONE && e->ref_ours && e->ref.dir == (e->map & 1) &&
		    addr_cmp(&e->ref.addr, &t->v[x].addr) == 0) {
			p->add[x] |= PLAN_ELEM(e->map & 1);
			continue;
		}
		if (x == PLAN_NONE && elem_is_own(e)) {
			c = ctr_find(l, &e->ref);
			if (c != PLAN_NONE)
				referenced[c] = 1;
			continue;
		}
		if (grow((void **)&p->fix, &cap, p->nfix, sizeof(*p->fix)) < 0)
			return -ENOMEM;
		p->fix[p->nfix++] = (struct plan_fix){ .elem = e, .target = x };
	}
	return 0;
}

struct end_key {
	uint8_t cls, map;
	uint8_t key[16];
};

static int end_key_cmp(const void *x, const void *y)
{
	const struct end_key *a = x, *b = y;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->map != b->map)
		return a->map < b->map ? -1 : 1;
	return memcmp(a->key, b->key, 16);
}

/* The end element of the interval that starts at f's key: intervals do not
 * overlap, so it is the first end after the key in the same map. */
static void fix_end(struct plan_fix *f, const struct end_key *ends, size_t n)
{
	struct end_key probe = { f->elem->cls, f->elem->map, { 0 } };
	size_t lo = 0, hi = n;

	memcpy(probe.key, f->elem->key, f->elem->keylen);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (end_key_cmp(&ends[mid], &probe) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && ends[lo].map == probe.map && ends[lo].cls == probe.cls) {
		f->has_end = true;
		memcpy(f->end, ends[lo].key, 16);
	}
}

/* Only wrong elements of interval maps need their ends, so the ends are
 * gathered only then. */
static int fix_ends(struct plan *p, const struct plan_listing *l)
{
	struct end_key *ends = NULL;
	size_t n = 0, cap = 0;
	bool need = false;

	for (size_t i = 0; i < p->nfix; i++)
		need |= (p->fix[i].elem->map & 4) != 0;
	if (!need)
		return 0;
	for (size_t i = 0; i < l->nelems; i++) {
		const struct plan_elem *e = &l->elems[i];

		if (!e->end || !(e->map & 4) || e->keylen != (e->map & 2 ? 16 : 4))
			continue;
		if (grow((void **)&ends, &cap, n, sizeof(*ends)) < 0) {
			free(ends);
			return -ENOMEM;
		}
		ends[n] = (struct end_key){ e->cls, e->map, { 0 } };
		memcpy(ends[n++].key, e->key, e->keylen);
	}
	if (n > 1)
		qsort(ends, n, sizeof(*ends), end_key_cmp);
	for (size_t i = 0; i < p->nfix; i++)
		if (p->fix[i].elem->map & 4)
			fix_end(&p->fix[i], ends, n);
	free(ends);
	return 0;
}

/* One merge walk of the sorted counters and targets: a target's counters
 * are marked in p->add, the others' addresses leave. */
static int walk_ctrs(struct plan *p, const struct targets *t, const struct plan_listing *l,
		     const uint8_t *referenced)
{
	size_t j = 0, cap = 0;

	for (size_t i = 0; i < l->nctrs; i++) {
		const struct plan_ctr *c = &l->ctrs[i];
		uint8_t elems = 0, ctrs = 0;
		int cmp = 1;

		while (j < t->n && (cmp = addr_cmp(&t->v[j].addr, &c->addr)) < 0)
			j++;
		if (j < t->n && cmp == 0) {
			p->add[j] |= PLAN_CTR(c->dir);
			continue;
		}
		/* both directions of an address that leaves are neighbours */
		for (; i < l->nctrs && addr_cmp(&l->ctrs[i].addr, &c->addr) == 0; i++) {
			ctrs |= 1u << l->ctrs[i].dir;
			elems |= referenced[i] ? 1u << l->ctrs[i].dir : 0;
		}
		i--;
		if (leave_add(p, &cap, &c->addr, elems, ctrs) < 0)
			return -ENOMEM;
	}
	return 0;
}

int plan_resync(struct plan *p, const struct targets *t, struct plan_listing *l,
		const struct plan_opts *o)
{
	uint8_t *referenced;
	int ret;

	plan_init(p);
	ctrs_sort_unique(l);
	p->add = calloc(t->n + 1, 1);
	referenced = calloc(l->nctrs + 1, 1);
	if (!p->add || !referenced) {
		free(referenced);
		return plan_fail(p, -ENOMEM);
	}
	/* first what exists (the bits of p->add), then what is missing */
	ret = judge_elems(p, t, l, referenced);
	if (ret == 0)
		ret = fix_ends(p, l);
	if (ret == 0)
		ret = walk_ctrs(p, t, l, referenced);
	free(referenced);
	if (ret < 0)
		return plan_fail(p, ret);
	for (size_t i = 0; i < t->n; i++) {
		p->add[i] = ~p->add[i] & (PLAN_CTR(0) | PLAN_CTR(1) | PLAN_ELEM(0) | PLAN_ELEM(1));
		if (p->add[i] & (PLAN_CTR(0) | PLAN_CTR(1)))
			p->added++;
	}
	plan_set_drain(p, o);
	return 0;
}

static int cand_add(struct plan_ctr **v, size_t *n, size_t *cap, const struct addr *a, int d)
{
	if (grow((void **)v, cap, *n, sizeof(**v)) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = (struct plan_ctr){ *a, (uint8_t)d };
	return 0;
}

/* Both counters of a, unless a is a target (whose counters are candidates
 * already: a run's state names every target again, a million reads for
 * nothing at 1,000,000). */
static int cand_other(struct plan_ctr **v, size_t *n, size_t *cap, const struct targets *t,
		      const struct addr *a)
{
	int ret = 0;

	if (targets_find(t, a))
		return 0;
	for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++)
		ret = cand_add(v, n, cap, a, d);
	return ret;
}

int plan_candidates(const struct targets *t, const struct addr *known, size_t nknown,
		    const struct targets *hint, const struct plan_elem *elems, size_t nelems,
		    struct plan_ctr **out, size_t *n)
{
	size_t cap = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < t->n && ret == 0; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++)
			ret = cand_add(out, n, &cap, &t->v[i].addr, d);
	/* known and hint mostly name the same addresses: those of hint once */
	for (size_t i = 0; i < nknown && ret == 0; i++)
		if (!hint || !targets_find(hint, &known[i]))
			ret = cand_other(out, n, &cap, t, &known[i]);
	for (size_t i = 0; hint && i < hint->n && ret == 0; i++)
		ret = cand_other(out, n, &cap, t, &hint->v[i].addr);
	/* a counter an element points at may be one to drain; the targets'
	 * own are candidates already */
	for (size_t i = 0; i < nelems && ret == 0; i++)
		if (elem_judged(&elems[i]) && elems[i].ref_ours &&
		    !targets_find(t, &elems[i].ref.addr))
			ret = cand_add(out, n, &cap, &elems[i].ref.addr, elems[i].ref.dir);
	if (ret < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}
