/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses and prefixes: parsing, canonical text, ordering, containment and
 * the nft object names derived from them.  Pure: no sockets, no allocation,
 * no state of its own: class names live in the registry the caller passes. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static unsigned addr_width(int family)
{
	return family == AF_INET ? 32 : 128;
}

static unsigned addr_nbytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Value of bit i (0 = most significant) of the address. */
static int addr_bit(const uint8_t *b, unsigned i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

/* Do a and b agree on their first plen bits? */
static bool addr_same_prefix(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned whole = plen / 8, rest = plen % 8;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

static bool addr_host_bits_clear(const struct addr *a)
{
	unsigned i;

	for (i = a->plen; i < addr_width(a->family); i++)
		if (addr_bit(a->bytes, i))
			return false;
	return true;
}

/* Strict decimal: digits only, no sign or blanks, no leading zeros except a
 * lone "0", so that each length has exactly one spelling. */
static int addr_parse_plen(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s), i;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int addr_fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int addr_parse(const char *s, struct addr *out, const char **why)
{
	char text[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct addr a = { 0 };
	unsigned plen;

	if (alen == 0 || alen >= sizeof(text))
		return addr_fail(why, "bad address");
	memcpy(text, s, alen);
	text[alen] = '\0';
	a.family = memchr(text, ':', alen) ? AF_INET6 : AF_INET;
	if (inet_pton(a.family, text, a.bytes) != 1)
		return addr_fail(why, "bad address");
	plen = addr_width(a.family);
	if (slash && addr_parse_plen(slash + 1, plen, &plen) < 0)
		return addr_fail(why, "bad prefix length");
	a.plen = (uint8_t)plen;
	if (!addr_host_bits_clear(&a))
		return addr_fail(why, "host bits set in prefix");
	*out = a;
	return 0;
}

bool addr_is_host(const struct addr *a)
{
	return a->plen == addr_width(a->family);
}

/* Dotted decimal as inet_ntop writes it, without its sprintf: a dump
 * formats every address it prints. */
static size_t addr_format4(const uint8_t *b, char *buf)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (i)
			buf[n++] = '.';
		if (v >= 100)
			buf[n++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[n++] = (char)('0' + v / 10 % 10);
		buf[n++] = (char)('0' + v % 10);
	}
	buf[n] = '\0';
	return n;
}

char *addr_format(const struct addr *a, char *buf)
{
	size_t n;

	if (a->family == AF_INET)
		addr_format4(a->bytes, buf);
	else if (!inet_ntop(a->family, a->bytes, buf, ADDR_STRLEN)) {
		/* Only a corrupt struct gets here; keep the output a string. */
		strcpy(buf, "?");
		return buf;
	}
	if (!addr_is_host(a)) {
		n = strlen(buf);
		snprintf(buf + n, ADDR_STRLEN - n, "/%u", a->plen);
	}
	return buf;
}

bool addr_class_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > ADDR_CLASS_NAMELEN || name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return false;
	return true;
}

void addr_names_init(struct addr_names *an)
{
	memset(an, 0, sizeof(*an));
}

int addr_names_id(struct addr_names *an, const char *name)
{
	if (!*name)
		return 0;
	if (!addr_class_name_ok(name))
		return -1;
	for (unsigned i = 1; i <= an->n; i++)
		if (strcmp(an->v[i], name) == 0)
			return (int)i;
	if (an->n + 1 == ADDR_CLASS_REGISTRY)
		return -1;
	strcpy(an->v[++an->n], name);
	return (int)an->n;
}

unsigned addr_names_count(const struct addr_names *an)
{
	return an->n + 1;
}

const char *addr_names_name(const struct addr_names *an, unsigned cls)
{
	if (cls == 0)
		return "";
	return cls <= an->n ? an->v[cls] : "?";
}

void addr_names_on(struct addr_names *an, const char *default_name)
{
	snprintf(an->dflt, sizeof(an->dflt), "%s", default_name);
}

const char *addr_names_label(const struct addr_names *an, unsigned cls)
{
	if (!an->dflt[0])
		return NULL;
	return cls ? addr_names_name(an, cls) : an->dflt;
}

int addr_cmp(const struct addr *a, const struct addr *b)
{
	uint64_t x, y;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	/* the bytes as two big-endian numbers: what memcmp does, inlined
	 * (this compares in every sort and search of 100,000 targets) */
	for (int i = 0; i < 16; i += 8) {
		memcpy(&x, a->bytes + i, 8);
		memcpy(&y, b->bytes + i, 8);
		if (x != y)
			return be64toh(x) < be64toh(y) ? -1 : 1;
	}
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	return 0;
}

bool addr_overlaps(const struct addr *a, const struct addr *b)
{
	unsigned plen = a->plen < b->plen ? a->plen : b->plen;

	return a->family == b->family &&
	       addr_same_prefix(a->bytes, b->bytes, plen);
}

/* Works for any h, host or prefix: true when h lies wholly inside a. */
bool addr_contains(const struct addr *a, const struct addr *h)
{
	return a->family == h->family && h->plen >= a->plen &&
	       addr_same_prefix(a->bytes, h->bytes, a->plen);
}

static const char *addr_dir_prefix(int family, enum addr_dir dir)
{
	if (family == AF_INET)
		return dir == ADDR_IN ? "in4" : "out4";
	return dir == ADDR_IN ? "in6" : "out6";
}

char *addr_counter_name(const struct addr_names *an, const struct addr *a, enum addr_dir dir,
			char *buf)
{
	static const char hex[] = "0123456789abcdef";
	const char *head = addr_dir_prefix(a->family, dir);
	unsigned nb = addr_nbytes(a->family);
	size_t n = strlen(head);

	/* Formatted by hand: this runs twice per address on every read. */
	memcpy(buf, head, n);
	buf[n++] = '_';
	for (unsigned i = 0; i < nb; i++) {
		buf[n++] = hex[a->bytes[i] >> 4];
		buf[n++] = hex[a->bytes[i] & 15];
	}
	buf[n] = 0;
	if (!addr_is_host(a))
		n += (size_t)snprintf(buf + n, ADDR_NAMELEN - n, "_%u", a->plen);
	if (a->cls)
		snprintf(buf + n, ADDR_NAMELEN - n, "_%s", addr_names_name(an, a->cls));
	return buf;
}

static int addr_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is never generated, so it is not ours */
}

