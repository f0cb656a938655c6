// SPDX-License-Identifier: GPL-2.0-or-later
/* Persisted report state: a small line-oriented text file per table, written
 * with write-fsync-rename so that it is always either the old or the new
 * version, and read back strictly (a damaged file is reported, not guessed). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "file.h"
#include "state.h"

/* Version 2 added the counters' kernel handles and "last" (REP 2) to the
 * entries; version 1 files are still read, with handles unknown. */
#define STATE_MAGIC "nftally-state 2"
#define STATE_MAGIC_V1 "nftally-state 1"
#define STATE_FILE_MAX ((size_t)1 << 30)

void state_init(struct state *s)
{
	memset(s, 0, sizeof(*s));
}

void state_finish(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].label);
	free(s->v);
	state_init(s);
}

int state_add(struct state *s, const struct addr *a, const char *label,
	      const struct counts *c, bool rep)
{
	return state_add_entry(s, &(struct state_entry){ .addr = *a, .c = *c, .rep = rep }, label);
}

int state_add_entry(struct state *s, const struct state_entry *from, const char *label)
{
	struct state_entry *x;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = reallocarray(s->v, cap, sizeof(*s->v));

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	x = &s->v[s->n];
	*x = *from;
	x->label = strdup(label);
	if (!x->label)
		return -ENOMEM;
	s->n++;
	return 0;
}

static int entry_cmp(const void *x, const void *y)
{
	return addr_cmp(&((const struct state_entry *)x)->addr,
			&((const struct state_entry *)y)->addr);
}

void state_sort(struct state *s)
{
	size_t i = 1;

	/* States are mostly built from sorted targets: check before sorting. */
	while (i < s->n && addr_cmp(&s->v[i - 1].addr, &s->v[i].addr) < 0)
		i++;
	if (i < s->n)
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
}

const struct state_entry *state_find(const struct state *s, const struct addr *a)
{
	struct state_entry key = { .addr = *a };

	if (!s->n)
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof(*s->v), entry_cmp);
}

enum state_from state_delta_from(const struct state_reading *cur,
				 const struct state_reading *base, bool base_last)
{
	if (cur->handle && base->handle && cur->handle != base->handle)
		return base_last ? STATE_FROM_ZERO : STATE_FROM_RECREATED;
	/* Without handles (kernels before 4.18), a counter after its last
	 * report can only be a new one: nftally deleted the old one (and
	 * clears the mark when that failed). */
	if (base_last && (!cur->handle || !base->handle))
		return STATE_FROM_ZERO;
	if (cur->bytes < base->bytes || cur->packets < base->packets)
		return STATE_FROM_RESET;
	return STATE_FROM_REPORTED;
}

/* Decimal digits of v at the end of buf[0..24); returns where they start.
 * A state of 100,000 entries is written at every report: printf's
 * generality is most of that cost. */
static char *u64_text(uint64_t v, char *end)
{
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return end;
}

static void put_entry(FILE *f, const struct state_entry *x)
{
	const uint64_t v[6] = { x->c.in_bytes, x->c.in_packets, x->c.out_bytes, x->c.out_packets,
				x->h[0], x->h[1] };
	char line[ADDR_STRLEN + ADDR_CLASS_NAMELEN + 6 * 21 + 16], num[24];
	size_t n = 0, k;

	memcpy(line, "entry ", 6);
	n = 6;
	addr_format(&x->addr, line + n);
	n += strlen(line + n);
	if (x->addr.cls)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "@%s",
				      addr_class_name(x->addr.cls));
	line[n++] = ' ';
	line[n++] = x->last ? '2' : x->rep ? '1' : '0';
	for (int i = 0; i < 6; i++) {
		char *p = u64_text(v[i], num + sizeof(num));

		k = (size_t)(num + sizeof(num) - p);
		line[n++] = ' ';
		memcpy(line + n, p, k);
		n += k;
	}
	line[n++] = ' ';
	fwrite(line, 1, n, f);
	fputs(x->label, f);
	fputc('\n', f);
}

void state_boot_id(char *buf, size_t size)
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

