/* access.c - who may run code: peers, the token, refusals
 *
 * Only the daemon's user and root may run code (DESIGN.md, Security).
 * Over a Unix socket the kernel says who connected; over TCP on this
 * machine peer.c finds the owner of the client's live socket. Where
 * neither can work (a listener other machines reach, a kernel without
 * sock_diag) the client shows a token instead: 32 random bytes in a file
 * only the user can read.
 *
 * Refusing costs the daemon an accept, a lookup, a write and a close.
 * Another user who floods the port must not make it cost more than that,
 * nor fill the log: refusals are answered and logged at a bounded rate per
 * uid, and connections past it are closed at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "buf.h"
#include "log.h"

#define ACCESS_UIDS_MAX 256                /* uids whose refusals are counted */
#define ACCESS_LOG_EVERY_NS 10000000000ull /* a uid's refusals: one log line per 10 s */

struct refusals {
	uid_t uid;
	int known;
	double tokens;       /* refusals that may still be answered */
	uint64_t seen_ns;    /* last refusal */
	uint64_t logged_ns;  /* last log line; 0: never */
	unsigned long quiet; /* refusals since that line */
};

struct access {
	int token_required;
	double rate;
	char token[ACCESS_TOKEN_LEN + 1]; /* "" until loaded */
	int lookup_warned;
	struct refusals *v;
	size_t n;
};

struct access *
access_new(int token_required, double refusals_per_second)
{
	struct access *a = xcalloc(1, sizeof(*a));

	a->token_required = token_required;
	a->rate = refusals_per_second;
	a->v = xcalloc(ACCESS_UIDS_MAX, sizeof(*a->v));
	return a;
}

void
access_free(struct access *a)
{
	if (!a)
		return;
	/* the token does not outlive us in freed memory */
	explicit_bzero(a->token, sizeof(a->token));
	free(a->v);
	free(a);
}

void
access_set_policy(struct access *a, int token_required, double refusals_per_second)
{
	a->token_required = token_required;
	a->rate = refusals_per_second;
}

static int
is_token(const char *s, size_t len)
{
	size_t i;

	if (len != ACCESS_TOKEN_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A new token in path: created exclusively, so nobody can have it open. */
static int
make_token(struct access *a, const char *path, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ACCESS_TOKEN_LEN / 2];
	char text[ACCESS_TOKEN_LEN + 1];
	size_t i;
	ssize_t n;
	int fd, r = 0;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		r = -errno;
		snprintf(err, errlen, "cannot make a token: getrandom: %s", strerror(errno));
		return r;
	}
	for (i = 0; i < sizeof(raw); i++) {
		text[2 * i] = hex[raw[i] >> 4];
		text[2 * i + 1] = hex[raw[i] & 15];
	}
	text[ACCESS_TOKEN_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the token file %s: %s", path, strerror(errno));
		goto out;
	}
	n = write(fd, text, ACCESS_TOKEN_LEN);
	if (n != ACCESS_TOKEN_LEN || write(fd, "\n", 1) != 1 || close(fd) < 0) {
		r = n < 0 ? -errno : -EIO;
		snprintf(err, errlen, "cannot write the token file %s", path);
		unlink(path);
		goto out;
	}
	memcpy(a->token, text, sizeof(text));
out:
	explicit_bzero(text, sizeof(text));
	return r;
}

int
access_load_token(struct access *a, const char *path, char *err, size_t errlen)
{
	char text[ACCESS_TOKEN_LEN + 2];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return make_token(a, path, err, errlen);
		snprintf(err, errlen, "%s: %s (the token file must be a regular file of yours)",
		         path, strerror(errno));
		return errno == ELOOP ? -EPERM : -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		snprintf(err, errlen,
		         "%s: the token file must be a regular file of yours with mode 0600; "
		         "refusing to use it (remove it and hotloadd makes a new one)",
		         path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n < 0 || !is_token(text, (size_t)n)) {
		explicit_bzero(text, sizeof(text));
		return make_token(a, path, err, errlen);
	}
	memcpy(a->token, text, ACCESS_TOKEN_LEN);
	a->token[ACCESS_TOKEN_LEN] = '\0';
	explicit_bzero(text, sizeof(text));
	return 0;
}

