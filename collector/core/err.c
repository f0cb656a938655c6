/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Formatting of user-facing error messages into a caller's struct err. */
#include <errno.h>
#include <stdio.h>

#include "err.h"

__attribute__((format(printf, 2, 0)))
static void err_vset(struct err *e, const char *fmt, va_list ap)
{
	if (e)
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int err_setn(struct err *e, int negerrno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, fmt, ap);
	va_end(ap);
	return negerrno;
}

char *err_printable(char *dst, size_t size, const char *s, size_t n)
{
	/* Leave room for "..." and the NUL when truncating. */
	size_t keep = n < size ? n : size - 4;
	size_t i;

	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (keep < n) {
		dst[i++] = '.';
		dst[i++] = '.';
		dst[i++] = '.';
	}
	dst[i] = '\0';
	return dst;
}
