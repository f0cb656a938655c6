// SPDX-License-Identifier: GPL-2.0-or-later
/* GET /metrics over libmicrohttpd in its external-poll mode: run's loop
 * polls the daemon's epoll descriptor and calls http_run.  Bodies are
 * reference counted, so a scrape still being sent keeps the text it began
 * with while the next report replaces it.  Connections are bounded in
 * number, per address and in time, so that clients that connect and stay
 * (or trickle a request byte by byte) cannot keep a scrape out. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "http.h"

static int http_parse_listen(const char *listen, struct sockaddr_storage *ss,
			     struct err *e)
{
	if (!config_parse_listen(listen, ss))
		return err_setn(e, -EINVAL, "--listen: bad address (use ADDR:PORT, "
				"[ADDR6]:PORT or :PORT)");
	return 0;
}


#if HAVE_MICROHTTPD
#include <microhttpd.h>

#if MHD_VERSION >= 0x00097002
#define MHD_RESULT enum MHD_Result
#else
#define MHD_RESULT int
#endif

struct body {
	unsigned refs;
	size_t len;
	char *buf;
};

/* Why these numbers: see docs/metrics.md#the-listener.  epoll has no
 * FD_SETSIZE bound; 512 stays below the usual soft RLIMIT_NOFILE (1024). */
#define HTTP_CONNECTIONS 512u
#define HTTP_PER_ADDRESS 8u
#define HTTP_IDLE_SECONDS 5u
/* libmicrohttpd's timeout counts only silence: a client sending a byte
 * every few seconds would keep its connection for ever.  Each request
 * must be received and answered within this time from the start of the
 * connection or the end of the request before it. */
#define HTTP_REQUEST_SECONDS 30.0

/* A connection that is open, with the time it must be done by. */
struct conn {
	struct conn *prev, *next;
	int fd;
	bool cut;        /* shut down, waiting for libmicrohttpd to close it */
	double deadline; /* CLOCK_MONOTONIC seconds */
};

struct http {
	struct MHD_Daemon *d;
	struct body *body;
	struct conn *conns;
};

static double http_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* libmicrohttpd tells of each connection that opens and closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	struct conn *x = *socket_context;
	const union MHD_ConnectionInfo *i;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!x)
			return;
		if (x->prev)
			x->prev->next = x->next;
		else
			h->conns = x->next;
		if (x->next)
			x->next->prev = x->prev;
		free(x);
		*socket_context = NULL;
		return;
	}
	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	x = calloc(1, sizeof(*x));
	if (!x || !i) {
		free(x); /* out of memory: only the idle timeout bounds this one */
		return;
	}
	x->fd = i->connect_fd;
	x->deadline = http_now() + HTTP_REQUEST_SECONDS;
	x->next = h->conns;
	if (h->conns)
		h->conns->prev = x;
	h->conns = x;
	*socket_context = x;
}

/* A request was answered: the next one on this connection gets its own
 * HTTP_REQUEST_SECONDS. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	for (struct conn *x = h->conns; x && i; x = x->next)
		if (x->fd == i->connect_fd) {
			x->deadline = http_now() + HTTP_REQUEST_SECONDS;
			break;
		}
}

/* Shut down the connections past their deadline; libmicrohttpd then reads
 * the end of the stream and closes them itself. */
static void http_cut(struct http *h)
{
	double now = http_now();

	for (struct conn *x = h->conns; x; x = x->next)
		if (!x->cut && now >= x->deadline) {
			shutdown(x->fd, SHUT_RDWR);
			x->cut = true;
		}
}

static void body_put(struct body *b)
{
	if (b && --b->refs == 0) {
		free(b->buf);
		free(b);
	}
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body *b = cls;
	size_t n;

	if (pos >= b->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = b->len - (size_t)pos < max ? b->len - (size_t)pos : max;
	memcpy(buf, b->buf + pos, n);
	return (ssize_t)n;
}

static void body_free(void *cls)
{
	body_put(cls);
}

static MHD_RESULT answer(void *cls, struct MHD_Connection *c, const char *url,
			 const char *method, const char *version, const char *upload,
			 size_t *upload_size, void **con_cls)
{
	static const char not_found[] = "not found: nftally serves /metrics\n";
	static const char not_allowed[] = "only GET and HEAD\n";
	struct http *h = cls;
	struct MHD_Response *r;
	unsigned status = MHD_HTTP_OK;
	MHD_RESULT ret;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		r = MHD_create_response_from_buffer(sizeof(not_allowed) - 1,
						    (void *)not_allowed, MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1,
						    (void *)not_found, MHD_RESPMEM_PERSISTENT);
	} else if (!h->body) {
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		h->body->refs++;
		r = MHD_create_response_from_callback(h->body->len, 64 * 1024, body_read,
						      h->body, body_free);
		if (!r)
			body_put(h->body);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type",
				status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
						      : "text/plain; charset=utf-8");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int http_start(struct http **out, const char *listen, struct err *e)
{
	struct sockaddr_storage ss;
	struct http *h;
	unsigned flags = MHD_USE_EPOLL;
	int ret = http_parse_listen(listen, &ss, e);

	*out = NULL;
	if (ret < 0)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_setn(e, -ENOMEM, "out of memory");
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		flags |= MHD_USE_DUAL_STACK;
	errno = 0;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_PER_ADDRESS,
				MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_SECONDS,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_END);
	if (!h->d) {
		int err = errno ? errno : EADDRINUSE;

		free(h);
		return err_setn(e, -err, "--listen %s: cannot listen: %s", listen, strerror(err));
	}
	*out = h;
	return 0;
}

int http_fd(struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int http_timeout_ms(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	double now = http_now();
	int ms = 60000;

	if (MHD_get_timeout(h->d, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)ms)
		ms = (int)t;
	for (struct conn *x = h->conns; x; x = x->next)
		if (!x->cut && (x->deadline - now) * 1000 < ms)
			ms = x->deadline > now ? (int)((x->deadline - now) * 1000) + 1 : 0;
	return ms;
}

void http_run(struct http *h)
{
	MHD_run(h->d);
	http_cut(h);
}

void http_set_body(struct http *h, char *buf, size_t len)
{
	struct body *b = buf ? malloc(sizeof(*b)) : NULL;

	if (!buf) {
		body_put(h->body);
		h->body = NULL;
		return;
	}
	if (!b) {
		free(buf); /* the old body stays */
		return;
	}
	b->refs = 1;
	b->len = len;
	b->buf = buf;
	body_put(h->body);
	h->body = b;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	body_put(h->body);
	free(h);
}

#else /* !HAVE_MICROHTTPD */

struct http {
	int unused;
};

int http_start(struct http **out, const char *listen, struct err *e)
{
	struct sockaddr_storage ss;
	int ret = http_parse_listen(listen, &ss, e);

	*out = NULL;
	if (ret < 0)
		return ret;
	return err_setn(e, -ENOTSUP, "--listen: this nftally was built without "
			"libmicrohttpd (meson feature 'http'); use prom_file instead");
}

int http_fd(struct http *h)
{
	return -1;
}

int http_timeout_ms(struct http *h)
{
	return -1;
}

void http_run(struct http *h)
{
}

void http_set_body(struct http *h, char *buf, size_t len)
{
	free(buf);
}

void http_stop(struct http *h)
{
}

#endif
