/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for cell: CSV fields neutralised against formula injection,
 * RFC 4180 quoting, and bidirectional controls removed, as exact strings. */
#include "cell.h"
#include "test.h"

static void csv_is(const char *in, const char *want)
{
	char *got = cell_csv(in);

	test_assert(got);
	test_streq(got, want);
	free(got);
}

static void strip_is(const char *in, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	cell_strip_bidi(buf);
	test_streq(buf, want);
}

static void html_is(const char *in, const char *want, const char *url)
{
	char *got = cell_html(in), *u = cell_url(in);

	test_assert(got && u);
	test_streq(got, want);
	test_streq(u, url);
	free(got);
	free(u);
}

static void test_html(void)
{
	html_is("vm-101", "vm-101", "vm-101");
	html_is("<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
		"%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E");
	html_is("a&b \"c\"", "a&amp;b &quot;c&quot;", "a%26b%20%22c%22");
	html_is("Zürich", "Zürich", "Z%C3%BCrich");
	html_is("", "", "");
}

static void test_plain(void)
{
	csv_is("", "");
	csv_is("vm-101", "vm-101");
	csv_is("Zürich", "Zürich");
	csv_is("198.18.10.2", "198.18.10.2");
	csv_is("2001:db8::1", "2001:db8::1");
	csv_is("2026-12-01", "2026-12-01");
	csv_is("a=b", "a=b"); /* only a leading sign matters */
	csv_is(" =1", " =1");
	csv_is("'=1", "'=1");
}

static void test_quoting(void)
{
	csv_is("a,b", "\"a,b\"");
	csv_is("say \"hi\"", "\"say \"\"hi\"\"\"");
	csv_is("two\nlines", "\"two\nlines\"");
	csv_is("cr\rin", "\"cr\rin\"");
}

static void test_formulas(void)
{
	csv_is("=1+2", "\"'=1+2\"");
	csv_is("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	csv_is("+41 22", "\"'+41 22\"");
	csv_is("-2+3", "\"'-2+3\"");
	csv_is("-", "\"'-\"");
	csv_is("@SUM(A1:A9)", "\"'@SUM(A1:A9)\"");
	csv_is("\t=1", "\"'\t=1\"");
	csv_is("\r=1", "\"'\r=1\"");
	csv_is("=a,b", "\"'=a,b\"");
	/* a control in front cannot hide the sign */
	csv_is("\xe2\x80\xae=1", "\"'=1\"");
	csv_is("\xe2\x81\xa6\xe2\x81\xa9-1", "\"'-1\"");
}

static void test_bidi(void)
{
	/* every control, 2 and 3 bytes */
	strip_is("a\xd8\x9c" "b", "ab");
	strip_is("a\xe2\x80\x8e" "b\xe2\x80\x8f" "c", "abc");
	strip_is("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae" "x", "x");
	strip_is("x\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "x");
	strip_is("vm\xe2\x80\xae" "1.01", "vm1.01");
	/* neighbours that are not controls stay */
	strip_is("\xe2\x80\x8d", "\xe2\x80\x8d");   /* U+200D ZWJ */
	strip_is("\xe2\x80\xa9", "\xe2\x80\xa9");   /* U+2029 */
	strip_is("\xe2\x80\xaf", "\xe2\x80\xaf");   /* U+202F */
	strip_is("\xe2\x81\xa5", "\xe2\x81\xa5");   /* U+2065 */
	strip_is("\xe2\x81\xaa", "\xe2\x81\xaa");   /* U+206A */
	strip_is("\xd8\x9b", "\xd8\x9b");           /* U+061B */
	strip_is("Zürich", "Zürich");
	/* a truncated sequence at the end is left alone */
	strip_is("a\xe2\x80", "a\xe2\x80");
	strip_is("a\xd8", "a\xd8");
	test_assert(cell_bidi_len("\xe2\x80\xae") == 3);
	test_assert(cell_bidi_len("\xd8\x9c") == 2);
	test_assert(cell_bidi_len("e") == 0);
	test_assert(cell_bidi_len("") == 0);
	csv_is("vm\xe2\x80\xae" "1,01", "\"vm1,01\"");
}

int main(void)
{
	test_plain();
	test_html();
	test_quoting();
	test_formulas();
	test_bidi();
	return 0;
}
