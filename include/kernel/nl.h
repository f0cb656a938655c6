/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Talking to nf_tables over netlink with libnftnl and libmnl: reading named
 * counters by name (pipelined, linear in their number), listing what a table
 * holds, and sending batches of counter and map-element changes as one atomic
 * transaction.  Every handle is a value: a struct nl carries the family of
 * its table (inet or bridge) and its sockets, all opened by nl_create in
 * the network namespace of the thread that called it; nothing is global. */
#ifndef NFTALLY_NL_H
#define NFTALLY_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"

struct nl;

/* Open and bind the netfilter netlink sockets of a handle for tables of
 * `family` ("inet" or "bridge"; anything else is inet), with buffers sized
 * for large batches: one, and on a machine of several CPUs one more per
 * reader thread of large reads; an numbers the classes in the names of
 * the table's counters and maps.  They belong to the network namespace of
 * the calling thread, whatever namespace the thread is in when it later
 * uses the handle.  Returns NULL with errno set. */
struct nl *nl_create(const char *family, struct addr_names *an);
void nl_destroy(struct nl *nl);

/* The class names of the table's counters and maps (the caller's, given to
 * nl_create, for the handle's life). */
struct addr_names *nl_names(const struct nl *nl);

/* The family of nl's table for everything below: "inet" or "bridge". */
void nl_set_family(struct nl *nl, const char *family);
const char *nl_family_name(const struct nl *nl);

/* "FAMILY TABLE" for messages, in storage of the caller's: the value lives
 * until the end of the full expression, as in
 * err_set(e, "table %s ...", nl_table_desc(nl, table).s). */
struct nl_desc {
	char s[64]; /* table names are at most 32 bytes (CONFIG_TABLE_MAX) */
};
struct nl_desc nl_table_desc(const struct nl *nl, const char *table);

/* 1 if table exists, 0 if not, negative errno on failure (-EPERM without
 * CAP_NET_ADMIN).  If handle is not NULL it gets the table's kernel handle
 * (unique per creation of a table in a network namespace; 0 if unknown). */
int nl_table_exists(struct nl *nl, const char *table, uint64_t *handle);

/* The ruleset generation of the handle's network namespace: the kernel
 * counts it up by one for every transaction committed there, whoever sends
 * it.  An unchanged generation means an unchanged ruleset.  0 or a negative
 * errno. */
int nl_genid(struct nl *nl, uint32_t *id);

struct nl_counter {
	uint64_t packets;
	uint64_t bytes;
	/* the object's kernel handle: unique per creation of a counter in a
	 * table, so a counter deleted and created again has another (0 if the
	 * kernel did not say) */
	uint64_t handle;
	int err; /* 0, or negative errno for this counter (-ENOENT: missing) */
};

/* Read n named counters of table by name, pipelining the requests.  out[i]
 * gets names[i]'s values or its error.  Returns 0 if the exchange worked
 * (individual counters may still carry err), negative errno otherwise. */
int nl_read_counters(struct nl *nl, const char *table,
		     const char *const *names, size_t n, struct nl_counter *out);

typedef int (*nl_name_cb)(const char *name, void *data);

/* Call cb for the name of every counter object in table (a kernel dump).
 * A non-zero return from cb stops and is returned. */
int nl_list_counters(struct nl *nl, const char *table, nl_name_cb cb, void *data);

/* An element of a map as the kernel lists it. */
struct nl_map_elem {
	uint8_t key[16];
	uint32_t keylen;
	bool end;        /* the end element of an interval */
	const char *ref; /* the counter it points at, or NULL */
};
typedef int (*nl_elem_cb)(const struct nl_map_elem *e, void *data);

/* Call cb for every element of map `set` in table (an element dump).  A
 * non-zero return from cb stops and is returned. */
int nl_list_map_elems(struct nl *nl, const char *table, const char *set,
		      nl_elem_cb cb, void *data);

/* Map elements read by key: request i < n asks map `set` for the element
 * of key[0..keylen) (key() says which), and cb gets i and what the kernel
 * holds (NULL: no such element, or no such map).  In an interval map that
 * is the interval holding the key, whose start may be another key.  A
 * non-zero return from cb stops and is returned.  Pipelined requests, no
 * dump: linear in n (an element dump is quadratic in the map's size).
 * Large reads are shared among threads, as nl_read_counters': cb must be
 * safe to call from several threads at once. */
struct nl_elem_keys {
	size_t n;
	void (*key)(size_t i, char set[ADDR_MAPNAMELEN], uint8_t key[16], size_t *keylen,
		    void *data);
	int (*cb)(size_t i, const struct nl_map_elem *e, void *data);
	void *data;
};
int nl_get_map_elems(struct nl *nl, const char *table, const struct nl_elem_keys *k);

