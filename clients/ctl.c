/* ctl.c - messages and output helpers shared by the hotloadctl commands */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"

/* Print one message of hotloadctl's own to stderr, unless quiet. */
void
ctl_msg(const struct ctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o && o->quiet)
		return;
	fputs("hotloadctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Write everything, retrying short writes; a non-blocking fd (inherited from
 * a parent that set O_NONBLOCK on a shared terminal or pipe) is waited on. */
int
ctl_write_all(int fd, const void *data, size_t len)
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
