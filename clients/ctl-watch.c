/* ctl-watch.c - exec --watch: run again on every save
 *
 * The edit -> run loop from a terminal: hotloadctl watches the directory
 * itself (inotify, as the daemon does), and has the target watch it too,
 * so the modules the script imports from there are reloaded in the warm
 * worker before the next run. A burst of saves is one run. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "client.h"
#include "ctl-watch.h"
#include "ctl.h"

#define SETTLE_MS 100 /* quiet after the last event of a burst */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM)

struct watcher {
	int fd;
	char **paths; /* by watch descriptor */
	int n_paths;
	const char *file; /* the one file that counts, or NULL: any .py */
};

static int stop_pipe[2] = {-1, -1};

static void
on_stop(int sig)
{
	int saved = errno;
	ssize_t n = write(stop_pipe[1], "", 1);

	(void)n;
	(void)sig;
	errno = saved;
}

static int
ignored(const char *name)
{
	return !strcmp(name, "__pycache__") || name[0] == '.' || !strcmp(name, "node_modules");
}

static void
add_tree(struct watcher *w, const char *path)
{
	int wd = inotify_add_watch(w->fd, path, WATCH_MASK | IN_ONLYDIR);
	struct dirent *e;
	DIR *dp;

	if (wd < 0)
		return;
	if (wd >= w->n_paths) {
		w->paths = xrealloc(w->paths, (size_t)(wd + 1) * sizeof(char *));
		memset(w->paths + w->n_paths, 0, (size_t)(wd + 1 - w->n_paths) * sizeof(char *));
		w->n_paths = wd + 1;
	}
	free(w->paths[wd]);
	w->paths[wd] = xstrdup(path);
	dp = opendir(path);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		struct buf child = BUF_INIT;
		struct stat st;

		if (ignored(e->d_name) || !strcmp(e->d_name, ".."))
			continue;
		buf_printf(&child, "%s/%s", path, e->d_name);
		if (lstat(child.data, &st) == 0 && S_ISDIR(st.st_mode))
			add_tree(w, child.data);
		buf_free(&child);
	}
	closedir(dp);
}

/* Read the events waiting; note the first file that counts in what. */
static int
take_events(struct watcher *w, struct buf *what)
{
	char b[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hits = 0;
	ssize_t n;

	while ((n = read(w->fd, b, sizeof(b))) > 0) {
		char *p;

		for (p = b; p < b + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			const char *dir =
			        ev->wd >= 0 && ev->wd < w->n_paths ? w->paths[ev->wd] : NULL;

			p += sizeof(*ev) + ev->len;
			if (!dir || !ev->len)
				continue;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
			    !ignored(ev->name)) {
				struct buf sub = BUF_INIT;

				buf_printf(&sub, "%s/%s", dir, ev->name);
				add_tree(w, sub.data);
				buf_free(&sub);
				continue;
			}
			{
				struct buf path = BUF_INIT;
				size_t len = strlen(ev->name);
				int counts;

				buf_printf(&path, "%s/%s", dir, ev->name);
				counts = w->file ? !strcmp(path.data, w->file)
				                 : len > 3 && !strcmp(ev->name + len - 3, ".py");
				if (counts) {
					if (!hits && !what->len)
						buf_puts(what, path.data);
					hits++;
				}
				buf_free(&path);
			}
		}
	}
	return hits;
}

/* Wait for a change that counts (and for the burst to settle); 0, or 1
 * when Ctrl-C asked us to stop. */
static int
wait_change(struct watcher *w, struct buf *what)
{
	int seen = 0;

	for (;;) {
		struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN},
		                      {.fd = stop_pipe[0], .events = POLLIN}};
		int r = poll(p, 2, seen ? SETTLE_MS : -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (p[1].revents & POLLIN)
			return 1;
		if (r == 0)
			return 0; /* settled */
		if (p[0].revents & POLLIN)
			seen += take_events(w, what);
	}
}

/* The target watches dir too, for as long as this connection is open (the
 * header's watch=), so that however hotloadctl ends - Ctrl-C, SIGTERM, even
 * SIGKILL - the daemon lets the directory go. An interrupt with nothing
 * running is answered at once, without starting a worker: its done says
 * the header was taken. NULL (and a note) when the target will not. */
