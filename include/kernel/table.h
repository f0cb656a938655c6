/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftally's table as a whole: install or update it (skeleton through
 * libnftables, per-address counters and elements through nl batches), read
 * every target's counters, and remove it. */
#ifndef NFTALLY_TABLE_H
#define NFTALLY_TABLE_H

#include <stdbool.h>

#include "counts.h"
#include "err.h"
#include "nl.h"
#include "render.h"
#include "targets.h"

/* An address that left the targets: its last values, read after its map
 * elements were deleted (so it had stopped counting) and before its counters
 * were deleted. */
struct table_gone {
	struct addr addr;
	struct counts c;
	uint64_t h[2]; /* kernel handles of its in and out counters */
};

/* A map element that was not what nftally installs (edited by hand): it
 * pointed at counter `ref`.  It was deleted, and if its key is a target's
 * (`target`), added again pointing at the target's own counter. */
struct table_fix {
	char addr[ADDR_STRLEN]; /* the target, or the element's key */
	char map[ADDR_MAPNAMELEN];
	char ref[ADDR_NAMELEN];
	bool target;
};

struct table_result {
	uint64_t handle;   /* kernel handle of the table after apply */
	uint32_t genid;    /* ruleset generation after apply (nl_genid; 0: unknown) */
	bool created;      /* the table did not exist before */
	size_t added;      /* addresses that got new counters */
	struct table_gone *gone; /* malloc'd, caller frees */
	size_t ngone;
	bool ngone_committed; /* the elements of gone are deleted */
	/* counters of addresses that left stay without elements, unread
	 * (their last values could not be read): genid is then 0, so that
	 * nobody takes the table for what the targets say */
	bool undrained;
	/* elements mended by a listing of the table (malloc'd, caller frees) */
	struct table_fix *fixed;
	size_t nfixed;
};

/* 1 if table exists and is nftally's, 0 if it does not exist; -EEXIST with
 * e set if a table of that name exists without nftally's marker; other
 * negative errnos for netlink failures. */
int table_owned(struct nl *nl, const char *table, uint64_t *handle, struct err *e);

/* Called by table_apply once the addresses that left have stopped counting
 * and their last values are in res->gone, before their counters are deleted.
 * A positive return keeps the counters for a later apply to drain; a
 * negative one keeps them too and makes table_apply fail with it. */
typedef int (*table_drained_cb)(const struct table_result *res, void *data);

struct table_apply_opts {
	/* Addresses nftally reported before: in large tables counters are
	 * found by name, and a counter whose address is in neither the
	 * targets, the maps nor known is not found.  Those that are targets
	 * may be left out (the callers do: a run's state names every target
	 * again, 19 MB at 1,000,000); the table counts as large from 8192
	 * names, 2 x (targets + nknown + hint->n). */
	const struct addr *known;
	size_t nknown;
	/* What the caller installed in the table whose kernel handle is
	 * prev_handle: if that is still the table, apply only the difference
	 * without listing the table (falling back to a listing if the kernel
	 * disagrees). */
	const struct targets *prev;
	uint64_t prev_handle;
	/* Without prev: what was installed last (an apply's record that
	 * cannot be trusted any more), sorted.  A large table is not listed
	 * (element dumps are quadratic): its counters are looked for among
	 * the targets, known and these (the callers keep only those that
	 * are no target).  May be NULL. */
	const struct targets *hint;
	table_drained_cb drained; /* may be NULL */
	/* Asked first, before the elements of the addresses that left are
	 * deleted: a positive return means the caller drains them itself
	 * later (no read, drained is not called, the counters stay); 0 goes
	 * on as without it.  If the change then fails, the caller is told by
	 * table_apply's return.  May be NULL. */
	table_drained_cb defer;
	void *data;
	/* A full resync (SIGHUP, a repair): list the kernel's table whatever
	 * prev says, rebuild the skeleton even if its hash says it is
	 * unchanged (mends rules deleted by hand), and drain the addresses
	 * that leave at once (defer is not asked). */
	bool full;
	/* The ruleset generation right after the caller's last commit of
	 * prev (res->genid of that apply; 0: unknown).  If the namespace's
	 * generation is still this one, nobody committed anything since: a
	 * full resync then trusts prev as an incremental apply does (no
	 * listing, no skeleton rebuild; addresses that leave still drain at
	 * once). */
	uint32_t prev_genid;
};

/* Bring the kernel's table to skeleton + targets, never resetting the
 * counters of addresses that stay.  Addresses that leave are drained: their
 * map elements go first (counting stops), their counters are read (and
 * o->drained, if set, sees the values), then deleted.  On failure before
 * any change, the table is as it was. */
int table_apply(struct nl *nl, const char *table, const char *skeleton,
		const char *tmpl_path, const struct targets *t,
		const struct table_apply_opts *o, struct table_result *res, struct err *e);

/* Read the in/out counters of every target into out[t->n], and (if h is
 * not NULL) their kernel handles into h[2 * i] and h[2 * i + 1] (0 for a
 * missing counter).  *missing gets the number of targets with a counter
 * that does not exist, and miss[i] (if miss is not NULL) says which. */
int table_read(struct nl *nl, const char *table, const struct targets *t,
	       struct counts *out, uint64_t *h, bool *miss, size_t *missing, struct err *e);

/* Counters' names are made and their values read this many addresses at
 * a time: at 1,000,000 addresses the names alone (65 bytes each, two per
 * address) were 146 MB, and the values 64 MB.  Large enough that each
 * block is still shared among the reader threads. */
#define TABLE_READ_BLOCK 65536

/* The in and out counters of n addresses (which need not be targets), the
 * first at `first` and each next one `stride` bytes further (a member of
 * an array of structs): out[2 * i] and out[2 * i + 1], each with its
 * value or error. */
int table_read_counters_of(struct nl *nl, const char *table, const struct addr *first,
			   size_t stride, size_t n, struct nl_counter *out, struct err *e);

/* An address's values and handles from its in and out counters c[0] and
 * c[1] as read: a counter that could not be read gives zeros and handle
 * 0.  True when one could not. */
bool table_counter_pair(const struct nl_counter *c, struct counts *v, uint64_t h[2]);

/* Delete counters of n addresses (as above; their elements are gone) in
 * one transaction: both of each, or those which[2 * i + dir] names. */
int table_delete_counters(struct nl *nl, const char *table, const struct addr *first,
			  size_t stride, size_t n, const bool *which, struct err *e);

/* The enforcement sets of en (render_enforce_sets), emptied and filled
 * with the addresses of t that en holds, in one transaction: its size is
 * what is enforced, not the table.  Nothing without en->on.  0 or a
 * negative errno with e set (then the sets are as they were). */
int table_enforce(struct nl *nl, const char *table, const struct targets *t,
		  const struct render_enforce *en, struct err *e);

/* Delete the enforcement sets names[0..n) (and a throttle set's meters)
 * that the skeleton no longer declares nor uses, each in a transaction of
 * its own; one that is not there is no error. */
void table_drop_sets(struct nl *nl, const char *table, const char (*names)[32], size_t n);

/* Delete the table if it is nftally's. */
int table_remove(struct nl *nl, const char *table, struct err *e);

/* A one-line description of a netlink errno for people. */
const char *table_strerror(int negerrno);

#endif
