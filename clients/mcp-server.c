/* mcp-server.c - MCP over stdio: messages in and out, the lifecycle, and
 * reading the client while a tool call waits for the daemon
 *
 * One thread, no event loop of our own: between calls we block on stdin;
 * while a call waits for the daemon, libhotload's client watches stdin
 * too (client_set_wake_fd) and hands back -EINTR when a message came, so
 * a cancellation or a ping is taken at once. Other requests that arrive
 * meanwhile wait in a queue: calls run one at a time, in order. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "client.h"
#include "mcp-rpc.h"
#include "mcp-server.h"
#include "mcp-tools.h"
#include "proto.h"

#define MCP_LINE_MAX (64u << 20) /* bytes of one message from the client */
#define MCP_CLIENT_NAME 65       /* header client= value, with its NUL */
#define PROGRESS_INTERVAL_S 0.25 /* output progress at most this often */
#define INSTRUCTIONS                                                                               \
	"Runs Python in warm interpreters of the DCCs and Python versions installed on this "      \
	"machine (Blender, Maya's mayapy, Houdini's hython, python3), supervised by hotloadd. "    \
	"Call list_targets first to see which targets exist and may be used; names defined by "    \
	"execute_python persist in the worker between calls until restart_worker."

struct mcp_server {
	const struct mcp_config *cfg;
	int in_fd, out_fd;
	struct buf in;
	int in_eof;
	int out_err;              /* -errno of a failed write to out_fd */
	int skip_line;            /* dropping the rest of an over-long line */
	int stopping;             /* a stop signal came: end after the running call */
	struct mcprpc_msg *queue; /* requests that came while a call ran */
	size_t nqueue;
	char client[MCP_CLIENT_NAME]; /* clientInfo, fit for the header */
	const char *version;          /* the agreed revision, NULL before initialize */
	/* the tools/call being answered */
	json_t *call_id;
	json_t *progress_token;
	double progress;
	double progress_at;
	int cancelled;
	struct client *conn; /* its daemon connection while a request runs */
	long request;        /* and the request's id on it */
};

/* SIGTERM, SIGHUP, SIGINT end the server: see catch_stop(). */
static const int stop_signals[] = {SIGTERM, SIGHUP, SIGINT};
#define N_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))
static int stop_pipe[2] = {-1, -1};

/* Seconds on a monotonic clock. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write msg as one line to the client; takes msg. Only protocol messages
 * ever reach out_fd. */
static void
send_msg(struct mcp_server *s, json_t *msg)
{
	char *text;
	size_t len, off = 0;

	if (!msg)
		return;
	text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(msg);
	if (!text) {
		s->out_err = -ENOMEM;
		return;
	}
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: written by length */
	while (off < len && !s->out_err) {
		ssize_t n = write(s->out_fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};

			poll(&p, 1, -1);
			continue;
		}
		if (n < 0)
			s->out_err = -errno;
		else
			off += (size_t)n;
	}
	free(text);
}

/* Read what stdin has (waiting for it when block is set) into s->in. */
static void
read_input(struct mcp_server *s, int block)
{
	struct pollfd p[2] = {{.fd = s->in_fd, .events = POLLIN},
	                      {.fd = stop_pipe[0], .events = POLLIN}};
	ssize_t n;

	if (s->in_eof)
		return;
	if (poll(p, 2, block ? -1 : 0) <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	buf_reserve(&s->in, 65536);
	n = read(s->in_fd, s->in.data + s->in.len, 65536);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->in_eof = 1;
		return;
	}
	s->in.len += (size_t)n;
	s->in.data[s->in.len] = '\0';
}

/* Whether s[0..len) is only white space: a blank line, skipped. */
static int
is_blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(" \t\r\n", p[i]))
			return 0;
	return 1;
}

/* The next complete line of input into ret (parsed), without waiting:
 * 1, or 0 when none is complete yet. At EOF a last unterminated line
 * counts. Blank lines are skipped; an over-long line is answered as
 * invalid and dropped. */
