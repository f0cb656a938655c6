/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An account: one nftables table in one network namespace, with what it is
 * made of (its config, its classes, its targets and where they come from,
 * the template and the skeleton rendered from it, its netlink handle).  It
 * loads, renders and applies; every function returns 0 or a negative errno
 * with the message in the caller's struct err, and prints nothing: what an
 * error means for the process (an exit code) is the command line's call. */
#ifndef NFTALLY_ACCOUNT_H
#define NFTALLY_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "classes.h"
#include "config.h"
#include "discover.h"
#include "err.h"
#include "labels.h"
#include "nl.h"
#include "output.h"
#include "state.h"
#include "table.h"
#include "targets.h"

/* The longest name of an account's files in the state directory. */
#define ACCOUNT_KEY_MAX 200

struct account {
	struct config cfg;
	/* the network namespace it is in: "" the one nftally started in, else
	 * its name in /run/netns */
	char netns[256];
	/* its files in the state directory are KEY.state, ...: the table for
	 * a config without accounts, else "account.NAME" and for a named
	 * namespace "@NETNS" (escaped: account_key) */
	char key[ACCOUNT_KEY_MAX + 1];
	struct labels labels;     /* cfg.labels, for discovered addresses */
	/* the addresses found on its interfaces and routes (targets =
	 * interfaces ..., routes ...), as the last disc_scan saw them */
	struct disc_addr *disc;
	size_t ndisc;
	struct addr_names *names; /* the class names of its counters; set by its owner */
	struct classes cls;       /* network classes (config `classes`), or none */
	struct targets tg;
	const char *targets_name; /* cfg.targets, or "host addresses" */
	char *tmpl_path;
	char *tmpl_text;          /* the template as read */
	size_t tmpl_len;
	char *skeleton;           /* rendered for tg (account_render) */
	const char *family;       /* of the template's table: "inet" or "bridge" */
	struct nl *nl;            /* NULL until account_open */
	/* quota enforcement the skeleton renders (the daemon's; NULL: none) */
	const struct render_enforce *enforce;
};

/* The name of its files (acct->key) for account name `account` (""
 * without sections: the table) in namespace netns: characters other than
 * [A-Za-z0-9._-] are escaped as %XX, and a name too long ends in a hash
 * of the whole.  Pure. */
void account_key(struct account *acct);

/* The identity of the calling thread's network namespace
 * (netns_id_format), or "" if it cannot be read. */
void account_netns_id(char *buf, size_t size);

/* Does it take addresses from its interfaces or routes? */
bool account_discovers(const struct account *acct);

/* Everything the account holds (cfg stays as it is); harmless twice. */
void account_finish(struct account *acct);

/* The store's path for cfg's table: cfg->store if set, else
 * STATE_DIR/TABLE.db for a config without accounts and STATE_DIR/nftally.db
 * (one store for all) for an account; NULL if the store is "off".  Pure. */
const char *account_store_path(const struct config *cfg, char *buf, size_t size);

/* Do the targets come from the host's own addresses?  Only when no file
 * was named (the default one) and lstat of the default said ENOENT
 * (lstat_errno; 0 if it succeeded): a dangling link or an unreadable file
 * is an error, not a fallback.  Pure. */
bool account_uses_host_addrs(const struct config *cfg, int lstat_errno);

/* What identifies the targets in the lock file: the real path of the
 * targets file (the same file however it is named), or targets_name.
 * Returns buf. */
const char *account_targets_id(const struct account *acct, char *buf, size_t size);

/* The classes file, if the config names one, into acct->cls, and the
 * labels file, if it names one, into acct->labels. */
int account_load_classes(struct account *acct, struct err *e);

/* The targets file, or without one (and without discovery) the host's
 * own addresses, and the discovered addresses (acct->disc) labelled from
 * the labels file, else the namespace's name, else the interface's, into
 * t (initialised here), with the classes expanded; sets
 * acct->targets_name. */
int account_load_targets(struct account *acct, struct targets *t, struct err *e);

/* Read the template and render the skeleton for acct->tg. */
int account_load_template(struct account *acct, struct err *e);

/* Render the skeleton again for acct->tg (groups are part of it); the
 * netlink handle, if open, takes the template's family. */
int account_render(struct account *acct, struct err *e);

/* Open the netlink handle in the template's family; without a rendered
 * skeleton (dump, remove), the family in which the table exists (the
 * template's first, then the other). */
int account_open(struct account *acct, struct err *e);

/* Render, then table_apply acct->tg with o as given (the caller says what
 * was installed before, what it knows, its drain and defer callbacks, and
 * whether this is a full resync).  Map elements the apply mended are said
 * on stderr, and as element_repaired events on events if not NULL. */
/* The record of the last `nftally apply` (file, TABLE.applied, in the
 * state directory dirfd): 1 with it in rec if it is of the table whose
 * kernel handle is `handle`, in this boot and network namespace (boot,
 * nsid: as statedir_boot_id and account_netns_id give them); else 0 with
 * rec empty.  Its entries with REP 1 are the targets that apply installed,
 * those with REP 0 addresses whose counters it left without elements.
 * keep (if not NULL): only the entries it keeps (statedir_load_some). */
int account_applied_load(struct account *acct, int dirfd, const char *file, uint64_t handle,
			 const char *boot, const char *nsid, struct state *rec,
			 bool (*keep)(const struct state_entry *x, void *data), void *data);
/* 1 if the record says what the kernel's table holds now: it is of this
 * table (above) and the namespace's ruleset generation has not moved
 * since it was written (nobody committed anything there).  Then prev (the
 * caller frees prev->v) holds its targets, for table_apply_opts.prev with
 * prev_handle rec->handle.  installed_only: not if it names addresses left
 * without elements (a run must find those by listing, to drain them).
 * Else 0 (rec may still hold the record, for the caller to free); if the
 * record is of this table but cannot be trusted, prev still holds those
 * of its targets that are not among acct's, for table_apply_opts.hint.
 * Either way rec keeps only the record's entries with REP 0: the targets
 * it installed are read into prev, never held twice. */
int account_applied_prev(struct account *acct, int dirfd, const char *file, const char *boot,
			 const char *nsid, struct state *rec, struct targets *prev, bool installed_only);

int account_apply(struct account *acct, const struct table_apply_opts *o,
		  struct output *events, struct table_result *res, struct err *e);

#endif
