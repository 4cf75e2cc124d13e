/* ctl-request.h - one JSON-mode request to hotloadd, its events shown as they come */
#ifndef HOTLOAD_CTL_REQUEST_H
#define HOTLOAD_CTL_REQUEST_H

#include <jansson.h>
#include <stddef.h>

struct ctl_opts;

/* Called with the "done" event of the request; returns the exit status. */
typedef int (*ctlreq_done_cb)(const struct ctl_opts *o, json_t *done, void *userdata);

/* Connect, open target in JSON mode, send req (its "id" is set here) and
 * stream its stdout/stderr events to fds 1 and 2 (or, with o->json, every
 * event line to fd 1) until "done", which goes to on_done. Returns an exit
 * status (enum ctl_exit); all messages are printed here. */
int ctlreq_run(const struct ctl_opts *o, const char *target, json_t *req, ctlreq_done_cb on_done,
               void *userdata);

/* How the code runs, as `python FILE ARGS` would run it. */
struct ctlreq_script {
	const char *path;        /* the file's absolute path (its __file__), or NULL */
	const char *argv0;       /* sys.argv[0]: the file as given, or "-c" */
	const char *const *args; /* the rest of sys.argv */
	int nargs;
};

/* Run code[0..len) in target; file is the name tracebacks show. The
 * client's working directory goes with it; script may be NULL. */
int ctlreq_exec(const struct ctl_opts *o, const char *target, const char *code, size_t len,
                const char *file, int fresh, const struct ctlreq_script *script);

/* Evaluate expr in target and print the repr of its value. */
int ctlreq_eval(const struct ctl_opts *o, const char *target, const char *expr);

/* Reload (or with purge, forget) the modules and packages names in a
 * worker of target; prints "MODULE: STATUS" per module. */
int ctlreq_reload_modules(const struct ctl_opts *o, const char *target, const char *const *names,
                          int n, int purge);

/* Check that a worker of target answers. */
int ctlreq_ping(const struct ctl_opts *o, const char *target);

#endif
