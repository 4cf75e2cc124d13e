/* watch.h - which Python files under some directories changed */
#ifndef HOTLOAD_WATCH_H
#define HOTLOAD_WATCH_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

struct watch;

/* Some .py files changed (written, renamed over, created, deleted): their
 * absolute paths, each once, after a burst of saves has settled. */
typedef void (*watch_change_cb)(struct watch *wt, char *const *paths, size_t n, void *data);

struct watch *watch_new(uv_loop_t *loop, watch_change_cb cb, void *data);

/* Report the changes seen so far now, without waiting for the burst to
 * settle: a request is about to run, and must not run code saved before it
 * came as it was before the save. No system call. Accepts NULL. */
void watch_flush(struct watch *wt);

/* Close every watcher; freed once libuv is done with them. Accepts NULL. */
void watch_free(struct watch *wt);

/* Watch dir and every directory below it (but __pycache__ and version
 * control folders), and the ones made later. Adding a root twice counts
 * it twice. On failure -errno with a reason in err. */
int watch_add_root(struct watch *wt, const char *dir, char *err, size_t errlen);

/* Undo one watch_add_root of dir; -ENOENT when it is not a root. */
int watch_remove_root(struct watch *wt, const char *dir);

/* The roots (their real paths), as a new JSON array of strings. */
json_t *watch_roots_json(const struct watch *wt);

size_t watch_root_count(const struct watch *wt);

/* Directories watched in all. */
size_t watch_dir_count(const struct watch *wt);

#endif
