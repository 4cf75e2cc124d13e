/* log.h - leveled logging to stderr, with journal priority prefixes */
#ifndef HOTLOAD_LOG_H
#define HOTLOAD_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Messages above max_level are dropped. */
void log_setup(int max_level);
int log_level_from_string(const char *s);

/* Where the log goes, for a user to look: "the journal: journalctl
 * _PID=N", "/path/of/the/file", "the terminal hotloadd runs in (pid N)". */
void log_describe(char *out, size_t outlen);
int log_enabled(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log with strerror(-r) appended; returns r so callers can "return log_…". */
int log_msg_errno(int level, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* About one worker: "target[pid]: message", with HOTLOAD_TARGET=,
 * HOTLOAD_WORKER_PID= and (when request is not NULL) HOTLOAD_REQUEST=
 * fields in the journal. */
void log_worker(int level, const char *target, int pid, const char *request, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* Output a worker printed between requests, one log line per line of it. */
void log_worker_output(const char *target, int pid, const char *stream, const char *data,
                       size_t len);

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn_errno(r, ...) log_msg_errno(LOG_LEVEL_WARNING, r, __VA_ARGS__)
#define log_err_errno(r, ...) log_msg_errno(LOG_LEVEL_ERR, r, __VA_ARGS__)

#endif
