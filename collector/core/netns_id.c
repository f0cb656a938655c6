/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network namespace identities as values: comparison and their text form,
 * so that a state file can say which namespace its counters were read in
 * and a namespace deleted and created again under the same name is never
 * taken for the old one. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "netns_id.h"

bool netns_id_same(const struct netns_id *a, const struct netns_id *b)
{
	if (a->cookie || b->cookie)
		return a->cookie == b->cookie;
	return a->dev == b->dev && a->ino == b->ino;
}

int netns_id_format(const struct netns_id *id, char *buf, size_t size)
{
	int n;

	if (id->cookie)
		n = snprintf(buf, size, "c:%" PRIu64, id->cookie);
	else
		n = snprintf(buf, size, "i:%" PRIu64 ":%" PRIu64, id->dev, id->ino);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

/* A decimal number at *p ending at one of the bytes in `end` (a NUL
 * included): strtoull alone would take blanks, signs and "0x". */
static int netns_id_number(const char **p, char end, uint64_t *v)
{
	char *q;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(*p, &q, 10);

	if (errno || *q != end)
		return -EINVAL;
	*v = x;
	*p = q;
	return 0;
}

int netns_id_parse(const char *s, struct netns_id *id)
{
	struct netns_id v = { 0 };

	if (s[0] == 'c' && s[1] == ':') {
		s += 2;
		if (netns_id_number(&s, '\0', &v.cookie) < 0 || v.cookie == 0)
			return -EINVAL;
	} else if (s[0] == 'i' && s[1] == ':') {
		s += 2;
		if (netns_id_number(&s, ':', &v.dev) < 0)
			return -EINVAL;
		s++;
		if (netns_id_number(&s, '\0', &v.ino) < 0 || v.ino == 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	*id = v;
	return 0;
}
