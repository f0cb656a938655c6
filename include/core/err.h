/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A user-facing error message travels in one of these from where it is found
 * to where it is printed, once (nftables' CLI does the same with its records). */
#ifndef NFTALLY_ERR_H
#define NFTALLY_ERR_H

#include <stdarg.h>
#include <stddef.h>

struct err {
	char msg[512];
};

/* Overwrite e->msg (if e is not NULL) with a printf-style message.  Always
 * returns -EINVAL so parsers can write `return err_set(e, ...)`. */
int err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like err_set but returns the given negative errno. */
int err_setn(struct err *e, int negerrno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copy n bytes of untrusted text s into dst (size bytes, at least 4) for
 * quoting in a message: bytes outside printable ASCII become '?', and text
 * that does not fit ends in "...".  Returns dst. */
char *err_printable(char *dst, size_t size, const char *s, size_t n);

#endif
