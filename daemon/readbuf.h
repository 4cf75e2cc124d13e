/* readbuf.h - the one buffer that worker sockets are read into
 *
 * Every read from a worker (its output streams, its control socket) is
 * handed on, and copied by whoever keeps it, before the next read: one
 * buffer serves them all, instead of one per socket that a burst of output
 * leaves resident for the life of the worker. Single-threaded, like the
 * loop that uses it.
 */
#ifndef HOTLOAD_READBUF_H
#define HOTLOAD_READBUF_H

#include <stddef.h>
#include <uv.h>

#define READBUF_SIZE (256u << 10) /* a whole socket buffer in one read */

/* A uv_alloc_cb: the shared buffer. */
void readbuf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);

/* While what was read into the shared buffer is being handed on: a read
 * made meanwhile (readbuf_borrow) must not overwrite it. */
void readbuf_lock(void);
void readbuf_unlock(void);

/* A buffer of READBUF_SIZE for a read outside the loop's callbacks: the
 * shared one, locked, unless it is in use, else one of its own; give it back
 * with readbuf_return. */
char *readbuf_borrow(void);
void readbuf_return(char *b);

/* Give the shared buffer's pages back to the system (the daemon is idle);
 * the next read faults them in again, zeroed. */
void readbuf_release_memory(void);

#endif
