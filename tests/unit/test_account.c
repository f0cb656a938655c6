/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for account: where the store is, where the targets come from
 * and what names them in the lock file, and loading a targets file and a
 * template into an account (files in a temporary directory; no root, no
 * netlink). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "test.h"

static void test_store_path(void)
{
	struct config c;
	char buf[PATH_MAX];

	config_defaults(&c);
	test_streq(account_store_path(&c, buf, sizeof(buf)), "/var/lib/nftally/nftally.db");
	snprintf(c.state_dir, sizeof(c.state_dir), "/srv/acct");
	snprintf(c.table, sizeof(c.table), "edge");
	test_streq(account_store_path(&c, buf, sizeof(buf)), "/srv/acct/edge.db");
	snprintf(c.store, sizeof(c.store), "/data/t.db");
	test_streq(account_store_path(&c, buf, sizeof(buf)), "/data/t.db");
	snprintf(c.store, sizeof(c.store), "off");
	test_assert(account_store_path(&c, buf, sizeof(buf)) == NULL);
}

static void test_host_addrs(void)
{
	struct config c;

	config_defaults(&c);
	test_assert(account_uses_host_addrs(&c, ENOENT));
	test_assert(!account_uses_host_addrs(&c, 0));      /* the default file exists */
	test_assert(!account_uses_host_addrs(&c, EACCES)); /* unreadable: an error */
	test_assert(!account_uses_host_addrs(&c, ELOOP));  /* a link loop: an error */
	c.targets_explicit = true;
	test_assert(!account_uses_host_addrs(&c, ENOENT)); /* named: must exist */
}

static void test_load(void)
{
	char dir[] = "/tmp/nftally-account.XXXXXX", cwd[PATH_MAX], buf[PATH_MAX], want[PATH_MAX];
	struct account a = { 0 };
	struct addr_names names;
	struct targets t;
	struct err e = { "" };
	FILE *f;

	test_assert(mkdtemp(dir));
	test_assert(getcwd(cwd, sizeof(cwd)));
	test_assert(chdir(dir) == 0);
	f = fopen("targets", "w");
	test_assert(f);
	fputs("alpha 198.18.0.1\nbeta 198.18.1.0/24\n", f);
	fclose(f);
	config_defaults(&a.cfg);
	addr_names_init(&names);
	a.names = &names;
	a.cfg.targets_explicit = true;
	snprintf(a.cfg.targets, sizeof(a.cfg.targets), "targets");
	test_assert(account_load_targets(&a, &a.tg, &e) == 0);
	test_assert(a.tg.n == 2);
	test_assert(a.targets_name == a.cfg.targets);
	test_streq(targets_label(&a.tg, &a.tg.v[1]), "beta");
	/* the lock names the file by its real path, however it was named */
	snprintf(want, sizeof(want), "%s/targets", dir);
	test_assert(realpath(want, buf));
	snprintf(want, sizeof(want), "%s", buf);
	test_streq(account_targets_id(&a, buf, sizeof(buf)), want);
	/* a named file that does not exist is an error, not the host's addresses */
	snprintf(a.cfg.targets, sizeof(a.cfg.targets), "missing");
	test_assert(account_load_targets(&a, &t, &e) == -ENOENT);
	test_assert(strstr(e.msg, "missing") != NULL);
	test_streq(account_targets_id(&a, buf, sizeof(buf)), "missing");
	targets_finish(&t);
	/* the template read and rendered for the targets: the family, and
	 * the table's name in the skeleton */
	snprintf(a.cfg.template_name, sizeof(a.cfg.template_name), "%s/nft-templates/host.nft",
		 SRCDIR);
	snprintf(a.cfg.table, sizeof(a.cfg.table), "acct");
	test_assert(account_load_template(&a, &e) == 0);
	test_streq(a.family, "inet");
	test_assert(strstr(a.skeleton, "table inet acct") != NULL);
	snprintf(a.cfg.template_name, sizeof(a.cfg.template_name), "%s/nft-templates/bridge.nft",
		 SRCDIR);
	free(a.tmpl_path);
	free(a.tmpl_text);
	test_assert(account_load_template(&a, &e) == 0);
	test_streq(a.family, "bridge");
	account_finish(&a);
	account_finish(&a); /* harmless twice */
	unlink("targets");
	test_assert(chdir(cwd) == 0);
	rmdir(dir);
}

int main(void)
{
	test_store_path();
	test_host_addrs();
	test_load();
	return 0;
}
