// SPDX-License-Identifier: GPL-2.0-or-later
/* Amounts and rates as written by people and shown by reports: parsed and
 * formatted with integers only, so that "1.5 TB" is exactly 1500000000000. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* The multiplier of a prefix at *p ("", k, M, G, T, P, E, Ki, Mi, ...),
 * advancing *p past it.  0 when there is none to take. */
static uint64_t prefix(const char **p)
{
	static const char letters[] = "kmgtpe";
	const char *s = *p, *l;
	uint64_t m = 1;
	int n;

	if (!*s)
		return 1;
	l = strchr(letters, *s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
	if (!l)
		return 1;
	n = (int)(l - letters) + 1;
	if (s[1] == 'i') {
		m = (uint64_t)1 << (10 * n);
		*p = s + 2;
		return m;
	}
	while (n--)
		m *= 1000;
	*p = s + 1;
	return m;
}

/* The number at the start of s: its digits before and after a '.' as an
 * integer and the power of ten it is to be divided by.  *end: after it. */
static int number(const char *s, uint64_t *mant, unsigned *decimals, const char **end,
		  struct err *e)
{
	bool digits = false, dot = false;

	*mant = 0;
	*decimals = 0;
	for (; (*s >= '0' && *s <= '9') || (*s == '.' && !dot); s++) {
		if (*s == '.') {
			dot = true;
			continue;
		}
		uint64_t digit = (uint64_t)(*s - '0');

		if (*decimals >= 18 || *mant > (UINT64_MAX - digit) / 10)
			return err_setn(e, -ERANGE, "number too large or too precise");
		*mant = *mant * 10 + digit;
		*decimals += dot;
		digits = true;
	}
	if (!digits)
		return err_set(e, "expected a number");
	*end = s;
	return 0;
}

/* mant / 10^decimals * mult, exactly, into *out. */
static int scale(uint64_t mant, unsigned decimals, uint64_t mult, uint64_t *out,
		 bool whole, struct err *e)
{
	unsigned __int128 v = (unsigned __int128)mant * mult, d = 1;

	while (decimals--)
		d *= 10;
	if (whole && v % d)
		return err_set(e, "not a whole number of bytes");
	v /= d;
	if (v > UINT64_MAX)
		return err_setn(e, -ERANGE, "too large (the limit is 2^64-1 bytes)");
	*out = (uint64_t)v;
	return 0;
}

/* The number, an optional blank and the prefix at the start of s: *p
 * after them. */
static int amount(const char *s, uint64_t *mant, unsigned *dec, uint64_t *mult,
		  const char **p, struct err *e)
{
	int ret = number(s, mant, dec, p, e);

	if (ret < 0)
		return ret;
	if (**p == ' ')
		(*p)++;
	*mult = prefix(p);
	return 0;
}

int units_parse_bytes(const char *s, uint64_t *out, struct err *e)
{
	const char *p;
	uint64_t mant, mult;
	unsigned dec;
	int ret = amount(s, &mant, &dec, &mult, &p, e);

	if (ret < 0)
		return ret;
	if (*p == 'b')
		return err_set(e, "'b' is bits: write B for bytes");
	if (*p == 'B')
		p++;
	if (*p)
		return err_set(e, "unknown unit (use B, kB, MB, GB, TB, PB or KiB, MiB, GiB, "
				  "TiB, PiB)");
	return scale(mant, dec, mult, out, true, e);
}

int units_parse_rate(const char *s, uint64_t *bytes_per_s, struct err *e)
{
	const char *p;
	uint64_t mant, mult, v = 0;
	unsigned dec;
	bool bits;
	int ret = amount(s, &mant, &dec, &mult, &p, e);

	if (ret < 0)
		return ret;
	if (strncmp(p, "bits", 4) == 0 || strncmp(p, "bit", 3) == 0) {
		bits = true;
		p += p[3] == 's' ? 4 : 3;
	} else if (strncmp(p, "bytes", 5) == 0 || strncmp(p, "byte", 4) == 0) {
		bits = false;
		p += p[4] == 's' ? 5 : 4;
	} else if (*p == 'B') {
		bits = false;
		p++;
	} else {
		return err_set(e, "a rate needs a unit: bit or bytes (10mbit, 5mbytes, 2MiB/s)");
	}
	if (strcmp(p, "/s") == 0)
		p += 2;
	if (*p)
		return err_set(e, "unknown rate unit");
	ret = scale(mant, dec, mult, &v, false, e);
	if (ret < 0)
		return ret;
	if (bits)
		v /= 8;
	if (v == 0)
		return err_set(e, "a rate below 1 byte per second");
	*bytes_per_s = v;
	return 0;
}

static const struct unit {
	const char *name;
	uint64_t div;
	bool bin;
} units[] = {
	{ "B", 1, false },
	{ "kB", 1000, false },
	{ "MB", 1000000, false },
	{ "GB", 1000000000, false },
	{ "TB", UINT64_C(1000000000000), false },
	{ "PB", UINT64_C(1000000000000000), false },
	{ "EB", UINT64_C(1000000000000000000), false },
	{ "B", 1, true },
	{ "KiB", UINT64_C(1) << 10, true },
	{ "MiB", UINT64_C(1) << 20, true },
	{ "GiB", UINT64_C(1) << 30, true },
	{ "TiB", UINT64_C(1) << 40, true },
	{ "PiB", UINT64_C(1) << 50, true },
	{ "EiB", UINT64_C(1) << 60, true },
};

static const struct unit *unit_named(uint64_t v, const char *u)
{
	const struct unit *best = NULL;
	bool bin = strcmp(u, "auto-bin") == 0;

	if (bin || strcmp(u, "auto-dec") == 0) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (units[i].bin == bin && (v >= units[i].div || !best))
				best = &units[i];
		return best;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].div > 1 && strcmp(units[i].name, u) == 0)
			return &units[i];
	return NULL;
}

int units_known(const char *u)
{
	return strcmp(u, "bytes") == 0 || unit_named(0, u) != NULL;
}

int units_format(uint64_t v, const char *u, char *buf, size_t len)
{
	const struct unit *un;
	unsigned __int128 r;
	uint64_t q, frac;
	int n;

	if (strcmp(u, "bytes") == 0) {
		n = snprintf(buf, len, "%" PRIu64, v);
		return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
	}
	un = unit_named(v, u);
	if (!un)
		return -EINVAL;
	if (un->div == 1) {
		n = snprintf(buf, len, "%" PRIu64 " B", v);
		return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
	}
	/* v / div to three decimals, half up: (v * 1000 + div / 2) / div */
	r = ((unsigned __int128)v * 1000 + un->div / 2) / un->div;
	q = (uint64_t)(r / 1000);
	frac = (uint64_t)(r % 1000);
	n = snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " %s", q, frac, un->name);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
