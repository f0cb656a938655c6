// SPDX-License-Identifier: GPL-2.0-or-later
/* nf_tables over netlink: counters read by name in pipelined requests,
 * listings of a table's objects, elements and chains, and batches of counter
 * and map-element changes committed as one transaction. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "build-config.h"
#include "nl.h"

/* Requests in flight per send when reading counters by name: enough to hide
 * the round trip, small enough that replies fit the receive buffer. */
#define NL_READ_WINDOW 512
/* Reads of this many counters or more are shared among up to NL_READERS
 * threads, each with a socket of its own: the kernel answers a GETOBJ
 * request in the sender's system call, so the answers are produced on as
 * many CPUs as there are senders. */
#define NL_PARALLEL_MIN 16384
#define NL_READERS 4
/* Element messages stay well below the 64 KiB netlink attribute limit. */
#define NL_ELEM_MSG_MAX 32768
/* Room reserved in the batch buffer before building one message. */
#define NL_MSG_ROOM (NL_ELEM_MSG_MAX + 4096)
#define NL_RCVBUF (8 * 1024 * 1024)
/* How long to wait for the kernel to answer before giving up. */
#define NL_TIMEOUT_MS 60000
/* Answers taken per recvmmsg, and the room for each (a counter is ~100 B). */
#define NL_MMSG 256
#define NL_MMSG_SLOT 4096
/* Room for one small request message. */
#define NL_REQ_SIZE 8192

struct nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	int nfproto; /* of the table: NFPROTO_INET or NFPROTO_BRIDGE */
	struct addr_names *an; /* the class names in its counters' names */
	char *rbuf;
	size_t rbuf_len;
	/* The sockets of the reader threads of large reads, opened with this
	 * one (see nl_create); each read gives them its nfproto. */
	struct nl *readers[NL_READERS - 1];
	unsigned nreaders;
};

static int nl_nfproto_of(const char *family)
{
	return family && strcmp(family, "bridge") == 0 ? NFPROTO_BRIDGE : NFPROTO_INET;
}

void nl_set_family(struct nl *nl, const char *family)
{
	nl->nfproto = nl_nfproto_of(family);
}

const char *nl_family_name(const struct nl *nl)
{
	return nl->nfproto == NFPROTO_BRIDGE ? "bridge" : "inet";
}

struct addr_names *nl_names(const struct nl *nl)
{
	return nl->an;
}

struct nl_desc nl_table_desc(const struct nl *nl, const char *table)
{
	struct nl_desc d;

	snprintf(d.s, sizeof(d.s), "%s %s", nl_family_name(nl), table);
	return d;
}

static void nl_set_bufsize(struct nl *nl, int opt_force, int opt, int size)
{
	int fd = mnl_socket_get_fd(nl->sock);

	/* FORCE works as root (CAP_NET_ADMIN) past the sysctl limits. */
	if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

/* Destroy a handle half made, keeping the errno of what failed. */
static struct nl *nl_fail(struct nl *nl)
{
	int saved = errno;

	nl_destroy(nl);
	errno = saved;
	return NULL;
}

/* One socket, bound, with its receive buffer. */
static struct nl *nl_open(void)
{
	struct nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->rbuf_len = 1 << 20;
	nl->rbuf = malloc(nl->rbuf_len);
	if (!nl->rbuf)
		return nl_fail(nl);
	nl->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return nl_fail(nl);
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	nl_set_bufsize(nl, SO_RCVBUFFORCE, SO_RCVBUF, NL_RCVBUF);
	return nl;
}

/* How many threads share a read of n counters (the caller's included). */
static unsigned nl_readers(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < NL_PARALLEL_MIN || cpus < 2)
		return 1;
	return cpus < NL_READERS ? (unsigned)cpus : NL_READERS;
}

struct nl *nl_create(const char *family, struct addr_names *an)
{
	struct nl *nl = nl_open();
	unsigned k = nl_readers(NL_PARALLEL_MIN);

	if (!nl)
		return NULL;
	nl->nfproto = nl_nfproto_of(family);
	nl->an = an;
	/* The readers' sockets are opened here and not in their threads: a
	 * socket belongs to the network namespace of the thread that creates
	 * it, and the handle's namespace is the creator's at this moment. */
	for (; nl->nreaders + 1 < k; nl->nreaders++) {
		nl->readers[nl->nreaders] = nl_open();
		if (!nl->readers[nl->nreaders])
			return nl_fail(nl);
	}
	return nl;
}

void nl_destroy(struct nl *nl)
{
	if (!nl)
		return;
	for (unsigned i = 0; i < nl->nreaders; i++)
		nl_destroy(nl->readers[i]);
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->rbuf);
	free(nl);
}

/* Receive one datagram, waiting at most NL_TIMEOUT_MS.  Returns its length
 * or a negative errno. */
static ssize_t nl_recv(struct nl *nl)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sock), .events = POLLIN };
	ssize_t ret;
	int r;

	do
		r = poll(&pfd, 1, NL_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	ret = mnl_socket_recvfrom(nl->sock, nl->rbuf, nl->rbuf_len);
	return ret < 0 ? -errno : ret;
}

/* Send one request, run cb over the (possibly multipart) answer. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t ret;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ret = nl_recv(nl);
		if (ret < 0)
			return (int)ret;
		ret = mnl_cb_run(nl->rbuf, (size_t)ret, seq, nl->portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int nl_table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();
	uint64_t *handle = data;

	if (!t)
		return MNL_CB_ERROR;
#if HAVE_NFTNL_TABLE_HANDLE
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 && nftnl_table_is_set(t, NFTNL_TABLE_HANDLE))
		*handle = nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE);
#else
	(void)handle; /* 0: unknown */
#endif
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int nl_table_exists(struct nl *nl, const char *table, uint64_t *handle)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	uint64_t h = 0;
	int ret;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nl->nfproto,
				    NLM_F_ACK, ++nl->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	ret = nl_talk(nl, nlh, nl_table_cb, &h);
	if (handle)
		*handle = h;
	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : 1;
}

static int nl_gen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;
	uint32_t *id = data;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(attr) == NFTA_GEN_ID &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			*id = ntohl(mnl_attr_get_u32(attr));
	return MNL_CB_OK;
}

int nl_genid(struct nl *nl, uint32_t *id)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC,
						     NLM_F_ACK, ++nl->seq);

	*id = 0;
	return nl_talk(nl, nlh, nl_gen_cb, id);
}

/* ---- reading counters by name ---- */

/* One GETOBJ request for counter `name`, built as libnftnl would but
 * without an object allocated per request. */
static size_t nl_put_getobj(char *buf, int nfproto, const char *table, const char *name,
			    uint32_t seq)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, nfproto, 0, seq);

	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	return nlh->nlmsg_len;
}

/* The attributes in [p, end), walked here rather than through libmnl's
 * calls: 200,000 answers, a few attributes each, on every read. */
static const struct nlattr *nl_attr_next(const struct nlattr *a)
{
	return (const struct nlattr *)((const char *)a + MNL_ALIGN(a->nla_len));
}

static bool nl_attr_ok(const struct nlattr *a, const char *end)
{
	return end - (const char *)a >= (ptrdiff_t)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= end - (const char *)a;
}

/* A u64 attribute's value, if it is one (8 bytes of payload). */
static bool nl_attr_u64(const struct nlattr *a, uint64_t *v)
{
	uint64_t be;

	if (a->nla_len != MNL_ATTR_HDRLEN + sizeof(be))
		return false;
	memcpy(&be, (const char *)a + MNL_ATTR_HDRLEN, sizeof(be));
	*v = be64toh(be);
	return true;
}

/* The values in a NEWOBJ answer: NFTA_OBJ_DATA's bytes and packets, and
 * the object's handle. */
static void nl_parse_counter(const struct nlmsghdr *nlh, struct nl_counter *c)
{
	const char *end = (const char *)nlh + nlh->nlmsg_len;
	const struct nlattr *attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	const struct nlattr *data = NULL;
	int have = 0;

	for (; nl_attr_ok(attr, end); attr = nl_attr_next(attr)) {
		uint16_t type = attr->nla_type & NLA_TYPE_MASK;

		if (type == NFTA_OBJ_DATA)
			data = attr;
		else if (type == NFTA_OBJ_HANDLE)
			nl_attr_u64(attr, &c->handle);
	}
	if (data) {
		const char *dend = (const char *)data + data->nla_len;

		for (attr = (const void *)((const char *)data + MNL_ATTR_HDRLEN);
		     nl_attr_ok(attr, dend); attr = nl_attr_next(attr)) {
			uint16_t type = attr->nla_type & NLA_TYPE_MASK;

			if (type == NFTA_COUNTER_BYTES && nl_attr_u64(attr, &c->bytes))
				have |= 1 << type;
			else if (type == NFTA_COUNTER_PACKETS && nl_attr_u64(attr, &c->packets))
				have |= 1 << type;
		}
	}
	c->err = have == (1 << NFTA_COUNTER_BYTES | 1 << NFTA_COUNTER_PACKETS) ? 0 : -EPROTO;
}

/* A window of pipelined requests: their sequence numbers are base + i,
 * i < n; what the answers go to. */
