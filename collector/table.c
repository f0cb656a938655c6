// SPDX-License-Identifier: GPL-2.0-or-later
/* The life of nftally's table.  The skeleton (chains, empty maps) is small and
 * goes through libnftables; per-address data can be large and goes through
 * libnftnl batches, diffed against what the kernel already holds so that
 * addresses that stay keep their counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <nftables/libnftables.h>

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

/* The skeleton in one nft transaction.  On an existing table the rules are
 * flushed and re-added atomically (named counters and map elements are not
 * touched by "flush table").  The flush shares line 1 with the template so
 * nft's line numbers stay the template's. */
static int apply_skeleton(const struct nl *nl, const char *table, const char *skeleton, bool exists,
			  const char *tmpl_path, struct err *e)
{
	char *text;
	int ret;

	if (!exists)
		return run_nft(skeleton, false, tmpl_path, e);
	if (asprintf(&text, "flush table %s; %s", nl_table_desc(nl, table).s, skeleton) < 0)
		return err_setn(e, -ENOMEM, "out of memory");
	ret = run_nft(text, false, tmpl_path, e);
	free(text);
	return ret;
}

/* A sorted set of names, for diffing the kernel's state. */
struct names {
	char (*v)[ADDR_NAMELEN];
	size_t n, cap;
};

static int names_add(const char *name, void *data)
{
	struct names *s = data;

	if (strlen(name) >= ADDR_NAMELEN)
		return 0; /* not one of ours */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		void *p = realloc(s->v, cap * ADDR_NAMELEN);

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	strcpy(s->v[s->n++], name);
	return 0;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool names_has(const struct names *s, const char *name)
{
	return s->n && bsearch(name, s->v, s->n, ADDR_NAMELEN, names_cmp);
}

/* What the element dumps of our maps found.  An element is right when its
 * key is a target's (or the address of the counter it points at, for an
 * address that left) and it points at the counter named after that key;
 * anything else was edited by hand and is mended in batch 1. */
struct wrong_elem {
	unsigned map, cls;
	uint8_t key[16], keylen;
	char ref[ADDR_NAMELEN];
	const struct target *x; /* the target whose key it is, or NULL */
};

struct end_key {
	unsigned map, cls;
	uint8_t key[16];
};

struct elem_scan {
	struct addr_names *an; /* of the table's class names */
	const struct targets *t;
	unsigned map, cls;  /* of the map being listed */
	struct names *refs; /* counters referenced by right elements */
	struct wrong_elem *wrong;
	size_t nwrong, capwrong;
	struct end_key *ends; /* end elements of the interval maps */
	size_t nends, capends;
};

/* Object dumps are quadratic in the number of objects (the kernel re-walks
 * its list for every chunk); above this many counters, look them up by name. */
#define TABLE_DUMP_MAX 8192

struct candidates {
	const char **v;
	size_t n, cap;
	char (*buf)[ADDR_NAMELEN];
	size_t nbuf, capbuf;
};

static int cand_add(struct candidates *c, const char *name)
{
	if (c->nbuf == c->capbuf) {
		/* names are copied into blocks that never move */
		return -ENOSPC;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		void *p = realloc(c->v, cap * sizeof(*c->v));

		if (!p)
			return -ENOMEM;
		c->v = p;
		c->cap = cap;
	}
	strcpy(c->buf[c->nbuf], name);
	c->v[c->n++] = c->buf[c->nbuf++];
	return 0;
}

/* Which counters exist, by name: those of the targets, of the elements in
 * the maps, and of addresses nftally knew before (drains left pending). */
static int counters_by_name(struct nl *nl, const char *table, const struct targets *t,
			    const struct addr *known, size_t nknown,
			    const struct names *refs, const struct wrong_elem *wrong,
			    size_t nwrong, struct names *ctrs)
{
	struct addr_names *an = nl_names(nl);
	struct candidates c = { 0 };
	struct nl_counter *got = NULL;
	char name[ADDR_NAMELEN];
	int ret = -ENOMEM;

	c.capbuf = 2 * t->n + 2 * nknown + refs->n + nwrong;
	c.buf = malloc(c.capbuf * ADDR_NAMELEN + 1);
	if (!c.buf)
		goto out;
	ret = 0;
	for (size_t i = 0; i < t->n && ret == 0; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++)
			ret = cand_add(&c, addr_counter_name(an, &t->v[i].addr, d, name));
	for (size_t i = 0; i < nknown && ret == 0; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++)
			ret = cand_add(&c, addr_counter_name(an, &known[i], d, name));
	for (size_t i = 0; i < refs->n && ret == 0; i++) {
		struct addr a;
		enum addr_dir d;

		/* the targets' own names are candidates already */
		if (addr_from_counter_name(an, refs->v[i], &a, &d) == 0 && targets_find(t, &a))
			continue;
		ret = cand_add(&c, refs->v[i]);
	}
	/* a counter that only a wrong element points at may be one to drain */
	for (size_t i = 0; i < nwrong && ret == 0; i++)
		ret = cand_add(&c, wrong[i].ref);
	got = ret ? NULL : malloc((c.n + 1) * sizeof(*got));
	if (!ret && !got)
		ret = -ENOMEM;
	if (!ret)
		ret = nl_read_counters(nl, table, c.v, c.n, got);
	for (size_t i = 0; i < c.n && ret == 0; i++)
		if (got[i].err == 0)
			ret = names_add(c.v[i], ctrs);
out:
	free(got);
	free(c.v);
	free(c.buf);
	return ret;
}

static void names_sort_unique(struct names *s)
{
	size_t k = 0;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, ADDR_NAMELEN, names_cmp);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i], s->v[k]) != 0 && ++k != i)
			memcpy(s->v[k], s->v[i], ADDR_NAMELEN);
	s->n = k + 1;
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

