/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Turning a template from nft-templates/ into the table skeleton, and the
 * per-address counters and map elements into nft text for `nftally render`.
 * Pure: the only user-controlled text that reaches nft syntax is the table
 * name, validated by config; labels never do. */
#ifndef NFTALLY_RENDER_H
#define NFTALLY_RENDER_H

#include <stdio.h>

#include "classes.h"
#include "config.h"
#include "err.h"
#include "quota.h"
#include "targets.h"

/* A label whose enforcing quota is exceeded: its addresses are elements
 * of the enforcement sets (docs/quotas.md). */
struct render_enforced {
	const char *label;
	enum quota_action action; /* not QUOTA_ACT_NONE */
	uint32_t mark;            /* QUOTA_ACT_MARK */
	size_t rate;              /* QUOTA_ACT_THROTTLE: index into rates */
};

/* Enforcement: with `on` (some quota has an action) the generated line
 * declares the sets and the rules that act on their elements; without it,
 * nothing of it appears and the table decides nothing. */
struct render_enforce {
	bool on;
	const uint64_t *rates;    /* the throttle rates, bytes per second */
	size_t nrates;
	const struct render_enforced *v; /* sorted by label (strcmp) */
	size_t n;
};

/* What the generated part of the skeleton depends on besides the table. */
struct render_policy {
	const struct addr *exclude;  /* peers never counted */
	size_t nexclude;
	/* count only through these: exact names go into the set ifaces, a
	 * name ending in '*' (a prefix wildcard) becomes a condition of the
	 * rule, as nft 0.9.3 has no wildcards in sets; "*" is any interface */
	const char (*ifaces)[CONFIG_IFNAME_MAX + 1];
	size_t nifaces;
	const struct targets *groups; /* the targets: their groups (members do not
				       * count traffic among themselves), and the
				       * kinds of address the chains look up */
	const struct classes *classes; /* network classes of peers; NULL: none */
	const struct render_enforce *enforce; /* NULL: no quota enforces */
};

/* The skeleton: one generated line, then template text `tmpl` (named `name`
 * in messages) with @TABLE@ substituted, so that the template keeps its line
 * numbers.  The generated line declares the maps nftally fills, the chains
 * account_in and account_out that the template's base chains jump to (in:
 * the destination is the target; out: the source is), and the policy's
 * sets, emptied and refilled, so the same text serves a new and an existing
 * table.  Everything in it comes from nftally's own names and addresses it
 * parsed (in canonical form) and validated interface names; labels never
 * appear.  Unknown @PLACEHOLDER@s, a template that never mentions @TABLE@,
 * lacks counter nftally_owner or never jumps to account_in or account_out
 * are errors "NAME:LINE: ...".  On success *out is malloc'd and *family is
 * the table's family ("inet" or "bridge"). */
int render_skeleton(const char *tmpl, size_t len, const char *name,
		    const char *table, const struct render_policy *p, char **out,
		    const char **family, struct err *e);

/* The family of the template's table ("table FAMILY @TABLE@"): "inet",
 * "bridge", or NULL. */
const char *render_template_family(const char *tmpl);

/* Find the template file for config value `tmpl` (a name, looked up as
 * DIR/NAME.nft in dir or the built-in directories, or a path containing '/')
 * and read it.  *text is malloc'd. */
int render_load_template(const char *tmpl, const char *dir, char **path_out,
			 char **text, size_t *len, struct err *e);

/* The enforcement sets of en (none unless en->on): qdrop4, qmark4,
 * qthr4_K for each rate, then the same for IPv6, into names[0..max);
 * returns how many.  Their elements are not part of the skeleton: they are
 * filled through netlink (table_enforce), in proportion to what is
 * enforced, not to the table. */
size_t render_enforce_sets(const struct render_enforce *en, char (*names)[32], size_t max);

/* One element of an enforcement set: an address, and its mark in qmark*. */
struct render_member {
	struct addr a;
	uint32_t mark;
};

/* The elements of enforcement set `set` (a name render_enforce_sets gives):
 * the addresses of t (not a class's copies) whose label en holds with that
 * set's action (and rate), none inside another (a prefix covers the
 * addresses it holds), into out (room for t->n); returns how many. */
size_t render_enforce_members(const struct targets *t, const struct render_enforce *en,
			      const char *set, struct render_member *out);

/* Write nft commands that add every target's counters and map elements:
 * what `apply` sends over netlink, as text.  No labels appear. */
void render_data(FILE *f, const struct addr_names *an, const char *family, const char *table,
		 const struct targets *t);

#endif
