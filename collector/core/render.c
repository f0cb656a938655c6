// SPDX-License-Identifier: GPL-2.0-or-later
/* Rendering: templates become the table skeleton with nothing but the
 * validated table name substituted; addresses become counter and element
 * commands whose every name is derived from the address. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "build-config.h"
#include "file.h"
#include "render.h"


#define RENDER_TEMPLATE_MAX (1 << 20)

static unsigned line_of(const char *start, const char *p)
{
	unsigned line = 1;

	for (; start < p; start++)
		line += *start == '\n';
	return line;
}

static int check_template(const char *out, const char *name, struct err *e)
{
	/* Without the marker, nftally would refuse its own table later. */
	if (!strstr(out, "counter nftally_owner"))
		return err_set(e, "%s: template does not define counter nftally_owner", name);
	if (!strstr(out, "jump account_in") && !strstr(out, "jump account_out"))
		return err_set(e, "%s: template never jumps to account_in or account_out",
			       name);
	return 0;
}

static int render_substitute(const char *tmpl, size_t len, const char *name,
			     const char *table, char **out, struct err *e);

/* ---- the generated line ---- */

static const char *const fam_key[2] = { "ipv4_addr", "ipv6_addr" };
static const char *const fam_proto[2] = { "ip", "ip6" };

/* Interval-set elements "{ a, b }" of the addresses of one family. */
static void put_addrs(FILE *f, const struct addr *v, size_t n, int fam)
{
	char text[ADDR_STRLEN];
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if ((v[i].family == AF_INET6) != fam)
			continue;
		fprintf(f, "%s%s", first ? " { " : ", ", addr_format(&v[i], text));
		first = false;
	}
	if (!first)
		fputs(" }", f);
}

static size_t count_fam(const struct addr *v, size_t n, int fam)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += (v[i].family == AF_INET6) == fam;
	return k;
}

static int by_label(const void *x, const void *y)
{
	const struct target *a = *(const struct target *const *)x;
	const struct target *b = *(const struct target *const *)y;

	return a->label < b->label ? -1 : a->label > b->label;
}

/* Pairs of members of one group, both of one family: written to f (if not
 * NULL) as interval-set elements; returns how many, or -ENOMEM. */
static long group_pairs(const struct targets *t, int fam, FILE *f)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	const struct target **m;
	size_t k = 0;
	long n = 0;

	if (!t)
		return 0;
	m = malloc((t->n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].group && !t->v[i].addr.cls && (t->v[i].addr.family == AF_INET6) == fam)
			m[k++] = &t->v[i];
	qsort(m, k, sizeof(*m), by_label); /* members of a group together */
	for (size_t i = 0, end; i < k; i = end) {
		for (end = i; end < k && m[end]->label == m[i]->label; end++)
			;
		for (size_t x = i; x < end; x++)
			for (size_t y = i; y < end; y++, n++)
				if (f)
					fprintf(f, "%s%s . %s", n ? ", " : " { ",
						addr_format(&m[x]->addr, a),
						addr_format(&m[y]->addr, b));
	}
	if (f && n)
		fputs(" }", f);
	free(m);
	return n;
}

/* What the generated line is made from. */
struct gen {
	FILE *f;
	const struct render_policy *p;
	bool groups[2];   /* [v6]: some group has members of that family */
	/* [v6][prefix]: the maps of a class that will hold elements.  A lookup
	 * in a map that stays empty is left out of the chains (it would cost
	 * every packet for nothing); the skeleton changes, atomically, when the
	 * first address of a kind comes. */
	bool kinds[2][2];
};

static void put_counts(const struct gen *g, bool in, unsigned cls);

/* A configured name ending in '*' matches every interface it begins (nft's
 * own wildcard); "*" alone is every interface. */
static bool iface_wildcard(const char *name)
{
	size_t n = strlen(name);

	return n && name[n - 1] == '*';
}

/* The early return for packets on none of the configured interfaces.
 * Exact names are looked up in the set ifaces; wildcards cannot be set
 * elements before nft 0.9.4 (Rocky 8 has 0.9.3), so each is one more
 * condition of the rule.  No interfaces, or "*": no rule. */
static void put_iface_rule(FILE *f, const struct render_policy *p, bool in)
{
	const char *key = in ? "iifname" : "oifname";
	size_t exact = 0;

	for (size_t i = 0; i < p->nifaces; i++) {
		if (strcmp(p->ifaces[i], "*") == 0)
			return;
		exact += !iface_wildcard(p->ifaces[i]);
	}
	if (!p->nifaces)
		return;
	if (exact)
		fprintf(f, "%s != @ifaces ", key);
	for (size_t i = 0; i < p->nifaces; i++)
		if (iface_wildcard(p->ifaces[i]))
			fprintf(f, "%s != \"%s\" ", key, p->ifaces[i]);
	fputs("return; ", f);
}

