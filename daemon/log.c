/* log.c - leveled logging to stderr */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#endif

#include "log.h"

/* Log settings are globals (STYLE.md). The daemon's only other ones are
 * process-wide by nature: hook-resolve.c's cache of interpreter versions
 * (one per executable file, whoever asks) and worker.c's next worker id. */
static int log_max = LOG_LEVEL_INFO;
static int log_prefix;  /* stderr goes to the journal: use <N> priority prefixes */
static int log_journal; /* ... and we can send it structured entries directly */

/* Is stderr the journal stream systemd gave us (JOURNAL_STREAM=dev:ino)? */
static int
stderr_is_journal(void)
{
#ifdef HAVE_SYSTEMD
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
#else
	return 0;
#endif
}

void
log_setup(int max_level)
{
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal;
	 * "<N>" prefixes then carry the priority and the time stamp is the
	 * journal's own. */
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
	log_journal = stderr_is_journal();
}

void
log_describe(char *out, size_t outlen)
{
	char path[512];
	ssize_t n;

	if (log_prefix) {
		snprintf(out, outlen, "the journal: journalctl _PID=%d", (int)getpid());
		return;
	}
	if (isatty(2)) {
		snprintf(out, outlen, "the terminal hotloadd runs in (pid %d)", (int)getpid());
		return;
	}
	n = readlink("/proc/self/fd/2", path, sizeof(path) - 1);
	if (n > 0 && path[0] == '/') {
		path[n] = '\0';
		snprintf(out, outlen, "%s", path);
		return;
	}
	snprintf(out, outlen, "the standard error of hotloadd (pid %d)", (int)getpid());
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

/* One entry; target and pid, when given, become journal fields. */
static void
log_write_fields(int level, const char *msg, const char *target, int pid, const char *stream,
                 const char *request)
{
#ifdef HAVE_SYSTEMD
	if (log_journal) {
		char prio[32], f_target[160], f_pid[48], f_stream[48], f_req[80], *m;
		struct iovec iov[7];
		int n = 0;

		m = malloc(strlen(msg) + 9);
		if (m) {
			sprintf(m, "MESSAGE=%s", msg);
			iov[n++] = (struct iovec){m, strlen(m)};
			snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
			iov[n++] = (struct iovec){prio, strlen(prio)};
			iov[n++] = (struct iovec){"SYSLOG_IDENTIFIER=hotloadd", 26};
			if (target) {
				snprintf(f_target, sizeof(f_target), "HOTLOAD_TARGET=%s", target);
				iov[n++] = (struct iovec){f_target, strlen(f_target)};
				snprintf(f_pid, sizeof(f_pid), "HOTLOAD_WORKER_PID=%d", pid);
				iov[n++] = (struct iovec){f_pid, strlen(f_pid)};
			}
			if (stream) {
				snprintf(f_stream, sizeof(f_stream), "HOTLOAD_STREAM=%s", stream);
				iov[n++] = (struct iovec){f_stream, strlen(f_stream)};
			}
			if (request) {
				snprintf(f_req, sizeof(f_req), "HOTLOAD_REQUEST=%s", request);
				iov[n++] = (struct iovec){f_req, strlen(f_req)};
			}
			n = sd_journal_sendv(iov, n);
			free(m);
			if (n >= 0)
				return;
		}
	}
#endif
	if (log_prefix)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "hotloadd: %s%s\n", level_name(level), msg);
}

static void
log_write(int level, const char *msg)
{
	log_write_fields(level, msg, NULL, 0, NULL, NULL);
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
log_worker(int level, const char *target, int pid, const char *request, const char *fmt, ...)
{
	char msg[2048];
	int n;
	va_list ap;

	if (!log_enabled(level))
		return;
	n = snprintf(msg, sizeof(msg), "%s[%d]: ", target, pid);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	log_write_fields(level, msg, target, pid, NULL, request);
}

void
log_worker_output(const char *target, int pid, const char *stream, const char *data, size_t len)
{
	char msg[2048];

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		snprintf(msg, sizeof(msg), "%s[%d] %s: %.*s", target, pid, stream, (int)n, data);
		log_write_fields(LOG_LEVEL_INFO, msg, target, pid, stream, NULL);
		n += nl ? 1 : 0;
		data += n;
		len -= n;
	}
}
