/* access.h - who may run code: peers, the token, refusals */
#ifndef HOTLOAD_ACCESS_H
#define HOTLOAD_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "peer.h"

#define ACCESS_TOKEN_LEN 64 /* hex digits in the token file */

struct access;

enum access_verdict {
	ACCESS_ALLOW,      /* the daemon's user or root */
	ACCESS_NEED_TOKEN, /* let in only with the token in its header */
	ACCESS_REFUSE,     /* another user, or a client whose socket is gone */
};

/* token_required: every TCP connection must show the token (listen.token:
 * required); refusals_per_second: refused connections answered per uid. */
struct access *access_new(int token_required, double refusals_per_second);
void access_free(struct access *a);
/* A reload changed the configuration. */
void access_set_policy(struct access *a, int token_required, double refusals_per_second);

/* Read the token from path, or make one there (0600, 64 random hex
 * digits) when there is none or it is not a token. -EPERM when the file
 * is not a regular file of ours with mode 0600; reason in err. */
int access_load_token(struct access *a, const char *path, char *err, size_t errlen);

/* Decide about the client on connected socket fd, right after accept and
 * before anything it sent is read. tcp: it came over TCP. ret_peer gets
 * what is known of the peer; *reterr_why a reason for a refusal. */
enum access_verdict access_check(struct access *a, int fd, int tcp, struct peer *ret_peer,
                                 const char **reterr_why);

/* Whether token (a header's token=, may be "") is the daemon's; compared
 * in constant time. */
int access_token_ok(const struct access *a, const char *token);

/* A connection from peer was refused on listener for why. Logs a warning (at most one line per uid
 * every few seconds, with a count of the ones not logged) and returns whether the refusal is
 * answered: a uid that is refused more than refusals_per_second times a second gets its connections
 * closed at once. */
int access_refused(struct access *a, const struct peer *peer, const char *listener, const char *why,
                   uint64_t now_ns);

#endif
