/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Turning a template from nft-templates/ into the table skeleton, and the
 * per-address counters and map elements into nft text for `nftally render`.
 * Pure: the only user-controlled text that reaches nft syntax is the table
 * name, validated by config; labels never do. */
#ifndef NFTALLY_RENDER_H
#define NFTALLY_RENDER_H

#include <stdio.h>

#include "err.h"
#include "targets.h"

/* Maps every template must define, with the key types nftally fills. */
extern const char *const render_maps[8];

/* Substitute @TABLE@ in template text `tmpl` (named `name` in messages).
 * Unknown @PLACEHOLDER@s, a template that never mentions @TABLE@, or one
 * that lacks a map nftally fills are errors "NAME:LINE: ...".  On success
 * *out is a malloc'd NUL-terminated string the caller frees. */
int render_skeleton(const char *tmpl, size_t len, const char *name,
		    const char *table, char **out, struct err *e);

/* Find the template file for config value `tmpl` (a name, looked up as
 * DIR/NAME.nft in dir or the built-in directories, or a path containing '/')
 * and read it.  *text is malloc'd. */
int render_load_template(const char *tmpl, const char *dir, char **path_out,
			 char **text, size_t *len, struct err *e);

/* Write nft commands that add every target's counters and map elements:
 * what `apply` sends over netlink, as text.  No labels appear. */
void render_data(FILE *f, const char *table, const struct targets *t);

#endif
