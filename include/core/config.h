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
#define CONFIG_EXCLUDE_MAX 256
#define CONFIG_IFACES_MAX 16
#define CONFIG_IFNAME_MAX 15
#define CONFIG_OVERHEAD_MAX 1000

struct config {
	char table[CONFIG_TABLE_MAX + 1]; /* default "nftally" */
	char template_name[PATH_MAX];   /* default "host"; a name or a path with '/' */
	char template_dir[PATH_MAX];    /* "" = built-in search path */
	char targets[PATH_MAX];         /* default "/etc/nftally/targets" */
	bool targets_explicit;          /* set by config file or -t: missing file is an error */
	unsigned interval;              /* seconds, default 60, 1..86400 */
	char state_dir[PATH_MAX];       /* default "/var/lib/nftally" */
	char store[PATH_MAX];           /* "" = STATE_DIR/TABLE.db; "off" = none */
	long long keep_intervals;       /* seconds; default 2 days */
	long long keep_hours;           /* default 90 days */
	long long keep_days;            /* default 800 days */
	char prom_file[PATH_MAX];       /* "" = no textfile */
	char listen[CONFIG_LISTEN_MAX + 1]; /* "" = no HTTP listener */
	/* peers whose traffic with a target is never counted */
	struct addr exclude[CONFIG_EXCLUDE_MAX];
	size_t nexclude;
	char exclude_where[PATH_MAX + 16]; /* "FILE:LINE" of exclude, for warnings */
	/* count only packets entering (in) and leaving (out) through these */
	char ifaces[CONFIG_IFACES_MAX][CONFIG_IFNAME_MAX + 1];
	size_t nifaces;
	unsigned overhead;              /* bytes added per packet in reports */
	char classes[PATH_MAX];         /* "" = no network classes */
	char default_class[ADDR_CLASS_NAMELEN + 1]; /* default "other" */
};

void config_defaults(struct config *c);

/* Parse config text.  Syntax: `key = value` per line, '#' comments, blank
 * lines; keys: table, template, template_dir, targets, interval, state_dir,
 * store, store_keep_intervals, store_keep_hours, store_keep_days, prom_file,
 * listen, exclude, interfaces, overhead, classes, default_class.
 * Values may be double-quoted (no escapes).  Unknown keys, duplicate keys,
 * bad values are errors "NAME:LINE: ...".  Returns 0 or negative errno. */
int config_parse_buffer(struct config *c, const char *name,
			const char *buf, size_t len, struct err *e);

/* Load a file.  A missing file is an error only if must_exist. */
int config_load(struct config *c, const char *path, bool must_exist,
		struct err *e);

/* Validators shared by the config parser and command-line options.
 * Table names: [a-z][a-z0-9_]* up to CONFIG_TABLE_MAX.  Interval 1..86400. */
int config_set_table(struct config *c, const char *v, const char *where, struct err *e);
int config_set_interval(struct config *c, const char *v, const char *where, struct err *e);

/* Durations: digits and a unit s, m, h or d ("36h"), 1 hour to 100 years.
 * key is one of the store_keep_* keys. */
int config_set_keep(struct config *c, const char *key, const char *v, const char *where,
		    struct err *e);
/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" (every address, IPv6 and IPv4). */
int config_set_listen(struct config *c, const char *v, const char *where, struct err *e);
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
/* Blank-separated interface names ([A-Za-z0-9_.@+-], 1 to 15 bytes). */
int config_set_interfaces(struct config *c, const char *v, const char *where,
			  struct err *e);
/* A class name ([a-z][a-z0-9_]*, at most ADDR_CLASS_NAMELEN). */
int config_set_default_class(struct config *c, const char *v, const char *where,
			     struct err *e);
/* Bytes per packet, 0 to CONFIG_OVERHEAD_MAX. */
int config_set_overhead(struct config *c, const char *v, const char *where, struct err *e);
struct sockaddr_storage;
bool config_parse_listen(const char *v, struct sockaddr_storage *ss);

/* Set one of the path keys ("template", "template_dir", "targets",
 * "state_dir", "store", "prom_file", "classes"), e.g. from a command-line option.  The value must be non-empty,
 * shorter than PATH_MAX and free of control characters.  Setting "targets"
 * also sets targets_explicit.  Errors as above; -EINVAL for another key. */
int config_set_path(struct config *c, const char *key, const char *v,
		    const char *where, struct err *e);

#endif
