/* proc.c - other programs: finding one on PATH, running one and waiting
 *
 * The daemon looks up a hook's version_command on PATH and hotloadctl
 * looks up hotloadd; both walk PATH here. Running and waiting blocks, so
 * it is for clients: the daemon starts its processes through libuv. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* A regular file we may execute: a directory of that name is not it. */
static int
is_exe(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Walk PATH; see proc.h. An empty PATH entry is skipped rather than taken
 * for the working directory. */
int
proc_find_exe(const char *name, char **ret_path)
{
	const char *path = getenv("PATH"), *p, *colon;
	struct buf b = BUF_INIT;

	if (strchr(name, '/')) {
		if (!is_exe(name))
			return -ENOENT;
		*ret_path = xstrdup(name);
		return 0;
	}
	for (p = path ? path : DEFAULT_PATH; *p; p = *colon ? colon + 1 : colon) {
		colon = strchr(p, ':');
		if (!colon)
			colon = p + strlen(p);
		if (colon == p)
			continue;
		buf_clear(&b);
		buf_printf(&b, "%.*s/%s", (int)(colon - p), p, name);
		if (is_exe(b.data)) {
			*ret_path = buf_steal(&b);
			return 0;
		}
	}
	buf_free(&b);
	return -ENOENT;
}

/* Point fd at /dev/null. */
static void
child_devnull(int fd, int flags)
{
	int n = open("/dev/null", flags);

	if (n >= 0 && n != fd) {
		dup2(n, fd);
		close(n);
	}
}

/* Before exec; see proc.h. */
void
proc_child_reset(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	child_devnull(STDIN_FILENO, O_RDONLY);
}

/* Read all of fd into out. */
static void
read_all(int fd, struct buf *out)
{
	for (;;) {
		ssize_t n;

		buf_reserve(out, 4096);
		n = read(fd, out->data + out->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
}

/* Run a program and wait; see proc.h. */
int
proc_run(char *const argv[], unsigned flags, struct buf *ret_out)
{
	int pfd[2] = {-1, -1}, status, r;
	pid_t pid;

	if (ret_out && pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		proc_child_reset();
		if (ret_out) {
			dup2(pfd[1], STDOUT_FILENO);
			close(pfd[0]);
			close(pfd[1]);
		} else if (flags & PROC_QUIET)
			child_devnull(STDOUT_FILENO, O_WRONLY);
		if (flags & PROC_QUIET)
			child_devnull(STDERR_FILENO, O_WRONLY);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (ret_out) {
		close(pfd[1]);
		pfd[1] = -1;
		read_all(pfd[0], ret_out);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto fail;
		}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
fail:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return r;
}
