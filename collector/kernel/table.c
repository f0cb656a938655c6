// SPDX-License-Identifier: GPL-2.0-or-later
/* The life of nftally's table.  The skeleton (chains, empty maps) is small and
 * goes through libnftables (for a table that exists, in a scratch network
 * namespace, copied over with libnftnl); per-address data can be large and
 * goes through libnftnl batches, diffed against what the kernel already
 * holds so that addresses that stay keep their counters. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <nftables/libnftables.h>

#include "plan.h"
#include "render.h"
#include "table.h"

#define OWNER_COUNTER "nftally_owner"
/* Its packet count is a hash of the skeleton the table was built from, so
 * an unchanged skeleton is not re-applied (libnftables would first fetch the
 * whole table into its cache, seconds at 100,000 addresses). */
#define SKELETON_COUNTER "nftally_skeleton"

const char *table_strerror(int negerrno)
{
	switch (negerrno) {
	case -EPERM:
		return "operation not permitted (nftally needs CAP_NET_ADMIN: run it as root)";
	case -EPROTONOSUPPORT:
	case -EAFNOSUPPORT:
	case -EOPNOTSUPP:
		return "nf_tables is not available in this kernel";
	default:
		return strerror(-negerrno);
	}
}

int table_owned(struct nl *nl, const char *table, uint64_t *handle, struct err *e)
{
	const char *name = OWNER_COUNTER;
	struct nl_counter c;
	int ret = nl_table_exists(nl, table, handle);

	if (ret < 0)
		return err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s, table_strerror(ret));
	if (ret == 0)
		return 0;
	ret = nl_read_counters(nl, table, &name, 1, &c);
	if (ret < 0)
		return err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s, table_strerror(ret));
	if (c.err == -ENOENT)
		return err_setn(e, -EEXIST, "table %s exists but is not nftally's "
				"(it has no counter %s); choose another --table",
				nl_table_desc(nl, table).s, OWNER_COUNTER);
	return c.err ? err_setn(e, c.err, "table %s: %s", nl_table_desc(nl, table).s,
				table_strerror(c.err)) : 1;
}

/* nft reports "PATH:LINE:COLS: Error: ..." followed by caret lines; keep
 * the first error and point it at the template's line. */
static int nft_error(struct nft_ctx *ctx, const char *path, const char *tmpl_path,
		     struct err *e)
{
	const char *buf = nft_ctx_get_error_buffer(ctx);
	const char *line = buf ? strstr(buf, "Error:") : NULL;
	const char *end, *p;
	unsigned lineno = 0;
	int len;

	if (!line)
		return err_set(e, "%s: nft refused the rendered ruleset", tmpl_path);
	end = strchr(line, '\n');
	len = (int)(end ? end - line : (long)strlen(line));
	p = strstr(buf, path);
	if (p && p < line && p[strlen(path)] == ':')
		sscanf(p + strlen(path) + 1, "%u", &lineno);
	if (lineno)
		return err_set(e, "%s:%u: nft refused the rendered ruleset: %.*s",
			       tmpl_path, lineno, len, line);
	return err_set(e, "%s: nft refused the rendered ruleset: %.*s", tmpl_path, len, line);
}

/* Run nft text in one transaction.  The text goes through a memfd named by
 * path because libnftables reports line numbers for files, not buffers. */
static int run_nft(const char *text, bool dry_run, const char *tmpl_path, struct err *e)
{
	struct nft_ctx *ctx = NULL;
	size_t len = strlen(text), off = 0;
	char path[64];
	int fd, ret = 0;

	fd = memfd_create("nftally-ruleset", MFD_CLOEXEC);
	if (fd < 0)
		return err_setn(e, -errno, "memfd_create: %s", strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w <= 0) {
			close(fd);
			return err_setn(e, -EIO, "writing the ruleset to a memfd failed");
		}
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		close(fd);
		return err_setn(e, -ENOMEM, "cannot create an nftables context");
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	nft_ctx_set_dry_run(ctx, dry_run);
	if (nft_run_cmd_from_filename(ctx, path) != 0)
		ret = nft_error(ctx, path, tmpl_path, e);
	nft_ctx_free(ctx);
	close(fd);
	return ret;
}

static uint64_t skeleton_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return (h >> 2) | 1; /* non-zero, and below 2^63 for every nft */
}

struct skeleton {
	uint64_t hash;
	bool marker_exists;
	bool apply; /* the table must be (re)built from the skeleton */
};

