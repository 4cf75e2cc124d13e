/* mcp-tools.c - the MCP server's tools: schemas written for a model, and
 * each call turned into a request or control op of hotloadd */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "errfmt.h"
#include "mcp-rpc.h"
#include "mcp-server.h"
#include "mcp-tools.h"

/* Slack past a call's timeout before we stop waiting for hotloadd: a
 * worker may have to start first (a cold Maya takes half a minute, and
 * the hook's startup timeout bounds it), and the daemon's own timeout
 * escalates SIGINT, SIGTERM, SIGKILL with grace periods. The daemon ends
 * every request itself; this only guards against one that does not. */
#define WAIT_SLACK_S 300.0
#define TOOL_ERR_MAX 512

/* The schemas. "TARGET" in a description is replaced by the target list
 * under --targets. Output schemas describe structuredContent exactly. */
#define S_ERROR                                                                                    \
	"\"error\":{\"type\":\"object\",\"description\":\"Why the request failed: the Python "     \
	"exception (or a daemon error such as Timeout, WorkerDied, KeyboardInterrupt, "            \
	"UnknownTarget).\",\"properties\":{\"type\":{\"type\":\"string\"},\"message\":{\"type\":"  \
	"\"string\"},\"traceback\":{\"type\":\"string\"}},\"required\":[\"type\",\"message\"]}"
#define S_OUTPUT                                                                                   \
	"\"stdout\":{\"type\":\"string\",\"description\":\"What the code printed (cut past the "   \
	"server's limit, with a note saying how much was dropped).\"},\"stderr\":{\"type\":"       \
	"\"string\"},\"stdout_dropped_bytes\":{\"type\":\"integer\"},\"stderr_dropped_bytes\":{"   \
	"\"type\":\"integer\"}"
#define S_TARGET                                                                                   \
	"\"target\":{\"type\":\"string\",\"description\":\"Where to run: dcc or dcc:version, as "  \
	"list_targets shows (e.g. python:3, blender, blender:3.4, mayapy:2024, hython:20.5).\"}"
#define S_TIMEOUT                                                                                  \
	"\"timeout\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"description\":\"Seconds the "   \
	"code may run before it is interrupted (default and maximum: the server's "                \
	"--max-timeout).\"}"

struct tool {
	const char *name;
	const char *title;
	const char *description;
	const char *input;  /* JSON Schema text */
	const char *output; /* JSON Schema text */
	int (*call)(struct mcp_server *s, json_t *args, json_t **ret_result);
	int read_only;
};

static int call_list_targets(struct mcp_server *s, json_t *args, json_t **ret);
static int call_execute(struct mcp_server *s, json_t *args, json_t **ret);
static int call_evaluate(struct mcp_server *s, json_t *args, json_t **ret);
static int call_interrupt(struct mcp_server *s, json_t *args, json_t **ret);
static int call_reload_modules(struct mcp_server *s, json_t *args, json_t **ret);
static int call_restart_worker(struct mcp_server *s, json_t *args, json_t **ret);
static int call_status(struct mcp_server *s, json_t *args, json_t **ret);
static int call_worker_logs(struct mcp_server *s, json_t *args, json_t **ret);

