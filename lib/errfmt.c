/* errfmt.c - a daemon's error object in words, the same in a raw reply
 * and on hotloadctl's stderr */
#include <string.h>

#include "buf.h"
#include "errfmt.h"

/* A string member, or def when it is missing or not a string. */
static const char *
str(json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : def;
}

/* "Type: message"; see errfmt.h. */
void
errfmt_summary(json_t *error, struct buf *out)
{
	const char *type = str(error, "type", "Error");
	const char *message = str(error, "message", "");

	if (message[0])
		buf_printf(out, "%s: %s", type, message);
	else
		buf_puts(out, type);
}

/* The traceback, or the summary; see errfmt.h. */
void
errfmt_report(json_t *error, struct buf *out)
{
	const char *tb = str(error, "traceback", "");

	if (tb[0]) {
		buf_puts(out, tb);
		if (tb[strlen(tb) - 1] != '\n')
			buf_puts(out, "\n");
	}
	/* The traceback says what the code raised; an error the daemon
	 * made (a timeout, a dead worker) says its own type after it. */
	if (!tb[0] || !strcmp(str(error, "type", ""), "Timeout")) {
		errfmt_summary(error, out);
		buf_puts(out, "\n");
	}
}