int state_format(const struct state *s, FILE *f)
{
	fprintf(f, "%s\n# written by nftally; do not edit\ntable %s\nhandle %" PRIu64
		"\nseq %" PRIu64 "\ntime %" PRId64 "\nbase_time %" PRId64 "\n", STATE_MAGIC,
		s->table, s->handle, s->seq, s->time, s->base_time);
	if (s->overhead)
		fprintf(f, "overhead %u\n", s->overhead);
	if (s->boot[0])
		fprintf(f, "boot %s\n", s->boot);
	for (size_t i = 0; i < s->n; i++)
		put_entry(f, &s->v[i]);
	fprintf(f, "end\n");
	return ferror(f) ? -EIO : 0;
}

/* Strict unsigned decimal: digits only, no overflow. */
static const char *parse_u64(const char *p, uint64_t *v)
{
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return p;
}

static const char *parse_field(const char *p, uint64_t *v)
{
	if (*p != ' ')
		return NULL;
	return parse_u64(p + 1, v);
}

/* ADDR[@CLASS] REP IB IP OB OP [HIN HOUT] LABEL: version 1 has no handles
 * and REP 0 or 1; version 2 has them, and REP 2 for "last". */
static int parse_entry(struct state *s, const char *p, bool v1)
{
	const char *sp = strchr(p, ' ');
	char text[ADDR_STRLEN + ADDR_CLASS_NAMELEN + 2];
	uint64_t rep = 0, v[6] = { 0 };
	struct state_entry x = { 0 };

	if (!sp || (size_t)(sp - p) >= sizeof(text))
		return -EINVAL;
	char *at;
	int cls = 0;

	memcpy(text, p, (size_t)(sp - p));
	text[sp - p] = '\0';
	at = strchr(text, '@');
	if (at) {
		*at++ = '\0';
		cls = addr_class_id(at);
		if (cls <= 0)
			return -EINVAL;
	}
	if (addr_parse(text, &x.addr, NULL) < 0)
		return -EINVAL;
	x.addr.cls = (uint8_t)cls;
	p = parse_field(sp, &rep);
	for (int i = 0; i < (v1 ? 4 : 6) && p; i++)
		p = parse_field(p, &v[i]);
	if (!p || rep > (v1 ? 1 : 2) || *p != ' ' || !p[1] || strlen(p + 1) > 128)
		return -EINVAL;
	for (const char *q = p + 1; *q; q++)
		if ((unsigned char)*q < 0x21 || *q == 0x7f)
			return -EINVAL;
	x.rep = rep >= 1;
	x.last = rep == 2;
	x.c = (struct counts){ v[0], v[1], v[2], v[3] };
	x.h[0] = v[4];
	x.h[1] = v[5];
	return state_add_entry(s, &x, p + 1);
}

static int parse_line(struct state *s, const char *line, unsigned lineno, bool *end,
		      bool *v1)
{
	uint64_t v;
	const char *p;

	if (lineno == 1) {
		*v1 = strcmp(line, STATE_MAGIC_V1) == 0;
		return *v1 || strcmp(line, STATE_MAGIC) == 0 ? 0 : -EINVAL;
	}
	if (*end)
		return -EINVAL; /* nothing after "end" */
	if (line[0] == '#')
		return 0;
	if (strcmp(line, "end") == 0) {
		*end = true;
		return 0;
	}
	if (strncmp(line, "entry ", 6) == 0)
		return parse_entry(s, line + 6, *v1);
	if (strncmp(line, "table ", 6) == 0 && strlen(line + 6) < sizeof(s->table)) {
		strcpy(s->table, line + 6);
		return 0;
	}
	if (strncmp(line, "handle ", 7) == 0 && (p = parse_u64(line + 7, &v)) && !*p) {
		s->handle = v;
		return 0;
	}
	if (strncmp(line, "boot ", 5) == 0 && strlen(line + 5) < sizeof(s->boot) &&
	    strspn(line + 5, "0123456789abcdef-") == strlen(line + 5)) {
		strcpy(s->boot, line + 5);
		return 0;
	}
	if (strncmp(line, "seq ", 4) == 0 && (p = parse_u64(line + 4, &v)) && !*p) {
		s->seq = v;
		return 0;
	}
	if (strncmp(line, "time ", 5) == 0 && (p = parse_u64(line + 5, &v)) && !*p &&
	    v <= INT64_MAX) {
		s->time = (int64_t)v;
		return 0;
	}
	if (strncmp(line, "base_time ", 10) == 0 && (p = parse_u64(line + 10, &v)) && !*p &&
	    v <= INT64_MAX) {
		s->base_time = (int64_t)v;
		return 0;
	}
	if (strncmp(line, "overhead ", 9) == 0 && (p = parse_u64(line + 9, &v)) && !*p &&
	    v <= 1000 /* CONFIG_OVERHEAD_MAX */) {
		s->overhead = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

int state_parse_buffer(struct state *s, const char *name, const char *buf,
		       size_t len, struct err *e)
{
	char *copy = malloc(len + 1), *line, *next;
	unsigned lineno = 0;
	bool end = false, v1 = false;
	int ret = 0;

	if (!copy)
		return err_setn(e, -ENOMEM, "out of memory");
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		free(copy);
		return err_set(e, "%s: NUL byte in state file", name);
	}
	for (line = copy; ret == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			ret = -EINVAL; /* a truncated last line */
			lineno++;
			break;
		}
		*next++ = '\0';
		ret = parse_line(s, line, ++lineno, &end, &v1);
	}
	free(copy);
	if (ret == -ENOMEM)
		return err_setn(e, ret, "out of memory");
	if (ret < 0)
		return err_set(e, "%s:%u: state file is damaged", name, lineno);
	if (!end)
		return err_set(e, "%s: state file is truncated (no end line)", name);
	state_sort(s);
	for (size_t i = 1; i < s->n; i++)
		if (addr_cmp(&s->v[i - 1].addr, &s->v[i].addr) == 0)
			return err_set(e, "%s: state file lists an address twice", name);
	return 0;
}

