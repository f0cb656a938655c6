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

#include "account.h"
#include "build-config.h"
#include "claim.h"
#include "config.h"
#include "classes.h"
#include "file.h"
#include "ipset.h"
#include "log.h"
#include "output.h"
#include "query.h"
#include "render.h"
#include "run.h"
#include "sinks.h"
#include "state.h"
#include "statedir.h"
#include "store.h"
#include "table.h"
#include "targets.h"

enum {
	EXIT_INPUT = 1,  /* bad config, targets, template; a foreign or busy table */
	EXIT_USAGE = 2,
	EXIT_SYSTEM = 3, /* kernel, netlink, permissions */
};

/* What one invocation holds: the account it works on, and the command's
 * own options.  Only this file knows exit codes: the modules below return
 * negative errnos with a message in e, which cli_fail prints once. */
struct cli {
	struct account acct;
	const char *command;
	struct err e;
	struct output out;   /* the JSON lines, on stdout */
	struct addr_names names; /* the account's class names (acct.names) */
	struct report_opts ro;
	const char *const *args; /* import-ipset's set names */
	size_t nargs;
};

static const char usage_text[] =
"Usage: nftally [OPTIONS] COMMAND\n"
"Per-address traffic accounting with nftables.\n"
"\n"
"Commands:\n"
"  render   print the ruleset that apply would install; change nothing\n"
"  apply    install the table, or update it without resetting counters\n"
"  dump     print the cumulative counters, one JSON line per address\n"
"  run      apply, then print per-address deltas as JSON lines every interval\n"
"           until SIGTERM/SIGINT; follows the targets file, SIGHUP resyncs\n"
"  remove   print the counters a last time, then delete the table\n"
"  report   totals per hour, day or month from the store (see help report)\n"
"  import-ipset [SET...]  `ipset save` on stdin to a targets file on stdout\n"
"  help [COMMAND]  this text, or what COMMAND does (also COMMAND --help)\n"
"\n"
"Options:\n"
"  -c, --config FILE      config file (default " CONFIG_DEFAULT_PATH ")\n"
"  -t, --targets FILE     targets file (default /etc/nftally/targets; without\n"
"                         one, this host's own addresses are accounted)\n"
"      --table NAME       nftables table name (default nftally)\n"
"      --template NAME    template name or path (default host)\n"
"      --interval SECONDS interval of run (default 60)\n"
"      --state-dir DIR    state directory (default /var/lib/nftally)\n"
"      --store PATH|off   run's database (default STATE_DIR/TABLE.db)\n"
"      --prom-file PATH   run writes Prometheus metrics to PATH every interval\n"
"      --listen ADDR:PORT run serves Prometheus metrics at /metrics\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 success, 1 bad input or a conflict (config, targets,\n"
"template, a foreign table, a table another run holds), 2 usage error,\n"
"3 kernel or system error.\n"
"See nftally(8), nftally.conf(5), nftally-targets(5), and docs/ of the source.\n";

struct command_help {
	const char *name, *text;
};

