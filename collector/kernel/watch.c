// SPDX-License-Identifier: GPL-2.0-or-later
/* Noticing at once that our table was deleted or recreated: nf_tables
 * multicasts every change of the ruleset to the group NFNLGRP_NFTABLES.
 * Waiting for the next interval boundary instead would lose the traffic
 * from the deletion to that boundary, on top of what went with the table.
 * Every element change is a notification too, so reading them must stay
 * cheap: only the message type and, for tables, the name are looked at. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "watch.h"

/* Datagrams read per watch_drain: a flood caused by someone else (a big
 * apply into another table) must not keep the poll loop from its timer. */
#define WATCH_BURST 1024
/* Room for one datagram: the kernel packs notifications into skbs of at
 * most a few pages. */
#define WATCH_BUF 65536
/* Not in the uapi headers of older systems; kernels since 6.3 know the
 * `destroy table` command.  Treated like a deletion, to be safe. */
#define WATCH_MSG_DESTROYTABLE 26

struct watch {
	struct mnl_socket *sock;
	int family; /* NFPROTO_INET or NFPROTO_BRIDGE */
	char table[256];
	char *buf;
};

static int watch_membership(struct watch *w, int opt)
{
	int group = NFNLGRP_NFTABLES;

	return mnl_socket_setsockopt(w->sock, opt, &group, sizeof(group)) < 0 ? -errno : 0;
}

struct watch *watch_create(const char *family, const char *table)
{
	struct watch *w = calloc(1, sizeof(*w));
	int saved;

	if (!w)
		return NULL;
	w->family = strcmp(family, "bridge") == 0 ? NFPROTO_BRIDGE : NFPROTO_INET;
	snprintf(w->table, sizeof(w->table), "%s", table);
	w->buf = malloc(WATCH_BUF);
	if (!w->buf)
		goto fail;
	w->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->sock || mnl_socket_bind(w->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	errno = -watch_membership(w, NETLINK_ADD_MEMBERSHIP);
	if (errno)
		goto fail;
	return w;
fail:
	saved = errno;
	watch_destroy(w);
	errno = saved;
	return NULL;
}

void watch_destroy(struct watch *w)
{
	if (!w)
		return;
	if (w->sock)
		mnl_socket_close(w->sock);
	free(w->buf);
	free(w);
}

int watch_fd(const struct watch *w)
{
	return mnl_socket_get_fd(w->sock);
}

static int watch_name_cb(const struct nlattr *attr, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*name = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

/* Does this notification create or delete our table? */
static bool watch_concerns(const struct nlmsghdr *nlh, const void *data)
{
	const struct watch *w = data;
	const struct nfgenmsg *g;
	const char *name = NULL;
	unsigned msg;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (msg != NFT_MSG_NEWTABLE && msg != NFT_MSG_DELTABLE && msg != WATCH_MSG_DESTROYTABLE)
		return false;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
		return true; /* cannot tell: look */
	g = mnl_nlmsg_get_payload(nlh);
	if (g->nfgen_family != w->family)
		return false;
	mnl_attr_parse(nlh, sizeof(*g), watch_name_cb, &name);
	return !name || strcmp(name, w->table) == 0;
}

int watch_read(int fd, char *buf, size_t len, unsigned burst,
	       bool (*concerns)(const struct nlmsghdr *nlh, const void *data), const void *data)
{
	int hit = 0;

	for (unsigned i = 0; i < burst; i++) {
		ssize_t n = recv(fd, buf, len, MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return hit;
		if (n < 0 && errno == ENOBUFS) {
			hit = 1; /* some were dropped: the caller's may be among them */
			continue;
		}
		if (n < 0)
			return -errno;
		if ((size_t)n > len) {
			hit = 1; /* truncated: cannot tell */
			continue;
		}
		int left = (int)n;

		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)(void *)buf;
		     !hit && mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			hit = concerns(nlh, data);
	}
	return hit;
}

int watch_drain(struct watch *w)
{
	return watch_read(mnl_socket_get_fd(w->sock), w->buf, WATCH_BUF, WATCH_BURST,
			  watch_concerns, w);
}

int watch_pause(struct watch *w)
{
	return watch_membership(w, NETLINK_DROP_MEMBERSHIP);
}

int watch_resume(struct watch *w)
{
	return watch_membership(w, NETLINK_ADD_MEMBERSHIP);
}
