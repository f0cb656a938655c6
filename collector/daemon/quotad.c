// SPDX-License-Identifier: GPL-2.0-or-later
/* Quotas in the daemon: evaluation after each report, the events and the
 * hook, and the durable record of which levels fired in which cycle.
 *
 * Exactly once: a level is recorded as fired (quota.state written,
 * fsynced, renamed) before anything is said of it.  Its event and its hook
 * are then each handed to a child process, which first takes the level's
 * marker (a file created with O_EXCL in quota.d/CYCLE_START/, the
 * directory fsynced) and only then prints the event or executes the hook.
 * A child outlives a kill -9 of the daemon, so a marker taken is an event
 * printed or a hook started; a restart hands every fired level without
 * its marker to a new child, and of two children racing for one marker
 * (the dead daemon's and the new one's) exactly one takes it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "file.h"
#include "log.h"
#include "quotad.h"
#include "statedir.h"
#include "targets.h"

#define QUOTAD_STATE "quota.state"
#define QUOTAD_STATE_TMP "quota.state.tmp"
#define QUOTAD_MARKERS "quota.d"
#define QUOTAD_HOOKS_MAX 64   /* hooks running at once; more wait */
/* "CYCLE_START/LABEL.LEVEL.K": the label in base64url (128 bytes: 172) */
#define QUOTAD_MARKER_MAX 224

/* One label's record in the current (or last) cycle: persisted. */
struct qlabel {
	char *label;
	int64_t cycle_start, cycle_end;
	struct quota_levels fired, delivered;
	struct quota_levels hooked; /* hook handed to a child (not persisted:
				       the markers say it) */
	uint64_t used, limit;    /* at the last firing: what a redelivery says */
};

/* One hook run, or one waiting for a free slot. */
struct qhook {
	pid_t pid;               /* 0: waiting */
	struct timespec deadline;
	char event[16];
	char *label;
	unsigned percent;
	uint64_t used, limit;
	int64_t cycle_start, cycle_end;
	enum quota_bill bill;
	char marker[QUOTAD_MARKER_MAX]; /* "": none could be made */
};

/* One event to print. */
struct qevent {
	char marker[QUOTAD_MARKER_MAX];
	char *line;
};

struct quotad {
	char path[PATH_MAX], hook[PATH_MAX], dirpath[PATH_MAX];
	unsigned timeout;
	unsigned char dwarn[QUOTA_WARN_MAX];
	size_t ndwarn;
	int dirfd, mdirfd;
	struct output *out;
	struct quotas q;
	struct stat st;          /* of the file q was read from */
	struct qlabel *v;        /* sorted by label */
	size_t n;
	struct qhook *hooks;
	size_t nhooks;
	/* derived at each evaluation */
	struct metrics_quota *mq;
	size_t nmq;
	struct render_enforced *enf;
	uint64_t *rates;
	struct render_enforce re;
};

static void quotad_forget_metrics(struct quotad *qd);
static void quotad_markers_prune(struct quotad *qd, bool all);
static void quotad_enforced_free(struct render_enforced *v, size_t n);

/* For tests: NFTALLY_CRASH_AT=NAME kills the daemon (SIGKILL, as kill -9
 * would) at the point of that name. */
static void crash_point(const char *name)
{
	const char *at = getenv("NFTALLY_CRASH_AT");

	if (at && strcmp(at, name) == 0) {
		fflush(NULL);
		raise(SIGKILL);
	}
}

/* ---- the markers: one file per level delivered, per cycle ---- */

static void b64url(char *out, const char *s)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	for (; i + 2 < n; i += 3) {
		*out++ = a[u[i] >> 2];
		*out++ = a[(u[i] & 3) << 4 | u[i + 1] >> 4];
		*out++ = a[(u[i + 1] & 15) << 2 | u[i + 2] >> 6];
		*out++ = a[u[i + 2] & 63];
	}
	if (n - i == 1) {
		*out++ = a[u[i] >> 2];
		*out++ = a[(u[i] & 3) << 4];
	} else if (n - i == 2) {
		*out++ = a[u[i] >> 2];
		*out++ = a[(u[i] & 3) << 4 | u[i + 1] >> 4];
		*out++ = a[(u[i + 1] & 15) << 2];
	}
	*out = '\0';
}

/* The marker of level p of x (kind 'e': its event, 'h': its hook), its
 * cycle's directory made if need be; "" and an error event if it cannot
 * be (the level is then delivered without one: once, or again after a
 * restart). */