static const struct command_help command_help[] = {
	{ "render",
	  "Usage: nftally [OPTIONS] render\n"
	  "Print the ruleset apply would install: one generated line (the maps\n"
	  "nftally fills, the chains account_in and account_out with the policy:\n"
	  "exclusions, interfaces, groups, classes), the template with the table\n"
	  "name substituted, then one `add counter` and one `add element` per\n"
	  "address, direction and class.  Changes nothing and needs no privileges.\n"
	  "Labels never appear in it.\n" },
	{ "apply",
	  "Usage: nftally [OPTIONS] apply\n"
	  "Install table inet TABLE from the template and the targets, or bring an\n"
	  "existing one up to date in atomic transactions: new addresses get\n"
	  "counters, addresses that stay keep theirs, addresses that leave stop\n"
	  "counting.  If `nftally run` accounts the table, it is asked (SIGHUP) to\n"
	  "apply the file itself so that it reports the last bytes of what leaves;\n"
	  "if a run reported the table before, the counters of what leaves are kept\n"
	  "for the next run to report.  A table of that name without nftally's\n"
	  "marker is never touched.  Bad input changes nothing (exit 1).\n" },
	{ "dump",
	  "Usage: nftally [OPTIONS] dump\n"
	  "Print the cumulative counters of every target, one JSON line per\n"
	  "address (time, label, addr, in_bytes, in_packets, out_bytes,\n"
	  "out_packets).  Changes nothing.\n" },
	{ "run",
	  "Usage: nftally [OPTIONS] run\n"
	  "Apply, then at every multiple of the interval print one JSON line per\n"
	  "address with the deltas since the previous report (and event lines).\n"
	  "Reports are kept in the state directory, so a restart, even after\n"
	  "kill -9, continues where the last report ended.  Changes of the targets\n"
	  "file are applied by themselves; SIGHUP resyncs the whole table;\n"
	  "SIGTERM/SIGINT print the last deltas and exit 0.  The table stays.\n" },
	{ "report",
	  "Usage: nftally [OPTIONS] report [--by hour|day|month] [--label L] [--addr A]\n"
	  "                       [--class C]\n"
	  "                       [--per-addr] [--since T] [--until T] [--utc]\n"
	  "                       [--format table|json|csv] [--human]\n"
	  "Totals of in and out bytes and packets per period and label (and per\n"
	  "address with --per-addr or --addr, and per network class when classes\n"
	  "are configured) from the store that `nftally run`\n"
	  "writes.  --by defaults to day.  Periods are in local time unless --utc;\n"
	  "a month is a calendar month.  T is YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS],\n"
	  "YYYY-MM or @UNIXSECONDS; --since includes, --until excludes.  Data rolled\n"
	  "up to days or months is shown at that resolution.  Reads only; safe\n"
	  "while run writes.\n" },
	{ "import-ipset",
	  "Usage: ipset save | nftally import-ipset [SET...] > targets\n"
	  "Write a targets file with one line per member of the named sets (default:\n"
	  "every hash:ip, hash:net and bitmap:ip set; other sets are skipped with a\n"
	  "note on stderr): the member's comment as its label (blanks become '_'),\n"
	  "or else the set's name.  Exceptions (nomatch), ranges, an address in two\n"
	  "sets, and anything a targets file refuses are errors naming the input\n"
	  "line; nothing is written then.  Needs no privileges.\n" },
	{ "remove",
	  "Usage: nftally [OPTIONS] remove\n"
	  "Print a last report (the deltas since the last report of a run, or the\n"
	  "cumulative counters if no run reported the table), then delete the\n"
	  "table and the run's state.  Refused while a run accounts the table.\n" },
};

/* `nftally help CMD`, `nftally CMD --help`: 0, or 2 for an unknown command. */
static int print_help(const char *command)
{
	for (size_t i = 0; command && i < sizeof(command_help) / sizeof(command_help[0]); i++)
		if (strcmp(command, command_help[i].name) == 0) {
			fputs(command_help[i].text, stdout);
			fputs("\nOptions: see nftally --help.\n", stdout);
			return 0;
		}
	if (command) {
		fprintf(stderr, "nftally: unknown command '%s'\n%s", command, usage_text);
		return EXIT_USAGE;
	}
	fputs(usage_text, stdout);
	return 0;
}

/* Print a->e as "nftally: MESSAGE" on stderr (if it says something);
 * returns code. */
static int cli_fail(struct cli *a, int code)
{
	if (a->e.msg[0])
		log_msg(LOG_PRIO_ERR, "%s", a->e.msg);
	return code;
}

/* Exit code for a negative errno from the modules. */
static int cli_code_for(int err)
{
	return err == -EINVAL || err == -EEXIST || err == -EBUSY ? EXIT_INPUT : EXIT_SYSTEM;
}

