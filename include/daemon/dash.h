/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dashboard's requests and answers, apart from the HTTP library: who
 * a request's token makes it (operator, one label's customer, nobody),
 * the JSON API and the HTML pages from the store (docs/dashboard.md). */
#ifndef NFTALLY_DASH_H
#define NFTALLY_DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bill.h"
#include "query.h"

struct billing;
struct store;

struct dash_token {
	char *token, *label;
};

/* The overview's numbers of one set of filters, kept a while. */
struct dash_cache {
	char *host, *netns; /* the filters (NULL: none) */
	int64_t now, made;  /* as of; when computed (time(NULL)) */
	struct query_bills cur, prev;
};

struct dash {
	struct store *store;
	const struct billing *billing;
	enum bill_policy bill;
	int64_t at;          /* with fixed_at: the time the pages are made as of */
	bool fixed_at, loopback;
	char *operator_token; /* NULL: none */
	struct dash_token *tokens;
	size_t ntokens;
	const char *web_dir, *dygraphs;
	struct dash_cache cache;
	/* the HTTP library's */
	void *mhd;
	char *cert, *key;
};

/* A request: its path, its query arguments (get(ctx, name), NULL when
 * absent, percent-decoded) and the token it came with (NULL: none). */
struct dash_req {
	const char *url, *token;
	bool head, query_token; /* the token came as ?token= */
	const char *(*get)(void *ctx, const char *name);
	void *ctx;
};

/* The answer: status, body (malloc'd; the caller frees it), its type. */
struct dash_resp {
	unsigned status;
	char *body;
	size_t len;
	const char *type;
	char *location; /* malloc'd, for a redirect */
	bool cache;     /* a static file */
};

/* Answer rq into *rs (always filled: a 500 when out of memory). */
void dash_answer(struct dash *d, const struct dash_req *rq, struct dash_resp *rs);
/* A plain-text answer. */
void dash_text(struct dash_resp *rs, unsigned status, const char *text);
/* Free what d holds (tokens, cache, store, cert, key); not d. */
void dash_finish(struct dash *d);

#endif
