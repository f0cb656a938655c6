/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan of an apply: which counters and map elements to add, which
 * elements edited by hand to mend, which addresses leave and how they are
 * drained, decided from values (the targets, what the caller installed
 * before, or what the kernel's table was listed to hold).  Pure: no sockets,
 * no output; table.c reads the kernel, asks for a plan and sends it. */
#ifndef NFTALLY_PLAN_H
#define NFTALLY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "targets.h"

/* A counter of nftally's form: the counter of direction dir of addr
 * (named addr_counter_name(&addr, dir)). */
struct plan_ctr {
	struct addr addr;
	uint8_t dir; /* enum addr_dir */
};

/* An element of one of nftally's maps, as the kernel listed it. */
struct plan_elem {
	uint8_t key[16];
	uint8_t keylen;
	uint8_t map;   /* addr_map_index numbering */
	uint8_t cls;   /* the class whose map it is in */
	bool end;      /* the end element of an interval */
	bool ref_ours; /* it points at a counter of nftally's form: ref */
	struct plan_ctr ref;
	/* for the caller: which other counter it points at when !ref_ours
	 * (the plan never looks at it) */
	uint32_t other;
};

/* What the kernel's table holds, as the caller listed it (zeroed, then
 * filled with plan_listing_add_* or given arrays).  plan_resync sorts ctrs
 * in place (by address, then direction) and drops duplicates. */
struct plan_listing {
	struct plan_ctr *ctrs;
	size_t nctrs, capctrs;
	struct plan_elem *elems;
	size_t nelems, capelems;
};

/* Append one counter or element (copied).  Returns 0 or -ENOMEM. */
int plan_listing_add_ctr(struct plan_listing *l, const struct plan_ctr *c);
int plan_listing_add_elem(struct plan_listing *l, const struct plan_elem *e);
/* Free what plan_listing_add_* allocated. */
void plan_listing_finish(struct plan_listing *l);

struct plan_opts {
	/* a full resync (SIGHUP, a repair): the drain of the addresses that
	 * leave is never deferred */
	bool full;
	/* the caller can drain the addresses that leave with its next report
	 * instead of at once (an incremental reload under run) */
	bool defer;
};

/* Per target, what batch 1 adds: PLAN_CTR(dir) its counter, PLAN_ELEM(dir)
 * its map element. */
#define PLAN_CTR(dir) (1u << (dir))
#define PLAN_ELEM(dir) (4u << (dir))

/* An element that is not what nftally installs (edited by hand): batch 1
 * deletes it (with its interval's end element).  If its key is a target's,
 * the target's own element comes back through the target's PLAN_ELEM. */
struct plan_fix {
	const struct plan_elem *elem; /* in the listing */
	bool has_end;
	uint8_t end[16];
	size_t target; /* index into the targets, or PLAN_NONE */
};
#define PLAN_NONE ((size_t)-1)

/* An address whose counters are in the table without a target.  Batch 1
 * deletes its elements (elems: bit 1 << dir), which stops its counting;
 * batch 2 deletes its counters (ctrs: bit 1 << dir) after the drain. */
struct plan_leave {
	struct addr addr;
	uint8_t elems, ctrs;
};

enum plan_drain {
	PLAN_DRAIN_NONE,  /* nobody leaves */
	/* read the last values between batch 1 and batch 2, then delete
	 * the counters */
	PLAN_DRAIN_NOW,
	/* ask the caller to drain them with its next report (table_apply_opts'
	 * defer); if it cannot, as PLAN_DRAIN_NOW */
	PLAN_DRAIN_ASK,
};

struct plan {
	uint8_t *add;  /* per target (t->n): PLAN_CTR and PLAN_ELEM bits */
	size_t added;  /* targets with at least one new counter */
	struct plan_fix *fix;
	size_t nfix;
	struct plan_leave *leave; /* in address order */
	size_t nleave;
	enum plan_drain drain;
};

/* An empty plan; plan_finish releases one (also an empty or failed one). */
void plan_init(struct plan *p);
void plan_finish(struct plan *p);

/* From what the caller installed (prev) to t, both sorted (a new table:
 * prev empty), in one merge walk.  Returns 0 or -ENOMEM (p then holds
 * nothing to send). */
int plan_diff(struct plan *p, const struct targets *t, const struct targets *prev,
	      const struct plan_opts *o);

/* From the kernel's listing l to t (sorted): a target gets the counters it
 * lacks and an element where no right one points at its counter; an
 * element is right if its key is a target's and it points at that target's
 * counter, or if it points at the counter named after its own key (an
 * address that left); others are fixes.  Counters of nftally's form without
 * a target leave.  Linear after sorting l->ctrs.  Returns 0 or -ENOMEM. */
int plan_resync(struct plan *p, const struct targets *t, struct plan_listing *l,
		const struct plan_opts *o);

/* Whether one object dump of the table's counters is cheaper than reading
 * them by name (dumps are quadratic in the number of objects). */
bool plan_dump_counters(size_t ntargets, size_t nknown);

/* The counters to read by name when they are not dumped: both of every
 * target, of every known address (reported before, maybe left) and of
 * every address of hint (what the last apply installed, sorted; may be
 * NULL) that is no target, each address once, and those that listed
 * elements of nftally's form point at (maybe of an address to drain).
 * *out is malloc'd (caller frees), with duplicates only where harmless
 * (an element's counter named twice).  Returns 0 or -ENOMEM. */
int plan_candidates(const struct targets *t, const struct addr *known, size_t nknown,
		    const struct targets *hint, const struct plan_elem *elems, size_t nelems,
		    struct plan_ctr **out, size_t *n);

#endif