/* Config first, then command-line overrides on top of it. */
static int parse_args(struct cli *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "targets", required_argument, NULL, 't' },
		{ "table", required_argument, NULL, 'T' },
		{ "template", required_argument, NULL, 'P' },
		{ "interval", required_argument, NULL, 'i' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "prom-file", required_argument, NULL, 'F' },
		{ "listen", required_argument, NULL, 'L' },
		{ "by", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "addr", required_argument, NULL, 'a' },
		{ "per-addr", no_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 'u' },
		{ "utc", no_argument, NULL, 'U' },
		{ "format", required_argument, NULL, 'o' },
		{ "human", no_argument, NULL, 'H' },
		{ "class", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *config = NULL, *over[8] = { 0 };
	struct report_opts *ro = &a->ro;
	bool help = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 't': over[0] = optarg; break;
		case 'T': over[1] = optarg; break;
		case 'P': over[2] = optarg; break;
		case 'i': over[3] = optarg; break;
		case 's': over[4] = optarg; break;
		case 'S': over[5] = optarg; break;
		case 'F': over[6] = optarg; break;
		case 'L': over[7] = optarg; break;
		case 'b': ro->by = optarg; ro->any = true; break;
		case 'l': ro->label = optarg; ro->any = true; break;
		case 'a': ro->addr = optarg; ro->any = true; break;
		case 'p': ro->per_addr = ro->any = true; break;
		case 'f': ro->since = optarg; ro->any = true; break;
		case 'u': ro->until = optarg; ro->any = true; break;
		case 'U': ro->utc = ro->any = true; break;
		case 'o': ro->format = optarg; ro->any = true; break;
		case 'H': ro->human = ro->any = true; break;
		case 'K': ro->cls = optarg; ro->any = true; break;
		case 'h': help = true; break;
		case 'V': printf("nftally %s\n", NFTALLY_VERSION); exit(0);
		default: fputs(usage_text, stderr); exit(EXIT_USAGE);
		}
	}
	if (help)
		exit(print_help(optind < argc ? argv[optind] : NULL));
	if (optind < argc && strcmp(argv[optind], "help") == 0)
		exit(print_help(optind + 1 < argc ? argv[optind + 1] : NULL));
	if (optind < argc && strcmp(argv[optind], "import-ipset") == 0) {
		a->args = (const char *const *)argv + optind + 1;
		a->nargs = (size_t)(argc - optind - 1);
		argc = optind + 1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "nftally: %s\n%s", optind < argc ? "too many arguments" :
			"missing command", usage_text);
		exit(EXIT_USAGE);
	}
	a->command = argv[optind];
	if (strcmp(a->command, "run") == 0 && run_block_signals() < 0) {
		fprintf(stderr, "nftally: cannot block signals: %s\n", strerror(errno));
		exit(EXIT_SYSTEM);
	}
	if (ro->any && strcmp(a->command, "report") != 0) {
		fprintf(stderr, "nftally: --by, --label, --addr, --class, --per-addr, --since, "
			"--until, --utc, --format and --human are options of report\n");
		exit(EXIT_USAGE);
	}
	config_defaults(&a->acct.cfg);
	if (strcmp(a->command, "import-ipset") == 0)
		return 0; /* needs no configuration */
	ret = config_load(&a->acct.cfg, config ? config : CONFIG_DEFAULT_PATH, config != NULL, &a->e);
	if (ret == 0 && over[0])
		ret = config_set_path(&a->acct.cfg, "targets", over[0], "--targets", &a->e);
	if (ret == 0 && over[1])
		ret = config_set_table(&a->acct.cfg, over[1], "--table", &a->e);
	if (ret == 0 && over[2])
		ret = config_set_path(&a->acct.cfg, "template", over[2], "--template", &a->e);
	if (ret == 0 && over[3])
		ret = config_set_interval(&a->acct.cfg, over[3], "--interval", &a->e);
	if (ret == 0 && over[4])
		ret = config_set_path(&a->acct.cfg, "state_dir", over[4], "--state-dir", &a->e);
	if (ret == 0 && over[5])
		ret = config_set_path(&a->acct.cfg, "store", over[5], "--store", &a->e);
	if (ret == 0 && over[6])
		ret = config_set_path(&a->acct.cfg, "prom_file", over[6], "--prom-file", &a->e);
	if (ret == 0 && over[7])
		ret = config_set_listen(&a->acct.cfg, over[7], "--listen", &a->e);
	return ret;
}

