// SPDX-License-Identifier: GPL-2.0-or-later
/* The state directory, without root, in a temporary directory: a save is
 * atomic and never writes through a planted symlink, a load refuses one,
 * the directory is created 0700 and must not be a symlink, and one run at a
 * time holds a table's lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "statedir.h"
#include "test.h"

static void test_files(void)
{
	char dir[] = "/tmp/nftally-state-test.XXXXXX", sub[128], target[160];
	struct state s, t;
	struct addr_names an = { 0 };
	struct addr a;
	struct err e = { "" };
	struct stat st;
	char what[64];
	int dfd, lock, lock2;

	test_assert(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	dfd = statedir_open(sub, &e);
	test_assert(dfd >= 0);
	test_assert(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);

	state_init(&s);
	strcpy(s.table, "t");
	test_assert(addr_parse("198.18.2.2", &a, NULL) == 0);
	test_assert(state_add(&s, &a, "a", &(struct counts){ 10, 1, 20, 2 }, true) == 0);
	test_assert(statedir_load(&t, &an, dfd, sub, "t.state", &e) == -ENOENT);
	test_assert(statedir_save(&s, &an, dfd, sub, "t.state", &e) == 0);
	snprintf(target, sizeof(target), "%s/t.state", sub);
	test_assert(stat(target, &st) == 0 && (st.st_mode & 0777) == 0600);
	state_init(&t);
	test_assert(statedir_load(&t, &an, dfd, sub, "t.state", &e) == 0);
	test_assert(t.n == 1 && t.v[0].c.out_bytes == 20);
	state_finish(&t);

	/* A symlink planted at the temporary name is replaced, not followed. */
	snprintf(target, sizeof(target), "%s/victim", dir);
	test_assert(close(open(target, O_CREAT | O_WRONLY, 0600)) == 0);
	test_assert(symlinkat(target, dfd, "t.state.tmp") == 0);
	test_assert(statedir_save(&s, &an, dfd, sub, "t.state", &e) == 0);
	test_assert(stat(target, &st) == 0 && st.st_size == 0);

	/* A symlink planted at the state file is refused on load. */
	test_assert(unlinkat(dfd, "t.state", 0) == 0);
	test_assert(symlinkat(target, dfd, "t.state") == 0);
	test_assert(statedir_load(&t, &an, dfd, sub, "t.state", &e) == -EINVAL);
	test_assert(strstr(e.msg, "is a symlink; refusing to follow it"));

	/* One lock holder at a time; the holder and its targets are known. */
	lock = statedir_lock(dfd, sub, "t", "/etc/nftally/targets", &e);
	test_assert(lock >= 0);
	test_assert(statedir_lock_holder(dfd, "t", what, sizeof(what)) == getpid());
	test_streq(what, "/etc/nftally/targets");
	lock2 = statedir_lock(dfd, sub, "t", "x", &e);
	test_assert(lock2 == -EBUSY);
	test_assert(strstr(e.msg, "another nftally run (pid "));
	close(lock);
	test_assert(statedir_lock_holder(dfd, "t", what, sizeof(what)) == 0);

	/* The state directory itself must not be a symlink. */
	snprintf(target, sizeof(target), "%s/link", dir);
	test_assert(symlink(sub, target) == 0);
	test_assert(statedir_open(target, &e) < 0);
	test_assert(strstr(e.msg, "it is a symlink"));

	close(dfd);
	state_finish(&s);
	snprintf(target, sizeof(target), "rm -rf '%s'", dir);
	test_assert(system(target) == 0);
}

int main(void)
{
	test_files();
	return 0;
}
