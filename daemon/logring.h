/* logring.h - a target's recent output, in a fixed amount of memory
 *
 * What the workers of a target print, kept for "hotloadctl logs": records
 * (time, pid, stream, text) in one circular buffer of a fixed size, where a
 * new record pushes the oldest ones out. The size bounds the memory the
 * records take, their bookkeeping included, however small the pieces of
 * output are; adding is O(1) and allocates nothing after the first record.
 */
#ifndef HOTLOAD_LOGRING_H
#define HOTLOAD_LOGRING_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

struct logring {
	char *data; /* cap bytes, allocated by the first logring_add */
	size_t cap;
	size_t head;      /* offset of the oldest record */
	size_t used;      /* bytes of records, from head on (wrapping) */
	size_t n;         /* records */
	size_t text_left; /* what a record's text can be, at most */
};

/* An empty ring of cap bytes (at least a few hundred). */
void logring_init(struct logring *r, size_t cap);
void logring_free(struct logring *r);

/* Keep a piece of output: the end of it if it alone is larger than the ring
 * can hold (cut at a UTF-8 character boundary). text is valid UTF-8. */
void logring_add(struct logring *r, double time, pid_t pid, int fd, const char *text, size_t len);

size_t logring_count(const struct logring *r);

/* The newest max records, oldest first: [{"time","pid","stream","data"}]. */
json_t *logring_json(const struct logring *r, size_t max);

#endif