static void quotad_marker(struct quotad *qd, const struct qlabel *x, unsigned p, char kind,
			  char *path)
{
	char dir[32], b64[4 * (TARGETS_LABEL_MAX + 2) / 3 + 4];

	path[0] = '\0';
	if (qd->mdirfd < 0 || strlen(x->label) > TARGETS_LABEL_MAX)
		return;
	snprintf(dir, sizeof(dir), "%lld", (long long)x->cycle_start);
	if (mkdirat(qd->mdirfd, dir, 0700) == 0) {
		fsync(qd->mdirfd);
	} else if (errno != EEXIST) {
		output_error(qd->out, true, "%s/%s/%s: cannot make: %s; the quota events of "
			     "label %s may be repeated after a restart", qd->dirpath,
			     QUOTAD_MARKERS, dir, strerror(errno), x->label);
		return;
	}
	b64url(b64, x->label);
	snprintf(path, QUOTAD_MARKER_MAX, "%s/%s.%u.%c", dir, b64, p, kind);
}

static bool quotad_marker_exists(const struct quotad *qd, const char *path)
{
	return path[0] && faccessat(qd->mdirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Take a marker: 1 taken now, 0 taken before (by this or another
 * process), -1 it cannot be made (deliver anyway).  Async-signal-safe: a
 * child of a threaded process calls it. */
static int marker_take(int mdirfd, const char *path)
{
	const char *slash = strchr(path, '/');
	char dir[32];
	int fd, d;

	if (!path[0] || !slash || (size_t)(slash - path) >= sizeof(dir))
		return -1;
	fd = openat(mdirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	d = openat(mdirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -1;
	if (fsync(d) < 0) {
		close(d);
		return -1;
	}
	close(d);
	return 1;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The markers' directory: made at the first start (and then, if a state
 * of the version before markers is there, its delivered levels marked);
 * emptied when there is no state (deleted, or set aside as damaged: its
 * levels fire again); else it says which levels were delivered. */
static int quotad_markers_open(struct quotad *qd, bool state_ok, struct err *e)
{
	bool made = mkdirat(qd->dirfd, QUOTAD_MARKERS, 0700) == 0;

	if (!made && errno != EEXIST)
		return err_setn(e, -errno, "%s/%s: cannot make: %s", qd->dirpath, QUOTAD_MARKERS,
				strerror(errno));
	if (made)
		fsync(qd->dirfd);
	qd->mdirfd = openat(qd->dirfd, QUOTAD_MARKERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			    O_NOFOLLOW);
	if (qd->mdirfd < 0)
		return err_setn(e, -errno, "%s/%s: cannot open: %s", qd->dirpath, QUOTAD_MARKERS,
				strerror(errno));
	if (!state_ok) {
		quotad_markers_prune(qd, true);
		return 0;
	}
	for (size_t i = 0; i < qd->n; i++) {
		struct qlabel *x = &qd->v[i];
		struct quota_levels was = x->delivered;

		x->delivered = x->hooked = (struct quota_levels){ { 0, 0 } };
		for (unsigned p = 1; p <= 100; p++) {
			char me[QUOTAD_MARKER_MAX], mh[QUOTAD_MARKER_MAX];

			if (!quota_levels_has(&x->fired, p))
				continue;
			quotad_marker(qd, x, p, 'e', me);
			quotad_marker(qd, x, p, 'h', mh);
			if (made && quota_levels_has(&was, p)) {
				marker_take(qd->mdirfd, me);
				marker_take(qd->mdirfd, mh);
			}
			if (quotad_marker_exists(qd, me))
				quota_levels_add(&x->delivered, p);
			if (quotad_marker_exists(qd, mh))
				quota_levels_add(&x->hooked, p);
		}
	}
	quotad_markers_prune(qd, false);
	return 0;
}

/* Remove the directories of the cycles no record is in (all: every one). */
static void quotad_markers_prune(struct quotad *qd, bool all)
{
	int fd = qd->mdirfd >= 0 ? dup(qd->mdirfd) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char *end;
		long long start = strtoll(de->d_name, &end, 10);
		bool keep = false;
		DIR *cd;
		int cfd;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (size_t i = 0; i < qd->n && !all && !*end; i++)
			keep |= qd->v[i].cycle_start == start;
		if (keep)
			continue;
		cfd = openat(qd->mdirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			     O_NOFOLLOW);
		if (cfd >= 0 && (cd = fdopendir(cfd))) {
			struct dirent *ce;

			while ((ce = readdir(cd)))
				if (strcmp(ce->d_name, ".") && strcmp(ce->d_name, ".."))
					unlinkat(cfd, ce->d_name, 0);
			closedir(cd);
		} else if (cfd >= 0) {
			close(cfd);
		}
		if (unlinkat(qd->mdirfd, de->d_name, AT_REMOVEDIR) < 0 && errno == ENOTDIR)
			unlinkat(qd->mdirfd, de->d_name, 0);
	}
	closedir(d);
	fsync(qd->mdirfd);
}

/* ---- the state file ---- */

static void hex_put(FILE *f, const char *s)
{
	for (; *s; s++)
		fprintf(f, "%02x", (unsigned char)*s);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* s[0..n) is not NUL-terminated (a line of the file). */
static char *hex_get(const char *s, size_t n)
{
	char *out;

	if (n % 2 || !n)
		return NULL;
	out = malloc(n / 2 + 1);
	for (size_t i = 0; out && i < n / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi | lo) == 0) { /* no NUL inside a label */
			free(out);
			return NULL;
		}
		out[i] = (char)(hi * 16 + lo);
	}
	if (out)
		out[n / 2] = '\0';
	return out;
}

static int qlabel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qlabel *)a)->label, ((const struct qlabel *)b)->label);
}