static const struct tool tools[] = {
        {"list_targets", "List Python targets",
         "List the interpreters this machine has and hotloadd can run code in: each hook (a "
         "DCC such as blender, mayapy, hython, or python) with its aliases and the versions "
         "installed here, and the workers running now with their state. Call this first: the "
         "'target' of the other tools is one of these, as dcc or dcc:version.",
         "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"allowed_targets\":{\"type\":\"array\","
         "\"items\":{\"type\":\"string\"},\"description\":\"Under --targets, the only targets "
         "that may be used.\"},\"hooks\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
         "\"properties\":{\"name\":{\"type\":\"string\"},\"aliases\":{\"type\":\"array\","
         "\"items\":{\"type\":\"string\"}},\"description\":{\"type\":\"string\"},"
         "\"default_version\":{\"type\":[\"string\",\"null\"]},\"installs\":{\"type\":\"array\","
         "\"items\":{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},"
         "\"version\":{\"type\":\"string\"},\"path\":{\"type\":\"string\"},\"usable\":{\"type\":"
         "\"boolean\"}}}}},\"required\":[\"name\",\"installs\"]}},\"running\":{\"type\":"
         "\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"target\":{\"type\":"
         "\"string\"},\"state\":{\"type\":\"string\"},\"workers\":{\"type\":\"array\"}}}}},"
         "\"required\":[\"hooks\",\"running\"]}",
         call_list_targets, 1},
        {"execute_python", "Run Python code",
         "Run Python statements in a warm interpreter of a target (exec, like a script) and get "
         "back what they printed and, if they raised, the exception with its traceback. Names "
         "you define stay in the worker's __main__ namespace for later calls (until "
         "restart_worker), so import and set up once, then reuse. In a DCC the DCC's own "
         "modules are importable (bpy in blender, maya.cmds in mayapy, hou in hython). The "
         "code runs headless: no GUI. Use print() to see values, or evaluate_python for one "
         "expression.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET ",\"code\":{\"type\":\"string\","
         "\"description\":\"Python statements, as in a .py file.\"}," S_TIMEOUT ",\"fresh\":{"
         "\"type\":\"boolean\",\"description\":\"Run in a new empty namespace instead of the "
         "shared __main__ one (default false).\"}},\"required\":[\"target\",\"code\"],"
         "\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"ok\":{\"type\":"
         "\"boolean\"}," S_OUTPUT "," S_ERROR ",\"duration_ms\":{\"type\":\"number\"}},"
         "\"required\":[\"target\",\"ok\",\"stdout\",\"stderr\"]}",
         call_execute, 0},
        {"evaluate_python", "Evaluate a Python expression",
         "Evaluate one Python expression in a target's warm interpreter (in the same "
         "__main__ namespace execute_python uses) and get its repr(), and the value itself "
         "as JSON when it is plain JSON (numbers, strings, lists, dicts, booleans, None).",
         "{\"type\":\"object\",\"properties\":{" S_TARGET ",\"expression\":{\"type\":\"string\","
         "\"description\":\"One Python expression, e.g. len(bpy.data.objects).\"}," S_TIMEOUT
         "},\"required\":[\"target\",\"expression\"],\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"ok\":{\"type\":"
         "\"boolean\"},\"repr\":{\"type\":\"string\",\"description\":\"repr() of the value.\"},"
         "\"value\":{\"description\":\"The value as JSON, when it is plain JSON.\"},"
         "\"has_json_value\":{\"type\":\"boolean\"}," S_OUTPUT "," S_ERROR
         ",\"duration_ms\":{\"type\":\"number\"}},\"required\":[\"target\",\"ok\",\"stdout\","
         "\"stderr\"]}",
         call_evaluate, 0},
        {"interrupt", "Interrupt running code",
         "Interrupt the code running now in a target's workers, whoever sent it "
         "(KeyboardInterrupt is raised in it; the worker stays warm and keeps its "
         "namespace). To stop a call of your own, cancel it instead.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET "},\"required\":[\"target\"],"
         "\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"interrupted\":{"
         "\"type\":\"integer\",\"description\":\"How many running requests were "
         "interrupted.\"}},\"required\":[\"target\",\"interrupted\"]}",
         call_interrupt, 0},
        {"reload_modules", "Reload edited Python modules",
         "Reload Python modules or packages in a target's warm worker after their files were "
         "edited, patching functions and classes in place so existing objects use the new "
         "code. A package means it and every loaded module below it. With purge the modules "
         "are removed from sys.modules instead, so the next import runs them afresh.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET ",\"modules\":{\"type\":\"array\","
         "\"items\":{\"type\":\"string\",\"minLength\":1},\"minItems\":1,\"description\":"
         "\"Module or package names, e.g. "
         "[\\\"mytools\\\"].\"},\"purge\":{\"type\":\"boolean\"}," S_TIMEOUT
         "},\"required\":[\"target\",\"modules\"],\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"ok\":{\"type\":"
         "\"boolean\"},\"modules\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
         "\"properties\":{\"module\":{\"type\":\"string\"},\"file\":{\"type\":[\"string\","
         "\"null\"]},\"status\":{\"type\":\"string\",\"description\":\"reloaded, unchanged, "
         "purged, deleted or failed.\"}}}}," S_OUTPUT "," S_ERROR "},\"required\":[\"target\","
         "\"ok\",\"modules\"]}",
         call_reload_modules, 0},
        {"restart_worker", "Restart a target's workers",
         "Replace a target's workers with fresh interpreters: the namespace and every loaded "
         "module start over. Use it when reload_modules is not enough or the interpreter is "
         "in a bad state. A running request finishes first; the next call starts a worker "
         "if none is running.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET "},\"required\":[\"target\"],"
         "\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"recycled\":{"
         "\"type\":\"integer\",\"description\":\"How many workers are being replaced.\"}},"
         "\"required\":[\"target\",\"recycled\"]}",
         call_restart_worker, 0},
        {"status", "Daemon and worker status",
         "The state of hotloadd and of every target it has workers for (or only the one "
         "given): per worker its state (starting, idle, busy, ...), pid, uptime, requests "
         "served and memory; per target its restarts and queue.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET "},\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"daemon\":{\"type\":\"object\"},\"targets\":{"
         "\"type\":\"array\",\"items\":{\"type\":\"object\"}}},\"required\":[\"targets\"]}",
         call_status, 1},
        {"worker_logs", "Recent output of a target's workers",
         "The recent output of a target's workers, of requests and between them (start-up "
         "messages, background threads, crashes): the place to look when a worker died or "
         "would not start.",
         "{\"type\":\"object\",\"properties\":{" S_TARGET ",\"entries\":{\"type\":\"integer\","
         "\"minimum\":1,\"description\":\"How many recent output chunks (default 200).\"}},"
         "\"required\":[\"target\"],\"additionalProperties\":false}",
         "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"text\":{"
         "\"type\":\"string\",\"description\":\"The output, oldest first.\"},\"entries\":{"
         "\"type\":\"integer\"},\"dropped_bytes\":{\"type\":\"integer\"}},\"required\":["
         "\"target\",\"text\",\"entries\"]}",
         call_worker_logs, 1},
};