/* The target whose element in map m of class cls has this key: targets are
 * sorted by family, bytes, length, class, so its candidates are together. */
static const struct target *target_at_key(const struct targets *t, unsigned m, unsigned cls,
					  const uint8_t *key, size_t keylen)
{
	struct addr probe = { .family = m & 2 ? AF_INET6 : AF_INET };
	size_t lo = 0, hi = t->n;

	memcpy(probe.bytes, key, keylen);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&t->v[mid].addr, &probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->n && t->v[lo].addr.family == probe.family &&
	       memcmp(t->v[lo].addr.bytes, probe.bytes, 16) == 0; lo++)
		if (addr_is_host(&t->v[lo].addr) == !(m & 4) && t->v[lo].addr.cls == cls)
			return &t->v[lo];
	return NULL;
}

/* The element of an address that left: it points at its own counter. */
static bool elem_is_own(struct addr_names *an, unsigned m, unsigned cls, const uint8_t *key,
			size_t keylen, const char *ref)
{
	struct addr a;
	enum addr_dir d;

	return addr_from_counter_name(an, ref, &a, &d) == 0 && addr_map_index(&a, d) == m &&
	       a.cls == cls && memcmp(a.bytes, key, keylen) == 0;
}

static int elem_seen(const struct nl_map_elem *e, void *data)
{
	struct elem_scan *sc = data;
	size_t keylen = sc->map & 2 ? 16 : 4;
	char name[ADDR_NAMELEN];
	const struct target *x;
	struct wrong_elem *w;

	if (e->keylen != keylen)
		return 0; /* not an address of the map's family: not ours to judge */
	if (e->end && !(sc->map & 4))
		return 0;
	if (e->end) {
		if (grow((void **)&sc->ends, &sc->capends, sc->nends, sizeof(*sc->ends)) < 0)
			return -ENOMEM;
		sc->ends[sc->nends] = (struct end_key){ sc->map, sc->cls, { 0 } };
		memcpy(sc->ends[sc->nends++].key, e->key, keylen);
		return 0;
	}
	if (!e->ref || strlen(e->ref) >= ADDR_NAMELEN)
		return 0; /* an objref map's elements all have one of ours' size */
	x = target_at_key(sc->t, sc->map, sc->cls, e->key, keylen);
	if (x ? strcmp(addr_counter_name(sc->an, &x->addr, sc->map & 1, name), e->ref) == 0
	      : elem_is_own(sc->an, sc->map, sc->cls, e->key, keylen, e->ref))
		return names_add(e->ref, sc->refs);
	if (grow((void **)&sc->wrong, &sc->capwrong, sc->nwrong, sizeof(*sc->wrong)) < 0)
		return -ENOMEM;
	w = &sc->wrong[sc->nwrong++];
	*w = (struct wrong_elem){ .map = sc->map, .cls = sc->cls, .keylen = (uint8_t)keylen,
				  .x = x };
	memcpy(w->key, e->key, keylen);
	strcpy(w->ref, e->ref);
	return 0;
}

