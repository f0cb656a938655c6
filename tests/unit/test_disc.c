/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for disc: interface globs (exact, trailing '*', '*') and the
 * sorted, duplicate-free list a discovery returns. */
#include <sys/socket.h>

#include "disc.h"
#include "test.h"

static void test_match(void)
{
	test_assert(disc_iface_match("qg-1234", "qg-1234"));
	test_assert(!disc_iface_match("qg-1234", "qg-12345"));
	test_assert(!disc_iface_match("qg-1234", "qg-123"));
	test_assert(disc_iface_match("qg-*", "qg-"));
	test_assert(disc_iface_match("qg-*", "qg-a1b2"));
	test_assert(!disc_iface_match("qg-*", "qr-a1b2"));
	test_assert(!disc_iface_match("qg-*", "qg"));
	test_assert(disc_iface_match("*", "eth0"));
	test_assert(disc_iface_match("*", ""));
	/* Only a trailing '*' is a wildcard: elsewhere it is a byte. */
	test_assert(!disc_iface_match("*0", "eth0"));
	test_assert(disc_iface_match("*0", "*0"));
	test_assert(!disc_iface_match("q*g", "qxg"));
	test_assert(disc_iface_match("q*g*", "q*gx"));
	test_assert(!disc_iface_match("q*g*", "qxgx"));
	test_assert(!disc_iface_match("", "eth0"));
	/* Case matters, as for the kernel's names. */
	test_assert(!disc_iface_match("Veth*", "veth0"));
}

static void test_match_any(void)
{
	const char globs[3][DISC_IFNAMSIZ] = { "venet0", "veth*", "tap1" };

	test_assert(disc_iface_match_any(globs, 3, "venet0"));
	test_assert(disc_iface_match_any(globs, 3, "veth101.0"));
	test_assert(disc_iface_match_any(globs, 3, "tap1"));
	test_assert(!disc_iface_match_any(globs, 3, "tap10"));
	test_assert(!disc_iface_match_any(globs, 3, "venet1"));
	test_assert(!disc_iface_match_any(globs, 0, "venet0"));
}

static struct disc_addr da(const char *text, const char *ifname, bool route)
{
	struct disc_addr d = { .route = route };

	test_assert(addr_parse(text, &d.a, NULL) == 0);
	snprintf(d.ifname, sizeof(d.ifname), "%s", ifname);
	return d;
}

static void check(const struct disc_addr *v, size_t i, const char *text, const char *ifname,
		  bool route)
{
	char buf[ADDR_STRLEN];

	test_streq(addr_format(&v[i].a, buf), text);
	test_streq(v[i].ifname, ifname);
	test_assert(v[i].route == route);
}

static void test_unique(void)
{
	struct disc_addr v[] = {
		da("2001:db8::5", "veth1", true),
		da("198.18.0.10", "qg-b", false),
		da("198.18.0.9", "veth2", true),
		da("198.18.0.10", "qg-a", false),   /* on two interfaces */
		da("198.18.0.9", "qg-a", false),    /* an address and a route */
		da("2001:db8::5", "veth1", true),   /* the same route twice */
		da("198.18.0.2", "veth0", true),
		da("2001:db8::1", "qg-a", false),
	};
	size_t n = disc_addrs_unique(v, sizeof(v) / sizeof(v[0]));

	test_assert(n == 5);
	check(v, 0, "198.18.0.2", "veth0", true);
	check(v, 1, "198.18.0.9", "qg-a", false);   /* the address wins */
	check(v, 2, "198.18.0.10", "qg-a", false);  /* the first name wins */
	check(v, 3, "2001:db8::1", "qg-a", false);
	check(v, 4, "2001:db8::5", "veth1", true);
	test_assert(disc_addrs_unique(v, 0) == 0);
	test_assert(disc_addrs_unique(v, 1) == 1);
}

static void test_cmp(void)
{
	struct disc_addr a = da("198.18.0.1", "a", false), b = da("198.18.0.1", "a", true);
	struct disc_addr c = da("198.18.0.1", "b", false), d = da("198.18.0.2", "a", false);

	test_assert(disc_addr_cmp(&a, &a) == 0);
	test_assert(disc_addr_cmp(&a, &b) < 0 && disc_addr_cmp(&b, &a) > 0);
	test_assert(disc_addr_cmp(&a, &c) < 0 && disc_addr_cmp(&c, &a) > 0);
	test_assert(disc_addr_cmp(&b, &c) > 0); /* a route after any address */
	test_assert(disc_addr_cmp(&c, &d) < 0);
}

int main(void)
{
	test_match();
	test_match_any();
	test_cmp();
	test_unique();
	printf("disc: all tests passed\n");
	return 0;
}
