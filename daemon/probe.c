/* probe.c - version probes: a hook's version_command, run without blocking
 *
 * One probe per key (an executable and its command) at a time; whoever else
 * needs the same answer waits for the same probe. A probe record goes only
 * when its process is reaped *and* its pipe and timer are closed. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "buf.h"
#include "probe.h"
#include "reaper.h"

#define PROBE_READ_CHUNK 4096

struct probe {
	TAILQ_ENTRY(probe) entry;
	struct probes *pr;
	char *key;
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int open_handles;
	pid_t pid;      /* 0 until spawned */
	int exited;     /* reaped */
	int out_closed; /* EOF read, or given up at the deadline */
	int finished;   /* done was called (or will never be) */
	int result;
	struct buf output;
	probe_done_cb done;
	void *data;
	char chunk[PROBE_READ_CHUNK];
};

struct probe_waiter {
	TAILQ_ENTRY(probe_waiter) entry;
	probe_wake_cb fn;
	void *data;
	int firing; /* on the list being woken now */
};

TAILQ_HEAD(probe_list, probe);
TAILQ_HEAD(waiter_list, probe_waiter);

struct probes {
	uv_loop_t *loop;
	struct reaper *reaper;
	uint64_t timeout_ms;
	struct probe_list probes;
	size_t n_probes;
	struct waiter_list waiting;
	struct waiter_list firing;
	uv_timer_t wake; /* waiters are woken from the loop, never from inside a caller */
	int stopped;
	int freeing;
	int wake_closed;
	void (*on_empty)(void *data);
	void *empty_data;
};

struct probes *
probes_new(uv_loop_t *loop, struct reaper *reaper, uint64_t timeout_ms)
{
	struct probes *pr = xcalloc(1, sizeof(*pr));

	pr->loop = loop;
	pr->reaper = reaper;
	pr->timeout_ms = timeout_ms;
	TAILQ_INIT(&pr->probes);
	TAILQ_INIT(&pr->waiting);
	TAILQ_INIT(&pr->firing);
	uv_timer_init(loop, &pr->wake);
	pr->wake.data = pr;
	return pr;
}

/* Free the set once it is asked to go and nothing of it is open. */
static void
probes_maybe_free(struct probes *pr)
{
	if (pr->freeing && pr->wake_closed && !pr->n_probes)
		free(pr);
}

static void
on_wake_closed(uv_handle_t *h)
{
	struct probes *pr = h->data;

	pr->wake_closed = 1;
	probes_maybe_free(pr);
}

static void
on_wake(uv_timer_t *t)
{
	struct probes *pr = t->data;
	struct probe_waiter *w;
	probe_wake_cb fn;
	void *data;

	/* Those who wait now; whoever waits again from its callback is for
	 * the next probe to end. */
	while ((w = TAILQ_FIRST(&pr->waiting))) {
		TAILQ_REMOVE(&pr->waiting, w, entry);
		w->firing = 1;
		TAILQ_INSERT_TAIL(&pr->firing, w, entry);
	}
	while ((w = TAILQ_FIRST(&pr->firing))) {
		TAILQ_REMOVE(&pr->firing, w, entry);
		fn = w->fn;
		data = w->data;
		free(w);
		fn(data);
	}
}

void
probes_wake(struct probes *pr)
{
	if (!pr->freeing && !TAILQ_EMPTY(&pr->waiting))
		uv_timer_start(&pr->wake, on_wake, 0, 0);
}

struct probe_waiter *
probes_wait(struct probes *pr, probe_wake_cb fn, void *data)
{
	struct probe_waiter *w = xcalloc(1, sizeof(*w));

	w->fn = fn;
	w->data = data;
	TAILQ_INSERT_TAIL(&pr->waiting, w, entry);
	return w;
}

void
probes_cancel(struct probes *pr, struct probe_waiter *w)
{
	if (!w)
		return;
	if (w->firing)
		TAILQ_REMOVE(&pr->firing, w, entry);
	else
		TAILQ_REMOVE(&pr->waiting, w, entry);
	free(w);
}

void
probes_set_empty_cb(struct probes *pr, void (*fn)(void *data), void *data)
{
	pr->on_empty = fn;
	pr->empty_data = data;
}

size_t
probes_count(const struct probes *pr)
{
	return pr->n_probes;
}

int
probes_running(const struct probes *pr, const char *key)
{
	const struct probe *p;

	TAILQ_FOREACH(p, &pr->probes, entry)
	if (!p->finished && !strcmp(p->key, key))
		return 1;
	return 0;
}

static void
on_probe_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	struct probes *pr = p->pr;

	if (--p->open_handles > 0)
		return;
	TAILQ_REMOVE(&pr->probes, p, entry);
	pr->n_probes--;
	buf_free(&p->output);
	free(p->key);
	free(p);
	if (!pr->n_probes && pr->on_empty && !pr->freeing)
		pr->on_empty(pr->empty_data);
	probes_maybe_free(pr);
}

/* Kill the probe's process group: the command and whatever it started.
 * Once the command is reaped its pid may in principle be reused; the group
 * is still signalled while its output is open, because then a process of
 * the group is alive (and holds the pid as its group id) most likely. */
