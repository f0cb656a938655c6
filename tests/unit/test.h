/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The whole unit-test framework: an assertion that names file and line. */
#ifndef NFTALLY_TEST_H
#define NFTALLY_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define test_assert(cond)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: %s: assertion failed: %s\n",  \
				__FILE__, __LINE__, __func__, #cond);        \
			abort();                                             \
		}                                                            \
	} while (0)

#define test_streq(a, b)                                                     \
	do {                                                                 \
		const char *sa_ = (a), *sb_ = (b);                           \
		if (strcmp(sa_, sb_) != 0) {                                 \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n",      \
				__FILE__, __LINE__, __func__, sa_, sb_);     \
			abort();                                             \
		}                                                            \
	} while (0)

#endif
