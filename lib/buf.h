/* buf.h - growable byte buffer shared by the daemon and the clients */
#ifndef HOTLOAD_BUF_H
#define HOTLOAD_BUF_H

#include <stddef.h>

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
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_int(struct buf *b, long long v); /* its decimal digits, without printf */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);
/* Free an empty buffer whose capacity grew past keep (a large request went
 * through), so a long-lived buffer does not hold its largest size. */
void buf_shrink(struct buf *b, size_t keep);
char *buf_steal(struct buf *b);

/* Length of the first line in b including its '\n', or 0 when b holds no
 * complete line yet. */
size_t buf_line_len(const struct buf *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
