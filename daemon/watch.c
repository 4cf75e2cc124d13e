/* watch.c - which Python files under some directories changed
 *
 * libuv's file system events are inotify on Linux, which watches one
 * directory at a time: every directory below a root gets a watcher of its
 * own, and one made later is watched as soon as it shows up. Watching
 * directories rather than files is what makes editors that save by writing
 * a temporary file and renaming it over the original (VS Code, vim with
 * backupcopy=no, JetBrains' "safe write") work: the rename is an event in
 * the directory, whatever happens to the old inode.
 *
 * A save is often several events (write, close, rename, chmod), and a
 * "save all" or a git checkout is hundreds: changes are collected and
 * reported together once nothing has happened for DEBOUNCE_MS, or at the
 * latest DEBOUNCE_MAX_MS after the first one. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "watch.h"

#define DEBOUNCE_MS 50
#define DEBOUNCE_MAX_MS 300
#define WATCH_DIRS_MAX 20000 /* per root: a home directory by mistake is not watched whole */

struct wdir {
	uv_fs_event_t ev;
	struct watch *owner;
	char *path;
	int closing;
};

struct root {
	char *path; /* real path */
	unsigned refs;
};

struct watch {
	uv_loop_t *loop;
	watch_change_cb cb;
	void *data;
	struct root *roots;
	size_t n_roots;
	struct wdir **dirs;
	size_t n_dirs;
	char **pending; /* changed files not reported yet */
	size_t n_pending;
	uv_timer_t timer;
	uint64_t first_ns; /* when the oldest pending change came */
	int freeing;
	int open; /* handles not closed yet, the timer included */
};

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status);

/* Folders nobody imports from, and that change all the time. */
static int
ignored_dir(const char *name)
{
	static const char *const names[] = {"__pycache__", ".git",         ".hg",
	                                    ".svn",        ".mypy_cache",  ".pytest_cache",
	                                    ".tox",        "node_modules", NULL};
	size_t i;

	for (i = 0; names[i]; i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

static int
is_python_file(const char *name)
{
	size_t n = strlen(name);

	return n > 3 && !strcmp(name + n - 3, ".py");
}

static void
maybe_free(struct watch *wt)
{
	if (!wt->freeing || wt->open > 0)
		return;
	free(wt->roots);
	free(wt->dirs);
	free(wt->pending);
	free(wt);
}

static void
on_dir_closed(uv_handle_t *h)
{
	struct wdir *d = h->data;
	struct watch *wt = d->owner;

	free(d->path);
	free(d);
	wt->open--;
	maybe_free(wt);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct watch *wt = h->data;

	wt->open--;
	maybe_free(wt);
}

static struct wdir *
find_dir(const struct watch *wt, const char *path)
{
	size_t i;

	for (i = 0; i < wt->n_dirs; i++)
		if (!strcmp(wt->dirs[i]->path, path))
			return wt->dirs[i];
	return NULL;
}

/* Stop watching d (it is gone, or no root covers it). */
static void
dir_close(struct watch *wt, size_t i)
{
	struct wdir *d = wt->dirs[i];

	wt->dirs[i] = wt->dirs[--wt->n_dirs];
	d->closing = 1;
	uv_fs_event_stop(&d->ev);
	uv_close((uv_handle_t *)&d->ev, on_dir_closed);
}

static void
pending_add(struct watch *wt, const char *path)
{
	size_t i;

	for (i = 0; i < wt->n_pending; i++)
		if (!strcmp(wt->pending[i], path))
			return;
	wt->pending = xrealloc(wt->pending, (wt->n_pending + 1) * sizeof(char *));
	wt->pending[wt->n_pending++] = xstrdup(path);
}

static void
on_debounced(uv_timer_t *t)
{
	struct watch *wt = t->data;
	char **paths = wt->pending;
	size_t n = wt->n_pending, i;

	wt->pending = NULL;
	wt->n_pending = 0;
	wt->first_ns = 0;
	if (n)
		wt->cb(wt, paths, n, wt->data);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

void
watch_flush(struct watch *wt)
{
	if (!wt || !wt->n_pending)
		return;
	uv_timer_stop(&wt->timer);
	on_debounced(&wt->timer);
}

/* A change came: report the burst once it settles. */
static void
changed(struct watch *wt, const char *path)
{
	uint64_t now = uv_hrtime(), waited;

	pending_add(wt, path);
	if (!wt->first_ns)
		wt->first_ns = now;
	waited = (now - wt->first_ns) / 1000000;
	uv_timer_start(&wt->timer, on_debounced,
	               waited + DEBOUNCE_MS > DEBOUNCE_MAX_MS
	                       ? (waited >= DEBOUNCE_MAX_MS ? 0 : DEBOUNCE_MAX_MS - waited)
	                       : DEBOUNCE_MS,
	               0);
}

/* Watch path and what is below it. new: it appeared while watched, so the
 * Python files in it are changes too (a directory renamed into place). */
static void
watch_tree(struct watch *wt, const char *path, int is_new, size_t *budget)
{
	struct wdir *d;
	struct dirent *e;
	DIR *dp;
	int r;

	if (find_dir(wt, path) || !*budget)
		return;
	if (!--*budget) {
		log_warn("watching %s: more than %d directories under one root; not watching "
		         "further ones",
		         path, WATCH_DIRS_MAX);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->owner = wt;
	d->path = xstrdup(path);
	uv_fs_event_init(wt->loop, &d->ev);
	d->ev.data = d;
	wt->open++;
	r = uv_fs_event_start(&d->ev, on_event, path, 0);
	if (r < 0) {
		log_warn("cannot watch %s: %s%s", path, uv_strerror(r),
		         r == UV_ENOSPC ? " (fs.inotify.max_user_watches is reached; raise it, or "
		                          "use watch_mode: poll)"
		                        : "");
		uv_close((uv_handle_t *)&d->ev, on_dir_closed);
		return;
	}
	wt->dirs = xrealloc(wt->dirs, (wt->n_dirs + 1) * sizeof(*wt->dirs));
	wt->dirs[wt->n_dirs++] = d;

	dp = opendir(path);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		struct buf child = BUF_INIT;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_printf(&child, "%s/%s", path, e->d_name);
		/* lstat: a symlinked directory is a root of its own if wanted */
		if (lstat(child.data, &st) == 0) {
			if (S_ISDIR(st.st_mode) && !ignored_dir(e->d_name))
				watch_tree(wt, child.data, is_new, budget);
			else if (is_new && S_ISREG(st.st_mode) && is_python_file(e->d_name))
				changed(wt, child.data);
		}
		buf_free(&child);
	}
	closedir(dp);
}

static void
on_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct wdir *d = h->data;
	struct watch *wt = d->owner;
	struct buf path = BUF_INIT;
	struct stat st;
	size_t i;

	if (d->closing || wt->freeing)
		return;
	if (status < 0 || !filename) {
		/* the directory itself went: its watcher stops */
		if (access(d->path, F_OK) < 0)
			for (i = 0; i < wt->n_dirs; i++)
				if (wt->dirs[i] == d) {
					dir_close(wt, i);
					break;
				}
		return;
	}
	buf_printf(&path, "%s/%s", d->path, filename);
	if (lstat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!ignored_dir(filename)) {
			size_t budget = WATCH_DIRS_MAX;

			watch_tree(wt, path.data, 1, &budget);
		}
	} else if (is_python_file(filename)) {
		changed(wt, path.data);
	} else {
		struct wdir *gone = find_dir(wt, path.data);

		/* a subdirectory deleted or renamed away */
		for (i = 0; gone && i < wt->n_dirs; i++)
			if (wt->dirs[i] == gone)
				dir_close(wt, i);
	}
	buf_free(&path);
}

struct watch *
watch_new(uv_loop_t *loop, watch_change_cb cb, void *data)
{
	struct watch *wt = xcalloc(1, sizeof(*wt));

	wt->loop = loop;
	wt->cb = cb;
	wt->data = data;
	uv_timer_init(loop, &wt->timer);
	wt->timer.data = wt;
	wt->open = 1;
	return wt;
}

void
watch_free(struct watch *wt)
{
	size_t i;

	if (!wt)
		return;
	wt->freeing = 1;
	while (wt->n_dirs)
		dir_close(wt, wt->n_dirs - 1);
	for (i = 0; i < wt->n_roots; i++)
		free(wt->roots[i].path);
	for (i = 0; i < wt->n_pending; i++)
		free(wt->pending[i]);
	wt->n_pending = 0;
	uv_close((uv_handle_t *)&wt->timer, on_timer_closed);
}

/* Whether path is root or below it. */
static int
under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0' || n == 1);
}