static int skeleton_check(struct nl *nl, const char *table, const char *skeleton,
			  bool exists, struct skeleton *sk)
{
	const char *name = SKELETON_COUNTER;
	struct nl_counter c;
	int ret;

	sk->hash = skeleton_hash(skeleton);
	sk->marker_exists = false;
	sk->apply = true;
	if (!exists)
		return 0;
	ret = nl_read_counters(nl, table, &name, 1, &c);
	if (ret < 0)
		return ret;
	sk->marker_exists = c.err == 0;
	sk->apply = !(c.err == 0 && c.packets == sk->hash);
	return 0;
}

/* libnftables in a network namespace of its own: the skeleton built in an
 * empty namespace, and listed back (a few chains, sets and rules). */
struct scratch {
	const struct nl *nl; /* the real table's handle: its family and names */
	const char *table, *skeleton, *tmpl_path;
	struct nl_skel *skel;
	int ret;
};

static void *scratch_main(void *data)
{
	struct scratch *sc = data;
	struct err e;
	struct nl *snl;

	/* this thread alone moves into a new, empty namespace */
	sc->ret = -EOPNOTSUPP;
	if (unshare(CLONE_NEWNET) < 0)
		return NULL;
	if (run_nft(sc->skeleton, false, sc->tmpl_path, &e) < 0)
		return NULL; /* the real table's apply says why, if it fails there */
	snl = nl_create(nl_family_name(sc->nl), nl_names(sc->nl));
	if (snl)
		sc->ret = nl_skel_take(snl, sc->table, &sc->skel);
	nl_destroy(snl);
	return NULL;
}

/* The skeleton of an existing table without libnftables' cache: libnftables
 * lists the whole table (every named counter, an object dump: quadratic)
 * before it applies text that names it.  Built in a scratch namespace
 * instead, and copied into the table in one transaction.  -EOPNOTSUPP if
 * that cannot be done here (no CAP_SYS_ADMIN for the namespace, a template
 * nft accepts only in the real namespace, such as one naming an interface
 * by iif, or anonymous sets): the caller then takes libnftables' way. */
static int apply_skeleton_copy(struct nl *nl, const char *table, const char *skeleton,
			       const char *tmpl_path)
{
	struct scratch sc = { nl, table, skeleton, tmpl_path, NULL, -EOPNOTSUPP };
	pthread_t th;
	struct err e;
	int ret;

	if (pthread_create(&th, NULL, scratch_main, &sc) != 0)
		return -EOPNOTSUPP;
	pthread_join(th, NULL);
	if (sc.ret < 0)
		return -EOPNOTSUPP;
	/* a refused copy changed nothing: libnftables' way says why */
	ret = nl_skel_put(nl, table, sc.skel, &e) < 0 ? -EOPNOTSUPP : 0;
	nl_skel_free(sc.skel);
	return ret;
}

/* The skeleton in one transaction.  On an existing table the rules are
 * flushed and re-added atomically (named counters and map elements are not
 * touched by "flush table"): copied from a scratch namespace, else by nft
 * with "flush table" in front, sharing line 1 with the template so nft's
 * line numbers stay the template's. */
static int apply_skeleton(struct nl *nl, const char *table, const char *skeleton, bool exists,
			  const char *tmpl_path, struct err *e)
{
	char *text;
	int ret;

	if (!exists)
		return run_nft(skeleton, false, tmpl_path, e);
	if (apply_skeleton_copy(nl, table, skeleton, tmpl_path) == 0)
		return 0;
	if (asprintf(&text, "flush table %s; %s", nl_table_desc(nl, table).s, skeleton) < 0)
		return err_setn(e, -ENOMEM, "out of memory");
	ret = run_nft(text, false, tmpl_path, e);
	free(text);
	return ret;
}

/* What the kernel's table holds, as plain values for plan_resync. */
struct listing {
	struct plan_listing l;
	/* names of counters not of nftally's form that elements point at
	 * (plan_elem.other), for the element_repaired event: rare, edited by
	 * hand */
	char (*other)[ADDR_NAMELEN];
	size_t nother;
	unsigned map, cls; /* of the map being listed */
	struct addr_names *an; /* the table's class names */
};

static void listing_finish(struct listing *ls)
{
	plan_listing_finish(&ls->l);
	free(ls->other);
}

/* A counter name nftally makes: it parses, and spelled again it is the
 * same name (a hand-made "in4_C6120001" is not the counter of 198.18.0.1). */