static int
take_line(struct mcp_server *s, struct mcprpc_msg *ret)
{
	for (;;) {
		size_t len = buf_line_len(&s->in);

		if (!len && s->in.len > MCP_LINE_MAX) {
			buf_clear(&s->in);
			s->skip_line = 1;
			send_msg(s, mcprpc_error(NULL, MCPRPC_INVALID_REQUEST,
			                         "message longer than 64 MiB; skipped"));
			return 0;
		}
		if (!len && s->in_eof && s->in.len)
			len = s->in.len;
		if (!len)
			return 0;
		if (s->skip_line || is_blank(s->in.data, len)) {
			s->skip_line = 0; /* the rest of an over-long line ends here */
			buf_consume(&s->in, len);
			continue;
		}
		mcprpc_parse(s->in.data, len - (s->in.data[len - 1] == '\n'), ret);
		buf_consume(&s->in, len);
		return 1;
	}
}

/* A notifications/cancelled: the running call is interrupted (and will
 * not be answered, as the spec asks), a queued one dropped. */
static void
on_cancelled(struct mcp_server *s, json_t *params)
{
	json_t *id = json_object_get(params, "requestId");
	size_t i;

	if (!id)
		return;
	if (s->call_id && json_equal(id, s->call_id)) {
		if (!s->cancelled && s->conn && s->request)
			client_interrupt(s->conn, s->request);
		s->cancelled = 1;
		return;
	}
	for (i = 0; i < s->nqueue; i++)
		if (s->queue[i].id && json_equal(id, s->queue[i].id)) {
			mcprpc_msg_done(&s->queue[i]);
			memmove(&s->queue[i], &s->queue[i + 1],
			        (s->nqueue - i - 1) * sizeof(s->queue[0]));
			s->nqueue--;
			return;
		}
}

/* A message that came while a call ran: what can be answered at once is;
 * other requests wait their turn. Takes m. */
static void
on_message_busy(struct mcp_server *s, struct mcprpc_msg *m)
{
	if (m->kind == MCPRPC_INVALID) {
		send_msg(s, mcprpc_error(m->id, m->error_code, m->error));
	} else if (m->kind == MCPRPC_NOTIFICATION &&
	           !strcmp(m->method, "notifications/cancelled")) {
		on_cancelled(s, m->params);
	} else if (m->kind == MCPRPC_REQUEST && !strcmp(m->method, "ping")) {
		send_msg(s, mcprpc_result(m->id, json_object()));
	} else if (m->kind == MCPRPC_REQUEST || m->kind == MCPRPC_NOTIFICATION) {
		s->queue = xrealloc(s->queue, (s->nqueue + 1) * sizeof(s->queue[0]));
		s->queue[s->nqueue++] = *m;
		return; /* the queue owns it now */
	}
	mcprpc_msg_done(m);
}

/* Take in what the client sent while a call runs. */
static void
pump_input(struct mcp_server *s)
{
	struct mcprpc_msg m;

	read_input(s, 0);
	while (take_line(s, &m))
		on_message_busy(s, &m);
}

/* SIGTERM, SIGHUP, SIGINT: the client's way to stop us (after closing
 * stdin, the lifecycle says). The self-pipe wakes the poll of whichever
 * wait we are in; the handler does nothing but write to it. */

static void
on_stop_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t n = write(stop_pipe[1], &c, 1);

	(void)n; /* full: it has said so already */
	errno = saved;
}