static struct client *
target_watch(const struct ctl_opts *o, const char *target, const char *dir)
{
	struct client *c = NULL;
	struct buf opt = BUF_INIT;
	json_t *req = json_pack("{s:s}", "op", "interrupt"), *ev = NULL;
	const char *why = NULL;
	char err[256];
	long id = 0;
	int r;

	if (strchr(dir, ' ')) {
		why = "a directory with a space cannot be named in a header; "
		      "'hotloadctl watch' can";
		goto refused;
	}
	if (client_connect(o->socket, o->tcp, &c, err, sizeof(err)) < 0)
		goto out; /* the run says why */
	buf_printf(&opt, "watch=%s", dir);
	r = client_send_header(c, target, opt.data, o->token);
	if (r >= 0)
		r = client_send_request(c, req, &id);
	while (r >= 0) {
		const char *name;

		r = client_read_event(c, 10000, &ev, err, sizeof(err));
		if (r == -EBADMSG) {
			r = 1; /* not an event: skip it */
			continue;
		}
		if (r <= 0)
			break;
		name = client_event_name(ev);
		if (name && !strcmp(name, "done") &&
		    json_integer_value(json_object_get(ev, "id")) == id) {
			if (json_is_true(json_object_get(ev, "ok")))
				goto out;
			break;
		}
		if (name && !strcmp(name, "error"))
			break;
		json_decref(ev);
		ev = NULL;
	}
	why = ctl_str(json_object_get(ev, "error"), "message",
	              r == -ETIMEDOUT ? "no answer" : "the daemon closed the connection");
refused:
	ctl_msg(o, "%s does not reload modules from %s by itself: %s", target, dir, why);
	client_free(c);
	c = NULL;
out:
	json_decref(ev);
	json_decref(req);
	buf_free(&opt);
	return c;
}

int
ctlwatch_loop(struct ctl_opts *o, const char *target, const char *dir, const char *file,
              ctlwatch_run_fn run, void *data)
{
	struct watcher w = {-1, NULL, 0, file};
	struct sigaction sa, old_int, old_term;
	struct buf what = BUF_INIT;
	struct client *watching;
	int status = CTL_EXIT_OK, hit = 0, i, runs = 0;

	w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w.fd < 0 || pipe(stop_pipe) < 0) {
		ctl_err("cannot watch %s: %s", dir, strerror(errno));
		return CTL_EXIT_FAILED;
	}
	add_tree(&w, dir);
	watching = target_watch(o, target, dir);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	o->watch_fd = w.fd;
	o->watch_hit = &hit;
	for (;;) {
		char when[16];
		time_t now = time(NULL);
		double t0;

		strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
		runs++;
		if (runs == 1)
			ctl_msg(o, "--- %s run 1 ---", when);
		else
			ctl_msg(o, "--- %s run %d: %s changed ---", when, runs,
			        what.len ? what.data : dir);
		buf_clear(&what);
		hit = 0;
		t0 = ctl_now();
		status = run(o, data);
		if (status == CTL_EXIT_INTERRUPTED && !hit)
			break; /* Ctrl-C during a run ends the loop */
		if (status == CTL_EXIT_REFUSED)
			break; /* an unknown target does not become known by a save */
		if (status == 128 + SIGTERM || status == 128 + SIGHUP)
			break; /* the run was interrupted, and we are asked to go */
		if (hit) {
			ctl_msg(o, "--- interrupted by a change after %.2f s ---", ctl_now() - t0);
			take_events(&w, &what);
			continue;
		}
		/* Ctrl-C while waiting ends the loop, with the last run's status */
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		ctl_msg(o, "--- exit %d in %.2f s; waiting for changes under %s (Ctrl-C ends) ---",
		        status, ctl_now() - t0, dir);
		i = wait_change(&w, &what);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		if (i)
			break;
	}
	o->watch_hit = NULL;
	o->watch_fd = -1;
	client_free(watching); /* the daemon lets dir go */
	for (i = 0; i < w.n_paths; i++)
		free(w.paths[i]);
	free(w.paths);
	buf_free(&what);
	close(w.fd);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return status;
}