int
watch_add_root(struct watch *wt, const char *dir, char *err, size_t errlen)
{
	char *real = realpath(dir, NULL);
	size_t i, budget = WATCH_DIRS_MAX;
	struct stat st;
	int r;

	if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = real ? -ENOTDIR : -errno;
		snprintf(err, errlen, "cannot watch %s: %s", dir, strerror(-r));
		free(real);
		return r;
	}
	for (i = 0; i < wt->n_roots; i++)
		if (!strcmp(wt->roots[i].path, real)) {
			wt->roots[i].refs++;
			free(real);
			return 0;
		}
	wt->roots = xrealloc(wt->roots, (wt->n_roots + 1) * sizeof(*wt->roots));
	wt->roots[wt->n_roots].path = real;
	wt->roots[wt->n_roots].refs = 1;
	wt->n_roots++;
	watch_tree(wt, real, 0, &budget);
	return 0;
}

int
watch_remove_root(struct watch *wt, const char *dir)
{
	char *real = realpath(dir, NULL);
	const char *want = real ? real : dir;
	size_t i, j, k;
	int covered;

	for (i = 0; i < wt->n_roots; i++)
		if (!strcmp(wt->roots[i].path, want))
			break;
	free(real);
	if (i == wt->n_roots)
		return -ENOENT;
	if (--wt->roots[i].refs) {
		return 0;
	}
	free(wt->roots[i].path);
	wt->roots[i] = wt->roots[--wt->n_roots];
	/* directories no other root covers go */
	for (j = 0; j < wt->n_dirs;) {
		covered = 0;
		for (k = 0; k < wt->n_roots && !covered; k++)
			covered = under(wt->dirs[j]->path, wt->roots[k].path);
		if (covered)
			j++;
		else
			dir_close(wt, j);
	}
	return 0;
}

json_t *
watch_roots_json(const struct watch *wt)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; wt && i < wt->n_roots; i++)
		json_array_append_new(a, json_string(wt->roots[i].path));
	return a;
}

size_t
watch_root_count(const struct watch *wt)
{
	return wt ? wt->n_roots : 0;
}

size_t
watch_dir_count(const struct watch *wt)
{
	return wt ? wt->n_dirs : 0;
}