#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

/* The allowed targets as a JSON array, or NULL when any is. */
static json_t *
allowed_array(const struct mcp_config *cfg)
{
	json_t *a;
	size_t i;

	if (!cfg->ntargets)
		return NULL;
	a = json_array();
	for (i = 0; i < cfg->ntargets; i++)
		json_array_append_new(a, json_string(cfg->targets[i]));
	return a;
}

/* The tools/list array; see mcp-tools.h. */
json_t *
mcptools_list(const struct mcp_config *cfg)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < NTOOLS; i++) {
		json_t *in = json_loads(tools[i].input, 0, NULL);
		json_t *out = json_loads(tools[i].output, 0, NULL);
		json_t *target = json_object_get(json_object_get(in, "properties"), "target");

		if (!in || !out) {
			/* a typo in the schema text above: a programming error */
			fprintf(stderr, "hotloadctl mcp: bad schema of %s\n", tools[i].name);
			abort();
		}
		if (target && cfg->ntargets) {
			struct buf d = BUF_INIT;
			size_t j;

			json_object_set_new(target, "enum", allowed_array(cfg));
			buf_puts(&d, "Where to run; this server may use only: ");
			for (j = 0; j < cfg->ntargets; j++)
				buf_printf(&d, "%s%s", j ? ", " : "", cfg->targets[j]);
			buf_puts(&d, ".");
			json_object_set_new(target, "description", json_string(d.data));
			buf_free(&d);
		}
		json_array_append_new(
		        list,
		        json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:b, s:b, s:b}}", "name",
		                  tools[i].name, "title", tools[i].title, "description",
		                  tools[i].description, "inputSchema", in, "outputSchema", out,
		                  "annotations", "readOnlyHint", tools[i].read_only,
		                  "destructiveHint", !tools[i].read_only, "openWorldHint", 0));
	}
	return list;
}

/* A CallToolResult: structured (taken) with text (len bytes, NULs and
 * all) beside it. */
static json_t *
result_newn(json_t *structured, const char *text, size_t len, int is_error)
{
	return json_pack("{s:[{s:s, s:s%}], s:o, s:b}", "content", "type", "text", "text", text,
	                 len, "structuredContent", structured, "isError", is_error);
}

