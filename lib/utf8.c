/* utf8.c - UTF-8 repair with carry across chunks */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"

static const char replacement[] = "\xef\xbf\xbd";

/* Length of a well-formed sequence at s (at most avail bytes), 0 when it is
 * invalid, or -1 when it is a valid prefix that needs more bytes. Follows
 * RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
static int
seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;

	for (i = 1; i < n; i++) {
		if ((size_t)i >= avail)
			return -1;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/* Past the ASCII from i on, many bytes a test: most output is ASCII. */
static size_t
skip_ascii(const unsigned char *s, size_t i, size_t len)
{
	/* 32 bytes a test while the text is ASCII: output is mostly that */
	while (i + 32 <= len) {
		uint64_t w[4];

		memcpy(w, s + i, sizeof(w));
		if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull)
			break;
		i += 32;
	}
	while (i + 8 <= len) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			break;
		i += 8;
	}
	return i;
}

/* Repair data that holds no carried bytes; returns how many trailing bytes
 * form an incomplete sequence and were not consumed. */
static size_t
repair_chunk(const unsigned char *s, size_t len, struct buf *out)
{
	size_t i = 0, run = 0;

	while (i < len) {
		int n;

		i = skip_ascii(s, i, len);
		if (i >= len)
			break;
		n = seq_len(s + i, len - i);
		if (n > 0) {
			i += (size_t)n;
			continue;
		}
		buf_append(out, s + run, i - run);
		if (n < 0)
			return len - i;
		buf_append(out, replacement, 3);
		run = ++i;
	}
	buf_append(out, s + run, i - run);
	return 0;
}

/* Append chunk in[0..len) to out as valid UTF-8; see utf8.h. */
void
utf8_repair(struct utf8_carry *c, const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t rest;

	/* Complete the carried sequence byte by byte first. */
	while (c->len && len) {
		int n;

		c->bytes[c->len++] = *s++;
		len--;
		n = seq_len(c->bytes, c->len);
		if (n > 0) {
			buf_append(out, c->bytes, (size_t)n);
			c->len = 0;
		} else if (n == 0) {
			/* The lead byte is bad; the bytes after it get another
			 * chance as the start of a sequence. */
			unsigned char tail[4];
			size_t tlen = c->len - 1;

			buf_append(out, replacement, 3);
			memcpy(tail, c->bytes + 1, tlen);
			c->len = 0;
			rest = repair_chunk(tail, tlen, out);
			memcpy(c->bytes, tail + tlen - rest, rest);
			c->len = rest;
		}
	}
	if (!len)
		return;
	rest = repair_chunk(s, len, out);
	memcpy(c->bytes, s + len - rest, rest);
	c->len = rest;
}

/* End of stream: each byte still waiting in c becomes U+FFFD, the same as
 * when the bytes of a sequence are cut short in the middle of a chunk. */
void
utf8_finish(struct utf8_carry *c, struct buf *out)
{
	size_t i;

	for (i = 0; i < c->len; i++)
		buf_append(out, replacement, 3);
	c->len = 0;
}

size_t
utf8_valid_len(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	while (i < len) {
		int n;

		i = skip_ascii(s, i, len);
		if (i >= len)
			break;
		n = seq_len(s + i, len - i);
		if (n <= 0)
			break;
		i += (size_t)n;
	}
	return i < len ? i : len;
}