struct nl_window {
	uint32_t base;
	size_t n;
	struct nl_counter *out; /* counters read by name */
	const struct nl_elem_keys *keys; /* or map elements read by key */
	size_t first; /* the keys' index of request 0 */
	int ret; /* the first error of keys->cb */
};

/* Route every reply in the datagram to its request by sequence number.
 * Returns the number of requests answered, or a negative errno. */
static int nl_read_replies(const struct nl *nl, const char *buf, size_t len,
			   const struct nl_window *w)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len_left = (int)len, done = 0;
	uint32_t base = w->base;
	size_t n = w->n;
	struct nl_counter *out = w->out;

	for (; mnl_nlmsg_ok(nlh, len_left); nlh = mnl_nlmsg_next(nlh, &len_left)) {
		uint32_t i = nlh->nlmsg_seq - base;

		if (nlh->nlmsg_pid != nl->portid || i >= n)
			continue;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (e->error == 0)
				continue; /* an ack; we asked for none */
			out[i].err = e->error;
			done++;
		} else if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWOBJ) {
			nl_parse_counter(nlh, &out[i]);
			done++;
		}
	}
	return done;
}

static int nl_elem_replies(const struct nl *nl, const char *buf, size_t len,
			   struct nl_window *w);

/* Every answer to a by-name read is a datagram of its own: take up to
 * NL_MMSG of them per system call.  Returns the requests answered. */
static ssize_t nl_recv_many(struct nl *nl, struct nl_window *w)
{
	struct mmsghdr mm[NL_MMSG];
	struct iovec iov[NL_MMSG];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sock), .events = POLLIN };
	ssize_t done = 0;
	int k, r;

	do
		r = poll(&pfd, 1, NL_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : -ETIMEDOUT;
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < NL_MMSG; i++) {
		iov[i] = (struct iovec){ nl->rbuf + (size_t)i * NL_MMSG_SLOT, NL_MMSG_SLOT };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	k = recvmmsg(pfd.fd, mm, NL_MMSG, MSG_DONTWAIT, NULL);
	if (k < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < k; i++) {
		if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		done += w->keys ? nl_elem_replies(nl, iov[i].iov_base, mm[i].msg_len, w)
				: nl_read_replies(nl, iov[i].iov_base, mm[i].msg_len, w);
	}
	return done;
}

static int nl_read_window(struct nl *nl, char *sbuf, const char *table,
			  const char *const *names, size_t n, struct nl_counter *out)
{
	uint32_t base = nl->seq + 1;
	struct nl_window w = { .base = base, .n = n, .out = out };
	size_t len = 0, answered = 0;
	ssize_t r;

	for (size_t i = 0; i < n; i++) {
		len += nl_put_getobj(sbuf + len, nl->nfproto, table, names[i], base + (uint32_t)i);
		out[i] = (struct nl_counter){ .err = -ETIMEDOUT };
	}
	nl->seq += (uint32_t)n;
	if (mnl_socket_sendto(nl->sock, sbuf, len) < 0)
		return -errno;
	while (answered < n) {
		r = nl_recv_many(nl, &w);
		if (r < 0)
			return (int)r;
		answered += (size_t)r;
	}
	return 0;
}

static int nl_read_serial(struct nl *nl, const char *table,
			  const char *const *names, size_t n, struct nl_counter *out)
{
	/* One GETOBJ request is well under 256 bytes (names are at most
	 * NFT_OBJ_MAXNAMELEN).  Zeroed: attribute padding is sent as is. */
	char *sbuf = calloc(NL_READ_WINDOW, 256);
	int ret = 0;

	if (!sbuf)
		return -ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i += NL_READ_WINDOW) {
		size_t k = n - i < NL_READ_WINDOW ? n - i : NL_READ_WINDOW;

		ret = nl_read_window(nl, sbuf, table, names + i, k, out + i);
	}
	free(sbuf);
	return ret;
}

struct nl_reader {
	pthread_t thread;
	struct nl *nl; /* one of the handle's readers: a socket of its own */
	const char *table;
	const char *const *names;
	size_t n;
	struct nl_counter *out;
	int ret;
};

static void *nl_reader_main(void *arg)
{
	struct nl_reader *r = arg;

	r->ret = nl_read_serial(r->nl, r->table, r->names, r->n, r->out);
	return NULL;
}

int nl_read_counters(struct nl *nl, const char *table,
		     const char *const *names, size_t n, struct nl_counter *out)
{
	struct nl_reader r[NL_READERS];
	unsigned k = nl_readers(n), started = 1;
	size_t slice;
	int ret;

	if (k > nl->nreaders + 1)
		k = nl->nreaders + 1;
	slice = (n + k - 1) / k;

	/* Slices 1..k-1 in threads of their own, slice 0 here; the slices of
	 * threads that could not start are read here too. */
	for (unsigned i = 1; i < k; i++) {
		size_t from = i * slice < n ? i * slice : n;

		nl->readers[i - 1]->nfproto = nl->nfproto;
		r[i] = (struct nl_reader){ .nl = nl->readers[i - 1], .table = table,
					   .names = names + from,
					   .out = out + from,
					   .n = n - from < slice ? n - from : slice };
		if (pthread_create(&r[i].thread, NULL, nl_reader_main, &r[i]) != 0)
			break;
		started++;
	}
	ret = nl_read_serial(nl, table, names, n < slice ? n : slice, out);
	if (ret == 0 && started * slice < n)
		ret = nl_read_serial(nl, table, names + started * slice,
				     n - started * slice, out + started * slice);
	for (unsigned i = 1; i < started; i++) {
		pthread_join(r[i].thread, NULL);
		if (r[i].ret < 0 && ret == 0)
			ret = r[i].ret;
	}
	return ret;
}

/* ---- listings (kernel dumps) ---- */

struct nl_list_ctx {
	int nfproto;
	const char *table;
	nl_name_cb cb;
	void *data;
	int ret;
};

static int nl_obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_list_ctx *ctx = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	int ret = MNL_CB_OK;

	if (!o)
		return MNL_CB_ERROR;
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_FAMILY) == (uint32_t)ctx->nfproto &&
	    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER &&
	    strcmp(nftnl_obj_get_str(o, NFTNL_OBJ_TABLE), ctx->table) == 0) {
		ctx->ret = ctx->cb(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), ctx->data);
		if (ctx->ret)
			ret = MNL_CB_STOP;
	}
	nftnl_obj_free(o);
	return ret;
}

int nl_list_counters(struct nl *nl, const char *table, nl_name_cb cb, void *data)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nl_list_ctx ctx = { nl->nfproto, table, cb, data, 0 };
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int ret;

	if (!o)
		return -ENOMEM;
	/* The kernel filters the dump by table and type. */
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, nl->nfproto,
				    NLM_F_DUMP, ++nl->seq);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	ret = nl_talk(nl, nlh, nl_obj_cb, &ctx);
	return ret ? ret : ctx.ret;
}

struct nl_elem_ctx {
	nl_elem_cb cb;
	void *data;
	int ret;
};

static int nl_elem_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_elem_ctx *ctx = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	struct nftnl_set_elem *e;

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto out;
	it = nftnl_set_elems_iter_create(s);
	for (e = it ? nftnl_set_elems_iter_next(it) : NULL; e && !ctx->ret;
	     e = nftnl_set_elems_iter_next(it)) {
		struct nl_map_elem me = { 0 };
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &me.keylen);

		if (!key || me.keylen > sizeof(me.key))
			continue; /* not an address: no map of ours holds it */
		memcpy(me.key, key, me.keylen);
		me.end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
			 (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
		if (!me.end && nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF))
			me.ref = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF);
		ctx->ret = ctx->cb(&me, ctx->data);
	}
	nftnl_set_elems_iter_destroy(it);
out:
	nftnl_set_free(s);
	return ctx->ret ? MNL_CB_STOP : MNL_CB_OK;
}

int nl_list_map_elems(struct nl *nl, const char *table, const char *set,
		      nl_elem_cb cb, void *data)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nl_elem_ctx ctx = { cb, data, 0 };
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int ret;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nl->nfproto,
				    NLM_F_DUMP, ++nl->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	ret = nl_talk(nl, nlh, nl_elem_msg_cb, &ctx);
	return ret ? ret : ctx.ret;
}

/* ---- batches ---- */

/* An address and the directions (bit 1 << ADDR_IN, 1 << ADDR_OUT) of its
 * counters or elements: one entry, not one per direction, as apply adds
 * both (a first install of 1,000,000 addresses kept 4,000,000 entries of
 * 24 bytes). */
struct nl_elem_op {
	struct addr a;
	uint8_t dirs;
};

struct nl_vec {
	void *v;
	size_t n, cap, size;
};

