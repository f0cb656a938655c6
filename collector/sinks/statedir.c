// SPDX-License-Identifier: GPL-2.0-or-later
/* The state directory: the files of what was reported (written with
 * write-fsync-rename so that each is always either the old or the new
 * version), the lock of a table's run, and the kernel's boot id that dates
 * the handles kept in them.  The text inside the files is state.c's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "statedir.h"

#define STATE_FILE_MAX ((size_t)1 << 30)
#define STATEDIR_READ_BLOCK (256u << 10)

void statedir_boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = 0;
	else
		buf[0] = 0;
	fclose(f);
}

int statedir_open(const char *path, struct err *e)
{
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_setn(e, -errno, "%s: cannot create state directory: %s", path,
				strerror(errno));
	fd = statedir_open_existing(path);
	if (fd < 0) {
		struct stat st;
		int saved = errno;

		/* O_NOFOLLOW|O_DIRECTORY says ENOTDIR or ELOOP for a symlink. */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return err_setn(e, -ELOOP, "%s: cannot open state directory: it is "
					"a symlink", path);
		return err_setn(e, -saved, "%s: cannot open state directory: %s", path,
				strerror(saved));
	}
	return fd;
}

int statedir_open_existing(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void statedir_names_init(struct statedir_names *n, const char *table)
{
	snprintf(n->state, sizeof(n->state), "%s.state", table);
	snprintf(n->pending, sizeof(n->pending), "%s.pending", table);
	snprintf(n->draining, sizeof(n->draining), "%s.draining", table);
	snprintf(n->applied, sizeof(n->applied), "%s.applied", table);
}

static int lock_name(char *buf, size_t size, const char *table)
{
	return snprintf(buf, size, "%s.lock", table) < (int)size ? 0 : -ENAMETOOLONG;
}

/* Open file description locks: released when the run's descriptor closes
 * (exit, kill -9), and F_OFD_GETLK asks without taking the lock, so a
 * check never makes a starting run fail. */
static struct flock lock_whole(short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fl;
}

static bool lock_held(int fd)
{
	struct flock fl = lock_whole(F_WRLCK);

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

int statedir_lock_holder(int dirfd, const char *table, char *what, size_t size)
{
	char name[STATEDIR_NAME_MAX];
	int fd, pid;

	if (what && size)
		what[0] = '\0';
	if (lock_name(name, sizeof(name), table) < 0)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pid = statedir_lock_read(fd, what, size);
	close(fd);
	return pid;
}

int statedir_lock_read(int fd, char *what, size_t size)
{
	char buf[PATH_MAX + 32] = "";
	int pid = 0;
	ssize_t n;

	if (what && size)
		what[0] = '\0';
	if (!lock_held(fd))
		return 0;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		char *nl = strchr(buf, '\n');

		buf[n] = '\0';
		pid = atoi(buf);
		if (nl && what && size) {
			snprintf(what, size, "%s", nl + 1);
			what[strcspn(what, "\n")] = '\0';
		}
	}
	return pid;
}

int statedir_lock(int dirfd, const char *dirpath, const char *table, const char *what,
		  struct err *e)
{
	char name[STATEDIR_NAME_MAX], pid[PATH_MAX + 32];
	int fd, holder;

	if (lock_name(name, sizeof(name), table) < 0)
		return err_setn(e, -ENAMETOOLONG, "table name too long");
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setn(e, -errno, "%s/%s: %s", dirpath, name,
				errno == ELOOP ? "is a symlink; refusing to follow it" :
				strerror(errno));
	struct flock fl = lock_whole(F_WRLCK);

	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		close(fd);
		holder = statedir_lock_holder(dirfd, table, NULL, 0);
		return err_setn(e, -EBUSY, "another nftally run (pid %d) is accounting table "
				"inet %s with state in %s", holder, table, dirpath);
	}
	snprintf(pid, sizeof(pid), "%d\n%s\n", (int)getpid(), what);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		close(fd);
		return err_setn(e, -errno, "%s/%s: %s", dirpath, name, strerror(errno));
	}
	return fd;
}

int statedir_load(struct state *s, struct addr_names *an, int dirfd, const char *dirpath,
		  const char *file, struct err *e)
{
	return statedir_load_some(s, an, dirfd, dirpath, file, NULL, NULL, e);
}

int statedir_load_some(struct state *s, struct addr_names *an, int dirfd, const char *dirpath,
		       const char *file, bool (*keep)(const struct state_entry *x, void *data),
		       void *data, struct err *e)
{
	int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char name[4200], *buf;
	struct state_parser p;
	size_t total = 0;
	ssize_t got;
	int ret;

	snprintf(name, sizeof(name), "%s/%s", dirpath, file);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return err_setn(e, errno == ELOOP ? -EINVAL : -errno, "%s: %s", name,
				errno == ELOOP ? "is a symlink; refusing to follow it" :
				strerror(errno));
	/* In blocks: the text of a large state is never held whole. */
	buf = malloc(STATEDIR_READ_BLOCK);
	if (!buf) {
		close(fd);
		return err_setn(e, -ENOMEM, "%s: %s", name, strerror(ENOMEM));
	}
	state_parse_begin(&p, s, an);
	p.keep = keep;
	p.keep_data = data;
	while ((got = read(fd, buf, STATEDIR_READ_BLOCK)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (total += (size_t)got) > STATE_FILE_MAX)
			break;
		state_parse_more(&p, buf, (size_t)got);
	}
	ret = got < 0 ? -errno : total > STATE_FILE_MAX ? -EFBIG : 0;
	free(buf);
	close(fd);
	if (ret < 0) {
		state_finish(s);
		return err_setn(e, ret == -EFBIG ? -EINVAL : ret, "%s: %s", name,
				strerror(-ret));
	}
	ret = state_parse_end(&p, name, e);
	if (ret < 0)
		state_finish(s);
	return ret;
}

static int sync_dir(int dirfd, const char *dirpath, struct err *e)
{
	if (fsync(dirfd) < 0)
		return err_setn(e, -errno, "%s: fsync: %s", dirpath, strerror(errno));
	return 0;
}

int statedir_save(const struct state *s, const struct addr_names *an, int dirfd,
		  const char *dirpath, const char *file, struct err *e)
{
	char tmp[300];
	FILE *f;
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	/* A leftover from a crash, or something planted: never write through it. */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return err_setn(e, -errno, "%s/%s: %s", dirpath, tmp, strerror(errno));
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setn(e, -errno, "%s/%s: %s", dirpath, tmp, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return err_setn(e, -ENOMEM, "out of memory");
	}
	/* without stdio's lock around each of the 300,000 calls that write
	 * 100,000 entries (f is this thread's alone); a 1 MB buffer instead
	 * of the 4 KB one cost 16 MB of peak RSS and more CPU, not less */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	ret = state_format(s, an, f);
	if (fflush(f) != 0 || fsync(fd) < 0)
		ret = errno ? -errno : -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -EIO;
	if (ret < 0) {
		unlinkat(dirfd, tmp, 0);
		return err_setn(e, ret, "%s/%s: writing failed: %s", dirpath, tmp, strerror(-ret));
	}
	return statedir_rename(dirfd, dirpath, tmp, file, e);
}

int statedir_rename(int dirfd, const char *dirpath, const char *from, const char *to,
		    struct err *e)
{
	if (renameat(dirfd, from, dirfd, to) < 0)
		return err_setn(e, -errno, "%s: renaming %s to %s: %s", dirpath, from, to,
				strerror(errno));
	return sync_dir(dirfd, dirpath, e);
}