static bool ctr_from_name(struct addr_names *an, const char *name, struct plan_ctr *c)
{
	char again[ADDR_NAMELEN];
	enum addr_dir d;

	if (strlen(name) >= ADDR_NAMELEN || addr_from_counter_name(an, name, &c->addr, &d) < 0)
		return false;
	c->dir = (uint8_t)d;
	return strcmp(addr_counter_name(an, &c->addr, d, again), name) == 0;
}

/* A counter of the object dump (which also teaches the class registry the
 * classes met only in counter names, so that their maps are listed). */
static int ctr_seen(const char *name, void *data)
{
	struct listing *ls = data;
	struct plan_ctr c;

	if (!ctr_from_name(ls->an, name, &c))
		return 0; /* not one of ours */
	return plan_listing_add_ctr(&ls->l, &c);
}

static int elem_seen(const struct nl_map_elem *e, void *data)
{
	struct listing *ls = data;
	size_t keylen = ls->map & 2 ? 16 : 4;
	struct plan_elem p = { .keylen = (uint8_t)keylen, .map = (uint8_t)ls->map,
			       .cls = (uint8_t)ls->cls, .end = e->end };
	void *other;

	if (e->keylen != keylen)
		return 0; /* not an address of the map's family: not ours to judge */
	if (e->end && !(ls->map & 4))
		return 0;
	if (!e->end && (!e->ref || strlen(e->ref) >= ADDR_NAMELEN))
		return 0; /* an objref map's elements all have one of ours' size */
	memcpy(p.key, e->key, keylen);
	if (e->end || (p.ref_ours = ctr_from_name(ls->an, e->ref, &p.ref)))
		return plan_listing_add_elem(&ls->l, &p);
	other = realloc(ls->other, (ls->nother + 1) * ADDR_NAMELEN);
	if (!other)
		return -ENOMEM;
	ls->other = other;
	p.other = (uint32_t)ls->nother;
	strcpy(ls->other[ls->nother++], e->ref);
	return plan_listing_add_elem(&ls->l, &p);
}

/* The elements of our maps: the default class's, and those of every class
 * this process knows of, including classes met only in counter names
 * (removed from the config: their counters are drained like those of
 * addresses that left). */
static int list_elems(struct nl *nl, const char *table, struct listing *ls)
{
	int ret = 0;

	for (unsigned cls = 0; cls < addr_names_count(ls->an) && ret == 0; cls++)
		for (unsigned m = 0; m < ADDR_MAPS && ret == 0; m++) {
			char name[ADDR_MAPNAMELEN];

			ls->map = m;
			ls->cls = cls;
			addr_map_name_at(ls->an, m, cls, name);
			ret = nl_list_map_elems(nl, table, name, elem_seen, ls);
			if (ret == -ENOENT && cls)
				ret = 0; /* a class whose maps were never made */
		}
	return ret;
}

/* Candidates' counters are read this many at a time (as TABLE_READ_BLOCK
 * addresses below): all at once, a start at 1,000,000 addresses peaked at
 * 400 MB. */
#define TABLE_NAMES_BLOCK 65536

/* Which counters exist, by name, among plan_candidates: those that do
 * become the listing's counters. */
static int counters_by_name(struct nl *nl, const char *table, const struct targets *t,
			    const struct table_apply_opts *o, struct listing *ls)
{
	struct plan_ctr *c = NULL;
	const char **names = NULL;
	char (*buf)[ADDR_NAMELEN] = NULL;
	struct nl_counter *got = NULL;
	size_t n = 0, k = 0, block;
	int ret = plan_candidates(t, o->known, o->nknown, o->hint, ls->l.elems, ls->l.nelems,
				  &c, &n);

	if (ret < 0)
		return ret;
	block = n < TABLE_NAMES_BLOCK ? n : TABLE_NAMES_BLOCK;
	names = malloc(block * sizeof(*names) + 1);
	buf = malloc(block * ADDR_NAMELEN + 1);
	got = malloc(block * sizeof(*got) + 1);
	if (!names || !buf || !got) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t at = 0; at < n && ret == 0; at += block) {
		size_t m = n - at < block ? n - at : block;

		for (size_t i = 0; i < m; i++)
			names[i] = addr_counter_name(ls->an, &c[at + i].addr, c[at + i].dir,
						     buf[i]);
		ret = nl_read_counters(nl, table, names, m, got);
		for (size_t i = 0; i < m && ret == 0; i++)
			if (got[i].err == 0)
				c[k++] = c[at + i];
	}
	if (ret == 0) {
		free(ls->l.ctrs);
		ls->l.ctrs = c;
		ls->l.nctrs = k;
		ls->l.capctrs = n;
		c = NULL;
	}
out:
	free(c);
	free(names);
	free(buf);
	free(got);
	return ret;
}