/* Catch the stop signals; -errno when that cannot be done. */
static int
catch_stop(struct sigaction old[N_STOP])
{
	struct sigaction sa;
	size_t k;
	int i;

	if (pipe(stop_pipe) < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		fcntl(stop_pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(stop_pipe[i], F_SETFL, fcntl(stop_pipe[i], F_GETFL) | O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (k = 0; k < N_STOP; k++)
		sigaction(stop_signals[k], &sa, &old[k]);
	return 0;
}

static void
release_stop(const struct sigaction old[N_STOP])
{
	size_t k;
	int i;

	for (k = 0; k < N_STOP; k++)
		sigaction(stop_signals[k], &old[k], NULL);
	for (i = 0; i < 2; i++) {
		if (stop_pipe[i] >= 0)
			close(stop_pipe[i]);
		stop_pipe[i] = -1;
	}
}

/* Whether a stop signal came (then s->stopping is set). */
static int
check_stop(struct mcp_server *s)
{
	char b[16];

	while (stop_pipe[0] >= 0 && read(stop_pipe[0], b, sizeof(b)) > 0)
		s->stopping = 1;
	return s->stopping;
}

/* A progress notification of the running call, when it asked for them. */
static void
progress(struct mcp_server *s, const char *message, int force)
{
	double t = now();

	if (!s->progress_token || (!force && t - s->progress_at < PROGRESS_INTERVAL_S))
		return;
	s->progress_at = t;
	s->progress += 1;
	send_msg(s, mcprpc_notification("notifications/progress",
	                                json_pack("{s:O, s:f, s:s}", "progressToken",
	                                          s->progress_token, "progress", s->progress,
	                                          "message", message)));
}

const struct mcp_config *
mcpserver_config(const struct mcp_server *s)
{
	return s->cfg;
}

int
mcpserver_cancelled(const struct mcp_server *s)
{
	return s->cancelled;
}

/* A connection to target (or the control target) with our client's name
 * in its header: 0 with *ret, or -errno with why in reterr. */
static int
open_conn(struct mcp_server *s, const char *target, struct client **ret, char *reterr,
          size_t reterrlen)
{
	char opts[MCP_CLIENT_NAME + 16], why[256];
	struct client *c;
	int r;

	r = client_connect(s->cfg->socket, s->cfg->tcp, &c, why, sizeof(why));
	if (r < 0) {
		snprintf(reterr, reterrlen,
		         "cannot reach hotloadd at %s: %s (is it running? 'hotloadctl start' "
		         "starts it)",
		         s->cfg->socket ? s->cfg->socket : s->cfg->tcp, why);
		return r;
	}
	snprintf(opts, sizeof(opts), "client=%s", s->client);
	r = client_send_header(c, target, opts, s->cfg->token);
	if (r < 0) {
		snprintf(reterr, reterrlen,
		         r == -EINVAL ? "'%s' is not a target: use dcc or dcc:version, e.g. "
		                        "python:3 or blender"
		                      : "cannot talk to hotloadd about %s",
		         target);
		client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* "Type: message" of an error object. */
static void
error_text(json_t *error, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s: %s",
	         json_string_value(json_object_get(error, "type"))
	                 ? json_string_value(json_object_get(error, "type"))
	                 : "Error",
	         json_string_value(json_object_get(error, "message"))
	                 ? json_string_value(json_object_get(error, "message"))
	                 : "(no message)");
}

/* Run a request, reading the client meanwhile; see mcp-server.h. */
int
mcpserver_request(struct mcp_server *s, const char *target, json_t *req, double wait_s,
                  mcpserver_event_cb cb, void *userdata, json_t **ret_done, char *reterr,
                  size_t reterrlen)
{
	double deadline = now() + wait_s;
	struct client *c = NULL;
	int seen_output = 0;
	json_t *ev = NULL;
	long id;
	int r;

	r = open_conn(s, target, &c, reterr, reterrlen);
	if (r < 0)
		return r;
	r = client_send_request(c, req, &id);
	if (r < 0) {
		snprintf(reterr, reterrlen, "cannot send the request to hotloadd: %s",
		         strerror(-r));
		goto fail;
	}
	s->conn = c;
	s->request = id;
	if (!s->in_eof)
		client_set_wake_fd(c, 0, s->in_fd);
	client_set_wake_fd(c, 1, stop_pipe[0]);
	progress(s, "sent to hotloadd", 1);
	for (;;) {
		double left = deadline - now();
		const char *name;
		char why[256];

		if (s->in.len || s->in_eof)
			pump_input(s); /* lines read before the wait began */
		if (s->in_eof)
			client_set_wake_fd(c, 0, -1); /* it would wake us for ever */
		/* in slices of a minute at most: an int of milliseconds */
		r = client_read_event(c,
		                      left <= 0   ? 0
		                      : left > 60 ? 60000
		                                  : (int)(left * 1000) + 1,
		                      &ev, why, sizeof(why));
		if (r == -EINTR) {
			if (!s->stopping && check_stop(s)) {
				/* stop the code, and wait for its end a moment */
				client_interrupt(c, id);
				client_set_wake_fd(c, 1, -1);
				if (deadline > now() + 2)
					deadline = now() + 2;
			}
			pump_input(s);
			continue;
		}
		if (r == -ETIMEDOUT && deadline - now() > 0)
			continue;
		if (r == -ETIMEDOUT) {
			snprintf(reterr, reterrlen,
			         "no answer from hotloadd within %.0f s; the request was "
			         "interrupted",
			         wait_s);
			client_interrupt(c, id);
			goto fail;
		}
		if (r == 0) {
			snprintf(reterr, reterrlen,
			         "hotloadd closed the connection before the "
			         "request was done");
			r = -EPIPE;
			goto fail;
		}
		if (r < 0) {
			snprintf(reterr, reterrlen, "lost the connection to hotloadd: %s", why);
			goto fail;
		}
		name = client_event_name(ev);
		if (name && !strcmp(name, "error")) {
			/* the header was refused: UnknownTarget, NotInstalled, ... */
			error_text(json_object_get(ev, "error"), reterr, reterrlen);
			r = -ECONNREFUSED;
			goto fail;
		}
		if (json_integer_value(json_object_get(ev, "id")) != id) {
			json_decref(ev);
			continue;
		}
		if (name && !strcmp(name, "done"))
			break;
		if (cb)
			cb(ev, userdata);
		if (name && !strcmp(name, "waiting")) {
			char msg[128];

			snprintf(msg, sizeof(msg), "waiting for a worker of %s (%s)", target,
			         json_string_value(json_object_get(ev, "state"))
			                 ? json_string_value(json_object_get(ev, "state"))
			                 : "queued");
			progress(s, msg, 1);
		} else if (name && (!strcmp(name, "stdout") || !strcmp(name, "stderr"))) {
			/* the first output at once: it says the code runs */
			progress(s, "running; output so far", !seen_output);
			seen_output = 1;
		}
		json_decref(ev);
		ev = NULL;
	}
	s->conn = NULL;
	s->request = 0;
	client_free(c);
	*ret_done = ev;
	return 0;
fail:
	json_decref(ev);
	s->conn = NULL;
	s->request = 0;
	client_free(c);
	return r < 0 ? r : -EIO;
}

/* A control op; see mcp-server.h. */
int
mcpserver_control(struct mcp_server *s, json_t *req, json_t **ret_done, char *reterr,
                  size_t reterrlen)
{
	struct client *c;
	int r;

	r = open_conn(s, HOTLOAD_CONTROL_TARGET, &c, reterr, reterrlen);
	if (r < 0)
		return r;
	r = client_call(c, req, ret_done, reterr, reterrlen);
	client_free(c);
	return r;
}

/* clientInfo as "name/version", in what a header value may hold: no
 * spaces or controls (they become '_'), at most 64 bytes, whole
 * characters. */
static void
set_client_name(struct mcp_server *s, json_t *info)
{
	const char *name = json_string_value(json_object_get(info, "name"));
	const char *version = json_string_value(json_object_get(info, "version"));
	struct buf b = BUF_INIT;
	size_t i, o = 0;

	buf_puts(&b, name && name[0] ? name : "unnamed-mcp-client");
	if (version && version[0])
		buf_printf(&b, "/%s", version);
	for (i = 0; i < b.len && o < sizeof(s->client) - 1; i++) {
		unsigned char ch = (unsigned char)b.data[i];
		size_t clen = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;

		if (ch <= 0x20 || ch == 0x7f ||
		    (ch == 0xc2 && i + 1 < b.len && (unsigned char)b.data[i + 1] <= 0x9f)) {
			s->client[o++] = '_';
			i += ch == 0xc2; /* both bytes of a C1 control */
			continue;
		}
		if (o + clen > sizeof(s->client) - 1 || i + clen > b.len)
			break;
		memcpy(s->client + o, b.data + i, clen);
		o += clen;
		i += clen - 1;
	}
	s->client[o] = '\0';
	buf_free(&b);
}

/* initialize: agree on a revision, say what we offer. */
static json_t *
on_initialize(struct mcp_server *s, json_t *params)
{
	json_t *pv = json_object_get(params, "protocolVersion");

	s->version = mcprpc_negotiate(json_string_value(pv));
	set_client_name(s, json_object_get(params, "clientInfo"));
	fprintf(stderr, "hotloadctl mcp: client %s, protocol %s (asked for %s)\n", s->client,
	        s->version, json_string_value(pv) ? json_string_value(pv) : "none");
	return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
	                 s->version, "capabilities", "tools", "listChanged", 0, "serverInfo",
	                 "name", "hotload", "title", "hotload: Python in warm DCC interpreters",
	                 "version", HOTLOAD_VERSION, "instructions", INSTRUCTIONS);
}

/* tools/call: run the tool, reading the client meanwhile. */
static void
on_tools_call(struct mcp_server *s, struct mcprpc_msg *m)
{
	json_t *name = json_object_get(m->params, "name");
	json_t *args = json_object_get(m->params, "arguments");
	json_t *meta = json_object_get(m->params, "_meta");
	json_t *result = NULL;
	char why[256];
	int r;

	if (!json_is_string(name)) {
		send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_PARAMS,
		                         "tools/call needs params.name, the tool's name"));
		return;
	}
	if (args && !json_is_object(args) && !json_is_null(args)) {
		send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_PARAMS,
		                         "params.arguments must be an object"));
		return;
	}
	s->call_id = m->id;
	s->progress_token = json_object_get(meta, "progressToken");
	if (s->progress_token && !json_is_string(s->progress_token) &&
	    !json_is_integer(s->progress_token))
		s->progress_token = NULL;
	s->progress = 0;
	s->progress_at = 0;
	s->cancelled = 0;
	r = mcptools_call(s, json_string_value(name), json_is_object(args) ? args : NULL, &result);
	if (r == -ENOENT) {
		snprintf(why, sizeof(why), "unknown tool '%s'; tools/list names them",
		         json_string_value(name));
		send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_PARAMS, why));
	} else if (s->cancelled) {
		json_decref(result); /* a cancelled request is not answered */
	} else {
		send_msg(s, mcprpc_result(m->id, result));
		result = NULL;
	}
	s->call_id = NULL;
	s->progress_token = NULL;
}

