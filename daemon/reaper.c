/* reaper.c - hotloadd as child subreaper
 *
 * A process started by user code in a DCC can leave the worker's process
 * group (setsid, a double fork); group signals then miss it. With
 * PR_SET_CHILD_SUBREAPER it is re-parented to hotloadd instead of init when
 * its worker dies. hotloadd's only legitimate children are its workers, so
 * any other child is such a leftover: it is killed and reaped, which also
 * keeps zombies from piling up. libuv reaps the workers itself; the reaper
 * never waits for a tracked pid.
 *
 * What it cannot kill (a process that is not our child, or that does not
 * die) may keep a dead worker's output pipe open. The worker reads it for
 * a while and holds it here meanwhile, so that the daemon's exit, which
 * waits for no such thing, closes it at once. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "buf.h"
#include "log.h"
#include "reaper.h"

struct reaper {
	uv_signal_t sigchld;
	pid_t *pids;
	size_t n_pids;
	LIST_HEAD(, reaper_held) held;
};

static void
on_sigchld(uv_signal_t *h, int signum)
{
	reaper_sweep(h->data);
}

struct reaper *
reaper_new(uv_loop_t *loop)
{
	struct reaper *r = xcalloc(1, sizeof(*r));

	LIST_INIT(&r->held);
#ifdef PR_SET_CHILD_SUBREAPER
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become child subreaper, ignoring");
#endif
	uv_signal_init(loop, &r->sigchld);
	r->sigchld.data = r;
	uv_signal_start(&r->sigchld, on_sigchld, SIGCHLD);
	return r;
}

static void
on_closed(uv_handle_t *h)
{
	struct reaper *r = h->data;

	free(r->pids);
	free(r);
}

void
reaper_free(struct reaper *r)
{
	struct reaper_held *h;

	if (!r)
		return;
	while ((h = LIST_FIRST(&r->held))) {
		LIST_REMOVE(h, link);
		h->cut(h);
	}
	uv_close((uv_handle_t *)&r->sigchld, on_closed);
}

void
reaper_hold(struct reaper *r, struct reaper_held *h)
{
	LIST_INSERT_HEAD(&r->held, h, link);
}

void
reaper_release(struct reaper *r, struct reaper_held *h)
{
	LIST_REMOVE(h, link);
}

void
reaper_track(struct reaper *r, pid_t pid)
{
	r->pids = xrealloc(r->pids, (r->n_pids + 1) * sizeof(*r->pids));
	r->pids[r->n_pids++] = pid;
}

void
reaper_untrack(struct reaper *r, pid_t pid)
{
	size_t i;

	for (i = 0; i < r->n_pids; i++)
		if (r->pids[i] == pid) {
			r->pids[i] = r->pids[--r->n_pids];
			return;
		}
}

static int
tracked(const struct reaper *r, pid_t pid)
{
	size_t i;

	for (i = 0; i < r->n_pids; i++)
		if (r->pids[i] == pid)
			return 1;
	return 0;
}

/* One task's children list: "123 456 " (Linux 3.5+, CONFIG_PROC_CHILDREN). */
static void
sweep_task(struct reaper *r, const char *tid)
{
	char path[300];
	FILE *f;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%s/children", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (tracked(r, (pid_t)pid) || waitpid((pid_t)pid, NULL, WNOHANG) == (pid_t)pid)
			continue;
		log_info("killing pid %ld, left behind by a worker", pid);
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, WNOHANG);
	}
	fclose(f);
}

void
reaper_sweep(struct reaper *r)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			sweep_task(r, e->d_name);
	closedir(d);
}
