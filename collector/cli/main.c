// SPDX-License-Identifier: GPL-2.0-or-later
/* nftally's command line: a thin getopt layer that loads the config and the
 * targets, then dispatches to render, or to the daemon's apply, dump, run
 * or remove, and turns their errnos into exit codes. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "billing.h"
#include "build-config.h"
#include "commands.h"
#include "config.h"
#include "classes.h"
#include "discover.h"
#include "file.h"
#include "ipset.h"
#include "labels.h"
#include "log.h"
#include "netns.h"
#include "output.h"
#include "pg.h"
#include "query.h"
#include "quota.h"
#include "render.h"
#include "run.h"
#include "serve.h"
#include "sinks.h"
#include "targets.h"

#include <fnmatch.h>
#include <unistd.h>

enum {
	EXIT_INPUT = 1,  /* bad config, targets, template; a foreign or busy table */
	EXIT_USAGE = 2,
	EXIT_SYSTEM = 3, /* kernel, netlink, permissions */
};

/* What one invocation holds: the config with its accounts, the account
 * it works on now, and the command's own options.  Only this file knows
 * exit codes: the modules below return negative errnos with a message in
 * e, which cli_fail prints once. */
struct cli {
	struct config_set cs;
	const char *only;    /* --account NAME: that account only */
	struct account acct;
	const char *command;
	struct err e;
	struct output out;   /* the JSON lines, on stdout */
	struct addr_names names; /* the account's class names (acct.names) */
	struct report_opts ro;
	const char *const *args; /* import-ipset's set names */
	size_t nargs;
	struct serve_opts so; /* serve's own options */
	bool serve_any;       /* one of them was given */
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
"  report   totals per period or billing cycle, 95th percentiles (help report)\n"
"  pg-schema  make or update the central PostgreSQL schema (see help pg-schema)\n"
"  serve    the dashboard: web pages and a JSON API over the store (help serve)\n"
"  import-ipset [SET...]  `ipset save` on stdin to a targets file on stdout\n"
"  help [COMMAND]  this text, or what COMMAND does (also COMMAND --help)\n"
"\n"
"Options:\n"
"  -c, --config FILE      config file (default " CONFIG_DEFAULT_PATH ")\n"
"      --account NAME     the [account NAME] of the config only (default: all)\n"
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
	  "SIGTERM/SIGINT print the last deltas and exit 0.  The table stays.\n"
	  "With `quotas = PATH` in the config, every label's usage in its billing\n"
	  "cycle is checked after each report: quota_warning and quota_exceeded\n"
	  "events (once per label, cycle and level, also across kill -9), the\n"
	  "quota_hook, and, only for quota lines with action=, marking, throttling\n"
	  "or dropping the exceeded label's packets (docs/quotas.md).\n" },
	{ "serve",
	  "Usage: nftally [OPTIONS] serve [--listen ADDR:PORT] [--bill sum|max|in|out]\n"
	  "                      [--token-file FILE] [--tokens FILE]\n"
	  "                      [--tls-cert FILE --tls-key FILE] [--dygraphs PATH]\n"
	  "                      [--web-dir DIR] [--at T] [--postgresql CONNINFO]\n"
	  "The dashboard (docs/dashboard.md): an overview of every label (this and the\n"
	  "previous billing cycle, the 95th percentile, the last day), a page per label\n"
	  "(5-minute, hourly and daily graphs, per address and class, its cycles) and\n"
	  "the JSON API behind them (/api/overview, /api/label?l=LABEL), read-only over\n"
	  "the store, computed by the code of report.  The overview's numbers (also\n"
	  "with host= and netns= filters) are made in the background once a minute;\n"
	  "while the first of a set of filters is made it answers 503 with its\n"
	  "progress.  --listen: default\n"
	  "127.0.0.1:9480 (the config's listen is run's /metrics, not this).  On a\n"
	  "loopback address without --token-file the operator needs no token; any\n"
	  "other address needs --token-file (a file whose one line is the operator's\n"
	  "token).  --tokens: `TOKEN LABEL` lines, each token seeing that label only.\n"
	  "Tokens: at least 16 printable characters, sent as the password of basic\n"
	  "auth, as `Authorization: Bearer TOKEN` or as ?token=.  HTTPS with\n"
	  "--tls-cert and --tls-key (PEM).  --dygraphs: the charting library (default\n"
	  "/usr/share/javascript/dygraphs/dygraph.min.js, Debian's libjs-dygraphs).\n"
	  "--bill: what billed means (default sum).  --at T: as of T (tests).\n"
	  "--postgresql CONNINFO serves the central database (docs/fleet.md): every\n"
	  "host's labels, instead of this host's store.\n"
	  "The config's serve_listen, serve_bill, serve_token_file, serve_tokens,\n"
	  "serve_tls_cert and serve_tls_key set the same; the options win.\n"
	  "Runs until SIGTERM or SIGINT.\n" },
	{ "report",
	  "Usage: nftally [OPTIONS] report [--by 5min|hour|day|month|cycle] [--label L]\n"
	  "                       [--addr A] [--class C] [--by-class] [--host H]\n"
	  "                       [--netns N] [--account A] [--per-addr] [--since T]\n"
	  "                       [--until T] [--utc] [--format table|json|csv] [--human]\n"
	  "                       [--merge-hosts] [--cycle current|previous|YYYY-MM]\n"
	  "                       [--bill sum|max|in|out] [--p95] [--units U] [--all]\n"
	  "                       [--at T] [--postgresql CONNINFO]\n"
	  "Totals of in and out bytes and packets per period, host, network\n"
	  "namespace and label (and per address with --per-addr or --addr, and per\n"
	  "network class with --by-class or --class C; else the total over classes)\n"
	  "from the store that `nftally run` writes; the accounts of one host and\n"
	  "namespace add up.\n"
	  "--host, --netns and --account keep only what was counted there (--netns ''\n"
	  "is the namespace run started in).  --by defaults to day; 5min reads the\n"
	  "5-minute samples.  Periods are in local time unless --utc; a month is a\n"
	  "calendar month.  T is YYYY-MM-DD,\n"
	  "YYYY-MM-DDTHH:MM[:SS], YYYY-MM or @UNIXSECONDS; --since includes, --until\n"
	  "excludes.  Data rolled up to days or months is shown at that resolution.\n"
	  "--merge-hosts sums over hosts and namespaces (shown as *): a label's\n"
	  "total wherever it was counted.\n"
	  "Billing (docs/billing.md): --cycle gives each label's totals for that\n"
	  "cycle of its own billing cycle (cycle_day, timezone, cycles = FILE), --by\n"
	  "cycle every cycle; --bill adds the billed bytes (in+out, the larger, in,\n"
	  "out); --p95 the 95th percentile in bit/s per label (per address with\n"
	  "--per-addr) over the cycle: the 5-minute slots ended so far, empty ones 0,\n"
	  "sorted, the ceil(0.95 N)-th; --units GB|GiB|bytes|... for the table and\n"
	  "CSV; --all lists labels without traffic with zeros; --at T reports as of T.\n"
	  "--postgresql CONNINFO reads the central database that `postgresql =`\n"
	  "sends to (docs/fleet.md) instead of the store, with every option.\n"
	  "Reads only; safe while run writes.\n" },
	{ "pg-schema",
	  "Usage: nftally [-c FILE] pg-schema [--postgresql CONNINFO]\n"
	  "Make nftally's schema in the central PostgreSQL database (or bring it up\n"
	  "to date after an upgrade) and exit, so that the nodes' role needs no\n"
	  "CREATE.  Run it once as the role that is to own the schema.  CONNINFO is\n"
	  "libpq's (keyword/value or URI); without --postgresql, the config's\n"
	  "`postgresql =`.  Prints the schema's version and whether it was made now;\n"
	  "running it again changes nothing.  Exit 3 when the server cannot be\n"
	  "reached or refuses (a role without CREATE), with its message; 1 when the\n"
	  "schema is newer than this nftally or nftally was built without libpq.\n"
	  "See docs/fleet.md.\n" },
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

