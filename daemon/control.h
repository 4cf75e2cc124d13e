/* control.h - the daemon's own requests: status and friends */
#ifndef HOTLOAD_CONTROL_H
#define HOTLOAD_CONTROL_H

#include <jansson.h>

struct server;

/* The reserved header target of control connections ("hotload mode=json"). */
#define CONTROL_TARGET "hotload"

/* Answer one control request (borrowed); returns the result object
 * ({"ok": …, …}, new reference) without id and event. */
json_t *control_handle(struct server *s, json_t *req);

#endif
