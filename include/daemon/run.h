/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `nftally run`: the daemon's loop over one account. */
#ifndef NFTALLY_RUN_H
#define NFTALLY_RUN_H

#include "account.h"
#include "err.h"
#include "output.h"

/* Block SIGTERM, SIGINT and SIGHUP before run's start (config, targets,
 * lock, replay, first apply: seconds at scale), so that they wait for its
 * loop instead of killing it: a SIGHUP then is a full resync right after
 * the start, a SIGTERM a stop after it.  0 or -errno. */
int run_block_signals(void);

/* Account acct (loaded, rendered, its netlink handle open) until SIGTERM
 * or SIGINT: the reports as JSON lines on out, and into the sinks acct's
 * config names.  0 after a stop by signal; a negative errno with e set
 * when the start fails (nothing printed: the caller says it, once). */
int run_account(struct account *acct, struct output *out, struct err *e);

#endif
