// SPDX-License-Identifier: GPL-2.0-or-later
/* `nftally import-ipset`: `ipset save` output in, a targets file out.
 * Members of address sets (hash:ip, hash:net, bitmap:ip) become targets,
 * labelled with the member's comment, or else the set's name.  The result
 * is parsed as a targets file before it is written, so what is written is
 * what nftally would accept.  Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipset.h"
#include "targets.h"

#define IPSET_SETS_MAX 4096

struct ipset_set {
	char name[32];
	int family;    /* 4 or 6 */
	int netmask;   /* hash:ip netmask N: members are /N prefixes; 0: hosts */
	bool usable;   /* an address set */
	bool wanted;   /* imported (named, or all usable when none is named) */
	char type[32];
};

struct ipset_parse {
	const char *name;
	struct ipset_set *sets;
	size_t nsets;
	FILE *out, *warn;
	struct err *e;
	unsigned line;
	size_t members;
	unsigned *src;  /* per output line: the input line it came from */
	size_t nsrc, srccap;
};

/* The next blank-separated word of line (advanced); a word starting with a
 * double quote runs to the closing quote, which is left out.  NULL at the
 * end or for an unterminated quote (*bad set). */
static char *next_word(char **line, bool *bad)
{
	char *p = *line, *w;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	if (*p == '"') {
		w = ++p;
		p = strchr(p, '"');
		if (!p) {
			*bad = true;
			return NULL;
		}
	} else {
		w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	if (*p)
		*p++ = '\0';
	*line = p;
	return w;
}

static struct ipset_set *find_set(struct ipset_parse *p, const char *name)
{
	for (size_t i = 0; i < p->nsets; i++)
		if (strcmp(p->sets[i].name, name) == 0)
			return &p->sets[i];
	return NULL;
}

static int parse_create(struct ipset_parse *p, char *rest, const char *const *names,
			size_t nnames)
{
	bool bad = false;
	char *name = next_word(&rest, &bad), *type = next_word(&rest, &bad), *w;
	struct ipset_set *s;

	if (!name || !type || strlen(name) >= sizeof(s->name) || strlen(type) >= sizeof(s->type))
		return err_set(p->e, "%s:%u: bad create line", p->name, p->line);
	if (find_set(p, name))
		return err_set(p->e, "%s:%u: set %s created twice", p->name, p->line, name);
	if (p->nsets == IPSET_SETS_MAX)
		return err_set(p->e, "%s:%u: more than %d sets", p->name, p->line,
			       IPSET_SETS_MAX);
	s = &p->sets[p->nsets++];
	memset(s, 0, sizeof(*s));
	strcpy(s->name, name);
	strcpy(s->type, type);
	s->family = 4;
	s->usable = !strcmp(type, "hash:ip") || !strcmp(type, "hash:net") ||
		    !strcmp(type, "bitmap:ip");
	while ((w = next_word(&rest, &bad))) {
		if (strcmp(w, "family") == 0 && (w = next_word(&rest, &bad)))
			s->family = strcmp(w, "inet6") == 0 ? 6 : 4;
		else if (w && strcmp(w, "netmask") == 0 && (w = next_word(&rest, &bad))) {
			char *end;
			long v = strtol(w, &end, 10);

			if (*end || v < 1 || v > 128)
				return err_set(p->e, "%s:%u: bad netmask '%.16s'", p->name, p->line, w);
			s->netmask = (int)v;
		} else if (w && strcmp(w, "bitmask") == 0) {
			/* members masked by an arbitrary mask are no prefixes */
			s->usable = false;
			snprintf(s->type, sizeof(s->type), "%.20s bitmask", type);
		}
	}
	if ((s->family == 4 && s->netmask > 32))
		return err_set(p->e, "%s:%u: bad netmask %d for an IPv4 set", p->name, p->line,
			       s->netmask);
	if ((s->family == 4 && s->netmask == 32) || (s->family == 6 && s->netmask == 128))
		s->netmask = 0;
	s->wanted = nnames == 0 && s->usable;
	for (size_t i = 0; i < nnames; i++)
		if (strcmp(names[i], name) == 0) {
			if (!s->usable)
				return err_set(p->e, "%s:%u: set %s is of type %s; only hash:ip, "
					       "hash:net and bitmap:ip (without bitmask) hold "
					       "addresses to account",
					       p->name, p->line, name, s->type);
			s->wanted = true;
		}
	if (!s->usable && nnames == 0 && p->warn)
		fprintf(p->warn, "nftally: %s:%u: set %s (%s) skipped: not an address set\n",
			p->name, p->line, name, type);
	return 0;
}

/* A comment as a label: blanks become '_' (a label is one field); what the
 * targets parser refuses is refused when the result is checked. */
static void put_label(struct ipset_parse *p, const char *label)
{
	bool changed = false;

	for (const char *c = label; *c; c++) {
		if (*c == ' ' || *c == '\t') {
			fputc('_', p->out);
			changed = true;
		} else {
			fputc(*c, p->out);
		}
	}
	if (changed && p->warn)
		fprintf(p->warn, "nftally: %s:%u: comment \"%s\" has blanks; its label "
			"has '_' for them\n", p->name, p->line, label);
}

static int parse_add(struct ipset_parse *p, char *rest)
{
	bool bad = false;
	char *name = next_word(&rest, &bad), *entry = next_word(&rest, &bad), *w;
	const char *label, *why = "bad address";
	char text[ADDR_STRLEN + 8], canon[ADDR_STRLEN];
	struct ipset_set *s;
	struct addr a;

	if (!name || !entry)
		return err_set(p->e, "%s:%u: bad add line", p->name, p->line);
	s = find_set(p, name);
	if (!s)
		return err_set(p->e, "%s:%u: add to set %s before its create line", p->name,
			       p->line, name);
	if (!s->wanted)
		return 0;
	label = s->name;
	while ((w = next_word(&rest, &bad))) {
		if (strcmp(w, "comment") == 0) {
			label = next_word(&rest, &bad);
			if (!label)
				break;
		} else if (strcmp(w, "nomatch") == 0) {
			return err_set(p->e, "%s:%u: %s is an exception (nomatch) in set %s; "
				       "a targets file has none", p->name, p->line, entry, name);
		}
	}
	if (bad || !label)
		return err_set(p->e, "%s:%u: unterminated comment", p->name, p->line);
	if (!*label)
		return err_set(p->e, "%s:%u: empty comment: no label for %s", p->name, p->line,
			       entry);
	if (strchr(entry, '-'))
		return err_set(p->e, "%s:%u: range %s: only addresses and prefixes can be "
			       "imported", p->name, p->line, entry);
	if (s->netmask && !strchr(entry, '/'))
		snprintf(text, sizeof(text), "%.*s/%d", ADDR_STRLEN, entry, s->netmask);
	else
		snprintf(text, sizeof(text), "%.*s", ADDR_STRLEN, entry);
	if (addr_parse(text, &a, &why) < 0 || (a.family == AF_INET6) != (s->family == 6))
		return err_set(p->e, "%s:%u: bad member '%s' of set %s: %s", p->name, p->line,
			       entry, name, addr_parse(text, &a, &why) < 0 ? why :
			       "wrong address family");
	if (p->nsrc == p->srccap) {
		size_t cap = p->srccap ? 2 * p->srccap : 1024;
		unsigned *v = realloc(p->src, cap * sizeof(*v));

		if (!v)
			return err_setn(p->e, -ENOMEM, "out of memory");
		p->src = v;
		p->srccap = cap;
	}
	if (label[0] == '#' || label[0] == '@')
		return err_set(p->e, "%s:%u: label '%.64s' would start with '#' or '@' in a "
			       "targets file", p->name, p->line, label);
	p->src[p->nsrc++] = p->line;
	put_label(p, label);
	fprintf(p->out, " %s\n", addr_format(&a, canon));
	p->members++;
	return 0;
}

static int parse_line(struct ipset_parse *p, char *line, const char *const *names,
		      size_t nnames)
{
	bool bad = false;
	char *rest = line, *verb = next_word(&rest, &bad);

	if (!verb || verb[0] == '#')
		return 0;
	if (strcmp(verb, "create") == 0)
		return parse_create(p, rest, names, nnames);
	if (strcmp(verb, "add") == 0)
		return parse_add(p, rest);
	return err_set(p->e, "%s:%u: expected 'create' or 'add' (the output of ipset save)",
		       p->name, p->line);
}

/* A targets error names lines of the generated text ("-:LINE: ... (line
 * N)"): name the input's lines instead. */
static void remap_error(const struct ipset_parse *p, struct err *e)
{
	char msg[sizeof(e->msg)], *paren;
	unsigned out = 0, earlier = 0;
	int n = 0;

	if (sscanf(e->msg, "-:%u:%n", &out, &n) != 1 || n == 0 || out < 2 || out - 2 >= p->nsrc)
		return;
	snprintf(msg, sizeof(msg), "%s", e->msg + n);
	paren = strstr(msg, " (line ");
	if (paren && sscanf(paren, " (line %u)", &earlier) == 1 && earlier >= 2 &&
	    earlier - 2 < p->nsrc)
		snprintf(paren, sizeof(msg) - (size_t)(paren - msg), " (line %u)",
			 p->src[earlier - 2]);
	err_set(e, "%s:%u:%s", p->name, p->src[out - 2], msg);
}

int ipset_import(const char *buf, size_t len, const char *name, const char *const *sets,
		 size_t nsets, FILE *out, FILE *warn, struct err *e)
{
	struct ipset_parse p = { .name = name, .warn = warn, .e = e };
	char *copy = malloc(len + 1), *text = NULL, *line, *next;
	size_t tlen = 0;
	struct targets t;
	int ret = 0;

	p.sets = calloc(IPSET_SETS_MAX, sizeof(*p.sets));
	p.out = open_memstream(&text, &tlen);
	if (!copy || !p.sets || !p.out) {
		ret = err_setn(e, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		ret = err_set(e, "%s: NUL byte in input", name);
		goto out;
	}
	fprintf(p.out, "# targets imported by nftally import-ipset from %s\n", name);
	for (line = copy; ret == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		p.line++;
		ret = parse_line(&p, line, sets, nsets);
	}
	for (size_t i = 0; ret == 0 && i < nsets; i++)
		if (!find_set(&p, sets[i]))
			ret = err_set(e, "%s: no set %s", name, sets[i]);
	if (fclose(p.out) != 0 && ret == 0)
		ret = err_setn(e, -ENOMEM, "out of memory");
	p.out = NULL;
	if (ret < 0)
		goto out;
	/* What is written must be a targets file nftally accepts. */
	targets_init(&t);
	ret = targets_parse_buffer(&t, "-", text, tlen, e);
	targets_finish(&t);
	if (ret < 0)
		remap_error(&p, e);
	if (ret == 0 && fwrite(text, 1, tlen, out) != tlen)
		ret = err_setn(e, -EIO, "cannot write the targets");
out:
	if (p.out)
		fclose(p.out);
	free(text);
	free(copy);
	free(p.sets);
	free(p.src);
	return ret;
}
