// SPDX-License-Identifier: GPL-2.0-or-later
/* CSV fields and table cells of `nftally report` that labels cannot turn
 * into spreadsheet formulas or visually reorder (see docs/store.md). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"

size_t cell_bidi_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (p[0] == 0xd8 && p[1] == 0x9c)
		return 2; /* U+061C ARABIC LETTER MARK */
	if (p[0] != 0xe2 || (p[1] != 0x80 && p[1] != 0x81))
		return 0;
	if (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
		return 3; /* U+200E, U+200F, U+202A..U+202E */
	if (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
		return 3; /* U+2066..U+2069 */
	return 0;
}

void cell_strip_bidi(char *s)
{
	char *w = s;

	while (*s) {
		size_t n = cell_bidi_len(s);

		if (n) {
			s += n;
			continue;
		}
		*w++ = *s++;
	}
	*w = '\0';
}

char *cell_csv(const char *s)
{
	size_t len = strlen(s), quotes = 0;
	char *plain = malloc(len + 1), *out, *w;
	bool formula, quoted;

	if (!plain)
		return NULL;
	memcpy(plain, s, len + 1);
	cell_strip_bidi(plain);
	/* A spreadsheet runs a cell that begins with one of these as a
	 * formula (tab and CR: some strip them first and then look). */
	formula = plain[0] && strchr("=+-@\t\r", plain[0]);
	quoted = formula || strpbrk(plain, ",\"\r\n");
	for (const char *p = plain; *p; p++)
		quotes += *p == '"';
	out = malloc(strlen(plain) + quotes + 4);
	if (!out) {
		free(plain);
		return NULL;
	}
	w = out;
	if (quoted)
		*w++ = '"';
	if (formula)
		*w++ = '\'';
	for (const char *p = plain; *p; p++) {
		if (*p == '"')
			*w++ = '"';
		*w++ = *p;
	}
	if (quoted)
		*w++ = '"';
	*w = '\0';
	free(plain);
	return out;
}

char *cell_html(const char *s)
{
	size_t len = 0;
	char *out, *w;

	for (const char *p = s; *p; p++)
		len += strchr("&<>\"'", *p) ? 6 : 1;
	if (!(out = malloc(len + 1)))
		return NULL;
	w = out;
	for (const char *p = s; *p; p++) {
		const char *r = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
				*p == '"' ? "&quot;" : *p == '\'' ? "&#39;" : NULL;

		if (r) {
			memcpy(w, r, strlen(r));
			w += strlen(r);
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return out;
}

char *cell_url(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *w = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.~", *p)) {
			*w++ = (char)*p;
		} else {
			*w++ = '%';
			*w++ = hex[*p >> 4];
			*w++ = hex[*p & 15];
		}
	}
	*w = '\0';
	return out;
}
