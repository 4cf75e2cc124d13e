/* ctl-sys.c - systemd units, finding and spawning hotloadd, its log file */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

#include "buf.h"
#include "ctl-sys.h"
#include "pathsafe.h"
#include "proc.h"
#include "proto.h"

/* systemctl --user cat: quiet, and fails for a unit that is not there (or
 * when there is no systemd, or no user manager). */
int
ctlsys_user_unit_exists(const char *unit)
{
	char *argv[] = {"systemctl", "--user", "cat", (char *)unit, NULL};

	return proc_run(argv, PROC_QUIET, NULL) == 0;
}

/* MainPID of a user unit. */
long
ctlsys_user_unit_pid(const char *unit)
{
	char *argv[] = {"systemctl", "--user",  "show",       "-p",
	                "MainPID",   "--value", (char *)unit, NULL};
	struct buf out = BUF_INIT;
	long pid = 0;

	if (proc_run(argv, PROC_QUIET, &out) == 0 && out.data)
		pid = strtol(out.data, NULL, 10);
	buf_free(&out);
	return pid > 0 ? pid : 0;
}

/* Our own executable's directory into dir. */
static int
self_dir(const char *argv0, char *dir, size_t dirlen)
{
	char path[PATH_MAX];
	char *slash;
	ssize_t n = -1;

#ifdef __APPLE__
	uint32_t size = sizeof(path);

	if (_NSGetExecutablePath(path, &size) == 0)
		n = (ssize_t)strlen(path);
#else
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0)
		path[n] = '\0';
#endif
	if (n <= 0) {
		if (!argv0 || !strchr(argv0, '/') || strlen(argv0) >= sizeof(path))
			return -ENOENT;
		snprintf(path, sizeof(path), "%s", argv0);
	}
	slash = strrchr(path, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(dir, dirlen, "%s", path[0] ? path : "/") >= (int)dirlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Find hotloadd; see ctl-sys.h. The one next to us first: a build tree or
 * an install prefix keeps the pair together, whatever PATH says. */
int
ctlsys_find_daemon(const char *argv0, char *out, size_t outlen)
{
	char dir[PATH_MAX], *found = NULL;
	int r = -ENOENT;

	if (self_dir(argv0, dir, sizeof(dir)) == 0 &&
	    snprintf(out, outlen, "%s/hotloadd", dir) < (int)outlen &&
	    proc_find_exe(out, &found) == 0)
		r = 0;
	else if (proc_find_exe("hotloadd", &found) == 0)
		r = snprintf(out, outlen, "%s", found) < (int)outlen ? 0 : -ENAMETOOLONG;
	free(found);
	return r;
}

/* The log's path; see ctl-sys.h. */
int
ctlsys_log_path(char *path, size_t pathlen)
{
	char *sock = proto_default_socket(), *slash = strrchr(sock, '/');
	int r = 0;

	if (slash)
		*slash = '\0';
	if (!slash || strlen(sock) >= PATH_MAX ||
	    snprintf(path, pathlen, "%s/hotloadd.log", sock) >= (int)pathlen)
		r = -ENAMETOOLONG;
	free(sock);
	return r;
}

/* Open the log file; see ctl-sys.h. /tmp/hotload-UID could have been made
 * by someone else: it is used only when it is ours alone, as the daemon
 * will ask of it too. */
int
ctlsys_open_log(char *path, size_t pathlen, char *reterr, size_t reterrlen)
{
	char dir[PATH_MAX];
	int fd, r;

	if (ctlsys_log_path(path, pathlen) < 0) {
		snprintf(reterr, reterrlen, "the log path is too long");
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	r = pathsafe_make_runtime_dir(dir, geteuid(), reterr, reterrlen);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(reterr, reterrlen, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	return fd;
}

/* Spawn the daemon; see ctl-sys.h. One fork, not two: the child stays ours
 * until we exit, so that we can tell when it dies at once (a bad
 * configuration) and show why. setsid() gives it its own session: a Ctrl-C
 * or a closed terminal does not reach it. */
int
ctlsys_spawn_daemon(const char *path, const char *config, int logfd, pid_t *ret_pid)
{
	char *argv[4] = {(char *)path, NULL, NULL, NULL};
	pid_t pid;

	if (config) {
		argv[1] = "--config";
		argv[2] = (char *)config;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		proc_child_reset();
		setsid();
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(path, argv);
		dprintf(STDERR_FILENO, "hotloadctl: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

/* kill(pid, 0): EPERM still means it exists. A zombie does not count: a
 * daemon whose parent (an init that does not reap, in a container) never
 * waits for it has exited all the same. */
int
ctlsys_pid_alive(pid_t pid)
{
	char path[64], stat[256], *paren;
	ssize_t n;
	int fd;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, the state follows the
	 * last ')'. */
	paren = strrchr(stat, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}
