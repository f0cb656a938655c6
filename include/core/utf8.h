/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UTF-8: one sequence decoded strictly, and text made valid for outputs
 * that must be UTF-8 (JSON, the Prometheus text) whatever names the system
 * hands us (a network namespace's name is any bytes).  Pure. */
#ifndef NFTALLY_UTF8_H
#define NFTALLY_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an invalid byte becomes: U+FFFD REPLACEMENT CHARACTER. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* The length of the UTF-8 sequence at s (n > 0 bytes left) with its code
 * point in *cp, or 0 if it is invalid: a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate, a value past
 * U+10FFFF. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Whether the string s is valid UTF-8 throughout. */
bool utf8_valid(const char *s);

/* A malloc'ed copy of s in which every byte that does not begin a valid
 * sequence is replaced by U+FFFD (so valid text is copied unchanged), or
 * NULL with errno set. */
char *utf8_repair(const char *s);

#endif