/* ---- quota enforcement ---- */

static bool enforcing(const struct render_policy *p)
{
	return p->enforce && p->enforce->on;
}

/* The enforcement rules, first in each accounting chain, so they see every
 * packet of the address that the template's hooks see (the policy's early
 * returns come after).  Drop, then the per-address meter of a throttle
 * rate (over the rate: drop), then the mark. */
static void put_enforce_rules(FILE *f, const struct render_policy *p, bool in)
{
	const char *own = in ? "daddr" : "saddr";

	for (int fam = 0; fam < 2; fam++) {
		char c = fam ? '6' : '4';

		fprintf(f, "%s %s @qdrop%c drop; ", fam_proto[fam], own, c);
		for (size_t k = 0; k < p->enforce->nrates; k++)
			fprintf(f, "%s %s @qthr%c_%zu update @qmeter%s%c_%zu { %s %s limit rate "
				"over %llu bytes/second } drop; ", fam_proto[fam], own, c, k,
				in ? "in" : "out", c, k, fam_proto[fam], own,
				(unsigned long long)p->enforce->rates[k]);
		fprintf(f, "meta mark set %s %s map @qmark%c; ", fam_proto[fam], own, c);
	}
}

static void put_enforce_sets(FILE *f, const struct render_policy *p)
{
	for (int fam = 0; fam < 2; fam++) {
		char c = fam ? '6' : '4';

		fprintf(f, "set qdrop%c { type %s; flags interval; }; ", c, fam_key[fam]);
		fprintf(f, "map qmark%c { type %s : mark; flags interval; }; ", c, fam_key[fam]);
		for (size_t k = 0; k < p->enforce->nrates; k++) {
			fprintf(f, "set qthr%c_%zu { type %s; flags interval; }; ", c, k,
				fam_key[fam]);
			for (int in = 1; in >= 0; in--)
				fprintf(f, "set qmeter%s%c_%zu { type %s; size 65535; flags "
					"dynamic; }; ", in ? "in" : "out", c, k, fam_key[fam]);
		}
	}
}

static int by_enforced(const void *k, const void *x)
{
	return strcmp(k, ((const struct render_enforced *)x)->label);
}

static int by_plen(const void *x, const void *y)
{
	const struct render_member *a = x, *b = y;

	return (a->a.plen > b->a.plen) - (a->a.plen < b->a.plen);
}

size_t render_enforce_members(const struct targets *t, const struct render_enforce *en,
			      const char *set, struct render_member *out)
{
	enum quota_action act;
	size_t n = 0, k = 0, rate = 0;
	int fam;
	char c;

	if (sscanf(set, "qdrop%c", &c) == 1)
		act = QUOTA_ACT_DROP;
	else if (sscanf(set, "qmark%c", &c) == 1)
		act = QUOTA_ACT_MARK;
	else if (sscanf(set, "qthr%c_%zu", &c, &rate) == 2)
		act = QUOTA_ACT_THROTTLE;
	else
		return 0;
	fam = c == '6';
	for (size_t i = 0; t && en && en->n && i < t->n; i++) {
		const struct target *x = &t->v[i];
		const struct render_enforced *q;

		if (x->addr.cls || (x->addr.family == AF_INET6) != fam)
			continue;
		q = bsearch(targets_label(t, x), en->v, en->n, sizeof(*en->v), by_enforced);
		if (!q || q->action != act || (act == QUOTA_ACT_THROTTLE && q->rate != rate))
			continue;
		out[n++] = (struct render_member){ .a = x->addr, .mark = q->mark };
		out[n - 1].a.cls = 0;
	}
	/* an interval set takes no overlaps: a prefix covers what it holds */
	qsort(out, n, sizeof(*out), by_plen);
	for (size_t i = 0; i < n; i++) {
		bool inside = false;

		for (size_t j = 0; j < k && !inside; j++)
			inside = addr_contains(&out[j].a, &out[i].a);
		if (!inside)
			out[k++] = out[i];
	}
	return k;
}

