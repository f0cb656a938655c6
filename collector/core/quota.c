// SPDX-License-Identifier: GPL-2.0-or-later
/* The quotas file and the levels a label's usage crosses.  Pure: the file
 * becomes values (labels, numbers), and decisions are functions of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "quota.h"
#include "targets.h"
#include "units.h"

void quotas_init(struct quotas *q)
{
	q->v = NULL;
	q->n = 0;
}

void quotas_finish(struct quotas *q)
{
	for (size_t i = 0; q->v && i < q->n; i++)
		free(q->v[i].label);
	free(q->v);
	quotas_init(q);
}

const char *quota_parse_warn(const char *s, size_t len, unsigned char *out, size_t *n)
{
	size_t i = 0, k = 0;

	if (len == 4 && memcmp(s, "none", 4) == 0) {
		*n = 0;
		return NULL;
	}
	while (i < len) {
		unsigned v = 0, digits = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (!digits || i >= len || s[i] != '%')
			return "a warning is a percentage such as 80%";
		i++;
		if (v < 1 || v > 99)
			return "a warning is 1% to 99% (100% is quota_exceeded)";
		if (k && v <= out[k - 1])
			return "warnings must be in ascending order, each once";
		if (k == QUOTA_WARN_MAX)
			return "more than 8 warnings";
		out[k++] = (unsigned char)v;
		if (i < len && s[i++] != ',')
			return "warnings are separated by commas";
		if (i == len && s[len - 1] == ',')
			return "a warning is a percentage such as 80%";
	}
	if (!k)
		return "a warning is a percentage such as 80%";
	*n = k;
	return NULL;
}

/* ---- the file ---- */

struct qparse {
	struct quotas q;
	size_t cap;
	const char *name;
	const unsigned char *dflt;
	size_t ndflt;
	struct err *e;
};

static int qparse_bill(struct quota *x, const char *v, size_t n)
{
	static const char *const names[] = { "sum", "max", "in", "out" };

	for (size_t i = 0; i < 4; i++)
		if (strlen(names[i]) == n && memcmp(names[i], v, n) == 0) {
			x->bill = (enum quota_bill)i;
			return 0;
		}
	return -EINVAL;
}

/* action=mark:0xNN, throttle:RATE or drop; why gets what is wrong. */
static int qparse_action(struct quota *x, const char *v, size_t n, char *why, size_t size)
{
	char buf[64], *end;
	struct err e;

	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strcmp(buf, "drop") == 0) {
		x->action = QUOTA_ACT_DROP;
		return 0;
	}
	if (strncmp(buf, "mark:", 5) == 0) {
		unsigned long long m;

		errno = 0;
		/* decimal or 0x hex; a leading 0 is not octal here */
		m = strtoull(buf + 5, &end, buf[5] == '0' && (buf[6] == 'x' || buf[6] == 'X') ? 16
											: 10);
		if (buf[5] < '0' || buf[5] > '9' || *end || errno || m == 0 || m > 0xffffffffull) {
			snprintf(why, size, "bad mark (1 to 0xffffffff, such as mark:0x10)");
			return -EINVAL;
		}
		x->action = QUOTA_ACT_MARK;
		x->mark = (uint32_t)m;
		return 0;
	}
	if (strncmp(buf, "throttle:", 9) == 0) {
		int ret = units_parse_rate(buf + 9, &x->rate, &e);

		if (ret < 0 || x->rate == 0) {
			snprintf(why, size, "bad rate (such as throttle:10mbit): %.100s",
				 ret < 0 ? e.msg : "zero");
			return -EINVAL;
		}
		/* nft takes a 64-bit rate; keep it within what every nft prints */
		if (x->rate > (1ull << 40)) {
			snprintf(why, size, "rate above 1 TiB/s");
			return -EINVAL;
		}
		x->action = QUOTA_ACT_THROTTLE;
		return 0;
	}
bad:
	snprintf(why, size, "unknown action (mark:0xNN, throttle:RATE or drop)");
	return -EINVAL;
}

