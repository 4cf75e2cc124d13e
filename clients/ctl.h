/* ctl.h - what the parts of hotloadctl share: exit codes, options, output */
#ifndef HOTLOAD_CTL_H
#define HOTLOAD_CTL_H

#include <stddef.h>

#define CTL_VERSION "0.1.0"

/* The exit status of hotloadctl; documented in its --help. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,      /* the code raised, its worker died or did not start */
	CTL_EXIT_USAGE = 2,       /* bad command line or unreadable input */
	CTL_EXIT_UNREACHABLE = 3, /* no daemon, or the connection was lost */
	CTL_EXIT_REFUSED = 4,     /* the daemon refused: unknown target, not installed, ... */
};

/* Options every command shares. */
struct ctl_opts {
	const char *socket; /* Unix socket path, or NULL when tcp is used */
	const char *tcp;    /* "host:port", or NULL */
	int quiet;          /* -q: no messages of hotloadctl's own */
	int json;           /* --json: print the daemon's event lines as they are */
};

/* Print "hotloadctl: <message>\n" to stderr unless o->quiet. */
void ctl_msg(const struct ctl_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write all of data to fd, waiting when it is non-blocking; -errno on failure. */
int ctl_write_all(int fd, const void *data, size_t len);

#endif
