/* notify.h - telling the service manager how we are (systemd; no-ops elsewhere) */
#ifndef HOTLOAD_NOTIFY_H
#define HOTLOAD_NOTIFY_H

#include <uv.h>

struct notifier;

/* Start watchdog pings at half of WATCHDOG_USEC when the manager asks for
 * them; NULL is never returned. */
struct notifier *notifier_new(uv_loop_t *loop);
void notifier_free(struct notifier *n);

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* STATUS=…, sent only when it changed. */
void notifier_status(struct notifier *n, const char *status);

/* Sockets passed by socket activation: count, and for each its fd and
 * name ("unix", "tcp", "compat-5000", or "" when unnamed). The names are
 * owned by the caller (free each, then the array). */
int notify_listen_fds(int **ret_fds, char ***ret_names);

#endif
