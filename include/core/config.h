/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftally.conf: defaults, parsing, and validation of values.  Pure. */
#ifndef NFTALLY_CONFIG_H
#define NFTALLY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>

#include "addr.h"
#include "err.h"

#define CONFIG_DEFAULT_PATH "/etc/nftally/nftally.conf"
#define CONFIG_TABLE_MAX 32
#define CONFIG_LISTEN_MAX 63
#define CONFIG_CONNINFO_MAX 1023 /* postgresql = CONNINFO */
#define CONFIG_EXCLUDE_MAX 256
#define CONFIG_IFACES_MAX 16
#define CONFIG_IFNAME_MAX 15
#define CONFIG_OVERHEAD_MAX 1000
#define CONFIG_ACCOUNT_MAX 32    /* bytes of an account name */
#define CONFIG_ACCOUNTS_MAX 128  /* [account] sections in one file */
#define CONFIG_NETNS_MAX 255     /* bytes of a netns name or glob */
#define CONFIG_HOST_MAX 255
#define CONFIG_QUOTA_WARN_MAX 8  /* as QUOTA_WARN_MAX */
#define CONFIG_KEEP_SAMPLES_MIN (63LL * 86400) /* store_keep_samples */

struct config {
	char account[CONFIG_ACCOUNT_MAX + 1]; /* "" without sections */
	char netns[CONFIG_NETNS_MAX + 1]; /* "" = the daemon's own namespace; a name
					   * or an fnmatch(3) glob over /run/netns */
	char host[CONFIG_HOST_MAX + 1]; /* daemon-wide; "" = gethostname() */
	char table[CONFIG_TABLE_MAX + 1]; /* default "nftally" */
	char template_name[PATH_MAX];   /* default "host"; a name or a path with '/' */
	char template_dir[PATH_MAX];    /* "" = built-in search path */
	char targets[PATH_MAX];         /* default "/etc/nftally/targets"; "" when
					 * the targets are discovered only */
	bool targets_explicit;          /* set by config file or -t: missing file is an error */
	bool targets_file;              /* a file source: explicit or the default path */
	/* discovery sources (targets = interfaces GLOB... routes GLOB...):
	 * interface names, a trailing '*' a prefix wildcard, "*" alone any */
	char disc_addrs[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1];
	size_t ndisc_addrs;             /* the addresses on interfaces matching */
	char disc_routes[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1];
	size_t ndisc_routes;            /* host routes through interfaces matching */
	char labels[PATH_MAX];          /* "" = no labels file */
	unsigned interval;              /* seconds, default 60, 1..86400 */
	char state_dir[PATH_MAX];       /* default "/var/lib/nftally" */
	char store[PATH_MAX];           /* "" = STATE_DIR/TABLE.db; "off" = none */
	long long keep_intervals;       /* seconds; default 2 days */
	long long keep_hours;           /* default 90 days */
	long long keep_days;            /* default 800 days */
	long long keep_samples;         /* 5-minute samples; default and least 63 days */
	char prom_file[PATH_MAX];       /* "" = no textfile */
	char listen[CONFIG_LISTEN_MAX + 1]; /* "" = no HTTP listener */
	/* daemon-wide; "" = no PostgreSQL sink.  May hold a password: shown
	 * only through config_conninfo_redact */
	char postgresql[CONFIG_CONNINFO_MAX + 1];
	/* peers whose traffic with a target is never counted */
	struct addr exclude[CONFIG_EXCLUDE_MAX];
	size_t nexclude;
	char exclude_where[PATH_MAX + 16]; /* "FILE:LINE" of exclude, for warnings */
	/* count only packets entering (in) and leaving (out) through these;
	 * a trailing '*' is a prefix wildcard (config_iface_match) */
	char ifaces[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1];
	size_t nifaces;
	unsigned overhead;              /* bytes added per packet in reports */
	char classes[PATH_MAX];         /* "" = no network classes */
	char default_class[ADDR_CLASS_NAMELEN + 1]; /* default "other" */
	/* quotas (daemon-wide, docs/quotas.md) */
	char quotas[PATH_MAX];          /* "" = no quotas file */
	char quota_hook[PATH_MAX];      /* "" = no hook */
	unsigned quota_hook_timeout;    /* seconds, default 10, 1..3600 */
	unsigned char quota_warn[CONFIG_QUOTA_WARN_MAX]; /* percents; default 80 */
	size_t nquota_warn;
	/* billing cycles (docs/billing.md), daemon-wide */
	int cycle_day;                  /* 1..31, default 1 */
	char timezone[64];              /* an IANA zone; "" = the host's */
	char cycles[PATH_MAX];          /* "" = no per-label cycles file */
	/* nftally serve (docs/dashboard.md), daemon-wide; "" = its default */
	char serve_listen[CONFIG_LISTEN_MAX + 1];
	char serve_bill[8];             /* sum, max, in, out */
	char serve_token_file[PATH_MAX];
	char serve_tokens[PATH_MAX];
	char serve_tls_cert[PATH_MAX];
	char serve_tls_key[PATH_MAX];
};