struct nl_batch {
	char table[64];
	struct addr_names *an; /* the class names of its counters and maps */
	int nfproto; /* of the nl it is built for */
	struct nl_vec add_ctr, del_ctr; /* struct nl_elem_op: names are derived */
	struct nl_vec add_elem, del_elem; /* struct nl_elem_op */
	/* or, instead of add_elem, both elements of every address of the
	 * caller's array (nl_batch_add_elems_of): a refill adds them all */
	const char *all_first;
	size_t all_stride, all_n;
	struct nl_vec del_at; /* struct nl_at_op: elements found in the kernel */
	struct nl_vec flushes; /* struct nl_flush: maps emptied first */
	struct nl_vec fills; /* struct nl_fill: sets emptied and filled, last */
	struct nl_vec fill_elems; /* struct nl_fill_elem, in the order of fills */
	char del_set[32];   /* a set deleted after the fills ("": none) */
	bool del_table;
	/* a counter set to given values first (delete + add) */
	char set_name[ADDR_NAMELEN];
	uint64_t set_packets;
	bool set_replace;
	/* The messages being built, in chunks that never move (a batch for
	 * 100,000 addresses is tens of MB: no doubling copies), sent with one
	 * sendmsg so that the kernel sees one transaction; or, split, each
	 * chunk a transaction of its own. */
	struct nl_chunk *chunks;
	size_t nchunks, capchunks, total, chunk_size;
	bool split;
	/* A split batch is sent while it is built, each full chunk as soon
	 * as the next message needs room: its buffer is reused, so a first
	 * install of 1,000,000 addresses holds 256 KiB of messages, not
	 * 430 MB.  The handle it goes to, the first error and its message. */
	struct nl *stream;
	int stream_ret;
	uint32_t bad_seq;
	uint32_t first_seq, seq;
	struct nl_vec what; /* struct nl_msg_what: runs of messages, for errors */
	char begin[NLMSG_HDRLEN + 16], end[NLMSG_HDRLEN + 16];
};

#define NL_CHUNK (1 << 20)
/* A split batch's transactions: a few thousand messages each.  Between
 * them the kernel's hash tables (the global object names, the maps) get
 * to resize; inside one transaction they cannot on a kernel without
 * preemption, and every lookup walks a chain of half-moved tables.
 * 100,000 addresses: 1.6 s in the kernel in one transaction, 0.8 s in
 * ~100 (docs/performance.md). */
#define NL_SPLIT_CHUNK (256u << 10)

struct nl_chunk {
	char *p;
	size_t len;
	struct nlmsghdr *last; /* its last message */
};

/* An element to delete as the kernel holds it, whatever counter it points
 * at: its key and, in an interval map, the key of its end element. */
struct nl_at_op {
	unsigned map, cls;
	uint8_t key[16], end[16];
	uint8_t keylen;
	bool has_end;
};

/* count messages in a row of one type: counters op[0..count), or one
 * message about `name`.  Runs keep the bookkeeping for 200,000 counter
 * messages to a few entries. */
struct nl_msg_what {
	const struct nl_elem_op *op; /* counters from op on, or NULL and: */
	const struct nl_elem_op *last; /* the op of its last message */
	char name[64];               /* a map, table or set-counter name */
	uint32_t count;
	uint16_t type;
};

static int nl_vec_push(struct nl_vec *v, const void *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->v, cap * v->size);

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	memcpy((char *)v->v + v->n * v->size, x, v->size);
	v->n++;
	return 0;
}

struct nl_flush {
	char set[ADDR_MAPNAMELEN];
};

/* A set (or a map of u32 values) emptied and filled in one transaction. */
struct nl_fill {
	char set[32];
	bool map;
	size_t n; /* its elements: the next n of fill_elems */
};

struct nl_fill_elem {
	struct addr a;
	uint32_t data;
};

struct nl_batch *nl_batch_create(struct addr_names *an, const char *table)
{
	struct nl_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->an = an;
	snprintf(b->table, sizeof(b->table), "%s", table);
	b->add_ctr.size = b->del_ctr.size = sizeof(struct nl_elem_op);
	b->add_elem.size = b->del_elem.size = sizeof(struct nl_elem_op);
	b->del_at.size = sizeof(struct nl_at_op);
	b->fills.size = sizeof(struct nl_fill);
	b->flushes.size = sizeof(struct nl_flush);
	b->fill_elems.size = sizeof(struct nl_fill_elem);
	b->what.size = sizeof(struct nl_msg_what);
	b->chunk_size = NL_CHUNK;
	return b;
}

void nl_batch_split(struct nl_batch *b)
{
	b->split = true;
	b->chunk_size = NL_SPLIT_CHUNK;
}

void nl_batch_destroy(struct nl_batch *b)
{
	if (!b)
		return;
	free(b->add_ctr.v);
	free(b->del_ctr.v);
	free(b->add_elem.v);
	free(b->del_elem.v);
	free(b->del_at.v);
	free(b->fills.v);
	free(b->flushes.v);
	free(b->fill_elems.v);
	free(b->what.v);
	for (size_t i = 0; i < b->nchunks; i++)
		free(b->chunks[i].p);
	free(b->chunks);
	free(b);
}

static int nl_push_op(struct nl_vec *v, const struct addr *a, enum addr_dir dir);

/* Counter names are derived from addresses, so a counter is kept as its
 * address and direction (21 bytes for both directions instead of two
 * 48-byte names). */
static int nl_push_name(struct nl_batch *b, struct nl_vec *v, const char *name)
{
	enum addr_dir dir;
	struct addr a;

	if (addr_from_counter_name(b->an, name, &a, &dir) < 0)
		return -EINVAL;
	return nl_push_op(v, &a, dir);
}

int nl_batch_add_counter(struct nl_batch *b, const char *name)
{
	return nl_push_name(b, &b->add_ctr, name);
}

/* The other direction of the address last pushed joins its entry. */
static int nl_push_op(struct nl_vec *v, const struct addr *a, enum addr_dir dir)
{
	struct nl_elem_op op = { *a, (uint8_t)(1u << dir) };
	struct nl_elem_op *last = v->n ? (struct nl_elem_op *)v->v + v->n - 1 : NULL;

	if (last && !(last->dirs & op.dirs) && addr_cmp(&last->a, a) == 0) {
		last->dirs |= op.dirs;
		return 0;
	}
	return nl_vec_push(v, &op);
}

int nl_batch_add_counter_of(struct nl_batch *b, const struct addr *a, enum addr_dir dir)
{
	return nl_push_op(&b->add_ctr, a, dir);
}

int nl_batch_del_counter_of(struct nl_batch *b, const struct addr *a, enum addr_dir dir)
{
	return nl_push_op(&b->del_ctr, a, dir);
}

int nl_batch_del_counter(struct nl_batch *b, const char *name)
{
	return nl_push_name(b, &b->del_ctr, name);
}

int nl_batch_add_elem(struct nl_batch *b, const struct addr *a, enum addr_dir dir)
{
	return nl_push_op(&b->add_elem, a, dir);
}

void nl_batch_add_elems_of(struct nl_batch *b, const struct addr *first, size_t stride,
			   size_t n)
{
	b->all_first = (const char *)first;
	b->all_stride = stride;
	b->all_n = n;
}

int nl_batch_del_elem(struct nl_batch *b, const struct addr *a, enum addr_dir dir)
{
	return nl_push_op(&b->del_elem, a, dir);
}

int nl_batch_del_elem_at(struct nl_batch *b, unsigned map, unsigned cls, const uint8_t *key,
			 size_t keylen, const uint8_t *end)
{
	struct nl_at_op op = { .map = map, .cls = cls, .keylen = (uint8_t)keylen,
			       .has_end = end != NULL };

	if (keylen > sizeof(op.key))
		return -EINVAL;
	memcpy(op.key, key, keylen);
	if (end)
		memcpy(op.end, end, keylen);
	return nl_vec_push(&b->del_at, &op);
}

int nl_batch_fill_set(struct nl_batch *b, const char *set, const struct addr *v,
		      const uint32_t *data, size_t n)
{
	struct nl_fill f = { .map = data != NULL, .n = n };
	int ret = 0;

	if (strlen(set) >= sizeof(f.set))
		return -EINVAL;
	strcpy(f.set, set);
	for (size_t i = 0; i < n && !ret; i++) {
		struct nl_fill_elem x = { v[i], data ? data[i] : 0 };

		ret = nl_vec_push(&b->fill_elems, &x);
	}
	return ret ? ret : nl_vec_push(&b->fills, &f);
}

int nl_batch_flush_map(struct nl_batch *b, const char *set)
{
	struct nl_flush f;

	if (strlen(set) >= sizeof(f.set))
		return -EINVAL;
	strcpy(f.set, set);
	return nl_vec_push(&b->flushes, &f);
}

int nl_batch_del_set(struct nl_batch *b, const char *set)
{
	if (strlen(set) >= sizeof(b->del_set))
		return -EINVAL;
	strcpy(b->del_set, set);
	return 0;
}

void nl_batch_set_counter(struct nl_batch *b, const char *name, uint64_t packets,
			  bool replace)
{
	snprintf(b->set_name, sizeof(b->set_name), "%s", name);
	b->set_packets = packets;
	b->set_replace = replace;
}

void nl_batch_del_table(struct nl_batch *b)
{
	b->del_table = true;
}

bool nl_batch_empty(const struct nl_batch *b)
{
	return !b->add_ctr.n && !b->del_ctr.n && !b->add_elem.n && !b->all_n &&
	       !b->del_elem.n && !b->del_at.n && !b->del_table && !b->set_name[0] &&
	       !b->fills.n && !b->flushes.n && !b->del_set[0];
}

static int nl_batch_send(struct nl *nl, struct nl_batch *b, size_t from, size_t to,
			 uint32_t *bad_seq);

/* A split batch being sent: the full chunk goes as its transaction and
 * is made empty again.  Returns its room, or NULL with b->stream_ret set. */
