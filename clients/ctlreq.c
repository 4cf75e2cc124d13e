/* ctlreq.c - send one request to hotloadd and print its events as they come */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctl.h"
#include "ctlconn.h"
#include "ctlreq.h"
#include "header.h"

/* One request per connection, so one id is enough. */
#define REQ_ID 1

/* Where output goes; a reader that went away (`| head`) is not an error of
 * the code that ran, so we stop writing to it and carry on. */
struct sink {
	int broken[3]; /* indexed by fd: 1 stdout, 2 stderr */
};

/* Write to fd 1 or 2 unless an earlier write there failed. */
static void
sink_write(struct sink *s, int fd, const char *data, size_t len)
{
	if (s->broken[fd])
		return;
	if (ctl_write_all(fd, data, len) < 0)
		s->broken[fd] = 1;
}

/* A string member of obj, or def when it is missing or not a string. */
static const char *
member_str(json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : def;
}

/* Whether target is a plain "dcc[:version]" that the header carries as is. */
static int
check_target(const char *target)
{
	char line[HEADER_MAX + 32], err[256], back[2 * HEADER_NAME_MAX + 2];
	struct header h;

	snprintf(line, sizeof(line), "%s mode=json", target);
	if (strlen(target) > HEADER_NAME_MAX * 2 ||
	    header_parse(line, strlen(line), &h, err, sizeof(err)) < 0) {
		fprintf(stderr,
		        "hotloadctl: bad target '%s': expected DCC[:VERSION], e.g. "
		        "python:3 or mayapy:2024\n",
		        target);
		return -EINVAL;
	}
	header_target(&h, back, sizeof(back));
	if (strcmp(back, target) != 0 || h.mode != HEADER_MODE_JSON) {
		fprintf(stderr, "hotloadctl: bad target '%s': expected DCC[:VERSION]\n", target);
		return -EINVAL;
	}
	return 0;
}

/* Handle one event of the request; returns an exit status when it ends
 * the request, else -1. */
static int
handle_event(const struct ctl_opts *o, struct sink *s, json_t *ev, ctlreq_done_cb on_done,
             void *userdata)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *id = json_object_get(ev, "id"), *data;

	if (!name)
		return -1;
	/* A refused header has no id; anything else not ours is ignored. */
	if (!strcmp(name, "error") && (!id || json_integer_value(id) == REQ_ID)) {
		json_t *e = json_object_get(ev, "error");

		ctl_msg(o, "%s: %s", member_str(e, "type", "Error"),
		        member_str(e, "message", "hotloadd refused the request"));
		return CTL_EXIT_REFUSED;
	}
	if (!json_is_integer(id) || json_integer_value(id) != REQ_ID)
		return -1;
	if (!strcmp(name, "done"))
		return on_done(o, ev, userdata);
	if (o->json)
		return -1;
	data = json_object_get(ev, "data");
	if (!strcmp(name, "stdout") && json_is_string(data))
		sink_write(s, 1, json_string_value(data), json_string_length(data));
	else if (!strcmp(name, "stderr") && json_is_string(data))
		sink_write(s, 2, json_string_value(data), json_string_length(data));
	/* Unknown events are from a newer daemon: skip them. */
	return -1;
}

/* Read event lines until the request ends; returns the exit status. */
static int
read_events(const struct ctl_opts *o, struct ctlconn *c, const char *where, int send_err,
            ctlreq_done_cb on_done, void *userdata)
{
	struct sink s = {{0}};

	for (;;) {
		json_error_t jerr;
		const char *line;
		size_t len;
		json_t *ev;
		int r;

		r = ctlconn_read_line(c, &line, &len);
		if (r == -EINTR)
			continue; /* where Ctrl-C will send an "interrupt" request */
		if (r < 0) {
			ctl_msg(o, "lost the connection to hotloadd on %s: %s", where,
			        strerror(-r));
			return CTL_EXIT_UNREACHABLE;
		}
		if (r == 0) {
			if (send_err)
				ctl_msg(o,
				        "hotloadd on %s closed the connection while the request "
				        "was sent: %s",
				        where, strerror(-send_err));
			else
				ctl_msg(o,
				        "hotloadd on %s closed the connection before the "
				        "request finished",
				        where);
			return CTL_EXIT_UNREACHABLE;
		}
		if (len == 1 && line[0] == '\n')
			continue;
		if (o->json) {
			sink_write(&s, 1, line, len);
			if (line[len - 1] != '\n')
				sink_write(&s, 1, "\n", 1);
		}
		ev = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
		if (!json_is_object(ev)) {
			ctl_msg(o, "bad message from hotloadd: %s",
			        ev ? "not a JSON object" : jerr.text);
			json_decref(ev);
			return CTL_EXIT_UNREACHABLE;
		}
		r = handle_event(o, &s, ev, on_done, userdata);
		json_decref(ev);
		if (r >= 0)
			return r;
	}
}