size_t render_enforce_sets(const struct render_enforce *en, char (*names)[32], size_t max)
{
	size_t n = 0;

	for (int fam = 0; en && en->on && fam < 2; fam++) {
		char c = fam ? '6' : '4';

		if (n + 2 + en->nrates > max)
			break;
		snprintf(names[n++], 32, "qdrop%c", c);
		snprintf(names[n++], 32, "qmark%c", c);
		for (size_t k = 0; k < en->nrates; k++)
			snprintf(names[n++], 32, "qthr%c_%zu", c, k);
	}
	return n;
}

/* One accounting chain: the policy's early returns, then the lookups of
 * the target's counter (peer: the other address of the packet). */
static void put_chain(const struct gen *g, bool in)
{
	FILE *f = g->f;
	const struct render_policy *p = g->p;
	const char *peer = in ? "saddr" : "daddr";

	fprintf(f, "chain account_%s { ", in ? "in" : "out");
	if (enforcing(p))
		put_enforce_rules(f, p, in);
	put_iface_rule(f, p, in);
	for (int fam = 0; fam < 2; fam++) {
		if (count_fam(p->exclude, p->nexclude, fam))
			fprintf(f, "%s %s @exclude%c return; ", fam_proto[fam], peer,
				fam ? '6' : '4');
		if (g->groups[fam])
			fprintf(f, "%s saddr . %s daddr @intra%c return; ", fam_proto[fam],
				fam_proto[fam], fam ? '6' : '4');
	}
	if (p->classes && p->classes->n)
		for (int fam = 0; fam < 2; fam++)
			fprintf(f, "%s %s vmap @class%s%c; ", fam_proto[fam], peer,
				in ? "in" : "out", fam ? '6' : '4');
	put_counts(g, in, 0);
	fputs("}; ", f);
}

/* The counter lookups of one direction, in the maps of class cls. */
static void put_counts(const struct gen *g, bool in, unsigned cls)
{
	char map[ADDR_MAPNAMELEN];

	for (int fam = 0; fam < 2; fam++)
		for (int net = 0; net < 2; net++)
			if (g->kinds[fam][net])
				fprintf(g->f, "counter name %s %s map @%s; ", fam_proto[fam],
					in ? "daddr" : "saddr",
					addr_map_name_at(g->p->classes ? g->p->classes->an : NULL,
							 !in + 2u * fam + 4u * net, cls, map));
}

/* The counter maps of class cls. */
static void put_maps(FILE *f, const struct addr_names *an, unsigned cls)
{
	char map[ADDR_MAPNAMELEN];

	for (unsigned m = 0; m < ADDR_MAPS; m++)
		fprintf(f, "map %s { type %s : counter; %s}; ", addr_map_name_at(an, m, cls, map),
			fam_key[(m & 2) != 0], m & 4 ? "flags interval; " : "");
}

/* Per class: its maps and its two chains, which the class maps jump to. */
static void put_class(const struct gen *g, unsigned cls)
{
	const struct addr_names *an = g->p->classes->an;

	put_maps(g->f, an, cls);
	for (int in = 1; in >= 0; in--) {
		fprintf(g->f, "chain account_%s_%s { ", in ? "in" : "out", addr_names_name(an, cls));
		put_counts(g, in, cls);
		fputs("}; ", g->f);
	}
}

/* The class maps' elements: each range of peers goes to its class's chain. */
static void put_class_ranges(FILE *f, const char *family, const char *table,
			     const struct classes *c, bool in, int fam)
{
	char lo[ADDR_STRLEN], hi[ADDR_STRLEN];
	bool first = true;
	int af = fam ? AF_INET6 : AF_INET;

	fprintf(f, "flush map %s %s class%s%c; ", family, table, in ? "in" : "out",
		fam ? '6' : '4');
	for (size_t i = 0; i < c->nr; i++) {
		const struct class_range *r = &c->r[i];

		if (r->family != af)
			continue;
		inet_ntop(af, r->lo, lo, sizeof(lo));
		inet_ntop(af, r->hi, hi, sizeof(hi));
		if (first)
			fprintf(f, "add element %s %s class%s%c { ", family, table,
				in ? "in" : "out", fam ? '6' : '4');
		fprintf(f, "%s%s%s%s : goto account_%s_%s", first ? "" : ", ", lo,
			memcmp(r->lo, r->hi, 16) ? "-" : "", memcmp(r->lo, r->hi, 16) ? hi : "",
			in ? "in" : "out", addr_names_name(c->an, r->cls));
		first = false;
	}
	if (!first)
		fputs(" }; ", f);
}

