/* ctl-dap.c - Debug Adapter Protocol framing */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "ctl-dap.h"
#include "ctl.h"

/* The value of a "Content-Length" line of the header block hdr[0..len):
 * 0 with *ret, or -EBADMSG. Other header fields are allowed and ignored. */
static int
content_length(const char *hdr, size_t len, size_t *ret)
{
	static const char name[] = "content-length:";
	const char *p = hdr, *end = hdr + len;
	int found = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
			const char *v = p + sizeof(name) - 1;
			size_t vlen = n - (sizeof(name) - 1), i;
			unsigned long long value = 0;

			while (vlen && (*v == ' ' || *v == '\t')) {
				v++;
				vlen--;
			}
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (!vlen || vlen > 10)
				return -EBADMSG;
			for (i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -EBADMSG;
				value = value * 10 + (unsigned)(v[i] - '0');
			}
			*ret = (size_t)value;
			found = 1;
		}
		p = eol ? eol + 1 : end;
	}
	return found ? 0 : -EBADMSG;
}

int
ctldap_parse(const char *in, size_t len, json_t **ret, size_t *ret_used, char *reterr,
             size_t reterrlen)
{
	const char *sep = NULL;
	size_t i, hdrlen, skip = 0, body;
	json_error_t jerr;
	json_t *msg;

	/* the header block ends at a blank line: \r\n\r\n, or \n\n */
	for (i = 0; i + 1 < len && !sep; i++) {
		if (in[i] == '\n' && in[i + 1] == '\n') {
			sep = in + i;
			skip = 2;
		} else if (i + 3 < len && !memcmp(in + i, "\r\n\r\n", 4)) {
			sep = in + i;
			skip = 4;
		}
	}
	if (!sep) {
		if (len > 8192) {
			snprintf(reterr, reterrlen, "no end of a DAP header in %zu bytes", len);
			return -EBADMSG;
		}
		return 0;
	}
	hdrlen = (size_t)(sep - in);
	if (content_length(in, hdrlen, &body) < 0) {
		snprintf(reterr, reterrlen, "a DAP header without a valid Content-Length");
		return -EBADMSG;
	}
	if (body > CTLDAP_MAX) {
		snprintf(reterr, reterrlen, "a DAP message of %zu bytes (at most %u)", body,
		         CTLDAP_MAX);
		return -EBADMSG;
	}
	if (len - hdrlen - skip < body)
		return 0;
	msg = json_loadb(in + hdrlen + skip, body, 0, &jerr);
	if (!json_is_object(msg)) {
		snprintf(reterr, reterrlen, "a DAP message that is not a JSON object: %s",
		         msg ? "not an object" : jerr.text);
		json_decref(msg);
		return -EBADMSG;
	}
	*ret = msg;
	*ret_used = hdrlen + skip + body;
	return 1;
}

int
ctldap_read(int fd, struct buf *in, int timeout_ms, json_t **ret, char *reterr, size_t reterrlen)
{
	long long deadline = timeout_ms < 0 ? 0 : ctl_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		size_t used;
		ssize_t n;
		int r = ctldap_parse(in->data, in->len, ret, &used, reterr, reterrlen);

		if (r) {
			if (r > 0)
				buf_consume(in, used);
			return r;
		}
		if (timeout_ms >= 0) {
			long long left = deadline - ctl_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			r = poll(&pfd, 1, (int)left);
		} else
			r = poll(&pfd, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		buf_reserve(in, 65536);
		n = read(fd, in->data + in->len, 65536);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		in->len += (size_t)n;
	}
}

int
ctldap_write(int fd, json_t *msg)
{
	char *body = json_dumps(msg, JSON_COMPACT);
	struct buf b = BUF_INIT;
	int r;

	if (!body)
		return -EINVAL;
	buf_printf(&b, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	r = ctl_write_all(fd, b.data, b.len);
	buf_free(&b);
	free(body);
	return r;
}
