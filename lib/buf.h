/* buf.h - growable byte buffer shared by the daemon and the clients */
#ifndef HOTLOAD_BUF_H
#define HOTLOAD_BUF_H

#include <stddef.h>
#include <string.h>

/* A byte buffer. Always NUL-terminated past len when data != NULL, so a
 * buffer of text can be handed to C string functions. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_reserve(struct buf *b, size_t extra);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_int(struct buf *b, long long v); /* its decimal digits, without printf */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);
/* Free an empty buffer whose capacity grew past keep (a large request went
 * through), so a long-lived buffer does not hold its largest size. */
void buf_shrink(struct buf *b, size_t keep);
char *buf_steal(struct buf *b);

/* Append len bytes of data. Inline, as buf_puts is: the daemon writes each
 * line it sends in many short pieces, most of them string literals, whose
 * length and copy the compiler then works out where they are written. */
static inline void
buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len >= b->cap)
		buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

static inline void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Length of the first line in b including its '\n', or 0 when b holds no
 * complete line yet. */
size_t buf_line_len(const struct buf *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
