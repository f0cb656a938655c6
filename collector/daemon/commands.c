// SPDX-License-Identifier: GPL-2.0-or-later
/* The daemon's side of the one-shot commands on an account: apply (or
 * handing it over to the run that accounts the table), dump, and remove's
 * last report.  Errors travel in struct err; the command line prints them
 * and chooses the exit code. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claim.h"
#include "commands.h"
#include "log.h"
#include "sinks.h"
#include "state.h"
#include "statedir.h"
#include "table.h"

/* The run accounting the table: the holder of its claim in this network
 * namespace, whatever its state directory, else the holder of the lock in
 * ours (a run in another namespace with our state directory).  0 if none,
 * -1 if a run holds the claim but its PID cannot be seen.  what (if not
 * NULL) gets its targets, or "" if they cannot be read. */
static int run_holder(struct account *acct, int dirfd, char *what, size_t size)
{
	int pid = claim_holder(nl_family_name(acct->nl), acct->cfg.table);

	if (what && size)
		what[0] = '\0';
	if (pid > 0 && what && claim_holder_what(pid, acct->key, what, size) < 0 &&
	    dirfd >= 0 && statedir_lock_holder(dirfd, acct->key, what, size) != pid)
		what[0] = '\0';
	if (pid != 0 || dirfd < 0)
		return pid;
	return statedir_lock_holder(dirfd, acct->key, what, size);
}

/* A running `nftally run` owns the table's reports: removed addresses must
 * be drained through it, so apply asks it to reload instead of applying
 * behind its back.  Returns 1 if no run holds the table, 0 once it was
 * asked, or a negative errno (-EBUSY if it cannot be asked). */
static int apply_via_run(struct account *acct, struct err *e)
{
	char what[PATH_MAX], mine[PATH_MAX];
	int dirfd = statedir_open_existing(acct->cfg.state_dir);
	int pid = run_holder(acct, dirfd, what, sizeof(what));

	if (dirfd >= 0)
		close(dirfd);
	if (pid == 0)
		return 1;
	if (pid < 0 || !what[0]) {
		char who[32] = "";

		if (pid > 0)
			snprintf(who, sizeof(who), " (pid %d)", pid);
		return err_setn(e, -EBUSY, "nftally run%s accounts table %s, but which "
				"targets file it follows cannot be read from here; stop it first",
				who, nl_table_desc(acct->nl, acct->cfg.table).s);
	}
	if (strcmp(what, account_targets_id(acct, mine, sizeof(mine))) != 0) {
		return err_setn(e, -EBUSY, "nftally run (pid %d) accounts table %s from %s, "
				"not %s; change that file, or stop the run first", pid,
				nl_table_desc(acct->nl, acct->cfg.table).s, what, acct->targets_name);
	}
	if (kill(pid, SIGHUP) < 0) {
		int err = errno;

		return err_setn(e, -err, "cannot signal nftally run (pid %d): %s", pid,
				strerror(err));
	}
	log_msg(LOG_PRIO_INFO, "%s is valid; nftally run (pid %d) accounts table %s "
		"and was asked to apply it (see its output)", acct->targets_name, pid,
		nl_table_desc(acct->nl, acct->cfg.table).s);
	return 0;
}

static int keep_counters(const struct table_result *res, void *data)
{
	return 1;
}

/* Has a run reported this table before?  Then it must drain what leaves,
 * and what it reported that is no target (into o->known, the caller's to
 * free) tells apply which counters to look for: the targets' are looked
 * for anyway. */
