/* conn.h - one client connection: header, raw or JSON mode, control */
#ifndef HOTLOAD_CONN_H
#define HOTLOAD_CONN_H

#include <stddef.h>

struct conn;
struct listener;
struct server;

/* Accept a waiting client of l. Returns NULL when accept failed. */
struct conn *conn_accept(struct server *srv, struct listener *l, size_t max_payload,
                         int over_limit);

/* Close now: queued requests are dropped, running ones finish unheard. */
void conn_close(struct conn *c);

/* Close once what was written to the client has reached it. */
void conn_end(struct conn *c);

#endif
