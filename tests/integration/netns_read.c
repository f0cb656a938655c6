// SPDX-License-Identifier: GPL-2.0-or-later
/* A netlink handle reads the table of the network namespace it was opened
 * in, even when the thread that reads has gone back to another one, and even
 * for a read large enough to be shared among reader threads: the table
 * exists only in a namespace of the test's own; the read is made from the
 * host's namespace, which has no such table.  Needs root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <nftables/libnftables.h>

#include "addr.h"
#include "nl.h"
#include "../unit/test.h"

/* 20,000 counters + one: above the size at which reads use threads. */
#define NADDR 10000
#define MARK_PACKETS 4242

static int skip_or_fail(const char *why)
{
	const char *ci = getenv("CI");

	fprintf(stderr, "netns_read: %s\n", why);
	return ci && strcmp(ci, "true") == 0 ? 1 : 77;
}

/* The table, empty, in the calling thread's namespace (libnftables opens
 * its socket where its caller is). */
static void add_table(const char *table)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[128];

	test_assert(ctx);
	snprintf(cmd, sizeof(cmd), "add table inet %s", table);
	test_assert(nft_run_cmd_from_buffer(ctx, cmd) == 0);
	nft_ctx_free(ctx);
}

int main(void)
{
	static char names[2 * NADDR + 1][ADDR_NAMELEN];
	static const char *ptrs[2 * NADDR + 1];
	static struct nl_counter out[2 * NADDR + 1];
	char table[64];
	struct addr_names an = { 0 };
	struct nl *nl, *host;
	struct nl_batch *b;
	struct err e;
	int hostns;

	if (geteuid() != 0)
		return skip_or_fail("needs root");
	snprintf(table, sizeof(table), "nftally_nsread_%d", (int)getpid());
	hostns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	test_assert(hostns >= 0);
	if (unshare(CLONE_NEWNET) < 0)
		return skip_or_fail(strerror(errno));

	/* In namespace A: the table, its counters, one of them with a mark,
	 * and the handle under test. */
	add_table(table);
	nl = nl_create("inet", &an);
	test_assert(nl);
	b = nl_batch_create(&an, table);
	test_assert(b);
	for (unsigned i = 0; i < NADDR; i++) {
		struct addr a = { .family = AF_INET, .plen = 32,
				  .bytes = { 198, 18, (uint8_t)(i >> 8), (uint8_t)i } };

		for (int d = 0; d < 2; d++) {
			addr_counter_name(&an, &a, (enum addr_dir)d, names[2 * i + (unsigned)d]);
			test_assert(nl_batch_add_counter_of(b, &a, (enum addr_dir)d) == 0);
		}
	}
	snprintf(names[2 * NADDR], sizeof(names[0]), "mark");
	nl_batch_set_counter(b, "mark", MARK_PACKETS, false);
	test_assert(nl_batch_commit(nl, b, &e) == 0);
	nl_batch_destroy(b);

	/* Back in the host's namespace, which has no such table. */
	test_assert(setns(hostns, CLONE_NEWNET) == 0);
	host = nl_create("inet", &an);
	test_assert(host);
	test_assert(nl_table_exists(host, table, NULL) == 0);
	nl_destroy(host);

	for (size_t i = 0; i < 2 * NADDR + 1; i++)
		ptrs[i] = names[i];
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		fprintf(stderr, "netns_read: one CPU, so no reader threads: the serial path only\n");
	test_assert(nl_read_counters(nl, table, ptrs, 2 * NADDR + 1, out) == 0);
	for (size_t i = 0; i < 2 * NADDR + 1; i++) {
		if (out[i].err != 0) {
			fprintf(stderr, "counter %zu (%s): %s\n", i, names[i], strerror(-out[i].err));
			abort();
		}
		test_assert(out[i].bytes == 0);
		test_assert(out[i].packets == (i == 2 * NADDR ? MARK_PACKETS : 0));
	}
	/* The last handle on namespace A: the table goes with it. */
	nl_destroy(nl);
	close(hostns);
	printf("read %d counters of namespace A from the host's namespace\n", 2 * NADDR + 1);
	return 0;
}
