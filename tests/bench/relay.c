/* relay.c - the benchmark's floor for a second hop: a relay that copies
 * bytes between a client and an upstream Unix socket, and does nothing
 * else (no parsing, no framing). hotloadd is a hop of this kind plus its
 * protocol; what it costs above this relay is the daemon's own.
 *
 *	relay LISTEN_PATH UPSTREAM_PATH
 *
 * One upstream connection per client connection; reading from one side
 * stops while what it gave the other is not written yet. Built by
 * tests/bench/run.sh (cc relay.c $(pkg-config --cflags --libs libuv)).
 * Runs until killed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define CHUNK 65536

struct side {
	uv_pipe_t pipe;
	struct pair *pair;
	struct side *peer;
	char *buf; /* CHUNK bytes, from the first read on: not zeroed, and not
	            * a part of the pair, which calloc would clear (128 KiB per
	            * connection, more than the rest of a raw request's work) */
	int reading;
};

struct pair {
	struct side client, upstream;
	uv_connect_t connect;
	uv_write_t wc, wu; /* one write in flight per direction */
	int closing, open;
};

static const char *upstream_path;
static uv_loop_t *loop;

static void
on_closed(uv_handle_t *h)
{
	struct side *s = h->data;
	struct pair *p = s->pair;

	free(s->buf);
	s->buf = NULL;
	if (--p->open == 0)
		free(p);
}

static void
pair_close(struct pair *p)
{
	if (p->closing)
		return;
	p->closing = 1;
	uv_close((uv_handle_t *)&p->client.pipe, on_closed);
	uv_close((uv_handle_t *)&p->upstream.pipe, on_closed);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void
on_shutdown(uv_shutdown_t *sd, int status)
{
	(void)status;
	free(sd);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct side *s = h->data;

	(void)suggested;
	if (!s->buf)
		s->buf = malloc(CHUNK);
	*b = uv_buf_init(s->buf, s->buf ? CHUNK : 0);
}

/* What one side read is written; it reads again once it is. */
static void
on_written(uv_write_t *w, int status)
{
	struct side *from = w->data;

	if (status < 0 || from->pair->closing) {
		pair_close(from->pair);
		return;
	}
	uv_read_start((uv_stream_t *)&from->pipe, on_alloc, on_read);
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct side *s = st->data;
	struct pair *p = s->pair;
	uv_write_t *w = s == &p->client ? &p->wc : &p->wu;
	uv_shutdown_t *sd;
	uv_buf_t out;

	if (n == UV_EOF) {
		/* a half-close goes through: raw mode ends its payload so */
		uv_read_stop(st);
		s->reading = 0;
		sd = malloc(sizeof(*sd));
		if (sd && uv_shutdown(sd, (uv_stream_t *)&s->peer->pipe, on_shutdown) < 0)
			free(sd);
		if (!p->client.reading && !p->upstream.reading)
			pair_close(p);
		return;
	}
	if (n < 0) {
		pair_close(p);
		return;
	}
	if (n == 0)
		return;
	uv_read_stop(st);
	w->data = s;
	out = uv_buf_init(b->base, (unsigned)n);
	if (uv_write(w, (uv_stream_t *)&s->peer->pipe, &out, 1, on_written) < 0)
		pair_close(p);
}

static void
on_upstream(uv_connect_t *c, int status)
{
	struct pair *p = c->data;

	if (status < 0 || p->closing) {
		pair_close(p);
		return;
	}
	p->client.reading = p->upstream.reading = 1;
	uv_read_start((uv_stream_t *)&p->client.pipe, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&p->upstream.pipe, on_alloc, on_read);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct pair *p;

	if (status < 0)
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->client.pair = p->upstream.pair = p;
	p->client.peer = &p->upstream;
	p->upstream.peer = &p->client;
	uv_pipe_init(loop, &p->client.pipe, 0);
	uv_pipe_init(loop, &p->upstream.pipe, 0);
	p->client.pipe.data = &p->client;
	p->upstream.pipe.data = &p->upstream;
	p->open = 2;
	if (uv_accept(server, (uv_stream_t *)&p->client.pipe) < 0) {
		pair_close(p);
		return;
	}
	p->connect.data = p;
	uv_pipe_connect(&p->connect, &p->upstream.pipe, upstream_path, on_upstream);
}

int
main(int argc, char **argv)
{
	uv_pipe_t server;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: relay LISTEN_PATH UPSTREAM_PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	upstream_path = argv[2];
	loop = uv_default_loop();
	unlink(argv[1]);
	uv_pipe_init(loop, &server, 0);
	if ((r = uv_pipe_bind(&server, argv[1])) < 0 ||
	    (r = uv_listen((uv_stream_t *)&server, 128, on_connection)) < 0) {
		fprintf(stderr, "relay: %s: %s\n", argv[1], uv_strerror(r));
		return 1;
	}
	return uv_run(loop, UV_RUN_DEFAULT);
}