/* The command-line options over the config's values in c. */
static int apply_overrides(struct config *c, const char *const over[8], struct err *e)
{
	int ret = 0;

	if (ret == 0 && over[0])
		ret = config_set_path(c, "targets", over[0], "--targets", e);
	if (ret == 0 && over[1])
		ret = config_set_table(c, over[1], "--table", e);
	if (ret == 0 && over[2])
		ret = config_set_path(c, "template", over[2], "--template", e);
	if (ret == 0 && over[3])
		ret = config_set_interval(c, over[3], "--interval", e);
	if (ret == 0 && over[4])
		ret = config_set_path(c, "state_dir", over[4], "--state-dir", e);
	if (ret == 0 && over[5])
		ret = config_set_path(c, "store", over[5], "--store", e);
	if (ret == 0 && over[6])
		ret = config_set_path(c, "prom_file", over[6], "--prom-file", e);
	if (ret == 0 && over[7])
		ret = config_set_listen(c, over[7], "--listen", e);
	return ret;
}

/* Config first, then command-line overrides on top of it. */
static int parse_args(struct cli *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "account", required_argument, NULL, 'A' },
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
		{ "host", required_argument, NULL, 'O' },
		{ "postgresql", required_argument, NULL, 'Q' },
		{ "merge-hosts", no_argument, NULL, 'M' },
		{ "netns", required_argument, NULL, 'N' },
		{ "cycle", required_argument, NULL, 'Y' },
		{ "bill", required_argument, NULL, 'B' },
		{ "p95", no_argument, NULL, '9' },
		{ "units", required_argument, NULL, 'W' },
		{ "all", no_argument, NULL, 'Z' },
		{ "by-class", no_argument, NULL, 'C' },
		{ "at", required_argument, NULL, 'J' },
		{ "token-file", required_argument, NULL, 1001 },
		{ "tokens", required_argument, NULL, 1002 },
		{ "tls-cert", required_argument, NULL, 1003 },
		{ "tls-key", required_argument, NULL, 1004 },
		{ "dygraphs", required_argument, NULL, 1005 },
		{ "web-dir", required_argument, NULL, 1006 },
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
		case 'A': a->only = ro->account = optarg; break;
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
		case 'O': ro->host = optarg; ro->any = true; break;
		case 'N': ro->netns = optarg; ro->any = true; break;
		case 'Q': ro->postgresql = optarg; break;
		case 'M': ro->merge_hosts = ro->any = true; break;
		case 'Y': ro->cycle = optarg; ro->any = true; break;
		case 'B': ro->bill = optarg; ro->any = true; break;
		case '9': ro->p95 = ro->any = true; break;
		case 'W': ro->units = optarg; ro->any = true; break;
		case 'Z': ro->all = ro->any = true; break;
		case 'C': ro->by_class = ro->any = true; break;
		case 'J': ro->at = optarg; ro->any = true; break;
		case 1001: a->so.token_file = optarg; a->serve_any = true; break;
		case 1002: a->so.tokens_file = optarg; a->serve_any = true; break;
		case 1003: a->so.tls_cert = optarg; a->serve_any = true; break;
		case 1004: a->so.tls_key = optarg; a->serve_any = true; break;
		case 1005: a->so.dygraphs = optarg; a->serve_any = true; break;
		case 1006: a->so.web_dir = optarg; a->serve_any = true; break;
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
	if ((strcmp(a->command, "run") == 0 || strcmp(a->command, "serve") == 0) &&
	    run_block_signals() < 0) {
		fprintf(stderr, "nftally: cannot block signals: %s\n", strerror(errno));
		exit(EXIT_SYSTEM);
	}
	if (strcmp(a->command, "serve") == 0) {
		/* serve takes --bill and --at of report's options, and --listen
		 * as its own address */
		a->so.listen = over[7];
		over[7] = NULL;
		a->so.at = ro->at;
		ro->at = NULL;
		a->so.bill_set = ro->bill != NULL;
		if (ro->bill && bill_policy_parse(ro->bill, &a->so.bill) < 0) {
			fprintf(stderr, "nftally: --bill: use sum, max, in or out\n");
			exit(EXIT_USAGE);
		}
		ro->bill = NULL;
		ro->any = ro->by || ro->label || ro->addr || ro->per_addr || ro->since ||
			  ro->until || ro->utc || ro->format || ro->human || ro->cls || ro->host ||
			  ro->netns || ro->merge_hosts || ro->cycle || ro->p95 || ro->units ||
			  ro->all || ro->by_class;
	} else if (a->serve_any) {
		fprintf(stderr, "nftally: --token-file, --tokens, --tls-cert, --tls-key, "
			"--dygraphs and --web-dir are options of serve\n");
		exit(EXIT_USAGE);
	}
	if (ro->any && strcmp(a->command, "report") != 0) {
		fprintf(stderr, "nftally: --by, --label, --addr, --class, --host, --netns, "
			"--per-addr, --since, --until, --utc, --format, --human, "
			"--merge-hosts, --cycle, --bill, --p95, --units, --all, "
			"--by-class and --at are options of report\n");
		exit(EXIT_USAGE);
	}
	if (ro->postgresql && strcmp(a->command, "report") && strcmp(a->command, "pg-schema") &&
	    strcmp(a->command, "serve")) {
		fprintf(stderr, "nftally: --postgresql is an option of report, serve and "
			"pg-schema\n");
		exit(EXIT_USAGE);
	}
	/* the central database's accounts need not be this host's */
	if (ro->postgresql)
		a->only = NULL;
	config_set_init(&a->cs);
	if (strcmp(a->command, "import-ipset") == 0 ||
	    (strcmp(a->command, "pg-schema") == 0 && ro->postgresql))
		return 0; /* needs no configuration */
	ret = config_set_load(&a->cs, config ? config : CONFIG_DEFAULT_PATH, config != NULL, &a->e);
	if (ret == 0 && a->only && !config_set_find(&a->cs, a->only))
		ret = err_setn(&a->e, -EINVAL, "--account %s: %s has no [account %s]", a->only,
			       config ? config : CONFIG_DEFAULT_PATH, a->only);
	if (ret == 0 && a->cs.sections && !a->only && (over[0] || over[1] || over[2]))
		ret = err_setn(&a->e, -EINVAL, "--targets, --table and --template set one "
			       "account's keys: name it with --account");
	/* the defaults and every account the same way: the daemon-wide keys
	 * are equal in all of them */
	for (size_t i = 0; ret == 0 && i <= a->cs.n; i++)
		ret = apply_overrides(i < a->cs.n ? &a->cs.v[i] : &a->cs.dflt, over, &a->e);
	return ret;
}