/* A small table is listed whole (its counters by an object dump, its maps
 * by element dumps: quadratic, but milliseconds below plan_dump_counters'
 * bound), which also finds what was added by hand for no target. */
static bool table_small(const struct targets *t, const struct table_apply_opts *o)
{
	return plan_dump_counters(t->n, o->nknown + (o->hint ? o->hint->n : 0));
}

static int kernel_state(struct nl *nl, const char *table, const struct targets *t,
			const struct table_apply_opts *o, struct listing *ls)
{
	int ret = nl_list_counters(nl, table, ctr_seen, ls);

	return ret ? ret : list_elems(nl, table, ls);
}

/* A large table's view, and every full resync's, without listing the
 * maps (element dumps are quadratic in their size): the element of every
 * target's key in each direction, read by key, then the counters by name
 * as above.  Elements whose key is no target's cannot be found this way:
 * batch 1 then empties the maps and adds every target's elements again
 * (refill), which drops them too. */
struct by_key {
	const struct targets *t;
	struct listing *ls;
	pthread_mutex_t lock; /* the reads' threads add to ls */
};

static void target_key(size_t i, char set[ADDR_MAPNAMELEN], uint8_t key[16], size_t *keylen,
		       void *data)
{
	const struct by_key *k = data;
	const struct addr *a = &k->t->v[i / 2].addr;

	addr_map_name(k->ls->an, a, i % 2 ? ADDR_OUT : ADDR_IN, set);
	*keylen = a->family == AF_INET ? 4 : 16;
	memcpy(key, a->bytes, *keylen);
}

static int target_elem(size_t i, const struct nl_map_elem *e, void *data)
{
	struct by_key *k = data;
	const struct addr *a = &k->t->v[i / 2].addr;
	enum addr_dir d = i % 2 ? ADDR_OUT : ADDR_IN;
	size_t keylen = a->family == AF_INET ? 4 : 16;
	char own[ADDR_NAMELEN];
	int ret;

	/* none, or in an interval map an interval that starts elsewhere:
	 * the target has no element of its own, and the plan adds it */
	if (!e || e->end || e->keylen != keylen || memcmp(e->key, a->bytes, keylen) != 0)
		return 0;
	/* right: the refill adds it again anyway, so only wrong ones are
	 * kept (2,000,000 right ones would be ~100 MB at 1,000,000 targets) */
	if (e->ref && strcmp(e->ref, addr_counter_name(k->ls->an, a, d, own)) == 0)
		return 0;
	pthread_mutex_lock(&k->lock);
	k->ls->map = addr_map_index(a, d);
	k->ls->cls = a->cls;
	ret = elem_seen(e, k->ls);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static int kernel_state_by_key(struct nl *nl, const char *table, const struct targets *t,
			       const struct table_apply_opts *o, struct listing *ls)
{
	struct by_key k = { t, ls, PTHREAD_MUTEX_INITIALIZER };
	struct nl_elem_keys keys = { 2 * t->n, target_key, target_elem, &k };
	int ret = nl_get_map_elems(nl, table, &keys);

	return ret ? ret : counters_by_name(nl, table, t, o, ls);
}

/* Batch 1 of a refill empties every map of nftally's that the table has
 * (a class's maps may never have been made). */
static int send_flushes(struct nl *nl, const char *table, struct nl_batch *b)
{
	struct addr_names *an = nl_names(nl);
	int ret = 0;

	for (unsigned cls = 0; cls < addr_names_count(an) && ret >= 0; cls++)
		for (unsigned m = 0; m < ADDR_MAPS && ret >= 0; m++) {
			char name[ADDR_MAPNAMELEN];

			addr_map_name_at(an, m, cls, name);
			ret = nl_set_exists(nl, table, name);
			if (ret == 1)
				ret = nl_batch_flush_map(b, name);
		}
	return ret < 0 ? ret : 0;
}

/* The element_repaired event's facts about fix f. */
static void fix_describe(const struct plan_fix *f, const struct targets *t,
			 const struct listing *ls, struct table_fix *out)
{
	const struct plan_elem *e = f->elem;

	addr_map_name_at(ls->an, e->map, e->cls, out->map);
	if (e->ref_ours)
		addr_counter_name(ls->an, &e->ref.addr, e->ref.dir, out->ref);
	else
		strcpy(out->ref, ls->other[e->other]);
	out->target = f->target != PLAN_NONE;
	if (out->target) {
		addr_format(&t->v[f->target].addr, out->addr);
	} else {
		struct addr a = { .family = e->keylen == 16 ? AF_INET6 : AF_INET,
				  .plen = e->keylen == 16 ? 128 : 32 };

		memcpy(a.bytes, e->key, e->keylen);
		addr_format(&a, out->addr);
	}
}

/* Elements edited by hand: each goes in batch 1 (deletes before adds); a
 * target's comes back through the plan's adds, pointing at its own
 * counter.  Their traffic so far stays where it was counted. */
static int send_fixes(struct nl_batch *b, const struct plan *p, const struct targets *t,
		      const struct listing *ls, bool refill, struct table_result *res)
{
	int ret = 0;

	if (!p->nfix)
		return 0;
	res->fixed = calloc(p->nfix, sizeof(*res->fixed));
	if (!res->fixed)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfix && ret == 0; i++) {
		const struct plan_fix *f = &p->fix[i];
		const struct plan_elem *e = f->elem;

		if (!refill) /* else the map is emptied */
			ret = nl_batch_del_elem_at(b, e->map, e->cls, e->key, e->keylen,
						   f->has_end ? f->end : NULL);
		fix_describe(f, t, ls, &res->fixed[res->nfixed++]);
	}
	return ret;
}