static json_t *
result_new(json_t *structured, const char *text, int is_error)
{
	return result_newn(structured, text, strlen(text), is_error);
}

/* A CallToolResult for a call that could not be made: bad arguments, a
 * refused target, no daemon. Models read the message and try again. */
static json_t *tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *
tool_error(const char *fmt, ...)
{
	char msg[TOOL_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg, "isError",
	                 1);
}

/* The JSON text of v, indented, for the text item beside structured
 * content. */
static json_t *
result_json(json_t *structured)
{
	char *text = json_dumps(structured, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_t *r = result_new(structured, text ? text : "{}", 0);

	free(text);
	return r;
}

/* args.target, checked: a string, on the allow-list. NULL with *ret_err
 * set to a tool error otherwise (or, when optional, NULL and no error). */
static const char *
get_target(struct mcp_server *s, json_t *args, int optional, json_t **ret_err)
{
	const struct mcp_config *cfg = mcpserver_config(s);
	json_t *t = json_object_get(args, "target");
	struct buf d = BUF_INIT;
	size_t i;

	if (!t && optional)
		return NULL;
	if (!json_is_string(t) || !json_string_length(t)) {
		*ret_err = tool_error("'target' is required: a string such as python:3 or blender "
		                      "(list_targets shows them)");
		return NULL;
	}
	if (mcprpc_target_allowed(cfg->targets, cfg->ntargets, json_string_value(t)))
		return json_string_value(t);
	for (i = 0; i < cfg->ntargets; i++)
		buf_printf(&d, "%s%s", i ? ", " : "", cfg->targets[i]);
	*ret_err = tool_error("target '%s' is not allowed here: this server was started with "
	                      "--targets %s, so only those may be used",
	                      json_string_value(t), d.data);
	buf_free(&d);
	return NULL;
}

/* args.timeout, checked and capped: into *ret_s (the cap when absent);
 * a tool error in *ret_err when bad. */
static int
get_timeout(struct mcp_server *s, json_t *args, double *ret_s, json_t **ret_err)
{
	double cap = mcpserver_config(s)->max_timeout;
	json_t *t = json_object_get(args, "timeout");

	if (!t || json_is_null(t)) {
		*ret_s = cap;
		return 0;
	}
	if (!json_is_number(t) || !(json_number_value(t) > 0)) {
		*ret_err = tool_error("'timeout' must be a number of seconds above 0");
		return -EINVAL;
	}
	*ret_s = json_number_value(t) < cap ? json_number_value(t) : cap;
	return 0;
}

/* An optional boolean argument; -EINVAL with a tool error when not one. */
static int
get_bool(json_t *args, const char *key, int *ret, json_t **ret_err)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_boolean(v)) {
		*ret_err = tool_error("'%s' must be true or false", key);
		return -EINVAL;
	}
	*ret = json_is_true(v);
	return 0;
}

/* What a request collects while it runs. */
struct run {
	struct mcprpc_out out, err;
	json_t *reloaded; /* modules of the reloaded event */
};

/* Output and reload events of a request. */
static void
on_event(json_t *ev, void *userdata)
{
	struct run *run = userdata;
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *data = json_object_get(ev, "data");

	if (!name)
		return;
	if (!strcmp(name, "stdout") && json_is_string(data))
		mcprpc_out_add(&run->out, json_string_value(data), json_string_length(data));
	else if (!strcmp(name, "stderr") && json_is_string(data))
		mcprpc_out_add(&run->err, json_string_value(data), json_string_length(data));
	else if (!strcmp(name, "reloaded") && json_is_array(json_object_get(ev, "modules"))) {
		json_decref(run->reloaded);
		run->reloaded = json_incref(json_object_get(ev, "modules"));
	}
}

/* Send req to target and wait; 0 with the done, or a tool error in
 * *ret_err. A run cut short by a cancellation is answered by nobody. */
static int
run_request(struct mcp_server *s, const char *target, json_t *req, double timeout, struct run *run,
            json_t **ret_done, json_t **ret_err)
{
	char why[TOOL_ERR_MAX];
	int r;

	/* No "deadline": the timeout is for the code, not for a worker's
	 * start-up as well. */
	json_object_set_new(req, "timeout", json_real(timeout));
	r = mcpserver_request(s, target, req, timeout + WAIT_SLACK_S, on_event, run, ret_done, why,
	                      sizeof(why));
	if (r < 0) {
		*ret_err = tool_error("%s", why);
		return r;
	}
	return 0;
}

