/* peer.h - who is at the other end of a client connection */
#ifndef HOTLOAD_PEER_H
#define HOTLOAD_PEER_H

#include <sys/types.h>

struct peer {
	int known; /* 0: the rest is not known */
	uid_t uid;
	pid_t pid;       /* 0: not known (TCP) */
	int unix_socket; /* the peer came over a Unix socket */
};

/* Who owns the other end of connected socket fd: SO_PEERCRED for a Unix
 * socket (unix_socket, as the listener that accepted fd knows); for TCP the
 * owner of the client's live socket on this machine, looked up by its exact
 * addresses with netlink sock_diag (Linux). -ENOENT when there is no live
 * socket at the other end (the client closed it, or it is not on this
 * machine): the owner is unknown. */
int peer_identify(int fd, int unix_socket, struct peer *ret);

/* Whether the client of connected socket fd closed its socket, rather than
 * only shutting down its writing end (both reach us as end of file);
 * unix_socket: fd is a Unix socket, not TCP. */
int peer_closed(int fd, int unix_socket);

#endif