int state_dir_open(const char *path, struct err *e)
{
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_setn(e, -errno, "%s: cannot create state directory: %s", path,
				strerror(errno));
	fd = state_dir_open_existing(path);
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

int state_dir_open_existing(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void state_names_init(struct state_names *n, const char *table)
{
	snprintf(n->state, sizeof(n->state), "%s.state", table);
	snprintf(n->pending, sizeof(n->pending), "%s.pending", table);
	snprintf(n->draining, sizeof(n->draining), "%s.draining", table);
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

int state_lock_holder(int dirfd, const char *table, char *what, size_t size)
{
	char name[64];
	int fd, pid;

	if (what && size)
		what[0] = '\0';
	if (lock_name(name, sizeof(name), table) < 0)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pid = state_lock_read(fd, what, size);
	close(fd);
	return pid;
}

int state_lock_read(int fd, char *what, size_t size)
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

int state_lock(int dirfd, const char *dirpath, const char *table, const char *what,
	       struct err *e)
{
	char name[64], pid[PATH_MAX + 32];
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
		holder = state_lock_holder(dirfd, table, NULL, 0);
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

int state_load(struct state *s, int dirfd, const char *dirpath, const char *file,
	       struct err *e)
{
	int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char name[4200], *buf = NULL;
	size_t len = 0;
	int ret;

	snprintf(name, sizeof(name), "%s/%s", dirpath, file);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return err_setn(e, errno == ELOOP ? -EINVAL : -errno, "%s: %s", name,
				errno == ELOOP ? "is a symlink; refusing to follow it" :
				strerror(errno));
	ret = file_read_all(fd, STATE_FILE_MAX, &buf, &len);
	close(fd);
	if (ret < 0)
		return err_setn(e, ret == -EFBIG ? -EINVAL : ret, "%s: %s", name,
				strerror(-ret));
	ret = state_parse_buffer(s, name, buf, len, e);
	free(buf);
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

int state_save(const struct state *s, int dirfd, const char *dirpath,
	       const char *file, struct err *e)
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
	ret = state_format(s, f);
	if (fflush(f) != 0 || fsync(fd) < 0)
		ret = errno ? -errno : -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -EIO;
	if (ret < 0) {
		unlinkat(dirfd, tmp, 0);
		return err_setn(e, ret, "%s/%s: writing failed: %s", dirpath, tmp, strerror(-ret));
	}
	return state_rename(dirfd, dirpath, tmp, file, e);
}

int state_rename(int dirfd, const char *dirpath, const char *from, const char *to,
		 struct err *e)
{
	if (renameat(dirfd, from, dirfd, to) < 0)
		return err_setn(e, -errno, "%s: renaming %s to %s: %s", dirpath, from, to,
				strerror(errno));
	return sync_dir(dirfd, dirpath, e);
}
