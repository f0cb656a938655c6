// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally serve`: the dashboard over libmicrohttpd (a thread per
 * connection; dash.c serialises the store), read-only over the local store.  Who
 * may see what (operator, one label's customer, nobody) is decided once
 * per request from its token; the pages and the JSON come from dash.c.
 * See docs/dashboard.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "build-config.h"
#include "config.h"
#include "dash.h"
#include "file.h"
#include "query.h"
#include "serve.h"
#include "source.h"

bool serve_token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char d = la != lb;

	/* every byte of the longer one looked at, no early exit */
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)(i < lb ? b[i] : 0);
	return d == 0;
}

/* A token's characters: printable ASCII without blanks. */
static bool token_ok(const char *t, size_t len)
{
	if (len < SERVE_TOKEN_MIN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

/* The operator's token: the file's first line. */
static int load_operator(struct dash *d, const char *path, struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = file_load(path, 4096, &buf, &len, e);

	if (ret < 0)
		return ret;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (memchr(buf, '\0', len) || strchr(buf, '\n') || !token_ok(buf, len)) {
		free(buf);
		return err_set(e, "%s:1: the token must be one line of at least %d printable "
			       "characters without blanks", path, SERVE_TOKEN_MIN);
	}
	d->operator_token = buf;
	return 0;
}

struct tokens_ctx {
	struct dash *d;
	const char *path;
	struct err *e;
};

/* One `TOKEN LABEL` line of the customers' tokens file. */
static int customer_line(const char *s, size_t len, unsigned ln, void *data)
{
	struct tokens_ctx *x = data;
	struct dash *d = x->d;
	const char *f[3];
	size_t fl[3], pos = 0, n = 0;
	struct dash_token *v, *t;

	while (n < 3 && file_field(s, len, &pos, &f[n], &fl[n]) && f[n][0] != '#')
		n++;
	if (n == 0)
		return 0;
	if (n != 2)
		return err_set(x->e, "%s:%u: use TOKEN LABEL", x->path, ln);
	if (!token_ok(f[0], fl[0]))
		return err_set(x->e, "%s:%u: a token is at least %d printable characters "
			       "without blanks", x->path, ln, SERVE_TOKEN_MIN);
	if (!(v = realloc(d->tokens, (d->ntokens + 1) * sizeof(*v))))
		return err_setn(x->e, -ENOMEM, "out of memory");
	d->tokens = v;
	t = &v[d->ntokens];
	t->token = strndup(f[0], fl[0]);
	t->label = strndup(f[1], fl[1]);
	if (!t->token || !t->label) {
		free(t->token);
		free(t->label);
		return err_setn(x->e, -ENOMEM, "out of memory");
	}
	d->ntokens++;
	for (size_t i = 0; i + 1 < d->ntokens; i++)
		if (serve_token_eq(d->tokens[i].token, t->token))
			return err_set(x->e, "%s:%u: this token is there twice", x->path, ln);
	if (d->operator_token && serve_token_eq(d->operator_token, t->token))
		return err_set(x->e, "%s:%u: the operator's token", x->path, ln);
	return 0;
}

static int load_customers(struct dash *d, const char *path, struct err *e)
{
	struct tokens_ctx x = { d, path, e };
	char *buf = NULL;
	size_t len = 0;
	int ret = file_load(path, 16 << 20, &buf, &len, e);

	if (ret < 0)
		return ret;
	if (memchr(buf, '\0', len))
		ret = err_set(e, "%s: a NUL byte", path);
	else
		ret = file_each_line(buf, len, customer_line, &x);
	free(buf);
	return ret;
}

/* Is the listen address a loopback one (127.0.0.0/8, ::1)? */
static bool listen_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

#if HAVE_MICROHTTPD
#include <microhttpd.h>

#if MHD_VERSION >= 0x00097002
#define MHD_RESULT enum MHD_Result
#else
#define MHD_RESULT int
#endif

static const char *arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static MHD_RESULT answer(void *cls, struct MHD_Connection *c, const char *url,
			 const char *method, const char *version, const char *upload,
			 size_t *upload_size, void **con_cls)
{
	struct dash *d = cls;
	struct dash_req rq = { .url = url, .get = (const char *(*)(void *, const char *))arg,
			       .ctx = c };
	struct dash_resp rs = { 0 };
	struct MHD_Response *r;
	char *user = NULL, *pass = NULL;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	MHD_RESULT ret;

	rq.head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !rq.head) {
		dash_text(&rs, 405, "only GET and HEAD\n");
	} else {
		/* a token: Bearer, the password of basic auth, or ?token= */
		if (auth && strncmp(auth, "Bearer ", 7) == 0)
			rq.token = auth + 7;
		else if (auth && (user = MHD_basic_auth_get_username_password(c, &pass)))
			rq.token = pass ? pass : "";
		else
			rq.token = arg(c, "token");
		rq.query_token = !auth && rq.token;
		dash_answer(d, &rq, &rs);
	}
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	r = MHD_create_response_from_buffer(rs.len, rs.body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(rs.body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", rs.type ? rs.type : "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'; "
				"img-src 'self' data:; frame-ancestors 'none'");
	MHD_add_response_header(r, "Cache-Control", rs.cache ? "max-age=3600" : "no-store");
	if (rs.location)
		MHD_add_response_header(r, "Location", rs.location);
	if (rs.retry_after) {
		char v[16];

		snprintf(v, sizeof(v), "%u", rs.retry_after);
		MHD_add_response_header(r, "Retry-After", v);
	}
	if (rs.status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"nftally\"");
	ret = MHD_queue_response(c, rs.status, r);
	MHD_destroy_response(r);
	free(rs.location);
	return ret;
}

static int serve_listen(struct dash *d, const struct serve_opts *o,
			const struct sockaddr_storage *ss, const char *listen, struct err *e)
{
	/* a thread per connection: a label's page (seconds with many labels)
	 * or the wait for the first snapshot holds up no other request;
	 * dash.c serialises what shares the store and the time zone */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL;
	char *cert = NULL, *key = NULL;
	size_t n;
	int ret = 0;

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((o->tls_cert != NULL) != (o->tls_key != NULL))
		return err_set(e, "--tls-cert and --tls-key go together");
	if (o->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return err_setn(e, -ENOTSUP, "--tls-cert: this libmicrohttpd has no TLS");
		if ((ret = file_load(o->tls_cert, 1 << 20, &cert, &n, e)) < 0)
			return ret;
		cert[n] = '\0'; /* file_load leaves a byte for it */
		if ((ret = file_load(o->tls_key, 1 << 20, &key, &n, e)) < 0) {
			free(cert);
			return ret;
		}
		key[n] = '\0';
		flags |= MHD_USE_TLS;
	}
	errno = 0;
	if (cert)
		d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, d,
					  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
					  MHD_OPTION_CONNECTION_LIMIT, 256u,
					  MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					  MHD_OPTION_HTTPS_MEM_CERT, cert,
					  MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	else
		d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, d,
					  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
					  MHD_OPTION_CONNECTION_LIMIT, 256u,
					  MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!d->mhd) {
		int err = errno ? errno : EADDRINUSE;

		ret = err_setn(e, -err, "--listen %s: cannot listen%s: %s", listen,
			       cert ? " (or a bad certificate or key)" : "", strerror(err));
	}
	/* libmicrohttpd keeps pointers to cert and key while it runs */
	d->cert = cert;
	d->key = key;
	return ret;
}

static void serve_stop(struct dash *d)
{
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
}

#else /* !HAVE_MICROHTTPD */

static int serve_listen(struct dash *d, const struct serve_opts *o,
			const struct sockaddr_storage *ss, const char *listen, struct err *e)
{
	return err_setn(e, -ENOTSUP, "serve: this nftally was built without libmicrohttpd "
			"(meson feature 'http')");
}

static void serve_stop(struct dash *d)
{
}

#endif

/* The charting library: the system's (Debian's libjs-dygraphs), else the
 * copy a package carries (the RPM: RHEL packages none), else the system's
 * path, whose absence the pages then report. */
static const char *serve_dygraphs(void)
{
	static const char carried[] = NFTALLY_WEB_DIR "/dygraphs/dygraph.min.js";

	if (access(SERVE_DYGRAPHS_DEFAULT, R_OK) < 0 && access(carried, R_OK) == 0)
		return carried;
	return SERVE_DYGRAPHS_DEFAULT;
}

int serve_run(const struct serve_opts *o, struct err *e)
{
	const char *listen = o->listen ? o->listen : SERVE_LISTEN_DEFAULT;
	struct dash d = { .billing = o->billing, .quotas = o->quotas, .bill = o->bill,
			  .web_dir = o->web_dir,
			  .dygraphs = o->dygraphs ? o->dygraphs : serve_dygraphs() };
	struct sockaddr_storage ss;
	struct source *bg = NULL;
	sigset_t set;
	int ret = 0, sig;

	if (!config_parse_listen(listen, &ss))
		return err_set(e, "--listen: bad address (use ADDR:PORT, [ADDR6]:PORT or :PORT)");
	if (o->at && query_parse_time(o->at, false, &d.at) < 0)
		return err_set(e, "--at: bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], "
			       "YYYY-MM or @SECONDS)");
	d.fixed_at = o->at != NULL;
	/* tests only: time moved on under a running serve (docs/dashboard.md) */
	d.at_file = d.fixed_at ? getenv("NFTALLY_SERVE_AT_FILE") : NULL;
	d.hold_file = d.at_file ? getenv("NFTALLY_SERVE_HOLD_FILE") : NULL;
	d.loopback = listen_loopback(&ss);
	if (o->token_file)
		ret = load_operator(&d, o->token_file, e);
	if (ret == 0 && o->tokens_file)
		ret = load_customers(&d, o->tokens_file, e);
	if (ret == 0 && !d.loopback && !d.operator_token)
		ret = err_set(e, "--listen %s is not a loopback address: an operator token "
			      "(--token-file) is required", listen);
	/* two connections: the requests', and the refresher's */
	for (int i = 0; i < 2 && ret == 0; i++) {
		struct source **s = i ? &bg : &d.store;
		char tz[256];

		ret = o->postgresql ? source_open_pg(s, o->postgresql,
						     query_local_zone(tz, sizeof(tz)), e) :
				      source_open_store(s, o->store_path, o->host, e);
	}
	if (ret == 0)
		ret = dash_start(&d, bg, e);
	if (ret == -ENOENT)
		err_set(e, "%s: no store there (has nftally run written one?)", o->store_path);
	if (ret == 0)
		ret = serve_listen(&d, o, &ss, listen, e);
	if (ret == 0) {
		fprintf(stderr, "nftally: serving %s://%s/\n", d.cert ? "https" : "http", listen);
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		while (sigwait(&set, &sig) != 0)
			;
	}
	serve_stop(&d);
	dash_finish(&d);
	return ret;
}