/* The string s (a JSON string, NULs and all; "" when it is not one) cut
 * to max bytes with a note, as output is: a new string. */
static json_t *
cut_string(json_t *s, size_t max, const char *name)
{
	struct mcprpc_out o;
	json_t *v;

	mcprpc_out_init(&o, max);
	if (json_is_string(s))
		mcprpc_out_add(&o, json_string_value(s), json_string_length(s));
	v = mcprpc_out_json(&o, name);
	mcprpc_out_free(&o);
	return v;
}

/* The fields every code-running result has: target, ok, output, error,
 * duration. */
static json_t *
run_result(const char *target, struct run *run, json_t *done)
{
	size_t max = run->out.max;
	json_t *res = json_pack("{s:s, s:b}", "target", target, "ok",
	                        json_is_true(json_object_get(done, "ok")));
	json_t *error = json_object_get(done, "error");

	json_object_set_new(res, "stdout", mcprpc_out_json(&run->out, "stdout"));
	json_object_set_new(res, "stderr", mcprpc_out_json(&run->err, "stderr"));
	json_object_set_new(res, "stdout_dropped_bytes",
	                    json_integer((json_int_t)run->out.dropped));
	json_object_set_new(res, "stderr_dropped_bytes",
	                    json_integer((json_int_t)run->err.dropped));
	if (json_is_object(error)) {
		json_t *tb = json_object_get(error, "traceback");
		json_t *e = json_pack(
		        "{s:s, s:o}", "type",
		        json_string_value(json_object_get(error, "type"))
		                ? json_string_value(json_object_get(error, "type"))
		                : "Error",
		        "message",
		        cut_string(json_object_get(error, "message"), max, "the message"));

		/* an exception's message can be megabytes too */
		if (json_is_string(tb))
			json_object_set_new(e, "traceback", cut_string(tb, max, "the traceback"));
		json_object_set_new(res, "error", e);
	}
	if (json_is_number(json_object_get(done, "duration_ms")))
		json_object_set(res, "duration_ms", json_object_get(done, "duration_ms"));
	return res;
}

/* Append the JSON string s (NULs and all) and, when it does not end in
 * one, a newline; nothing when s is empty or not a string. */
static void
put_lines(struct buf *b, const char *head, json_t *s)
{
	size_t len = json_string_length(s);

	if (!len)
		return;
	buf_puts(b, head);
	buf_append(b, json_string_value(s), len);
	if (json_string_value(s)[len - 1] != '\n')
		buf_puts(b, "\n");
}

/* The text a model reads: output, then the value or the error. */
static json_t *
run_text_result(json_t *res, const char *value_repr)
{
	json_t *error = json_object_get(res, "error");
	int ok = json_is_true(json_object_get(res, "ok"));
	struct buf b = BUF_INIT;
	json_t *r;

	if (value_repr)
		buf_printf(&b, "%s\n", value_repr);
	put_lines(&b, value_repr ? "stdout:\n" : "", json_object_get(res, "stdout"));
	put_lines(&b, "stderr:\n", json_object_get(res, "stderr"));
	if (error) /* as a raw reply says it: a timeout after its traceback too */
		errfmt_report(error, &b);
	if (!b.len)
		buf_puts(&b, ok ? "(no output)" : "(failed, no output)");
	r = result_newn(res, b.data, b.len, !ok);
	buf_free(&b);
	return r;
}

static void
run_init(struct mcp_server *s, struct run *run)
{
	memset(run, 0, sizeof(*run));
	mcprpc_out_init(&run->out, mcpserver_config(s)->max_output);
	mcprpc_out_init(&run->err, mcpserver_config(s)->max_output);
}

static void
run_free(struct run *run)
{
	mcprpc_out_free(&run->out);
	mcprpc_out_free(&run->err);
	json_decref(run->reloaded);
}

