/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the classes file: disjoint ranges with the first matching
 * class (nesting, later lines of a class, the whole address space, joining
 * neighbours), and every error. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "classes.h"
#include "test.h"

/* The ranges as "lo-hi=class" words, IPv4 then IPv6. */
static void ranges(const char *text, const char *want)
{
	struct classes c;
	struct addr_names an = { 0 };
	struct err e = { "" };
	char got[4096] = "", lo[ADDR_STRLEN], hi[ADDR_STRLEN];

	if (classes_parse_buffer(&c, &an, "cl", text, strlen(text), "other", &e) != 0) {
		fprintf(stderr, "parse failed: %s\n", e.msg);
		abort();
	}
	for (size_t i = 0; i < c.nr; i++) {
		const struct class_range *r = &c.r[i];
		size_t n = strlen(got);

		inet_ntop(r->family, r->lo, lo, sizeof(lo));
		inet_ntop(r->family, r->hi, hi, sizeof(hi));
		snprintf(got + n, sizeof(got) - n, "%s%s-%s=%s", n ? " " : "", lo, hi,
			 addr_names_name(&an, r->cls));
	}
	test_streq(got, want);
	classes_finish(&c);
}

static void bad_n(const char *text, size_t len, const char *want)
{
	struct classes c;
	struct addr_names an = { 0 };
	struct err e = { "" };

	test_assert(classes_parse_buffer(&c, &an, "cl", text, len, "other", &e) == -EINVAL);
	test_streq(e.msg, want);
	test_assert(c.nr == 0 && c.r == NULL);
}

static void bad(const char *text, const char *want)
{
	bad_n(text, strlen(text), want);
}

int main(void)
{
	/* first match wins, in the order of first appearance */
	ranges("local 10.1.0.0/16\nnational 10.0.0.0/8\nlocal 10.200.0.0/16\n",
	       "10.0.0.0-10.0.255.255=national 10.1.0.0-10.1.255.255=local "
	       "10.2.0.0-10.199.255.255=national 10.200.0.0-10.200.255.255=local "
	       "10.201.0.0-10.255.255.255=national");
	/* an inner prefix of a class that comes later changes nothing */
	ranges("wide 10.0.0.0/8\nnarrow 10.1.0.0/16\n", "10.0.0.0-10.255.255.255=wide");
	/* neighbours of one class are joined; duplicates are harmless */
	ranges("a 10.0.0.0/25 10.0.0.128/25 10.0.0.0/25\n", "10.0.0.0-10.0.0.255=a");
	/* the whole space, with a hole at each end */
	ranges("edge 0.0.0.0/32 255.255.255.255/32\nall 0.0.0.0/0 ::/0\nv6 ffff::/16\n",
	       "0.0.0.0-0.0.0.0=edge 0.0.0.1-255.255.255.254=all "
	       "255.255.255.255-255.255.255.255=edge "
	       "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=all");
	ranges("v6 2001:db8::/32 # comment\n\n# only a comment\nv4 198.18.0.1\n",
	       "198.18.0.1-198.18.0.1=v4 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff=v6");
	ranges("", "");

	bad("Local 10.0.0.0/8\n", "cl:1: bad class name 'Local' (a-z first, then a-z, 0-9, _; at most 16)");
	bad("abcdefghijklmnopq 10.0.0.0/8\n",
	    "cl:1: bad class name 'abcdefghijklmnopq' (a-z first, then a-z, 0-9, _; at most 16)");
	bad("a;b 10.0.0.0/8\n", "cl:1: bad class name 'a;b' (a-z first, then a-z, 0-9, _; at most 16)");
	bad("other 10.0.0.0/8\n", "cl:1: class other is the default class (default_class)");
	bad("a 10.0.0.1/8\n", "cl:1: bad prefix '10.0.0.1/8': host bits set in prefix");
	bad("a\n", "cl:1: class a without a prefix");
	bad("a 10.0.0.0/8\nb x\n", "cl:2: bad prefix 'x': bad address");
	bad_n("a 10.0.0.0/8\0\n", 14, "cl:1: NUL byte in line");
	char many[2048] = "";
	for (int i = 0; i <= ADDR_CLASSES_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "c%d 10.%d.0.0/16\n", i, i);
	bad(many, "cl:17: more than 16 classes");
	return 0;
}
