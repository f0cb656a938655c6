// SPDX-License-Identifier: GPL-2.0-or-later
/* Test helper for kernel/netns.c and kernel/discover.c, driven by
 * netns.sh and discover.sh (root):
 *   nsdisc disc [-n NAME [-d DIR]] [-a GLOB]... [-r GLOB]...
 *       discovery in the namespace it runs in (or, with -n, in NAME, entered
 *       around disc_create only): one line per scan whose result differs
 *       from the last line, "scan" then " ADDR=addr:IF" or " ADDR=route:IF";
 *       until SIGTERM or SIGINT, then "rescans N" on stderr.
 *   nsdisc open DIR NAME   "ok", or the errno's name (EAGAIN, ENOENT, ...);
 *                          DIR "" is the default, /run/netns
 *   nsdisc id DIR NAME     the identity ("c:COOKIE i:DEV:INO"), having
 *                          checked that entering and leaving work and that
 *                          reading it leaves the thread where it was
 *   nsdisc watch [-o] DIR [PREFIX]   "+NAME", "-NAME", "rescan" then
 *                          "list NAME..." (sorted), for names beginning
 *                          with PREFIX, until SIGTERM or SIGINT; with -o,
 *                          after "+NAME" of a name that becomes a
 *                          namespace within 2 s, "open NAME" once
 *                          netns_open succeeds. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "discover.h"
#include "netns.h"
#include "../unit/test.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT end the loops: poll returns EINTR (no SA_RESTART). */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static const char *errno_name(int err)
{
	switch (err) {
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	default: return strerror(err);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until fd is readable: true, or false once a signal said stop. */
static bool wait_readable(int fd)
{
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, -1);

		if (r < 0 && errno == EINTR)
			continue;
		test_assert(r == 1);
		return true;
	}
	return false;
}

/* The line for one scan, in a buffer the caller frees. */
static char *scan_line(const struct disc_addr *v, size_t n)
{
	size_t size = 8 + n * (ADDR_STRLEN + DISC_IFNAMSIZ + 8), off;
	char *s = malloc(size), a[ADDR_STRLEN];

	test_assert(s);
	off = (size_t)snprintf(s, size, "scan");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, size - off, " %s=%s:%s", addr_format(&v[i].a, a),
					v[i].route ? "route" : "addr", v[i].ifname);
	return s;
}

/* Scan and print the result if it differs from *last (which it replaces). */
static void scan_print(struct disc *d, char **last)
{
	struct disc_addr *v;
	struct err e;
	size_t n;
	char *line;

	if (disc_scan(d, &v, &n, &e) < 0) {
		fprintf(stderr, "nsdisc: %s\n", e.msg);
		exit(1);
	}
	line = scan_line(v, n);
	free(v);
	if (*last && strcmp(*last, line) == 0) {
		free(line);
		return;
	}
	puts(line);
	free(*last);
	*last = line;
}

static int do_disc(int argc, char **argv)
{
	char (*ag)[DISC_IFNAMSIZ] = calloc((size_t)argc, DISC_IFNAMSIZ);
	char (*rg)[DISC_IFNAMSIZ] = calloc((size_t)argc, DISC_IFNAMSIZ);
	const char *ns = NULL, *dir = NULL;
	size_t na = 0, nr = 0;
	unsigned long rescans = 0;
	char *last = NULL;
	struct disc *d;
	struct err e;
	int opt, fd = -1, back = -1;

	test_assert(ag && rg);
	while ((opt = getopt(argc, argv, "n:d:a:r:")) != -1) {
		if (opt == 'n')
			ns = optarg;
		else if (opt == 'd')
			dir = optarg;
		else if (opt == 'a')
			snprintf(ag[na++], DISC_IFNAMSIZ, "%s", optarg);
		else if (opt == 'r')
			snprintf(rg[nr++], DISC_IFNAMSIZ, "%s", optarg);
		else
			return 2;
	}
	if (ns && (netns_open(dir, ns, &fd, &e) < 0 || netns_enter(fd, &back, &e) < 0)) {
		fprintf(stderr, "nsdisc: %s\n", e.msg);
		return 1;
	}
	d = disc_create((const char (*)[DISC_IFNAMSIZ])ag, na, (const char (*)[DISC_IFNAMSIZ])rg,
			nr, &e);
	if (ns) {
		test_assert(netns_leave(back) == 0);
		close(fd);
	}
	if (!d) {
		fprintf(stderr, "nsdisc: %s\n", e.msg);
		return 1;
	}
	free(ag);
	free(rg);
	catch_signals();
	scan_print(d, &last);
	while (wait_readable(disc_fd(d))) {
		int r = disc_drain(d);

		test_assert(r >= 0);
		if (r == 1) {
			rescans++;
			scan_print(d, &last);
		}
	}
	fprintf(stderr, "rescans %lu\n", rescans);
	free(last);
	disc_destroy(d);
	return 0;
}

