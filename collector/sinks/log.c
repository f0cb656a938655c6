// SPDX-License-Identifier: GPL-2.0-or-later
/* stderr messages, prefixed with their priority when stderr is the journal
 * (systemd sets JOURNAL_STREAM to the device:inode of that stream). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "log.h"

static bool stderr_is_journal(void)
{
	static int cached = -1;
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (cached < 0)
		cached = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
			 fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
	return cached;
}

void log_msg(enum log_prio prio, const char *fmt, ...)
{
	va_list ap;

	if (stderr_is_journal())
		fprintf(stderr, "<%d>", (int)prio);
	fputs("nftally: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