static int send_adds(struct nl_batch *b, const struct plan *p, const struct targets *t,
		     bool refill)
{
	int ret = 0;

	/* a refill adds every target's elements: straight from t */
	if (refill && t->n)
		nl_batch_add_elems_of(b, &t->v[0].addr, sizeof(t->v[0]), t->n);
	for (size_t i = 0; i < t->n && ret == 0; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++) {
			if (p->add[i] & PLAN_CTR(d))
				ret = nl_batch_add_counter_of(b, &t->v[i].addr, d);
			if (ret == 0 && !refill && p->add[i] & PLAN_ELEM(d))
				ret = nl_batch_add_elem(b, &t->v[i].addr, d);
		}
	return ret;
}

/* The addresses that leave: their elements go in batch 1, their counters
 * in batch 2 after a last read.  Those with an in counter are reported
 * (res->gone). */
static int send_leaves(struct nl_batch *b1, struct nl_batch *b2, const struct plan *p,
		       bool refill, struct table_result *res)
{
	int ret = 0;

	if (!p->nleave)
		return 0;
	res->gone = calloc(p->nleave, sizeof(*res->gone));
	if (!res->gone)
		return -ENOMEM;
	for (size_t i = 0; i < p->nleave && ret == 0; i++) {
		const struct plan_leave *l = &p->leave[i];

		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++) {
			if (l->elems & 1u << d && !refill)
				ret = nl_batch_del_elem(b1, &l->addr, d);
			if (ret == 0 && l->ctrs & 1u << d)
				ret = nl_batch_del_counter_of(b2, &l->addr, d);
		}
		if (l->ctrs & 1u << ADDR_IN)
			res->gone[res->ngone++].addr = l->addr;
	}
	return ret;
}

static int send_plan(struct nl_batch *b1, struct nl_batch *b2, const struct plan *p,
		     const struct targets *t, const struct listing *ls, bool refill,
		     struct table_result *res)
{
	int ret = send_fixes(b1, p, t, ls, refill, res);

	if (ret == 0)
		ret = send_adds(b1, p, t, refill);
	if (ret == 0)
		ret = send_leaves(b1, b2, p, refill, res);
	res->added = p->added;
	return ret;
}

/* Last values of the addresses that left, read once they stopped counting.
 * All or nothing: a value that could not be read must not be reported as
 * zero, nor its counter deleted. */
static int read_gone(struct nl *nl, const char *table, struct table_result *res)
{
	struct nl_counter *c = malloc(2 * res->ngone * sizeof(*c) + 1);
	struct err e;
	int ret = c ? table_read_counters_of(nl, table, &res->gone[0].addr, sizeof(res->gone[0]),
					     res->ngone, c, &e) : -ENOMEM;

	for (size_t i = 0; i < 2 * res->ngone && ret == 0; i++)
		ret = c[i].err;
	for (size_t i = 0; i < res->ngone && ret == 0; i++) {
		res->gone[i].c = (struct counts){ c[2 * i].bytes, c[2 * i].packets,
						  c[2 * i + 1].bytes, c[2 * i + 1].packets };
		res->gone[i].h[0] = c[2 * i].handle;
		res->gone[i].h[1] = c[2 * i + 1].handle;
	}
	free(c);
	return ret;
}

/* The plan: from prev (incremental, or empty for a table this call made)
 * or from the kernel's table, read by key or listed. */
