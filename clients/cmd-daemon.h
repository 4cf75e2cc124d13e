/* cmd-daemon.h - start, stop and restart hotloadd itself */
#ifndef HOTLOAD_CMD_DAEMON_H
#define HOTLOAD_CMD_DAEMON_H

struct ctl_opts;

/* Start hotloadd unless one answers already: through systemd when a user
 * unit hotloadd.service is installed (and we are not root, and
 * HOTLOAD_CONFIG is unset), else by spawning it in the background; then
 * wait until it answers. Returns an exit status. */
int ctldaemon_start(const struct ctl_opts *o);

/* Ask hotloadd to shut down (systemctl --user stop when its user unit runs
 * it) and wait until it has exited. 0 when it was not running. */
int ctldaemon_stop(const struct ctl_opts *o);

/* Stop, then start. */
int ctldaemon_restart(const struct ctl_opts *o);

#endif
