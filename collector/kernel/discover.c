/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Discovering an account's addresses over rtnetlink.  Two sockets of the
 * namespace: one subscribed to link, address and route notifications from
 * the moment the discovery exists, and one for dumps.  A scan answers
 * "what is there now"; any notification after it says "scan again".
 * Keeping dumps off the notifications' socket means a scan never eats a
 * notification that arrived while it ran (the caller's poll would not
 * wake for it), and a flood of notifications (ENOBUFS) never cuts into a
 * dump. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "discover.h"
#include "watch.h"

/* A dump's datagrams are at most 32 KiB, whatever the page size. */
#define DISC_BUF 32768
/* Datagrams read per disc_drain: a storm of notifications must not keep
 * the caller's loop from its timer (the socket stays readable). */
#define DISC_BURST 1024
/* Room for a burst of notifications between two polls. */
#define DISC_RCVBUF (1024 * 1024)
/* A dump not answered in this time is an error, not a hang. */
#define DISC_DUMP_TIMEOUT_S 10

struct disc_link {
	int index;
	char name[DISC_IFNAMSIZ];
};

struct disc {
	struct mnl_socket *ev;   /* notifications */
	struct mnl_socket *dump; /* requests and their answers */
	unsigned portid;
	unsigned seq;
	char (*addr_ifaces)[DISC_IFNAMSIZ];
	size_t naddr;
	char (*route_ifaces)[DISC_IFNAMSIZ];
	size_t nroute;
	struct disc_link *links; /* index -> name at the last scan, by index */
	size_t nlinks, linkcap;
	char *buf;
};

/* What a scan collects. */
struct disc_found {
	struct disc *d;
	struct disc_addr *v;
	size_t n, cap;
};

static char (*disc_copy_globs(const char (*g)[DISC_IFNAMSIZ], size_t n))[DISC_IFNAMSIZ]
{
	char (*c)[DISC_IFNAMSIZ] = calloc(n ? n : 1, DISC_IFNAMSIZ);

	for (size_t i = 0; c && i < n; i++)
		snprintf(c[i], DISC_IFNAMSIZ, "%.*s", DISC_IFNAMSIZ - 1, g[i]);
	return c;
}

static void disc_set_rcvbuf(int fd, int size)
{
	/* FORCE works as root (CAP_NET_ADMIN) past net.core.rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* The notifications' socket: non-blocking, in the groups the globs need
 * (links always: their names and their going down). */
static struct mnl_socket *disc_open_events(size_t naddr, size_t nroute)
{
	unsigned groups = RTMGRP_LINK;
	struct mnl_socket *s;

	if (naddr)
		groups |= RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (nroute)
		groups |= RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	s = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!s)
		return NULL;
	if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
		int saved = errno;

		mnl_socket_close(s);
		errno = saved;
		return NULL;
	}
	disc_set_rcvbuf(mnl_socket_get_fd(s), DISC_RCVBUF);
	return s;
}

static struct mnl_socket *disc_open_dump(void)
{
	struct timeval tv = { .tv_sec = DISC_DUMP_TIMEOUT_S };
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (!s)
		return NULL;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int saved = errno;

		mnl_socket_close(s);
		errno = saved;
		return NULL;
	}
	return s;
}

struct disc *disc_create(const char (*addr_ifaces)[DISC_IFNAMSIZ], size_t naddr,
			 const char (*route_ifaces)[DISC_IFNAMSIZ], size_t nroute, struct err *e)
{
	struct disc *d = calloc(1, sizeof(*d));
	int saved;

	if (!d) {
		err_setn(e, -ENOMEM, "out of memory");
		return NULL;
	}
	d->naddr = naddr;
	d->nroute = nroute;
	d->addr_ifaces = disc_copy_globs(addr_ifaces, naddr);
	d->route_ifaces = disc_copy_globs(route_ifaces, nroute);
	d->buf = malloc(DISC_BUF);
	if (!d->addr_ifaces || !d->route_ifaces || !d->buf) {
		errno = ENOMEM;
		goto fail;
	}
	/* Subscribed first: whatever changes from now on is notified. */
	d->ev = disc_open_events(naddr, nroute);
	if (!d->ev)
		goto fail;
	d->dump = disc_open_dump();
	if (!d->dump)
		goto fail;
	d->portid = mnl_socket_get_portid(d->dump);
	d->seq = (unsigned)time(NULL);
	return d;
fail:
	saved = errno;
	err_setn(e, -saved, "rtnetlink sockets for address discovery: %s", strerror(saved));
	disc_destroy(d);
	errno = saved;
	return NULL;
}

