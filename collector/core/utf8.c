// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict UTF-8 decoding (the rules of RFC 3629), and repair of invalid
 * text one byte at a time, so that nothing after a bad byte is lost. */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc0 && s[0] < 0xe0)
		len = 2, v = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] < 0xf0)
		len = 3, v = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] < 0xf5)
		len = 4, v = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

char *utf8_repair(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, k;
	char *r = malloc(3 * n + 1); /* a bad byte grows to 3 */
	uint32_t cp;

	if (!r)
		return NULL;
	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (k == 0) {
			memcpy(r + o, UTF8_REPLACEMENT, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(r + o, s + i, k);
		o += k;
		i += k;
	}
	r[o] = '\0';
	return r;
}
