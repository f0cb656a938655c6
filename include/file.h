/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a whole file into memory, the one way every input file is read. */
#ifndef NFTALLY_FILE_H
#define NFTALLY_FILE_H

#include <stddef.h>

/* Read fd to its end into a malloc'd buffer (*out, *len; the caller frees
 * it; one spare byte after the data lets callers NUL-terminate).  st_size
 * is only a hint (procfs, pipes).  Returns 0, -EFBIG past max bytes,
 * -ENOMEM, or the negative errno of read. */
int file_read_all(int fd, size_t max, char **out, size_t *len);

#endif
