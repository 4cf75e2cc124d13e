/* yamlutil.c - typed access to a libyaml document, with FILE:LINE:COL errors */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "yamlutil.h"

#define YAMLUTIL_FILE_MAX (4u << 20)

/* Line and column (1-based) of byte offset off in s. */
static void
offset_position(const char *s, size_t len, size_t off, size_t *ret_line, size_t *ret_col)
{
	size_t i, line = 1, col = 1;

	for (i = 0; i < off && i < len; i++) {
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*ret_line = line;
	*ret_col = col;
}

/* Turn a libyaml parser error into "FILE:LINE:COL: problem (context)". */
static int
parser_fail(struct yamlutil_doc *d, const yaml_parser_t *p, const char *s, size_t len)
{
	size_t line, col;

	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(d->err, d->errlen, "%s: out of memory", d->file);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		offset_position(s, len, p->problem_offset, &line, &col);
	} else {
		line = p->problem_mark.line + 1;
		col = p->problem_mark.column + 1;
	}
	if (p->context)
		snprintf(d->err, d->errlen, "%s:%zu:%zu: %s (%s at line %zu column %zu)", d->file,
		         line, col, p->problem ? p->problem : "syntax error", p->context,
		         p->context_mark.line + 1, p->context_mark.column + 1);
	else
		snprintf(d->err, d->errlen, "%s:%zu:%zu: %s", d->file, line, col,
		         p->problem ? p->problem : "syntax error");
	return -EINVAL;
}

/* Parse s into d->doc; a second document in the same stream is an error. */
static int
load(struct yamlutil_doc *d, const char *s, size_t len)
{
	yaml_parser_t p;
	yaml_document_t extra;
	yaml_node_t *n;
	int r = 0;

	if (!yaml_parser_initialize(&p)) {
		snprintf(d->err, d->errlen, "%s: out of memory", d->file);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)s, len);
	if (!yaml_parser_load(&p, &d->doc)) {
		r = parser_fail(d, &p, s, len);
		goto fail;
	}
	d->loaded = 1;
	if (!yaml_parser_load(&p, &extra)) {
		r = parser_fail(d, &p, s, len);
		goto fail;
	}
	n = yaml_document_get_root_node(&extra);
	if (n) {
		r = yamlutil_fail(d, n, "expected one YAML document, found a second one");
		yaml_document_delete(&extra);
		goto fail;
	}
	yaml_document_delete(&extra);
fail:
	yaml_parser_delete(&p);
	return r;
}

int
yamlutil_load_string(struct yamlutil_doc *d, const char *name, const char *s, size_t len, char *err,
                     size_t errlen)
{
	int r;

	memset(d, 0, sizeof(*d));
	d->file = xstrdup(name);
	d->err = err;
	d->errlen = errlen;
	r = load(d, s, len);
	if (r < 0)
		yamlutil_done(d);
	return r;
}

int
yamlutil_load_file(struct yamlutil_doc *d, const char *path, struct stat *ret_st, char *err,
                   size_t errlen)
{
	struct buf b = BUF_INIT;
	struct stat st;
	ssize_t n;
	int fd, r;

	memset(d, 0, sizeof(*d));
	d->err = err;
	d->errlen = errlen;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	buf_reserve(&b, 0);
	for (;;) {
		buf_reserve(&b, 4096);
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
		if (b.len > YAMLUTIL_FILE_MAX) {
			r = -EFBIG;
			snprintf(err, errlen, "%s: larger than %u bytes", path, YAMLUTIL_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	r = yamlutil_load_string(d, path, b.data, b.len, err, errlen);
	if (r >= 0 && ret_st)
		*ret_st = st;
fail:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return r;
}

void
yamlutil_done(struct yamlutil_doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = 0;
	free(d->file);
	d->file = NULL;
}

int
yamlutil_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return 1;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

yaml_node_t *
yamlutil_root(struct yamlutil_doc *d)
{
	yaml_node_t *n;

	if (!d->loaded)
		return NULL;
	n = yaml_document_get_root_node(&d->doc);
	if (!n || yamlutil_is_null(n))
		return NULL;
	return n;
}

yaml_node_t *
yamlutil_node(struct yamlutil_doc *d, int index)
{
	return yaml_document_get_node(&d->doc, index);
}

/* Copy message into out with control characters written as \n, \t, \xNN:
 * an error is one line, whatever a scalar it quotes holds (a folded plain
 * scalar has newlines, a quoted one can hold an ESC). */
static void
escape_controls(const char *message, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p;

	if (!outlen)
		return;
	for (p = message; *p && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[5];
		size_t n;

		if (c >= 0x20 && c != 0x7f) {
			out[o++] = (char)c;
			continue;
		}
		if (c == '\n')
			n = (size_t)snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			n = (size_t)snprintf(esc, sizeof(esc), "\\t");
		else if (c == '\r')
			n = (size_t)snprintf(esc, sizeof(esc), "\\r");
		else
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		if (o + n + 1 > outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
}

int
yamlutil_fail(struct yamlutil_doc *d, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int k;

	k = snprintf(msg, sizeof(msg), "%s:%zu:%zu: ", d->file, n ? n->start_mark.line + 1 : 1,
	             n ? n->start_mark.column + 1 : 1);
	if (k >= 0 && (size_t)k < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + k, sizeof(msg) - (size_t)k, fmt, ap);
		va_end(ap);
	}
	escape_controls(msg, d->err, d->errlen);
	return -EINVAL;
}

const char *
yamlutil_describe(const yaml_node_t *n, char *out, size_t outlen)
{
	if (!n || yamlutil_is_null(n))
		return "nothing";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a sequence";
	if (n->data.scalar.length > 40) {
		const char *v = (const char *)n->data.scalar.value;
		int cut = 37;

		/* not in the middle of a UTF-8 character */
		while (cut > 0 && ((unsigned char)v[cut] & 0xc0) == 0x80)
			cut--;
		snprintf(out, outlen, "'%.*s...'", cut, v);
	} else
		snprintf(out, outlen, "'%s'", (const char *)n->data.scalar.value);
	return out;
}

/* Prefix for messages: "what: " or nothing. */
static const char *
sep(const char *what)
{
	return what && *what ? ": " : "";
}

/* Report that n is not what was expected. */
static int
expected(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, const char *want)
{
	char tmp[64];

	return yamlutil_fail(d, n, "%s%sexpected %s, got %s", what ? what : "", sep(what), want,
	                     yamlutil_describe(n, tmp, sizeof(tmp)));
}

int
yamlutil_check_map(struct yamlutil_doc *d, const yaml_node_t *n, const char *what,
                   const char *const *known)
{
	yaml_node_pair_t *p, *q;
	struct buf list = BUF_INIT;
	size_t i;
	int r = 0;

	if (n->type != YAML_MAPPING_NODE)
		return expected(d, n, what, "a mapping");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlutil_node(d, p->key);
		const char *key;

		if (k->type != YAML_SCALAR_NODE)
			return expected(d, k, what, "a plain key");
		key = (const char *)k->data.scalar.value;
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *o = yamlutil_node(d, q->key);

			if (o->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)o->data.scalar.value, key))
				return yamlutil_fail(d, k, "%s%sduplicate key '%s'",
				                     what ? what : "", sep(what), key);
		}
		if (!known)
			continue;
		for (i = 0; known[i]; i++)
			if (!strcmp(known[i], key))
				break;
		if (known[i])
			continue;
		for (i = 0; known[i]; i++)
			buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
		r = yamlutil_fail(d, k, "%s%sunknown key '%s' (known: %s)", what ? what : "",
		                  sep(what), key, list.data ? list.data : "none");
		buf_free(&list);
		return r;
	}
	return 0;
}

