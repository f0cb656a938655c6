/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classes file (config `classes`): network classes of peer addresses.
 * One class per line, `NAME PREFIX [PREFIX ...]`, '#' comments, a name may
 * come back on later lines; the order of first appearance is the order in
 * which classes match (first match wins).  Pure. */
#ifndef NFTALLY_CLASSES_H
#define NFTALLY_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"

/* A stretch of addresses [lo, hi] (inclusive) whose peers count in class
 * cls (a number in the classes' registry). */
struct class_range {
	uint8_t family;
	uint8_t cls;
	uint8_t lo[16], hi[16];
};

struct classes {
	char names[ADDR_CLASSES_MAX][ADDR_CLASS_NAMELEN + 1]; /* in match order */
	int ids[ADDR_CLASSES_MAX]; /* their numbers in an */
	struct addr_names *an; /* the registry they are numbered in, the
				* caller's; NULL before a parse */
	size_t n;
	struct class_range *r; /* disjoint, by family then address */
	size_t nr;
};

void classes_init(struct classes *c);
void classes_finish(struct classes *c);
/* Parse; dflt is the default class's name, which the file may not use.
 * The classes are numbered in (and registered into) an, which also gets
 * dflt as its default class's label.  Errors "NAME:LINE: ..."; c is empty
 * then. */
int classes_parse_buffer(struct classes *c, struct addr_names *an, const char *name,
			 const char *buf, size_t len, const char *dflt, struct err *e);
int classes_parse_file(struct classes *c, struct addr_names *an, const char *path,
		       const char *dflt, struct err *e);

#endif
