/* ostream.c - one output pipe of a worker (fd 1 or 2), read as UTF-8
 *
 * What a worker prints is whatever bytes it wrote, cut wherever a read
 * happened to end. A stream hands its owner valid UTF-8 only: a character
 * split across two reads waits for its end in the carry, and invalid bytes
 * become U+FFFD (utf8_repair). It can be paused while its reader is
 * congested, and drained without waiting when its owner knows the output
 * is complete (the agent flushed before "done"). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "ostream.h"
#include "readbuf.h"
#include "utf8.h"

struct ostream {
	uv_pipe_t pipe;
	int fd; /* the process's: 1 or 2 */
	int started;
	int paused;
	int eof;
	int closing; /* ostream_close was called: no more callbacks */
	struct utf8_carry carry;
	ostream_output_cb output;
	ostream_eof_cb on_eof;
	void *data;
};

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

struct ostream *
ostream_new(uv_loop_t *loop, int fd, ostream_output_cb output, ostream_eof_cb eof, void *data)
{
	struct ostream *os = xcalloc(1, sizeof(*os));

	uv_pipe_init(loop, &os->pipe, 0);
	os->pipe.data = os;
	os->fd = fd;
	os->output = output;
	os->on_eof = eof;
	os->data = data;
	return os;
}

static void
on_closed(uv_handle_t *h)
{
	free(h->data);
}

void
ostream_close(struct ostream *os)
{
	if (!os || os->closing)
		return;
	os->closing = 1;
	uv_close((uv_handle_t *)&os->pipe, on_closed);
}

uv_pipe_t *
ostream_pipe(struct ostream *os)
{
	return &os->pipe;
}

int
ostream_fd(const struct ostream *os)
{
	return os->fd;
}

int
ostream_eof(const struct ostream *os)
{
	return os->eof;
}

int
ostream_paused(const struct ostream *os)
{
	return os->paused;
}

/* Valid UTF-8 of data[0..len) to the owner. */
static void
deliver(struct ostream *os, const char *data, size_t len)
{
	struct buf text = BUF_INIT;

	/* Most output is valid as read: hand it on without a copy. */
	if (!os->carry.len && utf8_valid_len(data, len) == len) {
		if (len)
			os->output(os, data, len, os->data);
		return;
	}
	utf8_repair(&os->carry, data, len, &text);
	if (text.len)
		os->output(os, text.data, text.len, os->data);
	buf_free(&text);
}

void
ostream_finish(struct ostream *os)
{
	struct buf text = BUF_INIT;

	if (os->closing)
		return;
	utf8_finish(&os->carry, &text);
	if (text.len)
		os->output(os, text.data, text.len, os->data);
	buf_free(&text);
}

/* The pipe is done: the rest of the carry, then EOF, once. */
static void
reach_eof(struct ostream *os)
{
	if (os->eof)
		return;
	os->eof = 1;
	uv_read_stop((uv_stream_t *)&os->pipe);
	ostream_finish(os);
	if (!os->closing && os->on_eof)
		os->on_eof(os, os->data);
}

int
ostream_start(struct ostream *os)
{
	os->started = 1;
	if (os->paused || os->eof || os->closing)
		return 0;
	return uv_read_start((uv_stream_t *)&os->pipe, readbuf_alloc, on_read);
}

void
ostream_pause(struct ostream *os)
{
	if (os->paused)
		return;
	os->paused = 1;
	if (os->started && !os->eof && !os->closing)
		uv_read_stop((uv_stream_t *)&os->pipe);
}

void
ostream_resume(struct ostream *os)
{
	if (!os->paused)
		return;
	os->paused = 0;
	if (os->started && !os->eof && !os->closing)
		uv_read_start((uv_stream_t *)&os->pipe, readbuf_alloc, on_read);
}

int
ostream_drain_fd(struct ostream *os)
{
	uv_os_fd_t fd;

	if (!os || !os->started || os->eof || os->closing ||
	    uv_fileno((uv_handle_t *)&os->pipe, &fd) < 0)
		return -1;
	return fd;
}

void
ostream_drain(struct ostream *os)
{
	ssize_t n;
	char *rb;
	int fd;

	if ((fd = ostream_drain_fd(os)) < 0)
		return;
	rb = readbuf_borrow();
	/* libuv made the pipe non-blocking: this ends when it is empty. */
	while (!os->closing) {
		n = read(fd, rb, READBUF_SIZE);
		if (n > 0) {
			deliver(os, rb, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			reach_eof(os);
		break;
	}
	readbuf_return(rb);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ostream *os = s->data;

	if (n > 0) {
		readbuf_lock();
		deliver(os, b->base, (size_t)n);
		readbuf_unlock();
	} else if (n < 0)
		reach_eof(os);
}
