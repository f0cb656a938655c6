// SPDX-License-Identifier: GPL-2.0-or-later
/* Whole-file reads for the targets, config, labels, classes, template and
 * state files. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "file.h"

int file_read_all(int fd, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t cap = 4096, n = 0;
	char *buf, *p;
	ssize_t got;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < max)
		cap = (size_t)st.st_size + 1; /* +1: EOF is seen without a regrow */
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	while ((got = read(fd, buf + n, cap - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail_errno;
		n += (size_t)got;
		if (n < cap)
			continue;
		if (cap > max) {
			errno = EFBIG;
			goto fail_errno;
		}
		/* never more than one byte past the limit: enough to tell */
		p = realloc(buf, cap * 2 > max + 1 ? max + 1 : cap * 2);
		if (!p) {
			errno = ENOMEM;
			goto fail_errno;
		}
		buf = p;
		cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
	}
	if (n > max) {
		errno = EFBIG;
		goto fail_errno;
	}
	*out = buf;
	*len = n;
	return 0;
fail_errno:
	free(buf);
	return -errno;
}

int file_load(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot open: %s", path, strerror(errno));
	r = file_read_all(fd, max, out, len);
	close(fd);
	if (r < 0)
		return err_setn(e, r, "%s: cannot read: %s", path, strerror(-r));
	return 0;
}

int file_each_line(const char *buf, size_t len,
		   int (*cb)(const char *s, size_t n, unsigned line, void *data), void *data)
{
	const char *s = buf, *end = buf + len, *nl;
	unsigned line = 0;
	int r;

	while (s < end) {
		size_t n;

		nl = memchr(s, '\n', (size_t)(end - s));
		n = (size_t)((nl ? nl : end) - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		r = cb(s, n, ++line, data);
		if (r)
			return r;
		s = nl ? nl + 1 : end;
	}
	return 0;
}

bool file_field(const char *s, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t i = *pos, start;

	while (i < len && file_blank(s[i]))
		i++;
	if (i == len)
		return false;
	start = i;
	while (i < len && !file_blank(s[i]))
		i++;
	*f = s + start;
	*flen = i - start;
	*pos = i;
	return true;
}
