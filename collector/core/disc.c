/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Interface globs and the normal form of a discovery's result: an account
 * counts an address once, whichever interfaces or routes name it, and two
 * scans of an unchanged namespace give byte-identical lists, so the
 * caller can compare them. */
#include <stdlib.h>
#include <string.h>

#include "disc.h"

bool disc_iface_match(const char *glob, const char *ifname)
{
	size_t n = strlen(glob);

	if (n > 0 && glob[n - 1] == '*')
		return strncmp(glob, ifname, n - 1) == 0;
	return strcmp(glob, ifname) == 0;
}

bool disc_iface_match_any(const char (*globs)[DISC_IFNAMSIZ], size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++)
		if (disc_iface_match(globs[i], ifname))
			return true;
	return false;
}

int disc_addr_cmp(const struct disc_addr *a, const struct disc_addr *b)
{
	int c = addr_cmp(&a->a, &b->a);

	if (c)
		return c;
	if (a->route != b->route)
		return a->route ? 1 : -1;
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname));
}

static int disc_addr_qcmp(const void *a, const void *b)
{
	return disc_addr_cmp(a, b);
}

size_t disc_addrs_unique(struct disc_addr *v, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), disc_addr_qcmp);
	for (size_t i = 1; i < n; i++)
		if (addr_cmp(&v[k].a, &v[i].a) != 0)
			v[++k] = v[i];
	return k + 1;
}
