/* header.c - parse "<dcc>[:<version>][ key=value]…" */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "header.h"
#include "utf8.h"

/* Letters, digits and . _ - + make up a dcc name or a version. */
static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == '+';
}

/* Copy a token of name characters; -1 if empty, too long or bad. */
static int
copy_name(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i;

	if (len == 0 || len >= outlen)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!name_char(s[i]))
			return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* A client= name goes to the log as it is: 1 to HEADER_CLIENT_LEN - 1
 * bytes of UTF-8 and none of the C1 controls (U+0080 to U+009F) either,
 * which a terminal showing the log would obey; C0 controls and spaces
 * never reach here. 0 or -EINVAL. */
static int
check_client(const char *val, size_t vlen)
{
	size_t i;

	if (vlen == 0 || vlen >= HEADER_CLIENT_LEN || utf8_valid_len(val, vlen) != vlen)
		return -EINVAL;
	for (i = 0; i + 1 < vlen; i++)
		if ((unsigned char)val[i] == 0xc2 && (unsigned char)val[i + 1] >= 0x80 &&
		    (unsigned char)val[i + 1] <= 0x9f)
			return -EINVAL;
	return 0;
}

/* Apply one "key=value" option to h; -1 with a reason in reterr when bad. */
static int
set_option(struct header *h, const char *key, size_t klen, const char *val, size_t vlen,
           char *reterr, size_t reterrlen)
{
	if (klen == 4 && !memcmp(key, "mode", 4)) {
		if (vlen == 3 && !memcmp(val, "raw", 3))
			h->mode = HEADER_MODE_RAW;
		else if (vlen == 4 && !memcmp(val, "json", 4))
			h->mode = HEADER_MODE_JSON;
		else {
			snprintf(reterr, reterrlen, "mode must be raw or json, not '%.*s'",
			         (int)vlen, val);
			return -EINVAL;
		}
	} else if (klen == 2 && !memcmp(key, "ns", 2)) {
		h->fresh = h->isolated = 0;
		if (vlen == 4 && !memcmp(val, "main", 4))
			;
		else if (vlen == 5 && !memcmp(val, "fresh", 5))
			h->fresh = 1;
		else if (vlen == 8 && !memcmp(val, "isolated", 8))
			h->isolated = 1;
		else {
			snprintf(reterr, reterrlen,
			         "ns must be main, fresh or isolated, not '%.*s'", (int)vlen, val);
			return -EINVAL;
		}
	} else if (klen == 4 && !memcmp(key, "file", 4)) {
		if (vlen == 0 || vlen >= sizeof(h->file)) {
			snprintf(reterr, reterrlen, "file must be 1 to %zu bytes",
			         sizeof(h->file) - 1);
			return -EINVAL;
		}
		/* The name travels to the worker inside JSON, which is UTF-8. */
		if (utf8_valid_len(val, vlen) != vlen) {
			snprintf(reterr, reterrlen, "file must be valid UTF-8");
			return -EINVAL;
		}
		memcpy(h->file, val, vlen);
		h->file[vlen] = '\0';
	} else if (klen == 7 && !memcmp(key, "timeout", 7)) {
		char num[32], *end;
		double t;

		if (vlen == 0 || vlen >= sizeof(num))
			goto bad_timeout;
		memcpy(num, val, vlen);
		num[vlen] = '\0';
		t = strtod(num, &end);
		if (*end || !(t > 0) || t > REQUEST_TIMEOUT_MAX)
			goto bad_timeout;
		h->timeout = t;
	} else if (klen == 6 && !memcmp(key, "stream", 6)) {
		if (vlen == 3 && !memcmp(val, "yes", 3))
			h->stream = 1;
		else if (vlen == 2 && !memcmp(val, "no", 2))
			h->stream = 0;
		else {
			snprintf(reterr, reterrlen, "stream must be yes or no, not '%.*s'",
			         (int)vlen, val);
			return -EINVAL;
		}
	} else if (klen == 5 && !memcmp(key, "token", 5)) {
		size_t i;

		/* The value is a secret: a refusal never quotes it. */
		if (vlen == 0 || vlen >= sizeof(h->token)) {
			snprintf(reterr, reterrlen, "token must be 1 to %zu characters",
			         sizeof(h->token) - 1);
			return -EINVAL;
		}
		for (i = 0; i < vlen; i++)
			if (!((val[i] >= '0' && val[i] <= '9') ||
			      (val[i] >= 'a' && val[i] <= 'f') ||
			      (val[i] >= 'A' && val[i] <= 'F'))) {
				snprintf(reterr, reterrlen, "token must be hexadecimal digits");
				return -EINVAL;
			}
		memcpy(h->token, val, vlen);
		h->token[vlen] = '\0';
	} else if (klen == 5 && !memcmp(key, "watch", 5)) {
		if (h->n_watch == HEADER_WATCH_MAX) {
			snprintf(reterr, reterrlen, "at most %d watch= options", HEADER_WATCH_MAX);
			return -EINVAL;
		}
		if (vlen == 0 || vlen >= HEADER_WATCH_LEN || val[0] != '/' ||
		    memchr(val, '\0', vlen) || utf8_valid_len(val, vlen) != vlen) {
			snprintf(reterr, reterrlen,
			         "watch must be an absolute directory of 1 to %d bytes of UTF-8",
			         HEADER_WATCH_LEN - 1);
			return -EINVAL;
		}
		memcpy(h->watch[h->n_watch], val, vlen);
		h->watch[h->n_watch++][vlen] = '\0';
	} else if (klen == 6 && !memcmp(key, "client", 6)) {
		if (check_client(val, vlen) < 0) {
			snprintf(reterr, reterrlen,
			         "client must be 1 to %d bytes of UTF-8 without controls or "
			         "spaces",
			         HEADER_CLIENT_LEN - 1);
			return -EINVAL;
		}
		memcpy(h->client, val, vlen);
		h->client[vlen] = '\0';
	} else {
		snprintf(reterr, reterrlen,
		         "unknown header option '%.*s' (known: mode, ns, file, timeout, stream, "
		         "token, watch, client)",
		         (int)klen, key);
		return -EINVAL;
	}
	return 0;
bad_timeout:
	snprintf(reterr, reterrlen, "timeout must be a number of seconds above 0, not '%.*s'",
	         (int)vlen, val);
	return -EINVAL;
}

