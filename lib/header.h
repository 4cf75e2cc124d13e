/* header.h - the first line of every client connection */
#ifndef HOTLOAD_HEADER_H
#define HOTLOAD_HEADER_H

#include <stddef.h>

#define HEADER_MAX 1024 /* bytes, including the line end */
#define HEADER_NAME_MAX 64
#define REQUEST_TIMEOUT_MAX 1e9 /* seconds: a request's timeout, header or JSON */
#define HEADER_WATCH_MAX 4      /* watch= options in one header */
#define HEADER_WATCH_LEN 512    /* bytes of one watch= directory, with its NUL */
#define HEADER_CLIENT_LEN 65    /* bytes of client=NAME, with its NUL */

enum header_mode {
	HEADER_MODE_RAW,
	HEADER_MODE_JSON,
};

/* "<dcc>[:<version>][ key=value]…", parsed. */
struct header {
	char dcc[HEADER_NAME_MAX];
	char version[HEADER_NAME_MAX]; /* "" when none was given */
	enum header_mode mode;
	char file[256];  /* raw mode: name shown in tracebacks, "" for default */
	int fresh;       /* raw mode: ns=fresh */
	int isolated;    /* raw mode: ns=isolated (a worker of its own, which goes after it) */
	double timeout;  /* timeout=SECONDS; 0: none given */
	int stream;      /* raw mode: stream=yes, stdout is written as it comes */
	char token[129]; /* token=HEX, the daemon's secret; "" when none was given */
	/* watch=DIR: absolute directories the target watches while the
	 * connection is open */
	char watch[HEADER_WATCH_MAX][HEADER_WATCH_LEN];
	int n_watch;
	/* client=NAME: who the program on the other end says it is, for the
	 * log ("claude-code/1.2"); "" when not given */
	char client[HEADER_CLIENT_LEN];
};

/* Parse one header line (without or with its "\n" / "\r\n"). On failure
 * returns -EINVAL and writes a one-line reason to reterr; ret is untouched. */
int header_parse(const char *line, size_t len, struct header *ret, char *reterr, size_t reterrlen);

/* Format the target of h as "dcc" or "dcc:version" into out. */
void header_target(const struct header *h, char *out, size_t outlen);

/* Whether target is a plain "dcc[:version]" that a header reads back as
 * itself, with nothing (an option, a space) smuggled in: 0, or -EINVAL. */
int header_check_target(const char *target);

#endif
