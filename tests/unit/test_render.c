// SPDX-License-Identifier: GPL-2.0-or-later
/* Rendering: golden files for the host template and the data commands, and
 * the template checks (unknown placeholders, missing maps). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "targets.h"
#include "test.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	test_assert(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	test_assert(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Compare with a golden file; NFTALLY_UPDATE_GOLDEN=1 rewrites it. */
static void check_golden(const char *got, const char *name)
{
	char path[512];
	char *want;

	snprintf(path, sizeof(path), "%s/tests/golden/%s", SRCDIR, name);
	if (getenv("NFTALLY_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		test_assert(f && fputs(got, f) >= 0 && fclose(f) == 0);
	}
	want = slurp(path, NULL);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "render output differs from %s:\n%s", path, got);
		abort();
	}
	free(want);
}

static void test_host_template(void)
{
	char path[512], *text, *out = NULL, *mem;
	struct targets t;
	struct err e = { "" };
	size_t len, mlen;
	FILE *f;
	const char *tg =
		"# three kinds of target\n"
		"vm-v4 198.18.2.2\n"
		"vm-v6 2001:db8:2::2\n"
		"vm-net 198.18.4.0/24 2001:db8:4::/64\n";

	struct render_policy p = { 0 };
	const char *fam = NULL;

	snprintf(path, sizeof(path), "%s/nft-templates/host.nft", SRCDIR);
	text = slurp(path, &len);
	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "targets", tg, strlen(tg), &e) == 0);
	p.groups = &t;
	test_assert(render_skeleton(text, len, "host.nft", "acct", &p, &out, &fam, &e) == 0);
	test_assert(strstr(out, "table inet acct {"));
	test_assert(!strstr(out, "@TABLE@"));
	test_streq(fam, "inet");
	/* the template keeps its line numbers: one generated line first */
	test_assert(strchr(out, '\n') && strncmp(strchr(out, '\n') + 1, text + strcspn(text, "\n") + 1,
							   20) == 0);

	f = open_memstream(&mem, &mlen);
	test_assert(f);
	fputs(out, f);
	render_data(f, NULL, fam, "acct", &t);
	fclose(f);
	check_golden(mem, "host-acct.nft");
	/* Labels are data: none reaches nft text. */
	test_assert(!strstr(mem, "vm-v4") && !strstr(mem, "vm-net"));
	free(mem);
	free(out);
	free(text);
	targets_finish(&t);
}

static const char owner[] = "counter nftally_owner { }\n";

static int render(const char *buf, char **out, struct err *e)
{
	static const struct render_policy none;
	const char *fam;

	return render_skeleton(buf, strlen(buf), "t.nft", "x", &none, out, &fam, e);
}

