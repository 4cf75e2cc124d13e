/* fuzz_header.c - libFuzzer: header_parse() and header_target() */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "fuzzcheck.h"
#include "header.h"

/* Letters, digits and . _ - + (header.c's rule for names). */
static int
name_ok(const char *s, int empty_ok)
{
	size_t i, n = strnlen(s, HEADER_NAME_MAX);

	if (n >= HEADER_NAME_MAX || (!n && !empty_ok))
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+",
		            s[i]))
			return 0;
	return 1;
}

/* What a parsed header promises. */
static void
check_header(const struct header *h)
{
	size_t i, n;

	FUZZ_CHECK(name_ok(h->dcc, 0));
	FUZZ_CHECK(name_ok(h->version, 1));
	FUZZ_CHECK(h->mode == HEADER_MODE_RAW || h->mode == HEADER_MODE_JSON);
	FUZZ_CHECK(h->fresh == 0 || h->fresh == 1);
	FUZZ_CHECK(h->timeout == 0 || (h->timeout > 0 && h->timeout <= REQUEST_TIMEOUT_MAX));
	n = strnlen(h->file, sizeof(h->file));
	FUZZ_CHECK(n < sizeof(h->file));
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)h->file[i] > ' ' && h->file[i] != 0x7f);
	n = strnlen(h->token, sizeof(h->token));
	FUZZ_CHECK(n < sizeof(h->token));
	FUZZ_CHECK(strspn(h->token, "0123456789abcdefABCDEF") == n);
	FUZZ_CHECK(h->n_watch >= 0 && h->n_watch <= HEADER_WATCH_MAX);
	for (int w = 0; w < h->n_watch; w++) {
		n = strnlen(h->watch[w], HEADER_WATCH_LEN);
		FUZZ_CHECK(n > 0 && n < HEADER_WATCH_LEN && h->watch[w][0] == '/');
		for (i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)h->watch[w][i] > ' ' && h->watch[w][i] != 0x7f);
	}
}

/* header_target() gives "dcc" or "dcc:version", cut to fit any buffer. */
static void
check_target(const struct header *h)
{
	char out[2 * HEADER_NAME_MAX], want[2 * HEADER_NAME_MAX + 1], small[6];
	size_t n;

	header_target(h, out, sizeof(out));
	snprintf(want, sizeof(want), "%s%s%s", h->dcc, h->version[0] ? ":" : "", h->version);
	FUZZ_CHECK(!strcmp(out, want));
	n = strlen(want) < sizeof(small) - 1 ? strlen(want) : sizeof(small) - 1;
	memset(small, 'x', sizeof(small));
	header_target(h, small, sizeof(small));
	FUZZ_CHECK(!memcmp(small, want, n) && small[n] == '\0');
}

/* Writing the header back out and parsing that gives the same header. */
static void
check_round_trip(const struct header *h)
{
	struct buf line = BUF_INIT;
	struct header again;
	char err[256];

	buf_printf(&line, "%s%s%s mode=%s ns=%s", h->dcc, h->version[0] ? ":" : "", h->version,
	           h->mode == HEADER_MODE_JSON ? "json" : "raw", h->fresh ? "fresh" : "main");
	if (h->file[0])
		buf_printf(&line, " file=%s", h->file);
	if (h->timeout)
		buf_printf(&line, " timeout=%.17g", h->timeout);
	if (h->token[0])
		buf_printf(&line, " token=%s", h->token);
	for (int w = 0; w < h->n_watch; w++)
		buf_printf(&line, " watch=%s", h->watch[w]);
	if (line.len > HEADER_MAX) { /* watch= may have taken the room the other keys need */
		buf_free(&line);
		return;
	}
	FUZZ_CHECK(header_parse(line.data, line.len, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(!strcmp(again.dcc, h->dcc) && !strcmp(again.version, h->version));
	FUZZ_CHECK(again.mode == h->mode && again.fresh == h->fresh);
	FUZZ_CHECK(!strcmp(again.file, h->file) && !strcmp(again.token, h->token));
	FUZZ_CHECK(again.timeout == h->timeout);
	FUZZ_CHECK(again.n_watch == h->n_watch);
	for (int w = 0; w < h->n_watch; w++)
		FUZZ_CHECK(!strcmp(again.watch[w], h->watch[w]));
	buf_free(&line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct header h, orig;
	char err[256], tiny[4];
	int r;

	memset(&h, 0x5a, sizeof(h));
	orig = h;
	memset(err, 'x', sizeof(err));
	r = header_parse(line, size, &h, err, sizeof(err));
	/* The outcome does not depend on the room for a reason. */
	FUZZ_CHECK(header_parse(line, size, &orig, tiny, sizeof(tiny)) == r);
	FUZZ_CHECK(header_parse(line, size, &orig, NULL, 0) == r);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		FUZZ_CHECK(!strchr(err, '\n'));
		FUZZ_CHECK(memchr(tiny, '\0', sizeof(tiny)));
		memset(&orig, 0x5a, sizeof(orig));
		FUZZ_CHECK(!memcmp(&h, &orig, sizeof(h))); /* untouched on failure */
		return 0;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(size <= HEADER_MAX);
	check_header(&h);
	check_target(&h);
	check_round_trip(&h);
	return 0;
}
