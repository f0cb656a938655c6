/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What nftally has reported, persisted so that a restart (clean or kill -9)
 * continues exactly where the last report ended: per address the counter
 * values up to which deltas were reported, the report sequence number, and
 * the kernel handle of the table those values came from.  Files are written
 * to a temporary name, fsynced and renamed, so a crash at any instant leaves
 * either the old or the new file. */
#ifndef NFTALLY_STATE_H
#define NFTALLY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "addr.h"
#include "counts.h"
#include "err.h"

struct state_entry {
	struct addr addr;
	bool rep;          /* a line was printed for it in this report */
	/* reported for the last time (its address left): nftally deletes its
	 * counters after this report, so a counter of that name met later is
	 * one nftally made again and counts from zero, silently */
	bool last;
	struct counts c;   /* counter values reported up to */
	/* kernel handles of the in and out counters those values were read
	 * from (0: unknown): a counter with another handle was created again
	 * and counts from zero */
	uint64_t h[2];
	char *label;
};

struct state {
	char table[40];
	uint64_t handle;   /* kernel handle of the table; 0 = unknown */
	/* the kernel's boot_id when handle was read ("" = unknown): handles
	 * start again in every boot and every new network namespace, so a
	 * handle of another boot says nothing */
	char boot[40];
	uint64_t seq;      /* number of the report these values close */
	int64_t time;      /* when this report was made (Unix seconds) */
	int64_t base_time; /* when the values of the addresses that stay were
			    * last read (0: never; they count from creation) */
	unsigned overhead; /* bytes per packet added to the bytes of its report
			    * (config `overhead`), kept so a replay is the same */
	struct state_entry *v; /* sorted by address after state_sort */
	size_t n, cap;
};

/* The kernel's boot id (/proc/sys/kernel/random/boot_id) into buf (40
 * bytes), "" when it cannot be read. */
void state_boot_id(char *buf, size_t size);

void state_init(struct state *s);
void state_finish(struct state *s);

/* Append an entry (label is copied), its handles unknown.  Returns 0 or
 * -ENOMEM. */
int state_add(struct state *s, const struct addr *a, const char *label,
	      const struct counts *c, bool rep);
/* Append a copy of x with label instead of x->label (copied).  Returns 0
 * or -ENOMEM. */
int state_add_entry(struct state *s, const struct state_entry *x, const char *label);
void state_sort(struct state *s);
/* The entry for address a in a sorted state, or NULL. */
const struct state_entry *state_find(const struct state *s, const struct addr *a);

/* Where the delta of one counter starts. */
enum state_from {
	STATE_FROM_REPORTED,  /* the reported value: the same counter counted on */
	STATE_FROM_ZERO,      /* zero: a counter nftally deleted and made again
			       * (its address left and came back), silently */
	STATE_FROM_RESET,     /* zero: it went backwards (nft reset counter; or
			       * recreated, when a handle is unknown) */
	STATE_FROM_RECREATED, /* zero: another counter of that name, which
			       * someone deleted and created again */
};

/* One counter as read (cur) or as reported (base): its values and kernel
 * handle (0: unknown). */
struct state_reading {
	uint64_t bytes, packets, handle;
};

/* Where cur's delta starts against base, the reported reading of that
 * counter's name; base_last: base was its address's last report, after
 * which nftally deleted the counter.  A different handle is a different
 * counter, whatever its values; with a handle unknown only a value that
 * went backwards tells. */
enum state_from state_delta_from(const struct state_reading *cur,
				 const struct state_reading *base, bool base_last);

/* Text form (see docs/design.md).  Returns 0 or -EIO. */
int state_format(const struct state *s, FILE *f);
/* Parse the text form; errors "NAME:LINE: ..." with -EINVAL. */
int state_parse_buffer(struct state *s, const char *name, const char *buf,
		       size_t len, struct err *e);

/* Open (creating with mode 0700 if missing) the state directory without
 * following a symlink at its last component.  Returns a directory fd. */
int state_dir_open(const char *path, struct err *e);
/* The same for commands that only look: never creates; -1 if there is no
 * state directory (or it is a symlink). */
int state_dir_open_existing(const char *path);

/* The names of table's files in the state directory. */
#define STATE_NAME_MAX 64
struct state_names {
	char state[STATE_NAME_MAX];   /* TABLE.state: what was reported */
	char pending[STATE_NAME_MAX]; /* TABLE.pending: a report being made */
	/* TABLE.draining: addresses that left the targets file before any
	 * report had them, whose counters wait for the next report (so that
	 * a restart finds the counters and drains them) */
	char draining[STATE_NAME_MAX];
};
void state_names_init(struct state_names *n, const char *table);
/* Take the exclusive lock of `table` in dirfd (file TABLE.lock, holding the
 * PID and, on a second line, `what`: the targets file of the run).  Returns
 * the lock fd, -EBUSY with e naming the holder, or another negative errno. */
int state_lock(int dirfd, const char *dirpath, const char *table, const char *what,
	       struct err *e);
/* PID holding the lock of table, 0 if none; what (if not NULL) gets the
 * second line of the lock file. */
int state_lock_holder(int dirfd, const char *table, char *what, size_t size);
/* The same for a lock file open as fd (read from its start). */
int state_lock_read(int fd, char *what, size_t size);

/* Load file (relative to dirfd, never through a symlink): 0, -ENOENT when
 * it does not exist, -EINVAL when it is corrupt (e says where). */
int state_load(struct state *s, int dirfd, const char *dirpath, const char *file,
	       struct err *e);
/* Write file atomically: FILE.tmp, fsync, rename, fsync the directory. */
int state_save(const struct state *s, int dirfd, const char *dirpath,
	       const char *file, struct err *e);
/* Rename from -> to and fsync the directory. */
int state_rename(int dirfd, const char *dirpath, const char *from, const char *to,
		 struct err *e);

#endif
