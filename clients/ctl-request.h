/* ctl-request.h - one request to hotloadd, its events shown as they come:
 * what exec, eval, ping and reload-modules share */
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

/* Print the error of a failed request (its done) on stderr as Python
 * would, unless o->json; returns CTL_EXIT_FAILED. */
int ctlreq_print_failure(const struct ctl_opts *o, json_t *done);

/* Set req[key] to s[0..len): 0, or CTL_EXIT_USAGE, said, when it is not
 * UTF-8. */
int ctlreq_set_string(json_t *req, const char *key, const char *s, size_t len);

/* --timeout: how long the code may run, and how long we wait in all;
 * --session: the debug session whose worker runs it. */
void ctlreq_set_limits(const struct ctl_opts *o, json_t *req);

/* The client's working directory, where the code runs as it would here. */
void ctlreq_set_cwd(json_t *req);

#endif
