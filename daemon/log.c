/* log.c - leveled logging to stderr */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The only globals: log settings (STYLE.md). */
static int log_max = LOG_LEVEL_INFO;
static int log_prefix; /* stderr goes to the journal: use <N> priority prefixes */

void
log_setup(int max_level)
{
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal;
	 * "<N>" prefixes then carry the priority and the time stamp is the
	 * journal's own. */
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
}

int
log_level_from_string(const char *s)
{
	if (!strcmp(s, "debug"))
		return LOG_LEVEL_DEBUG;
	if (!strcmp(s, "info"))
		return LOG_LEVEL_INFO;
	if (!strcmp(s, "warning") || !strcmp(s, "warn"))
		return LOG_LEVEL_WARNING;
	if (!strcmp(s, "error") || !strcmp(s, "err"))
		return LOG_LEVEL_ERR;
	return -1;
}

int
log_enabled(int level)
{
	return level <= log_max;
}

static const char *
level_name(int level)
{
	switch (level) {
	case LOG_LEVEL_ERR:
		return "error: ";
	case LOG_LEVEL_WARNING:
		return "warning: ";
	case LOG_LEVEL_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

static void
log_write(int level, const char *msg)
{
	if (log_prefix)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "hotloadd: %s%s\n", level_name(level), msg);
}

void
log_msg(int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, msg);
}

int
log_msg_errno(int level, int r, const char *fmt, ...)
{
	char msg[2048];
	size_t n;
	va_list ap;

	if (!log_enabled(level))
		return r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(r < 0 ? -r : r));
	log_write(level, msg);
	return r;
}

void
log_worker_output(const char *target, int pid, const char *stream, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		log_msg(LOG_LEVEL_INFO, "%s[%d] %s: %.*s", target, pid, stream, (int)n, data);
		n += nl ? 1 : 0;
		data += n;
		len -= n;
	}
}
