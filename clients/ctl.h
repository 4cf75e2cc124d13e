/* ctl.h - what the parts of hotloadctl share: exit codes, options, output
 *
 * Exit codes live in this layer only (clients/): libhotload returns -errno
 * with its reasons in words. Here, a function that has said on stderr why
 * it failed returns hotloadctl's exit status (enum ctl_exit); one that
 * leaves that to its caller returns -errno, as the library does. */
#ifndef HOTLOAD_CTL_H
#define HOTLOAD_CTL_H

#include <jansson.h>
#include <stddef.h>

struct buf;

/* The exit status of hotloadctl; documented in its --help. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,        /* the code raised, its worker died or did not start */
	CTL_EXIT_USAGE = 2,         /* bad command line or unreadable input */
	CTL_EXIT_UNREACHABLE = 3,   /* no daemon, or the connection was lost */
	CTL_EXIT_REFUSED = 4,       /* the daemon refused: unknown target, not installed, ... */
	CTL_EXIT_INTERRUPTED = 130, /* Ctrl-C: the code ended with KeyboardInterrupt */
};

/* Options every command shares, and the ones some commands take. */
struct ctl_opts {
	const char *socket;  /* Unix socket path, or NULL when tcp is used */
	const char *tcp;     /* "host:port", or NULL */
	const char *token;   /* the daemon's token, sent over TCP; NULL: none */
	int quiet;           /* -q: no messages of hotloadctl's own */
	int json;            /* --json: machine-readable output */
	int no_wait;         /* --no-wait: start/stop/restart return at once */
	double timeout;      /* --timeout S; 0 when not given */
	long lines;          /* logs -n N; -1 when not given */
	const char *session; /* --session NAME: the debug session to run in; NULL: none */
	const char *argv0;   /* how we were run, to find hotloadd next to us */
	int watch_fd;        /* exec --watch: readable when a watched file changed; -1 */
	int *watch_hit;      /* set when it did during a request (which is then interrupted) */
};

/* Print "hotloadctl: <message>\n" to stderr unless o->quiet. */
void ctl_msg(const struct ctl_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a message to stderr even under -q: the reason a command failed. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: "hotloadctl: CMD: message" and where help is, on stderr
 * (cmd NULL: an error of the command line as a whole). Returns
 * CTL_EXIT_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Format and write to fd (1 or 2); a reader that went away is ignored. */
void ctl_print(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON value to stdout, indented, with a newline (--json). */
void ctl_print_json(json_t *v);

/* Write all of data to fd, waiting when it is non-blocking; -errno on failure. */
int ctl_write_all(int fd, const void *data, size_t len);

/* The errno of the first failed write to stdout (a closed pipe aside; buffered
 * stdio output is flushed first), or 0. */
int ctl_stdout_error(void);

/* A string member of obj, or def when it is missing or not a string. */
const char *ctl_str(json_t *obj, const char *key, const char *def);

/* The exit status for a daemon error object: CTL_EXIT_REFUSED when the
 * daemon refused the target or request, CTL_EXIT_FAILED otherwise. */
int ctl_error_exit(json_t *error);

/* A short duration: "42s", "3m5s", "2h3m", "4d7h"; "-" when negative. */
void ctl_fmt_duration(double secs, char *out, size_t outlen);

/* Whether target is a plain "dcc[:version]": 0, or CTL_EXIT_USAGE, said
 * on stderr, when it is not. */
int ctl_check_target(const char *target);

/* ctl_check_target of each of targets[0..n): before any connection, so
 * that a typo is a usage error with or without a daemon. */
int ctl_check_targets(const char *const *targets, int n);

/* Seconds on a monotonic clock; the same in milliseconds. */
double ctl_now(void);
long long ctl_now_ms(void);

/* Sleep ms milliseconds (a signal may end it early). */
void ctl_sleep_ms(int ms);

#endif