void config_defaults(struct config *c);

/* A whole config file: the defaults (keys outside any section, over the
 * built-in ones) and the accounts.  Without sections n == 1 and v[0] is
 * dflt (account ""); with sections v[i] is dflt overlaid with the keys of
 * section i, and dflt is not an account.  Daemon-wide keys (interval,
 * state_dir, store, store_keep_*, prom_file, listen, host, cycle_day,
 * timezone, cycles, serve_*) are dflt's, and
 * every v[i] holds a copy. */
struct config_set {
	struct config dflt;
	struct config *v; /* malloc'd, n of them */
	size_t n;
	bool sections;    /* the file had [account NAME] sections */
};

/* dflt = config_defaults, no accounts.  config_set_finish frees v; safe
 * twice. */
void config_set_init(struct config_set *cs);
void config_set_finish(struct config_set *cs);

/* Parse config text over cs->dflt (as it is: callers may change it first),
 * replacing cs's accounts.  Syntax: `key = value` per line, '#' comments,
 * blank lines, `[account NAME]` section headers (NAME: [a-z][a-z0-9_-]*, at
 * most CONFIG_ACCOUNT_MAX bytes, unique; at most CONFIG_ACCOUNTS_MAX);
 * keys: table, template, template_dir, targets, interval, state_dir, store,
 * store_keep_intervals, store_keep_hours, store_keep_days,
 * store_keep_samples, prom_file,
 * listen, exclude, interfaces, overhead, classes, default_class, host,
 * netns, labels, cycle_day, timezone, cycles, quotas, quota_hook,
 * quota_hook_timeout, quota_warn, serve_listen, serve_bill,
 * serve_token_file, serve_tokens, serve_tls_cert, serve_tls_key.  Values
 * may be double-quoted (no escapes); the list keys
 * (exclude, interfaces, and targets given as sources) may also be written
 * unquoted, up to a '#' that starts a word.  Unknown keys, duplicate keys
 * (in one section), bad values, bad section headers, duplicate accounts, a
 * daemon-wide key inside a section, and two accounts with the same netns
 * value and table are errors "NAME:LINE: ...".  Returns 0 or a negative
 * errno; on error cs is unchanged. */
int config_set_parse_buffer(struct config_set *cs, const char *name, const char *buf,
			    size_t len, struct err *e);

/* Load a file into cs.  A missing file is an error only if must_exist;
 * else cs gets the one account of the defaults. */
int config_set_load(struct config_set *cs, const char *path, bool must_exist,
		    struct err *e);

/* The account named `account` ("" for a config without sections), or NULL. */
const struct config *config_set_find(const struct config_set *cs, const char *account);

/* Does interface ifname match glob: equal, or glob ends in '*' and ifname
 * starts with what precedes it ("*" matches every name), as nft's iifname
 * "qg-*" does. */
bool config_iface_match(const char *glob, const char *ifname);

/* One config of one account, for callers that handle one: the syntax of
 * config_set_parse_buffer, over *c; an [account] section is an error
 * "NAME:LINE: [account] sections are not allowed here".  On error *c is
 * unchanged. */
int config_parse_buffer(struct config *c, const char *name,
			const char *buf, size_t len, struct err *e);

/* Load a file.  A missing file is an error only if must_exist. */
int config_load(struct config *c, const char *path, bool must_exist,
		struct err *e);

/* Validators shared by the config parser and command-line options.
 * Table names: [a-z][a-z0-9_]* up to CONFIG_TABLE_MAX.  Interval 1..86400. */
int config_set_table(struct config *c, const char *v, const char *where, struct err *e);
int config_set_interval(struct config *c, const char *v, const char *where, struct err *e);

/* Durations: digits and a unit s, m, h or d ("36h"), 1 hour to 100 years
 * (store_keep_samples: 63 days at least, the current and the previous
 * billing cycle).  key is one of the store_keep_* keys. */
