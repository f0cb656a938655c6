/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The /metrics listener (--listen), driven from nftally run's poll loop:
 * no thread of its own.  Built with libmicrohttpd when the meson feature
 * `http` finds it; without it, http_start fails with a clear error. */
#ifndef NFTALLY_HTTP_H
#define NFTALLY_HTTP_H

#include <stddef.h>

#include "err.h"

struct http;

/* Listen on "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" (every address). */
int http_start(struct http **h, const char *listen, struct err *e);
/* The descriptor to poll for input, and the poll timeout it wants (-1:
 * none). */
int http_fd(struct http *h);
int http_timeout_ms(struct http *h);
/* Serve what is ready. */
void http_run(struct http *h);
/* Replace the body of /metrics (takes buf; responses under way keep the
 * old one until they are sent); buf NULL: none, /metrics answers 503
 * until the next. */
void http_set_body(struct http *h, char *buf, size_t len);
void http_stop(struct http *h);

#endif