/* One KEY=VALUE option after the limit. */
static int qparse_option(struct qparse *p, struct quota *x, const char *f, size_t flen,
			 unsigned line, unsigned *seen)
{
	static const char *const keys[] = { "warn", "bill", "action" };
	const char *eq = memchr(f, '=', flen), *v, *why;
	char shown[80], msg[200];
	size_t klen, vlen, k;

	klen = eq ? (size_t)(eq - f) : flen;
	for (k = 0; k < 3; k++)
		if (strlen(keys[k]) == klen && memcmp(keys[k], f, klen) == 0)
			break;
	if (!eq || k == 3)
		return err_set(p->e, "%s:%u: unknown option '%s' (warn=, bill=, action=)",
			       p->name, line, err_printable(shown, sizeof(shown), f, flen));
	if (*seen & (1u << k))
		return err_set(p->e, "%s:%u: %s= given twice", p->name, line, keys[k]);
	*seen |= 1u << k;
	v = eq + 1;
	vlen = flen - klen - 1;
	if (k == 0) {
		why = quota_parse_warn(v, vlen, x->warn, &x->nwarn);
		if (why)
			return err_set(p->e, "%s:%u: bad warn '%s': %s", p->name, line,
				       err_printable(shown, sizeof(shown), v, vlen), why);
		return 0;
	}
	if (k == 1) {
		if (qparse_bill(x, v, vlen) < 0)
			return err_set(p->e, "%s:%u: bad bill '%s' (sum, max, in or out)", p->name,
				       line, err_printable(shown, sizeof(shown), v, vlen));
		return 0;
	}
	if (qparse_action(x, v, vlen, msg, sizeof(msg)) < 0)
		return err_set(p->e, "%s:%u: bad action '%s': %s", p->name, line,
			       err_printable(shown, sizeof(shown), v, vlen), msg);
	return 0;
}

static int qparse_limit(struct qparse *p, struct quota *x, const char *f, size_t flen,
			unsigned line)
{
	char buf[64], shown[80];
	struct err e;

	if (flen >= sizeof(buf))
		return err_set(p->e, "%s:%u: bad limit '%s'", p->name, line,
			       err_printable(shown, sizeof(shown), f, flen));
	memcpy(buf, f, flen);
	buf[flen] = '\0';
	if (units_parse_bytes(buf, &x->limit, &e) < 0)
		return err_set(p->e, "%s:%u: bad limit '%s': %s", p->name, line,
			       err_printable(shown, sizeof(shown), f, flen), e.msg);
	if (x->limit == 0)
		return err_set(p->e, "%s:%u: a limit of 0 bytes (remove the line instead)",
			       p->name, line);
	return 0;
}

static int qparse_push(struct qparse *p, struct quota *x, unsigned line)
{
	if (p->q.n == QUOTA_MAX) {
		free(x->label);
		return err_set(p->e, "%s:%u: more than %d quotas", p->name, line, QUOTA_MAX);
	}
	if (p->q.n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct quota *v = reallocarray(p->q.v, cap, sizeof(*v));

		if (!v) {
			free(x->label);
			return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
		}
		p->q.v = v;
		p->cap = cap;
	}
	p->q.v[p->q.n++] = *x;
	return 0;
}

static int qparse_line(const char *s, size_t len, unsigned line, void *data)
{
	struct qparse *p = data;
	struct quota x = { .line = line };
	const char *f, *problem;
	size_t pos = 0, flen;
	unsigned seen = 0;
	int ret;

	if (memchr(s, '\0', len))
		return err_set(p->e, "%s:%u: NUL byte in line", p->name, line);
	if (!file_field(s, len, &pos, &f, &flen) || f[0] == '#')
		return 0;
	if ((problem = targets_label_problem(f, flen)))
		return err_set(p->e, "%s:%u: %s", p->name, line, problem);
	memcpy(x.warn, p->dflt, p->ndflt);
	x.nwarn = p->ndflt;
	if (!(x.label = strndup(f, flen)))
		return err_setn(p->e, -ENOMEM, "%s:%u: out of memory", p->name, line);
	ret = -EINVAL;
	if (!file_field(s, len, &pos, &f, &flen) || f[0] == '#') {
		err_set(p->e, "%s:%u: missing limit (LABEL LIMIT [options])", p->name, line);
		goto fail;
	}
	if (qparse_limit(p, &x, f, flen, line) < 0)
		goto fail;
	while (file_field(s, len, &pos, &f, &flen) && f[0] != '#')
		if (qparse_option(p, &x, f, flen, line, &seen) < 0)
			goto fail;
	return qparse_push(p, &x, line);
fail:
	free(x.label);
	return ret;
}

