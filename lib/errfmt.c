/* errfmt.c - a daemon's error object in words, the same in a raw reply
 * and on hotloadctl's stderr */
#include <string.h>

#include "buf.h"
#include "errfmt.h"

/* A string member and (len, unless NULL) its length, NULs and all
 * (Python's messages may hold them), or def when it is missing or not a
 * string. */
static const char *
str(json_t *obj, const char *key, const char *def, size_t *len)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v)) {
		if (len)
			*len = strlen(def);
		return def;
	}
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

/* "Type: message"; see errfmt.h. */
void
errfmt_summary(json_t *error, struct buf *out)
{
	size_t type_len, message_len;
	const char *type = str(error, "type", "Error", &type_len);
	const char *message = str(error, "message", "", &message_len);

	buf_append(out, type, type_len);
	if (message_len) {
		buf_puts(out, ": ");
		buf_append(out, message, message_len);
	}
}

/* The traceback, or the summary; see errfmt.h. */
void
errfmt_report(json_t *error, struct buf *out)
{
	size_t tb_len;
	const char *tb = str(error, "traceback", "", &tb_len);

	if (tb_len) {
		buf_append(out, tb, tb_len);
		if (tb[tb_len - 1] != '\n')
			buf_puts(out, "\n");
	}
	/* The traceback says what the code raised; an error the daemon
	 * made (a timeout, a dead worker) says its own type after it. */
	if (!tb_len || !strcmp(str(error, "type", "", NULL), "Timeout")) {
		errfmt_summary(error, out);
		buf_puts(out, "\n");
	}
}
