// SPDX-License-Identifier: GPL-2.0-or-later
/* Rendering: templates become the table skeleton with nothing but the
 * validated table name substituted; addresses become counter and element
 * commands whose every name is derived from the address. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include "build-config.h"
#include "file.h"
#include "render.h"

const char *const render_maps[8] = {
	"in4", "out4", "in6", "out6", "in4net", "out4net", "in6net", "out6net",
};

#define RENDER_TEMPLATE_MAX (1 << 20)

static unsigned line_of(const char *start, const char *p)
{
	unsigned line = 1;

	for (; start < p; start++)
		line += *start == '\n';
	return line;
}

/* Is `word` present in text as a whole word (e.g. "map in4 {")? */
static bool has_map(const char *text, const char *map)
{
	size_t n = strlen(map);

	for (const char *p = strstr(text, "map "); p; p = strstr(p + 1, "map ")) {
		const char *q = p + 4;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, map, n) == 0 && (q[n] == ' ' || q[n] == '\t' || q[n] == '{'))
			return true;
	}
	return false;
}

static int check_maps(const char *out, const char *name, struct err *e)
{
	/* Without the marker, nftally would refuse its own table later. */
	if (!strstr(out, "counter nftally_owner"))
		return err_set(e, "%s: template does not define counter nftally_owner", name);
	for (size_t i = 0; i < 8; i++)
		if (!has_map(out, render_maps[i]))
			return err_set(e, "%s: template does not define map %s", name,
				       render_maps[i]);
	return 0;
}

int render_skeleton(const char *tmpl, size_t len, const char *name,
		    const char *table, char **out, struct err *e)
{
	size_t tlen = strlen(table), cap = len + 1, n = 0;
	bool seen_table = false;
	char *buf;

	if (memchr(tmpl, '\0', len))
		return err_set(e, "%s:%u: NUL byte in template", name,
			       line_of(tmpl, memchr(tmpl, '\0', len)));
	/* Each @TABLE@ (7 bytes) grows by at most tlen - 7 bytes. */
	cap += (len / 7 + 1) * (tlen > 7 ? tlen - 7 : 0);
	buf = malloc(cap);
	if (!buf)
		return err_setn(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < len;) {
		const char *at = tmpl + i, *close;
		size_t k = 1;

		if (*at != '@' || i + 1 >= len) {
			buf[n++] = tmpl[i++];
			continue;
		}
		while (i + k < len && at[k] >= 'A' && at[k] <= 'Z')
			k++;
		if (k == 1 || i + k >= len || at[k] != '@') {
			buf[n++] = tmpl[i++]; /* an nft reference such as @in4 */
			continue;
		}
		close = at + k;
		if (close - at != 6 || strncmp(at, "@TABLE", 6) != 0) {
			free(buf);
			return err_set(e, "%s:%u: unknown placeholder %.*s@", name,
				       line_of(tmpl, at), (int)(close - at), at);
		}
		memcpy(buf + n, table, tlen);
		n += tlen;
		i += k + 1;
		seen_table = true;
	}
	buf[n] = '\0';
	if (!seen_table) {
		free(buf);
		return err_set(e, "%s: template never names its table (@TABLE@)", name);
	}
	if (check_maps(buf, name, e) < 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static int read_all(const char *path, char **text, size_t *len, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int ret;

	if (fd < 0)
		return err_setn(e, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: a template must be a regular file", path);
	}
	ret = file_read_all(fd, RENDER_TEMPLATE_MAX, text, len);
	close(fd);
	if (ret == -EFBIG)
		return err_setn(e, ret, "%s: a template is at most 1 MiB", path);
	if (ret < 0)
		return err_setn(e, ret, "%s: cannot read: %s", path, strerror(-ret));
	(*text)[*len] = '\0';
	return 0;
}

static bool template_name_ok(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

int render_load_template(const char *tmpl, const char *dir, char **path_out,
			 char **text, size_t *len, struct err *e)
{
	const char *dirs[3] = { dir, NFTALLY_TEMPLATE_DIR, NFTALLY_SOURCE_TEMPLATE_DIR };
	char *path;

	if (strchr(tmpl, '/')) {
		path = strdup(tmpl);
		if (!path)
			return err_setn(e, -ENOMEM, "out of memory");
		goto found;
	}
	if (!template_name_ok(tmpl)) {
		char shown[80];

		return err_set(e, "bad template name '%s' (use a-z, 0-9, -, _)",
			       err_printable(shown, sizeof(shown), tmpl, strlen(tmpl)));
	}
	for (size_t i = 0; i < 3; i++) {
		if (!dirs[i] || !*dirs[i] || (i > 0 && dir && *dir))
			continue;
		if (asprintf(&path, "%s/%s.nft", dirs[i], tmpl) < 0)
			return err_setn(e, -ENOMEM, "out of memory");
		if (access(path, R_OK) == 0)
			goto found;
		free(path);
	}
	if (dir && *dir)
		return err_set(e, "template '%s' not found in %s", tmpl, dir);
	return err_set(e, "template '%s' not found in %s or %s", tmpl,
		       NFTALLY_TEMPLATE_DIR, NFTALLY_SOURCE_TEMPLATE_DIR);
found:
	if (read_all(path, text, len, e) < 0) {
		free(path);
		return -EINVAL;
	}
	*path_out = path;
	return 0;
}

void render_data(FILE *f, const char *table, const struct targets *t)
{
	char name[ADDR_NAMELEN], text[ADDR_STRLEN];

	for (size_t i = 0; i < t->n; i++) {
		const struct addr *a = &t->v[i].addr;

		addr_format(a, text);
		for (int d = ADDR_IN; d <= ADDR_OUT; d++) {
			addr_counter_name(a, d, name);
			fprintf(f, "add counter inet %s %s\n", table, name);
			fprintf(f, "add element inet %s %s { %s : \"%s\" }\n", table,
				addr_map_name(a, d), text, name);
		}
	}
}