/* Run one request; see ctlreq.h. */
int
ctlreq_run(const struct ctl_opts *o, const char *target, json_t *req, ctlreq_done_cb on_done,
           void *userdata)
{
	struct ctlconn *c = NULL;
	struct buf msg = BUF_INIT;
	char where[1024], err[1200];
	char *body = NULL;
	int r, status;

	if (check_target(target) < 0)
		return CTL_EXIT_USAGE;
	json_object_set_new(req, "id", json_integer(REQ_ID));
	body = json_dumps(req, JSON_COMPACT);
	if (!body) {
		ctl_msg(o, "cannot encode the request (is the code valid UTF-8?)");
		status = CTL_EXIT_USAGE;
		goto fail;
	}
	ctlconn_describe(o->socket, o->tcp, where, sizeof(where));
	r = ctlconn_open(o->socket, o->tcp, &c, err, sizeof(err));
	if (r < 0) {
		ctl_msg(o, "%s", err);
		if (r == -EINVAL || r == -ENAMETOOLONG) {
			status = CTL_EXIT_USAGE;
			goto fail;
		}
		ctl_msg(o, "is hotloadd running? Start it with 'hotloadd' (or 'systemctl --user "
		           "start hotloadd'), or point --socket or --tcp at it");
		status = CTL_EXIT_UNREACHABLE;
		goto fail;
	}
	buf_printf(&msg, "%s mode=json\n", target);
	buf_puts(&msg, body);
	buf_puts(&msg, "\n");
	/* A refused header is answered, and the connection closed, before the
	 * request is read: a failed send still reads that answer. */
	r = ctlconn_send(c, msg.data, msg.len);
	status = read_events(o, c, where, r < 0 ? r : 0, on_done, userdata);
fail:
	ctlconn_free(c);
	buf_free(&msg);
	free(body);
	return status;
}

/* Print the error of a failed request as Python would: the traceback, or
 * "Type: message" when there is none. */
static int
print_failure(const struct ctl_opts *o, json_t *done)
{
	json_t *e = json_object_get(done, "error");
	const char *tb = member_str(e, "traceback", "");
	const char *type = member_str(e, "type", "Error");
	const char *message = member_str(e, "message", "");
	struct buf b = BUF_INIT;

	if (o->json)
		return CTL_EXIT_FAILED;
	if (tb[0])
		buf_puts(&b, tb);
	else if (message[0])
		buf_printf(&b, "%s: %s", type, message);
	else
		buf_puts(&b, type);
	if (b.data[b.len - 1] != '\n')
		buf_puts(&b, "\n");
	ctl_write_all(2, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_FAILED;
}

/* "done" of exec: the output was streamed already. */
static int
on_exec_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	return CTL_EXIT_OK;
}

/* "done" of eval: print the repr of the value. */
static int
on_eval_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	json_t *value = json_object_get(done, "value");
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	if (o->json || !json_is_string(value))
		return CTL_EXIT_OK;
	buf_append(&b, json_string_value(value), json_string_length(value));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* "done" of ping: say how long the round trip in the worker took. */
static int
on_ping_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	const char *target = userdata;
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	if (o->json || o->quiet)
		return CTL_EXIT_OK;
	buf_printf(&b, "%s: ok", target);
	if (json_is_number(json_object_get(done, "duration_ms")))
		buf_printf(&b, " (%.1f ms)",
		           json_number_value(json_object_get(done, "duration_ms")));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* Set req[key] to s[0..len); -EILSEQ, said once, when it is not UTF-8. */
static int
set_string(const struct ctl_opts *o, json_t *req, const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	if (!v) {
		ctl_msg(o, "the %s to send is not valid UTF-8", key);
		return -EILSEQ;
	}
	json_object_set_new(req, key, v);
	return 0;
}

/* exec; see ctlreq.h. */
int
ctlreq_exec(const struct ctl_opts *o, const char *target, const char *code, size_t len,
            const char *file, int fresh)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("exec"));
	if (set_string(o, req, "code", code, len) < 0 ||
	    set_string(o, req, "file", file, strlen(file)) < 0)
		goto fail;
	if (fresh)
		json_object_set_new(req, "ns", json_string("fresh"));
	r = ctlreq_run(o, target, req, on_exec_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* eval; see ctlreq.h. */
int
ctlreq_eval(const struct ctl_opts *o, const char *target, const char *expr)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("eval"));
	if (set_string(o, req, "code", expr, strlen(expr)) < 0)
		goto fail;
	r = ctlreq_run(o, target, req, on_eval_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* ping; see ctlreq.h. */
int
ctlreq_ping(const struct ctl_opts *o, const char *target)
{
	json_t *req = json_object();
	int r;

	json_object_set_new(req, "op", json_string("ping"));
	r = ctlreq_run(o, target, req, on_ping_done, (void *)target);
	json_decref(req);
	return r;
}
