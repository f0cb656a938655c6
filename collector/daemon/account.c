// SPDX-License-Identifier: GPL-2.0-or-later
/* An account: one table in one network namespace.  Loads its classes,
 * targets and template, renders its skeleton and applies it; errors travel
 * in the caller's struct err, and their meaning for the process is the
 * command line's (main.c) to decide. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "hostaddrs.h"
#include "log.h"
#include "netns.h"
#include "render.h"
#include "statedir.h"

void account_key(struct account *acct)
{
	char buf[1024];
	size_t n;

	if (!acct->cfg.account[0]) {
		snprintf(acct->key, sizeof(acct->key), "%s", acct->cfg.table);
		return;
	}
	n = (size_t)snprintf(buf, sizeof(buf), "account.%s", acct->cfg.account);
	if (acct->netns[0]) {
		buf[n++] = '@';
		for (const unsigned char *p = (const unsigned char *)acct->netns;
		     *p && n + 4 < sizeof(buf); p++) {
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789._-", *p))
				buf[n++] = (char)*p;
			else
				n += (size_t)snprintf(buf + n, 4, "%%%02X", *p);
		}
		buf[n] = '\0';
	}
	if (n > ACCOUNT_KEY_MAX) { /* FNV-1a of the whole keeps long names apart */
		uint64_t h = 14695981039346656037ULL;

		for (size_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
		snprintf(buf + ACCOUNT_KEY_MAX - 17, 18, "~%016llx", (unsigned long long)h);
	}
	buf[ACCOUNT_KEY_MAX] = '\0';
	memcpy(acct->key, buf, strlen(buf) + 1);
}

void account_netns_id(char *buf, size_t size)
{
	struct netns_id id;
	struct err e;
	int fd;

	buf[0] = '\0';
	if (netns_open_self(&fd, &e) < 0)
		return;
	if (netns_identity(fd, &id, &e) == 0)
		netns_id_format(&id, buf, size);
	close(fd);
}

bool account_discovers(const struct account *acct)
{
	return acct->cfg.ndisc_addrs || acct->cfg.ndisc_routes;
}

void account_finish(struct account *acct)
{
	free(acct->disc);
	acct->disc = NULL;
	acct->ndisc = 0;
	labels_finish(&acct->labels);
	nl_destroy(acct->nl);
	acct->nl = NULL;
	targets_finish(&acct->tg);
	classes_finish(&acct->cls);
	free(acct->tmpl_path);
	free(acct->tmpl_text);
	free(acct->skeleton);
	acct->tmpl_path = acct->tmpl_text = acct->skeleton = NULL;
}

const char *account_store_path(const struct config *cfg, char *buf, size_t size)
{
	if (strcmp(cfg->store, "off") == 0)
		return NULL;
	if (cfg->store[0])
		snprintf(buf, size, "%s", cfg->store);
	else if (cfg->account[0]) /* one store for all accounts */
		snprintf(buf, size, "%s/nftally.db", cfg->state_dir);
	else
		snprintf(buf, size, "%s/%s.db", cfg->state_dir, cfg->table);
	return buf;
}

bool account_uses_host_addrs(const struct config *cfg, int lstat_errno)
{
	return !cfg->targets_explicit && lstat_errno == ENOENT;
}

const char *account_targets_id(const struct account *acct, char *buf, size_t size)
{
	char path[PATH_MAX];

	if (acct->targets_name == acct->cfg.targets && realpath(acct->cfg.targets, path)) {
		snprintf(buf, size, "%s", path);
		return buf;
	}
	snprintf(buf, size, "%s", acct->targets_name);
	return buf;
}

int account_load_classes(struct account *acct, struct err *e)
{
	int ret = 0;

	if (acct->cfg.classes[0])
		ret = classes_parse_file(&acct->cls, acct->names, acct->cfg.classes,
					 acct->cfg.default_class, e);
	if (ret == 0 && acct->cfg.labels[0])
		ret = labels_load(&acct->labels, acct->cfg.labels, e);
	return ret;
}

/* A namespace's name as the label of its addresses, if it makes a valid
 * one; else the interface's. */
static const char *account_disc_label(const struct account *acct, const struct disc_addr *d)
{
	const char *l = labels_lookup(&acct->labels, &d->a);

	if (l)
		return l;
	if (acct->netns[0] && strlen(acct->netns) <= TARGETS_LABEL_MAX) {
		bool ok = true;

		for (const unsigned char *p = (const unsigned char *)acct->netns; *p; p++)
			ok &= *p >= 0x20 && *p != 0x7f;
		if (ok)
			return acct->netns;
	}
	return d->ifname;
}

/* The discovered addresses into t: one the targets file lists already
 * keeps the file's label. */
static int account_add_discovered(struct account *acct, struct targets *t, struct err *e)
{
	for (size_t i = 0; i < acct->ndisc; i++)
		if (targets_add(t, account_disc_label(acct, &acct->disc[i]), &acct->disc[i].a) < 0)
			return err_setn(e, -ENOMEM, "out of memory");
	return targets_finalize(t, acct->targets_name, e);
}

