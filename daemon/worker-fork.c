/* worker-fork.c - spawn: fork: workers made by forking a warm template
 *
 * A template is a worker that never runs requests: its agent has started
 * the DCC and run the hook's initialize(), and then only forks. For each
 * new worker the daemon makes three socket pairs (the worker's fds 1, 2
 * and 3), keeps one end of each as it does for a spawned worker, and sends
 * the others to the template with one "fork" line (SCM_RIGHTS). The
 * template forks; the child puts them on 1, 2 and 3, leads a process group
 * of its own and says "ready" on its fd 3 like any agent; the template
 * answers "forked" with the child's pid, and "exited" with its status when
 * it reaps it (it is the child's parent, so only it can). From there the
 * worker is supervised as any other (agent-protocol.md, "Templates").
 *
 * A template that goes takes its workers with it: they die with it
 * (PR_SET_PDEATHSIG in the agent, and its hotload-launch kills what it
 * leaves), so each is told "killed by signal 9" here, as gone with its
 * template: the template's own end is the one that counts. A template
 * asked to stop forks no more and waits for its workers to go before its
 * stop_grace starts. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "ostream.h"
#include "worker-private.h"
#include "worker.h"

static void
close_fork_fds(struct worker *w)
{
	int i;

	for (i = 0; i < 3; i++)
		if (w->fork_fds[i] >= 0) {
			close(w->fork_fds[i]);
			w->fork_fds[i] = -1;
		}
}

/* The fork could not be asked for: the worker ends as one that could not
 * start, from a callback of its own (its owner has it by then). */
static void
on_fork_failed(uv_timer_t *t)
{
	struct worker *w = t->data;

	worker_exited(w, 1, 0);
}

static void
fork_failed(struct worker *w, const char *why, const char *what)
{
	struct buf m = BUF_INIT;

	buf_printf(&m, "%s: %s", why, what);
	json_decref(w->start_error);
	w->start_error = json_pack("{s:s, s:s}", "type", "WorkerStartFailed", "message", m.data);
	buf_free(&m);
	close_fork_fds(w);
	uv_timer_start(&w->timer, on_fork_failed, 0, 0);
}

/* Hand w's fds to its template with its "fork" line. The line is small and
 * the template reads its socket whenever it waits, so it goes in one
 * non-blocking sendmsg; one that cannot is a template that does not read,
 * and the fork fails. */
static void
send_fork(struct worker *tmpl, struct worker *w)
{
	char line[64], cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;
	uv_os_fd_t fd;
	int len;

	if (uv_stream_get_write_queue_size((uv_stream_t *)&tmpl->ctl) != 0 ||
	    uv_fileno((uv_handle_t *)&tmpl->ctl, &fd) < 0) {
		fork_failed(w, "its template does not read what it is sent", tmpl->name);
		return;
	}
	len = snprintf(line, sizeof(line), "{\"id\":0,\"op\":\"fork\",\"fork\":%llu}\n",
	               (unsigned long long)w->fork_id);
	iov.iov_base = line;
	iov.iov_len = (size_t)len;
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(cm), w->fork_fds, 3 * sizeof(int));
	do
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != len) {
		fork_failed(w, "cannot ask its template to fork",
		            n < 0 ? strerror(errno) : "short write");
		return;
	}
	close_fork_fds(w); /* the template holds them now */
	worker_time_start(w);
	worker_log(w, LOG_LEVEL_DEBUG, "asked template %d to fork (fork %llu)", worker_pid(tmpl),
	           (unsigned long long)w->fork_id);
}

int
worker_fork(struct worker *tmpl, const struct worker_spec *spec, const struct worker_events *ev,
            void *data, struct worker **ret)
{
	struct worker *w;
	int sv[3][2], i, r;

	if (!tmpl->is_template)
		return -EINVAL;
	if (tmpl->state == WORKER_STOPPING || tmpl->state == WORKER_STOPPED)
		return -ESRCH;
	for (i = 0; i < 3; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) < 0) {
			r = -errno;
			while (i-- > 0) {
				close(sv[i][0]);
				close(sv[i][1]);
			}
			return r;
		}
	}
	w = worker_new(tmpl->loop, spec, ev, data);
	w->forked = 1;
	w->tmpl = tmpl;
	w->fork_id = ++tmpl->next_fork;
	i = 0;
	if ((r = uv_pipe_open(ostream_pipe(w->out), sv[i++][0])) < 0 ||
	    (r = uv_pipe_open(ostream_pipe(w->err), sv[i++][0])) < 0 ||
	    (r = uv_pipe_open(&w->ctl, sv[i++][0])) < 0) {
		/* the handles close what they opened: the one that failed,
		 * and those after it, are ours to close */
		for (i--; i < 3; i++)
			close(sv[i][0]);
		for (i = 0; i < 3; i++)
			close(sv[i][1]);
		worker_close(w);
		return r;
	}
	for (i = 0; i < 3; i++)
		w->fork_fds[i] = sv[i][1];
	tmpl->children = xrealloc(tmpl->children, (tmpl->n_children + 1) * sizeof(*tmpl->children));
	tmpl->children[tmpl->n_children++] = w;
	worker_start_io(w, spec);
	if (tmpl->state == WORKER_IDLE)
		send_fork(tmpl, w);
	else
		worker_log(w, LOG_LEVEL_DEBUG, "waiting for its template to be ready");
	*ret = w;
	return 0;
}