void disc_destroy(struct disc *d)
{
	if (!d)
		return;
	if (d->ev)
		mnl_socket_close(d->ev);
	if (d->dump)
		mnl_socket_close(d->dump);
	free(d->addr_ifaces);
	free(d->route_ifaces);
	free(d->links);
	free(d->buf);
	free(d);
}

int disc_fd(const struct disc *d)
{
	return mnl_socket_get_fd(d->ev);
}

static int disc_link_cmp(const void *a, const void *b)
{
	const struct disc_link *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

/* The name of interface index at the last scan, or NULL. */
static const char *disc_link_name(const struct disc *d, int index)
{
	struct disc_link key = { .index = index };
	const struct disc_link *l;

	if (!d->nlinks)
		return NULL;
	l = bsearch(&key, d->links, d->nlinks, sizeof(*l), disc_link_cmp);
	return l ? l->name : NULL;
}

/* Whether an interface is among globs: 1 yes, 0 no, -1 an index the last
 * scan did not know (the caller decides what that means). */
static int disc_index_match(const struct disc *d, const char (*globs)[DISC_IFNAMSIZ],
			    size_t n, int index, const char **name)
{
	*name = disc_link_name(d, index);
	if (!*name)
		return -1;
	return disc_iface_match_any(globs, n, *name);
}

/* Collect every attribute of a message by type, up to max. */
#define DISC_MAX(a, b) ((a) > (b) ? (a) : (b))
struct disc_attrs {
	const struct nlattr *tb[DISC_MAX(DISC_MAX(IFLA_MAX, IFA_MAX), RTA_MAX) + 1];
	unsigned max;
};

static int disc_attr_cb(const struct nlattr *attr, void *data)
{
	struct disc_attrs *a = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= a->max)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

static void disc_attrs_parse(const struct nlmsghdr *nlh, size_t hdrlen, unsigned max,
			     struct disc_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->max = max;
	mnl_attr_parse(nlh, hdrlen, disc_attr_cb, a);
}

/* A host address from an attribute of the family's length. */
static bool disc_host(int family, const struct nlattr *attr, struct addr *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (!attr || mnl_attr_get_payload_len(attr) != len)
		return false;
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	a->plen = (uint8_t)(len * 8);
	memcpy(a->bytes, mnl_attr_get_payload(attr), len);
	return true;
}

/* An address message (RTM_NEWADDR/RTM_DELADDR): 1 with *out set if it
 * names an address we look for, 0 if not, -1 if its interface is unknown. */
static int disc_parse_addr(const struct disc *d, const struct nlmsghdr *nlh,
			   struct disc_addr *out)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct disc_attrs at;
	const char *name;
	int m;

	if (!d->naddr || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifa))
		return 0;
	if (ifa->ifa_family == AF_INET && ifa->ifa_scope >= RT_SCOPE_HOST)
		return 0; /* 127.0.0.0/8 on lo: never on a wire */
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return 0; /* link-local, host */
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	disc_attrs_parse(nlh, sizeof(*ifa), IFA_MAX, &at);
	/* IFA_LOCAL is ours; IFA_ADDRESS is the peer's on a point-to-point
	 * link, and the only one IPv6 sends otherwise. */
	if (!disc_host(ifa->ifa_family, at.tb[IFA_LOCAL] ? at.tb[IFA_LOCAL] : at.tb[IFA_ADDRESS],
		       &out->a))
		return 0;
	m = disc_index_match(d, (const char (*)[DISC_IFNAMSIZ])d->addr_ifaces, d->naddr,
			     (int)ifa->ifa_index, &name);
	if (m == 1)
		snprintf(out->ifname, sizeof(out->ifname), "%s", name);
	out->route = false;
	return m;
}

