/* jsonesc.h - JSON text written straight into a buffer: the body of a
 * string for output that is UTF-8 already, and values of jansson's */
#ifndef HOTLOAD_JSONESC_H
#define HOTLOAD_JSONESC_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* Append s[0..len) to b as the inside of a JSON string (no quotes). s is
 * valid UTF-8 already (a worker's output is repaired as it is read), so
 * only quotes, backslashes and control characters need escaping: much
 * cheaper than jansson checking and escaping megabytes of output a
 * character at a time. */
void json_escape(struct buf *b, const char *s, size_t len);

/* Append s (valid UTF-8, NUL-terminated) to b as a JSON string, quotes
 * included; with flags JSON_ENSURE_ASCII, characters beyond ASCII as
 * \u escapes (by jansson, for the rare string that has them). */
void json_write_string(struct buf *b, const char *s, size_t flags);

/* Append v to b as compact JSON: what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY | flags) gives, without a string of its own to copy and
 * free. Strings, integers, true, false and null are written here; reals,
 * arrays and objects by jansson's encoder, straight into b. Every request
 * sends a line to its agent and one to its client: building each as a
 * jansson object to dump it was a tenth of hotloadd's user time. */
void json_write_value(struct buf *b, const json_t *v, size_t flags);

/* Append ,"key":v to b, or "key":v when b ends with '{'. */
void json_write_member(struct buf *b, const char *key, const json_t *v, size_t flags);

/* ms as a JSON number with three decimals: printf's %.3f, but for how the
 * last digit of an exact half is rounded (printf's formatting of a double
 * was a tenth of the cost of a request's done). */
void json_write_millis(struct buf *b, double ms);

#endif
