/* sniff.c - recognise protocols that must never reach a worker
 *
 * The daemon's protocol has no preamble of its own, so what a browser sends
 * must be told apart by its shape. An HTTP request starts with a request
 * line: a method token, a space, a request target, a space and
 * "HTTP/d.d" (RFC 9112 section 3). Browsers send nothing before it, any
 * method token is allowed (fetch() takes custom ones) and the target can be
 * chosen by the page, which is how a request line is made valid Python:
 * "POST /1if(0)else(0);''' HTTP/1.1". So the method and target are not
 * looked at beyond their syntax; the version at the end of the first line
 * is what decides. TLS starts with a handshake record: 0x16, then a
 * protocol version 3.0 to 3.4. */
#include <string.h>

#include "sniff.h"

/* RFC 9110 tchar: the characters of a method token. */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Is line (its end of line left out) "TOKEN SP TARGET SP HTTP/d.d"? */
static int
is_request_line(const char *line, size_t len)
{
	size_t i = 0, target;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= len || line[i] != ' ')
		return 0;
	target = ++i;
	while (i < len && line[i] != ' ')
		i++;
	if (i == target || i >= len)
		return 0;
	i++;
	return len - i == 8 && !memcmp(line + i, "HTTP/", 5) && line[i + 5] >= '0' &&
	       line[i + 5] <= '9' && line[i + 6] == '.' && line[i + 7] >= '0' && line[i + 7] <= '9';
}

enum sniff_result
sniff_protocol(const char *data, size_t len, int eof)
{
	const char *nl;
	size_t line;

	if (len >= 1 && (unsigned char)data[0] == 0x16) {
		if (len < 3)
			return eof ? SNIFF_NONE : SNIFF_MORE;
		if (data[1] == 0x03 && (unsigned char)data[2] <= 0x04)
			return SNIFF_TLS;
		return SNIFF_NONE;
	}
	/* Servers ignore empty lines before a request (RFC 9112 2.2). */
	while (len && (*data == '\r' || *data == '\n')) {
		data++;
		len--;
	}
	nl = memchr(data, '\n', len);
	if (!nl && !eof)
		/* A request line longer than this is no browser's. */
		return len > 8192 ? SNIFF_NONE : SNIFF_MORE;
	line = nl ? (size_t)(nl - data) : len;
	if (line && data[line - 1] == '\r')
		line--;
	return is_request_line(data, line) ? SNIFF_HTTP : SNIFF_NONE;
}