static int cmd_render(struct cli *a)
{
	fputs(a->acct.skeleton, stdout);
	render_data(stdout, a->acct.names, a->acct.family, a->acct.cfg.table, &a->acct.tg);
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

/* The report of the store of cfg (or of --postgresql): the exit code. */
static int cmd_report_store(struct cli *a, const struct config *cfg, char path[PATH_MAX])
{
	int ret;

	if (a->ro.postgresql)
		path[0] = '\0'; /* not read */
	else if (!account_store_path(cfg, path, PATH_MAX)) {
		err_set(&a->e, "the store is off (store = off): nothing to report");
		return cli_fail(a, EXIT_INPUT);
	}
	ret = query_report(&a->ro, path, cfg->host[0] ? cfg->host : NULL, cfg->classes[0] != '\0',
			   &a->e);
	if (ret < 0)
		return cli_fail(a, ret == -ENOENT || ret == -EINVAL || ret == -ENOTSUP ? EXIT_INPUT : EXIT_SYSTEM);
	return 0;
}

/* `nftally serve`: the dashboard over the store of the config (or of
 * --account's), until SIGTERM or SIGINT. */
static int cmd_serve(struct cli *a)
{
	const struct config *cfg = a->only ? config_set_find(&a->cs, a->only) :
				   a->cs.n ? &a->cs.v[0] : &a->cs.dflt;
	char path[PATH_MAX];
	struct billing b;
	struct quotas q;
	int ret;

	if (!a->ro.postgresql && !account_store_path(cfg, path, PATH_MAX)) {
		err_set(&a->e, "the store is off (store = off): nothing to serve");
		return cli_fail(a, EXIT_INPUT);
	}
	if ((ret = billing_from_config(&b, cfg, &a->e)) < 0)
		return cli_fail(a, ret == -ENOMEM ? EXIT_SYSTEM : EXIT_INPUT);
	/* the command line over the config's serve_* keys */
	if (!a->so.listen && cfg->serve_listen[0])
		a->so.listen = cfg->serve_listen;
	if (!a->so.bill_set && cfg->serve_bill[0])
		bill_policy_parse(cfg->serve_bill, &a->so.bill); /* checked by config */
	if (!a->so.token_file && cfg->serve_token_file[0])
		a->so.token_file = cfg->serve_token_file;
	if (!a->so.tokens_file && cfg->serve_tokens[0])
		a->so.tokens_file = cfg->serve_tokens;
	if (!a->so.tls_cert && cfg->serve_tls_cert[0])
		a->so.tls_cert = cfg->serve_tls_cert;
	if (!a->so.tls_key && cfg->serve_tls_key[0])
		a->so.tls_key = cfg->serve_tls_key;
	a->so.store_path = a->ro.postgresql ? NULL : path;
	a->so.postgresql = a->ro.postgresql;
	a->so.host = cfg->host[0] ? cfg->host : NULL;
	a->so.billing = &b;
	quotas_init(&q);
	/* the quotas' bars: the file run checks (a bad one is an error here too) */
	if (cfg->quotas[0] &&
	    (ret = quotas_load(&q, cfg->quotas, cfg->quota_warn, cfg->nquota_warn, &a->e)) < 0) {
		billing_finish(&b);
		return cli_fail(a, ret == -ENOMEM ? EXIT_SYSTEM : EXIT_INPUT);
	}
	a->so.quotas = cfg->quotas[0] ? &q : NULL;
	ret = serve_run(&a->so, &a->e);
	quotas_finish(&q);
	billing_finish(&b);
	if (ret < 0)
		return cli_fail(a, ret == -EINVAL || ret == -ENOENT || ret == -ENOTSUP ?
				EXIT_INPUT : EXIT_SYSTEM);
	return 0;
}

/* The labels of strings (each strdup'd into *v, *n of them). */
static int known_add(char ***v, size_t *n, const char *label)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(label)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* report --all: the labels of every account's targets file and labels
 * file (or --account's), besides the store's. */
static int report_known_labels(struct cli *a, char ***v, size_t *n)
{
	int ret = 0;

	for (size_t i = 0; i < a->cs.n && ret == 0; i++) {
		const struct config *cfg = &a->cs.v[i];
		struct targets t;
		struct labels l;

		if (a->only && strcmp(a->only, cfg->account) != 0)
			continue;
		targets_init(&t);
		if (cfg->targets_file && cfg->targets[0] &&
		    (ret = targets_parse_file(&t, cfg->targets, &a->e)) == -ENOENT &&
		    !cfg->targets_explicit)
			ret = 0; /* the default path, not there */
		for (size_t k = 0; ret == 0 && k < t.nlabels; k++)
			ret = known_add(v, n, t.labels[k]);
		targets_finish(&t);
		labels_init(&l);
		if (ret == 0 && cfg->labels[0])
			ret = labels_load(&l, cfg->labels, &a->e);
		for (size_t k = 0; ret == 0 && k < l.n; k++)
			ret = known_add(v, n, l.text + l.v[k].label);
		labels_finish(&l);
	}
	if (ret == -ENOMEM)
		err_setn(&a->e, ret, "out of memory");
	return ret;
}

/* `nftally report`: bad options are a usage error; no store (off, or no
 * database yet) or one of a newer nftally is bad input. */
static int cmd_report(struct cli *a)
{
	char path[PATH_MAX], **known = NULL;
	struct billing b;
	size_t nknown = 0;
	int ret, code = 0;

	if (query_check(&a->ro, &a->e) < 0)
		return cli_fail(a, EXIT_USAGE);
	const struct config *cfg = a->only ? config_set_find(&a->cs, a->only) :
				   a->cs.n ? &a->cs.v[0] : &a->cs.dflt;

	/* the cycles are daemon-wide: every account has the same */
	ret = billing_from_config(&b, cfg, &a->e);
	if (ret == 0 && a->ro.all)
		ret = report_known_labels(a, &known, &nknown);
	if (ret == 0) {
		a->ro.billing = &b;
		a->ro.known = (const char *const *)known;
		a->ro.nknown = nknown;
		code = cmd_report_store(a, cfg, path);
	} else {
		code = cli_fail(a, ret == -ENOMEM ? EXIT_SYSTEM : EXIT_INPUT);
	}
	billing_finish(&b);
	for (size_t i = 0; i < nknown; i++)
		free(known[i]);
	free(known);
	return code;
}

/* `ipset save | nftally import-ipset [SET...] > targets` */
/* `nftally pg-schema`: --postgresql's conninfo, else the config's. */
static int cmd_pg_schema(struct cli *a)
{
	const char *conninfo = a->ro.postgresql ? a->ro.postgresql : a->cs.dflt.postgresql;
	int version, ret;

	if (!conninfo[0]) {
		err_set(&a->e, "pg-schema: no database: give --postgresql CONNINFO or set "
			"'postgresql' in the config");
		return cli_fail(a, EXIT_USAGE);
	}
	ret = pg_setup(conninfo, &version, &a->e);
	if (ret < 0)
		return cli_fail(a, ret == -EINVAL || ret == -ENOTSUP ? EXIT_INPUT : EXIT_SYSTEM);
	printf("nftally schema version %d: %s\n", version,
	       ret ? "made" : "up to date already, nothing changed");
	return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
}

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

/* The addresses on the account's interfaces and routes, as the kernel of
 * the current namespace has them now. */
static int cli_discover(struct account *acct, struct err *e)
{
	struct disc *d = disc_create(acct->cfg.disc_addrs, acct->cfg.ndisc_addrs,
				     acct->cfg.disc_routes, acct->cfg.ndisc_routes, e);
	int ret;

	if (!d)
		return -errno;
	ret = disc_scan(d, &acct->disc, &acct->ndisc, e);
	disc_destroy(d);
	return ret;
}

/* One command on the account in a->acct (its cfg, netns and key set), in
 * the current network namespace: the exit code. */
static int cli_account_command(struct cli *a)
{
	int ret = account_load_classes(&a->acct, &a->e);

	if (ret == 0 && account_discovers(&a->acct) && cli_discover(&a->acct, &a->e) < 0)
		return cli_fail(a, EXIT_SYSTEM);
	if (ret == 0)
		ret = account_load_targets(&a->acct, &a->acct.tg, &a->e);
	if (ret == 0 && (!strcmp(a->command, "render") || !strcmp(a->command, "apply") ||
			 !strcmp(a->command, "run")))
		ret = account_load_template(&a->acct, &a->e);
	if (ret == 0 && strcmp(a->command, "dump") && strcmp(a->command, "remove")) {
		struct err w;

		if (config_exclude_warning(&a->acct.cfg, a->acct.tg.v, a->acct.tg.n, &w))
			log_msg(LOG_PRIO_WARNING, "%s", w.msg);
	}
	if (ret < 0) /* every file problem is bad input, even a missing file */
		return cli_fail(a, EXIT_INPUT);
	if (!strcmp(a->command, "render"))
		return cmd_render(a);
	if (account_open(&a->acct, &a->e) < 0)
		return cli_fail(a, EXIT_SYSTEM);
	/* the daemon's work; its errors are said here, once */
	if (!strcmp(a->command, "apply"))
		ret = commands_apply(&a->acct, &a->e);
	else if (!strcmp(a->command, "dump"))
		ret = commands_dump(&a->acct, &a->out, &a->e);
	else
		ret = commands_remove(&a->acct, &a->out, &a->e);
	return ret < 0 ? cli_fail(a, cli_code_for(ret)) : 0;
}

/* The command on account cfg in namespace netns ("": this one). */
static int cli_account(struct cli *a, const struct config *cfg, const char *netns)
{
	struct report_origin org;
	int nsfd = -1, back = -1, code;

	a->acct = (struct account){ .cfg = *cfg, .names = &a->names };
	addr_names_init(&a->names);
	snprintf(a->acct.netns, sizeof(a->acct.netns), "%s", netns);
	account_key(&a->acct);
	if (netns[0] && (netns_open(NETNS_RUN_DIR, netns, &nsfd, &a->e) < 0 ||
			 netns_enter(nsfd, &back, &a->e) < 0)) {
		code = cli_fail(a, EXIT_SYSTEM);
		goto out;
	}
	sinks_origin_here(&org, cfg->host, netns, cfg->account, cfg->table);
	output_set_origin(&a->out, &org);
	code = cli_account_command(a);
out:
	if (back >= 0)
		netns_leave(back);
	if (nsfd >= 0)
		close(nsfd);
	account_finish(&a->acct);
	a->e.msg[0] = '\0';
	return code;
}

struct cli_ns {
	struct cli *a;
	const struct config *cfg;
	int code;
	size_t n;
};

static int cli_ns_cb(const char *name, void *data)
{
	struct cli_ns *c = data;
	int code;

	if (name[0] == '.' || fnmatch(c->cfg->netns, name, 0) != 0)
		return 0;
	c->n++;
	code = cli_account(c->a, c->cfg, name);
	if (code > c->code)
		c->code = code;
	return 0;
}

/* The command on every account (or --account's), in every namespace it
 * names: the worst exit code. */
static int cli_accounts(struct cli *a)
{
	int code = 0;

	for (size_t i = 0; i < a->cs.n; i++) {
		const struct config *cfg = &a->cs.v[i];
		struct cli_ns c = { a, cfg, 0, 0 };

		if (a->only && strcmp(a->only, cfg->account) != 0)
			continue;
		if (!cfg->netns[0]) {
			c.code = cli_account(a, cfg, "");
		} else {
			netns_dir_list(NETNS_RUN_DIR, cli_ns_cb, &c);
			if (!c.n)
				log_msg(LOG_PRIO_INFO, "account %s: no network namespace matches %s",
					cfg->account, cfg->netns);
		}
		if (c.code > code)
			code = c.code;
	}
	return code;
}

int main(int argc, char **argv)
{
	struct cli a = { 0 };
	int ret, code = 0;

	output_init(&a.out, stdout);
	ret = parse_args(&a, argc, argv);
	if (ret < 0) {
		code = cli_fail(&a, EXIT_INPUT);
		goto out;
	}
	if (strcmp(a.command, "render") && strcmp(a.command, "apply") &&
	    strcmp(a.command, "dump") && strcmp(a.command, "run") &&
	    strcmp(a.command, "remove") && strcmp(a.command, "report") &&
	    strcmp(a.command, "import-ipset") && strcmp(a.command, "pg-schema") &&
	    strcmp(a.command, "serve")) {
		fprintf(stderr, "nftally: unknown command '%s'\n%s", a.command, usage_text);
		code = EXIT_USAGE;
	} else if (!strcmp(a.command, "report")) {
		code = cmd_report(&a);
	} else if (!strcmp(a.command, "import-ipset")) {
		code = cmd_import_ipset(&a);
	} else if (!strcmp(a.command, "serve")) {
		code = cmd_serve(&a);
	} else if (!strcmp(a.command, "pg-schema")) {
		code = cmd_pg_schema(&a);
	} else if (!strcmp(a.command, "run")) {
		ret = run_daemon(&a.cs, a.only, &a.out, &a.e);
		code = ret < 0 ? cli_fail(&a, cli_code_for(ret)) : 0;
	} else {
		code = cli_accounts(&a);
	}
out:
	config_set_finish(&a.cs);
	return code;
}