static struct qlabel *qlabel_find(struct quotad *qd, const char *label)
{
	struct qlabel key = { .label = (char *)label };

	return qd->n ? bsearch(&key, qd->v, qd->n, sizeof(*qd->v), qlabel_cmp) : NULL;
}

static struct qlabel *qlabel_get(struct quotad *qd, const char *label)
{
	struct qlabel *x = qlabel_find(qd, label), *v;
	char *copy;

	if (x)
		return x;
	v = reallocarray(qd->v, qd->n + 1, sizeof(*v));
	if (!v)
		return NULL;
	qd->v = v;
	if (!(copy = strdup(label)))
		return NULL;
	v[qd->n++] = (struct qlabel){ .label = copy };
	qsort(v, qd->n, sizeof(*v), qlabel_cmp);
	return qlabel_find(qd, label);
}

/* Write, fsync, rename, fsync the directory: the old or the new file. */
static int quotad_save(struct quotad *qd)
{
	struct err e;
	int fd = openat(qd->dirfd, QUOTAD_STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
			O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ret = 0;

	if (!f) {
		if (fd >= 0)
			close(fd);
		output_error(qd->out, true, "%s/%s: cannot write: %s", qd->dirpath,
			     QUOTAD_STATE_TMP, strerror(errno));
		return -EIO;
	}
	fprintf(f, "nftally-quota 1\n");
	for (size_t i = 0; i < qd->n; i++) {
		const struct qlabel *x = &qd->v[i];

		hex_put(f, x->label);
		fprintf(f, " %lld %lld %llx %llx %llx %llx %llu %llu\n", (long long)x->cycle_start,
			(long long)x->cycle_end, (unsigned long long)x->fired.w[0],
			(unsigned long long)x->fired.w[1], (unsigned long long)x->delivered.w[0],
			(unsigned long long)x->delivered.w[1], (unsigned long long)x->used,
			(unsigned long long)x->limit);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ret = -errno;
	if (fclose(f) != 0 && !ret)
		ret = -EIO;
	if (ret == 0)
		ret = statedir_rename(qd->dirfd, qd->dirpath, QUOTAD_STATE_TMP, QUOTAD_STATE, &e);
	else
		err_setn(&e, ret, "%s/%s: cannot write: %s", qd->dirpath, QUOTAD_STATE_TMP,
			 strerror(-ret));
	if (ret < 0)
		output_error(qd->out, true, "%s", e.msg);
	return ret;
}

static int quotad_load_line(const char *s, size_t len, unsigned line, void *data)
{
	struct quotad *qd = data;
	unsigned long long f0, f1, d0, d1, used, limit;
	long long start, end;
	const char *sp = memchr(s, ' ', len);
	char buf[256];
	struct qlabel *x;
	char *label;

	if (line == 1)
		return len == 15 && memcmp(s, "nftally-quota 1", 15) == 0 ? 0 : -EINVAL;
	if (!sp || len - (size_t)(sp - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, sp, len - (size_t)(sp - s));
	buf[len - (size_t)(sp - s)] = '\0';
	if (sscanf(buf, " %lld %lld %llx %llx %llx %llx %llu %llu", &start, &end, &f0, &f1, &d0,
		   &d1, &used, &limit) != 8)
		return -EINVAL;
	if (!(label = hex_get(s, (size_t)(sp - s))))
		return -EINVAL;
	x = qlabel_get(qd, label);
	free(label);
	if (!x)
		return -ENOMEM;
	x->cycle_start = start;
	x->cycle_end = end;
	x->fired = (struct quota_levels){ { f0, f1 } };
	x->delivered = (struct quota_levels){ { d0, d1 } };
	x->used = used;
	x->limit = limit;
	return 0;
}

/* 1: read, 0: none or damaged (set aside), < 0: error. */
static int quotad_load(struct quotad *qd, struct err *e)
{
	int fd = openat(qd->dirfd, QUOTAD_STATE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len;
	char *buf;
	int ret;

	if (fd < 0)
		return errno == ENOENT ? 0 : err_setn(e, -errno, "%s/%s: cannot open: %s",
						       qd->dirpath, QUOTAD_STATE, strerror(errno));
	ret = file_read_all(fd, 64 << 20, &buf, &len);
	close(fd);
	if (ret < 0)
		return err_setn(e, ret, "%s/%s: cannot read: %s", qd->dirpath, QUOTAD_STATE,
				strerror(-ret));
	ret = file_each_line(buf, len, quotad_load_line, qd);
	free(buf);
	if (ret == -ENOMEM)
		return err_setn(e, ret, "out of memory");
	if (ret < 0) {
		/* as a damaged state file: kept aside, and counting goes on; a
		 * level may then fire a second time in its cycle */
		for (size_t i = 0; i < qd->n; i++)
			free(qd->v[i].label);
		qd->n = 0;
		renameat(qd->dirfd, QUOTAD_STATE, qd->dirfd, QUOTAD_STATE ".damaged");
		output_event(qd->out, output_now(), "state_damaged", NULL, "%s/%s is damaged; kept "
			     "as %s/%s.damaged; the levels of the current cycles may fire again",
			     qd->dirpath, QUOTAD_STATE, qd->dirpath, QUOTAD_STATE);
		log_msg(LOG_PRIO_WARNING, "%s/%s is damaged; kept as %s.damaged", qd->dirpath,
			QUOTAD_STATE, QUOTAD_STATE);
		return 0;
	}
	return 1;
}

/* ---- events and the hook ---- */

static void quotad_env(char ***envp, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void quotad_env(char ***envp, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0)
		(*envp)[(*n)++] = s;
	va_end(ap);
}

/* Close every descriptor from `first` on: one call where the kernel and
 * the filter let it (close_range, Linux 5.9), else one by one up to the
 * limit (65536 under the shipped unit). */
static void quotad_close_from(int first)
{
	long max = sysconf(_SC_OPEN_MAX);

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0)
		return;
#endif
	if (max < 0 || max > 1 << 20)
		max = 1 << 20;
	for (long i = first; i < max; i++)
		close((int)i);
}

/* In the child: never returns; async-signal-safe calls only (the
 * environment is made before the fork). */
static void quotad_exec(const struct quotad *qd, const struct qhook *h, char **env)
{
	static const char msg[] = "nftally: quota_hook: cannot execute it\n";
	char *argv[] = { (char *)qd->hook, NULL };
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	/* taken by another run of nftally (one killed, and this one): its */
	if (marker_take(qd->mdirfd, h->marker) == 0)
		_exit(0);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	dup2(2, 1); /* stdout is the JSON lines */
	quotad_close_from(3);
	execve(qd->hook, argv, env);
	write_all(2, msg, sizeof(msg) - 1);
	_exit(127);
}

static void quotad_start_hook(struct quotad *qd, struct qhook *h)
{
	char *env[16], **envp = env, t0[32], t1[32];
	size_t n = 0;
	pid_t pid;

	quotad_env(&envp, &n, "NFTALLY_EVENT=%s", h->event);
	quotad_env(&envp, &n, "NFTALLY_LABEL=%s", h->label);
	quotad_env(&envp, &n, "NFTALLY_USED=%llu", (unsigned long long)h->used);
	quotad_env(&envp, &n, "NFTALLY_LIMIT=%llu", (unsigned long long)h->limit);
	quotad_env(&envp, &n, "NFTALLY_PERCENT=%u", h->percent);
	quotad_env(&envp, &n, "NFTALLY_BILL=%s", quota_bill_name(h->bill));
	quotad_env(&envp, &n, "NFTALLY_CYCLE_START=%s", output_time((time_t)h->cycle_start, t0));
	quotad_env(&envp, &n, "NFTALLY_CYCLE_END=%s", output_time((time_t)h->cycle_end, t1));
	quotad_env(&envp, &n, "NFTALLY_CYCLE_START_UNIX=%lld", (long long)h->cycle_start);
	quotad_env(&envp, &n, "NFTALLY_HOST=%s", qd->out->origin.host);
	quotad_env(&envp, &n, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		quotad_exec(qd, h, env);
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	if (pid < 0) {
		output_error(qd->out, true, "quota_hook %s for %s of label %s: cannot fork: %s",
			     qd->hook, h->event, h->label, strerror(errno));
		h->pid = -1;
		return;
	}
	h->pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &h->deadline);
	h->deadline.tv_sec += qd->timeout;
}

static void quotad_queue_hook(struct quotad *qd, const struct qlabel *x, const char *event,
			      unsigned p, enum quota_bill bill, const char *marker)
{
	struct qhook *v, *h;

	if (!qd->hook[0])
		return;
	v = reallocarray(qd->hooks, qd->nhooks + 1, sizeof(*v));
	if (!v) {
		output_error(qd->out, true, "quota_hook for %s of %s: out of memory", event,
			     x->label);
		return;
	}
	qd->hooks = v;
	h = &v[qd->nhooks];
	*h = (struct qhook){ .percent = p, .used = x->used, .limit = x->limit,
			     .cycle_start = x->cycle_start, .cycle_end = x->cycle_end,
			     .bill = bill, .label = strdup(x->label) };
	if (!h->label)
		return;
	snprintf(h->event, sizeof(h->event), "%s", event);
	snprintf(h->marker, sizeof(h->marker), "%s", marker);
	qd->nhooks++;
}

/* In the child: print the events whose markers it takes. */
static void quotad_events_child(int mdirfd, int fd, const struct qevent *v, size_t n)
{
	int status = 0, r;

	for (size_t i = 0; i < n; i++) {
		if ((r = marker_take(mdirfd, v[i].marker)) == 0)
			continue;
		if (r < 0)
			status |= 1;
		if (write_all(fd, v[i].line, strlen(v[i].line)) < 0)
			status |= 2;
	}
	_exit(status);
}

/* Print the events: through a child that outlives a kill -9 of this
 * process, and waited for (so that its lines and this process's never
 * mix); by this process where stdout is no file descriptor. */
static void quotad_events_write(struct quotad *qd, const struct qevent *v, size_t n)
{
	int fd = fileno(qd->out->f), status = 0;
	pid_t pid = -1;

	output_flush(qd->out);
	if (fd >= 0)
		pid = fork();
	if (pid == 0)
		quotad_events_child(qd->mdirfd, fd, v, n);
	if (pid < 0) {
		for (size_t i = 0; i < n; i++) {
			int r = marker_take(qd->mdirfd, v[i].marker);

			status |= r < 0;
			if (r != 0)
				fputs(v[i].line, qd->out->f);
		}
		output_flush(qd->out);
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
	}
	if (status & 2)
		output_error(qd->out, true, "quota events: cannot write them to stdout");
	if (status & 1)
		output_error(qd->out, true, "quota events: cannot record their delivery in "
			     "%s/%s: they may be repeated after a restart", qd->dirpath,
			     QUOTAD_MARKERS);
}

/* Deliver every level fired and not delivered, ascending: the events
 * first, then the hooks. */
static void quotad_deliver_pending(struct quotad *qd)
{
	struct qevent *ev = NULL;
	size_t nev = 0, nhooks = qd->nhooks;

	for (size_t i = 0; i < qd->n; i++) {
		struct qlabel *x = &qd->v[i];
		const struct quota *q = quotas_find(&qd->q, x->label);

		for (unsigned p = 1; p <= 100; p++) {
			struct qevent *v;

			if (!quota_levels_has(&x->fired, p) || quota_levels_has(&x->delivered, p))
				continue;
			if (!(v = reallocarray(ev, nev + 1, sizeof(*ev)))) {
				output_error(qd->out, true, "quota events: out of memory");
				break;
			}
			ev = v;
			quota_levels_add(&x->delivered, p);
			quotad_marker(qd, x, p, 'e', ev[nev].marker);
			if (quotad_marker_exists(qd, ev[nev].marker))
				continue;
			ev[nev].line = output_quota_event_line(qd->out, output_now(),
							       p == 100 ? "quota_exceeded" :
							       "quota_warning", x->label, x->used,
							       x->limit, (time_t)x->cycle_start,
							       (time_t)x->cycle_end, p,
							       quota_bill_name(q ? q->bill :
									       QUOTA_BILL_SUM));
			nev += ev[nev].line != NULL;
		}
	}
	if (nev)
		quotad_events_write(qd, ev, nev);
	for (size_t i = 0; i < nev; i++)
		free(ev[i].line);
	free(ev);
	if (nev)
		crash_point("quota-events");
	for (size_t i = 0; i < qd->n && qd->hook[0]; i++) {
		struct qlabel *x = &qd->v[i];
		const struct quota *q = quotas_find(&qd->q, x->label);

		for (unsigned p = 1; p <= 100; p++) {
			char mh[QUOTAD_MARKER_MAX];

			if (!quota_levels_has(&x->fired, p) || quota_levels_has(&x->hooked, p))
				continue;
			quota_levels_add(&x->hooked, p);
			quotad_marker(qd, x, p, 'h', mh);
			if (!quotad_marker_exists(qd, mh))
				quotad_queue_hook(qd, x, p == 100 ? "quota_exceeded" :
						  "quota_warning", p, q ? q->bill : QUOTA_BILL_SUM,
						  mh);
		}
	}
	if (qd->nhooks == nhooks)
		return;
	quotad_tick(qd);
	crash_point("quota-hooks");
}

/* Does a hook of label wait or run among the first n (kept) ones? */
static bool quotad_label_busy(const struct quotad *qd, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(qd->hooks[i].label, label) == 0)
			return true;
	return false;
}

int quotad_tick(struct quotad *qd)
{
	struct timespec now;
	size_t running = 0, k = 0;
	long wait = -1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < qd->nhooks; i++) {
		struct qhook *h = &qd->hooks[i];
		int status;

		if (h->pid > 0 && waitpid(h->pid, &status, WNOHANG) == h->pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				output_error(qd->out, true, "quota_hook %s for %s of label %s %s %d",
					     qd->hook, h->event, h->label, WIFEXITED(status) ?
					     "exited with status" : "was killed by signal",
					     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			h->pid = -1;
		} else if (h->pid > 0 && (now.tv_sec > h->deadline.tv_sec ||
					  (now.tv_sec == h->deadline.tv_sec &&
					   now.tv_nsec >= h->deadline.tv_nsec))) {
			kill(-h->pid, SIGKILL);
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			output_error(qd->out, true, "quota_hook %s for %s of label %s killed after "
				     "%u s (quota_hook_timeout)", qd->hook, h->event, h->label,
				     qd->timeout);
			h->pid = -1;
		}
		running += h->pid > 0;
	}
	for (size_t i = 0; i < qd->nhooks; i++) {
		struct qhook *h = &qd->hooks[i];

		/* a label's hooks one after the other, in the order of its
		 * events: its warning is handled before its exceeded */
		if (h->pid == 0 && running < QUOTAD_HOOKS_MAX && !quotad_label_busy(qd, k, h->label)) {
			quotad_start_hook(qd, h);
			running += h->pid > 0;
		}
		if (h->pid < 0) {
			free(h->label);
			continue;
		}
		qd->hooks[k++] = *h;
	}
	qd->nhooks = k;
	for (size_t i = 0; i < k; i++) {
		const struct qhook *h = &qd->hooks[i];
		/* a waiting hook starts when one ends: seen by the reaping */
		long ms = h->pid > 0 ? (h->deadline.tv_sec - now.tv_sec) * 1000 +
				       (h->deadline.tv_nsec - now.tv_nsec) / 1000000 : 100;

		/* reaped at least every 100 ms: SIGCHLD does not wake the loop */
		ms = ms < 0 ? 0 : ms > 100 ? 100 : ms;
		wait = wait < 0 || ms < wait ? ms : wait;
	}
	return (int)wait;
}

/* ---- the quotas file ---- */

static int quotad_read(struct quotad *qd, struct err *e)
{
	struct quotas q;
	struct stat st;
	int ret;

	if (stat(qd->path, &st) < 0)
		return err_setn(e, -errno, "%s: cannot open: %s", qd->path, strerror(errno));
	quotas_init(&q);
	ret = quotas_load(&q, qd->path, qd->dwarn, qd->ndwarn, e);
	if (ret < 0)
		return ret;
	quotas_finish(&qd->q);
	qd->q = q;
	qd->st = st;
	quotad_forget_metrics(qd);
	return 0;
}

void quotad_reload(struct quotad *qd, bool force)
{
	struct stat st;
	struct err e;

	if (!force && stat(qd->path, &st) == 0 && st.st_ino == qd->st.st_ino &&
	    st.st_dev == qd->st.st_dev && st.st_size == qd->st.st_size &&
	    st.st_mtim.tv_sec == qd->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == qd->st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == qd->st.st_ctim.tv_sec && st.st_ctim.tv_nsec == qd->st.st_ctim.tv_nsec)
		return;
	if (quotad_read(qd, &e) < 0) {
		output_event(qd->out, output_now(), "quotas_rejected", NULL, "%s", e.msg);
		log_msg(LOG_PRIO_WARNING, "%s; the quotas stay as they were", e.msg);
		/* not again until it changes once more */
		if (stat(qd->path, &st) == 0)
			qd->st = st;
		output_flush(qd->out);
		return;
	}
	output_event(qd->out, output_now(), "quotas_loaded", NULL, "%s: %zu quotas", qd->path,
		     qd->q.n);
	output_flush(qd->out);
}

struct quotad *quotad_create(const struct config *cfg, int dirfd, const char *dirpath,
			     struct output *out, struct err *e)
{
	struct quotad *qd = calloc(1, sizeof(*qd));
	int ret;

	if (!qd) {
		err_setn(e, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(qd->path, sizeof(qd->path), "%s", cfg->quotas);
	snprintf(qd->hook, sizeof(qd->hook), "%s", cfg->quota_hook);
	snprintf(qd->dirpath, sizeof(qd->dirpath), "%s", dirpath);
	qd->timeout = cfg->quota_hook_timeout;
	memcpy(qd->dwarn, cfg->quota_warn, cfg->nquota_warn);
	qd->ndwarn = cfg->nquota_warn;
	qd->dirfd = dirfd;
	qd->mdirfd = -1;
	qd->out = out;
	quotas_init(&qd->q);
	/* a hook that cannot run would fail at every event: say it now */
	if (qd->hook[0] && access(qd->hook, X_OK) < 0) {
		err_setn(e, -errno, "quota_hook %s: cannot execute: %s", qd->hook, strerror(errno));
		quotad_destroy(qd);
		return NULL;
	}
	if (quotad_read(qd, e) < 0 || (ret = quotad_load(qd, e)) < 0 ||
	    quotad_markers_open(qd, ret == 1, e) < 0) {
		quotad_destroy(qd);
		return NULL;
	}
	for (size_t i = 0; i < qd->q.n; i++)
		qd->re.on |= qd->q.v[i].action != QUOTA_ACT_NONE;
	quotad_deliver_pending(qd);
	return qd;
}

void quotad_destroy(struct quotad *qd)
{
	if (!qd)
		return;
	for (size_t i = 0; i < qd->n; i++)
		free(qd->v[i].label);
	free(qd->v);
	for (size_t i = 0; i < qd->nhooks; i++)
		free(qd->hooks[i].label);
	free(qd->hooks);
	quotas_finish(&qd->q);
	free(qd->mq);
	quotad_enforced_free(qd->enf, qd->re.n);
	free(qd->rates);
	if (qd->mdirfd >= 0)
		close(qd->mdirfd);
	free(qd);
}

/* ---- evaluation ---- */

struct qusage {
	struct quotad *qd;
	int64_t start;
	struct counts *c; /* per quota, of those whose cycle starts at start */
	const int64_t *starts;
};

static int quotad_usage_cb(const char *label, const struct counts *c, void *arg)
{
	struct qusage *u = arg;
	const struct quota *q = quotas_find(&u->qd->q, label);
	size_t i;

	if (!q)
		return 0;
	i = (size_t)(q - u->qd->q.v);
	if (u->starts[i] == u->start) {
		u->c[i].in_bytes += c->in_bytes;
		u->c[i].in_packets += c->in_packets;
		u->c[i].out_bytes += c->out_bytes;
		u->c[i].out_packets += c->out_packets;
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void quotad_enforced_free(struct render_enforced *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free((char *)v[i].label);
	free(v);
}

/* The metrics name the labels of the quotas file they were made from:
 * gone with it. */
static void quotad_forget_metrics(struct quotad *qd)
{
	free(qd->mq);
	qd->mq = NULL;
	qd->nmq = 0;
}

static const struct render_enforced *quotad_enforced_find(const struct render_enforced *v,
							  size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].label, label) == 0)
			return &v[i];
	return NULL;
}

/* quota_enforced for each label that enforcement now holds (or holds
 * with another action), quota_lifted for each it lets go. */
static void quotad_say_enforcement(struct quotad *qd, const struct render_enforced *v, size_t n,
				   const uint64_t *rates)
{
	for (size_t i = 0; i < n; i++) {
		const struct render_enforced *old = quotad_enforced_find(qd->re.v, qd->re.n,
									  v[i].label);
		const struct quota *q = quotas_find(&qd->q, v[i].label);

		if (old && old->action == v[i].action && old->mark == v[i].mark &&
		    (v[i].action != QUOTA_ACT_THROTTLE || qd->re.rates[old->rate] == rates[v[i].rate]))
			continue;
		if (v[i].action == QUOTA_ACT_MARK)
			output_event_label(qd->out, output_now(), "quota_enforced", v[i].label,
				     "label %s: quota exceeded, its packets are marked 0x%x",
				     v[i].label, (unsigned)v[i].mark);
		else if (v[i].action == QUOTA_ACT_THROTTLE)
			output_event_label(qd->out, output_now(), "quota_enforced", v[i].label,
				     "label %s: quota exceeded, each of its addresses is limited "
				     "to %llu bytes/s per direction", v[i].label,
				     (unsigned long long)(q ? q->rate : 0));
		else
			output_event_label(qd->out, output_now(), "quota_enforced", v[i].label,
				     "label %s: quota exceeded, its packets are dropped", v[i].label);
	}
	for (size_t i = 0; i < qd->re.n; i++)
		if (!quotad_enforced_find(v, n, qd->re.v[i].label))
			output_event_label(qd->out, output_now(), "quota_lifted", qd->re.v[i].label,
				     "label %s: enforcement lifted", qd->re.v[i].label);
}

/* The labels an exceeded enforcing quota holds, and the throttle rates. */
static int quotad_enforcement(struct quotad *qd, const struct counts *c, bool *changed)
{
	struct render_enforced *enf = calloc(qd->q.n + 1, sizeof(*enf));
	uint64_t *rates = calloc(qd->q.n + 1, sizeof(*rates));
	size_t n = 0, nr = 0;
	bool on = false;

	if (!enf || !rates) {
		free(enf);
		free(rates);
		return -ENOMEM;
	}
	for (size_t i = 0; i < qd->q.n; i++)
		if (qd->q.v[i].action == QUOTA_ACT_THROTTLE)
			rates[nr++] = qd->q.v[i].rate;
	qsort(rates, nr, sizeof(*rates), u64_cmp);
	for (size_t i = 0, k = 0, all = nr; i < all; i++)
		if (!k || rates[k - 1] != rates[i]) {
			rates[k++] = rates[i];
			nr = k;
		}
	for (size_t i = 0; i < qd->q.n; i++) {
		const struct quota *q = &qd->q.v[i];

		on |= q->action != QUOTA_ACT_NONE;
		if (q->action == QUOTA_ACT_NONE || quota_state(q, quota_billed(q->bill, &c[i])) < 2)
			continue;
		enf[n] = (struct render_enforced){ .label = strdup(q->label), .action = q->action,
						   .mark = q->mark };
		if (!enf[n].label) {
			quotad_enforced_free(enf, n);
			free(rates);
			return -ENOMEM;
		}
		if (q->action == QUOTA_ACT_THROTTLE)
			enf[n].rate = (size_t)((uint64_t *)bsearch(&q->rate, rates, nr,
								   sizeof(*rates), u64_cmp) - rates);
		n++;
	}
	*changed = on != qd->re.on || n != qd->re.n || nr != qd->re.nrates ||
		   memcmp(rates, qd->rates ? qd->rates : rates, nr * sizeof(*rates)) != 0;
	for (size_t i = 0; i < n && !*changed; i++)
		*changed = strcmp(enf[i].label, qd->re.v[i].label) != 0 ||
			   enf[i].action != qd->re.v[i].action || enf[i].mark != qd->re.v[i].mark ||
			   enf[i].rate != qd->re.v[i].rate;
	if (*changed)
		quotad_say_enforcement(qd, enf, n, rates);
	quotad_enforced_free(qd->enf, qd->re.n);
	free(qd->rates);
	qd->enf = enf;
	qd->rates = rates;
	qd->re = (struct render_enforce){ .on = on, .rates = rates, .nrates = nr, .v = enf,
					  .n = n };
	return 0;
}

/* Records of labels without a quota whose cycle has ended: nothing can
 * fire for them any more (a quota added again starts in a new cycle). */
static bool quotad_prune(struct quotad *qd, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < qd->n; i++) {
		if (qd->v[i].cycle_end <= now && !quotas_find(&qd->q, qd->v[i].label)) {
			free(qd->v[i].label);
			continue;
		}
		qd->v[k++] = qd->v[i];
	}
	if (k == qd->n)
		return false;
	qd->n = k;
	return true;
}

/* The levels each quota's usage crossed: recorded, then delivered. */
static int quotad_fire(struct quotad *qd, int64_t now, const int64_t *starts,
		       const int64_t *ends, const struct counts *c)
{
	struct metrics_quota *mq = calloc(qd->q.n + 1, sizeof(*mq));
	bool fired = quotad_prune(qd, now), cycles = fired, crossed_any = false;

	if (!mq)
		return -ENOMEM;
	for (size_t i = 0; i < qd->q.n; i++) {
		const struct quota *q = &qd->q.v[i];
		uint64_t used = quota_billed(q->bill, &c[i]);
		struct qlabel *x = qlabel_get(qd, q->label);
		struct quota_levels crossed;

		mq[i] = (struct metrics_quota){ .label = q->label, .limit = q->limit, .used = used,
						.state = quota_state(q, used) };
		if (!x) {
			free(mq);
			return -ENOMEM;
		}
		if (x->cycle_start != starts[i]) {
			*x = (struct qlabel){ .label = x->label, .cycle_start = starts[i],
					      .cycle_end = ends[i] };
			fired = cycles = true; /* the new cycle is recorded too */
		}
		if (quota_crossed(q, used, &x->fired, &crossed)) {
			x->fired.w[0] |= crossed.w[0];
			x->fired.w[1] |= crossed.w[1];
			x->used = used;
			x->limit = q->limit;
			fired = crossed_any = true;
		}
	}
	quotad_forget_metrics(qd);
	qd->mq = mq;
	qd->nmq = qd->q.n;
	/* Recorded before it is said: a crash from here on delivers it at
	 * the next start, never loses it. */
	if (fired && quotad_save(qd) < 0)
		return -EIO;
	if (cycles)
		quotad_markers_prune(qd, false);
	if (crossed_any)
		crash_point("quota-recorded");
	quotad_deliver_pending(qd);
	return 0;
}

int quotad_evaluate(struct quotad *qd, time_t now, quotad_usage_fn usage,
		    quotad_cycle_fn cycle, void *data)
{
	size_t n = qd->q.n;
	int64_t *starts = calloc(n + 1, sizeof(*starts)), *ends = calloc(n + 1, sizeof(*ends));
	struct counts *c = calloc(n + 1, sizeof(*c));
	bool changed = false;
	struct err e;
	int ret = starts && ends && c ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && ret == 0; i++)
		if (cycle_bounds(cycle(data, qd->q.v[i].label), now, &starts[i], &ends[i]) < 0)
			ret = -EINVAL;
	/* one read per distinct cycle start */
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct qusage u = { .qd = qd, .start = starts[i], .c = c, .starts = starts };
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = starts[j] == starts[i];
		if (!seen)
			ret = usage(data, starts[i], (int64_t)now + 1, quotad_usage_cb, &u, &e);
		if (ret < 0)
			output_error(qd->out, true, "quotas: cannot read the usage: %s", e.msg);
	}
	if (ret == 0)
		ret = quotad_fire(qd, (int64_t)now, starts, ends, c);
	if (ret == 0)
		ret = quotad_enforcement(qd, c, &changed);
	free(starts);
	free(ends);
	free(c);
	return ret < 0 ? ret : changed;
}

const struct render_enforce *quotad_enforce(const struct quotad *qd)
{
	return &qd->re;
}

const struct metrics_quota *quotad_metrics(const struct quotad *qd, size_t *n)
{
	*n = qd->nmq;
	return qd->mq;
}