static void
probe_kill(struct probe *p)
{
	if (!p->pid || (p->exited && p->out_closed))
		return;
	kill(-p->pid, SIGKILL);
	if (!p->exited)
		kill(p->pid, SIGKILL);
}

/* Stop reading: at EOF, at the deadline, or when stopped. */
static void
probe_close_output(struct probe *p)
{
	if (p->out_closed)
		return;
	p->out_closed = 1;
	uv_close((uv_handle_t *)&p->out, on_probe_closed);
}

/* Reaped and read to its end (or past its deadline): say how it went,
 * close what is left, and wake whoever waits for it. */
static void
probe_finish(struct probe *p)
{
	struct probes *pr = p->pr;
	probe_done_cb done = p->done;

	if (!p->exited || !p->out_closed || p->finished)
		return;
	p->finished = 1;
	p->done = NULL;
	uv_close((uv_handle_t *)&p->timer, on_probe_closed);
	if (done)
		done(p->result, &p->output, p->data);
	probes_wake(pr);
}

static void
on_probe_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct probe *p = proc->data;

	p->exited = 1;
	if (p->result != -ETIMEDOUT)
		p->result = term_signal ? -EINTR : (int)exit_status;
	if (p->pr->reaper)
		reaper_untrack(p->pr->reaper, p->pid);
	uv_close((uv_handle_t *)proc, on_probe_closed);
	probe_finish(p);
}

static void
on_probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct probe *p = h->data;

	*b = uv_buf_init(p->chunk, sizeof(p->chunk));
}

static void
on_probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct probe *p = s->data;

	if (n > 0) {
		/* Past the cap it is read and dropped, so the command does not
		 * block on a full pipe. */
		if (p->output.len < PROBE_OUTPUT_MAX)
			buf_append(&p->output, b->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	probe_close_output(p);
	probe_finish(p);
}

static void
on_probe_deadline(uv_timer_t *t)
{
	struct probe *p = t->data;

	/* A command that exited with its output still open (something it
	 * started holds the pipe) is judged by its exit status, as ever. */
	if (!p->exited)
		p->result = -ETIMEDOUT;
	probe_kill(p);
	probe_close_output(p);
	probe_finish(p);
}

int
probes_start(struct probes *pr, const char *key, char *const *argv, probe_done_cb done, void *data)
{
	struct probe *p;
	uv_process_options_t opts;
	uv_stdio_container_t stdio[3];
	uv_file fds[2];
	int r;

	if (pr->stopped)
		return -ESHUTDOWN;
	if (probes_running(pr, key))
		return -EBUSY;
	r = uv_pipe(fds, 0, 0);
	if (r < 0)
		return r;
	p = xcalloc(1, sizeof(*p));
	p->pr = pr;
	p->key = xstrdup(key);
	p->finished = 1; /* until it runs */
	uv_pipe_init(pr->loop, &p->out, 0);
	uv_timer_init(pr->loop, &p->timer);
	p->out.data = p->timer.data = p->proc.data = p;
	p->open_handles = 2;
	TAILQ_INSERT_TAIL(&pr->probes, p, entry);
	pr->n_probes++;
	r = uv_pipe_open(&p->out, fds[0]);
	if (r < 0) {
		close(fds[0]);
		close(fds[1]);
		goto fail;
	}

	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE; /* /dev/null */
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	opts.file = argv[0];
	opts.args = (char **)argv;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = on_probe_exit;
	/* setsid(): its own session and process group, killed as one. */
	opts.flags = UV_PROCESS_DETACHED;
	/* uv_spawn initialises proc even when it fails, so it is closed too. */
	p->open_handles++;
	r = uv_spawn(pr->loop, &p->proc, &opts);
	close(fds[1]); /* the child's copy is its own: EOF once every writer is gone */
	if (r < 0) {
		uv_close((uv_handle_t *)&p->proc, on_probe_closed);
		goto fail;
	}
	p->finished = 0;
	p->pid = p->proc.pid;
	if (pr->reaper)
		reaper_track(pr->reaper, p->pid);
	uv_read_start((uv_stream_t *)&p->out, on_probe_alloc, on_probe_read);
	uv_timer_start(&p->timer, on_probe_deadline, pr->timeout_ms, 0);
	p->done = done;
	p->data = data;
	return 0;
fail:
	probe_close_output(p);
	uv_close((uv_handle_t *)&p->timer, on_probe_closed);
	return r;
}

void
probes_stop(struct probes *pr)
{
	struct probe *p;

	pr->stopped = 1;
	TAILQ_FOREACH(p, &pr->probes, entry)
	{
		probe_done_cb done = p->done;

		if (p->finished)
			continue;
		p->done = NULL;
		p->result = -ECANCELED;
		probe_kill(p);
		probe_close_output(p);
		uv_timer_stop(&p->timer);
		if (done)
			done(-ECANCELED, &p->output, p->data);
		probe_finish(p); /* when it was reaped already */
	}
	probes_wake(pr);
}

void
probes_free(struct probes *pr)
{
	struct probe_waiter *w;

	if (!pr)
		return;
	probes_stop(pr);
	while ((w = TAILQ_FIRST(&pr->waiting)))
		probes_cancel(pr, w);
	pr->freeing = 1;
	uv_close((uv_handle_t *)&pr->wake, on_wake_closed);
}
