/* main.c - hotloadd: start-up, signals, shut-down */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "builtin_hooks.h"
#include "config.h"
#include "hook.h"
#include "log.h"
#include "notify.h"
#include "pathsafe.h"
#include "paths.h"
#include "proto.h"
#include "server.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 78 /* EX_CONFIG: systemd will not restart us in a loop on it */

struct daemon {
	uv_loop_t *loop;
	struct server *srv;
	uv_signal_t sigint;
	uv_signal_t sigterm;
	uv_signal_t sighup;
	struct notifier *notifier;
	uv_timer_t status_timer;
	uv_timer_t exit_timer;
	int stopping;
	int forced;
	const char *prefix;
	const char *config_path;
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: hotloadd [OPTIONS]\n"
	        "\n"
	        "Keep DCC Python interpreters warm and run the code clients send them.\n"
	        "Runs in the foreground; logs to stderr (the journal under systemd).\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE     read only FILE on top of the built-in defaults\n"
	        "                        (default: %s/hotloadd.yaml, then\n"
	        "                        ~/.config/hotload/hotloadd.yaml, when present);\n"
	        "                        the default hooks_dirs include\n"
	        "                        ~/.config/hotload/hooks.d: set hooks_dirs in FILE\n"
	        "                        to read no other hooks\n"
	        "      --check-config    load the configuration and hooks, report, exit\n"
	        "      --log-level LEVEL debug, info, warning or error (default: info)\n"
	        "  -h, --help            show this help\n"
	        "  -V, --version         show the version\n"
	        "\n"
	        "Try: hotloadctl exec python:3 -c 'print(1)'\n"
	        "Coming from the DCC Hotload Server (python -m dcc_hotload_server.main)?\n"
	        "Its servers become compat: ports; see MIGRATION in hotloadd(8).\n",
	        HOTLOAD_SYSCONFDIR);
}

/* The directory above the one holding this binary: bin/.. in the build
 * tree and under the install prefix alike. */
static char *
self_prefix(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;
	int i;

	if (n <= 0)
		return xstrdup("/usr");
	path[n] = '\0';
	for (i = 0; i < 2; i++) {
		slash = strrchr(path, '/');
		if (!slash)
			return xstrdup("/usr");
		*slash = '\0';
	}
	return xstrdup(path[0] ? path : "/");
}

static int
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* path decides what every worker runs: only we and root may change it. */
static int
check_trusted(const char *path, const char *what, struct buf *err)
{
	char msg[1024];
	int r = pathsafe_trusted(path, geteuid(), msg, sizeof(msg));

	if (r < 0)
		buf_printf(err, "%s; refusing to use %s %s", msg, what, path);
	return r;
}

/* Every entry of dir, and of the directories in it (symlinks followed)
 * down to depth more levels: what a worker may import from there, and the
 * byte code Python runs in place of a module's source (__pycache__),
 * which a planted .pyc would be. A symlink to nothing is refused: whoever
 * may create its target would choose what runs. An entry gone meanwhile
 * is no risk. */
static int
check_agent_tree(const char *dir, int depth, struct buf *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d) {
		r = -errno;
		buf_printf(err, "cannot read the agent's directory %s: %s", dir, strerror(-r));
		return r;
	}
	while (r >= 0 && (e = readdir(d))) {
		struct buf path = BUF_INIT;
		struct stat st;
		char msg[1024];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_printf(&path, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", e->d_name);
		if (lstat(path.data, &st) < 0) {
			buf_free(&path);
			continue;
		}
		r = pathsafe_trusted(path.data, geteuid(), msg, sizeof(msg));
		if (r == -ENOENT && S_ISLNK(st.st_mode)) {
			buf_printf(err,
			           "%s is a symlink to nothing; refusing to use the agent in %s",
			           path.data, dir);
			r = -EPERM;
		} else if (r == -ENOENT) {
			r = 0;
		} else if (r < 0) {
			buf_printf(err, "%s; refusing to use the agent in %s", msg, dir);
		} else if (depth > 0 && stat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) {
			r = check_agent_tree(path.data, depth - 1, err);
		}
		buf_free(&path);
	}
	closedir(d);
	return r;
}

/* The agent, and its directory: the first entry of every worker's
 * sys.path, where a planted csv.py would run on "import csv", and whose
 * modules and their byte code are the agent too. */
static int
check_agent(const char *agent, struct buf *err)
{
	/* Python puts the directory of the script's real path on sys.path */
	char *real = realpath(agent, NULL);
	char *dir = xstrdup(real ? real : agent), *slash = strrchr(dir, '/');
	int r;

	if (!slash)
		strcpy(dir, "."); /* a relative name: the directory it is found in */
	else if (slash == dir)
		strcpy(dir, "/");
	else
		*slash = '\0';
	r = check_trusted(agent, "the agent", err);
	if (r >= 0)
		r = check_trusted(dir, "the agent's directory", err);
	if (r >= 0)
		r = check_agent_tree(dir, 2, err);
	free(dir);
	free(real);
	return r;
}

