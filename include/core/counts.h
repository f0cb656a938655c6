/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The four numbers every layer speaks of: bytes and packets per direction,
 * as a counter holds them or as a report's delta. */
#ifndef NFTALLY_COUNTS_H
#define NFTALLY_COUNTS_H

#include <stdint.h>

struct counts {
	uint64_t in_bytes, in_packets, out_bytes, out_packets;
};

/* c with `overhead` bytes added per packet (config `overhead`): the
 * link-layer bytes the kernel did not count. */
static inline struct counts counts_wire(const struct counts *c, unsigned overhead)
{
	return (struct counts){ c->in_bytes + c->in_packets * overhead, c->in_packets,
				c->out_bytes + c->out_packets * overhead, c->out_packets };
}

/* b added to a (sums over slots, hosts or classes). */
static inline void counts_add(struct counts *a, const struct counts *b)
{
	a->in_bytes += b->in_bytes;
	a->in_packets += b->in_packets;
	a->out_bytes += b->out_bytes;
	a->out_packets += b->out_packets;
}

/* Is any of the four not zero? */
static inline int counts_any(const struct counts *c)
{
	return (c->in_bytes | c->in_packets | c->out_bytes | c->out_packets) != 0;
}

#endif
