/* cmd-debug.c - `hotloadctl debug`: a debugger in a warm worker, spoken to
 * over our stdin and stdout as a debug adapter is
 *
 * A DAP client (VS Code, nvim-dap, a script) runs us as its debug adapter.
 * We listen on a port of 127.0.0.1 that only we hold, ask the daemon for
 * op debug (the worker is leased to this connection's session), and the
 * worker's debugger connects out to us. Both ends prove themselves with
 * random tokens (ours before the debugger takes a command, its in the
 * answer), so a process of another user that connects first, or a port
 * taken over after we are gone, gets nothing. Then we copy bytes both
 * ways until either side ends; our exit closes the daemon connection,
 * which ends the session and recycles the worker. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "addr.h"
#include "buf.h"
#include "client.h"
#include "cmd.h"
#include "ctl-dap.h"
#include "ctl.h"

#define CONNECT_MS 10000  /* for the worker's debugger to connect and prove itself */
#define PROVE_MS 2000     /* for one connection to prove itself: a silent one must not hold us */
#define AUTHORIZE_SEQ 1e9 /* our own request's seq, apart from the client's */

/* 32 hexadecimal digits of the kernel's randomness; -errno on failure. */
static int
make_token(char out[33])
{
	unsigned char raw[16];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -errno;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel. */
static int
listen_loopback(int *ret_fd, int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	*ret_fd = fd;
	*ret_port = ntohs(sa.sin_port);
	return 0;
}

/* Whether the debugger on fd is the worker's: it takes our token and
 * answers with its own. Messages it sends before the answer are kept in
 * early for the client. */
static int
authorize(int fd, const char *token, const char *client_token, struct buf *in, json_t *early,
          int timeout_ms)
{
	json_t *req = json_pack("{s:f, s:s, s:s, s:{s:s}}", "seq", AUTHORIZE_SEQ, "type", "request",
	                        "command", "pydevdAuthorize", "arguments", "debugServerAccessToken",
	                        token);
	long long deadline = ctl_now_ms() + timeout_ms;
	int r = ctldap_write(fd, req);

	json_decref(req);
	while (r >= 0) {
		char err[256];
		json_t *m = NULL;
		long long left = deadline - ctl_now_ms();

		r = left > 0 ? ctldap_read(fd, in, (int)left, &m, err, sizeof(err)) : -ETIMEDOUT;
		if (r <= 0)
			return 0;
		if (!strcmp(ctl_str(m, "type", ""), "response") &&
		    json_number_value(json_object_get(m, "request_seq")) == AUTHORIZE_SEQ) {
			json_t *body = json_object_get(m, "body");
			int ok = json_is_true(json_object_get(m, "success")) &&
			         !strcmp(ctl_str(body, "clientAccessToken", ""), client_token);

			json_decref(m);
			return ok;
		}
		json_array_append_new(early, m);
	}
	return 0;
}

/* Wait for the worker's debugger on the listener: the first connection
 * that proves itself. Returns its fd, or -errno (-ETIMEDOUT). */
static int
accept_debugger(int lfd, const char *token, const char *client_token, struct buf *in, json_t *early)
{
	long long deadline = ctl_now_ms() + CONNECT_MS;

	for (;;) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		long long left = deadline - ctl_now_ms();
		int fd, r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		buf_clear(in);
		json_array_clear(early);
		if (authorize(fd, token, client_token, in, early,
		              left < PROVE_MS ? (int)left : PROVE_MS))
			return fd;
		close(fd); /* not the worker's: someone else's connection */
	}
}

/* The debugger could not be had: say so on stderr, and to a DAP client
 * that sent a request already, in its answer (an editor shows that). */
static void
refuse_client(const char *message)
{
	struct buf in = BUF_INIT;
	json_t *m = NULL;
	char err[256];

	if (ctldap_read(0, &in, 2000, &m, err, sizeof(err)) == 1 &&
	    !strcmp(ctl_str(m, "type", ""), "request")) {
		json_t *resp =
		        json_pack("{s:i, s:s, s:O, s:b, s:s, s:s}", "seq", 1, "type", "response",
		                  "request_seq", json_object_get(m, "seq"), "success", 0, "command",
		                  ctl_str(m, "command", ""), "message", message);

		if (resp)
			ctldap_write(1, resp);
		json_decref(resp);
	}
	json_decref(m);
	buf_free(&in);
}

struct pump {
	int from, to;
	int linger_ms; /* after the end: how long the other way may go on */
};

/* Copy from one fd to the other until EOF or an error; then let the other
 * side see the end of what we send (shutdown of a socket). */