/* The interface of a route: its RTA_OIF, else the first of its live
 * multipath next hops that matches (a next hop through a link that is down
 * is dead: no traffic takes it).  Same results as disc_parse_addr. */
static int disc_route_oif(const struct disc *d, const struct disc_attrs *at, const char **name)
{
	const char (*g)[DISC_IFNAMSIZ] = (const char (*)[DISC_IFNAMSIZ])d->route_ifaces;
	const struct rtnexthop *nh;
	int len, m, res = 0;

	if (at->tb[RTA_OIF] && mnl_attr_get_payload_len(at->tb[RTA_OIF]) == 4)
		return disc_index_match(d, g, d->nroute, (int)mnl_attr_get_u32(at->tb[RTA_OIF]),
					name);
	if (!at->tb[RTA_MULTIPATH])
		return 0; /* a nexthop object (RTA_NH_ID): no interface here */
	nh = mnl_attr_get_payload(at->tb[RTA_MULTIPATH]);
	len = (int)mnl_attr_get_payload_len(at->tb[RTA_MULTIPATH]);
	for (; RTNH_OK(nh, len); len -= (int)RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh)) {
		if (nh->rtnh_flags & RTNH_F_DEAD)
			continue;
		m = disc_index_match(d, g, d->nroute, nh->rtnh_ifindex, name);
		if (m == 1)
			return 1;
		if (m < 0)
			res = -1;
	}
	return res;
}

/* A route message: as disc_parse_addr, for host routes. */
static int disc_parse_route(const struct disc *d, const struct nlmsghdr *nlh,
			    struct disc_addr *out)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	struct disc_attrs at;
	const char *name;
	int m;

	if (!d->nroute || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*rt))
		return 0;
	if (rt->rtm_type != RTN_UNICAST || (rt->rtm_flags & (RTM_F_CLONED | RTNH_F_DEAD)))
		return 0;
	if (!(rt->rtm_family == AF_INET && rt->rtm_dst_len == 32) &&
	    !(rt->rtm_family == AF_INET6 && rt->rtm_dst_len == 128))
		return 0;
	disc_attrs_parse(nlh, sizeof(*rt), RTA_MAX, &at);
	if (!disc_host(rt->rtm_family, at.tb[RTA_DST], &out->a))
		return 0;
	m = disc_route_oif(d, &at, &name);
	if (m == 1)
		snprintf(out->ifname, sizeof(out->ifname), "%s", name);
	out->route = true;
	return m;
}

static int disc_found_add(struct disc_found *f, const struct disc_addr *a)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		struct disc_addr *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = *a;
	return 0;
}

