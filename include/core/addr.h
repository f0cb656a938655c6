/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses and prefixes as nftally counts them: parsing, canonical text,
 * ordering, overlap, and the nft object names derived from them.  Pure: no
 * sockets, no allocation; class names come from a registry the caller
 * passes (struct addr_names). */
#ifndef NFTALLY_ADDR_H
#define NFTALLY_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address or prefix.  Host bits below plen are always zero.
 * A host address has plen 32 (IPv4) or 128 (IPv6). */
struct addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t bytes[16]; /* network byte order; IPv4 uses bytes[0..3], rest 0 */
	uint8_t cls;    /* network class of the counted traffic (addr_names_name);
			 * 0 = the default class.  Never part of the text. */
};

/* Longest canonical text: an IPv6 address plus "/128" and a NUL. */
#define ADDR_STRLEN 56
/* Longest counter name, NUL included ("out6_" + 32 hex + "_128" + "_" +
 * a class name). */
#define ADDR_CLASS_NAMELEN 16
#define ADDR_NAMELEN (48 + 1 + ADDR_CLASS_NAMELEN)
/* Network classes besides the default one (class numbers 1 to this). */
#define ADDR_CLASSES_MAX 16
/* Class names one registry holds (struct addr_names). */
#define ADDR_CLASS_REGISTRY 64

enum addr_dir { ADDR_IN = 0, ADDR_OUT = 1 };

/* Parse "A", "A/LEN" for IPv4 or IPv6 A.  Rejects host bits set under the
 * prefix, lengths out of range or with leading '+'/'-'/spaces, and anything
 * inet_pton rejects.  On error returns -EINVAL and, if why is not NULL, sets
 * *why to a short static reason ("bad address", "bad prefix length",
 * "host bits set in prefix"). */
int addr_parse(const char *s, struct addr *out, const char **why);

/* Host address (plen == 32 or 128)? */
bool addr_is_host(const struct addr *a);

/* Canonical text: inet_ntop form, "/LEN" only for prefixes.  buf must hold
 * ADDR_STRLEN bytes. Returns buf. */
char *addr_format(const struct addr *a, char *buf);

/* Network classes.  Class 0 is the default class; its counters and maps keep
 * the names they have without classes.  Names: [a-z][a-z0-9_]*, at most
 * ADDR_CLASS_NAMELEN bytes. */
bool addr_class_name_ok(const char *name);

/* The class names an account knows, by number: the configured ones and
 * those met in counter names or state files (a class that was removed from
 * the config).  A value its owner passes to whatever formats or parses
 * names: two accounts may number classes differently.  A zeroed one is
 * empty (class 0 only, no classes configured). */
struct addr_names {
	char v[ADDR_CLASS_REGISTRY][ADDR_CLASS_NAMELEN + 1]; /* [0] unused: "" */
	unsigned n;   /* classes besides the default one */
	char dflt[ADDR_CLASS_NAMELEN + 1]; /* the default's label, "" if none */
};
void addr_names_init(struct addr_names *an);
/* The number of `name` in an (registered if new; 0 for the default class's
 * name ""), or -1 if the name is bad or an is full. */
int addr_names_id(struct addr_names *an, const char *name);
/* How many class numbers are in use (the default class included). */
unsigned addr_names_count(const struct addr_names *an);
/* The name of class number cls ("" for 0, "?" for a number not in use). */
const char *addr_names_name(const struct addr_names *an, unsigned cls);
/* Classes are configured: output names class 0 `default_name`. */
void addr_names_on(struct addr_names *an, const char *default_name);
/* The class of counted traffic as output shows it: NULL without classes,
 * else the class's name (the default class's for 0). */
const char *addr_names_label(const struct addr_names *an, unsigned cls);

/* Total order: family, then address bytes, then plen, then class.
 * memcmp-like result. */
int addr_cmp(const struct addr *a, const struct addr *b);

/* Do a and b (same family) share at least one address? */
bool addr_overlaps(const struct addr *a, const struct addr *b);

/* Does a (host or prefix) contain address h (a host)? */
bool addr_contains(const struct addr *a, const struct addr *h);

/* The nft object name for the counter of direction dir of a (class names
 * from an):
 *   in4_c6120001, out4_c6120400_24, in6_20010db8000000000000000000000001,
 *   in4_c6120001_national (class "national"), ...
 * Only [a-z0-9_], so it is safe for the nft lexer; labels never appear in it.
 * buf must hold ADDR_NAMELEN bytes.  Returns buf. */
char *addr_counter_name(const struct addr_names *an, const struct addr *a, enum addr_dir dir,
			char *buf);

/* Inverse of addr_counter_name; a class name new to an is registered in it.
 * Returns 0, or -EINVAL if name is not one nftally would have made. */
int addr_from_counter_name(struct addr_names *an, const char *name, struct addr *out,
			   enum addr_dir *dir);

/* The maps nftally fills, ADDR_MAPS per class: number m is
 * out + 2 * IPv6 + 4 * prefix, that is in4 out4 in6 out6 in4net out4net
 * in6net out6net; a class other than the default adds "_CLASS". */
#define ADDR_MAPS 8
#define ADDR_MAPNAMELEN (sizeof("out6net_") + ADDR_CLASS_NAMELEN)
/* The number of the map that holds a's element for direction dir. */
unsigned addr_map_index(const struct addr *a, enum addr_dir dir);
/* The name of map m of class cls in buf (ADDR_MAPNAMELEN bytes); an may
 * be NULL for class 0. */
char *addr_map_name_at(const struct addr_names *an, unsigned m, unsigned cls, char *buf);

/* Name of the map that holds a's element for direction dir, in buf
 * (ADDR_MAPNAMELEN bytes): "in4", "out4", "in6", "out6" for hosts,
 * "in4net", ... for prefixes; with "_CLASS" appended for a class other
 * than the default.  Returns buf. */
char *addr_map_name(const struct addr_names *an, const struct addr *a, enum addr_dir dir,
		    char *buf);

/* For a prefix: the first address after it, as nft interval maps need for the
 * end element.  Returns false when the prefix reaches the end of the address
 * space (no end element then). */
bool addr_prefix_end(const struct addr *a, uint8_t next[16]);

#endif