static int quota_by_label(const void *a, const void *b)
{
	const struct quota *x = a, *y = b;
	int c = strcmp(x->label, y->label);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Distinct throttle rates, counted up to one past the most allowed. */
static size_t quota_count_rates(const struct quotas *q)
{
	uint64_t seen[QUOTA_RATES_MAX + 1];
	size_t n = 0;

	for (size_t i = 0; i < q->n && n <= QUOTA_RATES_MAX; i++) {
		bool dup = q->v[i].action != QUOTA_ACT_THROTTLE;

		for (size_t j = 0; j < n && !dup; j++)
			dup = seen[j] == q->v[i].rate;
		if (!dup)
			seen[n++] = q->v[i].rate;
	}
	return n;
}

int quotas_parse_buffer(struct quotas *q, const char *name, const char *buf, size_t len,
			const unsigned char *dflt_warn, size_t ndflt, struct err *e)
{
	struct qparse p = { .name = name, .dflt = dflt_warn, .ndflt = ndflt, .e = e };
	int ret;

	quotas_init(&p.q);
	ret = file_each_line(buf, len, qparse_line, &p);
	if (ret == 0 && p.q.n) {
		qsort(p.q.v, p.q.n, sizeof(*p.q.v), quota_by_label);
		for (size_t i = 1; i < p.q.n && ret == 0; i++)
			if (strcmp(p.q.v[i].label, p.q.v[i - 1].label) == 0) {
				char shown[80];

				ret = err_set(e, "%s:%u: label '%s' has a quota already (line %u)",
					      name, p.q.v[i].line,
					      err_printable(shown, sizeof(shown), p.q.v[i].label,
							    strlen(p.q.v[i].label)),
					      p.q.v[i - 1].line);
			}
	}
	if (ret == 0 && quota_count_rates(&p.q) > QUOTA_RATES_MAX)
		ret = err_set(e, "%s: more than %d different throttle rates (each is a rule of "
			      "its own)", name, QUOTA_RATES_MAX);
	if (ret < 0) {
		quotas_finish(&p.q);
		return ret;
	}
	quotas_finish(q);
	*q = p.q;
	return 0;
}

int quotas_load(struct quotas *q, const char *path, const unsigned char *dflt_warn,
		size_t ndflt, struct err *e)
{
	char *buf;
	size_t len;
	int ret = file_load(path, QUOTA_FILE_MAX, &buf, &len, e);

	if (ret < 0)
		return ret;
	ret = quotas_parse_buffer(q, path, buf, len, dflt_warn, ndflt, e);
	free(buf);
	return ret;
}

const struct quota *quotas_find(const struct quotas *q, const char *label)
{
	struct quota key = { .label = (char *)label };
	size_t lo = 0, hi = q->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key.label, q->v[mid].label);

		if (c == 0)
			return &q->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- decisions ---- */

uint64_t quota_billed(enum quota_bill b, const struct counts *c)
{
	switch (b) {
	case QUOTA_BILL_MAX:
		return c->in_bytes > c->out_bytes ? c->in_bytes : c->out_bytes;
	case QUOTA_BILL_IN:
		return c->in_bytes;
	case QUOTA_BILL_OUT:
		return c->out_bytes;
	default:
		return c->in_bytes + c->out_bytes < c->in_bytes ? UINT64_MAX
								 : c->in_bytes + c->out_bytes;
	}
}

/* used >= limit * p / 100, exactly. */
static bool quota_reached(const struct quota *q, uint64_t used, unsigned p)
{
	return (unsigned __int128)used * 100 >= (unsigned __int128)q->limit * p;
}

size_t quota_crossed(const struct quota *q, uint64_t used, const struct quota_levels *fired,
		     struct quota_levels *out)
{
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= q->nwarn; i++) {
		unsigned p = i < q->nwarn ? q->warn[i] : 100;

		if (quota_reached(q, used, p) && !quota_levels_has(fired, p)) {
			quota_levels_add(out, p);
			n++;
		}
	}
	return n;
}

int quota_state(const struct quota *q, uint64_t used)
{
	if (quota_reached(q, used, 100))
		return 2;
	for (size_t i = 0; i < q->nwarn; i++)
		if (quota_reached(q, used, q->warn[i]))
			return 1;
	return 0;
}

const char *quota_bill_name(enum quota_bill b)
{
	static const char *const names[] = { "sum", "max", "in", "out" };

	return names[b];
}

const char *quota_action_name(enum quota_action a)
{
	static const char *const names[] = { "none", "mark", "throttle", "drop" };

	return names[a];
}