static int disc_link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct disc *d = data;
	struct disc_attrs at;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifi))
		return MNL_CB_OK;
	disc_attrs_parse(nlh, sizeof(*ifi), IFLA_MAX, &at);
	if (!at.tb[IFLA_IFNAME] || mnl_attr_validate(at.tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	if (d->nlinks == d->linkcap) {
		size_t cap = d->linkcap ? 2 * d->linkcap : 32;
		struct disc_link *v = realloc(d->links, cap * sizeof(*v));

		if (!v) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		d->links = v;
		d->linkcap = cap;
	}
	d->links[d->nlinks].index = ifi->ifi_index;
	snprintf(d->links[d->nlinks].name, DISC_IFNAMSIZ, "%s", mnl_attr_get_str(at.tb[IFLA_IFNAME]));
	d->nlinks++;
	return MNL_CB_OK;
}

static int disc_entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct disc_found *f = data;
	struct disc_addr a = { 0 };
	int m;

	if (nlh->nlmsg_type == RTM_NEWADDR)
		m = disc_parse_addr(f->d, nlh, &a);
	else if (nlh->nlmsg_type == RTM_NEWROUTE)
		m = disc_parse_route(f->d, nlh, &a);
	else
		return MNL_CB_OK;
	/* An interface the link dump did not show was created since: its
	 * notification waits, and the scan after it will see it. */
	if (m == 1 && disc_found_add(f, &a) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* Dump one kind of object of every family and run cb on the answer.
 * NLM_F_DUMP_INTR (the objects changed in mid-dump) needs no retry here:
 * the change that interrupted the dump was notified as well. */
static int disc_dump(struct disc *d, uint16_t type, size_t hdrlen, mnl_cb_t cb, void *data)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf);
	unsigned seq = ++d->seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	/* The family byte leads all three headers: 0 is AF_UNSPEC, all. */
	mnl_nlmsg_put_extra_header(nlh, hdrlen);
	if (mnl_socket_sendto(d->dump, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(d->dump, d->buf, DISC_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		ret = mnl_cb_run(d->buf, (size_t)n, seq, d->portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static bool disc_ignore(const struct nlmsghdr *nlh, const void *data)
{
	return false;
}

/* Throw away the notifications that wait: a scan starting now shows what
 * they said (ENOBUFS included: the scan is the recovery).  What a storm
 * leaves beyond DISC_BURST only costs one more scan. */
static int disc_discard(struct disc *d)
{
	int ret = watch_read(mnl_socket_get_fd(d->ev), d->buf, DISC_BUF, DISC_BURST, disc_ignore,
			     NULL);

	return ret < 0 ? ret : 0;
}

int disc_scan(struct disc *d, struct disc_addr **v, size_t *n, struct err *e)
{
	struct disc_found f = { .d = d };
	int ret;

	*v = NULL;
	*n = 0;
	ret = disc_discard(d);
	if (ret < 0)
		return err_setn(e, ret, "reading rtnetlink notifications: %s", strerror(-ret));
	d->nlinks = 0;
	ret = disc_dump(d, RTM_GETLINK, sizeof(struct ifinfomsg), disc_link_cb, d);
	if (ret < 0) {
		d->nlinks = 0;
		return err_setn(e, ret, "listing interfaces: %s", strerror(-ret));
	}
	qsort(d->links, d->nlinks, sizeof(*d->links), disc_link_cmp);
	if (d->naddr) {
		ret = disc_dump(d, RTM_GETADDR, sizeof(struct ifaddrmsg), disc_entry_cb, &f);
		if (ret < 0) {
			err_setn(e, ret, "listing addresses: %s", strerror(-ret));
			goto fail;
		}
	}
	if (d->nroute) {
		ret = disc_dump(d, RTM_GETROUTE, sizeof(struct rtmsg), disc_entry_cb, &f);
		if (ret < 0) {
			err_setn(e, ret, "listing routes: %s", strerror(-ret));
			goto fail;
		}
	}
	*n = disc_addrs_unique(f.v, f.n);
	*v = f.v;
	if (*n == 0) {
		free(f.v);
		*v = NULL;
	}
	return 0;
fail:
	free(f.v);
	return ret;
}

static bool disc_name_concerns(const struct disc *d, const char *name)
{
	return disc_iface_match_any((const char (*)[DISC_IFNAMSIZ])d->addr_ifaces, d->naddr, name) ||
	       disc_iface_match_any((const char (*)[DISC_IFNAMSIZ])d->route_ifaces, d->nroute, name);
}

/* A link notification matters if the link had, or now has, a name we look
 * for: it may have been renamed, gone down (taking its IPv4 routes with it,
 * which are not notified one by one) or gone away. */
static bool disc_link_concerns(const struct disc *d, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const char *old;
	struct disc_attrs at;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifi))
		return true;
	old = disc_link_name(d, ifi->ifi_index);
	if (old && disc_name_concerns(d, old))
		return true;
	disc_attrs_parse(nlh, sizeof(*ifi), IFLA_MAX, &at);
	if (!at.tb[IFLA_IFNAME] || mnl_attr_validate(at.tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return !old;
	return disc_name_concerns(d, mnl_attr_get_str(at.tb[IFLA_IFNAME]));
}

/* Could this notification change what a scan returns? */
static bool disc_concerns(const struct nlmsghdr *nlh, const void *data)
{
	const struct disc *d = data;
	struct disc_addr a;

	switch (nlh->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return disc_parse_addr(d, nlh, &a) != 0;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		return disc_parse_route(d, nlh, &a) != 0;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return disc_link_concerns(d, nlh);
	default:
		return false;
	}
}

int disc_drain(struct disc *d)
{
	return watch_read(mnl_socket_get_fd(d->ev), d->buf, DISC_BUF, DISC_BURST, disc_concerns, d);
}