static char *nl_batch_flush(struct nl_batch *b, struct nl_chunk *c)
{
	b->stream_ret = nl_batch_send(b->stream, b, b->nchunks - 1, b->nchunks, &b->bad_seq);
	if (b->stream_ret < 0)
		return NULL;
	/* Zeroed: attribute padding is sent as is. */
	memset(c->p, 0, c->len);
	c->len = 0;
	c->last = NULL;
	return c->p;
}

/* Make room for one more message and return where it starts. */
static char *nl_batch_room(struct nl_batch *b)
{
	struct nl_chunk *c = b->nchunks ? &b->chunks[b->nchunks - 1] : NULL;

	if (c && b->chunk_size - c->len >= NL_MSG_ROOM)
		return c->p + c->len;
	if (c && b->stream)
		return nl_batch_flush(b, c);
	if (b->nchunks == b->capchunks) {
		size_t cap = b->capchunks ? b->capchunks * 2 : 16;
		void *p = realloc(b->chunks, cap * sizeof(*b->chunks));

		if (!p)
			return NULL;
		b->chunks = p;
		b->capchunks = cap;
	}
	c = &b->chunks[b->nchunks];
	/* Zeroed: attribute padding is sent as is. */
	c->p = calloc(1, b->chunk_size);
	if (!c->p)
		return NULL;
	c->len = 0;
	c->last = NULL;
	b->nchunks++;
	return c->p;
}

/* The message at the room is complete. */
static void nl_batch_advance(struct nl_batch *b, struct nlmsghdr *nlh)
{
	b->chunks[b->nchunks - 1].len += nlh->nlmsg_len;
	b->chunks[b->nchunks - 1].last = nlh;
	b->total += nlh->nlmsg_len;
}

/* A change is complete: remember what it was for error messages. */
static int nl_batch_close(struct nl_batch *b, struct nlmsghdr *nlh,
			  const struct nl_elem_op *op, const char *name)
{
	struct nl_msg_what w = { .op = op, .last = op, .count = 1,
				 .type = nlh->nlmsg_type & 0xff };
	struct nl_msg_what *prev = b->what.n ? (struct nl_msg_what *)b->what.v + b->what.n - 1 : NULL;

	if (name)
		snprintf(w.name, sizeof(w.name), "%s", name);
	nl_batch_advance(b, nlh);
	if (prev && op && prev->op && prev->type == w.type &&
	    (prev->last == op || prev->last + 1 == op)) {
		prev->count++;
		prev->last = op;
		return 0;
	}
	return nl_vec_push(&b->what, &w);
}

static void nl_batch_reset(struct nl_batch *b)
{
	for (size_t i = 0; i < b->nchunks; i++)
		free(b->chunks[i].p);
	b->nchunks = 0;
	b->total = 0;
	b->what.n = 0;
}

/* One counter message: of op's address and direction, or named `name`.
 * Built with libmnl as libnftnl would, without an object per message
 * (a first install builds 200,000 of them). */
static int nl_batch_obj_msg(struct nl_batch *b, uint16_t type, uint16_t flags,
			    const struct nl_elem_op *op, enum addr_dir dir, const char *name,
			    uint64_t packets)
{
	char *room = nl_batch_room(b);
	char derived[ADDR_NAMELEN];
	struct nlmsghdr *nlh;

	if (op)
		name = addr_counter_name(b->an, &op->a, dir, derived);
	if (!room)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(room, type, b->nfproto, flags, ++b->seq);
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, b->table);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	if (type == NFT_MSG_NEWOBJ) {
		struct nlattr *data = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);

		mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(0));
		mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(packets));
		mnl_attr_nest_end(nlh, data);
	}
	return nl_batch_close(b, nlh, op, op ? NULL : name);
}

static struct nlmsghdr *nl_batch_elem_hdr(struct nl_batch *b, uint16_t type,
					  uint16_t flags, const char *set)
{
	char *room = nl_batch_room(b);
	struct nlmsghdr *nlh;

	if (!room)
		return NULL;
	nlh = nftnl_nlmsg_build_hdr(room, type, b->nfproto, flags, ++b->seq);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, b->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return nlh;
}

/* One element (start or interval end) into the open message. */
static void nl_put_elem(struct nlmsghdr *nlh, const uint8_t *key, size_t keylen,
			bool end, const char *ref)
{
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *k;

	if (end)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, keylen, key);
	mnl_attr_nest_end(nlh, k);
	if (!end && ref)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_OBJREF, ref);
	mnl_attr_nest_end(nlh, elem);
}

static void nl_put_op(const struct nl_batch *b, struct nlmsghdr *nlh,
		      const struct addr *a, enum addr_dir dir, bool add)
{
	size_t keylen = a->family == AF_INET ? 4 : 16;
	char name[ADDR_NAMELEN];
	uint8_t next[16];

	addr_counter_name(b->an, a, dir, name);
	nl_put_elem(nlh, a->bytes, keylen, false, add ? name : NULL);
	if (!addr_is_host(a) && addr_prefix_end(a, next))
		nl_put_elem(nlh, next, keylen, true, NULL);
}

/* Elements: the ops of a vector, or (all) both directions of every
 * address of the caller's array, each `stride` bytes after the last. */
struct nl_elems {
	const struct nl_elem_op *ops;
	const char *first;
	size_t stride, n;
};

static struct nl_elems nl_elems_of(const struct nl_vec *v)
{
	return (struct nl_elems){ .ops = v->v, .n = v->n };
}

static const struct addr *nl_elems_addr(const struct nl_elems *s, size_t i)
{
	return s->ops ? &s->ops[i].a : (const struct addr *)(const void *)(s->first + i * s->stride);
}

static unsigned nl_elems_dirs(const struct nl_elems *s, size_t i)
{
	return s->ops ? s->ops[i].dirs : 1u << ADDR_IN | 1u << ADDR_OUT;
}

/* The map of an element: class, then one of the 8 maps of a class. */
#define NL_MAP_KEYS (ADDR_CLASS_REGISTRY * ADDR_MAPS)
static unsigned nl_map_key(const struct addr *a, enum addr_dir dir)
{
	return a->cls * ADDR_MAPS + addr_map_index(a, dir);
}

/* The elements of s, index << 1 | direction, grouped by map (a counting
 * sort: linear, and 4 bytes an element where qsort took a copy of the
 * ops).  n: the elements; first[key] where the map's start. */
static uint32_t *nl_elems_by_map(const struct nl_elems *s, size_t *n, size_t *first)
{
	uint32_t *idx;

	memset(first, 0, (NL_MAP_KEYS + 1) * sizeof(*first));
	*n = 0;
	for (size_t i = 0; i < s->n; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT; d++)
			if (nl_elems_dirs(s, i) & 1u << d) {
				first[nl_map_key(nl_elems_addr(s, i), d) + 1]++;
				(*n)++;
			}
	for (size_t k = 1; k <= NL_MAP_KEYS; k++)
		first[k] += first[k - 1];
	idx = malloc(*n * sizeof(*idx) + 1);
	if (!idx)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT; d++)
			if (nl_elems_dirs(s, i) & 1u << d)
				idx[first[nl_map_key(nl_elems_addr(s, i), d)]++] =
					(uint32_t)(i << 1 | (size_t)d);
	/* first[k] is now the end of map k: back to its start */
	memmove(first + 1, first, NL_MAP_KEYS * sizeof(*first));
	first[0] = 0;
	return idx;
}

/* The elements idx[0..n) of ops, all of one map `set`, in messages of
 * bounded size. */
static int nl_batch_elem_msgs(struct nl_batch *b, const struct nl_elems *s,
			      const uint32_t *idx, size_t n, const char *set, bool add)
{
	uint16_t type = add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM;
	uint16_t flags = add ? NLM_F_CREATE : 0;
	struct nlmsghdr *nlh = NULL;
	struct nlattr *list = NULL;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (!nlh) {
			nlh = nl_batch_elem_hdr(b, type, flags, set);
			if (!nlh)
				return -ENOMEM;
			list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		}
		nl_put_op(b, nlh, nl_elems_addr(s, idx[i] >> 1), (enum addr_dir)(idx[i] & 1), add);
		if (nlh->nlmsg_len > NL_ELEM_MSG_MAX - 512) {
			mnl_attr_nest_end(nlh, list);
			ret = nl_batch_close(b, nlh, NULL, set);
			if (ret < 0)
				return ret;
			nlh = NULL;
		}
	}
	if (!nlh)
		return 0;
	mnl_attr_nest_end(nlh, list);
	return nl_batch_close(b, nlh, NULL, set);
}

/* One element of an interval set filled by nl_batch_fill_set: the start
 * (with its u32 in a map) and the end, the first address after it. */
static void nl_put_fill_elem(struct nlmsghdr *nlh, const struct nl_fill_elem *x, bool map)
{
	size_t keylen = x->a.family == AF_INET ? 4 : 16;
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *k;
	uint8_t next[16];

	k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, keylen, x->a.bytes);
	mnl_attr_nest_end(nlh, k);
	if (map) {
		/* a mark is in host byte order, as meta mark loads it */
		k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, sizeof(x->data), &x->data);
		mnl_attr_nest_end(nlh, k);
	}
	mnl_attr_nest_end(nlh, elem);
	if (addr_prefix_end(&x->a, next))
		nl_put_elem(nlh, next, keylen, true, NULL);
}

