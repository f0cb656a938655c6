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

	snprintf(path, sizeof(path), "%s/nft-templates/host.nft", SRCDIR);
	text = slurp(path, &len);
	test_assert(render_skeleton(text, len, "host.nft", "acct", &out, &e) == 0);
	test_assert(strstr(out, "table inet acct {"));
	test_assert(!strstr(out, "@TABLE@"));

	targets_init(&t);
	test_assert(targets_parse_buffer(&t, "targets", tg, strlen(tg), &e) == 0);
	f = open_memstream(&mem, &mlen);
	test_assert(f);
	fputs(out, f);
	render_data(f, "acct", &t);
	fclose(f);
	check_golden(mem, "host-acct.nft");
	/* Labels are data: none reaches nft text. */
	test_assert(!strstr(mem, "vm-v4") && !strstr(mem, "vm-net"));
	free(mem);
	free(out);
	free(text);
	targets_finish(&t);
}

static const char maps[] =
	"counter nftally_owner { } map in4 { } map out4 { } map in6 { } map out6 { }\n"
	"map in4net { } map out4net { } map in6net { } map out6net { }\n";

static void test_placeholders(void)
{
	struct err e = { "" };
	char *out = NULL, buf[1024];

	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\n%s\nchain c { @FOO@ }\n}\n", maps);
	test_assert(render_skeleton(buf, strlen(buf), "t.nft", "x", &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft:5: unknown placeholder @FOO@");
	test_assert(out == NULL);

	snprintf(buf, sizeof(buf), "table inet nftally {\n%s}\n", maps);
	test_assert(render_skeleton(buf, strlen(buf), "t.nft", "x", &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template never names its table (@TABLE@)");

	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\ncounter nftally_owner { }\nmap in4 { }\n}\n");
	test_assert(render_skeleton(buf, strlen(buf), "t.nft", "x", &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template does not define map out4");

	/* Without the ownership marker nftally would later refuse its own table. */
	snprintf(buf, sizeof(buf), "table inet @TABLE@ {\n%s}\n", maps + strlen("counter nftally_owner { } "));
	test_assert(render_skeleton(buf, strlen(buf), "t.nft", "x", &out, &e) == -EINVAL);
	test_streq(e.msg, "t.nft: template does not define counter nftally_owner");

	/* nft's own @set references and e-mail-like text pass through. */
	snprintf(buf, sizeof(buf), "table inet @TABLE@ { # a@b\n%s"
		 "chain c { counter name ip daddr map @in4 }\n}\n", maps);
	test_assert(render_skeleton(buf, strlen(buf), "t.nft", "x", &out, &e) == 0);
	test_assert(strstr(out, "table inet x { # a@b\n"));
	test_assert(strstr(out, "map @in4 }"));
	free(out);
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

int main(void)
{
	test_host_template();
	test_placeholders();
	test_load_template();
	return 0;
}
