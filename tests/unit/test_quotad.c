/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the quotas of the daemon, without root, netlink or a
 * store: the usage is given, the clock moved by hand.  One event per label,
 * cycle and level, also across a restart and a crash between recording and
 * delivering; a new cycle starts over and lifts the enforcement; a raised
 * limit lifts it; the hook runs once per event with its environment, and
 * a hook that hangs is killed after its timeout. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <fcntl.h>

#include "quotad.h"
#include "statedir.h"
#include "test.h"

static char dir[] = "/tmp/nftally-quotad.XXXXXX";
static char path[PATH_MAX];
static struct counts usage; /* of every label, in any window */
static struct cycle utc = { .day = 1, .tz = "UTC" };

static int usage_fn(void *data, int64_t since, int64_t until,
		    int (*cb)(const char *label, const struct counts *c, void *arg), void *arg,
		    struct err *e)
{
	(void)data;
	(void)since;
	(void)until;
	(void)e;
	cb("vm", &usage, arg);
	cb("new", &usage, arg);
	return cb("other", &(struct counts){ 0 }, arg);
}

static const struct cycle *cycle_fn(void *data, const char *label)
{
	(void)data;
	(void)label;
	return &utc;
}

static void write_file(const char *name, const char *text, int mode)
{
	char p[PATH_MAX + 32];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	test_assert(f);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
}