/* Parse one header line; see header.h. */
int
header_parse(const char *line, size_t len, struct header *ret, char *reterr, size_t reterrlen)
{
	struct header h;
	const char *p, *end, *tok, *colon;
	size_t i;

	memset(&h, 0, sizeof(h));
	if (len > HEADER_MAX) {
		snprintf(reterr, reterrlen, "header longer than %d bytes", HEADER_MAX);
		return -EINVAL;
	}
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(reterr, reterrlen, "header contains a control character (0x%02x)",
			         c);
			return -EINVAL;
		}
	}

	p = line;
	end = line + len;
	while (p < end && *p == ' ')
		p++;
	tok = p;
	while (p < end && *p != ' ')
		p++;
	if (tok == p) {
		snprintf(reterr, reterrlen, "empty header: expected <dcc>[:<version>]");
		return -EINVAL;
	}
	colon = memchr(tok, ':', (size_t)(p - tok));
	if (copy_name(tok, (size_t)((colon ? colon : p) - tok), h.dcc, sizeof(h.dcc)) < 0 ||
	    (colon &&
	     copy_name(colon + 1, (size_t)(p - colon - 1), h.version, sizeof(h.version)) < 0)) {
		snprintf(reterr, reterrlen,
		         "bad target '%.*s': expected <dcc>[:<version>] of letters, digits "
		         "and . _ - +",
		         (int)(p - tok), tok);
		return -EINVAL;
	}

	while (p < end) {
		const char *eq;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		tok = p;
		while (p < end && *p != ' ')
			p++;
		eq = memchr(tok, '=', (size_t)(p - tok));
		if (!eq || eq == tok) {
			snprintf(reterr, reterrlen, "bad header option '%.*s': expected key=value",
			         (int)(p - tok), tok);
			return -EINVAL;
		}
		if (set_option(&h, tok, (size_t)(eq - tok), eq + 1, (size_t)(p - eq - 1), reterr,
		               reterrlen) < 0)
			return -EINVAL;
	}
	*ret = h;
	return 0;
}

/* Put s at out + n, as much of it as fits before the last byte of out's
 * outlen; returns the new length. */
static size_t
put_cut(char *out, size_t outlen, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len > outlen - 1 - n)
		len = outlen - 1 - n;
	memcpy(out + n, s, len);
	return n + len;
}

/* "dcc" or "dcc:version" of h. */
void
header_target(const struct header *h, char *out, size_t outlen)
{
	size_t n;

	/* what snprintf's "%s:%s" gives, cut where it would cut: this is made
	 * for every connection, and printf cost about as much as parsing the
	 * header */
	if (!outlen)
		return;
	n = put_cut(out, outlen, 0, h->dcc);
	if (h->version[0]) {
		n = put_cut(out, outlen, n, ":");
		n = put_cut(out, outlen, n, h->version);
	}
	out[n] = '\0';
}

/* The parser decides, so that what a client accepts is what the daemon
 * accepts; the round trip catches options smuggled in with spaces. */
int
header_check_target(const char *target)
{
	char line[HEADER_MAX + 32], why[256], back[2 * HEADER_NAME_MAX + 2];
	struct header h;

	if (strlen(target) > HEADER_NAME_MAX * 2)
		return -EINVAL;
	snprintf(line, sizeof(line), "%s mode=json", target);
	if (header_parse(line, strlen(line), &h, why, sizeof(why)) < 0)
		return -EINVAL;
	header_target(&h, back, sizeof(back));
	if (strcmp(back, target) != 0 || h.mode != HEADER_MODE_JSON)
		return -EINVAL;
	return 0;
}
