/* ctl.c - messages and output helpers shared by the hotloadctl commands */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "header.h"
#include "proto.h"

/* "hotloadctl: " + the message + newline, on stderr. */
static void
vmsg(const char *fmt, va_list ap)
{
	fputs("hotloadctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void
ctl_msg(const struct ctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o && o->quiet)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* A failure's reason: printed under -q too, since the exit status alone
 * rarely says what to fix. */
void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* "hotloadctl: CMD: ..." and where help is; see ctl.h. */
int
ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("hotloadctl: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nTry 'hotloadctl help %s'.\n", cmd);
	else
		fputs("\nTry 'hotloadctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

/* Format into a buffer and write it in one go, so that output and the
 * code's own output never interleave mid-line. */
void
ctl_print(int fd, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(&b, (size_t)n + 1);
	s = b.data;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ctl_write_all(fd, s, (size_t)n);
	buf_free(&b);
}

/* Indented, reals as precise as the daemon sent them. */
void
ctl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));

	if (s) {
		ctl_print(1, "%s\n", s);
		free(s);
	}
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stdout_errno; /* the first failed write to stdout, EPIPE aside */

int
ctl_stdout_error(void)
{
	if (fflush(stdout) != 0 && !stdout_errno && errno != EPIPE)
		stdout_errno = errno ? errno : EIO;
	return stdout_errno;
}

/* Write everything, retrying short writes; a non-blocking fd (inherited from
 * a parent that set O_NONBLOCK on a shared terminal or pipe) is waited on.
 * A failed write to stdout is remembered for the exit status, except a
 * closed pipe (hotloadctl ... | head is fine). */
int
ctl_write_all(int fd, const void *data, size_t len)
{
	int r = write_all(fd, data, len);

	if (r < 0 && fd == STDOUT_FILENO && r != -EPIPE && !stdout_errno)
		stdout_errno = -r;
	return r;
}

/* A string member, or def. */
const char *
ctl_str(json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : def;
}

/* Errors that mean "this cannot be done here", as opposed to "it was
 * tried and went wrong". */
int
ctl_error_exit(json_t *error)
{
	return proto_error_refused(ctl_str(error, "type", NULL)) ? CTL_EXIT_REFUSED
	                                                         : CTL_EXIT_FAILED;
}

/* Two units at most, the larger first, as people read uptimes. */
void
ctl_fmt_duration(double secs, char *out, size_t outlen)
{
	long s = (long)secs;

	if (secs < 0)
		snprintf(out, outlen, "-");
	else if (s < 60)
		snprintf(out, outlen, "%lds", s);
	else if (s < 3600)
		snprintf(out, outlen, "%ldm%lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, outlen, "%ldh%ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, outlen, "%ldd%ldh", s / 86400, s % 86400 / 3600);
}

/* Monotonic seconds. */
double
ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long
ctl_now_ms(void)
{
	return (long long)(ctl_now() * 1000);
}

/* Sleep; poll() with no fds is the portable millisecond sleep. */
void
ctl_sleep_ms(int ms)
{
	poll(NULL, 0, ms);
}

/* What the daemon's header parser accepts (header_check_target), said
 * before anything is sent. */
int
ctl_check_target(const char *target)
{
	if (header_check_target(target) == 0)
		return 0;
	ctl_err("bad target '%s': expected DCC[:VERSION], e.g. python:3 or mayapy:2024", target);
	return CTL_EXIT_USAGE;
}

/* Every target; see ctl.h. */
int
ctl_check_targets(const char *const *targets, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ctl_check_target(targets[i]))
			return CTL_EXIT_USAGE;
	return 0;
}
