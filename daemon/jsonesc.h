/* jsonesc.h - the body of a JSON string, for output that is UTF-8 already */
#ifndef HOTLOAD_JSONESC_H
#define HOTLOAD_JSONESC_H

#include <stddef.h>

#include "buf.h"

/* Append s[0..len) to b as the inside of a JSON string (no quotes). s is
 * valid UTF-8 already (a worker's output is repaired as it is read), so
 * only quotes, backslashes and control characters need escaping: much
 * cheaper than jansson checking and escaping megabytes of output a
 * character at a time. */
void json_escape(struct buf *b, const char *s, size_t len);

#endif