/* execute_python */
static int
call_execute(struct mcp_server *s, json_t *args, json_t **ret)
{
	json_t *code = json_object_get(args, "code"), *req = NULL, *done = NULL, *res;
	const char *target;
	double timeout;
	struct run run;
	int fresh;

	if (!(target = get_target(s, args, 0, ret)))
		return 0;
	if (!json_is_string(code)) {
		*ret = tool_error("'code' is required: the Python statements to run, a string");
		return 0;
	}
	if (get_timeout(s, args, &timeout, ret) || get_bool(args, "fresh", &fresh, ret))
		return 0;
	run_init(s, &run);
	req = json_pack("{s:s, s:O, s:s}", "op", "exec", "code", code, "file", "<mcp>");
	if (fresh)
		json_object_set_new(req, "ns", json_string("fresh"));
	if (run_request(s, target, req, timeout, &run, &done, ret) == 0) {
		res = run_result(target, &run, done);
		*ret = run_text_result(res, NULL);
	}
	json_decref(done);
	json_decref(req);
	run_free(&run);
	return 0;
}

/* evaluate_python */
static int
call_evaluate(struct mcp_server *s, json_t *args, json_t **ret)
{
	json_t *expr = json_object_get(args, "expression"), *req, *done = NULL, *res, *value;
	const char *target;
	double timeout;
	struct run run;

	if (!(target = get_target(s, args, 0, ret)))
		return 0;
	if (!json_is_string(expr)) {
		*ret = tool_error("'expression' is required: one Python expression, a string");
		return 0;
	}
	if (get_timeout(s, args, &timeout, ret))
		return 0;
	run_init(s, &run);
	req = json_pack("{s:s, s:O, s:s}", "op", "eval", "code", expr, "file", "<mcp>");
	if (run_request(s, target, req, timeout, &run, &done, ret) == 0) {
		res = run_result(target, &run, done);
		value = json_object_get(done, "value");
		if (json_is_string(value))
			json_object_set(res, "repr", value);
		json_object_set_new(res, "has_json_value",
		                    json_boolean(json_object_get(done, "json") != NULL));
		if (json_object_get(done, "json"))
			json_object_set(res, "value", json_object_get(done, "json"));
		*ret = run_text_result(res, json_string_value(value));
	}
	json_decref(done);
	json_decref(req);
	run_free(&run);
	return 0;
}

/* reload_modules */
static int
call_reload_modules(struct mcp_server *s, json_t *args, json_t **ret)
{
	json_t *mods = json_object_get(args, "modules"), *req, *done = NULL, *res, *m;
	const char *target;
	double timeout;
	struct run run;
	size_t i;
	int purge;

	if (!(target = get_target(s, args, 0, ret)))
		return 0;
	if (!json_is_array(mods) || !json_array_size(mods)) {
		*ret = tool_error("'modules' is required: a non-empty list of module names");
		return 0;
	}
	json_array_foreach(mods, i, m)
	{
		if (!json_is_string(m) || !json_string_length(m)) {
			*ret = tool_error("'modules' must hold module names: non-empty strings");
			return 0;
		}
	}
	if (get_timeout(s, args, &timeout, ret) || get_bool(args, "purge", &purge, ret))
		return 0;
	run_init(s, &run);
	req = json_pack("{s:s, s:O, s:s}", "op", "reload", "modules", mods, "strategy",
	                purge ? "purge" : "reload");
	if (run_request(s, target, req, timeout, &run, &done, ret) == 0) {
		res = run_result(target, &run, done);
		json_object_set_new(res, "modules",
		                    run.reloaded ? json_incref(run.reloaded) : json_array());
		/* failed: the text says why, the modules' errors are in the
		 * structured part */
		*ret = json_is_true(json_object_get(res, "ok")) ? result_json(res)
		                                                : run_text_result(res, NULL);
	}
	json_decref(done);
	json_decref(req);
	run_free(&run);
	return 0;
}

/* A control op, its done in *ret_done; a tool error in *ret when it
 * could not be done or was not ok. */
