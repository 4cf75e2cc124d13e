/* config.h - hotloadd.yaml: listeners, hook directories, compat ports, limits */
#ifndef HOTLOAD_CONFIG_H
#define HOTLOAD_CONFIG_H

#include <stddef.h>

struct buf;

/* A headerless TCP port for the original project's clients. */
struct compat_port {
	char *host;                 /* default "127.0.0.1" */
	int port;                   /* 1..65535 */
	char *target;               /* "dcc[:version]" */
	double quiet;               /* seconds of silence that end a payload; default 0.25 */
	int keep_on_shutdown_token; /* "shutdown: ignore": __SHUTDOWN__ does not stop the worker */
};

struct config {
	char *unix_path; /* NULL when disabled ("" in the file) */
	char *tcp_host;  /* NULL when disabled */
	int tcp_port;
	char **hooks_dirs; /* in override order: later entries override earlier */
	size_t n_hooks_dirs;
	struct compat_port *compat;
	size_t n_compat;
	size_t max_payload;         /* bytes, default 64 MiB; "limits: max_payload:" */
	size_t max_connections;     /* default 256; "limits: max_connections:" */
	size_t max_buffered;        /* request bytes held for all clients; default 256 MiB */
	double refusals_per_second; /* answered refusals per uid; default 20 */
	int token_required;         /* "listen: token: required": TCP needs the token */
	char *agent;                /* path of hookd.py; NULL = next to the binary */
	char *log_level;            /* "debug", "info", "warning", "error"; default "info" */
	struct supervision {
		double stop_grace;      /* "stop" to SIGTERM; default 10 s */
		double interrupt_grace; /* a timeout's SIGINT to SIGTERM; default 3 s */
		double kill_grace;      /* SIGTERM to SIGKILL; default 5 s */
		double backoff_initial; /* first restart delay; default 1 s, doubling */
		double backoff_max;     /* default 60 s */
		unsigned crash_budget;  /* failures in crash_window that mean failed; 5 */
		double crash_window;    /* default 600 s */
	} supervision;
};

/* The built-in defaults: unix socket $XDG_RUNTIME_DIR/hotload/hotloadd.sock
 * (or /run/hotload/hotloadd.sock for root, /tmp/hotload-UID/hotloadd.sock
 * otherwise, when XDG_RUNTIME_DIR is unset), tcp 127.0.0.1:7720, hooks_dirs
 * [shipped_hooks_dir, /etc/hotload/hooks.d, ~/.config/hotload/hooks.d], no
 * compat ports. shipped_hooks_dir may be NULL. */
struct config *config_new_default(const char *shipped_hooks_dir);

/* Read one YAML file on top of c: keys present replace the values in c.
 * On error returns -errno (-EINVAL for bad content) and puts one line
 * "FILE:LINE:COLUMN: what was expected" in err; c is left unchanged. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

void config_free(struct config *c);

/* The hotloadctl command line that reaches a daemon of this configuration
 * (--socket when the socket is not the one hotloadctl finds by itself),
 * for the "try:" hint at start-up. */
void config_client_hint(const struct config *c, struct buf *out);

/* The runtime directory: the Unix socket's (the default one's when the
 * socket is off), where the token lives too. A new string. */
char *config_runtime_dir(const struct config *c);

/* $XDG_CONFIG_HOME/hotload/NAME, else ~/.config/hotload/NAME; a new string. */
char *config_user_file(const char *name);

/* Expand a leading "~/" against $HOME; returns a new string. */
char *config_expand_home(const char *path);

#endif
