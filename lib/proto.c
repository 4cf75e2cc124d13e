/* proto.c - where a daemon listens by default, and what its errors mean */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "proto.h"

/* The default socket; see proto.h. The daemon binds it and the clients
 * connect to it, so it is computed here only. */
char *
proto_default_socket(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct buf b = BUF_INIT;

	if (xdg && *xdg)
		buf_printf(&b, "%s/hotload/hotloadd.sock", xdg);
	else if (geteuid() == 0)
		buf_puts(&b, "/run/hotload/hotloadd.sock");
	else
		buf_printf(&b, "/tmp/hotload-%u/hotloadd.sock", (unsigned)geteuid());
	return buf_steal(&b);
}

/* The error types of docs/protocol.md that say nothing was tried. */
int
proto_error_refused(const char *type)
{
	static const char *const refusals[] = {
	        "UnknownTarget", "NotInstalled",     "BadHeader",          "BadRequest",
	        "ShuttingDown",  "PermissionDenied", "TooManyConnections", "DebugSession"};
	size_t i;

	for (i = 0; type && i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (!strcmp(type, refusals[i]))
			return 1;
	return 0;
}