static int do_open(const char *dir, const char *name)
{
	struct err e;
	int fd, ret = netns_open(dir, name, &fd, &e);

	if (ret < 0) {
		printf("%s\n", errno_name(-ret));
		fprintf(stderr, "nsdisc: %s\n", e.msg);
		return 0;
	}
	close(fd);
	puts("ok");
	return 0;
}

static struct netns_id self_id(void)
{
	struct netns_id id;
	struct err e;
	int fd;

	test_assert(netns_open_self(&fd, &e) == 0);
	test_assert(netns_identity(fd, &id, &e) == 0);
	close(fd);
	return id;
}

static int do_id(const char *dir, const char *name)
{
	struct netns_id id, there, before = self_id(), now, inner;
	char text[NETNS_ID_STRLEN];
	struct err e;
	int fd, back;

	if (netns_open(dir, name, &fd, &e) < 0) {
		fprintf(stderr, "nsdisc: %s\n", e.msg);
		return 1;
	}
	test_assert(netns_identity(fd, &id, &e) == 0);
	/* Reading the cookie entered and left: the thread is home again. */
	now = self_id();
	test_assert(netns_id_same(&before, &now) && before.ino == now.ino);
	test_assert(!netns_id_same(&before, &id));
	test_assert(netns_enter(fd, &back, &e) == 0);
	inner = self_id();
	test_assert(netns_id_same(&inner, &id) && inner.dev == id.dev && inner.ino == id.ino);
	test_assert(netns_leave(back) == 0);
	now = self_id();
	test_assert(netns_id_same(&before, &now) && before.ino == now.ino);
	test_assert(netns_identity(fd, &there, &e) == 0);
	test_assert(there.cookie == id.cookie && there.ino == id.ino);
	close(fd);
	test_assert(netns_id_format(&id, text, sizeof(text)) == 0);
	printf("%s i:%" PRIu64 ":%" PRIu64 "\n", text, id.dev, id.ino);
	return 0;
}

struct watch_ctx {
	const char *dir;
	const char *prefix;
	bool open;
	char names[64][256];
	size_t n;
};

static bool has_prefix(const struct watch_ctx *w, const char *name)
{
	return strncmp(name, w->prefix, strlen(w->prefix)) == 0;
}

static int list_cb(const char *name, void *data)
{
	struct watch_ctx *w = data;

	if (has_prefix(w, name) && w->n < 64)
		snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", name);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Once "+NAME" is a namespace (ip netns add binds it a moment after it
 * creates the file), say so; a plain file that stays one says nothing. */
static void open_when_bound(const struct watch_ctx *w, const char *name)
{
	for (int i = 0; i < 200; i++) {
		struct err e;
		int fd, ret = netns_open(w->dir, name, &fd, &e);

		if (ret == 0) {
			close(fd);
			printf("open %s\n", name);
			return;
		}
		if (ret != -EAGAIN)
			return;
		sleep_ms(10);
	}
}

static void watch_cb(const char *name, bool added, void *data)
{
	struct watch_ctx *w = data;

	if (!name) {
		w->n = 0;
		test_assert(netns_dir_list(w->dir, list_cb, w) == 0);
		qsort(w->names, w->n, sizeof(w->names[0]), name_cmp);
		printf("rescan\nlist");
		for (size_t i = 0; i < w->n; i++)
			printf(" %s", w->names[i]);
		putchar('\n');
		return;
	}
	if (!has_prefix(w, name))
		return;
	printf("%c%s\n", added ? '+' : '-', name);
	if (added && w->open)
		open_when_bound(w, name);
}

static int do_watch(int argc, char **argv)
{
	int o = argc > 1 && strcmp(argv[1], "-o") == 0;
	const char *dir = argc > 1 + o ? argv[1 + o] : NULL;
	const char *prefix = argc > 2 + o ? argv[2 + o] : "";
	struct watch_ctx w = { .dir = dir, .prefix = prefix, .open = o };
	struct netns_dir *d;

	if (!dir || argc > 3 + o)
		return 2;
	d = netns_dir_create(dir);
	if (!d) {
		fprintf(stderr, "nsdisc: watching %s: %s\n", dir, strerror(errno));
		return 1;
	}
	catch_signals();
	puts("watching");
	while (wait_readable(netns_dir_fd(d)))
		test_assert(netns_dir_drain(d, watch_cb, &w) == 0);
	netns_dir_destroy(d);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "disc") == 0)
		return do_disc(argc - 1, argv + 1);
	/* DIR "": netns.c's default, NETNS_RUN_DIR */
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		return do_open(argv[2][0] ? argv[2] : NULL, argv[3]);
	if (argc == 4 && strcmp(argv[1], "id") == 0)
		return do_id(argv[2][0] ? argv[2] : NULL, argv[3]);
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return do_watch(argc - 1, argv + 1);
	fprintf(stderr, "usage: nsdisc disc|open|id|watch ...\n");
	return 2;
}
