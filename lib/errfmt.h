/* errfmt.h - a daemon's error object ({"type", "message", "traceback"}) in words */
#ifndef HOTLOAD_ERRFMT_H
#define HOTLOAD_ERRFMT_H

#include <jansson.h>

struct buf;

/* Append "Type: message", or the type alone when there is no message
 * ("Error" when the type is missing too); error may be NULL. One line
 * for a message of one line: for messages of hotloadctl's own. */
void errfmt_summary(json_t *error, struct buf *out);

/* Append the error as a raw reply's ERRORS part and a terminal show it,
 * as Python would: the traceback, ending in a newline; then the summary
 * and a newline when there is no traceback, or when the daemon made the
 * error (a Timeout), which the interrupted code's traceback does not say. */
void errfmt_report(json_t *error, struct buf *out);

#endif
