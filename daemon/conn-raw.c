/* conn-raw.c - raw mode: one payload until half-close, the original reply format
 *
 * The reply is "OUTPUT: \n" + stdout, then "ERRORS: \n" + stderr and the
 * traceback, or "Script executed (no output)." when there was neither.
 * The original clients read it with one recv(1024), so it is held until the
 * request is done and leaves in one write, as the original server's sendall
 * did; only stdout past RAW_HOLD_MAX (or of a client that asked with
 * stream=yes) streams as it comes. stderr is held until the end in any case
 * because it follows stdout in the reply. */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "conn-private.h"
#include "errfmt.h"
#include "log.h"
#include "pool.h"
#include "utf8.h"

#define OUT_HEAD "OUTPUT: \n"
#define OUT_HEAD_LEN (sizeof(OUT_HEAD) - 1)

static int
raw_output(struct request *r, int fd, const char *data, size_t len)
{
	struct conn *c = request_sink_data(r);

	if (fd == 2) {
		/* Held until the end: keep the first RAW_ERR_MAX bytes and count
		 * the rest, so a script that floods stderr cannot take the
		 * daemon's memory. The traceback is added after the cut. */
		size_t room = c->raw_err_dropped || c->raw_err.len >= RAW_ERR_MAX
		                      ? 0
		                      : RAW_ERR_MAX - c->raw_err.len;
		size_t take = len < room ? len : room;

		if (take) {
			/* never cut a UTF-8 character in two */
			while (take < len && take && ((unsigned char)data[take] & 0xc0) == 0x80)
				take--;
			buf_append(&c->raw_err, data, take);
		}
		c->raw_err_dropped += len - take;
		return 0;
	}
	if (!len) /* nothing to hold: not even the head */
		return 0;
	/* raw_out is the reply as it will leave: its head, then stdout */
	if (!c->raw_out_started && !c->hdr.stream &&
	    (c->raw_out.len ? c->raw_out.len - OUT_HEAD_LEN : 0) + len <= RAW_HOLD_MAX) {
		if (!c->raw_out.len)
			buf_append(&c->raw_out, OUT_HEAD, OUT_HEAD_LEN);
		buf_append(&c->raw_out, data, len);
		return 0;
	}
	if (!c->raw_out_started) {
		/* too much to hold: what is held goes first, the rest streams */
		if (c->raw_out.len)
			conn_write_buf(c, &c->raw_out);
		else
			conn_puts(c, OUT_HEAD);
		c->raw_out_started = 1;
	}
	conn_write(c, data, len);
	return c->congested;
}

static void
raw_done(struct request *r, json_t *result)
{
	struct conn *c = request_sink_data(r);

	request_owner_remove(&c->reqs, r);
	request_free(r);
	if (c->raw_err_dropped)
		buf_printf(&c->raw_err, "\n[hotloadd: %zu more bytes of stderr dropped]\n",
		           c->raw_err_dropped);
	if (!json_is_true(json_object_get(result, "ok")))
		errfmt_report(json_object_get(result, "error"), &c->raw_err);
	/* What is left of the reply, in one write: after the stdout held in
	 * raw_out (none once it streams), without copying that. */
	if (c->raw_err.len) {
		buf_puts(&c->raw_out, "ERRORS: \n");
		buf_append(&c->raw_out, c->raw_err.data, c->raw_err.len);
		buf_free(&c->raw_err);
	} else if (!c->raw_out_started && !c->raw_out.len)
		buf_puts(&c->raw_out, "Script executed (no output).");
	conn_write_buf(c, &c->raw_out);
	conn_end(c);
}

static int
raw_gone(struct request *r)
{
	return conn_client_gone(request_sink_data(r));
}

static const struct request_sink raw_sink = {
        .output = raw_output,
        .done = raw_done,
        .gone = raw_gone,
};

/* Remove every __SHUTDOWN__ from the payload in one pass; returns how
 * many there were. memchr for the first byte, not memmem over the rest of
 * the payload per token, so the pass stays linear whatever the payload. */
static int
strip_shutdown(struct buf *b)
{
	const size_t tl = strlen(SHUTDOWN_TOKEN);
	size_t in = 0, out = 0, at, keep;
	int found = 0, token;
	const char *p;

	while (b->len - in >= tl &&
	       (p = memchr(b->data + in, SHUTDOWN_TOKEN[0], b->len - in - tl + 1))) {
		at = (size_t)(p - b->data);
		token = !memcmp(p, SHUTDOWN_TOKEN, tl);
		/* keep what precedes the match, and its first byte if no token */
		keep = at - in + !token;
		if (out != in)
			memmove(b->data + out, b->data + in, keep);
		out += keep;
		in = token ? at + tl : at + 1;
		found += token;
	}
	if (out != in) {
		memmove(b->data + out, b->data + in, b->len - in);
		b->len = out + (b->len - in);
		b->data[b->len] = '\0';
	}
	return found;
}

void
conn_raw_submit(struct conn *c)
{
	struct request_spec spec = {.op = REQUEST_EXEC};
	struct request *r;
	struct buf code = BUF_INIT;
	struct utf8_carry carry = {{0}, 0};
	struct buf message = BUF_INIT;
	const char *type = NULL;
	struct pool *pool = NULL;
	int shutdown, rc;

	uv_timer_stop(&c->timer);
	uv_read_stop(&c->h.stream);
	rc = conn_pool(c, &pool, &type, &message);
	if (rc == -EINPROGRESS) {
		/* the payload is complete: it waits as it is */
		conn_wait(c, conn_raw_submit);
		buf_free(&message);
		return;
	}
	/* removed always; acted on unless the compat port says to ignore it */
	shutdown = strip_shutdown(&c->in) > 0 && !(c->compat && c->compat->keep_on_shutdown_token);
	c->state = CONN_RAW_RUN;
	if (rc < 0) {
		conn_fail(c, 0, type, message.data);
		buf_free(&message);
		return;
	}
	/* Nothing to run and no worker to stop: answer without starting one. */
	if (conn_is_blank(c->in.data ? c->in.data : "", c->in.len) && shutdown &&
	    pool_worker_count(pool) == 0) {
		conn_puts(c, "Script executed (no output).");
		conn_end(c);
		return;
	}
	utf8_repair(&carry, c->in.data ? c->in.data : "", c->in.len, &code);
	utf8_finish(&carry, &code);
	buf_free(&c->in);

	spec.code_len = code.len;
	spec.code = buf_steal(&code);
	spec.file = c->hdr.file[0] ? c->hdr.file : NULL;
	spec.fresh = c->hdr.fresh;
	spec.isolated = c->hdr.isolated;
	spec.timeout = c->hdr.timeout;
	spec.shutdown_after = shutdown;
	r = request_new(&spec, &raw_sink, c);
	request_owner_append(&c->reqs, r);
	if (c->hdr.client[0]) /* as conn-json.c: a named client's requests are logged */
		log_info("%s: raw request, %zu bytes of code, from client %s", c->target,
		         spec.code_len, c->hdr.client);
	else
		log_debug("%s: raw request, %zu bytes", c->target, spec.code_len);
	pool_submit(pool, r);
}
