// SPDX-License-Identifier: GPL-2.0-or-later
/* nftally's command line: a thin getopt layer that loads the config and the
 * targets, then dispatches to render, apply, dump, run or remove. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "app.h"
#include "build-config.h"
#include "config.h"
#include "hostaddrs.h"
#include "output.h"
#include "render.h"
#include "state.h"
#include "table.h"
#include "targets.h"

static const char usage_text[] =
"Usage: nftally [OPTIONS] COMMAND\n"
"Per-address traffic accounting with nftables.\n"
"\n"
"Commands:\n"
"  render   print the ruleset that apply would install; change nothing\n"
"  apply    install the table, or update it without resetting counters\n"
"  dump     print the cumulative counters, one JSON line per address\n"
"  run      apply, then print per-address deltas as JSON lines every interval\n"
"           until SIGTERM/SIGINT (SIGHUP re-reads the targets file)\n"
"  remove   print the counters a last time, then delete the table\n"
"\n"
"Options:\n"
"  -c, --config FILE      config file (default " CONFIG_DEFAULT_PATH ")\n"
"  -t, --targets FILE     targets file (default /etc/nftally/targets; without\n"
"                         one, this host's own addresses are accounted)\n"
"      --table NAME       nftables table name (default nftally)\n"
"      --template NAME    template name or path (default host)\n"
"      --interval SECONDS interval of run (default 60)\n"
"      --state-dir DIR    state directory (default /var/lib/nftally)\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 success, 1 bad input or a conflict (config, targets,\n"
"template, a foreign table, a table another run holds), 2 usage error,\n"
"3 kernel or system error.\n"
"The file formats and the JSON schema are described in docs/ of the source.\n";

int app_fail(struct app *a, int code)
{
	fprintf(stderr, "nftally: %s\n", a->e.msg);
	return code;
}

int app_code_for(int err)
{
	return err == -EINVAL || err == -EEXIST || err == -EBUSY ? EXIT_INPUT : EXIT_SYSTEM;
}

/* Config first, then command-line overrides on top of it. */
static int parse_args(struct app *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "targets", required_argument, NULL, 't' },
		{ "table", required_argument, NULL, 'T' },
		{ "template", required_argument, NULL, 'P' },
		{ "interval", required_argument, NULL, 'i' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *config = NULL, *over[6] = { 0 };
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 't': over[0] = optarg; break;
		case 'T': over[1] = optarg; break;
		case 'P': over[2] = optarg; break;
		case 'i': over[3] = optarg; break;
		case 's': over[4] = optarg; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': printf("nftally %s\n", NFTALLY_VERSION); exit(0);
		default: fputs(usage_text, stderr); exit(EXIT_USAGE);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "nftally: %s\n%s", optind < argc ? "too many arguments" :
			"missing command", usage_text);
		exit(EXIT_USAGE);
	}
	a->command = argv[optind];
	config_defaults(&a->cfg);
	ret = config_load(&a->cfg, config ? config : CONFIG_DEFAULT_PATH, config != NULL, &a->e);
	if (ret == 0 && over[0])
		ret = config_set_path(&a->cfg, "targets", over[0], "--targets", &a->e);
	if (ret == 0 && over[1])
		ret = config_set_table(&a->cfg, over[1], "--table", &a->e);
	if (ret == 0 && over[2])
		ret = config_set_path(&a->cfg, "template", over[2], "--template", &a->e);
	if (ret == 0 && over[3])
		ret = config_set_interval(&a->cfg, over[3], "--interval", &a->e);
	if (ret == 0 && over[4])
		ret = config_set_path(&a->cfg, "state_dir", over[4], "--state-dir", &a->e);
	return ret;
}

/* The targets file, or without one, the host's own addresses. */
int app_load_targets(struct app *a, struct targets *t)
{
	struct stat st;

	targets_init(t);
	/* Only a default file that does not exist means "no targets file": a
	 * dangling link or an unreadable file is an error, not a fallback. */
	if (!a->cfg.targets_explicit && lstat(a->cfg.targets, &st) != 0 && errno == ENOENT) {
		a->targets_name = "host addresses";
		return hostaddrs_collect(t, &a->e);
	}
	a->targets_name = a->cfg.targets;
	return targets_parse_file(t, a->cfg.targets, &a->e);
}

static int load_skeleton(struct app *a)
{
	char *text = NULL;
	size_t len = 0;
	int ret = render_load_template(a->cfg.template_name, a->cfg.template_dir,
				       &a->tmpl_path, &text, &len, &a->e);

	if (ret == 0)
		ret = render_skeleton(text, len, a->tmpl_path, a->cfg.table,
				      &a->skeleton, &a->e);
	free(text);
	return ret;
}

static int open_nl(struct app *a)
{
	a->nl = nl_create();
	if (!a->nl)
		return err_setn(&a->e, -errno, "cannot open a netlink socket: %s",
				table_strerror(-errno));
	return 0;
}

