/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What nftally has reported, kept so that a restart (clean or kill -9)
 * continues exactly where the last report ended: per address the counter
 * values up to which deltas were reported, the report sequence number, and
 * the kernel handle of the table those values came from; and its text
 * form.  Pure: no files, no paths (statedir.h keeps them on disk). */
#ifndef NFTALLY_STATE_H
#define NFTALLY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "addr.h"
#include "counts.h"
#include "err.h"
#include "strpool.h"

/* 72 bytes: a state of 1,000,000 addresses is 72 MB, and a run holds two
 * at its reports (the last one and the one being made). */
struct state_entry {
	struct addr addr;
	bool rep : 1;      /* a line was printed for it in this report */
	/* reported for the last time (its address left): nftally deletes its
	 * counters after this report, so a counter of that name met later is
	 * one nftally made again and counts from zero, silently */
	bool last : 1;
	/* the label, in the state's text (state_label): a reference of 32
	 * bits, not a pointer, so that the entry is 72 bytes and not 80 */
	uint32_t label;
	struct counts c;   /* counter values reported up to */
	/* kernel handles of the in and out counters those values were read
	 * from (0: unknown): a counter with another handle was created again
	 * and counts from zero */
	uint64_t h[2];
};

struct state {
	char table[40];
	uint64_t handle;   /* kernel handle of the table; 0 = unknown */
	/* the kernel's boot_id when handle was read ("" = unknown): handles
	 * start again in every boot and every new network namespace, so a
	 * handle of another boot says nothing */
	char boot[40];
	/* the network namespace the table is in (netns_id_format: "c:COOKIE"
	 * or "i:DEV:INO"; "" = unknown): handles start again in a new one */
	char netns[48];
	/* In an apply's record (TABLE.applied, see docs/design.md): the
	 * ruleset generation (nl_genid) right after that apply, 0 = none.
	 * Report states never have it. */
	uint64_t genid;
	/* this was the last report of a namespace that went away: nothing
	 * counted in it is left unreported */
	bool closed;
	uint64_t seq;      /* number of the report these values close */
	int64_t time;      /* when this report was made (Unix seconds) */
	int64_t base_time; /* when the values of the addresses that stay were
			    * last read (0: never; they count from creation) */
	unsigned overhead; /* bytes per packet added to the bytes of its report
			    * (config `overhead`), kept so a replay is the same */
	struct state_entry *v; /* sorted by address after state_sort */
	size_t n, cap;
	/* The labels, in blocks: a million addresses cost their bytes, not a
	 * million allocations (an apply's record labels every one "-"). */
	struct strpool text;
};

void state_init(struct state *s);
void state_finish(struct state *s);

/* The label of x, an entry of s (valid while s is). */
static inline const char *state_label(const struct state *s, const struct state_entry *x)
{
	return strpool_at(&s->text, x->label);
}

/* Append an entry (label is copied into s, once for a run of entries of
 * the same label), its handles unknown.  Returns 0 or -ENOMEM. */
int state_add(struct state *s, const struct addr *a, const char *label,
	      const struct counts *c, bool rep);
/* Append a copy of x with label (copied) instead of x->label.  Returns 0
 * or -ENOMEM. */
int state_add_entry(struct state *s, const struct state_entry *x, const char *label);
/* Room for n entries in all, so that appending that many moves nothing
 * (a record of 100,000 entries was copied over and over while it grew).
 * Returns 0 or -ENOMEM (s unchanged). */
int state_reserve(struct state *s, size_t n);
void state_sort(struct state *s);
/* Keep only the entries for which keep(x, data) is true, in their order,
 * and give back the memory of the others' slots. */
void state_filter(struct state *s, bool (*keep)(const struct state_entry *x, void *data),
		  void *data);
/* The entry for address a in a sorted state, or NULL. */
const struct state_entry *state_find(const struct state *s, const struct addr *a);

/* Where the delta of one counter starts. */
enum state_from {
	STATE_FROM_REPORTED,  /* the reported value: the same counter counted on */
	STATE_FROM_ZERO,      /* zero: a counter nftally deleted and made again
			       * (its address left and came back), silently */
	STATE_FROM_RESET,     /* zero: it went backwards (nft reset counter; or
			       * recreated, when a handle is unknown) */
	STATE_FROM_RECREATED, /* zero: another counter of that name, which
			       * someone deleted and created again */
};

/* One counter as read (cur) or as reported (base): its values and kernel
 * handle (0: unknown). */
struct state_reading {
	uint64_t bytes, packets, handle;
};

/* Where cur's delta starts against base, the reported reading of that
 * counter's name; base_last: base was its address's last report, after
 * which nftally deleted the counter.  A different handle is a different
 * counter, whatever its values; with a handle unknown only a value that
 * went backwards tells. */
enum state_from state_delta_from(const struct state_reading *cur,
				 const struct state_reading *base, bool base_last);

/* Whether the values of s were read from another table than the one with
 * this handle, in the boot with this boot id and the network namespace
 * netns (its identity; "" or NULL = unknown): a state of another boot or
 * another namespace (both give the same handles again), or one whose table
 * handle differs (both known).  A handle alone never says "the same". */
bool state_of_other_table(const struct state *s, uint64_t handle, const char *boot,
			  const char *netns);

/* Text form (see docs/design.md), with the class names of an: the text
 * names classes, an numbers them.  Returns 0 or -EIO. */
int state_format(const struct state *s, const struct addr_names *an, FILE *f);
/* Parse the text form, numbering its classes in an (a class new to an, one
 * removed from the config, is registered); errors "NAME:LINE: ..." with
 * -EINVAL. */
int state_parse_buffer(struct state *s, struct addr_names *an, const char *name,
		       const char *buf, size_t len, struct err *e);

/* The same, piece by piece, so that a file is read in blocks and never
 * held whole (a state of 1,000,000 addresses is ~60 MB of text):
 * state_parse_more with the text in order, cut anywhere, then
 * state_parse_end, which returns what state_parse_buffer would. */
#define STATE_LINE_MAX 1024 /* longer lines are damage (or a comment) */
struct state_parser {
	struct state *s;
	struct addr_names *an;
	/* if set, only the entries it keeps are kept (the others are read and
	 * dropped at once, and are not checked for being listed twice) */
	bool (*keep)(const struct state_entry *x, void *data);
	void *keep_data;
	unsigned lineno;
	bool end, v1, nul, toolong;
	int ret;
	size_t len;
	char line[STATE_LINE_MAX];
};
void state_parse_begin(struct state_parser *p, struct state *s, struct addr_names *an);
void state_parse_more(struct state_parser *p, const char *buf, size_t len);
int state_parse_end(struct state_parser *p, const char *name, struct err *e);

#endif
