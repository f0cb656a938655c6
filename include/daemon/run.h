/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `nftally run`: one daemon for every account of the config. */
#ifndef NFTALLY_RUN_H
#define NFTALLY_RUN_H

#include "config.h"
#include "err.h"
#include "output.h"

/* Block SIGTERM, SIGINT and SIGHUP before run's start (config, targets,
 * lock, replay, first apply: seconds at scale), so that they wait for its
 * loop instead of killing it: a SIGHUP then is a full resync right after
 * the start, a SIGTERM a stop after it.  0 or -errno. */
int run_block_signals(void);

/* Every account of cs (or only the account named only, if not NULL) until
 * SIGTERM or SIGINT: the ones in nftally's own network namespace at once,
 * the ones whose netns names namespaces in /run/netns in every matching
 * namespace as it comes and until it goes.  The reports as JSON lines on
 * out, and into the sinks the config names.  0 after a stop by signal; a
 * negative errno with e set when the start fails (nothing printed: the
 * caller says it, once). */
int run_daemon(const struct config_set *cs, const char *only, struct output *out,
	       struct err *e);

#endif
