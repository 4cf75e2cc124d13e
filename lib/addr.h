/* addr.h - addresses: "host:port" as people write it, and as messages say it */
#ifndef HOTLOAD_ADDR_H
#define HOTLOAD_ADDR_H

#include <stddef.h>

struct buf;

#define ADDR_HOST_MAX 256 /* bytes of a host, with its NUL */

/* What an address may leave out, and what its host may be. */
enum addr_flags {
	ADDR_DEFAULTS = 1 << 0, /* a missing host or port is the default one */
	ADDR_NUMERIC = 1 << 1,  /* the host is a numeric IPv4 or IPv6 address */
};

/* A TCP address, parsed. */
struct addr_hostport {
	char host[ADDR_HOST_MAX]; /* an IPv6 address without its brackets */
	int port;                 /* 1..65535 */
};

/* Parse "HOST:PORT": HOST a name, an IPv4 address or an IPv6 address in
 * brackets ("[::1]:7720"; bare, its colons would be taken for the port's),
 * PORT a number from 1 to 65535. With ADDR_DEFAULTS, "HOST", ":PORT" and
 * "[V6]" are fine too: the host is HOTLOAD_DEFAULT_HOST, the port
 * HOTLOAD_DEFAULT_PORT. On failure returns -EINVAL with what was expected
 * in *reterr_why (a static string, "a port from 1 to 65535 after the ':'"),
 * and *ret is untouched. */
int addr_parse_hostport(const char *s, unsigned flags, struct addr_hostport *ret,
                        const char **reterr_why);

/* Append host and port as they are written: "127.0.0.1:7720", "[::1]:7720". */
void addr_format_hostport(struct buf *out, const char *host, int port);

/* Where a client connects, in messages: "unix socket PATH" when unix_path
 * is set, else "TCP ADDRESS" with the address as it was given. */
void addr_describe(const char *unix_path, const char *tcp, char *out, size_t outlen);

/* Whether host is a numeric IPv4 or IPv6 address. */
int addr_is_numeric(const char *host);

/* Whether numeric host is on this machine only: 127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104. */
int addr_is_loopback(const char *host);

#endif