/* The exact interface names, the set's elements. */
static void put_iface_elements(FILE *f, const char *family, const char *table,
			       const struct render_policy *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->nifaces; i++) {
		if (iface_wildcard(p->ifaces[i]))
			continue;
		if (k++)
			fputc(',', f);
		else
			fprintf(f, "add element %s %s ifaces {", family, table);
		fprintf(f, " \"%s\"", p->ifaces[i]);
	}
	if (k)
		fputs(" }; ", f);
}

static int render_generated(FILE *f, const char *family, const char *table,
			    const struct render_policy *p)
{
	long g4 = group_pairs(p->groups, 0, NULL), g6 = group_pairs(p->groups, 1, NULL);
	struct gen g = { .f = f, .p = p, .groups = { g4 > 0, g6 > 0 } };

	if (g4 < 0 || g6 < 0)
		return -ENOMEM;
	for (size_t i = 0; p->groups && i < p->groups->n; i++) {
		const struct addr *a = &p->groups->v[i].addr;

		g.kinds[a->family == AF_INET6][!addr_is_host(a)] = true;
	}
	fprintf(f, "table %s %s { ", family, table);
	put_maps(f, NULL, 0);
	for (int fam = 0; fam < 2; fam++)
		fprintf(f, "set exclude%c { type %s; flags interval; }; ", fam ? '6' : '4',
			fam_key[fam]);
	fputs("set ifaces { type ifname; }; ", f);
	for (int fam = 0; fam < 2; fam++)
		if (g.groups[fam])
			fprintf(f, "set intra%c { type %s . %s; flags interval; }; ",
				fam ? '6' : '4', fam_key[fam], fam_key[fam]);
	if (p->classes && p->classes->n) {
		for (size_t k = 0; k < p->classes->n; k++)
			put_class(&g, (unsigned)p->classes->ids[k]);
		for (int in = 1; in >= 0; in--)
			for (int fam = 0; fam < 2; fam++)
				fprintf(f, "map class%s%c { type %s : verdict; flags interval; }; ",
					in ? "in" : "out", fam ? '6' : '4', fam_key[fam]);
	}
	if (enforcing(p))
		put_enforce_sets(f, p);
	put_chain(&g, true);
	put_chain(&g, false);
	fputs("}; ", f);
	if (p->classes && p->classes->n)
		for (int in = 1; in >= 0; in--)
			for (int fam = 0; fam < 2; fam++)
				put_class_ranges(f, family, table, p->classes, in, fam);
	for (int fam = 0; fam < 2; fam++) {
		fprintf(f, "flush set %s %s exclude%c; ", family, table, fam ? '6' : '4');
		if (count_fam(p->exclude, p->nexclude, fam)) {
			fprintf(f, "add element %s %s exclude%c", family, table, fam ? '6' : '4');
			put_addrs(f, p->exclude, p->nexclude, fam);
			fputs("; ", f);
		}
		if (g.groups[fam]) {
			fprintf(f, "flush set %s %s intra%c; add element %s %s intra%c", family,
				table, fam ? '6' : '4', family, table, fam ? '6' : '4');
			if (group_pairs(p->groups, fam, f) < 0)
				return -ENOMEM;
			fputs("; ", f);
		}
	}
	fprintf(f, "flush set %s %s ifaces; ", family, table);
	put_iface_elements(f, family, table, p);
	return ferror(f) ? -ENOMEM : 0;
}

const char *render_template_family(const char *tmpl)
{
	static const char *const fams[] = { "inet", "bridge" };
	char want[32];

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		snprintf(want, sizeof(want), "table %s @TABLE@", fams[i]);
		if (strstr(tmpl, want))
			return fams[i];
	}
	return NULL;
}

int render_skeleton(const char *tmpl, size_t len, const char *name,
		    const char *table, const struct render_policy *p, char **out,
		    const char **family_out, struct err *e)
{
	const char *family;
	char *body = NULL, *all = NULL;
	size_t alen = 0;
	FILE *f;
	int ret = render_substitute(tmpl, len, name, table, &body, e);

	if (ret < 0)
		return ret;
	family = render_template_family(tmpl);
	if (!family) {
		free(body);
		return err_set(e, "%s: template must define table inet @TABLE@ or table "
			       "bridge @TABLE@", name);
	}
	f = open_memstream(&all, &alen);
	if (!f) {
		free(body);
		return err_setn(e, -ENOMEM, "out of memory");
	}
	ret = render_generated(f, family, table, p);
	fputs(body, f);
	free(body);
	if (fclose(f) != 0 || ret < 0) {
		free(all);
		return err_setn(e, -ENOMEM, "out of memory");
	}
	*out = all;
	*family_out = family;
	return 0;
}

