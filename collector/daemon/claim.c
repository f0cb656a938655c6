// SPDX-License-Identifier: GPL-2.0-or-later
/* One run per table per network namespace, by an abstract unix socket
 * named after the table: bound by the run, connected to by whoever asks,
 * who learns the run's PID from SO_PEERCRED without any message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "claim.h"
#include "statedir.h"

/* sun_path[0] = '\0': abstract; the length given to bind/connect ends it. */
static socklen_t claim_addr(struct sockaddr_un *sa, const char *family, const char *table)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "nftally/run/%s/%s", family,
		     table);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1)
		return 0;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The holder's credentials: 1 connected (*cred set), 0 nobody holds it,
 * -1 held but not answering (a full backlog). */
static int claim_peer(const char *family, const char *table, struct ucred *cred)
{
	struct sockaddr_un sa;
	socklen_t len = claim_addr(&sa, family, table), clen = sizeof(*cred);
	int fd, ret;

	if (!len)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, len) == 0)
		ret = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &clen) == 0 ? 1 : -1;
	else
		ret = errno == ECONNREFUSED || errno == ENOENT ? 0 : -1;
	close(fd);
	return ret;
}

/* Has pid CAP_NET_ADMIN in our user namespace (as a run under a service
 * user with that one capability has)?  Capabilities in a user namespace
 * of its own say nothing about ours. */
static bool claim_net_admin(pid_t pid)
{
	char path[64], line[256];
	struct stat mine, its;
	bool ret = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat(path, &its) < 0 || stat("/proc/self/ns/user", &mine) < 0 ||
	    its.st_dev != mine.st_dev || its.st_ino != mine.st_ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "CapEff:", 7) == 0)
			ret = (strtoull(line + 7, NULL, 16) >> CAP_NET_ADMIN) & 1;
	fclose(f);
	return ret;
}

/* A name held by someone who could not change the table is a squatter,
 * not a run. */
static bool claim_trusted(const struct ucred *c)
{
	return c->uid == 0 || c->uid == geteuid() || claim_net_admin(c->pid);
}

int claim_holder(const char *family, const char *table)
{
	struct ucred c;
	int ret = claim_peer(family, table, &c);

	if (ret <= 0)
		return ret;
	if (!claim_trusted(&c))
		return 0;
	return c.pid > 0 ? c.pid : -1;
}

int claim_take(const char *family, const char *table, int *fd, struct err *e)
{
	struct sockaddr_un sa;
	socklen_t len = claim_addr(&sa, family, table);
	struct ucred c;
	int s, ret;

	*fd = -1;
	if (!len)
		return err_setn(e, -ENAMETOOLONG, "table name too long");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return err_setn(e, -errno, "cannot create a unix socket: %s", strerror(errno));
	if (bind(s, (struct sockaddr *)&sa, len) == 0 && listen(s, 64) == 0) {
		*fd = s;
		return 0;
	}
	ret = -errno;
	close(s);
	if (ret != -EADDRINUSE)
		return err_setn(e, ret, "cannot claim table %s %s: %s", family, table,
				strerror(-ret));
	ret = claim_peer(family, table, &c);
	if (ret == 1 && !claim_trusted(&c))
		return err_setn(e, 0, "the name @%s of table %s %s is held by pid %d of uid %u, "
				"which cannot be an nftally run; going on without it",
				sa.sun_path + 1, family, table, (int)c.pid, (unsigned)c.uid);
	if (ret == 1 && c.pid > 0)
		return err_setn(e, -EBUSY, "another nftally run (pid %d) is accounting table "
				"%s %s in this network namespace", (int)c.pid, family, table);
	return err_setn(e, -EBUSY, "another nftally run is accounting table %s %s in this "
			"network namespace", family, table);
}

/* Its lock file is among the run's open files: /proc/PID/fd/N opens it
 * again, whatever the run's state directory, mount namespace or path. */
int claim_holder_what(int pid, const char *table, char *what, size_t size)
{
	char dir[64], link[PATH_MAX], suffix[320], path[PATH_MAX];
	struct dirent *d;
	size_t ls;
	int ret = -ENOENT, n = 0;
	DIR *dp;

	if (what && size)
		what[0] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(suffix, sizeof(suffix), "/%s.lock", table);
	ls = strlen(suffix);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while (ret < 0 && n++ < 4096 && (d = readdir(dp))) {
		ssize_t k;
		size_t lk;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		k = readlink(path, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		lk = (size_t)k;
		if (lk < ls || strcmp(link + lk - ls, suffix) != 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (statedir_lock_read(fd, what, size) == pid)
			ret = 0;
		close(fd);
	}
	closedir(dp);
	return ret;
}

void claim_drain(int fd)
{
	int c;

	for (int i = 0; i < 256 && (c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0; i++)
		close(c);
}