static void test_placeholders(void)
{
	struct err e = { "" };
	char *out = NULL, buf[1024];

	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\n%s\nchain c { @FOO@ }\n}\n", owner);
	test_assert(render(buf, &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft:4: unknown placeholder @FOO@");
	test_assert(out == NULL);

	snprintf(buf, sizeof(buf), "table inet nftally {\n%s}\n", owner);
	test_assert(render(buf, &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template never names its table (@TABLE@)");

	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\n%s chain c { counter }\n}\n", owner);
	test_assert(render(buf, &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template never jumps to account_in or account_out");

	snprintf(buf, sizeof(buf), "table ip @TABLE@ {\n%s chain c { jump account_in }\n}\n",
		 owner);
	test_assert(render(buf, &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template must define table inet @TABLE@ or table bridge "
		   "@TABLE@");

	/* Without the ownership marker nftally would later refuse its own table. */
	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\nchain c { jump account_in }\n}\n");
	test_assert(render(buf, &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template does not define counter nftally_owner");

	/* nft's own @set references and e-mail-like text pass through. */
	snprintf(buf, sizeof(buf), "table inet @TABLE@ { # a@b\n%s"
		 "chain c { jump account_out; ip daddr @in4 }\n}\n", owner);
	test_assert(render(buf, &out, &e) == 0);
	test_assert(strstr(out, "table inet x { # a@b\n"));
	test_assert(strstr(out, "ip daddr @in4 }"));
	free(out);
}

/* The policy's part of the generated line, exactly: exclusions per family,
 * interfaces, and the pairs of each group's members. */
static void test_policy(void)
{
	static const char tmpl[] = "table inet @TABLE@ {\ncounter nftally_owner { }\n"
				   "chain c { jump account_in; jump account_out }\n}\n";
	const char *tg = "@grp 198.18.5.0/24 198.18.2.9\nvm 198.18.2.2\n@grp 2001:db8:5::/64\n";
	char ifaces[2][CONFIG_IFNAME_MAX + 1] = { "eth0", "bond0.7" };
	struct addr ex[3];
	struct targets t;
	struct err e = { "" };
	const char *fam;
	char *out = NULL;

	test_assert(addr_parse("169.254.0.0/16", &ex[0], NULL) == 0);
	test_assert(addr_parse("fe80::/10", &ex[1], NULL) == 0);
	test_assert(addr_parse("198.18.100.7", &ex[2], NULL) == 0);
	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "targets", tg, strlen(tg), &e) == 0);
	struct render_policy p = { ex, 3, ifaces, 2, &t };

	test_assert(render_skeleton(tmpl, strlen(tmpl), "t.nft", "x", &p, &out, &fam, &e) == 0);
	*strchr(out, '\n') = '\0';
	check_golden(out, "policy-line.nft");
	free(out);
	targets_finish(&t);
}

/* Interfaces ending in '*' are nft wildcards, conditions of the early
 * return (no wildcards in sets: nft 0.9.3); exact names stay in the set;
 * "*" is every interface.  The golden file is a whole ruleset, loaded by
 * tests/integration/gateway.sh into a kernel. */
static void test_policy_wildcards(void)
{
	static const char tmpl[] = "table inet @TABLE@ {\ncounter nftally_owner { }\n"
				   "chain c { jump account_in; jump account_out }\n}\n";
	char mixed[3][CONFIG_IFNAME_MAX + 1] = { "qg-*", "eth0", "tap*" };
	char wild[1][CONFIG_IFNAME_MAX + 1] = { "qg-*" };
	char any[1][CONFIG_IFNAME_MAX + 1] = { "*" };
	char path[512], *text, *out = NULL, *mem;
	const char *tg = "fip 198.18.9.1 2001:db8:9::1\n";
	struct render_policy p = { 0 };
	struct targets t;
	struct err e = { "" };
	const char *fam;
	size_t len, mlen;
	FILE *f;

	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "targets", tg, strlen(tg), &e) == 0);
	p.groups = &t;
	p.ifaces = mixed;
	p.nifaces = 3;
	snprintf(path, sizeof(path), "%s/nft-templates/gateway.nft", SRCDIR);
	text = slurp(path, &len);
	test_assert(render_skeleton(text, len, "gateway.nft", "acct", &p, &out, &fam, &e) == 0);
	test_assert(strstr(out, "chain account_in { iifname != @ifaces iifname != \"qg-*\" "
			   "iifname != \"tap*\" return; counter name ip daddr map @in4; "));
	test_assert(strstr(out, "chain account_out { oifname != @ifaces oifname != \"qg-*\" "
			   "oifname != \"tap*\" return; counter name ip saddr map @out4; "));
	test_assert(strstr(out, "flush set inet acct ifaces; add element inet acct ifaces "
			   "{ \"eth0\" }; "));
	f = open_memstream(&mem, &mlen);
	test_assert(f);
	fputs(out, f);
	render_data(f, NULL, fam, "acct", &t);
	fclose(f);
	check_golden(mem, "gateway-wild.nft");
	free(mem);
	free(out);
	free(text);

	/* wildcards only: the set stays empty and unused */
	p.ifaces = wild;
	p.nifaces = 1;
	test_assert(render_skeleton(tmpl, strlen(tmpl), "t.nft", "x", &p, &out, &fam, &e) == 0);
	test_assert(strstr(out, "chain account_in { iifname != \"qg-*\" return; counter "));
	test_assert(strstr(out, "chain account_out { oifname != \"qg-*\" return; counter "));
	test_assert(!strstr(out, "@ifaces") && !strstr(out, "add element inet x ifaces"));
	test_assert(strstr(out, "set ifaces { type ifname; }; "));
	test_assert(strstr(out, "flush set inet x ifaces; table inet x {\n"));
	free(out);
	/* "*": every interface, as without the key */
	p.ifaces = any;
	test_assert(render_skeleton(tmpl, strlen(tmpl), "t.nft", "x", &p, &out, &fam, &e) == 0);
	test_assert(!strstr(out, "iifname") && !strstr(out, "oifname"));
	test_assert(!strstr(out, "add element inet x ifaces"));
	test_assert(strstr(out, "chain account_in { counter name ip daddr map @in4; "));
	free(out);
	targets_finish(&t);
}

static void test_load_template(void)
{
	struct err e = { "" };
	char *path = NULL, *text = NULL, dir[512];
	size_t len;

	snprintf(dir, sizeof(dir), "%s/nft-templates", SRCDIR);
	test_assert(render_load_template("host", dir, &path, &text, &len, &e) == 0);
	test_assert(len > 100 && strstr(text, "@TABLE@"));
	free(path);
	free(text);
	test_assert(render_load_template("../etc/passwd", dir, &path, &text, &len, &e) < 0);
	test_assert(render_load_template("no such", dir, &path, &text, &len, &e) == -EINVAL);
	test_streq(e.msg, "bad template name 'no such' (use a-z, 0-9, -, _)");
	test_assert(render_load_template("nosuch", dir, &path, &text, &len, &e) == -EINVAL);
	test_assert(strstr(e.msg, "template 'nosuch' not found in "));
}

/* Every shipped template renders; the generated line takes its family. */
static void test_shipped_templates(void)
{
	static const char *const names[][2] = {
		{ "host", "inet" }, { "gateway", "inet" }, { "bridge", "bridge" },
	};
	static const struct render_policy none;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512], want[64], *text, *out = NULL;
		struct err e = { "" };
		const char *fam = NULL;
		size_t len;

		snprintf(path, sizeof(path), "%s/nft-templates/%s.nft", SRCDIR, names[i][0]);
		text = slurp(path, &len);
		test_assert(render_skeleton(text, len, path, "t", &none, &out, &fam, &e) == 0);
		test_streq(fam, names[i][1]);
		snprintf(want, sizeof(want), "table %s t { map in4 {", names[i][1]);
		test_assert(strncmp(out, want, strlen(want)) == 0);
		snprintf(want, sizeof(want), "table %s t {\n", names[i][1]);
		test_assert(strstr(out, want));
		free(out);
		free(text);
	}
}

int main(void)
{
	test_host_template();
	test_placeholders();
	test_policy();
	test_policy_wildcards();
	test_shipped_templates();
	test_load_template();
	return 0;
}