static bool run_has_state(struct account *acct, struct table_apply_opts *o)
{
	struct addr *known = NULL;
	struct statedir_names names;
	struct state st;
	struct err e;
	int dirfd = statedir_open_existing(acct->cfg.state_dir);
	bool found = false;

	if (dirfd < 0)
		return false;
	statedir_names_init(&names, acct->key);
	state_init(&st);
	found = faccessat(dirfd, names.state, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (found && statedir_load(&st, acct->names, dirfd, acct->cfg.state_dir, names.state, &e) == 0 && st.n) {
		size_t at = 0;

		known = calloc(st.n, sizeof(*known));
		for (size_t i = 0; known && i < st.n; i++)
			if (!targets_has(&acct->tg, &st.v[i].addr, &at))
				known[o->nknown++] = st.v[i].addr;
	}
	o->known = known;
	state_finish(&st);
	close(dirfd);
	return found;
}

/* After a successful apply: the new record (the targets, and the addresses
 * whose counters stay without a target: those of the old record, if it was
 * of this table, and those this apply kept).  If it cannot be written, the
 * old one goes, so that the next apply lists the table. */
static void applied_save(struct account *acct, const struct state *old, bool keep,
			 const struct table_result *res)
{
	struct statedir_names names;
	struct state rec;
	struct err e;
	int dirfd = statedir_open(acct->cfg.state_dir, &e), ret = dirfd < 0 ? dirfd : 0;

	statedir_names_init(&names, acct->key);
	state_init(&rec);
	snprintf(rec.table, sizeof(rec.table), "%s", acct->cfg.table);
	rec.handle = res->handle;
	rec.genid = res->genid;
	statedir_boot_id(rec.boot, sizeof(rec.boot));
	account_netns_id(rec.netns, sizeof(rec.netns));
	if (ret == 0)
		ret = state_reserve(&rec, acct->tg.n + old->n + (keep ? res->ngone : 0));
	for (size_t i = 0; i < acct->tg.n && ret == 0; i++)
		ret = state_add(&rec, &acct->tg.v[i].addr, "-", &(struct counts){ 0 }, true);
	for (size_t i = 0; i < old->n && ret == 0; i++)
		if (!old->v[i].rep && !targets_find(&acct->tg, &old->v[i].addr))
			ret = state_add(&rec, &old->v[i].addr, "-", &(struct counts){ 0 }, false);
	for (size_t i = 0; keep && i < res->ngone && ret == 0; i++) {
		const struct state_entry *x = state_find(old, &res->gone[i].addr);

		if (!x || x->rep)
			ret = state_add(&rec, &res->gone[i].addr, "-", &(struct counts){ 0 }, false);
	}
	if (ret == 0) {
		state_sort(&rec);
		ret = rec.handle && rec.genid && rec.boot[0] && rec.netns[0] ? 0 : -EINVAL;
	}
	if (ret == 0)
		ret = statedir_save(&rec, acct->names, dirfd, acct->cfg.state_dir, names.applied, &e);
	if (ret < 0 && dirfd >= 0)
		unlinkat(dirfd, names.applied, 0);
	if (dirfd >= 0)
		close(dirfd);
	state_finish(&rec);
}

int commands_apply(struct account *acct, struct err *e)
{
	struct table_apply_opts o = { 0 };
	struct table_result res;
	struct statedir_names names;
	struct targets prev;
	struct state rec;
	char boot[40], nsid[48];
	bool keep = run_has_state(acct, &o);
	int dirfd, ret = apply_via_run(acct, e);

	if (ret <= 0) {
		free((void *)o.known);
		return ret;
	}
	o.drained = keep ? keep_counters : NULL;
	/* The last apply's record, if nothing changed since: no listing. */
	statedir_names_init(&names, acct->key);
	state_init(&rec);
	targets_init(&prev);
	dirfd = statedir_open_existing(acct->cfg.state_dir);
	statedir_boot_id(boot, sizeof(boot));
	account_netns_id(nsid, sizeof(nsid));
	if (account_applied_prev(acct, dirfd, names.applied, boot, nsid, &rec, &prev, false)) {
		o.prev = &prev;
		o.prev_handle = rec.handle;
	} else if (prev.n) {
		o.hint = &prev; /* where else to look for counters */
	}
	if (dirfd >= 0)
		close(dirfd);
	ret = account_apply(acct, &o, NULL, &res, e);
	free((void *)o.known);
	free(prev.v);
	if (ret == 0)
		applied_save(acct, &rec, keep, &res);
	state_finish(&rec);
	if (ret < 0)
		return ret;
	log_msg(LOG_PRIO_INFO, "table %s %s: %zu addresses (%zu new, %zu removed)",
		nl_table_desc(acct->nl, acct->cfg.table).s, res.created ? "installed" : "updated",
		acct->tg.n, res.added, res.ngone);
	if (keep && res.ngone)
		log_msg(LOG_PRIO_INFO, "the removed addresses stopped counting; the next "
			"nftally run reports their last bytes and deletes their counters");
	free(res.gone);
	return 0;
}

/* remove reads targets this many at a time: the values of 1,000,000
 * addresses need not be held at once. */
#define COMMANDS_BLOCK 65536

/* t[at, at + k) as a set of targets of its own (the labels are t's). */
static struct targets targets_slice(const struct targets *t, size_t at, size_t k)
{
	return (struct targets){ .labels = t->labels, .nlabels = t->nlabels,
				 .v = t->v + at, .n = k };
}

/* dump reads this many addresses at a time, the next block while the
 * lines of the one before are printed: a third of a dump of 100,000
 * addresses was printing, with the CPUs that had read idle. */
#define DUMP_BLOCK 16384

struct dump_block {
	struct account *acct;
	struct targets part;
	struct counts c[DUMP_BLOCK];
	bool miss[DUMP_BLOCK];
	size_t missing;
	struct err e;
	int ret;
	pthread_t thread;
	bool threaded;
};

static void *dump_read_main(void *arg)
{
	struct dump_block *b = arg;

	b->ret = table_read(b->acct->nl, b->acct->cfg.table, &b->part, b->c, NULL, b->miss,
			    &b->missing, &b->e);
	return NULL;
}

/* Start reading targets [at, at + DUMP_BLOCK) into b: in a thread of its
 * own, or here if none can be started. */
static void dump_read_start(struct account *acct, struct dump_block *b, size_t at)
{
	size_t k = acct->tg.n - at < DUMP_BLOCK ? acct->tg.n - at : DUMP_BLOCK;

	b->acct = acct;
	b->part = targets_slice(&acct->tg, at, k);
	b->threaded = pthread_create(&b->thread, NULL, dump_read_main, b) == 0;
	if (!b->threaded)
		dump_read_main(b);
}

static int dump_read_wait(struct dump_block *b, struct err *e)
{
	if (b->threaded)
		pthread_join(b->thread, NULL);
	b->threaded = false;
	if (b->ret < 0)
		*e = b->e;
	return b->ret;
}

static void dump_print(struct account *acct, struct output *out, struct dump_block *b,
		       time_t now)
{
	char text[ADDR_STRLEN];

	for (size_t i = 0; i < b->part.n; i++) {
		const struct target *x = &b->part.v[i];
		struct counts c;

		addr_format(&x->addr, text);
		if (b->miss[i]) {
			output_event(out, now, "counter_missing", text,
				     "no counter for %s in table %s; run nftally apply",
				     text, nl_table_desc(acct->nl, acct->cfg.table).s);
			continue;
		}
		c = counts_wire(&b->c[i], acct->cfg.overhead);
		output_counter(out, now, -1, 0, targets_label(&acct->tg, x), text,
			       addr_names_label(acct->names, x->addr.cls), &c);
	}
}

/* dump: cumulative lines for every target. */
static int print_cumulative(struct account *acct, struct output *out, struct err *e)
{
	struct dump_block *b = calloc(2, sizeof(*b));
	time_t now = output_now();
	int ret = b ? 0 : err_setn(e, -ENOMEM, "out of memory");

	if (b && acct->tg.n)
		dump_read_start(acct, &b[0], 0);
	for (size_t at = 0, k = 0; b && at < acct->tg.n; at += DUMP_BLOCK, k ^= 1) {
		ret = dump_read_wait(&b[k], e);
		if (ret < 0)
			break;
		if (at + DUMP_BLOCK < acct->tg.n)
			dump_read_start(acct, &b[k ^ 1], at + DUMP_BLOCK);
		dump_print(acct, out, &b[k], now);
	}
	/* no thread runs here: a block's read starts only after the read
	 * before it was waited for and succeeded */
	free(b);
	if (ret < 0)
		return ret;
	ret = output_flush(out);
	if (ret < 0)
		e->msg[0] = '\0'; /* a failed write of the lines exits 3 silently */
	return ret;
}

static int require_table(struct account *acct, struct err *e)
{
	int ret = table_owned(acct->nl, acct->cfg.table, NULL, e);

	if (ret == 0)
		return err_set(e, "table %s does not exist; run nftally apply first",
			       nl_table_desc(acct->nl, acct->cfg.table).s);
	return ret < 0 ? ret : 0;
}

int commands_dump(struct account *acct, struct output *out, struct err *e)
{
	return require_table(acct, e) ?: print_cumulative(acct, out, e);
}

/* Counters of ours in the table for addresses the targets no longer name
 * (removed from the file but not yet drained): remove reports them too. */
struct strays {
	struct addr_names *an;
	const struct state *tg; /* the targets, as remove's entries */
	struct addr *v;
	size_t n;
};

static int stray_cb(const char *name, void *data)
{
	struct strays *s = data;
	enum addr_dir d;
	struct addr a, *p;

	if (addr_from_counter_name(s->an, name, &a, &d) < 0 || d != ADDR_IN ||
	    state_find(s->tg, &a))
		return 0;
	p = realloc(s->v, (s->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->v = p;
	s->v[s->n++] = a;
	return 0;
}

/* The values of the counters of t (and their handles, so that remove's
 * last report knows a recreated counter as run does) into all, labelled
 * by label(i, data); targets without counters are left out. */
static int add_read(struct account *acct, struct err *e, const struct targets *t,
		    const char *(*label)(size_t i, const void *data), const void *data,
		    struct state *all)
{
	struct counts *c = calloc(COMMANDS_BLOCK, sizeof(*c));
	uint64_t *h = calloc(2 * COMMANDS_BLOCK, sizeof(*h));
	bool *miss = calloc(COMMANDS_BLOCK, sizeof(*miss));
	size_t missing;
	int ret = c && h && miss ? 0 : -ENOMEM;

	for (size_t at = 0; at < t->n && ret == 0; at += COMMANDS_BLOCK) {
		size_t k = t->n - at < COMMANDS_BLOCK ? t->n - at : COMMANDS_BLOCK;
		struct targets part = targets_slice(t, at, k);

		ret = table_read(acct->nl, acct->cfg.table, &part, c, h, miss, &missing, e);
		for (size_t i = 0; ret == 0 && i < k; i++) {
			struct state_entry x = { .addr = part.v[i].addr, .c = c[i], .rep = true,
						 .h = { h[2 * i], h[2 * i + 1] } };

			if (!miss[i])
				ret = state_add_entry(all, &x, label(at + i, data));
		}
	}
	free(c);
	free(h);
	free(miss);
	return ret;
}

struct stray_labels {
	const struct strays *s;
	const struct state *done, *waiting;
};

struct missing {
	const struct state_entry *first;
	const bool *miss;
};

static bool entry_counted(const struct state_entry *x, void *data)
{
	const struct missing *m = data;

	return !m->miss[x - m->first];
}

/* The values (and handles) of the targets' entries of all, read by name
 * in blocks; the entries of targets without counters leave. */
static int read_targets(struct account *acct, struct err *e, struct state *all)
{
	struct nl_counter *c = malloc(2 * COMMANDS_BLOCK * sizeof(*c));
	bool *miss = calloc(all->n + 1, sizeof(*miss));
	int ret = c && miss ? 0 : -ENOMEM;

	for (size_t at = 0; at < all->n && ret == 0; at += COMMANDS_BLOCK) {
		size_t k = all->n - at < COMMANDS_BLOCK ? all->n - at : COMMANDS_BLOCK;

		ret = table_read_counters_of(acct->nl, acct->cfg.table, &all->v[at].addr,
					     sizeof(*all->v), k, c, e);
		for (size_t j = 0; j < k && ret == 0; j++) {
			const struct nl_counter *in = &c[2 * j], *o = &c[2 * j + 1];
			struct state_entry *x = &all->v[at + j];

			miss[at + j] = in->err || o->err;
			x->c = (struct counts){ in->bytes, in->packets, o->bytes, o->packets };
			x->h[0] = in->handle;
			x->h[1] = o->handle;
		}
	}
	if (ret == 0)
		state_filter(all, entry_counted, &(struct missing){ all->v, miss });
	free(c);
	free(miss);
	return ret;
}

static const char *stray_label(size_t i, const void *data)
{
	const struct stray_labels *l = data;
	const struct state_entry *x = state_find(l->done, &l->s->v[i]);

	if (x)
		return state_label(l->done, x);
	x = state_find(l->waiting, &l->s->v[i]);
	return x ? state_label(l->waiting, x) : "(unknown)";
}

/* The strays' values, read in one pipelined exchange, into all. */
static int add_strays(struct account *acct, struct err *e, const struct strays *s, const struct state *done,
		      const struct state *waiting, struct state *all)
{
	struct targets t = { .v = calloc(s->n + 1, sizeof(*t.v)), .n = s->n };
	struct stray_labels l = { s, done, waiting };
	int ret = t.v ? 0 : -ENOMEM;

	for (size_t i = 0; ret == 0 && i < s->n; i++)
		t.v[i].addr = s->v[i];
	if (ret == 0)
		ret = add_read(acct, e, &t, stray_label, &l, all);
	free(t.v);
	return ret;
}

/* The addresses of a state that are not targets: their counters may be
 * in the table (left for a run to drain), and are asked for by name. */
static int strays_of(struct strays *s, const struct state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		struct addr *p;

		if (state_find(s->tg, &st->v[i].addr))
			continue;
		p = realloc(s->v, (s->n + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->v[s->n++] = st->v[i].addr;
	}
	return 0;
}

static int addr_sort_cmp(const void *x, const void *y)
{
	return addr_cmp(x, y);
}

/* Every address with counters in the table, with its values and label
 * (from the targets, else from the last report, else from the addresses a
 * stopped run left waiting for their last report, else "(unknown)").
 * With a state or an apply's record of this table (known), the counters
 * without a target are looked for by name among the addresses those
 * files name; without, the table's counters are listed (a kernel dump,
 * quadratic in their number). */
static int read_everything(struct account *acct, struct err *e, const struct state *done,
			   const struct state *waiting, const struct state *rec, bool known,
			   struct state *all)
{
	struct strays s = { .an = nl_names(acct->nl), .tg = all };
	int ret = 0;

	if (ret == 0 && !known)
		ret = nl_list_counters(acct->nl, acct->cfg.table, stray_cb, &s);
	if (ret == 0 && known)
		ret = strays_of(&s, done) ?: strays_of(&s, waiting) ?: strays_of(&s, rec);
	if (ret == 0 && known && s.n > 1) {
		size_t k = 1;

		qsort(s.v, s.n, sizeof(*s.v), addr_sort_cmp);
		for (size_t i = 1; i < s.n; i++)
			if (addr_cmp(&s.v[i], &s.v[k - 1]) != 0)
				s.v[k++] = s.v[i];
		s.n = k;
	}
	if (ret == 0)
		ret = read_targets(acct, e, all);
	if (ret == 0)
		ret = add_strays(acct, e, &s, done, waiting, all);
	free(s.v);
	state_sort(all);
	if (ret < 0 && !e->msg[0])
		err_setn(e, ret, "reading table %s: %s", nl_table_desc(acct->nl, acct->cfg.table).s, table_strerror(ret));
	return ret;
}

static bool entry_stray(const struct state_entry *x, void *data)
{
	return !state_find(data, &x->addr);
}

/* Every target as an entry of all, its values still unknown, so that
 * the targets' memory goes before the states are loaded: 1,000,000
 * targets are ~50 MB beside the two states of ~90 MB a report needs. */
static int all_of_targets(struct account *acct, struct state *all)
{
	const struct targets *t = &acct->tg;
	int ret = 0;

	for (size_t i = 0; i < t->n && ret == 0; i++)
		ret = state_add_entry(all, &(struct state_entry){ .addr = t->v[i].addr, .rep = true },
				      targets_label(t, &t->v[i]));
	if (ret == 0)
		targets_finish(&acct->tg);
	return ret;
}

/* remove's sinks: the JSON lines, and the run's store if it has one.  No
 * backlog: a report the store cannot take stops remove (exit 3) with the
 * table and the pending report kept, so that the next remove (or run)
 * replays it; so does a store that exists but cannot be opened, before
 * any change. */
static int remove_sinks_open(struct account *acct, struct output *out,
			     struct err *e, int dirfd, const struct statedir_names *names,
			     char *path, struct sinks **s, struct sinks_acct *sa)
{
	struct sinks_conf c = {
		.out = out, .dirfd = dirfd, .dir = acct->cfg.state_dir,
		.store_path = account_store_path(&acct->cfg, path, PATH_MAX),
		.store_table = acct->cfg.account[0] ? NULL : acct->cfg.table,
		.host = acct->cfg.host[0] ? acct->cfg.host : NULL,
		.keep = { acct->cfg.keep_intervals, acct->cfg.keep_hours, acct->cfg.keep_days,
			  0, acct->cfg.keep_samples },
	};

	*sa = (struct sinks_acct){ .names = acct->names, .pending = names->pending,
				   .state = names->state };
	sinks_origin_here(&sa->origin, acct->cfg.host, acct->netns, acct->cfg.account,
			  acct->cfg.table);
	output_set_origin(out, &sa->origin);
	return sinks_open(s, &c, e);
}

/* remove: a last report, then the table goes.  If a run reported this
 * table, the last report is the deltas since its last report (with the next
 * seq), through the run's report path (sinks_commit), and its state files
 * go with the table; otherwise the cumulative values. */
int commands_remove(struct account *acct, struct output *out, struct err *e)
{
	struct statedir_names names;
	struct state done, all, waiting, rec;
	struct sinks *sinks = NULL;
	struct sinks_acct sa;
	char store_path[PATH_MAX];
	uint64_t handle = 0;
	int dirfd = -1, pid, ret = table_owned(acct->nl, acct->cfg.table, &handle, e);
	bool have_state = false, stale = false, have_rec = false;

	if (ret == 0) {
		log_msg(LOG_PRIO_INFO, "table %s does not exist; nothing to remove",
			nl_table_desc(acct->nl, acct->cfg.table).s);
		return 0;
	}
	if (ret < 0)
		return ret;
	state_init(&done);
	state_init(&all);
	state_init(&waiting);
	state_init(&rec);
	statedir_names_init(&names, acct->key);
	dirfd = statedir_open_existing(acct->cfg.state_dir);
	pid = run_holder(acct, dirfd, NULL, 0);
	if (pid != 0) {
		ret = pid > 0 ? err_setn(e, -EBUSY, "nftally run (pid %d) accounts table %s; "
					 "stop it first", pid, nl_table_desc(acct->nl, acct->cfg.table).s)
			      : err_setn(e, -EBUSY, "an nftally run accounts table %s; "
					 "stop it first", nl_table_desc(acct->nl, acct->cfg.table).s);
		goto out;
	}
	ret = all_of_targets(acct, &all);
	if (ret < 0) {
		err_setn(e, ret, "out of memory");
		goto out;
	}
	if (dirfd >= 0 && statedir_load(&done, acct->names, dirfd, acct->cfg.state_dir, names.state, e) == 0 &&
	    strcmp(done.table, acct->cfg.table) == 0)
		have_state = true;
	/* A state of an earlier table of this name (flushed and installed
	 * again since): its values say nothing about these counters. */
	char boot[40];

	char nsid[48] = "";

	statedir_boot_id(boot, sizeof(boot));
	account_netns_id(nsid, sizeof(nsid));
	if (have_state && state_of_other_table(&done, handle, boot, nsid)) {
		have_state = false;
		stale = true;
		output_event(out, output_now(), "state_stale", NULL,
			     "%s/%s belongs to an earlier table %s; printing the "
			     "cumulative counters", acct->cfg.state_dir, names.state, nl_table_desc(acct->nl, acct->cfg.table).s);
	}
	if (have_state) {
		/* the last report goes into the run's store too */
		ret = remove_sinks_open(acct, out, e, dirfd, &names, store_path, &sinks, &sa);
		if (ret < 0)
			goto out;
		/* a replay the store cannot take stops remove as its own report does */
		ret = sinks_replay(sinks, &sa, &done, e);
		if (ret < 0)
			goto out;
	}
	if (have_state && statedir_load(&waiting, acct->names, dirfd, acct->cfg.state_dir, names.draining, e) < 0) {
		state_finish(&waiting); /* only labels are lost */
		state_init(&waiting);
	}
	e->msg[0] = '\0';
	/* the record of the last apply, if it is of this very table; only
	 * its addresses without a target matter (strays_of) */
	have_rec = account_applied_load(acct, dirfd, names.applied, handle, boot, nsid, &rec,
					entry_stray, &all);
	ret = read_everything(acct, e, &done, &waiting, &rec, have_state || have_rec, &all);
	if (ret < 0)
		goto out;
	state_finish(&rec);
	state_finish(&waiting);
	all.time = all.base_time = output_now();
	all.overhead = acct->cfg.overhead;
	if (have_state) {
		/* the run's report path: pending, sinks, rename; then the table.
		 * Not in the store: the table and the pending report stay. */
		all.seq = done.seq + 1;
		snprintf(all.table, sizeof(all.table), "%s", acct->cfg.table);
		ret = sinks_commit(sinks, &sa, &done, &all, e);
		if (ret < 0)
			goto out;
	} else {
		for (size_t i = 0; i < all.n; i++) {
			char text[ADDR_STRLEN];
			struct counts w = counts_wire(&all.v[i].c, all.overhead);

			output_counter(out, all.time, -1, 0, state_label(&all, &all.v[i]),
				       addr_format(&all.v[i].addr, text),
				       addr_names_label(acct->names, all.v[i].addr.cls), &w);
		}
		fflush(out->f);
	}
	ret = table_remove(acct->nl, acct->cfg.table, e);
	if (ret == 0 && (have_state || stale)) {
		unlinkat(dirfd, names.state, 0);
		unlinkat(dirfd, names.pending, 0);
		unlinkat(dirfd, names.draining, 0);
	}
	if (ret == 0 && dirfd >= 0)
		unlinkat(dirfd, names.applied, 0);
out:
	if (dirfd >= 0)
		close(dirfd);
	state_finish(&done);
	state_finish(&all);
	state_finish(&waiting);
	state_finish(&rec);
	sinks_close(sinks);
	return ret < 0 ? ret : 0;
}
