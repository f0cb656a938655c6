/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Named network namespaces: the files under /run/netns are bind mounts of
 * nsfs inodes.  A namespace is known by what it is, not by its name: a
 * router namespace deleted and created again under the same name is
 * another namespace, with table handles counted from 1 again, so every
 * comparison goes through its identity (cookie, else inode). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#if defined(__has_include) && __has_include(<linux/nsfs.h>)
#include <linux/nsfs.h>
#endif
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "netns.h"

/* Older uapi headers lack it.  71 is the asm-generic number (x86, arm,
 * arm64, riscv, ...); alpha, mips, parisc and sparc headers define their
 * own and know it since 5.14 too. */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
/* Kernel 4.11; headers before it lack linux/nsfs.h. */
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(0xb7, 0x3)
#endif

bool netns_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* What fd (O_PATH or not) is: 0 an nsfs inode, -EAGAIN an empty plain
 * file (the placeholder of `ip netns add` or what `ip netns del` leaves
 * for a moment: nothing is ever bound onto a file with contents), -EINVAL
 * anything else. */
static int netns_kind(int fd)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		return -errno;
	if ((uint64_t)sfs.f_type == NSFS_MAGIC)
		return 0;
	return S_ISREG(st.st_mode) && st.st_size == 0 ? -EAGAIN : -EINVAL;
}

/* Is fd a network namespace (not a mount, uts... namespace bound there)?
 * Kernels before 4.11 cannot say (ENOTTY): setns(CLONE_NEWNET) will. */
static bool netns_is_net(int fd)
{
	int type = ioctl(fd, NS_GET_NSTYPE);

	return type == CLONE_NEWNET || (type < 0 && errno == ENOTTY);
}

/* The name checked, open dir/name as O_PATH: nothing that is not a
 * namespace is ever opened for reading (a fifo, a device). */
static int netns_open_path(int dfd, const char *where, const char *name, struct err *e)
{
	int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int ret;

	if (pfd < 0 && errno == ENOENT)
		return err_setn(e, -ENOENT, "no network namespace %s/%s", where, name);
	if (pfd < 0)
		return err_setn(e, -errno, "%s/%s: %s", where, name, strerror(errno));
	ret = netns_kind(pfd);
	close(pfd);
	if (ret == 0)
		return 0;
	if (ret == -EAGAIN)
		return err_setn(e, ret, "%s/%s is not a network namespace yet", where, name);
	if (ret == -EINVAL)
		return err_set(e, "%s/%s is not a network namespace", where, name);
	return err_setn(e, ret, "%s/%s: %s", where, name, strerror(-ret));
}

int netns_open(const char *dir, const char *name, int *fd, struct err *e)
{
	const char *where = dir ? dir : NETNS_RUN_DIR;
	char shown[80];
	int dfd, nfd = -1, ret;

	if (!netns_name_ok(name))
		return err_set(e, "\"%s\" is not a network namespace name",
			       err_printable(shown, sizeof(shown), name, strlen(name)));
	dfd = open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return err_setn(e, -ENOENT, "no network namespace %s/%s", where, name);
	if (dfd < 0)
		return err_setn(e, -errno, "%s: %s", where, strerror(errno));
	ret = netns_open_path(dfd, where, name, e);
	if (ret < 0)
		goto out;
	/* Open it for real and look again: between the two opens it may have
	 * been deleted, or deleted and added again. */
	nfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0) {
		ret = err_setn(e, -errno, "%s/%s: %s", where, name, strerror(errno));
		goto out;
	}
	if (netns_kind(nfd) != 0)
		ret = err_setn(e, -EAGAIN, "%s/%s changed while it was opened", where, name);
	else if (!netns_is_net(nfd))
		ret = err_set(e, "%s/%s is a namespace but not a network namespace", where, name);
out:
	close(dfd);
	if (ret < 0) {
		if (nfd >= 0)
			close(nfd);
		return ret;
	}
	*fd = nfd;
	return 0;
}

int netns_open_self(int *fd, struct err *e)
{
	/* setns moves a thread, so "our" namespace is the thread's; kernels
	 * before 3.17 have no thread-self, and there the process's is the
	 * thread's in a single-threaded daemon. */
	int nfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (nfd < 0 && errno == ENOENT)
		nfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nfd < 0)
		return err_setn(e, -errno, "opening our own network namespace: %s", strerror(errno));
	*fd = nfd;
	return 0;
}

int netns_enter(int fd, int *back, struct err *e)
{
	int ret = netns_open_self(back, e);

	if (ret < 0)
		return ret;
	if (setns(fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(*back);
		*back = -1;
		return err_setn(e, ret, "entering a network namespace: %s", strerror(-ret));
	}
	return 0;
}

int netns_leave(int back)
{
	int ret = setns(back, CLONE_NEWNET) < 0 ? -errno : 0;

	close(back);
	return ret;
}

/* The cookie of the namespace the thread is in; 0 when the kernel has
 * none (before 5.14: ENOPROTOOPT). */
static int netns_cookie_here(uint64_t *cookie, struct err *e)
{
	socklen_t len = sizeof(*cookie);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return err_setn(e, -errno, "a socket for the namespace cookie: %s", strerror(errno));
	*cookie = 0;
	if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0) {
		*cookie = 0;
		if (errno != ENOPROTOOPT)
			ret = err_setn(e, -errno, "reading the namespace cookie: %s", strerror(errno));
	}
	close(s);
	return ret;
}

