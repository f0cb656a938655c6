// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally run`: apply, then at every interval boundary read all counters and
 * print the deltas since the previous read.  Signals arrive through a
 * signalfd and the interval through a timerfd, so the loop is one poll. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "app.h"
#include "output.h"

struct run {
	struct app *a;
	struct counts *last; /* last value read, per target of a->tg */
	struct counts *cur;
	bool *miss;
	time_t since;         /* when last was read */
	int sfd, tfd;
};

/* Arrays for n targets; on failure r is unchanged. */
static int run_alloc(struct run *r, size_t n)
{
	struct counts *last = calloc(n + 1, sizeof(*last));
	struct counts *cur = calloc(n + 1, sizeof(*cur));
	bool *miss = calloc(n + 1, sizeof(*miss));

	if (!last || !cur || !miss) {
		free(last);
		free(cur);
		free(miss);
		return -ENOMEM;
	}
	free(r->last);
	free(r->cur);
	free(r->miss);
	r->last = last;
	r->cur = cur;
	r->miss = miss;
	return 0;
}

static void run_free(struct run *r)
{
	free(r->last);
	free(r->cur);
	free(r->miss);
}

/* cur - last for one direction; a counter that went backwards was
 * recreated by someone else and counts from zero. */
static bool sub(uint64_t cb, uint64_t cp, uint64_t lb, uint64_t lp,
		uint64_t *db, uint64_t *dp)
{
	if (cb < lb || cp < lp) {
		*db = cb;
		*dp = cp;
		return true;
	}
	*db = cb - lb;
	*dp = cp - lp;
	return false;
}

/* Print the delta cur - last of one address; returns nothing, events for
 * counters that went backwards come first. */
static void print_delta(time_t now, time_t since, const char *label,
			const struct addr *a, const struct counts *c,
			const struct counts *l)
{
	char text[ADDR_STRLEN];
	struct counts d;
	bool reset;

	addr_format(a, text);
	reset = sub(c->in_bytes, c->in_packets, l->in_bytes, l->in_packets,
		    &d.in_bytes, &d.in_packets);
	reset |= sub(c->out_bytes, c->out_packets, l->out_bytes, l->out_packets,
		     &d.out_bytes, &d.out_packets);
	if (reset)
		output_event(stdout, now, "counter_reset", text,
			     "counter of %s went backwards (recreated outside nftally); "
			     "counting it from zero", text);
	output_counter(stdout, now, since, label, text, &d);
}

/* Reinstall a table someone deleted; what it counted since the last read
 * is gone with it. */
static void run_reinstall(struct run *r, time_t now)
{
	struct app *a = r->a;
	struct table_result res;
	char t0[32];

	output_event(stdout, now, "table_missing", NULL,
		     "table inet %s was deleted outside nftally; traffic since %s "
		     "could not be counted", a->cfg.table, output_time(r->since, t0));
	if (app_apply(a, &res) != 0) {
		output_event(stdout, now, "error", NULL, "reinstalling table inet %s: %s",
			     a->cfg.table, a->e.msg);
		return;
	}
	free(res.gone);
	memset(r->last, 0, a->tg.n * sizeof(*r->last));
	output_event(stdout, now, "table_reinstalled", NULL,
		     "table inet %s reinstalled with %zu addresses", a->cfg.table, a->tg.n);
}

static int run_tick(struct run *r)
{
	struct app *a = r->a;
	time_t now = time(NULL);
	size_t missing;
	int ret = table_read(a->nl, a->cfg.table, &a->tg, r->cur, r->miss, &missing, &a->e);

	if (ret < 0) {
		output_event(stdout, now, "error", NULL, "%s", a->e.msg);
		fprintf(stderr, "nftally: %s\n", a->e.msg);
		fflush(stdout);
		return ret;
	}
	for (size_t i = 0; i < a->tg.n; i++) {
		if (r->miss[i])
			continue;
		print_delta(now, r->since, targets_label(&a->tg, &a->tg.v[i]),
			    &a->tg.v[i].addr, &r->cur[i], &r->last[i]);
		r->last[i] = r->cur[i];
	}
	if (missing && table_owned(a->nl, a->cfg.table, &a->e) == 0)
		run_reinstall(r, now);
	else if (missing)
		output_event(stdout, now, "counter_missing", NULL,
			     "%zu addresses have no counter in table inet %s", missing,
			     a->cfg.table);
	r->since = now;
	fflush(stdout);
	return 0;
}