static int cmd_render(struct app *a)
{
	fputs(a->skeleton, stdout);
	render_data(stdout, a->cfg.table, &a->tg);
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

int app_apply(struct app *a, const struct targets *prev, uint64_t prev_handle,
	      table_drained_cb drained, void *data, struct table_result *res)
{
	struct table_apply_opts o = {
		.known = a->known, .nknown = a->nknown,
		.prev = prev, .prev_handle = prev_handle,
		.drained = drained, .data = data,
	};
	int ret = table_apply(a->nl, a->cfg.table, a->skeleton, a->tmpl_path,
			      &a->tg, &o, res, &a->e);

	return ret < 0 ? app_fail(a, app_code_for(ret)) : 0;
}

/* A running `nftally run` owns the table's reports: removed addresses must
 * be drained through it, so apply asks it to reload instead of applying
 * behind its back.  Returns -1 if no run holds the table. */
static int apply_via_run(struct app *a)
{
	char what[PATH_MAX];
	int dirfd = open(a->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int pid = dirfd < 0 ? 0 : state_lock_holder(dirfd, a->cfg.table, what, sizeof(what));

	if (dirfd >= 0)
		close(dirfd);
	if (pid <= 0)
		return -1;
	if (strcmp(what, a->targets_name) != 0) {
		err_set(&a->e, "nftally run (pid %d) accounts table inet %s from %s, not %s; "
			"change that file, or stop the run first", pid, a->cfg.table, what,
			a->targets_name);
		return app_fail(a, EXIT_INPUT);
	}
	if (kill(pid, SIGHUP) < 0) {
		err_set(&a->e, "cannot signal nftally run (pid %d): %s", pid, strerror(errno));
		return app_fail(a, EXIT_SYSTEM);
	}
	fprintf(stderr, "nftally: %s is valid; nftally run (pid %d) accounts table inet %s "
		"and was asked to apply it (see its output)\n", a->targets_name, pid,
		a->cfg.table);
	return 0;
}

static int keep_counters(const struct table_result *res, void *data)
{
	return 1;
}

/* Has a run reported this table before?  Then it must drain what leaves,
 * and what it reported tells apply which counters to look for. */
static bool run_has_state(struct app *a)
{
	char file[64];
	struct state st;
	struct err e;
	int dirfd = open(a->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool found = false;

	if (dirfd < 0)
		return false;
	snprintf(file, sizeof(file), "%s.state", a->cfg.table);
	state_init(&st);
	found = faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (found && state_load(&st, dirfd, a->cfg.state_dir, file, &e) == 0 && st.n) {
		a->known = calloc(st.n, sizeof(*a->known));
		for (size_t i = 0; a->known && i < st.n; i++)
			a->known[a->nknown++] = st.v[i].addr;
	}
	state_finish(&st);
	close(dirfd);
	return found;
}

static int cmd_apply(struct app *a)
{
	struct table_result res;
	bool keep = run_has_state(a);
	int ret = apply_via_run(a);

	if (ret >= 0)
		return ret;
	ret = app_apply(a, NULL, 0, keep ? keep_counters : NULL, NULL, &res);
	if (ret)
		return ret;
	fprintf(stderr, "nftally: table inet %s %s: %zu addresses (%zu new, %zu removed)\n",
		a->cfg.table, res.created ? "installed" : "updated",
		a->tg.n, res.added, res.ngone);
	if (keep && res.ngone)
		fprintf(stderr, "nftally: the removed addresses stopped counting; the next "
			"nftally run reports their last bytes and deletes their counters\n");
	free(res.gone);
	return 0;
}

/* Cumulative lines for every target; shared by dump and remove. */
static int print_cumulative(struct app *a)
{
	struct counts *c = calloc(a->tg.n + 1, sizeof(*c));
	bool *miss = calloc(a->tg.n + 1, sizeof(*miss));
	time_t now = output_now();
	char text[ADDR_STRLEN];
	size_t missing;
	int ret = -ENOMEM;

	if (c && miss)
		ret = table_read(a->nl, a->cfg.table, &a->tg, c, miss, &missing, &a->e);
	else
		err_setn(&a->e, ret, "out of memory");
	for (size_t i = 0; ret == 0 && i < a->tg.n; i++) {
		const struct target *x = &a->tg.v[i];

		addr_format(&x->addr, text);
		if (miss[i])
			output_event(stdout, now, "counter_missing", text,
				     "no counter for %s in table inet %s; run nftally apply",
				     text, a->cfg.table);
		else
			output_counter(stdout, now, -1, 0, targets_label(&a->tg, x), text, &c[i]);
	}
	free(c);
	free(miss);
	if (ret < 0)
		return app_fail(a, app_code_for(ret));
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

static int require_table(struct app *a)
{
	int ret = table_owned(a->nl, a->cfg.table, NULL, &a->e);

	if (ret == 0)
		err_set(&a->e, "table inet %s does not exist; run nftally apply first",
			a->cfg.table);
	return ret <= 0 ? app_fail(a, ret == 0 ? EXIT_INPUT : app_code_for(ret)) : 0;
}

static int cmd_dump(struct app *a)
{
	return require_table(a) ?: print_cumulative(a);
}

/* Counters of ours in the table for addresses the targets no longer name
 * (removed from the file but not yet drained): remove reports them too. */
struct strays {
	const struct targets *tg;
	struct addr *v;
	size_t n;
};

static int stray_cb(const char *name, void *data)
{
	struct strays *s = data;
	enum addr_dir d;
	struct addr a, *p;

	if (addr_from_counter_name(name, &a, &d) < 0 || d != ADDR_IN || targets_find(s->tg, &a))
		return 0;
	p = realloc(s->v, (s->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->v = p;
	s->v[s->n++] = a;
	return 0;
}

/* Labels of strays come from the last state a run saved, if any. */
static const char *stray_label(const struct state *st, const struct addr *a)
{
	const struct state_entry *x = state_find(st, a);

	return x ? x->label : "";
}

static int print_strays(struct app *a)
{
	struct strays s = { .tg = &a->tg };
	struct state st;
	char file[64], text[ADDR_STRLEN];
	int dirfd, ret = nl_list_counters(a->nl, a->cfg.table, stray_cb, &s);

	state_init(&st);
	snprintf(file, sizeof(file), "%s.state", a->cfg.table);
	dirfd = open(a->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd >= 0 && state_load(&st, dirfd, a->cfg.state_dir, file, &a->e) < 0)
		state_init(&st);
	for (size_t i = 0; ret == 0 && i < s.n; i++) {
		char in[ADDR_NAMELEN], out[ADDR_NAMELEN];
		const char *names[2] = { addr_counter_name(&s.v[i], ADDR_IN, in),
					 addr_counter_name(&s.v[i], ADDR_OUT, out) };
		struct nl_counter c[2];

		ret = nl_read_counters(a->nl, a->cfg.table, names, 2, c);
		if (ret == 0 && !c[0].err && !c[1].err)
			output_counter(stdout, output_now(), -1, 0, stray_label(&st, &s.v[i]),
				       addr_format(&s.v[i], text),
				       &(struct counts){ c[0].bytes, c[0].packets,
							 c[1].bytes, c[1].packets });
	}
	if (dirfd >= 0)
		close(dirfd);
	state_finish(&st);
	free(s.v);
	if (ret < 0) {
		err_setn(&a->e, ret, "reading table inet %s: %s", a->cfg.table, table_strerror(ret));
		return app_fail(a, app_code_for(ret));
	}
	return 0;
}

static int cmd_remove(struct app *a)
{
	int ret = table_owned(a->nl, a->cfg.table, NULL, &a->e);

	if (ret == 0) {
		fprintf(stderr, "nftally: table inet %s does not exist; nothing to remove\n",
			a->cfg.table);
		return 0;
	}
	if (ret < 0)
		return app_fail(a, app_code_for(ret));
	ret = print_cumulative(a);
	if (ret == 0)
		ret = print_strays(a);
	if (ret)
		return ret;
	ret = table_remove(a->nl, a->cfg.table, &a->e);
	return ret < 0 ? app_fail(a, app_code_for(ret)) : 0;
}

int main(int argc, char **argv)
{
	struct app a = { 0 };
	int ret, code = 0;

	ret = parse_args(&a, argc, argv);
	if (ret < 0)
		return app_fail(&a, EXIT_INPUT);
	if (strcmp(a.command, "render") && strcmp(a.command, "apply") &&
	    strcmp(a.command, "dump") && strcmp(a.command, "run") &&
	    strcmp(a.command, "remove")) {
		fprintf(stderr, "nftally: unknown command '%s'\n%s", a.command, usage_text);
		return EXIT_USAGE;
	}
	ret = app_load_targets(&a, &a.tg);
	if (ret == 0 && (!strcmp(a.command, "render") || !strcmp(a.command, "apply") ||
			 !strcmp(a.command, "run")))
		ret = load_skeleton(&a);
	if (ret < 0) { /* every file problem is bad input, even a missing file */
		code = app_fail(&a, EXIT_INPUT);
		goto out;
	}
	if (!strcmp(a.command, "render")) {
		code = cmd_render(&a);
		goto out;
	}
	if (open_nl(&a) < 0) {
		code = app_fail(&a, EXIT_SYSTEM);
		goto out;
	}
	if (!strcmp(a.command, "apply"))
		code = cmd_apply(&a);
	else if (!strcmp(a.command, "dump"))
		code = cmd_dump(&a);
	else if (!strcmp(a.command, "run"))
		code = run_main(&a);
	else
		code = cmd_remove(&a);
out:
	nl_destroy(a.nl);
	targets_finish(&a.tg);
	free(a.tmpl_path);
	free(a.skeleton);
	free(a.known);
	return code;
}
