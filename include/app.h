/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one invocation of nftally holds, shared by the command modules. */
#ifndef NFTALLY_APP_H
#define NFTALLY_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "classes.h"
#include "config.h"
#include "err.h"
#include "nl.h"
#include "output.h"
#include "table.h"
#include "targets.h"

enum {
	EXIT_INPUT = 1,  /* bad config, targets, template; a foreign or busy table */
	EXIT_USAGE = 2,
	EXIT_SYSTEM = 3, /* kernel, netlink, permissions */
};

/* Options of `nftally report` (as given; checked by query_main). */
struct report_opts {
	const char *by, *label, *addr, *since, *until, *format, *cls;
	bool utc, human, per_addr;
	bool any; /* one of them was given */
};

struct app {
	struct config cfg;
	const char *command;
	struct targets tg;
	const char *targets_name;
	char *tmpl_path;
	char *tmpl_text;     /* the template as read */
	size_t tmpl_len;
	char *skeleton;      /* rendered for the current targets (app_render) */
	const char *family;  /* of the template's table: "inet" or "bridge" */
	struct nl *nl;
	struct err e;
	struct output out;   /* the JSON lines, on stdout */
	/* addresses reported before (from the state), for table_apply */
	struct addr *known;
	size_t nknown;
	bool force_skeleton; /* the next apply rebuilds the skeleton */
	table_drained_cb defer; /* the next apply's table_apply_opts.defer */
	struct report_opts ro;
	struct classes cls;  /* network classes (config `classes`), or none */
	/* the one registry of class names: the nl, the state files and the
	 * sinks number classes alike */
	struct addr_names names;
	const char *const *args; /* import-ipset's set names */
	size_t nargs;
};

/* The store's path for a's table (STATE_DIR/TABLE.db unless configured),
 * or NULL when the store is off. */
const char *app_store_path(const struct app *a, char *buf, size_t size);

/* What identifies the targets in the lock file: the real path of the
 * targets file, or "host addresses".  Returns buf. */
const char *app_targets_id(const struct app *a, char *buf, size_t size);
/* Print a->e as "nftally: MESSAGE" on stderr; returns code. */
int app_fail(struct app *a, int code);
/* Exit code for a negative errno from the modules. */
int app_code_for(int err);
/* The configured targets file, or the host's own addresses without one. */
int app_load_targets(struct app *a, struct targets *t);
/* table_apply with a's table, skeleton and targets; prints errors and
 * returns an exit code. */
int app_apply(struct app *a, const struct targets *prev, uint64_t prev_handle,
	      table_drained_cb drained, void *data, struct table_result *res);

/* Render the skeleton for a->tg (groups are part of it): 0, or an exit
 * code with the error printed. */
int app_render(struct app *a);

/* Block SIGTERM, SIGINT and SIGHUP before run's start (config, targets,
 * lock, replay, first apply: seconds at scale), so that they wait for its
 * loop instead of killing it: a SIGHUP then is a full resync right after
 * the start, a SIGTERM a stop after it.  0 or -errno. */
int run_block_signals(void);
/* `nftally run`: returns the exit code. */
int run_main(struct app *a);
/* `nftally report`: returns the exit code. */
int query_main(struct app *a);

#endif