int account_load_targets(struct account *acct, struct targets *t, struct err *e)
{
	struct stat st;
	int ret;

	targets_init(t);
	if (!acct->cfg.targets_file) {
		acct->targets_name = "discovered addresses";
		ret = 0;
	} else if (!account_discovers(acct) &&
		   account_uses_host_addrs(&acct->cfg, lstat(acct->cfg.targets, &st) == 0 ? 0 : errno)) {
		acct->targets_name = "host addresses";
		ret = hostaddrs_collect(t, e);
	} else {
		acct->targets_name = acct->cfg.targets;
		ret = targets_parse_file(t, acct->cfg.targets, e);
	}
	if (ret == 0 && account_discovers(acct))
		ret = account_add_discovered(acct, t, e);
	if (ret == 0 && targets_expand_classes(t, acct->cls.ids, acct->cls.n) < 0)
		ret = err_setn(e, -ENOMEM, "out of memory");
	return ret;
}

int account_render(struct account *acct, struct err *e)
{
	struct render_policy p = {
		.exclude = acct->cfg.exclude, .nexclude = acct->cfg.nexclude,
		.ifaces = acct->cfg.ifaces, .nifaces = acct->cfg.nifaces, .groups = &acct->tg,
		.classes = &acct->cls, .enforce = acct->enforce,
	};
	char *sk = NULL;
	int ret = render_skeleton(acct->tmpl_text, acct->tmpl_len, acct->tmpl_path,
				  acct->cfg.table, &p, &sk, &acct->family, e);

	if (ret == 0) {
		free(acct->skeleton);
		acct->skeleton = sk;
		if (acct->nl)
			nl_set_family(acct->nl, acct->family);
	}
	return ret;
}

int account_load_template(struct account *acct, struct err *e)
{
	int ret = render_load_template(acct->cfg.template_name, acct->cfg.template_dir,
				       &acct->tmpl_path, &acct->tmpl_text, &acct->tmpl_len, e);

	return ret < 0 ? ret : account_render(acct, e);
}

/* dump and remove do not need the template: the table's family is the
 * template's if the table exists in it, else the other family in which it
 * exists (a table made under another template). */
static void account_choose_family(struct account *acct)
{
	char *path = NULL, *text = NULL;
	const char *fam = NULL;
	size_t len;
	struct err e;

	if (render_load_template(acct->cfg.template_name, acct->cfg.template_dir, &path, &text,
				 &len, &e) == 0)
		fam = render_template_family(text);
	fam = fam ? fam : "inet";
	free(path);
	free(text);
	nl_set_family(acct->nl, fam);
	if (nl_table_exists(acct->nl, acct->cfg.table, NULL) == 1)
		return;
	nl_set_family(acct->nl, strcmp(fam, "inet") == 0 ? "bridge" : "inet");
	if (nl_table_exists(acct->nl, acct->cfg.table, NULL) != 1)
		nl_set_family(acct->nl, fam);
}

int account_open(struct account *acct, struct err *e)
{
	/* the template's family, when it is rendered already */
	acct->nl = nl_create(acct->family, acct->names);
	if (!acct->nl)
		return err_setn(e, -errno, "cannot open a netlink socket: %s",
				table_strerror(-errno));
	if (!acct->skeleton)
		account_choose_family(acct);
	return 0;
}

/* Map elements someone edited by hand, mended by this apply: a warning for
 * a person, and an event for a run's consumers. */
static void account_report_fixes(struct account *acct, struct output *events,
				 struct table_result *res)
{
	for (size_t i = 0; i < res->nfixed; i++) {
		const struct table_fix *f = &res->fixed[i];
		char msg[512];

		if (f->target)
			snprintf(msg, sizeof(msg), "the element of %s in map %s of table %s pointed "
				 "at counter %s; it points at %s's own counter again (its "
				 "traffic until now was counted there)", f->addr, f->map,
				 nl_table_desc(acct->nl, acct->cfg.table).s, f->ref, f->addr);
		else
			snprintf(msg, sizeof(msg), "map %s of table %s had an element %s, which is "
				 "not a target, pointing at counter %s; it was deleted", f->map,
				 nl_table_desc(acct->nl, acct->cfg.table).s, f->addr, f->ref);
		if (events)
			output_event(events, output_now(), "element_repaired", f->addr, "%s", msg);
		log_msg(LOG_PRIO_WARNING, "%s", msg);
	}
	free(res->fixed);
	res->fixed = NULL;
	res->nfixed = 0;
}

int account_apply(struct account *acct, const struct table_apply_opts *o,
		  struct output *events, struct table_result *res, struct err *e)
{
	int ret = account_render(acct, e);