static int make_plan(struct nl *nl, const char *table, const struct targets *t,
		     const struct table_apply_opts *o, const struct targets *prev, bool by_key,
		     struct listing *ls, struct plan *p, struct err *e)
{
	struct plan_opts po = { .full = o->full, .defer = o->defer != NULL };
	int ret;

	if (prev)
		ret = plan_diff(p, t, prev, &po);
	else if ((ret = (by_key ? kernel_state_by_key : kernel_state)(nl, table, t, o, ls)) < 0)
		return err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s,
				table_strerror(ret));
	else
		ret = plan_resync(p, t, &ls->l, &po);
	return ret < 0 ? err_setn(e, ret, "out of memory") : 0;
}

/* Plan from the kernel's state (or from prev) and commit. */
static int apply_data_from(struct nl *nl, const char *table, const struct targets *t,
			   const struct table_apply_opts *o, const struct targets *prev,
			   const struct skeleton *sk, struct table_result *res, struct err *e)
{
	static const struct targets none;
	struct listing ls = { .an = nl_names(nl) };
	struct plan p;
	struct nl_batch *b1 = nl_batch_create(nl_names(nl), table), *b2 = nl_batch_create(nl_names(nl), table);
	enum plan_drain drain;
	bool deferred, refill;
	int ret = -ENOMEM;

	plan_init(&p);
	if (!b1 || !b2) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	if (sk->apply)
		nl_batch_set_counter(b1, SKELETON_COUNTER, sk->hash, sk->marker_exists);
	/* This call made the table: nothing in it to compare with, and nobody
	 * counts on it yet, so it fills in several transactions (a refused one
	 * removes the table again, see table_apply). */
	if (res->created)
		nl_batch_split(b1);
	/* read by key (a full resync, a large table) when prev cannot be
	 * trusted: then refill */
	refill = !prev && !res->created && (o->full || !table_small(t, o));
	ret = make_plan(nl, table, t, o, res->created ? &none : prev, refill, &ls, &p, e);
	if (ret < 0)
		goto out;
	ret = send_plan(b1, b2, &p, t, &ls, refill, res);
	if (ret == 0 && refill && (ret = send_flushes(nl, table, b1)) < 0 && ret != -ENOMEM) {
		err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s,
			 table_strerror(ret));
		goto out;
	}
	if (ret < 0) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	/* The batches hold what is sent now: the plan and what it was made
	 * from go before the messages are built (a refill at 1,000,000
	 * addresses: 2,000,000 candidate counters, 40 MB). */
	drain = p.drain;
	plan_finish(&p);
	listing_finish(&ls);
	memset(&ls, 0, sizeof(ls));
	/* asked before the commit, so that whatever the caller keeps to
	 * find the counters again exists before their elements go */
	deferred = res->ngone && drain == PLAN_DRAIN_ASK && o->defer(res, o->data) > 0;
	ret = nl_batch_commit(nl, b1, e);
	if (ret < 0)
		res->nfixed = 0; /* nothing was mended */
	if (ret == 0 && res->ngone) {
		res->ngone_committed = true;
		if (deferred)
			goto out; /* the caller drains them later */
		/* If the last values cannot be read, the counters stay (not
		 * counting any more) for a later apply to drain. */
		if (read_gone(nl, table, res) < 0) {
			res->ngone = 0;
			res->undrained = true;
		}
		else if (o->drained)
			ret = o->drained(res, o->data);
		if (ret == 0 && res->ngone)
			ret = nl_batch_commit(nl, b2, e);
		else if (ret > 0)
			ret = 0; /* the counters stay for a later drain */
	}
out:
	plan_finish(&p);
	listing_finish(&ls);
	nl_batch_destroy(b1);
	nl_batch_destroy(b2);
	return ret;
}

/* Incremental when the caller knows what is installed in this very table
 * (same kernel handle); if the kernel disagrees (the first batch fails, and
 * a failed batch changes nothing), plan again from a listing. */
static int apply_data(struct nl *nl, const char *table, const struct targets *t,
		      const struct table_apply_opts *o, uint64_t handle,
		      const struct skeleton *sk, struct table_result *res, struct err *e)
{
	bool trust = !o->full || o->prev_genid;
	int ret;

	if (!res->created && trust && o->prev && o->prev_handle && o->prev_handle == handle) {
		ret = apply_data_from(nl, table, t, o, o->prev, sk, res, e);
		if (ret == 0 || res->ngone_committed)
			return ret;
		free(res->gone);
		res->gone = NULL;
		res->ngone = res->added = 0;
	}
	return apply_data_from(nl, table, t, o, NULL, sk, res, e);
}