void
worker_template_ready(struct worker *tmpl)
{
	size_t i;

	for (i = 0; i < tmpl->n_children; i++)
		if (tmpl->children[i]->fork_fds[0] >= 0)
			send_fork(tmpl, tmpl->children[i]);
}

static struct worker *
child_by(struct worker *tmpl, uint64_t fork_id, int pid)
{
	size_t i;

	for (i = 0; i < tmpl->n_children; i++) {
		struct worker *c = tmpl->children[i];

		if ((fork_id && c->fork_id == fork_id) || (pid > 0 && c->pid == pid))
			return c;
	}
	return NULL;
}

int
worker_template_event(struct worker *tmpl, const char *event, json_t *msg)
{
	uint64_t fork_id = (uint64_t)json_integer_value(json_object_get(msg, "fork"));
	int pid = (int)json_integer_value(json_object_get(msg, "pid"));
	struct worker *c;

	if (!strcmp(event, "forked")) {
		c = child_by(tmpl, fork_id, 0);
		if (pid <= 0)
			return -EPROTO;
		if (!c || c->state == WORKER_STOPPED) {
			/* its record went (start-up timeout) before the fork
			 * was made: the process is not wanted */
			log_warn("%s: template %d forked pid %d for a worker that is gone, killing "
			         "it",
			         tmpl->name, worker_pid(tmpl), pid);
			kill(-pid, SIGKILL);
			return 1;
		}
		c->pid = pid;
		worker_log(c, LOG_LEVEL_DEBUG, "forked from template %d in %.1f ms",
		           worker_pid(tmpl), (double)(uv_hrtime() - c->started_ns) / 1e6);
		if (c->state == WORKER_STOPPING && c->escalated >= SIGTERM)
			worker_kill(c, c->escalated);
		return 1;
	}
	if (!strcmp(event, "fork-failed")) {
		json_t *err = json_object_get(msg, "error");

		c = child_by(tmpl, fork_id, 0);
		if (!c || c->state == WORKER_STOPPED)
			return 1;
		json_decref(c->start_error);
		c->start_error = json_incref(err);
		if (!json_is_object(err))
			c->start_error = json_pack("{s:s, s:s}", "type", "WorkerStartFailed",
			                           "message", "its template could not fork");
		worker_exited(c, 1, 0);
		return 1;
	}
	if (!strcmp(event, "exited")) {
		c = pid > 0 ? child_by(tmpl, 0, pid) : NULL;
		if (c && c->state != WORKER_STOPPED)
			worker_exited(c, json_integer_value(json_object_get(msg, "status")),
			              (int)json_integer_value(json_object_get(msg, "signal")));
		return 1;
	}
	return 0;
}

void
worker_fork_forget(struct worker *w)
{
	struct worker *tmpl = w->tmpl;
	size_t i;

	close_fork_fds(w);
	w->tmpl = NULL;
	if (!tmpl)
		return;
	for (i = 0; i < tmpl->n_children; i++)
		if (tmpl->children[i] == w) {
			tmpl->children[i] = tmpl->children[--tmpl->n_children];
			break;
		}
	/* a template asked to stop waited for this, its last worker */
	if (tmpl->stop_waits && !tmpl->n_children)
		worker_stop_grace(tmpl);
}

void
worker_template_exited(struct worker *tmpl, const char *reason)
{
	while (tmpl->n_children) {
		struct worker *c = tmpl->children[0];

		/* worker_exited() forgets it, taking it off the list */
		if (c->state == WORKER_STOPPED) {
			worker_fork_forget(c);
			continue;
		}
		worker_log(c, LOG_LEVEL_WARNING, "its template (pid %d) %s: it goes with it",
		           worker_pid(tmpl), reason);
		if (c->pid > 0)
			kill(-c->pid, SIGKILL);
		/* one end, the template's, is counted, not one per worker */
		c->with_template = 1;
		worker_exited(c, 0, SIGKILL);
	}
}