/* The last deltas of addresses that left the targets. */
static void run_print_gone(struct run *r, time_t now, const struct targets *old,
			   const struct counts *olast, const struct table_result *res)
{
	for (size_t i = 0; i < res->ngone; i++) {
		const struct target *o = targets_find(old, &res->gone[i].addr);

		if (o)
			print_delta(now, r->since, targets_label(old, o), &o->addr,
				    &res->gone[i].c, &olast[o - old->v]);
	}
}

/* Re-read the targets: a bad file changes nothing; a good one is applied
 * and every address that stays keeps its last value. */
static void run_reload(struct run *r)
{
	struct app *a = r->a;
	struct targets nt, old = a->tg;
	struct counts *olast = r->last;
	struct table_result res;
	time_t now = time(NULL);

	if (app_load_targets(a, &nt) < 0) {
		output_event(stdout, now, "targets_rejected", NULL, "%s", a->e.msg);
		fprintf(stderr, "nftally: %s; the running table stays as it was\n", a->e.msg);
		goto out;
	}
	r->last = NULL; /* keep olast: run_alloc would free it */
	if (run_alloc(r, nt.n) < 0) {
		r->last = olast;
		output_event(stdout, now, "error", NULL, "reload: out of memory");
		goto out;
	}
	a->tg = nt;
	if (app_apply(a, &res) != 0) {
		/* Nothing was applied: go on with the old targets. */
		output_event(stdout, now, "targets_rejected", NULL, "%s", a->e.msg);
		nt = a->tg;
		a->tg = old;
		run_alloc(r, old.n);
		memcpy(r->last, olast, old.n * sizeof(*olast));
		free(olast);
		goto out;
	}
	for (size_t i = 0; i < nt.n; i++) {
		const struct target *o = targets_find(&old, &nt.v[i].addr);

		if (o)
			r->last[i] = olast[o - old.v];
	}
	run_print_gone(r, now, &old, olast, &res);
	output_event(stdout, now, "reloaded", NULL, "%s: %zu addresses (%zu new, %zu removed)",
		     a->targets_name, nt.n, res.added, res.ngone);
	free(res.gone);
	free(olast);
	nt = old; /* the old targets are what is left to free */
out:
	targets_finish(&nt);
	fflush(stdout);
}

static int run_setup_fds(struct run *r, unsigned interval)
{
	struct itimerspec its = { .it_interval = { .tv_sec = interval } };
	struct timespec now;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	r->tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (r->sfd < 0 || r->tfd < 0)
		return -errno;
	/* Ticks on multiples of the interval in wall-clock time, so a 60 s
	 * interval ends on whole minutes. */
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value.tv_sec = (now.tv_sec / interval + 1) * interval;
	if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* One signal: 1 to stop, 0 to go on. */
static int run_signal(struct run *r)
{
	struct signalfd_siginfo si;

	if (read(r->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		run_reload(r);
		return 0;
	}
	return 1;
}

static int run_loop(struct run *r)
{
	struct pollfd p[2] = { { .fd = r->sfd, .events = POLLIN },
			       { .fd = r->tfd, .events = POLLIN } };
	uint64_t ticks;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((p[0].revents & POLLIN) && run_signal(r))
			return run_tick(r); /* the last deltas before exiting */
		if ((p[1].revents & POLLIN) && read(r->tfd, &ticks, sizeof(ticks)) > 0)
			run_tick(r);
	}
}

int run_main(struct app *a)
{
	struct run r = { .a = a, .sfd = -1, .tfd = -1 };
	struct table_result res;
	size_t missing;
	int ret;

	ret = app_apply(a, &res);
	if (ret)
		return ret;
	free(res.gone);
	ret = run_alloc(&r, a->tg.n);
	if (ret == 0)
		ret = table_read(a->nl, a->cfg.table, &a->tg, r.last, NULL, &missing, &a->e);
	if (ret < 0) {
		run_free(&r);
		return app_fail(a, app_code_for(ret));
	}
	r.since = time(NULL);
	ret = run_setup_fds(&r, a->cfg.interval);
	if (ret == 0) {
		output_event(stdout, r.since, "start", NULL,
			     "accounting %zu addresses from %s in table inet %s every %u s",
			     a->tg.n, a->targets_name, a->cfg.table, a->cfg.interval);
		fflush(stdout);
		ret = run_loop(&r);
	}
	if (r.sfd >= 0)
		close(r.sfd);
	if (r.tfd >= 0)
		close(r.tfd);
	run_free(&r);
	if (ret < 0) {
		if (!a->e.msg[0])
			err_setn(&a->e, ret, "%s", strerror(-ret));
		return app_fail(a, app_code_for(ret));
	}
	return 0;
}