/* The elements of our maps: the default class's, and those of every class
 * this process knows of, including classes met only in counter names
 * (removed from the config: their counters are drained like those of
 * addresses that left). */
static int list_elems(struct nl *nl, const char *table, struct elem_scan *sc)
{
	int ret = 0;

	for (unsigned cls = 0; cls < addr_names_count(sc->an) && ret == 0; cls++)
		for (unsigned m = 0; m < ADDR_MAPS && ret == 0; m++) {
			char name[ADDR_MAPNAMELEN];

			sc->map = m;
			sc->cls = cls;
			addr_map_name_at(sc->an, m, cls, name);
			ret = nl_list_map_elems(nl, table, name, elem_seen, sc);
			if (ret == -ENOENT && cls)
				ret = 0; /* a class whose maps were never made */
		}
	names_sort_unique(sc->refs);
	return ret;
}

static int end_key_cmp(const void *x, const void *y)
{
	const struct end_key *a = x, *b = y;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->map != b->map)
		return a->map < b->map ? -1 : 1;
	return memcmp(a->key, b->key, 16);
}

/* The end element of the interval that starts at w's key: intervals do not
 * overlap, so it is the first end after the key in the same map. */
static const uint8_t *wrong_end(const struct elem_scan *sc, const struct wrong_elem *w)
{
	struct end_key probe = { w->map, w->cls, { 0 } };
	size_t lo = 0, hi = sc->nends;

	if (!(w->map & 4))
		return NULL;
	memcpy(probe.key, w->key, w->keylen);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (end_key_cmp(&sc->ends[mid], &probe) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sc->nends && sc->ends[lo].map == w->map && sc->ends[lo].cls == w->cls ?
	       sc->ends[lo].key : NULL;
}

/* Elements edited by hand: each goes, and a target's comes back pointing at
 * its own counter, in batch 1 (deletes before adds).  Their traffic so far
 * stays where it was counted. */
static int plan_wrong(struct nl_batch *b, struct elem_scan *sc, struct table_result *res)
{
	int ret = 0;

	if (!sc->nwrong)
		return 0;
	if (sc->nends > 1)
		qsort(sc->ends, sc->nends, sizeof(*sc->ends), end_key_cmp);
	res->fixed = calloc(sc->nwrong, sizeof(*res->fixed));
	if (!res->fixed)
		return -ENOMEM;
	for (size_t i = 0; i < sc->nwrong && ret == 0; i++) {
		const struct wrong_elem *w = &sc->wrong[i];
		struct table_fix *f = &res->fixed[res->nfixed++];
		char name[ADDR_NAMELEN];

		ret = nl_batch_del_elem_at(b, w->map, w->cls, w->key, w->keylen, wrong_end(sc, w));
		addr_map_name_at(sc->an, w->map, w->cls, f->map);
		strcpy(f->ref, w->ref);
		f->target = w->x != NULL;
		if (w->x) {
			addr_format(&w->x->addr, f->addr);
			if (ret == 0)
				ret = nl_batch_add_elem(b, &w->x->addr, w->map & 1);
			/* plan_adds must not add it a second time */
			if (ret == 0)
				ret = names_add(addr_counter_name(sc->an, &w->x->addr, w->map & 1, name),
						sc->refs);
		} else {
			struct addr a = { .family = w->keylen == 16 ? AF_INET6 : AF_INET,
					  .plen = w->keylen == 16 ? 128 : 32 };

			memcpy(a.bytes, w->key, w->keylen);
			addr_format(&a, f->addr);
		}
	}
	names_sort_unique(sc->refs);
	return ret;
}

static int kernel_state(struct nl *nl, const char *table, const struct targets *t,
			const struct addr *known, size_t nknown,
			struct names *ctrs, struct elem_scan *sc)
{
	bool dump = 2 * (t->n + nknown) < TABLE_DUMP_MAX;
	int ret = 0;

	if (dump) {
		ret = nl_list_counters(nl, table, names_add, ctrs);
		/* learn the classes in the counters' names */
		for (size_t i = 0; i < ctrs->n && ret == 0; i++) {
			struct addr a;

			addr_from_counter_name(sc->an, ctrs->v[i], &a, NULL);
		}
	}
	if (ret == 0)
		ret = list_elems(nl, table, sc);
	if (ret == 0 && !dump)
		ret = counters_by_name(nl, table, t, known, nknown, sc->refs, sc->wrong,
				       sc->nwrong, ctrs);
	names_sort_unique(ctrs);
	return ret;
}

static int plan_adds(struct nl_batch *b, const struct addr_names *an, const struct targets *t,
		     const struct names *ctrs, const struct names *refs,
		     struct table_result *res)
{
	char name[ADDR_NAMELEN];
	int ret = 0;

	for (size_t i = 0; i < t->n && ret == 0; i++) {
		bool fresh = false;

		for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++) {
			addr_counter_name(an, &t->v[i].addr, d, name);
			if (!names_has(ctrs, name)) {
				ret = nl_batch_add_counter(b, name);
				fresh = true;
			}
			if (ret == 0 && !names_has(refs, name))
				ret = nl_batch_add_elem(b, &t->v[i].addr, d);
		}
		if (fresh)
			res->added++;
	}
	return ret;
}