int config_set_keep(struct config *c, const char *key, const char *v, const char *where,
		    struct err *e);
/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" (every address, IPv6 and IPv4). */
int config_set_listen(struct config *c, const char *v, const char *where, struct err *e);
/* postgresql = CONNINFO: 1 to CONFIG_CONNINFO_MAX bytes, no control
 * characters (the message never shows it). */
int config_set_postgresql(struct config *c, const char *v, const char *where,
			  struct err *e);
/* conninfo (keyword/value or URI) into out with every password (a
 * password= value, quoted or not, and a URI's user:PASSWORD@) as ***,
 * for messages.  Returns out, always terminated. */
char *config_conninfo_redact(const char *in, char *out, size_t size);
/* Blank-separated prefixes, at most CONFIG_EXCLUDE_MAX, none overlapping. */
int config_set_exclude(struct config *c, const char *v, const char *where, struct err *e);
/* An exclusion that is legal but most likely a mistake: one of a whole
 * family (0.0.0.0/0, ::/0: none of its traffic is ever counted), or
 * exclusions that cover every one of the n targets (exclude names peers,
 * not targets).  Returns 1 with w holding a warning naming where exclude
 * was set, else 0. */
struct target;
int config_exclude_warning(const struct config *c, const struct target *v, size_t n,
			   struct err *w);
/* Blank-separated interface names ([A-Za-z0-9_.@+-], 1 to 15 bytes, of
 * which the last may be '*': a prefix wildcard), at most
 * CONFIG_IFACES_MAX, none twice; "*" (every interface) stands alone. */
int config_set_interfaces(struct config *c, const char *v, const char *where,
			  struct err *e);
/* The targets: a path (as config_set_path "targets"), or sources,
 * blank-separated: `interfaces GLOB...`, `routes GLOB...`, `file PATH`, each
 * at most once (GLOBs as config_set_interfaces).  A value whose first word
 * is one of the three is sources; a path that is one of them needs a '/'
 * ("./file").  Sets targets, targets_explicit, targets_file and the
 * discovery lists, all of them: without `file`, targets is "". */
int config_set_targets(struct config *c, const char *v, const char *where, struct err *e);
/* "" (the daemon's own namespace), a name in /run/netns or an fnmatch(3)
 * glob over them: no '/', not "." or "..", valid UTF-8 without control
 * characters, at most CONFIG_NETNS_MAX bytes. */
int config_set_netns(struct config *c, const char *v, const char *where, struct err *e);
/* The host name every output carries: "" (gethostname) or valid UTF-8
 * without blanks or control characters, at most CONFIG_HOST_MAX bytes. */
int config_set_host(struct config *c, const char *v, const char *where, struct err *e);
/* A class name ([a-z][a-z0-9_]*, at most ADDR_CLASS_NAMELEN). */
int config_set_default_class(struct config *c, const char *v, const char *where,
			     struct err *e);
/* quota_hook_timeout: seconds, 1 to 3600; quota_warn: "80%,90%" or "none"
 * (quota_parse_warn). */
int config_set_quota_hook_timeout(struct config *c, const char *v, const char *where,
				  struct err *e);
int config_set_quota_warn(struct config *c, const char *v, const char *where, struct err *e);
/* cycle_day: 1 to 31.  timezone: "", UTC or an IANA name with a zoneinfo
 * file (cycle_tz_check). */
int config_set_cycle_day(struct config *c, const char *v, const char *where, struct err *e);
int config_set_timezone(struct config *c, const char *v, const char *where, struct err *e);
/* Bytes per packet, 0 to CONFIG_OVERHEAD_MAX. */
int config_set_overhead(struct config *c, const char *v, const char *where, struct err *e);
struct sockaddr_storage;
bool config_parse_listen(const char *v, struct sockaddr_storage *ss);

/* Set one of the path keys ("template", "template_dir", "targets",
 * "state_dir", "store", "prom_file", "classes", "labels", "cycles",
 * "quotas", "quota_hook", "serve_token_file", "serve_tokens", "serve_tls_cert",
 * "serve_tls_key"), e.g. from a
 * command-line option.  The value must be non-empty, shorter than PATH_MAX
 * and free of control characters.  Setting "targets" also sets
 * targets_explicit and targets_file and clears the discovery sources (it
 * replaces the whole targets value).  Errors as above; -EINVAL for another
 * key. */
int config_set_path(struct config *c, const char *key, const char *v,
		    const char *where, struct err *e);

#endif