/* Each filled set: emptied (a DELSETELEM without elements), then its
 * elements, in messages of bounded size. */
static int nl_batch_fill_msgs(struct nl_batch *b)
{
	const struct nl_fill *f = b->fills.v;
	const struct nl_fill_elem *x = b->fill_elems.v;
	int ret = 0;

	for (size_t i = 0, at = 0; i < b->fills.n && !ret; at += f[i++].n) {
		struct nlmsghdr *nlh = nl_batch_elem_hdr(b, NFT_MSG_DELSETELEM, 0, f[i].set);
		struct nlattr *list = NULL;

		if (!nlh)
			return -ENOMEM;
		ret = nl_batch_close(b, nlh, NULL, f[i].set);
		nlh = NULL;
		for (size_t k = 0; k < f[i].n && !ret; k++) {
			if (!nlh) {
				nlh = nl_batch_elem_hdr(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
							f[i].set);
				if (!nlh)
					return -ENOMEM;
				list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
			}
			nl_put_fill_elem(nlh, &x[at + k], f[i].map);
			if (nlh->nlmsg_len > NL_ELEM_MSG_MAX - 512 || k + 1 == f[i].n) {
				mnl_attr_nest_end(nlh, list);
				ret = nl_batch_close(b, nlh, NULL, f[i].set);
				nlh = NULL;
			}
		}
	}
	return ret;
}

/* Elements as the kernel holds them (rare: edits by hand), one message each. */
static int nl_batch_at_msgs(struct nl_batch *b)
{
	const struct nl_at_op *at = b->del_at.v;
	int ret = 0;

	for (size_t i = 0; i < b->del_at.n && !ret; i++) {
		char set[ADDR_MAPNAMELEN];
		struct nlmsghdr *nlh;
		struct nlattr *list;

		addr_map_name_at(b->an, at[i].map, at[i].cls, set);
		nlh = nl_batch_elem_hdr(b, NFT_MSG_DELSETELEM, 0, set);
		if (!nlh)
			return -ENOMEM;
		list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		nl_put_elem(nlh, at[i].key, at[i].keylen, false, NULL);
		if (at[i].has_end)
			nl_put_elem(nlh, at[i].end, at[i].keylen, true, NULL);
		mnl_attr_nest_end(nlh, list);
		ret = nl_batch_close(b, nlh, NULL, set);
	}
	return ret;
}


/* A message per counter of v's entries, in order. */
static int nl_batch_ctr_msgs(struct nl_batch *b, const struct nl_vec *v, uint16_t type,
			     uint16_t flags)
{
	const struct nl_elem_op *ops = v->v;
	int ret = 0;

	for (size_t i = 0; i < v->n && !ret; i++)
		for (int d = ADDR_IN; d <= ADDR_OUT && !ret; d++)
			if (ops[i].dirs & 1u << d)
				ret = nl_batch_obj_msg(b, type, flags, &ops[i], d, NULL, 0);
	return ret;
}

/* The elements the batch adds (add) or deletes. */
static struct nl_elems nl_batch_elems(const struct nl_batch *b, bool add)
{
	if (add && b->all_n)
		return (struct nl_elems){ .first = b->all_first, .stride = b->all_stride,
					  .n = b->all_n };
	return nl_elems_of(add ? &b->add_elem : &b->del_elem);
}

/* A refill's transaction so far goes (see nl_batch_build), and its
 * chunks are freed: the next map's elements are built in new ones. */
static int nl_batch_cut(struct nl_batch *b, struct nl *nl)
{
	size_t len = 65536;
	int ret;

	if (!b->nchunks || !b->chunks[b->nchunks - 1].last)
		return 0;
	for (size_t i = 0; i < b->nchunks; i++)
		len += b->chunks[i].len;
	nl_set_bufsize(nl, SO_SNDBUFFORCE, SO_SNDBUF, len > (size_t)1 << 30 ? 1 << 30 : (int)len);
	ret = nl_batch_send(nl, b, 0, b->nchunks, &b->bad_seq);
	for (size_t i = 0; i < b->nchunks; i++)
		free(b->chunks[i].p);
	b->nchunks = 0;
	if (ret < 0)
		b->stream_ret = ret;
	return ret;
}

/* The group k of the elements idx (nl_elems_by_map) of v: its map's name
 * into set, or false if it has none. */
static bool nl_group_name(const struct nl_batch *b, const struct nl_elems *s, const uint32_t *idx,
			  const size_t *first, size_t k, char set[ADDR_MAPNAMELEN])
{
	if (!idx || first[k + 1] == first[k])
		return false;
	addr_map_name(b->an, nl_elems_addr(s, idx[first[k]] >> 1),
		      (enum addr_dir)(idx[first[k]] & 1), set);
	return true;
}

/* A refill (maps emptied, every element added again) as a transaction
 * per map: the emptying of a map and its elements together, so that
 * packets see each map as it was or as it is now, never empty.  The
 * counter adds before them (a counter nothing points at yet counts
 * nothing) go a chunk at a time.  At 1,000,000 IPv6 addresses one
 * transaction of both maps was 144 MB of messages in memory at once, a
 * map's is half. */
static int nl_batch_refill_msgs(struct nl_batch *b, struct nl *nl)
{
	const struct nl_flush *f = b->flushes.v;
	struct nl_elems s = nl_batch_elems(b, true);
	size_t first[NL_MAP_KEYS + 1], n;
	uint32_t *idx = s.n ? nl_elems_by_map(&s, &n, first) : NULL;
	bool *done = calloc(NL_MAP_KEYS, sizeof(*done));
	int ret = 0;

	if ((s.n && !idx) || !done)
		ret = -ENOMEM;
	for (size_t i = 0; i < b->flushes.n && !ret; i++) {
		char set[ADDR_MAPNAMELEN];
		size_t k = 0;
		struct nlmsghdr *nlh;

		while (k < NL_MAP_KEYS && (done[k] || !nl_group_name(b, &s, idx, first, k, set) ||
					   strcmp(set, f[i].set)))
			k++;
		if (k < NL_MAP_KEYS)
			ret = nl_batch_cut(b, nl);
		nlh = ret ? NULL : nl_batch_elem_hdr(b, NFT_MSG_DELSETELEM, 0, f[i].set);
		if (!ret)
			ret = nlh ? nl_batch_close(b, nlh, NULL, f[i].set) : -ENOMEM;
		if (!ret && k < NL_MAP_KEYS) {
			done[k] = true;
			ret = nl_batch_elem_msgs(b, &s, idx + first[k], first[k + 1] - first[k],
						 f[i].set, true);
		}
	}
	/* maps that were not emptied (none in a refill): in the last one */
	for (size_t k = 0; k < NL_MAP_KEYS && !ret; k++) {
		char set[ADDR_MAPNAMELEN];

		if (!done[k] && nl_group_name(b, &s, idx, first, k, set))
			ret = nl_batch_elem_msgs(b, &s, idx + first[k], first[k + 1] - first[k], set,
						 true);
	}
	free(done);
	free(idx);
	return ret;
}

/* A refill, as table.c makes it: maps emptied, no element deleted by
 * itself.  It goes as a transaction per map (nl_batch_refill_msgs). */
static bool nl_batch_refill(const struct nl_batch *b)
{
	return b->flushes.n && !b->split && !b->del_elem.n && !b->del_at.n;
}