/* Counters of ours in the kernel for addresses no longer targeted: their
 * elements go in the first batch, the counters in a second one after a
 * last read. */
static int gone_add(struct table_result *res, const struct addr *a)
{
	struct table_gone *g = realloc(res->gone, (res->ngone + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	res->gone = g;
	memset(&g[res->ngone], 0, sizeof(*g));
	g[res->ngone++].addr = *a;
	return 0;
}

static int plan_gone(struct nl_batch *b1, struct nl_batch *b2, struct addr_names *an,
		     const struct targets *t,
		     const struct names *ctrs, const struct names *refs,
		     struct table_result *res)
{
	int ret = 0;

	for (size_t i = 0; i < ctrs->n && ret == 0; i++) {
		struct addr a;
		enum addr_dir d;

		if (addr_from_counter_name(an, ctrs->v[i], &a, &d) < 0 || targets_find(t, &a))
			continue;
		if (names_has(refs, ctrs->v[i]))
			ret = nl_batch_del_elem(b1, &a, d);
		if (ret == 0)
			ret = nl_batch_del_counter(b2, ctrs->v[i]);
		if (ret == 0 && d == ADDR_IN)
			ret = gone_add(res, &a);
	}
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

static int plan_add_addr(struct nl_batch *b, const struct addr *a)
{
	int ret = 0;

	for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++) {
		ret = nl_batch_add_counter_of(b, a, d);
		if (ret == 0)
			ret = nl_batch_add_elem(b, a, d);
	}
	return ret;
}

static int plan_del_addr(struct nl_batch *b1, struct nl_batch *b2, const struct addr *a,
			 struct table_result *res)
{
	int ret = 0;

	for (int d = ADDR_IN; d <= ADDR_OUT && ret == 0; d++) {
		ret = nl_batch_del_elem(b1, a, d);
		if (ret == 0)
			ret = nl_batch_del_counter_of(b2, a, d);
	}
	return ret ? ret : gone_add(res, a);
}

/* The difference between what the caller installed (prev) and t, both
 * sorted: one merge walk, no listing of the kernel's table. */
static int plan_diff(struct nl_batch *b1, struct nl_batch *b2, const struct targets *t,
		     const struct targets *prev, struct table_result *res)
{
	size_t i = 0, j = 0;
	int ret = 0;

	while (ret == 0 && (i < t->n || j < prev->n)) {
		int c = i == t->n ? 1 : j == prev->n ? -1 :
			addr_cmp(&t->v[i].addr, &prev->v[j].addr);

		if (c < 0) {
			ret = plan_add_addr(b1, &t->v[i++].addr);
			res->added++;
		} else if (c > 0) {
			ret = plan_del_addr(b1, b2, &prev->v[j++].addr, res);
		} else {
			i++;
			j++;
		}
	}
	return ret;
}

/* Plan from the kernel's state (or from prev) and commit. */
static int apply_data_from(struct nl *nl, const char *table, const struct targets *t,
			   const struct table_apply_opts *o, const struct targets *prev,
			   const struct skeleton *sk, struct table_result *res, struct err *e)
{
	struct names ctrs = { 0 }, refs = { 0 };
	struct elem_scan sc = { .an = nl_names(nl), .t = t, .refs = &refs };
	struct nl_batch *b1 = nl_batch_create(sc.an, table), *b2 = nl_batch_create(sc.an, table);
	bool deferred;
	int ret = -ENOMEM;

	if (!b1 || !b2)
		goto out;
	if (sk->apply)
		nl_batch_set_counter(b1, SKELETON_COUNTER, sk->hash, sk->marker_exists);
	if (res->created) {
		/* This call made the table: nothing in it to compare with, and
		 * nobody counts on it yet, so it fills in several transactions
		 * (a refused one removes the table again, see table_apply). */
		struct targets none = { 0 };

		nl_batch_split(b1);
		ret = plan_diff(b1, b2, t, &none, res);
	} else if (prev) {
		ret = plan_diff(b1, b2, t, prev, res);
	} else {
		ret = kernel_state(nl, table, t, o->known, o->nknown, &ctrs, &sc);
		if (ret < 0) {
			err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s, table_strerror(ret));
			goto out;
		}
		ret = plan_wrong(b1, &sc, res);
		if (ret == 0)
			ret = plan_adds(b1, sc.an, t, &ctrs, &refs, res);
		if (ret == 0)
			ret = plan_gone(b1, b2, sc.an, t, &ctrs, &refs, res);
	}
	if (ret < 0) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	/* asked before the commit, so that whatever the caller keeps to
	 * find the counters again exists before their elements go */
	deferred = res->ngone && o->defer && o->defer(res, o->data) > 0;
	ret = nl_batch_commit(nl, b1, e);
	if (ret < 0)
		res->nfixed = 0; /* nothing was mended */
	if (ret == 0 && res->ngone) {
		res->ngone_committed = true;
		if (deferred)
			goto out; /* the caller drains them later */
		/* If the last values cannot be read, the counters stay (not
		 * counting any more) for a later apply to drain. */
		if (read_gone(nl, table, res) < 0)
			res->ngone = 0;
		else if (o->drained)
			ret = o->drained(res, o->data);
		if (ret == 0 && res->ngone)
			ret = nl_batch_commit(nl, b2, e);
		else if (ret > 0)
			ret = 0; /* the counters stay for a later drain */
	}
out:
	free(ctrs.v);
	free(refs.v);
	free(sc.wrong);
	free(sc.ends);
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
	int ret;

	if (!res->created && o->prev && o->prev_handle && o->prev_handle == handle) {
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
	uint64_t handle = 0;
	int ret = table_owned(nl, table, &handle, e);
	struct skeleton sk;

	memset(res, 0, sizeof(*res));
	if (ret < 0)
		return ret;
	res->created = ret == 0;
	ret = skeleton_check(nl, table, skeleton, !res->created, &sk);
	if (ret < 0)
		return err_setn(e, ret, "reading table %s: %s", nl_table_desc(nl, table).s, table_strerror(ret));
	/* A forced rebuild leaves a marker that is right as it is, so a
	 * resync with nothing to mend changes nothing in the listing. */
	if (sk.apply || o->force_skeleton)
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
	return ret;
}

/* Address i of an array of structs holding one, stride bytes apart. */
static const struct addr *table_addr_at(const struct addr *first, size_t stride, size_t i)
{
	return (const struct addr *)((const char *)first + i * stride);
}

int table_read_counters_of(struct nl *nl, const char *table, const struct addr *first,
			   size_t stride, size_t n, struct nl_counter *out, struct err *e)
{
	const char **names = malloc(2 * n * sizeof(*names) + 1);
	char (*buf)[ADDR_NAMELEN] = malloc(2 * n * ADDR_NAMELEN + 1);
	int ret = -ENOMEM;

	if (!names || !buf) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		addr_counter_name(nl_names(nl), table_addr_at(first, stride, i / 2),
				  i % 2 ? ADDR_OUT : ADDR_IN, buf[i]);
		names[i] = buf[i];
	}
	ret = nl_read_counters(nl, table, names, 2 * n, out);
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
	struct nl_counter *c = malloc(2 * t->n * sizeof(*c) + 1);
	int ret = c ? table_read_counters_of(nl, table, &t->v[0].addr, sizeof(t->v[0]), t->n, c, e)
		    : err_setn(e, -ENOMEM, "out of memory");

	*missing = 0;
	for (size_t i = 0; i < t->n && ret == 0; i++) {
		const struct nl_counter *in = &c[2 * i], *o = &c[2 * i + 1];

		if (in->err || o->err)
			(*missing)++;
		if (miss)
			miss[i] = in->err || o->err;
		if (h) {
			h[2 * i] = in->err ? 0 : in->handle;
			h[2 * i + 1] = o->err ? 0 : o->handle;
		}
		out[i] = (struct counts){
			in->err ? 0 : in->bytes, in->err ? 0 : in->packets,
			o->err ? 0 : o->bytes, o->err ? 0 : o->packets,
		};
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