/* How many times s occurs in text. */
static int count(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

static char *read_file(const char *name)
{
	char p[PATH_MAX + 32], *buf = calloc(1, 1 << 16);
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "r");
	if (f) {
		size_t n = fread(buf, 1, (1 << 16) - 1, f);

		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

/* Wait (at most 5 s) until no hook runs. */
static void hooks_done(struct quotad *qd)
{
	for (int i = 0; i < 500 && quotad_tick(qd) >= 0; i++)
		usleep(10000);
	test_assert(quotad_tick(qd) < 0);
}

static struct quotad *start(struct config *c, int dirfd, struct output *o)
{
	struct err e = { "" };
	struct quotad *qd = quotad_create(c, dirfd, dir, o, &e);

	if (!qd) {
		fprintf(stderr, "quotad_create: %s\n", e.msg);
		abort();
	}
	return qd;
}

int main(void)
{
	/* 2026-12-15T00:00:00Z, 2027-01-02T00:00:00Z */
	const time_t dec15 = 1797292800, jan2 = 1798848000;
	char hook[PATH_MAX + 32], *events = NULL, *log;
	struct output o;
	struct config c;
	struct quotad *qd;
	const struct render_enforce *en;
	const struct metrics_quota *mq;
	size_t nmq;
	int dirfd;
	FILE *f;

	test_assert(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	test_assert(dirfd >= 0);
	snprintf(hook, sizeof(hook),
		 "#!/bin/sh\necho \"$NFTALLY_EVENT $NFTALLY_LABEL $NFTALLY_USED $NFTALLY_LIMIT "
		 "$NFTALLY_PERCENT $NFTALLY_CYCLE_START $NFTALLY_CYCLE_END\" >> %s/hook.log\n", dir);
	write_file("hook", hook, 0755);
	write_file("quotas", "vm 1000 warn=50%,80% action=drop\nother 10\n", 0644);
	config_defaults(&c);
	snprintf(c.quotas, sizeof(c.quotas), "%s/quotas", dir);
	snprintf(c.quota_hook, sizeof(c.quota_hook), "%s/hook", dir);
	/* a file, as stdout is: the events are printed by a child */
	snprintf(path, sizeof(path), "%s/events", dir);
	f = fopen(path, "w");
	test_assert(f);
	output_init(&o, f);
	qd = start(&c, dirfd, &o);
	test_assert(quotad_enforce(qd)->on && quotad_enforce(qd)->n == 0);

	/* below every level; then past two at once; then nothing new */
	usage = (struct counts){ .in_bytes = 400, .out_bytes = 99 };
	test_assert(quotad_evaluate(qd, dec15, usage_fn, cycle_fn, NULL) == 0);
	usage.out_bytes = 400;
	test_assert(quotad_evaluate(qd, dec15 + 60, usage_fn, cycle_fn, NULL) == 0);
	mq = quotad_metrics(qd, &nmq);
	test_assert(nmq == 2 && strcmp(mq[1].label, "vm") == 0 && mq[1].used == 800 &&
		    mq[1].state == 1);
	usage.out_bytes = 600;
	test_assert(quotad_evaluate(qd, dec15 + 120, usage_fn, cycle_fn, NULL) == 1);
	en = quotad_enforce(qd);
	test_assert(en->n == 1 && strcmp(en->v[0].label, "vm") == 0 &&
		    en->v[0].action == QUOTA_ACT_DROP);
	test_assert(quotad_evaluate(qd, dec15 + 180, usage_fn, cycle_fn, NULL) == 0);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_warning\"") == 2);
	test_assert(count(events, "\"event\":\"quota_exceeded\"") == 1);
	test_assert(count(events, "\"event\":\"quota_enforced\"") == 1);
	test_assert(strstr(events, "\"label\":\"vm\",\"used\":800,\"limit\":1000,"
			   "\"cycle_start\":\"2026-12-01T00:00:00Z\","
			   "\"cycle_end\":\"2027-01-01T00:00:00Z\",\"fraction\":0.8"));
	log = read_file("hook.log");
	test_streq(log, "quota_warning vm 800 1000 50 2026-12-01T00:00:00Z 2027-01-01T00:00:00Z\n"
			"quota_warning vm 800 1000 80 2026-12-01T00:00:00Z 2027-01-01T00:00:00Z\n"
			"quota_exceeded vm 1000 1000 100 2026-12-01T00:00:00Z 2027-01-01T00:00:00Z\n");
	free(log);

	/* a restart: nothing again in this cycle; the enforcement is known
	 * from the first evaluation */
	quotad_destroy(qd);
	qd = start(&c, dirfd, &o);
	test_assert(quotad_evaluate(qd, dec15 + 240, usage_fn, cycle_fn, NULL) == 1);
	test_assert(quotad_enforce(qd)->n == 1);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_exceeded\"") == 1);

	/* a raised limit lifts the enforcement, fires nothing */
	write_file("quotas", "vm 2000 warn=50%,80% action=drop\nother 10\n", 0644);
	quotad_reload(qd, true);
	test_assert(quotad_evaluate(qd, dec15 + 300, usage_fn, cycle_fn, NULL) == 1);
	test_assert(quotad_enforce(qd)->n == 0);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_lifted\"") == 1);
	test_assert(count(events, "\"event\":\"quota_warning\"") == 2);
	write_file("quotas", "vm 1000 warn=50%,80% action=drop\nother 10\n", 0644);
	quotad_reload(qd, true);
	test_assert(quotad_evaluate(qd, dec15 + 360, usage_fn, cycle_fn, NULL) == 1);

	/* a new cycle: lifted, and every level may fire again */
	usage = (struct counts){ .in_bytes = 10 };
	test_assert(quotad_evaluate(qd, jan2, usage_fn, cycle_fn, NULL) == 1);
	test_assert(quotad_enforce(qd)->n == 0);
	usage.in_bytes = 1000;
	test_assert(quotad_evaluate(qd, jan2 + 60, usage_fn, cycle_fn, NULL) == 1);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_exceeded\"") == 2);
	test_assert(strstr(events, "\"cycle_start\":\"2027-01-01T00:00:00Z\""));

	/* a crash after recording, before delivering: delivered once at the
	 * next start */
	quotad_destroy(qd);
	{
		char *st = read_file("quota.state"), *p = st, out[4096] = "";

		for (char *line = strtok_r(p, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
			char lab[300];
			long long s, e2;
			unsigned long long f0, f1, d0, d1, u, l;

			if (sscanf(line, "%299s %lld %lld %llx %llx %llx %llx %llu %llu", lab, &s, &e2,
				   &f0, &f1, &d0, &d1, &u, &l) == 9)
				snprintf(out + strlen(out), sizeof(out) - strlen(out),
					 "%s %lld %lld %llx %llx 0 0 %llu %llu\n", lab, s, e2, f0,
					 f1, u, l);
			else
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s\n", line);
		}
		write_file("quota.state", out, 0600);
		free(st);
		/* and no marker of them taken */
		snprintf(path, sizeof(path), "rm -rf %s/quota.d", dir);
		test_assert(system(path) == 0);
	}
	qd = start(&c, dirfd, &o);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_exceeded\"") == 3);
	test_assert(quotad_evaluate(qd, jan2 + 120, usage_fn, cycle_fn, NULL) == 1);
	quotad_destroy(qd);
	qd = start(&c, dirfd, &o);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_exceeded\"") == 3);
	log = read_file("hook.log");
	test_assert(count(log, "quota_exceeded vm") == 3);
	free(log);
	quotad_destroy(qd);

	/* a hook that hangs is killed after its timeout */
	write_file("hook", "#!/bin/sh\nexec sleep 30\n", 0755);
	write_file("quotas", "new 10 warn=none\n", 0644);
	c.quota_hook_timeout = 1;
	qd = start(&c, dirfd, &o);
	usage = (struct counts){ .in_bytes = 10 };
	test_assert(quotad_evaluate(qd, jan2 + 180, usage_fn, cycle_fn, NULL) == 0);
	hooks_done(qd);
	fflush(f);
	free(events);
	events = read_file("events");
	test_assert(count(events, "\"event\":\"quota_exceeded\",\"message\":\"label new") == 1);
	test_assert(count(events, "of label new killed after 1 s (quota_hook_timeout)") == 1);
	quotad_destroy(qd);
	fclose(f);
	free(events);
	close(dirfd);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	test_assert(system(path) == 0);
	return 0;
}
