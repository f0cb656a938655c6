/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one-shot commands on an opened account (apply, dump, remove), without
 * the command line: each returns 0 or a negative errno with the message in
 * e (-EINVAL and -EBUSY: bad input or a conflict; an empty message: nothing
 * more to say), prints no error, and writes its JSON lines to out.  Which
 * exit code an errno is stays the command line's call. */
#ifndef NFTALLY_COMMANDS_H
#define NFTALLY_COMMANDS_H

#include "account.h"
#include "err.h"
#include "output.h"

/* `apply`: if an `nftally run` accounts the table, ask it (SIGHUP) to apply
 * the same targets file itself (-EBUSY if it follows another file or cannot
 * be asked); otherwise apply acct->tg, keeping the counters of addresses
 * that leave when a run reported the table before. */
int commands_apply(struct account *acct, struct err *e);

/* `dump`: the cumulative counters of every target on out; -EINVAL if the
 * table does not exist. */
int commands_dump(struct account *acct, struct output *out, struct err *e);

/* `remove`: a last report on out (the deltas since a run's last report,
 * through the run's sinks, or else the cumulative counters), then the
 * table and the run's state files go.  0 without a table; -EBUSY while a
 * run accounts it. */
int commands_remove(struct account *acct, struct output *out, struct err *e);

#endif
