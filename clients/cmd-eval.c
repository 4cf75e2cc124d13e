/* cmd-eval.c - `hotloadctl eval`: an expression's repr */
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-request.h"
#include "ctl.h"

/* "done" of eval: print the repr of the value. */
static int
on_eval_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	json_t *value = json_object_get(done, "value");
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return ctlreq_print_failure(o, done);
	if (o->json || !json_is_string(value))
		return CTL_EXIT_OK;
	buf_append(&b, json_string_value(value), json_string_length(value));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* Evaluate expr in target and print the repr of its value. */
static int
eval_expr(const struct ctl_opts *o, const char *target, const char *expr)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("eval"));
	if (ctlreq_set_string(req, "code", expr, strlen(expr)))
		goto fail;
	/* tracebacks name it as python -c does */
	json_object_set_new(req, "file", json_string("<string>"));
	ctlreq_set_limits(o, req);
	ctlreq_set_cwd(req);
	r = ctlreq_run(o, target, req, on_eval_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* eval TARGET EXPR */
int
cmd_eval(const struct ctl_opts *o, const struct cmd_args *a)
{
	if (a->npos < 3)
		return ctl_usage("eval", a->npos < 2 ? "missing TARGET" : "missing EXPR");
	if (a->npos > 3)
		return ctl_usage("eval", "unexpected argument '%s' (quote the expression)",
		                 a->pos[3]);
	return eval_expr(o, a->pos[1], a->pos[2]);
}