/* 1 if table has a set (or map) named set, 0 if not, or a negative errno. */
int nl_set_exists(struct nl *nl, const char *table, const char *set);

/* A table's skeleton (chains, sets, objects, rules, and the elements of
 * its plain sets; not the elements of maps), listed through nl from a
 * table that holds little: one that libnftables built in a scratch
 * network namespace.  -EOPNOTSUPP if it has what nl_skel_put cannot copy
 * (anonymous sets, bound to their rules). */
struct nl_skel;
int nl_skel_take(struct nl *nl, const char *table, struct nl_skel **out);
/* Into table through nl, in one transaction: delete every rule of the
 * table, add the skeleton's chains, sets and objects (those that exist
 * stay as they are, with their counters and map elements), empty each
 * plain set and add its elements, then append the rules in order.  On
 * failure e says why and nothing changed. */
int nl_skel_put(struct nl *nl, const char *table, const struct nl_skel *s, struct err *e);
void nl_skel_free(struct nl_skel *s);

/* A batch of changes, sent as one transaction by nl_batch_commit (in the
 * family of the nl it is committed through).  Whatever
 * order calls come in, the batch runs: the set counter, counter adds,
 * element deletes, element adds, counter deletes, table delete. */
struct nl_batch;

/* The batch formats and parses counter and map names with class names
 * from an (the caller's, for the batch's life). */
struct nl_batch *nl_batch_create(struct addr_names *an, const char *table);
void nl_batch_destroy(struct nl_batch *b);
int nl_batch_add_counter(struct nl_batch *b, const char *name);
/* The counter of a's direction dir (named addr_counter_name(an, a, dir)). */
int nl_batch_add_counter_of(struct nl_batch *b, const struct addr *a, enum addr_dir dir);
int nl_batch_del_counter_of(struct nl_batch *b, const struct addr *a, enum addr_dir dir);
int nl_batch_del_counter(struct nl_batch *b, const char *name);
/* The element mapping a (in the map addr_map_name(an, a, dir)) to its counter. */
int nl_batch_add_elem(struct nl_batch *b, const struct addr *a, enum addr_dir dir);
int nl_batch_del_elem(struct nl_batch *b, const struct addr *a, enum addr_dir dir);
/* Instead of nl_batch_add_elem: both elements of each of the n addresses
 * at first, each stride bytes after the last (a member of the caller's
 * array of structs, which must stay until the commit): not copied, for a
 * refill of every target (20 MB of copies at 1,000,000). */
void nl_batch_add_elems_of(struct nl_batch *b, const struct addr *first, size_t stride,
			   size_t n);
/* The element of map number `map` (addr_map_name_at) of class cls whose key
 * is key[0..keylen), whatever it points at; in an interval map also its end
 * element `end` (NULL if the interval has none). */
int nl_batch_del_elem_at(struct nl_batch *b, unsigned map, unsigned cls, const uint8_t *key,
			 size_t keylen, const uint8_t *end);
/* Before anything else: (delete, if replace, and) create counter `name`
 * holding `packets` packets.  nftally keeps small facts in such counters. */
void nl_batch_set_counter(struct nl_batch *b, const char *name, uint64_t packets,
			  bool replace);
void nl_batch_del_table(struct nl_batch *b);
/* Before the element deletes and adds: empty map `set` (its elements
 * are then exactly those the batch adds).  Copied.  A batch that empties
 * maps and deletes no element by itself (a refill) is sent as several
 * transactions: the counter adds, then each emptied map with its
 * elements, so that no map is ever seen empty and only one map's
 * messages are in memory at a time. */
int nl_batch_flush_map(struct nl_batch *b, const char *set);
/* After the counters' changes: empty interval set `set` and put the
 * addresses v[0..n) in it (each with data[i], for a map of u32 such as
 * marks; data NULL for a set).  The addresses must not overlap.  Copied. */
int nl_batch_fill_set(struct nl_batch *b, const char *set, const struct addr *v,
		      const uint32_t *data, size_t n);
/* After the fills: delete set `set` (one per batch; no rule may use it). */
int nl_batch_del_set(struct nl_batch *b, const char *set);
bool nl_batch_empty(const struct nl_batch *b);
/* Send the batch as many transactions of a few thousand changes, in order,
 * instead of one: for filling a table nobody else relies on yet (the
 * kernel's hash tables resize between transactions, not inside one). */
void nl_batch_split(struct nl_batch *b);

/* Send the batch; wait for the kernel's verdict.  On failure returns a
 * negative errno and describes it in e; the kernel applied nothing (of a
 * split batch or a refill: nothing from the refused transaction on). */
int nl_batch_commit(struct nl *nl, struct nl_batch *b, struct err *e);

#endif
