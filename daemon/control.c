/* control.c - the daemon's own requests: status and friends */
#include <string.h>

#include "control.h"
#include "request.h"
#include "server.h"

json_t *
control_handle(struct server *s, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!op)
		return request_error_json("BadRequest", "missing field 'op' (a string)");
	if (!strcmp(op, "ping"))
		return json_pack("{s:b}", "ok", 1);
	if (!strcmp(op, "status"))
		return json_pack("{s:b, s:o}", "ok", 1, "status", server_status(s));
	return request_error_json("BadRequest", "unknown control op (known: status, ping)");
}
