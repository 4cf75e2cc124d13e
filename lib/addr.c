/* addr.c - "host:port": one grammar for the daemon's listen.tcp and the
 * clients' --tcp, and the words messages use for an address
 *
 * The grammar is the one docs/hotloadctl.md and hotloadd.yaml(5) give:
 * HOST:PORT with an IPv6 host in brackets. The daemon asks for all of it
 * and a numeric host (it binds, it does not resolve); a client may leave
 * the host or the port out, and may name a host. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "proto.h"

/* The port after the ':': digits only, 1 to 65535; -1 when it is not. */
static int
parse_port(const char *p)
{
	long port;
	char *end;

	if (!(*p >= '0' && *p <= '9'))
		return -EINVAL;
	errno = 0;
	port = strtol(p, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -EINVAL;
	return (int)port;
}

/* Parse HOST[:PORT]; see addr.h. */
int
addr_parse_hostport(const char *s, unsigned flags, struct addr_hostport *ret,
                    const char **reterr_why)
{
	struct addr_hostport hp;
	const char *colon, *h = s;
	size_t hlen;
	int port = HOTLOAD_DEFAULT_PORT;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] != ':' && (close[1] || !(flags & ADDR_DEFAULTS)))) {
			*reterr_why = "an IPv6 address in brackets followed by :PORT";
			return -EINVAL;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (!colon && !(flags & ADDR_DEFAULTS)) {
			*reterr_why = "\"host:port\"";
			return -EINVAL;
		}
		if (colon && memchr(s, ':', (size_t)(colon - s))) {
			*reterr_why = "\"[IPv6]:port\" (an IPv6 address goes in brackets)";
			return -EINVAL;
		}
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (colon && (port = parse_port(colon + 1)) < 0) {
		*reterr_why = "a port from 1 to 65535 after the ':'";
		return -EINVAL;
	}
	if (hlen == 0 && (flags & ADDR_DEFAULTS)) {
		h = HOTLOAD_DEFAULT_HOST;
		hlen = strlen(h);
	}
	if (hlen >= sizeof(hp.host)) {
		*reterr_why = "a host of at most 255 bytes";
		return -EINVAL;
	}
	if (hlen == 0 && !(flags & ADDR_NUMERIC)) {
		*reterr_why = "a host before the ':'";
		return -EINVAL;
	}
	memcpy(hp.host, h, hlen);
	hp.host[hlen] = '\0';
	if ((flags & ADDR_NUMERIC) && !addr_is_numeric(hp.host)) {
		*reterr_why = "a numeric IPv4 or IPv6 address as host (like 127.0.0.1 or [::1])";
		return -EINVAL;
	}
	hp.port = port;
	*ret = hp;
	return 0;
}

/* host:port, an IPv6 host in brackets so that the port stays apart. */
void
addr_format_hostport(struct buf *out, const char *host, int port)
{
	buf_printf(out, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* Human words for where a client connects. */
void
addr_describe(const char *unix_path, const char *tcp, char *out, size_t outlen)
{
	if (unix_path)
		snprintf(out, outlen, "unix socket %s", unix_path);
	else
		snprintf(out, outlen, "TCP %s", tcp);
}

int
addr_is_numeric(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int
addr_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}
