// SPDX-License-Identifier: GPL-2.0-or-later
/* UTF-8: strict decoding of each kind of sequence and of each kind of
 * invalid one, and repair of invalid text byte by byte. */
#include <stdlib.h>

#include "test.h"
#include "utf8.h"

static void decodes(const char *s, size_t len, uint32_t want)
{
	uint32_t cp = 0xffffffff;

	test_assert(utf8_decode((const unsigned char *)s, strlen(s), &cp) == len);
	test_assert(cp == want);
}

static void refuses(const char *s, size_t n)
{
	uint32_t cp;

	test_assert(utf8_decode((const unsigned char *)s, n, &cp) == 0);
}

static void test_decode(void)
{
	decodes("a", 1, 'a');
	decodes("\x7f", 1, 0x7f);
	decodes("\xc3\xa9", 2, 0xe9);
	decodes("\xe2\x82\xac", 3, 0x20ac);
	decodes("\xef\xbf\xbd", 3, 0xfffd);
	decodes("\xf0\x9f\x98\x80", 4, 0x1f600);
	decodes("\xf4\x8f\xbf\xbf", 4, 0x10ffff);
	refuses("\x80", 1);             /* a continuation byte alone */
	refuses("\xc3", 1);             /* truncated */
	refuses("\xe2\x82", 2);         /* truncated */
	refuses("\xc3\x28", 2);         /* not a continuation */
	refuses("\xc0\xaf", 2);         /* overlong '/' */
	refuses("\xe0\x80\xaf", 3);     /* overlong */
	refuses("\xed\xa0\x80", 3);     /* a surrogate */
	refuses("\xf4\x90\x80\x80", 4); /* past U+10FFFF */
	refuses("\xf5\x80\x80\x80", 4);
	refuses("\xff", 1);
	/* n bounds the sequence, not the string's NUL */
	refuses("\xc3\xa9", 1);
}

static void repairs(const char *s, const char *want)
{
	char *r = utf8_repair(s);

	test_assert(r);
	test_streq(r, want);
	test_assert(utf8_valid(r));
	test_assert(utf8_valid(s) == (strcmp(s, want) == 0));
	free(r);
}

static void test_repair(void)
{
	repairs("", "");
	repairs("qrouter-1 \"\\\n\t\x01", "qrouter-1 \"\\\n\t\x01"); /* valid: unchanged */
	repairs("Z\xc3\xbcrich", "Z\xc3\xbcrich");
	repairs("a\xff", "a" UTF8_REPLACEMENT);
	repairs("\xc0\xaf", UTF8_REPLACEMENT UTF8_REPLACEMENT); /* one per bad byte */
	repairs("x\xe2\x82", "x" UTF8_REPLACEMENT UTF8_REPLACEMENT);
	/* what follows a bad byte is kept */
	repairs("\xe2\x82\xc3\xa9!", UTF8_REPLACEMENT UTF8_REPLACEMENT "\xc3\xa9!");
	repairs("\xed\xa0\x80", UTF8_REPLACEMENT UTF8_REPLACEMENT UTF8_REPLACEMENT);
}

int main(void)
{
	test_decode();
	test_repair();
	return 0;
}
