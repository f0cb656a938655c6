/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Named network namespaces (the files `ip netns add` binds under
 * /run/netns): opening one safely, its identity, entering it and coming
 * back, and following the directory as names come and go.  Every handle
 * is a file descriptor the caller owns; nothing is global.  Entering is
 * per thread (setns): meant for a single-threaded daemon, or a thread that
 * enters, opens its sockets and comes back before doing anything else. */
#ifndef NFTALLY_NETNS_H
#define NFTALLY_NETNS_H

#include <stdbool.h>

#include "err.h"
#include "netns_id.h"

#define NETNS_RUN_DIR "/run/netns"

/* A name netns_open accepts: 1 to NAME_MAX bytes, not "." or "..", no
 * '/', no control characters (bytes below 0x20, 0x7f). */
bool netns_name_ok(const char *name);

/* Open dir/name (dir NULL: NETNS_RUN_DIR) as a network namespace, without
 * following a symbolic link and without opening anything that is not a
 * namespace.  On success *fd is an O_RDONLY|O_CLOEXEC descriptor the
 * caller closes; it keeps the namespace alive until then.  Errors:
 * -EINVAL with e set for a hostile name or a file that is no network
 * namespace (a directory, a link, a file with contents, another kind of
 * namespace); -ENOENT if there is no such file; -EAGAIN with e set if it is
 * an empty plain file, not yet (or no longer) a namespace: `ip netns add`
 * creates the file before it binds the namespace onto it and `ip netns
 * del` unbinds before it unlinks, so the caller tries again a little later
 * (and gives up after a while: a failed `ip netns add` removes its file,
 * but an empty file anyone else leaves there stays -EAGAIN); other
 * negative errnos with e set. */
int netns_open(const char *dir, const char *name, int *fd, struct err *e);

/* The calling thread's own network namespace, as an fd as above. */
int netns_open_self(int *fd, struct err *e);

/* Move the calling thread into the namespace of fd; *back gets an fd of
 * the namespace it was in, for netns_leave.  Needs CAP_SYS_ADMIN.  0, or
 * a negative errno with e set and the thread where it was. */
int netns_enter(int fd, int *back, struct err *e);

/* Move the calling thread back into back's namespace and close back
 * (closed also on failure).  0 or a negative errno; a failure leaves the
 * thread in the other namespace, which a caller cannot recover from in
 * general: it should stop. */
int netns_leave(int back);

/* The identity of fd's namespace: the nsfs inode's dev and ino, and the
 * kernel's cookie (SO_NETNS_COOKIE, read from a socket made in the
 * namespace: the thread enters and leaves it) or 0 on a kernel without
 * cookies.  0, or a negative errno with e set. */
int netns_identity(int fd, struct netns_id *id, struct err *e);

/* List the names in dir (NULL: NETNS_RUN_DIR): cb is called for every
 * entry netns_name_ok accepts but directories (a namespace is bound onto a
 * file), in no particular order; whether it is a namespace, netns_open
 * tells.  A missing dir has no names.  A non-zero
 * return of cb stops the listing and is returned; else 0 or a negative
 * errno. */
int netns_dir_list(const char *dir, int (*cb)(const char *name, void *data), void *data);

/* The directory followed with inotify, whether or not it exists yet: while
 * it does not, its parent is watched for its creation (/run/netns appears
 * with the first `ip netns add`).  Returns NULL with errno set (ENOENT if
 * the parent does not exist either). */
struct netns_dir;
struct netns_dir *netns_dir_create(const char *dir);
/* Freeing NULL is harmless. */
void netns_dir_destroy(struct netns_dir *d);
/* Readable when changes wait: call netns_dir_drain. */
int netns_dir_fd(const struct netns_dir *d);

/* Read the changes that wait, without blocking, and report each:
 * cb(name, true) for a name created or moved in, cb(name, false) for one
 * deleted or moved away; directories and names netns_name_ok refuses are
 * not reported.
 * cb(NULL, false) means "changes were not reported one by one" (the queue
 * overflowed, or the directory itself appeared, went or was replaced):
 * the caller lists the directory again with netns_dir_list and compares
 * with what it has.  Reports may repeat what a listing already showed, so
 * the caller treats an added name it has and a removed one it has not as
 * nothing.  A created name is usually not a namespace yet (-EAGAIN from
 * netns_open): the caller retries.  Returns 0 or a negative errno. */
int netns_dir_drain(struct netns_dir *d, void (*cb)(const char *name, bool added, void *data),
		    void *data);

#endif