/* Connections and workers' pipes are file descriptors, and running out
 * refuses clients unanswered: take up to 65536 (what the units give) of
 * what the hard limit allows. Workers inherit it, as under systemd. */
static void
raise_fd_limit(void)
{
	const rlim_t want = 65536;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_debug("cannot raise the open files limit: %s", strerror(errno));
	}
}

/* Defaults, then the system and user files (or only --config). On error
 * returns NULL with the reason in err. */
static struct config *
load_config(const char *prefix, const char *path, struct buf *err)
{
	struct buf shipped = BUF_INIT;
	struct config *cfg;
	char msg[1024];
	char *user;
	int r = 0;

	buf_printf(&shipped, "%s/%s", prefix, HOTLOAD_HOOKS_RELDIR);
	cfg = config_new_default(shipped.data);
	buf_free(&shipped);
	if (path) {
		r = config_load_file(cfg, path, msg, sizeof(msg));
	} else {
		if (file_exists(HOTLOAD_SYSCONFDIR "/hotloadd.yaml"))
			r = config_load_file(cfg, HOTLOAD_SYSCONFDIR "/hotloadd.yaml", msg,
			                     sizeof(msg));
		user = config_user_file("hotloadd.yaml");
		if (r >= 0 && user && file_exists(user))
			r = config_load_file(cfg, user, msg, sizeof(msg));
		free(user);
	}
	if (r < 0) {
		buf_puts(err, msg);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* The built-in python hook, then every hooks directory in order. */
static struct hookset *
load_hooks(const struct config *cfg, struct buf *err)
{
	struct hookset *hs = hookset_new();
	char msg[1024];
	size_t i;
	int r;

	r = hookset_load_string(hs, "<built-in python hook>", builtin_python_hook, msg,
	                        sizeof(msg));
	for (i = 0; r >= 0 && i < cfg->n_hooks_dirs; i++)
		r = hookset_load_dir(hs, cfg->hooks_dirs[i], msg, sizeof(msg));
	if (r < 0) {
		buf_puts(err, msg);
		hookset_free(hs);
		return NULL;
	}
	for (i = 0; i < hookset_warning_count(hs); i++)
		log_warn("%s", hookset_warning_at(hs, i));
	return hs;
}

/* Both, as at start-up: what a reload (SIGHUP, hotloadctl reload) reads. */
static int
load_all(struct config **ret_cfg, struct hookset **ret_hs, struct buf *err, void *data)
{
	struct daemon *d = data;
	struct config *cfg = load_config(d->prefix, d->config_path, err);
	struct hookset *hs;

	if (!cfg)
		return -EINVAL;
	hs = load_hooks(cfg, err);
	if (!hs) {
		config_free(cfg);
		return -EINVAL;
	}
	*ret_cfg = cfg;
	*ret_hs = hs;
	return 0;
}

static void
on_shutdown_done(void *data)
{
	struct daemon *d = data;

	log_info("all workers stopped, exiting");
	uv_close((uv_handle_t *)&d->status_timer, NULL);
	uv_close((uv_handle_t *)&d->exit_timer, NULL);
	notifier_free(d->notifier);
	d->notifier = NULL;
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void
daemon_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	notify_stopping();
	log_info("%s: stopping workers and exiting", why);
	server_shutdown(d->srv, on_shutdown_done, d);
}

static void
on_exit_timer(uv_timer_t *t)
{
	daemon_stop(t->data, "asked to exit");
}

/* hotloadctl stop without a target. The control request that asked is
 * answered first: the shutdown starts on the next turn of the loop. */
static void
on_exit_requested(void *data)
{
	struct daemon *d = data;

	uv_timer_start(&d->exit_timer, on_exit_timer, 0, 0);
}

/* Keep systemctl status's "Status:" line current. */
static void
on_status_timer(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct buf b = BUF_INIT;

	server_summary(d->srv, &b);
	notifier_status(d->notifier, b.data);
	buf_free(&b);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP) {
		struct buf err = BUF_INIT;

		log_info("SIGHUP: reloading the configuration");
		if (server_reload(d->srv, &err) < 0)
			log_err("reload failed, keeping the running configuration: %s", err.data);
		buf_free(&err);
		return;
	}
	if (d->stopping) {
		log_warn("%s again: exiting without waiting for workers", strsignal(signum));
		d->forced = 1;
		uv_stop(d->loop);
		return;
	}
	daemon_stop(d, strsignal(signum));
}

static void
print_hooks(const struct hookset *hs)
{
	size_t i;

	for (i = 0; i < hookset_count(hs); i++) {
		const struct hook *h = hookset_at(hs, i);

		printf("  %-10s %s\n", h->name, h->source ? h->source : "");
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 'C'},
	        {"log-level", required_argument, NULL, 'L'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	struct daemon d;
	const char *config_path = NULL, *level = NULL;
	char *prefix = NULL, *agent = NULL, *launcher = NULL;
	struct config *cfg = NULL;
	struct hookset *hs = NULL;
	struct buf err = BUF_INIT, hint = BUF_INIT;
	int check = 0, opt, r, lvl, ret = 1;

	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'L':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hotloadd %s\n", HOTLOAD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hotloadd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	prefix = self_prefix();
	memset(&d, 0, sizeof(d));
	d.prefix = prefix;
	d.config_path = config_path;
	if (load_all(&cfg, &hs, &err, &d) < 0) {
		fprintf(stderr, "hotloadd: %s\n", err.data);
		buf_free(&err);
		ret = EXIT_CONFIG;
		goto out;
	}
	lvl = log_level_from_string(level ? level : cfg->log_level ? cfg->log_level : "info");
	if (lvl < 0) {
		fprintf(stderr, "hotloadd: unknown log level '%s'\n",
		        level ? level : cfg->log_level);
		ret = EXIT_USAGE;
		goto out;
	}
	log_setup(lvl);

	if (cfg->agent)
		agent = xstrdup(cfg->agent);
	else {
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s/%s/hookd.py", prefix, HOTLOAD_AGENT_RELDIR);
		agent = buf_steal(&b);
	}
	if (!file_exists(agent)) {
		fprintf(stderr, "hotloadd: the agent %s is missing (set 'agent:' in the config)\n",
		        agent);
		ret = EXIT_CONFIG;
		goto out;
	}
	if (check_agent(agent, &err) < 0) {
		fprintf(stderr, "hotloadd: %s\n", err.data);
		buf_free(&err);
		ret = EXIT_CONFIG;
		goto out;
	}
	{
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s/%s/hotload-launch", prefix, HOTLOAD_LIBEXEC_RELDIR);
		launcher = buf_steal(&b);
		if (access(launcher, X_OK) == 0 &&
		    check_trusted(launcher, "the launcher", &err) < 0) {
			fprintf(stderr, "hotloadd: %s\n", err.data);
			buf_free(&err);
			ret = EXIT_CONFIG;
			goto out;
		}
		if (access(launcher, X_OK) < 0) {
			fprintf(stderr,
			        "hotloadd: warning: %s is missing: workers will not be killed "
			        "if hotloadd itself is killed\n",
			        launcher);
			free(launcher);
			launcher = NULL;
		}
	}
	if (check) {
		printf("configuration OK; agent %s; hooks:\n", agent);
		print_hooks(hs);
		ret = 0;
		goto out;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	d.loop = uv_default_loop();
	d.srv = server_new(d.loop, cfg, hs, agent, launcher);
	server_set_loader(d.srv, load_all, &d);
	server_set_exit(d.srv, on_exit_requested, &d);
	config_client_hint(cfg, &hint);
	cfg = NULL; /* owned by the server now */
	hs = NULL;
	r = server_start(d.srv);
	if (r < 0) {
		server_free(d.srv);
		uv_run(d.loop, UV_RUN_NOWAIT);
		ret = 1;
		goto out;
	}
	uv_signal_init(d.loop, &d.sigint);
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sighup);
	d.sigint.data = d.sigterm.data = d.sighup.data = &d;
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sighup, on_signal, SIGHUP);
	d.notifier = notifier_new(d.loop);
	uv_timer_init(d.loop, &d.status_timer);
	d.status_timer.data = &d;
	uv_timer_init(d.loop, &d.exit_timer);
	d.exit_timer.data = &d;
	if (getenv("NOTIFY_SOCKET"))
		uv_timer_start(&d.status_timer, on_status_timer, 0, 1000);
	notify_ready();
	log_info("hotloadd %s ready (pid %d); try: %s", HOTLOAD_VERSION, (int)getpid(), hint.data);
	buf_free(&hint);

	uv_run(d.loop, UV_RUN_DEFAULT);
	ret = 0;
	if (d.forced) {
		/* forced exit: workers see EOF on their control socket and go */
		ret = 1;
	} else {
		server_free(d.srv);
		uv_run(d.loop, UV_RUN_DEFAULT); /* the last close callbacks */
		/* Everything was closed, or something leaks: say so, and fail
		 * the exit, so that tests see it. */
		if ((r = uv_loop_close(d.loop)) < 0) {
			log_err("handles still open at exit: %s", uv_strerror(r));
			ret = 1;
		}
	}
out:
	buf_free(&hint);
	config_free(cfg);
	hookset_free(hs);
	free(agent);
	free(launcher);
	free(prefix);
	return ret;
}
