/* cmd-logs.h - `hotloadctl logs`: its output put back into lines */
#ifndef HOTLOAD_CMD_LOGS_H
#define HOTLOAD_CMD_LOGS_H

#include <jansson.h>
#include <time.h>

#include "buf.h"

/* A line of output put back together: the daemon keeps chunks as the
 * worker wrote them, and a chunk may end mid-line or hold many lines. */
struct cmd_logline {
	time_t time;
	json_int_t pid;
	const char *stream; /* "stdout" or "stderr", borrowed from the entry */
	struct buf text;
	int closed; /* ends with its '\n' */
};

/* Cut the daemon's log entries into lines: the rest of a cut line comes
 * from the same process and stream. Returns how many are in *ret (an
 * array to free, with each text). */
size_t cmd_logs_split(json_t *logs, struct cmd_logline **ret);

#endif