static int nl_batch_build(struct nl_batch *b, struct nl *nl)
{
	bool refill = nl_batch_refill(b);
	char *room;
	int ret = 0;

	nl_batch_reset(b);
	b->nfproto = nl->nfproto;
	b->seq = nl->seq;
	nftnl_batch_begin(b->begin, ++b->seq);
	b->first_seq = b->seq + 1;
	/* A transaction's end message has no answer: its number is not
	 * checked, so the chunks sent while building share this one. */
	nftnl_batch_end(b->end, b->first_seq - 1);
	b->stream = b->split || refill ? nl : NULL;
	b->stream_ret = 0;
	b->bad_seq = 0;

	if (b->set_name[0] && b->set_replace)
		ret = nl_batch_obj_msg(b, NFT_MSG_DELOBJ, 0, NULL, ADDR_IN, b->set_name, 0);
	if (b->set_name[0] && !ret)
		ret = nl_batch_obj_msg(b, NFT_MSG_NEWOBJ, NLM_F_CREATE, NULL, ADDR_IN, b->set_name,
				       b->set_packets);
	ret = ret ?: nl_batch_ctr_msgs(b, &b->add_ctr, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	if (refill) {
		b->stream = NULL;
		ret = ret ?: nl_batch_refill_msgs(b, nl);
		goto rest;
	}
	for (size_t i = 0; i < b->flushes.n && !ret; i++) {
		const struct nl_flush *f = (const struct nl_flush *)b->flushes.v + i;
		struct nlmsghdr *nlh = nl_batch_elem_hdr(b, NFT_MSG_DELSETELEM, 0, f->set);

		ret = nlh ? nl_batch_close(b, nlh, NULL, f->set) : -ENOMEM;
	}
	/* Deletes first: an element re-pointed at its right counter is
	 * deleted and added again under the same key, which the kernel takes
	 * only in this order.  Grouped by map once, so the cost does not grow
	 * with the classes. */
	for (int add = 0; add <= 1 && !ret; add++) {
		struct nl_elems s = nl_batch_elems(b, add);
		size_t first[NL_MAP_KEYS + 1], n;
		uint32_t *idx = s.n ? nl_elems_by_map(&s, &n, first) : NULL;

		if (s.n && !idx)
			return -ENOMEM;
		for (size_t k = 0; k < NL_MAP_KEYS && idx && !ret; k++) {
			char set[ADDR_MAPNAMELEN];

			if (nl_group_name(b, &s, idx, first, k, set))
				ret = nl_batch_elem_msgs(b, &s, idx + first[k], first[k + 1] - first[k],
							 set, add);
		}
		free(idx);
		if (!add && !ret)
			ret = nl_batch_at_msgs(b);
	}
rest:
	ret = ret ?: nl_batch_ctr_msgs(b, &b->del_ctr, NFT_MSG_DELOBJ, 0);
	if (!ret)
		ret = nl_batch_fill_msgs(b);
	if (!ret && b->del_set[0]) {
		struct nlmsghdr *nlh;

		room = nl_batch_room(b);
		if (!room)
			return -ENOMEM;
		nlh = nftnl_nlmsg_build_hdr(room, NFT_MSG_DELSET, b->nfproto, 0, ++b->seq);
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, b->table);
		mnl_attr_put_strz(nlh, NFTA_SET_NAME, b->del_set);
		ret = nl_batch_close(b, nlh, NULL, b->del_set);
	}
	if (!ret && b->del_table) {
		struct nftnl_table *t = nftnl_table_alloc();
		struct nlmsghdr *nlh;

		room = nl_batch_room(b);
		if (!t || !room) {
			nftnl_table_free(t);
			return -ENOMEM;
		}
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
		nlh = nftnl_nlmsg_build_hdr(room, NFT_MSG_DELTABLE, b->nfproto, 0, ++b->seq);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		ret = nl_batch_close(b, nlh, NULL, b->table);
	}
	return ret;
}

static const char *nl_msg_verb(uint16_t type)
{
	switch (type) {
	case NFT_MSG_NEWOBJ: return "adding counter";
	case NFT_MSG_DELOBJ: return "deleting counter";
	case NFT_MSG_NEWSETELEM: return "adding elements to map";
	case NFT_MSG_DELSETELEM: return "deleting elements from map";
	case NFT_MSG_DELSET: return "deleting set";
	case NFT_MSG_DELTABLE: return "deleting table";
	default: return "changing";
	}
}

/* Read the kernel's answers until the acked last message is answered.
 * Returns 0 or the first error, with *bad_seq set to its message. */
static int nl_batch_wait(struct nl *nl, uint32_t last_seq, uint32_t *bad_seq)
{
	int first_err = 0;

	for (;;) {
		ssize_t r = nl_recv(nl);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->rbuf;
		int left = (int)r;

		if (r < 0)
			return first_err ? first_err : (int)r;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != nl->portid)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error && !first_err) {
				first_err = e->error;
				*bad_seq = nlh->nlmsg_seq;
			}
			if (nlh->nlmsg_seq == last_seq)
				return first_err;
		}
	}
}

/* Chunks [from, to) between the batch's begin and end in one sendmsg: one
 * datagram, one transaction.  Only its last change asks for an ack: errors
 * come unasked, so the answer to that sequence number ends the
 * conversation; returns 0 or the first error, *bad_seq its message. */
static int nl_batch_send(struct nl *nl, struct nl_batch *b, size_t from, size_t to,
			 uint32_t *bad_seq)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct iovec *iov = calloc(to - from + 2, sizeof(*iov));
	struct msghdr msg = {
		.msg_name = &kernel, .msg_namelen = sizeof(kernel),
		.msg_iov = iov, .msg_iovlen = to - from + 2,
	};
	struct nlmsghdr *last = b->chunks[to - 1].last;
	const struct nlmsghdr *begin = (const void *)b->begin, *end = (const void *)b->end;
	size_t len = begin->nlmsg_len + end->nlmsg_len;
	ssize_t n;

	if (!iov)
		return -ENOMEM;
	iov[0] = (struct iovec){ b->begin, begin->nlmsg_len };
	for (size_t i = from; i < to; i++) {
		iov[i - from + 1] = (struct iovec){ b->chunks[i].p, b->chunks[i].len };
		len += b->chunks[i].len;
	}
	iov[to - from + 1] = (struct iovec){ b->end, end->nlmsg_len };
	last->nlmsg_flags |= NLM_F_ACK;
	n = sendmsg(mnl_socket_get_fd(nl->sock), &msg, 0);
	free(iov);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE;
	return nl_batch_wait(nl, last->nlmsg_seq, bad_seq);
}

/* The name of the counter of message k of a run of counter messages. */
static const char *nl_what_name(const struct nl_batch *b, const struct nl_msg_what *w,
				size_t k, char *buf)
{
	for (const struct nl_elem_op *op = w->op; op <= w->last; op++)
		for (int d = ADDR_IN; d <= ADDR_OUT; d++)
			if (op->dirs & 1u << d && k-- == 0)
				return addr_counter_name(b->an, &op->a, d, buf);
	return "?";
}

int nl_batch_commit(struct nl *nl, struct nl_batch *b, struct err *e)
{
	const struct nl_msg_what *what;
	uint32_t bad_seq = 0;
	int ret, size;

	if (nl_batch_empty(b))
		return 0;
	if (b->split || nl_batch_refill(b))
		nl_set_bufsize(nl, SO_SNDBUFFORCE, SO_SNDBUF, (int)b->chunk_size + 65536);
	ret = nl_batch_build(b, nl);
	b->stream = NULL;
	nl->seq = b->seq;
	if (b->stream_ret < 0) {
		ret = b->stream_ret;
		bad_seq = b->bad_seq;
		goto refused;
	}
	if (ret < 0)
		return err_setn(e, ret, "out of memory building a batch");
	nftnl_batch_end(b->end, ++b->seq);
	nl->seq = b->seq;

	size = b->total + 65536 > (size_t)1 << 30 ? 1 << 30 : (int)(b->total + 65536);
	if (!b->split)
		nl_set_bufsize(nl, SO_SNDBUFFORCE, SO_SNDBUF, size);
	for (size_t i = 0; i < b->nchunks && ret == 0; i = b->split ? i + 1 : b->nchunks)
		ret = nl_batch_send(nl, b, i, b->split ? i + 1 : b->nchunks, &bad_seq);
refused:
	if (ret == 0)
		return 0;
	if (!bad_seq)
		return err_setn(e, ret, "sending %zu bytes to nf_tables: %s",
				b->total, strerror(-ret));
	what = b->what.v;
	for (size_t i = 0, k = bad_seq - b->first_seq; bad_seq >= b->first_seq && i < b->what.n;
	     k -= what[i++].count) {
		char derived[ADDR_NAMELEN];
		const char *name = what[i].name;

		if (k >= what[i].count)
			continue;
		if (what[i].op)
			name = nl_what_name(b, &what[i], k, derived);
		return err_setn(e, ret, "nf_tables refused the change (%s %s in table %s): %s",
				nl_msg_verb(what[i].type), name, nl_table_desc(nl, b->table).s,
				ret == -ENFILE ? "the map is full" :
				strerror(-ret));
	}
	return err_setn(e, ret, "nf_tables refused the change to table %s: %s",
			nl_table_desc(nl, b->table).s, strerror(-ret));
}

/* ---- map elements by key ---- */

/* One GETSETELEM request (no dump) for one key of map `set`. */
static size_t nl_put_getelem(char *buf, int nfproto, const char *table, const char *set,
			     const uint8_t *key, size_t keylen, uint32_t seq)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nfproto, 0, seq);
	struct nlattr *list;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	nl_put_elem(nlh, key, keylen, false, NULL);
	mnl_attr_nest_end(nlh, list);
	return nlh->nlmsg_len;
}

/* The one element of a NEWSETELEM answer: 0, or -EPROTO.  me->ref points
 * into the answer. */
static int nl_parse_elem(const struct nlmsghdr *nlh, struct nl_map_elem *me)
{
	const struct nlattr *a, *list = NULL, *el = NULL;

	memset(me, 0, sizeof(*me));
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS &&
		    mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			list = a;
	if (list)
		mnl_attr_for_each_nested(a, list)
			if (!el && mnl_attr_get_type(a) == NFTA_LIST_ELEM &&
			    mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
				el = a;
	if (!el)
		return -EPROTO;
	mnl_attr_for_each_nested(a, el) {
		const struct nlattr *v;

		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
				break;
			mnl_attr_for_each_nested(v, a)
				if (mnl_attr_get_type(v) == NFTA_DATA_VALUE &&
				    mnl_attr_get_payload_len(v) <= sizeof(me->key)) {
					me->keylen = mnl_attr_get_payload_len(v);
					memcpy(me->key, mnl_attr_get_payload(v), me->keylen);
				}
			break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				me->end = ntohl(mnl_attr_get_u32(a)) & NFT_SET_ELEM_INTERVAL_END;
			break;
		case NFTA_SET_ELEM_OBJREF:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				me->ref = mnl_attr_get_str(a);
			break;
		}
	}
	if (me->end)
		me->ref = NULL;
	return me->keylen ? 0 : -EPROTO;
}