int table_apply(struct nl *nl, const char *table, const char *skeleton,
		const char *tmpl_path, const struct targets *t,
		const struct table_apply_opts *o, struct table_result *res, struct err *e)
{
	struct table_apply_opts own = *o;
	uint64_t handle = 0;
	uint32_t gen = 0;
	int ret = table_owned(nl, table, &handle, e);
	struct skeleton sk;

	memset(res, 0, sizeof(*res));
	if (ret < 0)
		return ret;
	/* A full resync is for what others changed: if nobody committed
	 * anything in the namespace since the caller's last commit, the table
	 * is what prev says, and listing it (element dumps, quadratic in the
	 * maps' size) would find nothing to mend. */
	if (o->full && o->prev_genid && (nl_genid(nl, &gen) < 0 || gen != o->prev_genid))
		own.prev_genid = 0;
	o = &own;
	res->created = ret == 0;
	ret = skeleton_check(nl, table, skeleton, !res->created, &sk);
	if (ret < 0)
		return err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s, table_strerror(ret));
	/* A forced rebuild leaves a marker that is right as it is, so a
	 * resync with nothing to mend changes nothing in the listing. */
	if (sk.apply || (o->full && !o->prev_genid))
		ret = apply_skeleton(nl, table, skeleton, !res->created, tmpl_path, e);
	if (ret == 0) {
		ret = apply_data(nl, table, t, o, handle, &sk, res, e);
		/* A table this call created and could not fill goes again, so a
		 * refused first install leaves nothing half done. */
		if (ret < 0 && res->created)
			table_remove(nl, table, NULL);
	}
	if (ret == 0 && nl_table_exists(nl, table, &res->handle) != 1)
		ret = err_setn(e, -ENOENT, "table %s vanished while it was applied", nl_table_desc(nl, table).s);
	if (ret == 0 && (res->undrained || nl_genid(nl, &res->genid) < 0))
		res->genid = 0;
	return ret;
}

/* Address i of an array of structs holding one, stride bytes apart. */
static const struct addr *table_addr_at(const struct addr *first, size_t stride, size_t i)
{
	return (const struct addr *)((const char *)first + i * stride);
}

bool table_counter_pair(const struct nl_counter *c, struct counts *v, uint64_t h[2])
{
	const struct nl_counter *in = &c[0], *o = &c[1];

	*v = (struct counts){ in->err ? 0 : in->bytes, in->err ? 0 : in->packets,
			      o->err ? 0 : o->bytes, o->err ? 0 : o->packets };
	h[0] = in->err ? 0 : in->handle;
	h[1] = o->err ? 0 : o->handle;
	return in->err || o->err;
}

int table_read_counters_of(struct nl *nl, const char *table, const struct addr *first,
			   size_t stride, size_t n, struct nl_counter *out, struct err *e)
{
	size_t block = n < TABLE_READ_BLOCK ? n : TABLE_READ_BLOCK;
	const char **names = malloc(2 * block * sizeof(*names) + 1);
	char (*buf)[ADDR_NAMELEN] = malloc(2 * block * ADDR_NAMELEN + 1);
	int ret = -ENOMEM;

	if (!names || !buf) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	ret = 0;
	for (size_t at = 0; at < n && ret == 0; at += block) {
		size_t k = n - at < block ? n - at : block;

		for (size_t i = 0; i < 2 * k; i++) {
			addr_counter_name(nl_names(nl), table_addr_at(first, stride, at + i / 2),
					  i % 2 ? ADDR_OUT : ADDR_IN, buf[i]);
			names[i] = buf[i];
		}
		ret = nl_read_counters(nl, table, names, 2 * k, out + 2 * at);
	}
	if (ret < 0)
		err_setn(e, ret, "reading counters of table %s: %s", nl_table_desc(nl, table).s,
			 table_strerror(ret));
out:
	free(names);
	free(buf);
	return ret;
}

int table_read(struct nl *nl, const char *table, const struct targets *t,
	       struct counts *out, uint64_t *h, bool *miss, size_t *missing, struct err *e)
{
	size_t block = t->n < TABLE_READ_BLOCK ? t->n : TABLE_READ_BLOCK;
	struct nl_counter *c = malloc(2 * block * sizeof(*c) + 1);
	int ret = c ? 0 : err_setn(e, -ENOMEM, "out of memory");

