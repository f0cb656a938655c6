/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a whole file into memory, the one way every input file is read,
 * and splitting it into lines and blank-separated fields. */
#ifndef NFTALLY_FILE_H
#define NFTALLY_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Read fd to its end into a malloc'd buffer (*out, *len; the caller frees
 * it; one spare byte after the data lets callers NUL-terminate).  st_size
 * is only a hint (procfs, pipes).  Returns 0, -EFBIG past max bytes,
 * -ENOMEM, or the negative errno of read. */
int file_read_all(int fd, size_t max, char **out, size_t *len);

/* Open path and read it whole (file_read_all, at most max bytes) into
 * *out and *len.  Errors as every input file reports them: "PATH: cannot
 * open: ..." with the negative errno of open (-ENOENT for a missing file),
 * "PATH: cannot read: ..." with that of file_read_all. */
int file_load(const char *path, size_t max, char **out, size_t *len, struct err *e);

/* Call cb for every line of buf[0..len) without its line end (LF, or CRLF
 * from Windows editors; the last line may lack one), numbered from 1.
 * Stops at and returns the first non-zero return of cb; else 0. */
int file_each_line(const char *buf, size_t len,
		   int (*cb)(const char *s, size_t n, unsigned line, void *data), void *data);

/* The next field at or after *pos in s[0..len), fields being separated by
 * spaces and tabs: *f and *flen, *pos moved past it.  False at the end. */
bool file_field(const char *s, size_t len, size_t *pos, const char **f, size_t *flen);

/* A space or a tab. */
static inline bool file_blank(char c)
{
	return c == ' ' || c == '\t';
}

#endif
