/* utf8.h - turn arbitrary bytes into valid UTF-8, a chunk at a time */
#ifndef HOTLOAD_UTF8_H
#define HOTLOAD_UTF8_H

#include <stddef.h>

struct buf;

/* Bytes of a multi-byte sequence cut off at the end of one chunk, kept for
 * the next one so that a character split across reads is not mangled. */
struct utf8_carry {
	unsigned char bytes[4];
	size_t len;
};

/* Append in[0..len) to out as valid UTF-8: each invalid byte becomes U+FFFD,
 * nothing is dropped, and an incomplete sequence at the end waits in c. */
void utf8_repair(struct utf8_carry *c, const char *in, size_t len, struct buf *out);

/* Length of the longest prefix of s that is valid, complete UTF-8: when
 * it is len, the bytes can be used as they are. */
size_t utf8_valid_len(const char *s, size_t len);

/* End of stream: whatever waits in c is incomplete and becomes U+FFFD. */
void utf8_finish(struct utf8_carry *c, struct buf *out);

#endif