int
access_token_ok(const struct access *a, const char *token)
{
	unsigned char diff = 0;
	size_t i, len = strlen(token);

	if (!a->token[0])
		return 0;
	/* Every byte is looked at whatever the others hold: the time taken
	 * says nothing about how much of a guess was right. */
	for (i = 0; i < ACCESS_TOKEN_LEN; i++)
		diff |= (unsigned char)(a->token[i] ^ (i < len ? token[i] : 0));
	return diff == 0 && len == ACCESS_TOKEN_LEN;
}

enum access_verdict
access_check(struct access *a, int fd, int tcp, struct peer *ret_peer, const char **reterr_why)
{
	struct peer p = {0, (uid_t)-1, 0, 0};
	int r = peer_identify(fd, !tcp, &p);

	*ret_peer = p;
	if (tcp && a->token_required)
		return ACCESS_NEED_TOKEN;
	if (r == -ENOENT) {
		*reterr_why = "the client's socket is already closed, or not on this machine";
		return ACCESS_REFUSE;
	}
	if (r < 0) {
		if (!tcp) {
			*reterr_why = "cannot tell who the client is";
			return ACCESS_REFUSE;
		}
		/* No sock_diag (a kernel without it, a sandbox that
		 * forbids netlink): only the token can tell. */
		if (!a->lookup_warned) {
			log_warn_errno(r, "cannot look up the owners of TCP clients; only clients "
			                  "with the token may connect over TCP");
			a->lookup_warned = 1;
		}
		return ACCESS_NEED_TOKEN;
	}
	if (p.uid == 0 || p.uid == getuid())
		return ACCESS_ALLOW;
	*reterr_why = "only the user running hotloadd (and root) may connect";
	return ACCESS_REFUSE;
}

/* The refusal record of a uid, made (or taken over from the one refused
 * longest ago) when there is none. */
static struct refusals *
refusals_of(struct access *a, uid_t uid, int known, uint64_t now_ns)
{
	struct refusals *e, *oldest = NULL;
	size_t i;

	for (i = 0; i < a->n; i++) {
		e = &a->v[i];
		if (e->uid == uid && e->known == known)
			return e;
		if (!oldest || e->seen_ns < oldest->seen_ns)
			oldest = e;
	}
	e = a->n < ACCESS_UIDS_MAX ? &a->v[a->n++] : oldest;
	memset(e, 0, sizeof(*e));
	e->uid = uid;
	e->known = known;
	e->tokens = a->rate;
	e->seen_ns = now_ns;
	return e;
}

int
access_refused(struct access *a, const struct peer *peer, const char *listener, const char *why,
               uint64_t now_ns)
{
	int known = peer->known;
	struct refusals *e = refusals_of(a, peer->uid, known, now_ns);
	char who[96];
	int answer;

	/* a token bucket: rate answers a second, as many at once */
	e->tokens += (double)(now_ns - e->seen_ns) / 1e9 * a->rate;
	if (e->tokens > a->rate)
		e->tokens = a->rate;
	e->seen_ns = now_ns;
	answer = e->tokens >= 1;
	if (answer)
		e->tokens -= 1;

	e->quiet++;
	if (e->logged_ns && now_ns - e->logged_ns < ACCESS_LOG_EVERY_NS)
		return answer;
	if (!known)
		snprintf(who, sizeof(who), "an unknown client");
	else if (peer->pid)
		snprintf(who, sizeof(who), "uid %u (pid %d)", (unsigned)peer->uid, (int)peer->pid);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)peer->uid);
	if (e->quiet > 1)
		log_warn("refused %s on %s: %s (%lu refusals since the last line)", who, listener,
		         why, e->quiet);
	else
		log_warn("refused %s on %s: %s", who, listener, why);
	e->quiet = 0;
	e->logged_ns = now_ns ? now_ns : 1;
	return answer;
}