static int cmd_render(struct cli *a)
{
	fputs(a->acct.skeleton, stdout);
	render_data(stdout, a->acct.names, a->acct.family, a->acct.cfg.table, &a->acct.tg);
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

/* The run accounting the table: the holder of its claim in this network
 * namespace, whatever its state directory, else the holder of the lock in
 * ours (a run in another namespace with our state directory).  0 if none,
 * -1 if a run holds the claim but its PID cannot be seen.  what (if not
 * NULL) gets its targets, or "" if they cannot be read. */
static int run_holder(struct cli *a, int dirfd, char *what, size_t size)
{
	int pid = claim_holder(nl_family_name(a->acct.nl), a->acct.cfg.table);

	if (what && size)
		what[0] = '\0';
	if (pid > 0 && what && claim_holder_what(pid, a->acct.cfg.table, what, size) < 0 &&
	    dirfd >= 0 && statedir_lock_holder(dirfd, a->acct.cfg.table, what, size) != pid)
		what[0] = '\0';
	if (pid != 0 || dirfd < 0)
		return pid;
	return statedir_lock_holder(dirfd, a->acct.cfg.table, what, size);
}

/* A running `nftally run` owns the table's reports: removed addresses must
 * be drained through it, so apply asks it to reload instead of applying
 * behind its back.  Returns -1 if no run holds the table. */
static int apply_via_run(struct cli *a)
{
	char what[PATH_MAX], mine[PATH_MAX];
	int dirfd = statedir_open_existing(a->acct.cfg.state_dir);
	int pid = run_holder(a, dirfd, what, sizeof(what));

	if (dirfd >= 0)
		close(dirfd);
	if (pid == 0)
		return -1;
	if (pid < 0 || !what[0]) {
		char who[32] = "";

		if (pid > 0)
			snprintf(who, sizeof(who), " (pid %d)", pid);
		err_set(&a->e, "nftally run%s accounts table %s, but which targets file it "
			"follows cannot be read from here; stop it first", who,
			nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
		return cli_fail(a, EXIT_INPUT);
	}
	if (strcmp(what, account_targets_id(&a->acct, mine, sizeof(mine))) != 0) {
		err_set(&a->e, "nftally run (pid %d) accounts table %s from %s, not %s; "
			"change that file, or stop the run first", pid, nl_table_desc(a->acct.nl, a->acct.cfg.table).s, what,
			a->acct.targets_name);
		return cli_fail(a, EXIT_INPUT);
	}
	if (kill(pid, SIGHUP) < 0) {
		err_set(&a->e, "cannot signal nftally run (pid %d): %s", pid, strerror(errno));
		return cli_fail(a, EXIT_SYSTEM);
	}
	log_msg(LOG_PRIO_INFO, "%s is valid; nftally run (pid %d) accounts table %s "
		"and was asked to apply it (see its output)", a->acct.targets_name, pid,
		nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
	return 0;
}

static int keep_counters(const struct table_result *res, void *data)
{
	return 1;
}

/* Has a run reported this table before?  Then it must drain what leaves,
 * and what it reported (into o->known, the caller's to free) tells apply
 * which counters to look for. */
static bool run_has_state(struct cli *a, struct table_apply_opts *o)
{
	struct addr *known = NULL;
	struct statedir_names names;
	struct state st;
	struct err e;
	int dirfd = statedir_open_existing(a->acct.cfg.state_dir);
	bool found = false;

	if (dirfd < 0)
		return false;
	statedir_names_init(&names, a->acct.cfg.table);
	state_init(&st);
	found = faccessat(dirfd, names.state, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (found && statedir_load(&st, a->acct.names, dirfd, a->acct.cfg.state_dir, names.state, &e) == 0 && st.n) {
		known = calloc(st.n, sizeof(*known));
		for (size_t i = 0; known && i < st.n; i++)
			known[o->nknown++] = st.v[i].addr;
	}
	o->known = known;
	state_finish(&st);
	close(dirfd);
	return found;
}

static int cmd_apply(struct cli *a)
{
	struct table_apply_opts o = { 0 };
	struct table_result res;
	bool keep = run_has_state(a, &o);
	int ret = apply_via_run(a);

	if (ret >= 0) {
		free((void *)o.known);
		return ret;
	}
	o.drained = keep ? keep_counters : NULL;
	ret = account_apply(&a->acct, &o, NULL, &res, &a->e);
	free((void *)o.known);
	if (ret < 0)
		return cli_fail(a, cli_code_for(ret));
	log_msg(LOG_PRIO_INFO, "table %s %s: %zu addresses (%zu new, %zu removed)",
		nl_table_desc(a->acct.nl, a->acct.cfg.table).s, res.created ? "installed" : "updated",
		a->acct.tg.n, res.added, res.ngone);
	if (keep && res.ngone)
		log_msg(LOG_PRIO_INFO, "the removed addresses stopped counting; the next "
			"nftally run reports their last bytes and deletes their counters");
	free(res.gone);
	return 0;
}

/* Cumulative lines for every target; shared by dump and remove. */
static int print_cumulative(struct cli *a)
{
	struct counts *c = calloc(a->acct.tg.n + 1, sizeof(*c));
	bool *miss = calloc(a->acct.tg.n + 1, sizeof(*miss));
	time_t now = output_now();
	char text[ADDR_STRLEN];
	size_t missing;
	int ret = -ENOMEM;

	if (c && miss)
		ret = table_read(a->acct.nl, a->acct.cfg.table, &a->acct.tg, c, NULL, miss, &missing, &a->e);
	else
		err_setn(&a->e, ret, "out of memory");
	for (size_t i = 0; ret == 0 && i < a->acct.tg.n; i++) {
		const struct target *x = &a->acct.tg.v[i];

		addr_format(&x->addr, text);
		if (miss[i])
			output_event(&a->out, now, "counter_missing", text,
				     "no counter for %s in table %s; run nftally apply",
				     text, nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
		else
			c[i] = counts_wire(&c[i], a->acct.cfg.overhead);
		if (!miss[i])
			output_counter(&a->out, now, -1, 0, targets_label(&a->acct.tg, x), text,
				       addr_names_label(a->acct.names, x->addr.cls), &c[i]);
	}
	free(c);
	free(miss);
	if (ret < 0)
		return cli_fail(a, cli_code_for(ret));
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

static int require_table(struct cli *a)
{
	int ret = table_owned(a->acct.nl, a->acct.cfg.table, NULL, &a->e);

	if (ret == 0)
		err_set(&a->e, "table %s does not exist; run nftally apply first",
			nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
	return ret <= 0 ? cli_fail(a, ret == 0 ? EXIT_INPUT : cli_code_for(ret)) : 0;
}

static int cmd_dump(struct cli *a)
{
	return require_table(a) ?: print_cumulative(a);
}

/* Counters of ours in the table for addresses the targets no longer name
 * (removed from the file but not yet drained): remove reports them too. */
struct strays {
	struct addr_names *an;
	const struct targets *tg;
	struct addr *v;
	size_t n;
};

static int stray_cb(const char *name, void *data)
{
	struct strays *s = data;
	enum addr_dir d;
	struct addr a, *p;

	if (addr_from_counter_name(s->an, name, &a, &d) < 0 || d != ADDR_IN ||
	    targets_find(s->tg, &a))
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
static int add_read(struct cli *a, const struct targets *t,
		    const char *(*label)(size_t i, const void *data), const void *data,
		    struct state *all)
{
	struct counts *c = calloc(t->n + 1, sizeof(*c));
	uint64_t *h = calloc(2 * t->n + 1, sizeof(*h));
	bool *miss = calloc(t->n + 1, sizeof(*miss));
	size_t missing;
	int ret = c && h && miss ? 0 : -ENOMEM;

	if (ret == 0)
		ret = table_read(a->acct.nl, a->acct.cfg.table, t, c, h, miss, &missing, &a->e);
	for (size_t i = 0; ret == 0 && i < t->n; i++) {
		struct state_entry x = { .addr = t->v[i].addr, .c = c[i], .rep = true,
					 .h = { h[2 * i], h[2 * i + 1] } };

		if (!miss[i])
			ret = state_add_entry(all, &x, label(i, data));
	}
	free(c);
	free(h);
	free(miss);
	return ret;
}

static const char *target_label(size_t i, const void *data)
{
	const struct targets *t = data;

	return targets_label(t, &t->v[i]);
}

struct stray_labels {
	const struct strays *s;
	const struct state *done, *waiting;
};

static const char *stray_label(size_t i, const void *data)
{
	const struct stray_labels *l = data;
	const struct state_entry *x = state_find(l->done, &l->s->v[i]);

	if (!x)
		x = state_find(l->waiting, &l->s->v[i]);
	return x ? x->label : "(unknown)";
}

/* The strays' values, read in one pipelined exchange, into all. */
static int add_strays(struct cli *a, const struct strays *s, const struct state *done,
		      const struct state *waiting, struct state *all)
{
	struct targets t = { .v = calloc(s->n + 1, sizeof(*t.v)), .n = s->n };
	struct stray_labels l = { s, done, waiting };
	int ret = t.v ? 0 : -ENOMEM;

	for (size_t i = 0; ret == 0 && i < s->n; i++)
		t.v[i].addr = s->v[i];
	if (ret == 0)
		ret = add_read(a, &t, stray_label, &l, all);
	free(t.v);
	return ret;
}

/* Every address with counters in the table, with its values and label
 * (from the targets, else from the last report, else from the addresses a
 * stopped run left waiting for their last report, else "(unknown)"). */
static int read_everything(struct cli *a, const struct state *done,
			   const struct state *waiting, struct state *all)
{
	struct strays s = { .an = nl_names(a->acct.nl), .tg = &a->acct.tg };
	int ret = add_read(a, &a->acct.tg, target_label, &a->acct.tg, all);

	if (ret == 0)
		ret = nl_list_counters(a->acct.nl, a->acct.cfg.table, stray_cb, &s);
	if (ret == 0)
		ret = add_strays(a, &s, done, waiting, all);
	free(s.v);
	state_sort(all);
	if (ret < 0 && !a->e.msg[0])
		err_setn(&a->e, ret, "reading table %s: %s", nl_table_desc(a->acct.nl, a->acct.cfg.table).s, table_strerror(ret));
	return ret;
}

/* remove's sinks: the JSON lines, and the run's store if it has one.  No
 * backlog: a report the store cannot take stops remove (exit 3) with the
 * table and the pending report kept, so that the next remove (or run)
 * replays it; so does a store that exists but cannot be opened, before
 * any change. */
static int remove_sinks_open(struct cli *a, int dirfd, const struct statedir_names *names,
			     char *path, struct sinks **s)
{
	struct sinks_conf c = {
		.out = &a->out, .names = a->acct.names, .dirfd = dirfd, .dir = a->acct.cfg.state_dir,
		.pending = names->pending, .state = names->state,
		.store_path = account_store_path(&a->acct.cfg, path, PATH_MAX),
		.keep = { a->acct.cfg.keep_intervals, a->acct.cfg.keep_hours, a->acct.cfg.keep_days },
	};

	sinks_origin_here(&c.origin, a->acct.cfg.table);
	return sinks_open(s, &c, &a->e);
}

/* remove: a last report, then the table goes.  If a run reported this
 * table, the last report is the deltas since its last report (with the next
 * seq), through the run's report path (sinks_commit), and its state files
 * go with the table; otherwise the cumulative values. */
static int cmd_remove(struct cli *a)
{
	struct statedir_names names;
	struct state done, all, waiting;
	struct sinks *sinks = NULL;
	char store_path[PATH_MAX];
	uint64_t handle = 0;
	int dirfd = -1, pid, ret = table_owned(a->acct.nl, a->acct.cfg.table, &handle, &a->e);
	bool have_state = false, stale = false;

	if (ret == 0) {
		log_msg(LOG_PRIO_INFO, "table %s does not exist; nothing to remove",
			nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
		return 0;
	}
	if (ret < 0)
		return cli_fail(a, cli_code_for(ret));
	state_init(&done);
	state_init(&all);
	state_init(&waiting);
	statedir_names_init(&names, a->acct.cfg.table);
	dirfd = statedir_open_existing(a->acct.cfg.state_dir);
	pid = run_holder(a, dirfd, NULL, 0);
	if (pid != 0) {
		ret = pid > 0 ? err_setn(&a->e, -EBUSY, "nftally run (pid %d) accounts table %s; "
					 "stop it first", pid, nl_table_desc(a->acct.nl, a->acct.cfg.table).s)
			      : err_setn(&a->e, -EBUSY, "an nftally run accounts table %s; "
					 "stop it first", nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
		goto out;
	}
	if (dirfd >= 0 && statedir_load(&done, a->acct.names, dirfd, a->acct.cfg.state_dir, names.state, &a->e) == 0 &&
	    strcmp(done.table, a->acct.cfg.table) == 0)
		have_state = true;
	/* A state of an earlier table of this name (flushed and installed
	 * again since): its values say nothing about these counters. */
	char boot[40];

	statedir_boot_id(boot, sizeof(boot));
	if (have_state && ((done.handle && handle && done.handle != handle) ||
			   (done.boot[0] && strcmp(done.boot, boot) != 0))) {
		have_state = false;
		stale = true;
		output_event(&a->out, output_now(), "state_stale", NULL,
			     "%s/%s belongs to an earlier table %s; printing the "
			     "cumulative counters", a->acct.cfg.state_dir, names.state, nl_table_desc(a->acct.nl, a->acct.cfg.table).s);
	}
	if (have_state) {
		/* the last report goes into the run's store too */
		ret = remove_sinks_open(a, dirfd, &names, store_path, &sinks);
		if (ret < 0)
			goto out;
		/* a replay the store cannot take stops remove as its own report does */
		ret = sinks_replay(sinks, &done, &a->e);
		if (ret < 0)
			goto out;
	}
	if (have_state && statedir_load(&waiting, a->acct.names, dirfd, a->acct.cfg.state_dir, names.draining, &a->e) < 0) {
		state_finish(&waiting); /* only labels are lost */
		state_init(&waiting);
	}
	a->e.msg[0] = '\0';
	ret = read_everything(a, &done, &waiting, &all);
	if (ret < 0)
		goto out;
	all.time = all.base_time = output_now();
	all.overhead = a->acct.cfg.overhead;
	if (have_state) {
		/* the run's report path: pending, sinks, rename; then the table.
		 * Not in the store: the table and the pending report stay. */
		all.seq = done.seq + 1;
		snprintf(all.table, sizeof(all.table), "%s", a->acct.cfg.table);
		ret = sinks_commit(sinks, &done, &all, &a->e);
		if (ret < 0)
			goto out;
	} else {
		for (size_t i = 0; i < all.n; i++) {
			char text[ADDR_STRLEN];
			struct counts w = counts_wire(&all.v[i].c, all.overhead);

			output_counter(&a->out, all.time, -1, 0, all.v[i].label,
				       addr_format(&all.v[i].addr, text),
				       addr_names_label(a->acct.names, all.v[i].addr.cls), &w);
		}
		fflush(stdout);
	}
	ret = table_remove(a->acct.nl, a->acct.cfg.table, &a->e);
	if (ret == 0 && (have_state || stale)) {
		unlinkat(dirfd, names.state, 0);
		unlinkat(dirfd, names.pending, 0);
		unlinkat(dirfd, names.draining, 0);
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	state_finish(&done);
	state_finish(&all);
	state_finish(&waiting);
	sinks_close(sinks);
	return ret < 0 ? cli_fail(a, cli_code_for(ret)) : 0;
}

/* `nftally run`: its errors are said here, once. */
static int cmd_run(struct cli *a)
{
	int ret = run_account(&a->acct, &a->out, &a->e);

	return ret < 0 ? cli_fail(a, cli_code_for(ret)) : 0;
}

/* `nftally report`: bad options are a usage error; no store (off, or no
 * database yet) is bad input. */
static int cmd_report(struct cli *a)
{
	char path[PATH_MAX];
	int ret;

	if (query_check(&a->ro, &a->e) < 0)
		return cli_fail(a, EXIT_USAGE);
	if (!account_store_path(&a->acct.cfg, path, sizeof(path))) {
		err_set(&a->e, "the store is off (store = off): nothing to report");
		return cli_fail(a, EXIT_INPUT);
	}
	ret = query_report(&a->ro, path, a->acct.cfg.classes[0] != '\0', &a->e);
	if (ret < 0)
		return cli_fail(a, ret == -ENOENT ? EXIT_INPUT : EXIT_SYSTEM);
	return 0;
}

/* `ipset save | nftally import-ipset [SET...] > targets` */
static int cmd_import_ipset(struct cli *a)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = file_read_all(0, 1 << 30, &buf, &len);

	if (ret < 0) {
		err_setn(&a->e, ret, "stdin: cannot read: %s", strerror(-ret));
		return cli_fail(a, EXIT_SYSTEM);
	}
	ret = ipset_import(buf, len, "stdin", a->args, a->nargs, stdout, stderr, &a->e);
	free(buf);
	if (ret < 0)
		return cli_fail(a, ret == -EIO ? EXIT_SYSTEM : EXIT_INPUT);
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

int main(int argc, char **argv)
{
	struct cli a = { 0 };
	int ret, code = 0;

	output_init(&a.out, stdout);
	/* the account's one registry of class names: its nl, its state and
	 * its sinks number classes alike */
	addr_names_init(&a.names);
	a.acct.names = &a.names;
	ret = parse_args(&a, argc, argv);
	if (ret < 0)
		return cli_fail(&a, EXIT_INPUT);
	if (strcmp(a.command, "render") && strcmp(a.command, "apply") &&
	    strcmp(a.command, "dump") && strcmp(a.command, "run") &&
	    strcmp(a.command, "remove") && strcmp(a.command, "report") &&
	    strcmp(a.command, "import-ipset")) {
		fprintf(stderr, "nftally: unknown command '%s'\n%s", a.command, usage_text);
		return EXIT_USAGE;
	}
	if (!strcmp(a.command, "report")) {
		code = cmd_report(&a);
		goto out;
	}
	if (!strcmp(a.command, "import-ipset")) {
		code = cmd_import_ipset(&a);
		goto out;
	}
	ret = account_load_classes(&a.acct, &a.e);
	if (ret == 0)
		ret = account_load_targets(&a.acct, &a.acct.tg, &a.e);
	if (ret == 0 && (!strcmp(a.command, "render") || !strcmp(a.command, "apply") ||
			 !strcmp(a.command, "run")))
		ret = account_load_template(&a.acct, &a.e);
	if (ret == 0 && strcmp(a.command, "dump") && strcmp(a.command, "remove")) {
		struct err w;

		if (config_exclude_warning(&a.acct.cfg, a.acct.tg.v, a.acct.tg.n, &w))
			log_msg(LOG_PRIO_WARNING, "%s", w.msg);
	}
	if (ret < 0) { /* every file problem is bad input, even a missing file */
		code = cli_fail(&a, EXIT_INPUT);
		goto out;
	}
	if (!strcmp(a.command, "render")) {
		code = cmd_render(&a);
		goto out;
	}
	if (account_open(&a.acct, &a.e) < 0) {
		code = cli_fail(&a, EXIT_SYSTEM);
		goto out;
	}
	if (!strcmp(a.command, "apply"))
		code = cmd_apply(&a);
	else if (!strcmp(a.command, "dump"))
		code = cmd_dump(&a);
	else if (!strcmp(a.command, "run"))
		code = cmd_run(&a);
	else
		code = cmd_remove(&a);
out:
	account_finish(&a.acct);
	return code;
}
