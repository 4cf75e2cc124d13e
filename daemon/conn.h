/* conn.h - one client connection: header, raw or JSON mode, control */
#ifndef HOTLOAD_CONN_H
#define HOTLOAD_CONN_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct listener;
struct server;

/* Accept a waiting client of l. Returns NULL when accept failed. */
struct conn *conn_accept(struct server *srv, struct listener *l, size_t max_payload,
                         int over_limit);

/* Close now: queued requests are dropped, running ones finish unheard. */
void conn_close(struct conn *c);

/* The daemon is quiet: an input buffer that holds nothing is freed (the
 * next read allocates one again), so a client that stays connected after
 * a large request does not keep its pages resident. */
void conn_release_memory(struct conn *c);

/* Close once what was written to the client has reached it, however long
 * the client takes. */
void conn_end(struct conn *c);

/* conn_end, but closed anyway when the client takes nothing of what is
 * left for ms (the daemon's shutdown must not wait for a client that
 * stopped reading). */
void conn_end_by(struct conn *c, uint64_t ms);

#endif