yaml_node_t *
yamlutil_get(struct yamlutil_doc *d, const yaml_node_t *n, const char *key)
{
	yaml_node_pair_t *p;

	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlutil_node(d, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
			return yamlutil_node(d, p->value);
	}
	return NULL;
}

int
yamlutil_string(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, int nullable,
                char **ret)
{
	if (nullable && yamlutil_is_null(n)) {
		*ret = NULL;
		return 0;
	}
	if (!n || n->type != YAML_SCALAR_NODE || yamlutil_is_null(n))
		return expected(d, n, what, "a string");
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return yamlutil_fail(d, n, "%s%sstring contains a NUL byte", what ? what : "",
		                     sep(what));
	*ret = xstrdup((const char *)n->data.scalar.value);
	return 0;
}

/* The text of a scalar node, or NULL when n is not a non-null scalar. */
static const char *
scalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || yamlutil_is_null(n))
		return NULL;
	return (const char *)n->data.scalar.value;
}

int
yamlutil_int(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, long min, long max,
             long *ret)
{
	const char *s = scalar(n);
	char want[96], *end;
	long v;

	snprintf(want, sizeof(want), "an integer from %ld to %ld", min, max);
	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return expected(d, n, what, want);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return expected(d, n, what, want);
	*ret = v;
	return 0;
}

int
yamlutil_double(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, double min,
                double max, double *ret)
{
	const char *s = scalar(n);
	char want[96], *end;
	double v;

	snprintf(want, sizeof(want), "a number of seconds from %g to %g", min, max);
	if (!s || !*s || !strchr("0123456789.-+", *s) || strpbrk(s, "xXnN"))
		return expected(d, n, what, want);
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return expected(d, n, what, want);
	*ret = v;
	return 0;
}

int
yamlutil_size(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, size_t min,
              size_t *ret)
{
	const char *s = scalar(n);
	unsigned long long v;
	unsigned shift = 0;
	static const struct {
		const char *text;
		unsigned long long value;
	} examples[] = {
	        {"65536", 65536}, {"512K", 512ULL << 10}, {"64M", 64ULL << 20}, {"1G", 1ULL << 30}};
	char want[96], *end;
	struct buf like = BUF_INIT;
	size_t i;

	/* examples the key takes: none below its minimum */
	for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
		if (examples[i].value >= min)
			buf_printf(&like, "%s%s", like.len ? ", " : "", examples[i].text);
	snprintf(want, sizeof(want), "a size of at least %zu bytes (like %s)", min,
	         like.len ? like.data : "4G");
	buf_free(&like);
	if (!s || *s < '0' || *s > '9')
		return expected(d, n, what, want);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return expected(d, n, what, want);
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (shift && (*end == 'B' || *end == 'b'))
		end++;
	if (*end || v > (SIZE_MAX >> 1 >> shift) || (v << shift) < min)
		return expected(d, n, what, want);
	*ret = (size_t)(v << shift);
	return 0;
}

int
yamlutil_strv(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, char ***ret,
              size_t *ret_n)
{
	yaml_node_item_t *it;
	char **v, item[128];
	size_t i = 0, count;
	int r;

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return expected(d, n, what, "a list of strings");
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = xcalloc(count + 1, sizeof(char *));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		snprintf(item, sizeof(item), "%s[%zu]", what ? what : "", i);
		r = yamlutil_string(d, yamlutil_node(d, *it), item, 0, &v[i]);
		if (r < 0)
			goto fail;
	}
	*ret = v;
	*ret_n = count;
	return 0;
fail:
	for (i = 0; i < count; i++)
		free(v[i]);
	free(v);
	return r;
}
