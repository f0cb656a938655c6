/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state directory: a table's state files (state.h's text, written to a
 * temporary name, fsynced and renamed, so a crash at any instant leaves
 * either the old or the new file), the lock of the run accounting the
 * table, and the kernel's boot id. */
#ifndef NFTALLY_STATEDIR_H
#define NFTALLY_STATEDIR_H

#include <stddef.h>

#include "err.h"
#include "state.h"

/* The kernel's boot id (/proc/sys/kernel/random/boot_id) into buf (40
 * bytes), "" when it cannot be read. */
void statedir_boot_id(char *buf, size_t size);

/* Open (creating with mode 0700 if missing) the state directory without
 * following a symlink at its last component.  Returns a directory fd. */
int statedir_open(const char *path, struct err *e);
/* The same for commands that only look: never creates; -1 if there is no
 * state directory (or it is a symlink). */
int statedir_open_existing(const char *path);

/* The names of table's files in the state directory. */
#define STATEDIR_NAME_MAX 256
struct statedir_names {
	char state[STATEDIR_NAME_MAX];   /* TABLE.state: what was reported */
	char pending[STATEDIR_NAME_MAX]; /* TABLE.pending: a report being made */
	/* TABLE.draining: addresses that left the targets file before any
	 * report had them, whose counters wait for the next report (so that
	 * a restart finds the counters and drains them) */
	char draining[STATEDIR_NAME_MAX];
	/* TABLE.applied: what the last `nftally apply` installed, in the
	 * state's text form (a record, not a report; docs/design.md) */
	char applied[STATEDIR_NAME_MAX];
};
void statedir_names_init(struct statedir_names *n, const char *table);
/* Take the exclusive lock of `table` in dirfd (file TABLE.lock, holding the
 * PID and, on a second line, `what`: the targets file of the run).  Returns
 * the lock fd, -EBUSY with e naming the holder, or another negative errno. */
int statedir_lock(int dirfd, const char *dirpath, const char *table, const char *what,
		  struct err *e);
/* PID holding the lock of table, 0 if none; what (if not NULL) gets the
 * second line of the lock file. */
int statedir_lock_holder(int dirfd, const char *table, char *what, size_t size);
/* The same for a lock file open as fd (read from its start). */
int statedir_lock_read(int fd, char *what, size_t size);

/* Load file (relative to dirfd, never through a symlink), its classes
 * numbered in an (state_parse_buffer): 0, -ENOENT when it does not exist,
 * -EINVAL when it is corrupt (e says where). */
int statedir_load(struct state *s, struct addr_names *an, int dirfd, const char *dirpath,
		  const char *file, struct err *e);
/* The same, keeping only the entries keep(x, data) wants (struct
 * state_parser): what is not needed of a large file is never held. */
int statedir_load_some(struct state *s, struct addr_names *an, int dirfd, const char *dirpath,
		       const char *file, bool (*keep)(const struct state_entry *x, void *data),
		       void *data, struct err *e);
/* Write file atomically (state_format with an's class names): FILE.tmp,
 * fsync, rename, fsync the directory. */
int statedir_save(const struct state *s, const struct addr_names *an, int dirfd,
		  const char *dirpath, const char *file, struct err *e);
/* Rename from -> to and fsync the directory. */
int statedir_rename(int dirfd, const char *dirpath, const char *from, const char *to,
		    struct err *e);

#endif
