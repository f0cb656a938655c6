/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `nftally import-ipset`: the output of `ipset save` as a targets file. */
#ifndef NFTALLY_IPSET_H
#define NFTALLY_IPSET_H

#include <stdio.h>

#include "err.h"

/* Read `ipset save` text buf (named `name` in messages) and write to out a
 * targets file with one line per member of the address sets (hash:ip,
 * hash:net, bitmap:ip): LABEL ADDRESS, LABEL being the member's comment
 * (blanks made '_') or else the set's name.  sets (nsets > 0) names the
 * sets to import; otherwise every address set is, and other sets are
 * skipped with a note on warn.  Errors "NAME:LINE: ..." (also for what the
 * targets file would refuse, such as an address in two sets); nothing is
 * written then. */
int ipset_import(const char *buf, size_t len, const char *name, const char *const *sets,
		 size_t nsets, FILE *out, FILE *warn, struct err *e);

#endif