static void *
pump_run(void *arg)
{
	struct pump *p = arg;
	char chunk[65536];

	for (;;) {
		ssize_t n = read(p->from, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || ctl_write_all(p->to, chunk, (size_t)n) < 0)
			break;
	}
	shutdown(p->to, SHUT_WR); /* ENOTSOCK for a pipe: nothing to do */
	if (p->linger_ms) {
		/* the client is gone: the debugger has this long to answer the
		 * end, then its side is cut too */
		struct timespec ts = {p->linger_ms / 1000, (p->linger_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		shutdown(p->to, SHUT_RD);
	}
	return NULL;
}

/* Hand the client the debugger's early messages, then copy both ways
 * until the debugger's side ends (it ends when the client disconnects,
 * or the worker goes). */
static int
relay(int dfd, struct buf *in, json_t *early)
{
	struct pump up = {.from = 0, .to = dfd, .linger_ms = 2000}, down = {.from = dfd, .to = 1};
	pthread_t t;
	json_t *m;
	size_t i;

	json_array_foreach(early, i, m) if (ctldap_write(1, m) < 0) return CTL_EXIT_FAILED;
	if (in->len && ctl_write_all(1, in->data, in->len) < 0)
		return CTL_EXIT_FAILED;
	if (pthread_create(&t, NULL, pump_run, &up) != 0)
		return CTL_EXIT_FAILED;
	pthread_detach(t); /* blocked in read(0) maybe: ends with the process */
	pump_run(&down);
	return CTL_EXIT_OK;
}

/* debug [--session NAME] TARGET */
int
cmd_debug(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *target, *session = o->session ? o->session : "default";
	char token[33], client_token[33], err[1200], where[1024];
	struct client *c = NULL;
	json_t *req = NULL, *done = NULL, *early = json_array();
	struct buf in = BUF_INIT;
	int lfd = -1, dfd = -1, port, r, status;

	if (a->npos < 2)
		return ctl_usage("debug", "missing TARGET");
	if (a->npos > 2)
		return ctl_usage("debug", "unexpected argument '%s'", a->pos[2]);
	target = a->pos[1];
	if (ctl_check_target(target))
		return CTL_EXIT_USAGE;
	if (isatty(1))
		ctl_msg(o, "debug speaks the Debug Adapter Protocol on stdin and stdout: run it "
		           "from a debugger (docs/debugging.md)");
	if ((r = make_token(token)) < 0 || (r = make_token(client_token)) < 0 ||
	    (r = listen_loopback(&lfd, &port)) < 0) {
		ctl_err("cannot set up the debugger's connection: %s", strerror(-r));
		status = CTL_EXIT_FAILED;
		goto out;
	}
	addr_describe(o->socket, o->tcp, where, sizeof(where));
	r = client_connect(o->socket, o->tcp, &c, err, sizeof(err));
	if (r < 0) {
		ctl_err("%s", err);
		status = r == -EINVAL || r == -ENAMETOOLONG ? CTL_EXIT_USAGE : CTL_EXIT_UNREACHABLE;
		refuse_client(err);
		goto out;
	}
	req = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "op", "debug", "session", session, "host",
	                "127.0.0.1", "port", port, "access_token", token, "client_access_token",
	                client_token);
	r = client_send_header(c, target, NULL, o->token);
	if (r >= 0)
		r = client_call(c, req, &done, err, sizeof(err));
	if (r < 0) {
		if (!*err)
			snprintf(err, sizeof(err), "lost the connection to hotloadd at %s", where);
		ctl_err("%s", err);
		status = r == -ECONNREFUSED ? CTL_EXIT_REFUSED : CTL_EXIT_UNREACHABLE;
		refuse_client(err);
		goto out;
	}
	if (!json_is_true(json_object_get(done, "ok"))) {
		json_t *e = json_object_get(done, "error");

		snprintf(err, sizeof(err), "%s: %s", ctl_str(e, "type", "Error"),
		         ctl_str(e, "message", "the debugger did not start"));
		ctl_err("%s", err);
		status = ctl_error_exit(e);
		refuse_client(err);
		goto out;
	}
	dfd = accept_debugger(lfd, token, client_token, &in, early);
	close(lfd);
	lfd = -1;
	if (dfd < 0) {
		snprintf(err, sizeof(err), "the debugger of %s's worker did not connect: %s",
		         target, strerror(-dfd));
		ctl_err("%s", err);
		status = CTL_EXIT_FAILED;
		refuse_client(err);
		goto out;
	}
	ctl_msg(o,
	        "debugging %s in worker %lld (debugpy %s, Python %s), session '%s'; run code in "
	        "it with 'hotloadctl exec --session=%s %s FILE'",
	        target, (long long)json_integer_value(json_object_get(done, "pid")),
	        ctl_str(done, "debugpy", "?"), ctl_str(done, "python", "?"), session, session,
	        target);
	status = relay(dfd, &in, early);
	ctl_msg(o, "the debug session '%s' of %s ended", session, target);
out:
	explicit_bzero(token, sizeof(token));
	explicit_bzero(client_token, sizeof(client_token));
	if (lfd >= 0)
		close(lfd);
	if (dfd >= 0)
		close(dfd);
	json_decref(req);
	json_decref(done);
	json_decref(early);
	buf_free(&in);
	client_free(c);
	return status;
}