static int
control(struct mcp_server *s, json_t *req, json_t **ret_done, json_t **ret)
{
	char why[TOOL_ERR_MAX], text[TOOL_ERR_MAX];
	json_t *done = NULL, *error;
	int r;

	r = mcpserver_control(s, req, &done, why, sizeof(why));
	json_decref(req);
	if (r < 0) {
		*ret = tool_error("%s", why);
		return r;
	}
	error = json_object_get(done, "error");
	if (!error && json_is_array(json_object_get(done, "targets")))
		error = json_object_get(json_array_get(json_object_get(done, "targets"), 0),
		                        "error");
	if (!json_is_true(json_object_get(done, "ok"))) {
		snprintf(text, sizeof(text), "%s: %s",
		         json_string_value(json_object_get(error, "type"))
		                 ? json_string_value(json_object_get(error, "type"))
		                 : "Error",
		         json_string_value(json_object_get(error, "message"))
		                 ? json_string_value(json_object_get(error, "message"))
		                 : "the daemon refused");
		*ret = tool_error("%s", text);
		json_decref(done);
		return -EINVAL;
	}
	*ret_done = done;
	return 0;
}

/* A per-target op answered with a count: interrupt, recycle. */
static int
call_count(struct mcp_server *s, json_t *args, const char *op, const char *key, json_t **ret)
{
	json_t *done = NULL, *res;
	const char *target;

	if (!(target = get_target(s, args, 0, ret)))
		return 0;
	if (control(s, json_pack("{s:s, s:[s]}", "op", op, "targets", target), &done, ret))
		return 0;
	res = json_pack("{s:s, s:I}", "target", target, key,
	                json_integer_value(json_object_get(
	                        json_array_get(json_object_get(done, "targets"), 0), key)));
	*ret = result_json(res);
	json_decref(done);
	return 0;
}

static int
call_interrupt(struct mcp_server *s, json_t *args, json_t **ret)
{
	return call_count(s, args, "interrupt", "interrupted", ret);
}

static int
call_restart_worker(struct mcp_server *s, json_t *args, json_t **ret)
{
	return call_count(s, args, "recycle", "recycled", ret);
}

/* status */
static int
call_status(struct mcp_server *s, json_t *args, json_t **ret)
{
	json_t *req = json_pack("{s:s}", "op", "status"), *done = NULL, *st;
	json_t *err = NULL;
	const char *target = get_target(s, args, 1, &err);

	if (err) {
		json_decref(req);
		*ret = err;
		return 0;
	}
	if (target)
		json_object_set_new(req, "target", json_string(target));
	if (control(s, req, &done, ret))
		return 0;
	st = json_object_get(done, "status");
	*ret = result_json(json_is_object(st) ? json_incref(st) : json_object());
	json_decref(done);
	return 0;
}

/* obj[key] when it is there, else def: a new reference either way (def
 * is taken). */
static json_t *
member(json_t *obj, const char *key, json_t *def)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return def;
	json_decref(def);
	return json_incref(v);
}

/* list_targets: the hooks and their installs, and the running targets. */
static int
call_list_targets(struct mcp_server *s, json_t *args, json_t **ret)
{
	const struct mcp_config *cfg = mcpserver_config(s);
	json_t *done = NULL, *sdone = NULL, *hooks = json_array(), *running = json_array();
	json_t *h, *in, *t, *res, *allowed;
	size_t i, j;

	(void)args;
	if (control(s, json_pack("{s:s}", "op", "list"), &done, ret) ||
	    control(s, json_pack("{s:s}", "op", "status"), &sdone, ret))
		goto out;
	json_array_foreach(json_object_get(done, "hooks"), i, h)
	{
		const char *name = json_string_value(json_object_get(h, "name"));
		json_t *installs, *hook;

		if (!name)
			continue;
		installs = json_array();
		json_array_foreach(json_object_get(h, "installs"), j, in)
		{
			const char *version = json_string_value(json_object_get(in, "version"));
			char target[256];

			if (!version)
				continue;
			snprintf(target, sizeof(target), "%s:%s", name, version);
			json_array_append_new(
			        installs,
			        json_pack("{s:s, s:s, s:o, s:b}", "target", target, "version",
			                  version, "path", member(in, "path", json_string("")),
			                  "usable",
			                  mcprpc_target_allowed(cfg->targets, cfg->ntargets,
			                                        target) ||
			                          mcprpc_target_allowed(cfg->targets, cfg->ntargets,
			                                                name)));
		}
		hook = json_pack("{s:s, s:o}", "name", name, "installs", installs);
		json_object_set_new(hook, "aliases", member(h, "aliases", json_array()));
		if (json_is_string(json_object_get(h, "description")))
			json_object_set(hook, "description", json_object_get(h, "description"));
		json_object_set_new(hook, "default_version",
		                    member(h, "default_version", json_null()));
		json_array_append_new(hooks, hook);
	}
	json_array_foreach(json_object_get(json_object_get(sdone, "status"), "targets"), i, t)
	{
		json_t *r = json_object();

		json_object_set_new(r, "target", member(t, "target", json_string("?")));
		json_object_set_new(r, "state", member(t, "state", json_string("?")));
		json_object_set_new(r, "workers", member(t, "workers", json_array()));
		json_array_append_new(running, r);
	}
	res = json_pack("{s:O, s:O}", "hooks", hooks, "running", running);
	if ((allowed = allowed_array(cfg)))
		json_object_set_new(res, "allowed_targets", allowed);
	*ret = result_json(res);
out:
	json_decref(hooks);
	json_decref(running);
	json_decref(done);
	json_decref(sdone);
	return 0;
}

