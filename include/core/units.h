/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Amounts of bytes and rates as people write them ("500GB", "2TiB",
 * "10mbit") and as reports show them: exact integer arithmetic throughout. */
#ifndef NFTALLY_UNITS_H
#define NFTALLY_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* "500GB", "2TiB", "1.5 TB", "123" (bytes): decimal k M G T P E (1000^n)
 * and binary Ki Mi Gi Ti Pi Ei (1024^n), B optional, the prefix letter in
 * either case ("kB" and "KB" both 1000).  A lowercase "b" is refused (bits
 * are not bytes).  A fraction must come to a whole number of bytes ("1.5 kB"
 * is 1500; "1.0001 kB" is refused).  0; -EINVAL (e names what is wrong);
 * -ERANGE with e set when the value does not fit in uint64. */
int units_parse_bytes(const char *s, uint64_t *out, struct err *e);

/* Rates for throttle: NUMBER[ ][PREFIX](bit|bits|byte|bytes|B)[/s], e.g.
 * "10mbit", "100kbit", "1gbit", "5mbytes", "2MiB/s" -> bytes per second
 * (bits divided by 8, rounded down; a rate below 1 byte/s is refused).
 * Prefixes as units_parse_bytes, either case.  0, -EINVAL or -ERANGE with
 * e set. */
int units_parse_rate(const char *s, uint64_t *bytes_per_s, struct err *e);

/* Format v in unit u: "bytes" (the exact integer, no suffix), "kB", "MB",
 * "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB" (three decimals,
 * rounded half up, then a space and the unit: "1.500 GB"), "auto-dec" or
 * "auto-bin" (the largest unit of that kind not above v; below 1000 or
 * 1024: "123 B").  0; -EINVAL for an unknown u; -ENOSPC when buf (len
 * bytes) is too small (buf then holds a truncated string if len > 0). */
int units_format(uint64_t v, const char *u, char *buf, size_t len);

/* Is u a unit units_format knows?  1 or 0. */
int units_known(const char *u);

#endif
