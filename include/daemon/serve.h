/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `nftally serve`: the dashboard, read-only over the local store: an
 * overview of every label, a page per label and the JSON API behind them,
 * with operator and per-label customer tokens (docs/dashboard.md). */
#ifndef NFTALLY_SERVE_H
#define NFTALLY_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "bill.h"
#include "err.h"

struct billing;

#define SERVE_LISTEN_DEFAULT "127.0.0.1:9480"
#define SERVE_DYGRAPHS_DEFAULT "/usr/share/javascript/dygraphs/dygraph.min.js"
#define SERVE_TOKEN_MIN 16 /* bytes of a token at least */

struct serve_opts {
	const char *listen;      /* NULL: SERVE_LISTEN_DEFAULT */
	const char *store_path;  /* the store to read */
	const char *postgresql;  /* or the central database (a libpq conninfo); NULL: the store */
	const char *host;        /* this host's name for a store of schema 1 (NULL: gethostname) */
	const struct billing *billing;
	enum bill_policy bill;
	bool bill_set;           /* bill was given on the command line */
	const char *at;          /* the time the pages are made as of (query_parse_time); NULL: now */
	const char *token_file;  /* the operator's token (one line); NULL: none */
	const char *tokens_file; /* customers' `TOKEN LABEL` lines; NULL: none */
	const char *tls_cert, *tls_key; /* PEM files: HTTPS when both are set */
	const char *web_dir;     /* nftally.js and nftally.css (NULL: built-in search) */
	const char *dygraphs;    /* dygraph.min.js (NULL: SERVE_DYGRAPHS_DEFAULT, else the
				    packaged copy in NFTALLY_WEB_DIR/dygraphs) */
	const struct quotas *quotas; /* the quotas file's, for their bars (NULL: none) */
};

/* Check o, load the tokens, open the store read-only and serve until
 * SIGTERM or SIGINT (which the caller has blocked).  Refuses a listen
 * address other than loopback without an operator token.  0, or a
 * negative errno with e set (-EINVAL: bad options or token files;
 * -ENOENT: no store; -ENOTSUP: built without libmicrohttpd, or TLS asked
 * of a libmicrohttpd without it). */
int serve_run(const struct serve_opts *o, struct err *e);

/* Is the token a equal to b, in time that depends only on their lengths? */
bool serve_token_eq(const char *a, const char *b);

#endif
