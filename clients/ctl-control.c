/* ctl-control.c - requests to hotloadd's control target, one at a time */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "client.h"
#include "ctl-control.h"
#include "ctl.h"
#include "errfmt.h"
#include "proto.h"

struct ctlcontrol {
	struct client *conn;
	const struct ctl_opts *o;
	int silent; /* say nothing about failures: a probe */
	char where[1024];
};

static void cc_err(const struct ctlcontrol *cc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* A failure of a call, said unless the connection is a silent probe. */
static void
cc_err(const struct ctlcontrol *cc, const char *fmt, ...)
{
	va_list ap;

	if (cc->silent)
		return;
	fputs("hotloadctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Open the connection and send the header; see ctl-control.h. */
int
ctlcontrol_open(const struct ctl_opts *o, int silent, struct ctlcontrol **ret)
{
	struct ctlcontrol *cc = xcalloc(1, sizeof(*cc));
	char err[1200];
	int r;

	cc->o = o;
	cc->silent = silent;
	addr_describe(o->socket, o->tcp, cc->where, sizeof(cc->where));
	r = client_connect(o->socket, o->tcp, &cc->conn, err, sizeof(err));
	if (r == -EINVAL || r == -ENAMETOOLONG) {
		ctl_err("%s", err);
		free(cc);
		return CTL_EXIT_USAGE;
	}
	if (r < 0) {
		if (!silent) {
			ctl_err("%s", err);
			if (r != -EPERM)
				ctl_msg(o, "is hotloadd running? Start it with 'hotloadctl start', "
				           "or point --socket or --tcp at it");
		}
		free(cc);
		return CTL_EXIT_UNREACHABLE;
	}
	r = client_send_header(cc->conn, HOTLOAD_CONTROL_TARGET, NULL, o->token);
	if (r < 0) {
		if (!silent)
			ctl_err("cannot talk to hotloadd on %s: %s", cc->where, strerror(-r));
		ctlcontrol_free(cc);
		return CTL_EXIT_UNREACHABLE;
	}
	*ret = cc;
	return 0;
}

/* Close and free; accepts NULL. */
void
ctlcontrol_free(struct ctlcontrol *cc)
{
	if (!cc)
		return;
	client_free(cc->conn);
	free(cc);
}

/* Send one request and read up to its done; with eof_ok, the connection
 * closing first is a success with *ret_done NULL. */
static int
call(struct ctlcontrol *cc, json_t *req, int eof_ok, json_t **ret_done)
{
	char why[1024];
	int r = client_call(cc->conn, req, ret_done, why, sizeof(why));

	switch (r) {
	case 0:
		return 0;
	case -EINVAL:
		cc_err(cc, "%s", why);
		return CTL_EXIT_USAGE;
	case -EPIPE:
		if (eof_ok) {
			*ret_done = NULL;
			return 0;
		}
		cc_err(cc, "hotloadd on %s closed the connection%s%s", cc->where,
		       why[0] ? ": " : "", why);
		return CTL_EXIT_UNREACHABLE;
	case -ECONNREFUSED:
		cc_err(cc, "hotloadd refused the control connection: %s", why);
		return CTL_EXIT_REFUSED;
	case -EBADMSG:
		cc_err(cc, "bad message from hotloadd: %s", why);
		return CTL_EXIT_UNREACHABLE;
	default:
		cc_err(cc, "lost the connection to hotloadd on %s: %s", cc->where, why);
		return CTL_EXIT_UNREACHABLE;
	}
}

/* One request; see ctl-control.h. */
int
ctlcontrol_call(struct ctlcontrol *cc, json_t *req, json_t **ret_done)
{
	return call(cc, req, 0, ret_done);
}

/* shutdown; see ctl-control.h. */
int
ctlcontrol_shutdown(struct ctlcontrol *cc, json_t **ret_done)
{
	json_t *req = json_pack("{s:s}", "op", "shutdown");
	int r = call(cc, req, 1, ret_done);

	json_decref(req);
	return r;
}

/* A request without fields. */
int
ctlcontrol_op(struct ctlcontrol *cc, const char *op, json_t **ret_done)
{
	json_t *req = json_pack("{s:s}", "op", op);
	int r = ctlcontrol_call(cc, req, ret_done);

	json_decref(req);
	return r;
}

/* The status object. */
int
ctlcontrol_status(struct ctlcontrol *cc, json_t **ret_status)
{
	json_t *done = NULL, *st;
	int r = ctlcontrol_op(cc, "status", &done);

	if (r)
		return r;
	st = json_object_get(done, "status");
	if (!json_is_true(json_object_get(done, "ok")) || !json_is_object(st)) {
		struct buf m = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &m);
		cc_err(cc, "status: %s", m.len ? m.data : "the answer has no status");
		buf_free(&m);
		json_decref(done);
		return CTL_EXIT_FAILED;
	}
	*ret_status = json_incref(st);
	json_decref(done);
	return 0;
}

/* Does a daemon answer? Nothing is printed. */
int
ctlcontrol_alive(const struct ctl_opts *o, long *ret_pid)
{
	struct ctl_opts quiet = *o;
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL;
	int alive = 0;

	quiet.quiet = 1;
	if (ctlcontrol_open(&quiet, 1, &cc))
		return 0;
	if (ctlcontrol_op(cc, "status", &done) == 0) {
		json_t *pid = json_object_get(
		        json_object_get(json_object_get(done, "status"), "daemon"), "pid");

		alive = 1;
		if (ret_pid)
			*ret_pid = json_is_integer(pid) ? (long)json_integer_value(pid) : 0;
		json_decref(done);
	}
	ctlcontrol_free(cc);
	return alive;
}

/* An op on targets; see ctl-control.h. */
int
ctlcontrol_targets(struct ctlcontrol *cc, const char *op, const char *const *targets, int n,
                   json_t **ret_done)
{
	json_t *req, *list = json_array();
	int i, r;

	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(targets[i]));
	req = json_pack("{s:s, s:o}", "op", op, "targets", list);
	r = ctlcontrol_call(cc, req, ret_done);
	json_decref(req);
	return r;
}

/* One request on a connection of its own; see ctl-control.h. */
int
ctlcontrol_call_ok(const struct ctl_opts *o, json_t *req, const char *what, json_t **ret_done)
{
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL;
	int r;

	r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_call(cc, req, &done);
	ctlcontrol_free(cc);
	if (r)
		return r;
	if (!json_is_true(json_object_get(done, "ok"))) {
		json_t *e = json_object_get(done, "error");
		struct buf m = BUF_INIT;

		errfmt_summary(e, &m);
		ctl_err("%s: %s", what, m.data);
		buf_free(&m);
		r = ctl_error_exit(e);
		/* A bad configuration is not a refusal: the reload was tried. */
		if (!strcmp(ctl_str(e, "type", ""), "ConfigError"))
			r = CTL_EXIT_FAILED;
		json_decref(done);
		return r;
	}
	*ret_done = done;
	return 0;
}

/* Run a per-target op that answers with a count per target (interrupt,
 * recycle) and report each as a line. Returns the exit status. */
int
ctlcontrol_count_targets(const struct ctl_opts *o, const struct ctlcontrol_count *c,
                         const char *const *targets, int n)
{
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL, *res;
	size_t i;
	int r;

	r = ctl_check_targets(targets, n);
	if (!r)
		r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_targets(cc, c->op, targets, n, &done);
	if (r)
		goto fail;
	if (!json_is_array(json_object_get(done, "targets"))) {
		struct buf msg = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &msg);
		ctl_err("%s: %s", c->op, msg.data);
		r = ctl_error_exit(json_object_get(done, "error"));
		buf_free(&msg);
		goto fail;
	}
	json_array_foreach(json_object_get(done, "targets"), i, res)
	{
		const char *name = ctl_str(res, "target", i < (size_t)n ? targets[i] : "?");
		json_int_t k = json_integer_value(json_object_get(res, c->count));
		struct buf msg = BUF_INIT;

		if (!json_is_true(json_object_get(res, "ok"))) {
			errfmt_summary(json_object_get(res, "error"), &msg);
			ctl_err("%s: %s", name, msg.data);
			r = ctl_error_exit(json_object_get(res, "error"));
		} else if (k == 0)
			ctl_msg(o, "%s: %s", name, c->none);
		else if (!o->quiet)
			ctl_print(1, "%s: %s %" JSON_INTEGER_FORMAT " %s%s\n", name, c->did, k,
			          c->noun, k == 1 ? "" : "s");
		buf_free(&msg);
	}
fail:
	json_decref(done);
	ctlcontrol_free(cc);
	return r;
}