static int nl_elem_replies(const struct nl *nl, const char *buf, size_t len,
			   struct nl_window *w)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len_left = (int)len, done = 0;

	for (; mnl_nlmsg_ok(nlh, len_left) && !w->ret; nlh = mnl_nlmsg_next(nlh, &len_left)) {
		uint32_t i = nlh->nlmsg_seq - w->base;
		struct nl_map_elem me;

		if (nlh->nlmsg_pid != nl->portid || i >= w->n)
			continue;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (e->error == 0)
				continue; /* an ack; we asked for none */
			/* no such element (or map): a missing one to add */
			w->ret = e->error == -ENOENT ? w->keys->cb(w->first + i, NULL, w->keys->data)
						     : e->error;
			done++;
		} else if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWSETELEM) {
			w->ret = nl_parse_elem(nlh, &me);
			if (w->ret == 0)
				w->ret = w->keys->cb(w->first + i, &me, w->keys->data);
			done++;
		}
	}
	return done;
}

/* Keys [from, to) of k through nl's own socket. */
static int nl_get_serial(struct nl *nl, const char *table, const struct nl_elem_keys *k,
			 size_t from, size_t to)
{
	/* one request is about 100 bytes; zeroed: padding is sent as is */
	char *sbuf = calloc(NL_READ_WINDOW, 256);
	int ret = sbuf ? 0 : -ENOMEM;

	for (size_t i = from; i < to && ret == 0; i += NL_READ_WINDOW) {
		struct nl_window w = { .base = nl->seq + 1, .keys = k, .first = i };
		size_t len = 0, answered = 0;

		w.n = to - i < NL_READ_WINDOW ? to - i : NL_READ_WINDOW;
		for (size_t j = 0; j < w.n; j++) {
			char set[ADDR_MAPNAMELEN];
			uint8_t key[16];
			size_t keylen = 0;

			k->key(i + j, set, key, &keylen, k->data);
			len += nl_put_getelem(sbuf + len, nl->nfproto, table, set, key, keylen,
					      w.base + (uint32_t)j);
		}
		nl->seq += (uint32_t)w.n;
		if (mnl_socket_sendto(nl->sock, sbuf, len) < 0)
			ret = -errno;
		while (ret == 0 && answered < w.n) {
			ssize_t r = nl_recv_many(nl, &w);

			if (r < 0)
				ret = (int)r;
			else if (w.ret)
				ret = w.ret;
			else
				answered += (size_t)r;
		}
	}
	free(sbuf);
	return ret;
}

struct nl_key_reader {
	pthread_t thread;
	struct nl *nl;
	const char *table;
	const struct nl_elem_keys *k;
	size_t from, to;
	int ret;
};

static void *nl_key_reader_main(void *arg)
{
	struct nl_key_reader *r = arg;

	r->ret = nl_get_serial(r->nl, r->table, r->k, r->from, r->to);
	return NULL;
}

/* As the counters' reads: slices in threads of their own, each with one of
 * the handle's reader sockets, since the kernel answers on the sender's
 * CPU; so k->cb may be called from several threads at once. */
int nl_get_map_elems(struct nl *nl, const char *table, const struct nl_elem_keys *k)
{
	struct nl_key_reader r[NL_READERS];
	unsigned n = nl_readers(k->n), started = 1;
	size_t slice;
	int ret;

	if (n > nl->nreaders + 1)
		n = nl->nreaders + 1;
	slice = (k->n + n - 1) / n;
	for (unsigned i = 1; i < n; i++) {
		nl->readers[i - 1]->nfproto = nl->nfproto;
		r[i] = (struct nl_key_reader){ .nl = nl->readers[i - 1], .table = table, .k = k,
					       .from = i * slice < k->n ? i * slice : k->n,
					       .to = (i + 1) * slice < k->n ? (i + 1) * slice : k->n };
		if (pthread_create(&r[i].thread, NULL, nl_key_reader_main, &r[i]) != 0)
			break;
		started++;
	}
	ret = nl_get_serial(nl, table, k, 0, slice < k->n ? slice : k->n);
	if (ret == 0 && started * slice < k->n)
		ret = nl_get_serial(nl, table, k, started * slice, k->n);
	for (unsigned i = 1; i < started; i++) {
		pthread_join(r[i].thread, NULL);
		if (r[i].ret < 0 && ret == 0)
			ret = r[i].ret;
	}
	return ret;
}

int nl_set_exists(struct nl *nl, const char *table, const char *set)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, nl->nfproto,
						     NLM_F_ACK, ++nl->seq);
	int ret;

	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, set);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : 1;
}

/* ---- a skeleton copied from a scratch namespace ---- */

/* What a table holds apart from per-address data: chains, sets (plain
 * sets with their elements), objects, rules, as nftnl objects listed from
 * a table in a namespace of its own, where they are few. */
struct nl_skel {
	struct nftnl_chain **chains;
	struct nftnl_set **sets;
	struct nftnl_obj **objs;
	struct nftnl_rule **rules;
	size_t nchains, nsets, nobjs, nrules;
	int unsupported; /* something nl_skel_put cannot copy */
};

/* Sets and data maps (the policy's sets, the class maps) hold exactly the
 * skeleton's elements; objref maps keep theirs (nftally's own maps hold the
 * per-address elements, which the skeleton does not have). */
static bool nl_skel_plain(const struct nftnl_set *s)
{
	uint32_t f = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;

	return !(f & NFT_SET_OBJECT);
}

static int nl_skel_push(void ***v, size_t *n, void *x)
{
	void **p = realloc(*v, (*n + 1) * sizeof(**v));

	if (!p)
		return -ENOMEM;
	*v = p;
	p[(*n)++] = x;
	return 0;
}

struct nl_skel_ctx {
	struct nl_skel *s;
	const char *table;
	int nfproto;
	uint16_t type;
	int ret;
};

/* Is the parsed object's table ours?  1 yes, 0 another table's, -EPROTO
 * none named (table: its name, or NULL). */
static int nl_skel_mine(const struct nl_skel_ctx *ctx, const char *table)
{
	return !table ? -EPROTO : strcmp(table, ctx->table) == 0;
}