/* One message while no call runs. Takes m. */
static void
on_message(struct mcp_server *s, struct mcprpc_msg *m)
{
	char why[256];

	if (m->kind == MCPRPC_INVALID) {
		send_msg(s, mcprpc_error(m->id, m->error_code, m->error));
		goto out;
	}
	if (m->kind == MCPRPC_RESPONSE)
		goto out; /* we send no requests, so nothing waits for it */
	if (m->kind == MCPRPC_NOTIFICATION) {
		/* notifications/initialized, cancelled for a call that is over,
		 * and any other: nothing to answer */
		goto out;
	}
	if (!strcmp(m->method, "initialize")) {
		if (!json_is_string(json_object_get(m->params, "protocolVersion"))) {
			send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_PARAMS,
			                         "initialize needs params.protocolVersion, a "
			                         "string"));
			goto out;
		}
		send_msg(s, mcprpc_result(m->id, on_initialize(s, m->params)));
	} else if (!strcmp(m->method, "ping")) {
		send_msg(s, mcprpc_result(m->id, json_object()));
	} else if (!s->version) {
		snprintf(why, sizeof(why), "'%s' before initialize: initialize first", m->method);
		send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_REQUEST, why));
	} else if (!strcmp(m->method, "tools/list")) {
		send_msg(s,
		         mcprpc_result(m->id, json_pack("{s:o}", "tools", mcptools_list(s->cfg))));
	} else if (!strcmp(m->method, "tools/call")) {
		if (!m->params) {
			send_msg(s, mcprpc_error(m->id, MCPRPC_INVALID_PARAMS,
			                         "tools/call needs params"));
			goto out;
		}
		on_tools_call(s, m);
	} else {
		snprintf(why, sizeof(why), "method '%.100s' not found (this server has tools only)",
		         m->method);
		send_msg(s, mcprpc_error(m->id, MCPRPC_METHOD_NOT_FOUND, why));
	}
out:
	mcprpc_msg_done(m);
}

/* Serve until stdin ends; see mcp-server.h. */
int
mcp_serve(const struct mcp_config *cfg, int in_fd, int out_fd)
{
	struct sigaction old[N_STOP];
	struct mcp_server s;
	struct mcprpc_msg m;
	size_t i;
	int r;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.in_fd = in_fd;
	s.out_fd = out_fd;
	snprintf(s.client, sizeof(s.client), "unnamed-mcp-client");
	r = catch_stop(old);
	if (r < 0)
		return r;
	while (!s.out_err && !check_stop(&s)) {
		if (s.nqueue) {
			m = s.queue[0];
			memmove(&s.queue[0], &s.queue[1], (s.nqueue - 1) * sizeof(s.queue[0]));
			s.nqueue--;
			on_message(&s, &m);
			continue;
		}
		if (take_line(&s, &m)) {
			on_message(&s, &m);
			continue;
		}
		if (s.in_eof)
			break;
		read_input(&s, 1);
	}
	for (i = 0; i < s.nqueue; i++)
		mcprpc_msg_done(&s.queue[i]);
	free(s.queue);
	buf_free(&s.in);
	release_stop(old);
	return s.out_err;
}
