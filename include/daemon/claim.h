/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One run per table per network namespace, whatever its state directory:
 * the run binds the abstract unix socket "nftally/run/FAMILY/TABLE".  The
 * abstract namespace belongs to the network namespace, and the kernel
 * frees the name when the process ends (kill -9 included), so a claim is
 * never stale.  Anyone may bind an abstract name: only a holder of uid 0,
 * of the caller's uid, or with CAP_NET_ADMIN in the caller's user
 * namespace is taken for a run. */
#ifndef NFTALLY_CLAIM_H
#define NFTALLY_CLAIM_H

#include <stddef.h>

#include "err.h"

/* Claim table: *fd is the listening socket (keep it open; claim_drain it
 * when readable).  -EBUSY with e naming the run that holds it.  Returns 0
 * with *fd -1 and e holding a warning when someone who cannot be a run
 * squats on the name: the run goes on without the claim (its state
 * directory's lock still holds).  Other failures: -errno with e set. */
int claim_take(const char *family, const char *table, int *fd, struct err *e);
/* The PID of the run holding the claim of table in this network namespace,
 * 0 if none, -1 if one does but its PID cannot be seen (another PID
 * namespace, a full backlog). */
int claim_holder(const char *family, const char *table);
/* The targets of run pid (second line of its TABLE.lock, found among its
 * open files): 0, or -errno when they cannot be read (what is then ""). */
int claim_holder_what(int pid, const char *table, char *what, size_t size);
/* Accept and close whatever connected: the holders' checks only connect. */
void claim_drain(int fd);

#endif