/* Parse the "in4_" ... "out6_" head; returns the rest of the name or NULL. */
static const char *addr_name_head(const char *name, struct addr *a,
				  enum addr_dir *dir)
{
	static const struct {
		const char *head;
		uint8_t family;
		enum addr_dir dir;
	} heads[] = {
		{ "in4_", AF_INET, ADDR_IN }, { "out4_", AF_INET, ADDR_OUT },
		{ "in6_", AF_INET6, ADDR_IN }, { "out6_", AF_INET6, ADDR_OUT },
	};
	size_t i, n;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		n = strlen(heads[i].head);
		if (strncmp(name, heads[i].head, n) == 0) {
			a->family = heads[i].family;
			*dir = heads[i].dir;
			return name + n;
		}
	}
	return NULL;
}

int addr_from_counter_name(struct addr_names *an, const char *name, struct addr *out,
			   enum addr_dir *dir)
{
	struct addr a = { 0 };
	enum addr_dir d;
	const char *p = addr_name_head(name, &a, &d);
	unsigned i, nb, plen;
	int hi, lo;

	if (!p)
		return -EINVAL;
	nb = addr_nbytes(a.family);
	for (i = 0; i < nb; i++, p += 2) {
		hi = addr_hexval(p[0]);
		lo = hi < 0 ? -1 : addr_hexval(p[1]);
		if (lo < 0)
			return -EINVAL;
		a.bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	plen = addr_width(a.family);
	if (p[0] == '_' && p[1] >= '0' && p[1] <= '9') {
		char digits[4];
		size_t k = strspn(p + 1, "0123456789");

		/* Hosts never carry a suffix, so "_32"/"_128" is not ours. */
		if (k >= sizeof(digits))
			return -EINVAL;
		memcpy(digits, p + 1, k);
		digits[k] = '\0';
		if (addr_parse_plen(digits, plen - 1, &plen) < 0)
			return -EINVAL;
		p += 1 + k;
	}
	if (p[0] == '_') {
		int cls = addr_names_id(an, p + 1);

		if (cls <= 0)
			return -EINVAL;
		a.cls = (uint8_t)cls;
	} else if (*p != '\0') {
		return -EINVAL;
	}
	a.plen = (uint8_t)plen;
	if (!addr_host_bits_clear(&a))
		return -EINVAL;
	*out = a;
	if (dir)
		*dir = d;
	return 0;
}

unsigned addr_map_index(const struct addr *a, enum addr_dir dir)
{
	return (dir == ADDR_OUT) + 2u * (a->family == AF_INET6) + 4u * !addr_is_host(a);
}

char *addr_map_name_at(const struct addr_names *an, unsigned m, unsigned cls, char *buf)
{
	static const char *const names[ADDR_MAPS] = {
		"in4", "out4", "in6", "out6", "in4net", "out4net", "in6net", "out6net",
	};

	snprintf(buf, ADDR_MAPNAMELEN, "%s%s%s", names[m % ADDR_MAPS], cls ? "_" : "",
		 cls ? addr_names_name(an, cls) : "");
	return buf;
}

char *addr_map_name(const struct addr_names *an, const struct addr *a, enum addr_dir dir,
		    char *buf)
{
	return addr_map_name_at(an, addr_map_index(a, dir), a->cls, buf);
}

bool addr_prefix_end(const struct addr *a, uint8_t next[16])
{
	unsigned carry, i;
	int byte;

	memcpy(next, a->bytes, 16);
	if (a->plen == 0)
		return false;
	/* Add 1 at the last bit of the prefix and carry towards byte 0. */
	i = a->plen - 1u;
	carry = 1u << (7 - i % 8);
	for (byte = (int)(i / 8); byte >= 0 && carry; byte--) {
		carry += next[byte];
		next[byte] = (uint8_t)carry;
		carry >>= 8;
	}
	return carry == 0;
}