/* worker_logs: the newest entries that fit in --max-output. */
static int
call_worker_logs(struct mcp_server *s, json_t *args, json_t **ret)
{
	size_t max = mcpserver_config(s)->max_output, total = 0, n, i, first;
	json_t *entries = json_object_get(args, "entries"), *done = NULL, *logs, *e, *res;
	struct buf text = BUF_INIT;
	const char *target;

	if (!(target = get_target(s, args, 0, ret)))
		return 0;
	if (entries && (!json_is_integer(entries) || json_integer_value(entries) < 1)) {
		*ret = tool_error("'entries' must be a whole number of 1 or more");
		return 0;
	}
	if (control(s,
	            json_pack("{s:s, s:s, s:I}", "op", "logs", "target", target, "entries",
	                      entries ? json_integer_value(entries) : (json_int_t)200),
	            &done, ret))
		return 0;
	logs = json_object_get(done, "logs");
	n = json_array_size(logs);
	/* newest last: keep from the end back while it fits */
	for (first = n; first > 0; first--) {
		size_t len = json_string_length(
		        json_object_get(json_array_get(logs, first - 1), "data"));

		if (total + len > max)
			break;
		total += len;
	}
	json_array_foreach(logs, i, e)
	{
		json_t *d = json_object_get(e, "data");

		if (i >= first && json_is_string(d))
			buf_append(&text, json_string_value(d), json_string_length(d));
	}
	{
		size_t dropped = 0;

		for (i = 0; i < first; i++)
			dropped += json_string_length(
			        json_object_get(json_array_get(logs, i), "data"));
		res = json_pack("{s:s, s:s%, s:I, s:I}", "target", target, "text",
		                text.data ? text.data : "", text.len, "entries", (json_int_t)n,
		                "dropped_bytes", (json_int_t)dropped);
		if (dropped) {
			char note[160];

			snprintf(note, sizeof(note),
			         "[hotloadctl mcp: %zu older bytes dropped; the limit is %zu]\n",
			         dropped, max);
			json_object_set_new(res, "text",
			                    json_pack("s++", note, text.data ? text.data : "", ""));
		}
	}
	*ret = result_new(res,
	                  json_string_value(json_object_get(res, "text"))[0]
	                          ? json_string_value(json_object_get(res, "text"))
	                          : "(no output recorded)",
	                  0);
	json_decref(done);
	buf_free(&text);
	return 0;
}

/* Call a tool; see mcp-tools.h. */
int
mcptools_call(struct mcp_server *s, const char *name, json_t *args, json_t **ret_result)
{
	json_t *empty = NULL, *res = NULL;
	size_t i;

	for (i = 0; i < NTOOLS; i++)
		if (!strcmp(tools[i].name, name))
			break;
	if (i == NTOOLS)
		return -ENOENT;
	if (!args)
		args = empty = json_object();
	tools[i].call(s, args, &res);
	json_decref(empty);
	if (!res)
		res = tool_error("%s failed", name);
	*ret_result = res;
	return 0;
}