int netns_identity(int fd, struct netns_id *id, struct err *e)
{
	struct stat st, self;
	int back, ret;

	if (fstat(fd, &st) < 0)
		return err_setn(e, -errno, "a network namespace's inode: %s", strerror(errno));
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	/* Our own namespace needs no round trip. */
	if ((stat("/proc/thread-self/ns/net", &self) == 0 ||
	     stat("/proc/self/ns/net", &self) == 0) &&
	    self.st_dev == st.st_dev && self.st_ino == st.st_ino)
		return netns_cookie_here(&id->cookie, e);
	ret = netns_enter(fd, &back, e);
	if (ret < 0)
		return ret;
	ret = netns_cookie_here(&id->cookie, e);
	int left = netns_leave(back);

	if (left < 0 && ret == 0)
		ret = err_setn(e, left, "coming back from a network namespace: %s",
			       strerror(-left));
	return ret;
}

int netns_dir_list(const char *dir, int (*cb)(const char *name, void *data), void *data)
{
	DIR *d = opendir(dir ? dir : NETNS_RUN_DIR);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	errno = 0;
	while (ret == 0 && (de = readdir(d))) {
		/* A namespace is bound onto a file, never onto a directory. */
		if (de->d_type != DT_DIR && netns_name_ok(de->d_name))
			ret = cb(de->d_name, data);
		errno = 0;
	}
	if (ret == 0 && errno)
		ret = -errno;
	closedir(d);
	return ret;
}

/* Room for a burst of events, each with a name of up to NAME_MAX bytes. */
#define NETNS_DIR_BUF (16 * (sizeof(struct inotify_event) + NAME_MAX + 1))
#define NETNS_DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define NETNS_PARENT_EVENTS (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

struct netns_dir {
	int fd;         /* the inotify instance */
	int wd_dir;     /* the directory's watch, or -1 while it does not exist */
	int wd_parent;  /* the parent's, only while the directory does not exist */
	char *dir;
	char *parent;
	const char *base; /* the directory's name in parent (in dir) */
};

/* Watch the directory if it exists, else its parent for its creation, in
 * the order that loses no creation in between.  0 or negative errno. */
static int netns_dir_arm(struct netns_dir *d)
{
	d->wd_dir = inotify_add_watch(d->fd, d->dir, NETNS_DIR_EVENTS);
	if (d->wd_dir >= 0)
		goto have_dir;
	if (errno != ENOENT && errno != ENOTDIR)
		return -errno;
	if (d->wd_parent < 0) {
		d->wd_parent = inotify_add_watch(d->fd, d->parent, NETNS_PARENT_EVENTS);
		if (d->wd_parent < 0)
			return -errno;
	}
	/* Created between the two calls: the parent's event may be gone. */
	d->wd_dir = inotify_add_watch(d->fd, d->dir, NETNS_DIR_EVENTS);
	if (d->wd_dir < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
have_dir:
	if (d->wd_parent >= 0) {
		inotify_rm_watch(d->fd, d->wd_parent);
		d->wd_parent = -1;
	}
	return 0;
}

struct netns_dir *netns_dir_create(const char *dir)
{
	struct netns_dir *d = calloc(1, sizeof(*d));
	char *slash;
	int saved, ret;

	if (!d)
		return NULL;
	d->wd_dir = d->wd_parent = -1;
	d->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->dir = strdup(dir ? dir : NETNS_RUN_DIR);
	if (d->fd < 0 || !d->dir)
		goto fail;
	/* "/run/netns/" is "/run/netns"; a name without '/' is in ".". */
	for (size_t n = strlen(d->dir); n > 1 && d->dir[n - 1] == '/'; n--)
		d->dir[n - 1] = '\0';
	slash = strrchr(d->dir, '/');
	if (!slash)
		d->parent = strdup(".");
	else if (slash == d->dir)
		d->parent = strdup("/");
	else
		d->parent = strndup(d->dir, (size_t)(slash - d->dir));
	d->base = slash ? slash + 1 : d->dir;
	if (!d->parent)
		goto fail;
	ret = netns_dir_arm(d);
	if (ret < 0) {
		errno = -ret;
		goto fail;
	}
	return d;
fail:
	saved = errno;
	netns_dir_destroy(d);
	errno = saved;
	return NULL;
}

void netns_dir_destroy(struct netns_dir *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->dir);
	free(d->parent);
	free(d);
}

int netns_dir_fd(const struct netns_dir *d)
{
	return d->fd;
}

/* One event; true if the caller must list the directory again. */
static bool netns_dir_event(struct netns_dir *d, const struct inotify_event *ev,
			    void (*cb)(const char *name, bool added, void *data), void *data)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (ev->wd == d->wd_parent && d->wd_parent >= 0) {
		/* Only the directory's own creation matters in the parent. */
		return ev->len && strcmp(ev->name, d->base) == 0;
	}
	if (ev->wd != d->wd_dir || d->wd_dir < 0)
		return false; /* a watch given up: its IN_IGNORED */
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
		/* The directory went, or moved away with the watch on it. */
		if (!(ev->mask & IN_IGNORED))
			inotify_rm_watch(d->fd, d->wd_dir);
		d->wd_dir = -1;
		return true;
	}
	if (!ev->len || (ev->mask & IN_ISDIR) || !netns_name_ok(ev->name))
		return false;
	if (ev->mask & (IN_CREATE | IN_MOVED_TO))
		cb(ev->name, true, data);
	else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		cb(ev->name, false, data);
	return false;
}

int netns_dir_drain(struct netns_dir *d, void (*cb)(const char *name, bool added, void *data),
		    void *data)
{
	char buf[NETNS_DIR_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool rescan = false;
	int ret = 0;

	for (;;) {
		ssize_t n = read(d->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			rescan |= netns_dir_event(d, ev, cb, data);
			p += sizeof(*ev) + ev->len;
		}
	}
	/* The directory appeared or went: watch what is there now. */
	if (rescan && d->wd_dir < 0)
		ret = netns_dir_arm(d);
	if (rescan)
		cb(NULL, false, data);
	return ret;
}
