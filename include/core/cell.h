/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text made safe for the cells of `nftally report`: CSV fields that a
 * spreadsheet will not run as formulas, and labels without the Unicode
 * controls that reorder what a terminal or a spreadsheet shows; and for
 * the pages of `nftally serve`: HTML and URL escapes.  Pure. */
#ifndef NFTALLY_CELL_H
#define NFTALLY_CELL_H

#include <stddef.h>

/* The length of the bidirectional control that s begins with (UTF-8 of
 * U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), or 0. */
size_t cell_bidi_len(const char *s);

/* Remove every bidirectional control from s, in place. */
void cell_strip_bidi(char *s);

/* The CSV field for s (RFC 4180: quoted when it holds a comma, a quote or
 * a line break, quotes doubled), with bidirectional controls removed, and
 * neutralised as OWASP advises for CSV injection: a field that begins with
 * `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front and
 * is quoted.  A malloc'ed string, or NULL with errno set. */
char *cell_csv(const char *s);

/* s as HTML text or a quoted attribute value: & < > " ' as entities.
 * A malloc'ed string, or NULL with errno set. */
char *cell_html(const char *s);

/* s as one component of a URL query: every byte but A-Z a-z 0-9 - _ . ~
 * percent-encoded.  A malloc'ed string, or NULL with errno set. */
char *cell_url(const char *s);

#endif
