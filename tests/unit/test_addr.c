/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for addr: parsing edge cases, canonical text, ordering,
 * containment, counter and map names, and prefix ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "addr.h"
#include "test.h"

static struct addr parse_ok(const char *s)
{
	struct addr a;
	const char *why = NULL;

	if (addr_parse(s, &a, &why) != 0) {
		fprintf(stderr, "addr_parse(\"%s\") failed: %s\n", s, why);
		abort();
	}
	return a;
}

static void check_bad(const char *s, const char *reason)
{
	struct addr a;
	const char *why = NULL;

	if (addr_parse(s, &a, &why) != -EINVAL) {
		fprintf(stderr, "addr_parse(\"%s\") accepted\n", s);
		abort();
	}
	test_assert(why != NULL);
	test_streq(why, reason);
}

static void check_canon(const char *in, const char *out)
{
	char buf[ADDR_STRLEN];
	struct addr a = parse_ok(in);

	test_streq(addr_format(&a, buf), out);
}

static void test_parse_good(void)
{
	struct addr a = parse_ok("198.18.0.1");

	test_assert(a.family == AF_INET && a.plen == 32 && addr_is_host(&a));
	test_assert(a.bytes[0] == 198 && a.bytes[3] == 1 && a.bytes[4] == 0);
	a = parse_ok("198.18.4.0/24");
	test_assert(a.plen == 24 && !addr_is_host(&a));
	a = parse_ok("2001:db8::/32");
	test_assert(a.family == AF_INET6 && a.plen == 32);
	a = parse_ok("0.0.0.0/0");
	test_assert(a.plen == 0);
	a = parse_ok("::/0");
	test_assert(a.family == AF_INET6 && a.plen == 0);
	test_assert(addr_parse("1.2.3.4", &a, NULL) == 0);

	check_canon("198.18.0.1/32", "198.18.0.1");
	check_canon("2001:db8::1/128", "2001:db8::1");
	check_canon("2001:DB8:0:0::1", "2001:db8::1");
	check_canon("2001:db8::/32", "2001:db8::/32");
	check_canon("0.0.0.0/0", "0.0.0.0/0");
	check_canon("::ffff:198.18.0.1", "::ffff:198.18.0.1");
	check_canon("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128",
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_parse_bad(void)
{
	check_bad("", "bad address");
	check_bad("1.2.3.999", "bad address");
	check_bad("1.2.3", "bad address");
	check_bad("01.2.3.4", "bad address");
	check_bad(" 1.2.3.4", "bad address");
	check_bad("1.2.3.4 ", "bad address");
	check_bad("/24", "bad address");
	check_bad("fe80::1%eth0", "bad address");
	check_bad("2001:db8:::1", "bad address");
	check_bad("1.2.3.4;", "bad address");
	check_bad("-", "bad address");
	check_bad("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		  "bad address");
	check_bad("1.2.3.0/", "bad prefix length");
	check_bad("1.2.3.0/33", "bad prefix length");
	check_bad("2001:db8::/129", "bad prefix length");
	check_bad("1.2.3.0/+24", "bad prefix length");
	check_bad("1.2.3.0/-1", "bad prefix length");
	check_bad("1.2.3.0/ 24", "bad prefix length");
	check_bad("1.2.3.0/24 ", "bad prefix length");
	check_bad("1.2.3.0/024", "bad prefix length");
	check_bad("0.0.0.0/00", "bad prefix length");
	check_bad("1.2.3.0/0x18", "bad prefix length");
	check_bad("1.2.3.0/24/24", "bad prefix length");
	check_bad("1.2.3.0/4294967320", "bad prefix length");
	check_bad("198.18.0.1/24", "host bits set in prefix");
	check_bad("2001:db8::1/64", "host bits set in prefix");
	check_bad("128.0.0.0/0", "host bits set in prefix");
	check_bad("198.18.0.1/31", "host bits set in prefix");
}

static void test_cmp_overlap(void)
{
	struct addr v4 = parse_ok("198.18.0.1"), net = parse_ok("198.18.0.0/24");
	struct addr net16 = parse_ok("198.18.0.0/16"), other = parse_ok("198.19.0.0/24");
	struct addr v6 = parse_ok("::"), v6net = parse_ok("2001:db8::/32");
	struct addr v6h = parse_ok("2001:db8:1::5");

	test_assert(addr_cmp(&v4, &v4) == 0);
	test_assert(addr_cmp(&net, &v4) < 0 && addr_cmp(&v4, &net) > 0);
	test_assert(addr_cmp(&net16, &net) < 0); /* same bytes: shorter first */
	test_assert(addr_cmp(&v4, &v6) < 0);     /* AF_INET before AF_INET6 */
	test_assert(addr_overlaps(&v4, &net) && addr_overlaps(&net, &v4));
	test_assert(addr_overlaps(&net16, &net));
	test_assert(!addr_overlaps(&net, &other));
	test_assert(addr_contains(&net, &v4) && !addr_contains(&v4, &net));
	test_assert(addr_contains(&net16, &net) && !addr_contains(&net, &net16));
	test_assert(!addr_contains(&other, &v4));
	test_assert(addr_contains(&v6net, &v6h) && !addr_contains(&v6net, &v4));
	test_assert(addr_overlaps(&v6, &v6) && !addr_overlaps(&v6net, &v6));
}

static void check_name(const char *s, enum addr_dir dir, const char *name,
		       const char *map)
{
	char buf[ADDR_NAMELEN], mbuf[ADDR_MAPNAMELEN];
	struct addr a = parse_ok(s), back;
	enum addr_dir d = dir == ADDR_IN ? ADDR_OUT : ADDR_IN;
	struct addr_names an = { 0 };

	test_streq(addr_counter_name(&an, &a, dir, buf), name);
	test_streq(addr_map_name(&an, &a, dir, mbuf), map);
	test_assert(addr_from_counter_name(&an, name, &back, &d) == 0);
	test_assert(addr_cmp(&a, &back) == 0 && d == dir);
}

static void test_names(void)
{
	check_name("198.18.0.1", ADDR_IN, "in4_c6120001", "in4");
	check_name("198.18.0.1", ADDR_OUT, "out4_c6120001", "out4");
	check_name("198.18.4.0/24", ADDR_OUT, "out4_c6120400_24", "out4net");
	check_name("0.0.0.0/0", ADDR_IN, "in4_00000000_0", "in4net");
	check_name("2001:db8::1", ADDR_IN, "in6_20010db8000000000000000000000001", "in6");
	check_name("2001:db8::/32", ADDR_IN, "in6_20010db8000000000000000000000000_32",
		   "in6net");
	check_name("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", ADDR_OUT,
		   "out6_fffffffffffffffffffffffffffffffe_127", "out6net");
}

static void test_names_garbage(void)
{
	static const char *const bad[] = {
		"", "in4", "in4_", "in4_c612000", "in4_c61200011", "in4_C6120001",
		"in4_c612000g", "in5_c6120001", "in4c6120001", "in4_c6120001_",
		"in4_c6120001_32", "in4_c6120400_024", "in4_c6120400_+24",
		"in4_c6120400_33", "in4_c6120401_24", "in4_c6120400_24x",
		"in6_20010db8000000000000000000000001_128", "in6_20010db8",
		"in6_20010db8000000000000000000000000_", "out6_c6120001",
		"out4_c6120001 ", " in4_c6120001", "in4_c6120001\n", "in4_0x120001",
	};
	struct addr_names an;
	struct addr a;
	enum addr_dir d;
	size_t i;

	addr_names_init(&an);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (addr_from_counter_name(&an, bad[i], &a, &d) != -EINVAL) {
			fprintf(stderr, "accepted counter name \"%s\"\n", bad[i]);
			abort();
		}
	}
	test_assert(addr_from_counter_name(&an, "in4_c6120001", &a, NULL) == 0);
	/* none of the bad names registered a class */
	test_assert(addr_names_count(&an) == 1);
}

/* Two accounts in one process, each with its registry: the same class
 * number is another name in each, and nothing leaks from one to the other. */
static void test_two_registries(void)
{
	struct addr_names a, b = { 0 }; /* zeroed: empty, like an init one */
	char buf[ADDR_NAMELEN], map[ADDR_MAPNAMELEN];
	struct addr h = parse_ok("198.18.0.1"), net = parse_ok("2001:db8:11::/64"), back;
	enum addr_dir d;

	addr_names_init(&a);
	test_assert(addr_names_count(&a) == 1 && addr_names_count(&b) == 1);
	test_assert(addr_names_id(&a, "local") == 1 && addr_names_id(&a, "national") == 2);
	test_assert(addr_names_id(&b, "national") == 1 && addr_names_id(&b, "local") == 2);
	test_assert(addr_names_id(&a, "local") == 1); /* known: not added twice */
	test_assert(addr_names_id(&a, "") == 0);
	test_assert(addr_names_id(&a, "Bad") == -1 && addr_names_count(&a) == 3);

	h.cls = 1;
	test_streq(addr_counter_name(&a, &h, ADDR_IN, buf), "in4_c6120001_local");
	test_streq(addr_counter_name(&b, &h, ADDR_IN, buf), "in4_c6120001_national");
	test_streq(addr_map_name(&a, &h, ADDR_OUT, map), "out4_local");
	test_streq(addr_map_name(&b, &h, ADDR_OUT, map), "out4_national");
	net.cls = 2;
	test_streq(addr_counter_name(&a, &net, ADDR_OUT, buf),
		   "out6_20010db8001100000000000000000000_64_national");
	test_streq(addr_counter_name(&b, &net, ADDR_OUT, buf),
		   "out6_20010db8001100000000000000000000_64_local");
	test_streq(addr_map_name_at(&b, 5, 2, map), "out4net_local");
	test_streq(addr_map_name_at(NULL, 6, 0, map), "in6net");

	/* parsing a name finds (or registers) its class in the given registry */
	test_assert(addr_from_counter_name(&a, "in4_c6120001_national", &back, &d) == 0);
	test_assert(back.cls == 2 && d == ADDR_IN);
	test_assert(addr_from_counter_name(&b, "in4_c6120001_national", &back, &d) == 0);
	test_assert(back.cls == 1);
	test_assert(addr_from_counter_name(&b, "out4_c6120001_gone", &back, &d) == 0);
	test_assert(back.cls == 3 && d == ADDR_OUT && addr_names_count(&b) == 4);
	test_assert(addr_names_count(&a) == 3);
	test_streq(addr_names_name(&b, 3), "gone");
	test_streq(addr_names_name(&a, 3), "?");
	test_streq(addr_names_name(&a, 0), "");

	/* labels: only a registry with classes configured has them */
	addr_names_on(&a, "other");
	test_streq(addr_names_label(&a, 0), "other");
	test_streq(addr_names_label(&a, 2), "national");
	test_assert(addr_names_label(&b, 0) == NULL && addr_names_label(&b, 1) == NULL);

}

/* A registry holds ADDR_CLASS_REGISTRY numbers, the default's included. */
static void test_registry_full(void)
{
	struct addr_names an = { 0 };
	char name[16];
	int id = 0;

	for (unsigned i = 1; i < ADDR_CLASS_REGISTRY; i++) {
		snprintf(name, sizeof(name), "c%u", i);
		id = addr_names_id(&an, name);
		test_assert(id == (int)i);
	}
	test_assert(addr_names_id(&an, "one_more") == -1);
	test_assert(addr_names_id(&an, "c5") == 5);
	test_assert(addr_names_count(&an) == ADDR_CLASS_REGISTRY);
}

static void check_end(const char *s, bool ok, const char *want)
{
	struct addr a = parse_ok(s), e = a;
	char buf[ADDR_STRLEN];

	test_assert(addr_prefix_end(&a, e.bytes) == ok);
	if (ok) {
		e.plen = e.family == AF_INET ? 32 : 128;
		test_streq(addr_format(&e, buf), want);
	}
}

static void test_prefix_end(void)
{
	check_end("198.18.4.0/24", true, "198.18.5.0");
	check_end("198.18.255.0/24", true, "198.19.0.0");
	check_end("10.0.0.0/8", true, "11.0.0.0");
	check_end("198.18.0.0/15", true, "198.20.0.0");
	check_end("128.0.0.0/1", false, NULL);
	check_end("0.0.0.0/1", true, "128.0.0.0");
	check_end("255.255.255.0/24", false, NULL);
	check_end("0.0.0.0/0", false, NULL);
	check_end("198.18.0.1", true, "198.18.0.2");
	check_end("2001:db8::/32", true, "2001:db9::");
	check_end("2001:db8:ffff:ffff::/64", true, "2001:db9::");
	check_end("::/0", false, NULL);
	check_end("ffff::/16", false, NULL);
	check_end("fffe::/16", true, "ffff::");
}

/* addr_format writes by hand what inet_ntop writes: every IPv6 address
 * whose words are each one of 0, 1, 0xffff, 0xa0b (65,536: every run of
 * zeros, every IPv4-compatible and -mapped form), IPv4 corners, prefixes. */
static void test_format_ntop(void)
{
	static const unsigned words[4] = { 0, 1, 0xffff, 0xa0b };
	static const uint8_t v4[][4] = { { 0, 0, 0, 0 }, { 255, 255, 255, 255 },
					 { 198, 18, 0, 9 }, { 10, 100, 1, 200 } };
	char want[INET6_ADDRSTRLEN + 8], buf[ADDR_STRLEN];
	struct addr a = { .family = AF_INET6, .plen = 128 };

	for (unsigned x = 0; x < 65536; x++) {
		for (int i = 0; i < 8; i++) {
			unsigned w = words[x >> (2 * i) & 3];

			a.bytes[2 * i] = (uint8_t)(w >> 8);
			a.bytes[2 * i + 1] = (uint8_t)w;
		}
		test_streq(addr_format(&a, buf), inet_ntop(AF_INET6, a.bytes, want, sizeof(want)));
	}
	a = (struct addr){ .family = AF_INET, .plen = 32 };
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		memcpy(a.bytes, v4[i], 4);
		test_streq(addr_format(&a, buf), inet_ntop(AF_INET, a.bytes, want, sizeof(want)));
	}
	check_canon("0.0.0.0/0", "0.0.0.0/0");
	check_canon("198.18.4.0/24", "198.18.4.0/24");
	check_canon("2001:db8:4::/127", "2001:db8:4::/127");
	check_canon("::ffff:198.18.0.0/112", "::ffff:198.18.0.0/112");
}

/* addr_parse takes exactly the IPv4 text inet_pton takes, to the same
 * bytes: corners, and 300,000 strings of digits and dots. */
static void test_parse_pton4(void)
{
	static const char *const corner[] = {
		"1.2.3.4", "01.2.3.4", "1.2.3.04", "0.0.0.0", "255.255.255.255", "256.1.1.1",
		"1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "00.1.2.3", "1.2.3.0",
		"4294967296", "1.2.3.a", "1.2.3.4 ", "1.2.3.255", "1.2.3.2555", "",
	};
	unsigned seed = 15, valid = 0;
	char text[24];

	for (size_t i = 0; i < 300000 + sizeof(corner) / sizeof(corner[0]); i++) {
		struct addr a;
		uint8_t want[4];
		int ok, got;

		if (i < sizeof(corner) / sizeof(corner[0])) {
			snprintf(text, sizeof(text), "%s", corner[i]);
		} else {
			/* 3 to 5 parts of 0 to 3 digits, leaning to 0, 2 and 5 */
			size_t n = 0, parts = 3 + ((seed = seed * 1103515245 + 12345) >> 16 & 1);

			parts += (seed >> 20 & 7) == 0;
			for (size_t k = 0; k < parts; k++) {
				size_t len = (seed = seed * 1103515245 + 12345) >> 16 & 3;

				len += len == 0 && (seed >> 24 & 7); /* mostly not empty */
				if (k)
					text[n++] = '.';
				for (size_t j = 0; j < len; j++) {
					seed = seed * 1103515245 + 12345;
					text[n++] = "0255012345678925"[seed >> 16 & 15];
				}
			}
			text[n] = 0;
		}
		ok = inet_pton(AF_INET, text, want) == 1;
		got = text[0] && addr_parse(text, &a, NULL) == 0;
		valid += (unsigned)ok;
		if (ok != got || (ok && memcmp(a.bytes, want, 4) != 0)) {
			fprintf(stderr, "addr_parse(\"%s\"): %d, inet_pton: %d\n", text, got, ok);
			abort();
		}
	}
	test_assert(valid > 10000 && valid < 290000); /* both kinds, many */
}

/* IPv4 text is written by hand: every byte value in every position, as
 * inet_ntop writes it. */
static void test_format4(void)
{
	char buf[ADDR_STRLEN], want[INET_ADDRSTRLEN];
	struct addr a = parse_ok("198.18.0.1");

	for (unsigned pos = 0; pos < 4; pos++)
		for (unsigned v = 0; v < 256; v++) {
			a.bytes[0] = 198;
			a.bytes[1] = 18;
			a.bytes[2] = (uint8_t)(v * 7);
			a.bytes[3] = 1;
			a.bytes[pos] = (uint8_t)v;
			test_assert(inet_ntop(AF_INET, a.bytes, want, sizeof(want)));
			test_streq(addr_format(&a, buf), want);
		}
	check_canon("0.0.0.0", "0.0.0.0");
	check_canon("255.255.255.255", "255.255.255.255");
	check_canon("198.18.0.0/15", "198.18.0.0/15");
}

int main(void)
{
	test_format_ntop();
	test_parse_pton4();
	test_parse_good();
	test_parse_bad();
	test_cmp_overlap();
	test_names();
	test_names_garbage();
	test_two_registries();
	test_registry_full();
	test_prefix_end();
	test_format4();
	return 0;
}
