/* notify.c - telling the service manager how we are
 *
 * Under systemd (Type=notify): READY=1 once every listener is bound,
 * STATUS= kept current, RELOADING=1 around reloads, STOPPING=1 on the way
 * out, and WATCHDOG=1 from the event loop itself, so a stuck loop is what
 * gets the daemon restarted. Built without libsystemd, or not run by
 * systemd, every call here does nothing. */
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "buf.h"
#include "log.h"
#include "notify.h"

struct notifier {
	uv_timer_t watchdog;
	char *status;
};

static void
on_watchdog(uv_timer_t *t)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "WATCHDOG=1");
#endif
}

struct notifier *
notifier_new(uv_loop_t *loop)
{
	struct notifier *n = xcalloc(1, sizeof(*n));
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;
#endif

	uv_timer_init(loop, &n->watchdog);
	n->watchdog.data = n;
#ifdef HAVE_SYSTEMD
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		uint64_t ms = usec / 2000;

		log_info("watchdog: pinging systemd every %llu ms", (unsigned long long)ms);
		uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
	}
#endif
	return n;
}

static void
on_notifier_closed(uv_handle_t *h)
{
	struct notifier *n = h->data;

	free(n->status);
	free(n);
}

void
notifier_free(struct notifier *n)
{
	if (n)
		uv_close((uv_handle_t *)&n->watchdog, on_notifier_closed);
}

void
notify_ready(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
}

void
notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "RELOADING=1");
#endif
}

void
notify_stopping(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
}

void
notifier_status(struct notifier *n, const char *status)
{
	if (n->status && !strcmp(n->status, status))
		return;
	free(n->status);
	n->status = xstrdup(status);
#ifdef HAVE_SYSTEMD
	sd_notifyf(0, "STATUS=%s", status);
#endif
}

int
notify_listen_fds(int **ret_fds, char ***ret_names)
{
#ifdef HAVE_SYSTEMD
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), i;
	int *fds;
	char **out;

	if (n <= 0) {
		free(names);
		return n < 0 ? n : 0;
	}
	fds = xcalloc((size_t)n, sizeof(*fds));
	out = xcalloc((size_t)n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		fds[i] = SD_LISTEN_FDS_START + i;
		/* systemd calls an unnamed socket "unknown" */
		out[i] = xstrdup(names && names[i] && strcmp(names[i], "unknown") ? names[i] : "");
		if (names)
			free(names[i]);
	}
	free(names);
	*ret_fds = fds;
	*ret_names = out;
	return n;
#else
	return 0;
#endif
}