/* @TABLE@ substituted, and the template checked. */
static int render_substitute(const char *tmpl, size_t len, const char *name,
			     const char *table, char **out, struct err *e)
{
	size_t tlen = strlen(table), cap = len + 1, n = 0;
	bool seen_table = false;
	char *buf;

	if (memchr(tmpl, '\0', len))
		return err_set(e, "%s:%u: NUL byte in template", name,
			       line_of(tmpl, memchr(tmpl, '\0', len)));
	/* Each @TABLE@ (7 bytes) grows by at most tlen - 7 bytes. */
	cap += (len / 7 + 1) * (tlen > 7 ? tlen - 7 : 0);
	buf = malloc(cap);
	if (!buf)
		return err_setn(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < len;) {
		const char *at = tmpl + i, *close;
		size_t k = 1;

		if (*at != '@' || i + 1 >= len) {
			buf[n++] = tmpl[i++];
			continue;
		}
		while (i + k < len && at[k] >= 'A' && at[k] <= 'Z')
			k++;
		if (k == 1 || i + k >= len || at[k] != '@') {
			buf[n++] = tmpl[i++]; /* an nft reference such as @in4 */
			continue;
		}
		close = at + k;
		if (close - at != 6 || strncmp(at, "@TABLE", 6) != 0) {
			free(buf);
			return err_set(e, "%s:%u: unknown placeholder %.*s@", name,
				       line_of(tmpl, at), (int)(close - at), at);
		}
		memcpy(buf + n, table, tlen);
		n += tlen;
		i += k + 1;
		seen_table = true;
	}
	buf[n] = '\0';
	if (!seen_table) {
		free(buf);
		return err_set(e, "%s: template never names its table (@TABLE@)", name);
	}
	if (check_template(buf, name, e) < 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static int read_all(const char *path, char **text, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int ret;

	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: a template must be a regular file", path);
	}
	ret = file_read_all(fd, RENDER_TEMPLATE_MAX, text, len);
	close(fd);
	if (ret == -EFBIG)
		return err_setn(e, ret, "%s: a template is at most 1 MiB", path);
	if (ret < 0)
		return err_setn(e, ret, "%s: cannot read: %s", path, strerror(-ret));
	(*text)[*len] = '\0';
	return 0;
}

static bool template_name_ok(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

int render_load_template(const char *tmpl, const char *dir, char **path_out,
			 char **text, size_t *len, struct err *e)
{
	const char *dirs[3] = { dir, NFTALLY_TEMPLATE_DIR, NFTALLY_SOURCE_TEMPLATE_DIR };
	char *path;

	if (strchr(tmpl, '/')) {
		path = strdup(tmpl);
		if (!path)
			return err_setn(e, -ENOMEM, "out of memory");
		goto found;
	}
	if (!template_name_ok(tmpl)) {
		char shown[80];

		return err_set(e, "bad template name '%s' (use a-z, 0-9, -, _)",
			       err_printable(shown, sizeof(shown), tmpl, strlen(tmpl)));
	}
	for (size_t i = 0; i < 3; i++) {
		if (!dirs[i] || !*dirs[i] || (i > 0 && dir && *dir))
			continue;
		if (asprintf(&path, "%s/%s.nft", dirs[i], tmpl) < 0)
			return err_setn(e, -ENOMEM, "out of memory");
		if (access(path, R_OK) == 0)
			goto found;
		free(path);
	}
	if (dir && *dir)
		return err_set(e, "template '%s' not found in %s", tmpl, dir);
	return err_set(e, "template '%s' not found in %s or %s", tmpl,
		       NFTALLY_TEMPLATE_DIR, NFTALLY_SOURCE_TEMPLATE_DIR);
found:
	if (read_all(path, text, len, e) < 0) {
		free(path);
		return -EINVAL;
	}
	*path_out = path;
	return 0;
}

void render_data(FILE *f, const struct addr_names *an, const char *family, const char *table,
		 const struct targets *t)
{
	char name[ADDR_NAMELEN], text[ADDR_STRLEN], map[ADDR_MAPNAMELEN];

	for (size_t i = 0; i < t->n; i++) {
		const struct addr *a = &t->v[i].addr;

		addr_format(a, text);
		for (int d = ADDR_IN; d <= ADDR_OUT; d++) {
			addr_counter_name(an, a, d, name);
			fprintf(f, "add counter %s %s %s\n", family, table, name);
			fprintf(f, "add element %s %s %s { %s : \"%s\" }\n", family, table,
				addr_map_name(an, a, d, map), text, name);
		}
	}
}
