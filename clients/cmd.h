/* cmd.h - hotloadctl's commands, as hotloadctl.c calls them with the
 * command line taken apart: one cmd-*.c per command or family */
#ifndef HOTLOAD_CMD_H
#define HOTLOAD_CMD_H

struct ctl_opts;

/* hotloadctl's options; which command takes which is in hotloadctl.c. */
enum cmd_opt {
	OPT_SOCKET,
	OPT_TCP,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
	OPT_CODE,
	OPT_FILE,
	OPT_FRESH,
	OPT_ISOLATED,
	OPT_PURGE,
	OPT_WATCH,
	OPT_JSON,
	OPT_NO_WAIT,
	OPT_TIMEOUT,
	OPT_LINES,
	OPT_TOKEN_FILE,
	OPT_SESSION,
	OPT_USER,
	OPT_PREFIX,
	OPT_NAME,
	OPT_DISPLAY_NAME,
	OPT_REPLACE,
	OPT_TARGETS,
	OPT_MAX_TIMEOUT,
	OPT_MAX_OUTPUT,
	OPT_COUNT
};

/* The command line, taken apart. The options every command shares are
 * in struct ctl_opts too, checked; these are what only one command reads. */
struct cmd_args {
	const char *value[OPT_COUNT];   /* argument, or "" for a flag; NULL when absent */
	const char *spelled[OPT_COUNT]; /* the argv word that gave it, for messages */
	const char **pos;               /* positional words, the command first */
	int npos;
};

/* Each checks its arguments (a usage error is said with ctl_usage), does
 * what the command does, and returns hotloadctl's exit status. */
int cmd_exec(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-exec.c */
int cmd_eval(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-eval.c */
int cmd_ping(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-ping.c */
int cmd_status(const struct ctl_opts *o, const struct cmd_args *a);    /* cmd-status.c */
int cmd_start(const struct ctl_opts *o, const struct cmd_args *a);     /* cmd-start.c */
int cmd_stop(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-start.c */
int cmd_restart(const struct ctl_opts *o, const struct cmd_args *a);   /* cmd-start.c */
int cmd_interrupt(const struct ctl_opts *o, const struct cmd_args *a); /* cmd-interrupt.c */
int cmd_reload(const struct ctl_opts *o, const struct cmd_args *a);    /* cmd-reload.c */
int cmd_reload_modules(const struct ctl_opts *o,
                       const struct cmd_args *a);                       /* cmd-reload-modules.c */
int cmd_recycle(const struct ctl_opts *o, const struct cmd_args *a);    /* cmd-recycle.c */
int cmd_watch(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-watch.c */
int cmd_unwatch(const struct ctl_opts *o, const struct cmd_args *a);    /* cmd-watch.c */
int cmd_list(const struct ctl_opts *o, const struct cmd_args *a);       /* cmd-list.c */
int cmd_logs(const struct ctl_opts *o, const struct cmd_args *a);       /* cmd-logs.c */
int cmd_debug(const struct ctl_opts *o, const struct cmd_args *a);      /* cmd-debug.c */
int cmd_mcp(const struct ctl_opts *o, const struct cmd_args *a);        /* cmd-mcp.c */
int cmd_kernelspec(const struct ctl_opts *o, const struct cmd_args *a); /* cmd-kernelspec.c */

/* start, stop and restart without targets: hotloadd itself (cmd-daemon.c).
 * Start unless one answers already: through systemd when a user unit
 * hotloadd.service is installed (and we are not root, and HOTLOAD_CONFIG
 * is unset), else by spawning it in the background; then wait until it
 * answers. Stop: ask it to shut down (systemctl --user stop when its user
 * unit runs it) and wait until it has exited; 0 when it was not running.
 * Restart: stop, then start. */
int cmd_daemon_start(const struct ctl_opts *o);
int cmd_daemon_stop(const struct ctl_opts *o);
int cmd_daemon_restart(const struct ctl_opts *o);

#endif