	*missing = 0;
	for (size_t at = 0; at < t->n && ret == 0; at += block) {
		size_t k = t->n - at < block ? t->n - at : block;

		ret = table_read_counters_of(nl, table, &t->v[at].addr, sizeof(*t->v), k, c, e);
		for (size_t j = 0; j < k && ret == 0; j++) {
			size_t i = at + j;
			uint64_t hh[2];
			bool m = table_counter_pair(&c[2 * j], &out[i], hh);

			*missing += m;
			if (miss)
				miss[i] = m;
			if (h) {
				h[2 * i] = hh[0];
				h[2 * i + 1] = hh[1];
			}
		}
	}
	free(c);
	return ret;
}

int table_delete_counters(struct nl *nl, const char *table, const struct addr *first,
			  size_t stride, size_t n, const bool *which, struct err *e)
{
	struct nl_batch *b = nl_batch_create(nl_names(nl), table);
	int ret = b ? 0 : -ENOMEM;

	for (size_t i = 0; i < 2 * n && ret == 0; i++)
		if (!which || which[i])
			ret = nl_batch_del_counter_of(b, table_addr_at(first, stride, i / 2),
						      i % 2 ? ADDR_OUT : ADDR_IN);
	if (ret < 0)
		ret = err_setn(e, ret, "out of memory");
	else
		ret = nl_batch_commit(nl, b, e);
	nl_batch_destroy(b);
	return ret;
}

int table_remove(struct nl *nl, const char *table, struct err *e)
{
	struct nl_batch *b;
	int ret = table_owned(nl, table, NULL, e);

	if (ret <= 0)
		return ret;
	b = nl_batch_create(nl_names(nl), table);
	if (!b)
		return err_setn(e, -ENOMEM, "out of memory");
	nl_batch_del_table(b);
	ret = nl_batch_commit(nl, b, e);
	nl_batch_destroy(b);
	return ret;
}

#define TABLE_ENFORCE_SETS 64

int table_enforce(struct nl *nl, const char *table, const struct targets *t,
		  const struct render_enforce *en, struct err *e)
{
	char names[TABLE_ENFORCE_SETS][32];
	size_t nsets = render_enforce_sets(en, names, TABLE_ENFORCE_SETS);
	struct render_member *m = malloc((t->n + 1) * sizeof(*m));
	struct addr *a = malloc((t->n + 1) * sizeof(*a));
	uint32_t *marks = malloc((t->n + 1) * sizeof(*marks));
	struct nl_batch *b = nl_batch_create(nl_names(nl), table);
	int ret = m && a && marks && b ? 0 : -ENOMEM;

	for (size_t i = 0; i < nsets && ret == 0; i++) {
		size_t n = render_enforce_members(t, en, names[i], m);

		for (size_t k = 0; k < n; k++) {
			a[k] = m[k].a;
			marks[k] = m[k].mark;
		}
		ret = nl_batch_fill_set(b, names[i], a, strncmp(names[i], "qmark", 5) ? NULL : marks,
					n);
	}
	/* the meters keep each address's bucket with the rate it was made
	 * with: emptied, they start over with the rule's rate */
	for (size_t i = 0; i < nsets && ret == 0; i++) {
		size_t rate;
		char c, meter[40];

		if (sscanf(names[i], "qthr%c_%zu", &c, &rate) != 2)
			continue;
		for (int in = 1; in >= 0 && ret == 0; in--) {
			snprintf(meter, sizeof(meter), "qmeter%s%c_%zu", in ? "in" : "out", c, rate);
			ret = nl_batch_fill_set(b, meter, NULL, NULL, 0);
		}
	}
	if (ret < 0)
		ret = err_setn(e, ret, "out of memory");
	else if (nsets)
		ret = nl_batch_commit(nl, b, e);
	nl_batch_destroy(b);
	free(m);
	free(a);
	free(marks);
	return ret;
}

void table_drop_sets(struct nl *nl, const char *table, const char (*names)[32], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char meters[3][40];
		size_t k = 0, rate;
		char c;

		snprintf(meters[k++], sizeof(meters[0]), "%s", names[i]);
		if (sscanf(names[i], "qthr%c_%zu", &c, &rate) == 2) {
			snprintf(meters[k++], sizeof(meters[0]), "qmeterin%c_%zu", c, rate);
			snprintf(meters[k++], sizeof(meters[0]), "qmeterout%c_%zu", c, rate);
		}
		for (size_t j = 0; j < k; j++) {
			struct nl_batch *b = nl_batch_create(nl_names(nl), table);
			struct err e;

			if (b && nl_batch_del_set(b, meters[j]) == 0)
				nl_batch_commit(nl, b, &e); /* gone already: as wanted */
			nl_batch_destroy(b);
		}
	}
}
