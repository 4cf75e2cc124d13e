/* control.h - the daemon's own requests: status and friends */
#ifndef HOTLOAD_CONTROL_H
#define HOTLOAD_CONTROL_H

#include <jansson.h>

#include "proto.h" /* HOTLOAD_CONTROL_TARGET: the header that makes one */

struct server;

/* Answer one control request (borrowed): the result object ({"ok": …, …},
 * new reference) without id and event in *ret. -EINPROGRESS when it needs
 * an install whose version is being probed: nothing was done, and the
 * request is to be asked again when a probe ends (server_probes). */
int control_handle(struct server *s, json_t *req, json_t **ret);

#endif
