/* control.h - the daemon's own requests: status and friends */
#ifndef HOTLOAD_CONTROL_H
#define HOTLOAD_CONTROL_H

#include <jansson.h>

#include "proto.h" /* HOTLOAD_CONTROL_TARGET: the header that makes one */

struct server;

/* Answer one control request (borrowed); returns the result object
 * ({"ok": …, …}, new reference) without id and event. */
json_t *control_handle(struct server *s, json_t *req);

#endif
