/* peer.h - who is at the other end of a client connection */
#ifndef HOTLOAD_PEER_H
#define HOTLOAD_PEER_H

#include <sys/types.h>

/* The uid of the process that owns the other end of connected socket fd:
 * SO_PEERCRED for a Unix socket; for TCP the owner of the client's socket,
 * found in /proc/net/tcp or tcp6 (Linux; the peer must be on this
 * machine). -ENOENT when it cannot be told. */
int peer_uid(int fd, uid_t *ret);

#endif