static int nl_skel_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_skel_ctx *ctx = data;
	struct nl_skel *s = ctx->s;
	const char *table = NULL;
	void *o = NULL;
	int mine = -ENOMEM, ret = -ENOMEM;

	/* mine is decided before an object not kept is freed: table points
	 * into it */
	switch (ctx->type) {
	case NFT_MSG_GETCHAIN:
		if ((o = nftnl_chain_alloc()) && nftnl_chain_nlmsg_parse(nlh, o) == 0)
			table = nftnl_chain_get_str(o, NFTNL_CHAIN_TABLE);
		mine = o ? nl_skel_mine(ctx, table) : -ENOMEM;
		if (mine == 1)
			ret = nl_skel_push((void ***)&s->chains, &s->nchains, o);
		else
			nftnl_chain_free(o);
		break;
	case NFT_MSG_GETSET:
		if ((o = nftnl_set_alloc()) && nftnl_set_nlmsg_parse(nlh, o) == 0)
			table = nftnl_set_get_str(o, NFTNL_SET_TABLE);
		mine = o ? nl_skel_mine(ctx, table) : -ENOMEM;
		if (mine == 1) {
			if (nftnl_set_is_set(o, NFTNL_SET_FLAGS) &&
			    nftnl_set_get_u32(o, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)
				s->unsupported = 1; /* bound to a rule by id: not copied */
			ret = nl_skel_push((void ***)&s->sets, &s->nsets, o);
		} else {
			nftnl_set_free(o);
		}
		break;
	case NFT_MSG_GETOBJ:
		if ((o = nftnl_obj_alloc()) && nftnl_obj_nlmsg_parse(nlh, o) == 0)
			table = nftnl_obj_get_str(o, NFTNL_OBJ_TABLE);
		mine = o ? nl_skel_mine(ctx, table) : -ENOMEM;
		if (mine == 1)
			ret = nl_skel_push((void ***)&s->objs, &s->nobjs, o);
		else
			nftnl_obj_free(o);
		break;
	case NFT_MSG_GETRULE:
		if ((o = nftnl_rule_alloc()) && nftnl_rule_nlmsg_parse(nlh, o) == 0)
			table = nftnl_rule_get_str(o, NFTNL_RULE_TABLE);
		mine = o ? nl_skel_mine(ctx, table) : -ENOMEM;
		if (mine == 1)
			ret = nl_skel_push((void ***)&s->rules, &s->nrules, o);
		else
			nftnl_rule_free(o);
		break;
	}
	if (mine == 0)
		ret = 0; /* another table's: skipped */
	else if (mine < 0)
		ret = mine;
	if (ret < 0) {
		ctx->ret = ret;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int nl_skel_dump(struct nl *nl, const char *table, struct nl_skel *s, uint16_t type)
{
	char buf[NL_REQ_SIZE] = { 0 };
	struct nl_skel_ctx ctx = { s, table, nl->nfproto, type, 0 };
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, nl->nfproto, NLM_F_DUMP, ++nl->seq);
	int ret = nl_talk(nl, nlh, nl_skel_cb, &ctx);

	return ctx.ret ? ctx.ret : ret;
}

static int nl_skel_elems_cb(const struct nlmsghdr *nlh, void *data)
{
	return nftnl_set_elems_nlmsg_parse(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

void nl_skel_free(struct nl_skel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nchains; i++)
		nftnl_chain_free(s->chains[i]);
	for (size_t i = 0; i < s->nsets; i++)
		nftnl_set_free(s->sets[i]);
	for (size_t i = 0; i < s->nobjs; i++)
		nftnl_obj_free(s->objs[i]);
	for (size_t i = 0; i < s->nrules; i++)
		nftnl_rule_free(s->rules[i]);
	free(s->chains);
	free(s->sets);
	free(s->objs);
	free(s->rules);
	free(s);
}

int nl_skel_take(struct nl *nl, const char *table, struct nl_skel **out)
{
	struct nl_skel *s = calloc(1, sizeof(*s));
	int ret = s ? 0 : -ENOMEM;

	if (ret == 0)
		ret = nl_skel_dump(nl, table, s, NFT_MSG_GETCHAIN);
	if (ret == 0)
		ret = nl_skel_dump(nl, table, s, NFT_MSG_GETSET);
	if (ret == 0)
		ret = nl_skel_dump(nl, table, s, NFT_MSG_GETOBJ);
	if (ret == 0)
		ret = nl_skel_dump(nl, table, s, NFT_MSG_GETRULE);
	for (size_t i = 0; i < (s ? s->nsets : 0) && ret == 0; i++) {
		char buf[NL_REQ_SIZE] = { 0 };
		struct nlmsghdr *nlh;

		if (!nl_skel_plain(s->sets[i]))
			continue;
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nl->nfproto, NLM_F_DUMP,
					    ++nl->seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, s->sets[i]);
		ret = nl_talk(nl, nlh, nl_skel_elems_cb, s->sets[i]);
	}
	if (ret == 0 && s->unsupported)
		ret = -EOPNOTSUPP;
	if (ret < 0) {
		nl_skel_free(s);
		s = NULL;
	}
	*out = s;
	return ret;
}

/* Room for one more message in the transaction being built. */
#define NL_SKEL_MSG_MAX 65536

struct nl_skel_buf {
	char *p;
	size_t len, cap;
	uint32_t seq;
	int nfproto;
};

static struct nlmsghdr *nl_skel_msg(struct nl_skel_buf *b, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	if (b->cap - b->len < NL_SKEL_MSG_MAX) {
		size_t cap = b->cap * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return NULL;
		memset(p + b->cap, 0, cap - b->cap);
		b->p = p;
		b->cap = cap;
	}
	nlh = nftnl_nlmsg_build_hdr(b->p + b->len, type, b->nfproto, flags, ++b->seq);
	return nlh;
}

static int nl_skel_end(struct nl_skel_buf *b, struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_len > NL_SKEL_MSG_MAX)
		return -EMSGSIZE; /* written past the room: never, for a skeleton */
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

/* The elements of a plain set, if it has any. */
static int nl_skel_elems(struct nl_skel_buf *b, struct nftnl_set *set)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(set);
	struct nlmsghdr *nlh;
	bool any;

	if (!it)
		return -ENOMEM;
	any = nftnl_set_elems_iter_cur(it) != NULL;
	nftnl_set_elems_iter_destroy(it);
	if (!any)
		return 0;
	if (!(nlh = nl_skel_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE)))
		return -ENOMEM;
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	return nl_skel_end(b, nlh);
}

static bool nl_skel_has_set(const struct nl_skel *have, const char *name)
{
	for (size_t i = 0; i < have->nsets; i++)
		if (strcmp(nftnl_set_get_str(have->sets[i], NFTNL_SET_NAME), name) == 0)
			return true;
	return false;
}

/* s into table, whose sets (without their elements) are in have. */
static int nl_skel_build(struct nl_skel_buf *b, const char *table, const struct nl_skel *s,
			 const struct nl_skel *have)
{
	struct nftnl_rule *flush = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int ret = 0;

	if (!flush || !(nlh = nl_skel_msg(b, NFT_MSG_DELRULE, 0))) {
		nftnl_rule_free(flush);
		return -ENOMEM;
	}
	/* every rule of the table: "flush table" */
	nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, flush);
	nftnl_rule_free(flush);
	ret = nl_skel_end(b, nlh);
	for (size_t i = 0; i < s->nchains && ret == 0; i++) {
		struct nftnl_chain *c = s->chains[i];

		nftnl_chain_unset(c, NFTNL_CHAIN_HANDLE);
		nftnl_chain_unset(c, NFTNL_CHAIN_BYTES);
		nftnl_chain_unset(c, NFTNL_CHAIN_PACKETS);
		if (!(nlh = nl_skel_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE)))
			return -ENOMEM;
		nftnl_chain_nlmsg_build_payload(nlh, c);
		ret = nl_skel_end(b, nlh);
	}
	for (size_t i = 0; i < s->nsets && ret == 0; i++) {
		struct nftnl_set *set = s->sets[i];

		/* a set the table has stays as it is (a changed declaration
		 * is refused by the rules that use it, and nothing changes) */
		if (!nl_skel_has_set(have, nftnl_set_get_str(set, NFTNL_SET_NAME))) {
			nftnl_set_unset(set, NFTNL_SET_HANDLE);
			if (!(nlh = nl_skel_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE)))
				return -ENOMEM;
			nftnl_set_nlmsg_build_payload(nlh, set);
			ret = nl_skel_end(b, nlh);
		}
		if (ret < 0 || !nl_skel_plain(set))
			continue;
		/* a plain set holds exactly what the skeleton gives it */
		if (!(nlh = nl_skel_msg(b, NFT_MSG_DELSETELEM, 0)))
			return -ENOMEM;
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, nftnl_set_get_str(set, NFTNL_SET_NAME));
		ret = nl_skel_end(b, nlh);
		if (ret == 0)
			ret = nl_skel_elems(b, set);
	}
	for (size_t i = 0; i < s->nobjs && ret == 0; i++) {
		/* its handle, the scratch table's, goes along: the kernel looks
		 * objects (and sets) up by name when it adds them */
		if (!(nlh = nl_skel_msg(b, NFT_MSG_NEWOBJ, NLM_F_CREATE)))
			return -ENOMEM;
		nftnl_obj_nlmsg_build_payload(nlh, s->objs[i]);
		ret = nl_skel_end(b, nlh);
	}
	for (size_t i = 0; i < s->nrules && ret == 0; i++) {
		struct nftnl_rule *r = s->rules[i];

		nftnl_rule_unset(r, NFTNL_RULE_HANDLE);
		nftnl_rule_unset(r, NFTNL_RULE_POSITION);
		if (!(nlh = nl_skel_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND)))
			return -ENOMEM;
		nftnl_rule_nlmsg_build_payload(nlh, r);
		ret = nl_skel_end(b, nlh);
	}
	return ret;
}

int nl_skel_put(struct nl *nl, const char *table, const struct nl_skel *s, struct err *e)
{
	struct nl_skel_buf b = { .cap = 1 << 20, .seq = nl->seq, .nfproto = nl->nfproto };
	uint32_t bad_seq = 0, last;
	int ret;

	struct nl_skel have = { 0 };

	b.p = calloc(1, b.cap);
	if (!b.p)
		return err_setn(e, -ENOMEM, "out of memory");
	/* the table's sets: a few (a set listing does not hold elements) */
	ret = nl_skel_dump(nl, table, &have, NFT_MSG_GETSET);
	b.seq = nl->seq;
	nftnl_batch_begin(b.p, ++b.seq);
	b.len = NLMSG_ALIGN(((struct nlmsghdr *)b.p)->nlmsg_len);
	if (ret == 0)
		ret = nl_skel_build(&b, table, s, &have);
	for (size_t i = 0; i < have.nsets; i++)
		nftnl_set_free(have.sets[i]);
	free(have.sets);
	if (ret == 0 && b.cap - b.len < NL_REQ_SIZE)
		ret = -EMSGSIZE;
	if (ret < 0) {
		free(b.p);
		return err_setn(e, ret, "building the skeleton of table %s: %s",
				nl_table_desc(nl, table).s, strerror(-ret));
	}
	/* the last change asks for the acknowledgement; errors come unasked */
	last = b.seq;
	for (size_t off = 0; off < b.len;) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(b.p + off);

		if (nlh->nlmsg_seq == last)
			nlh->nlmsg_flags |= NLM_F_ACK;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	nftnl_batch_end(b.p + b.len, ++b.seq);
	b.len += NLMSG_ALIGN(((struct nlmsghdr *)(b.p + b.len))->nlmsg_len);
	nl->seq = b.seq;
	nl_set_bufsize(nl, SO_SNDBUFFORCE, SO_SNDBUF, (int)b.len + 65536);
	if (mnl_socket_sendto(nl->sock, b.p, b.len) < 0)
		ret = -errno;
	else
		ret = nl_batch_wait(nl, last, &bad_seq);
	free(b.p);
	if (ret < 0)
		return err_setn(e, ret, "nf_tables refused the skeleton of table %s: %s",
				nl_table_desc(nl, table).s, strerror(-ret));
	return 0;
}
