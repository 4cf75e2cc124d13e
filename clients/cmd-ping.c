/* cmd-ping.c - `hotloadctl ping`: does a worker of the target answer */
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-request.h"
#include "ctl.h"

/* "done" of ping: say how long the round trip in the worker took. */
static int
on_ping_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	const char *target = userdata;
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return ctlreq_print_failure(o, done);
	if (o->json || o->quiet)
		return CTL_EXIT_OK;
	/* the daemon's name of the target, as start and status print it */
	buf_printf(&b, "%s: ok", ctl_str(done, "target", target));
	if (json_is_number(json_object_get(done, "duration_ms")))
		buf_printf(&b, " (%.1f ms)",
		           json_number_value(json_object_get(done, "duration_ms")));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* ping TARGET */
int
cmd_ping(const struct ctl_opts *o, const struct cmd_args *a)
{
	json_t *req;
	int r;

	if (a->npos < 2)
		return ctl_usage("ping", "missing TARGET");
	if (a->npos > 2)
		return ctl_usage("ping", "unexpected argument '%s'", a->pos[2]);
	req = json_pack("{s:s}", "op", "ping");
	r = ctlreq_run(o, a->pos[1], req, on_ping_done, (void *)a->pos[1]);
	json_decref(req);
	return r;
}
