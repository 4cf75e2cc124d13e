/* conn-private.h - what conn.c, conn-raw.c and conn-json.c share */
#ifndef HOTLOAD_CONN_PRIVATE_H
#define HOTLOAD_CONN_PRIVATE_H

#include <jansson.h>
#include <sys/queue.h>
#include <uv.h>

#include "buf.h"
#include "header.h"
#include "peer.h"
#include "request.h"

#define HEADER_TIMEOUT_MS 30000
#define DRAIN_MS 2000         /* after an answer, what a client still sends is dropped this long */
#define WRITE_HIGH (1u << 20) /* queued reply bytes that make the worker wait */
#define WRITE_LOW (256u << 10)
#define SHUTDOWN_TOKEN "__SHUTDOWN__"
#define RAW_ERR_MAX (16u << 20) /* raw mode: stderr bytes kept for the reply */
/* raw mode: a reply up to this size leaves in one write once the request is
 * done, as the original server's sendall did; past it stdout streams */
#define RAW_HOLD_MAX (1u << 20)

enum conn_state {
	CONN_HEADER,
	CONN_ROUTING, /* the header is read; its target waits for a version probe */
	CONN_RAW,     /* reading the payload */
	CONN_RAW_RUN, /* payload submitted, waiting for the result */
	CONN_JSON,
	CONN_CONTROL,
	CONN_CLOSING,
};

struct conn {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_idle_t first_read; /* the read at accept, at the loop's next turn */
	uv_shutdown_t shutdown;
	int open_handles;

	struct server *srv;
	enum conn_state state;
	int closed;
	const struct compat_port *compat;
	struct peer peer;   /* who connected, as far as is known */
	int tcp;            /* came over TCP: HTTP and TLS are refused */
	int need_token;     /* let in only if the header shows the token */
	int sniffed;        /* compat: the payload's start is no HTTP or TLS */
	size_t held;        /* input bytes counted in server_hold */
	char listener[160]; /* the listener's name, for the log */
	size_t max_payload;
	struct header hdr;
	int watching;           /* hdr.watch[0..watching) were added to the target's pool */
	char *executable;       /* that pool's, to find it again without searching */
	char *debug_executable; /* started debug sessions, in the pool at this */
	char target[2 * HEADER_NAME_MAX];
	struct buf in;
	int eof;

	size_t write_queued;
	int congested;
	int read_paused;    /* not reading requests until the client takes its replies */
	int busy;           /* handling request lines: the connection may not end yet */
	int aborting;       /* closing from the loop (conn_abort) */
	uint64_t linger_ms; /* conn_end_by: closed when the client takes nothing this long */
	int draining;       /* answered: reading what the client still sends, to drop it */
	int no_linger;      /* refused at accept: closed as soon as it is answered */
	/* Waiting for a version probe: the route of the header (CONN_ROUTING),
	 * the request line at the start of in, or a raw payload's submission.
	 * Nothing is taken from in meanwhile. */
	struct probe_waiter *wait;
	void (*wake)(struct conn *c); /* what to do again once woken */
	struct request_list reqs;

	/* raw mode reply */
	int raw_out_started;    /* "OUTPUT: " is written: stdout streams */
	struct buf raw_out;     /* the reply as it will leave: "OUTPUT: \n" and the stdout
	                         * held (RAW_HOLD_MAX), then the errors at the end */
	struct buf raw_err;     /* stderr, held until the end of the reply */
	size_t raw_err_dropped; /* stderr bytes past RAW_ERR_MAX, not kept */
};

/* conn.c */
#include "conn.h"

void conn_write(struct conn *c, const char *data, size_t len);
void conn_write_buf(struct conn *c, struct buf *b);
void conn_puts(struct conn *c, const char *s);
void conn_write_json(struct conn *c, json_t *msg);
void conn_fail(struct conn *c, int json, const char *type, const char *message);
int conn_is_blank(const char *s, size_t len);
int conn_client_gone(struct conn *c);
int conn_sniff(struct conn *c);
int conn_pool(struct conn *c, struct pool **ret, const char **reterr_type, struct buf *message);
void conn_wait(struct conn *c, void (*fn)(struct conn *c));
void conn_input(struct conn *c);

/* conn-raw.c */
void conn_raw_submit(struct conn *c);

/* conn-json.c */
int conn_json_line(struct conn *c, const char *line, size_t len, const char *rest, size_t rest_len,
                   size_t *ret_taken);
void conn_json_maybe_finish(struct conn *c);

#endif
