/* ctl-control.h - a connection to hotloadd's control target ("hotload") */
#ifndef HOTLOAD_CTL_CONTROL_H
#define HOTLOAD_CTL_CONTROL_H

#include <jansson.h>

struct ctl_opts;
struct ctlcontrol;

/* Connect to the control target. Returns 0 with *ret set, or an exit
 * status: CTL_EXIT_UNREACHABLE when no daemon answers (said on stderr
 * unless silent), CTL_EXIT_USAGE for an unusable address (always said). */
int ctlcontrol_open(const struct ctl_opts *o, int silent, struct ctlcontrol **ret);

void ctlcontrol_free(struct ctlcontrol *cc);

/* Send req (its "id" is set here) and wait for its "done". Returns 0 with
 * the done event in *ret_done (the caller's reference), or an exit status
 * with the reason said on stderr. Other events are skipped. */
int ctlcontrol_call(struct ctlcontrol *cc, json_t *req, json_t **ret_done);

/* The shutdown op. A daemon with nothing to stop may close the connection
 * before its answer is out: then this returns 0 with *ret_done NULL. */
int ctlcontrol_shutdown(struct ctlcontrol *cc, json_t **ret_done);

/* ctlcontrol_call of {"op": op}. */
int ctlcontrol_op(struct ctlcontrol *cc, const char *op, json_t **ret_done);

/* The daemon's status object (the caller's reference), or an exit status. */
int ctlcontrol_status(struct ctlcontrol *cc, json_t **ret_status);

/* ctlcontrol_call of {"op": op, "targets": targets[0..n)}. */
int ctlcontrol_targets(struct ctlcontrol *cc, const char *op, const char *const *targets, int n,
                       json_t **ret_done);

/* Open a connection, run req on it, close it. Returns 0 with the done in
 * *ret_done when it is ok; else the error is said (after "what: ") and an
 * exit status returned: a refusal's, or CTL_EXIT_FAILED (a ConfigError
 * too: the reload was tried). */
int ctlcontrol_call_ok(const struct ctl_opts *o, json_t *req, const char *what, json_t **ret_done);

/* Whether a daemon answers a control ping at o's address, quietly; its
 * pid in *ret_pid when it does (0 if the status did not say). */
int ctlcontrol_alive(const struct ctl_opts *o, long *ret_pid);

/* A per-target op answered with a count per target, and how to say it:
 * "NAME: <did> K <noun>s", or "NAME: <none>" for 0. */
struct ctlcontrol_count {
	const char *op;    /* "interrupt" */
	const char *count; /* the count's key in each target's result: "interrupted" */
	const char *none;  /* "nothing was running" */
	const char *did;   /* "interrupted" */
	const char *noun;  /* "request" */
};

/* Check targets[0..n), run c->op on them, say each result. Returns the
 * exit status: 0, or the last failure's. */
int ctlcontrol_count_targets(const struct ctl_opts *o, const struct ctlcontrol_count *c,
                             const char *const *targets, int n);

#endif