	if (ret < 0)
		return ret;
	ret = table_apply(acct->nl, acct->cfg.table, acct->skeleton, acct->tmpl_path, &acct->tg,
			  o, res, e);
	account_report_fixes(acct, events, res);
	/* The enforcement follows the targets and the skeleton that declares
	 * its sets.  Its failure is said, and fails nothing: the table is
	 * applied, and the next apply tries again. */
	if (ret == 0 && acct->enforce && acct->enforce->on) {
		struct err ee;

		/* its commit moves the generation: the one after it is what
		 * the table's record and a run's full resync compare with */
		if (table_enforce(acct->nl, acct->cfg.table, &acct->tg, acct->enforce, &ee) == 0) {
			if (res->genid && nl_genid(acct->nl, &res->genid) < 0)
				res->genid = 0;
		} else {
			res->genid = 0;
			if (events)
				output_error(events, true, "quota enforcement in table %s: %s",
					     nl_table_desc(acct->nl, acct->cfg.table).s, ee.msg);
			else
				log_msg(LOG_PRIO_ERR, "quota enforcement in table %s: %s",
					nl_table_desc(acct->nl, acct->cfg.table).s, ee.msg);
		}
	}
	return ret;
}

int account_applied_load(struct account *acct, int dirfd, const char *file, uint64_t handle,
			 const char *boot, const char *nsid, struct state *rec,
			 bool (*keep)(const struct state_entry *x, void *data), void *data)
{
	struct err e;

	if (dirfd < 0 || statedir_load_some(rec, acct->names, dirfd, acct->cfg.state_dir, file,
					    keep, data, &e) < 0)
		return 0;
	if (strcmp(rec->table, acct->cfg.table) == 0 && rec->handle && handle &&
	    rec->boot[0] && rec->netns[0] && rec->genid &&
	    !state_of_other_table(rec, handle, boot, nsid))
		return 1;
	state_finish(rec);
	state_init(rec);
	return 0;
}

/* Loading a record: its REP 1 entries (the targets it installed, as many
 * as the file's lines) go straight into prev instead of staying in rec
 * beside the caller's targets and state (84 MB at 1,000,000). */
struct applied_prev {
	struct targets *prev;
	size_t cap;
	int err;
};

static bool applied_take(const struct state_entry *x, void *data)
{
	struct applied_prev *p = data;
	struct targets *t = p->prev;

	if (!x->rep)
		return true;
	if (t->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		struct target *v = reallocarray(t->v, cap, sizeof(*v));

		if (!v) {
			p->err = -ENOMEM;
			return false;
		}
		t->v = v;
		p->cap = cap;
	}
	t->v[t->n++] = (struct target){ .addr = x->addr };
	return false;
}

static int applied_addr_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct target *)a)->addr, &((const struct target *)b)->addr);
}

/* prev sorted (a record is written sorted), and no address twice. */
static bool applied_prev_ok(struct targets *prev)
{
	for (size_t i = 1; i < prev->n; i++)
		if (addr_cmp(&prev->v[i - 1].addr, &prev->v[i].addr) >= 0) {
			qsort(prev->v, prev->n, sizeof(*prev->v), applied_addr_cmp);
			break;
		}
	for (size_t i = 1; i < prev->n; i++)
		if (addr_cmp(&prev->v[i - 1].addr, &prev->v[i].addr) == 0)
			return false;
	return true;
}

/* A hint only needs the addresses that are no target (the targets'
 * counters are looked for anyway): usually none, where the record's
 * targets were 32 MB at 1,000,000 beside a run's start. */
static void applied_hint_trim(const struct account *acct, struct targets *prev)
{
	size_t n = 0, at = 0;
	void *v;

	for (size_t i = 0; i < prev->n; i++)
		if (!targets_has(&acct->tg, &prev->v[i].addr, &at))
			prev->v[n++] = prev->v[i];
	prev->n = n;
	v = realloc(prev->v, (n ? n : 1) * sizeof(*prev->v));
	if (v)
		prev->v = v;
}

int account_applied_prev(struct account *acct, int dirfd, const char *file, const char *boot,
			 const char *nsid, struct state *rec, struct targets *prev, bool installed_only)
{
	struct applied_prev p = { .prev = prev };
	uint64_t handle = 0;
	uint32_t gen = 0;

	targets_init(prev);
	if (nl_table_exists(acct->nl, acct->cfg.table, &handle) != 1)
		return 0;
	if (!account_applied_load(acct, dirfd, file, handle, boot, nsid, rec, applied_take, &p) ||
	    p.err || !applied_prev_ok(prev)) {
		free(prev->v);
		targets_init(prev);
		return 0;
	}
	/* not to be trusted, but still what this table was given: a hint */
	if ((installed_only && rec->n) || nl_genid(acct->nl, &gen) < 0 || gen != rec->genid) {
		applied_hint_trim(acct, prev);
		return 0;
	}
	if (!prev->v && !(prev->v = calloc(1, sizeof(*prev->v))))
		return 0;
	return 1;
}
