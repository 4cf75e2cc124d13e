/* proc.c - run a program (hotloadctl, fixture scripts) and capture its output */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

struct sink {
	int fd;
	char *data;
	size_t len;
};

static void
sink_read(struct sink *s)
{
	char tmp[65536];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	s->data = realloc(s->data, s->len + (size_t)n + 1);
	ck_assert_ptr_nonnull(s->data);
	memcpy(s->data + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->data[s->len] = '\0';
}

void
itest_run(const char *const *argv, const char *stdin_data, const char *const *env, int deadline_ms,
          struct itest_proc *ret)
{
	int dl = deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS;
	long long end = itest_now_ms() + dl;
	int in[2], out[2], err[2], status, i;
	struct sink s[2];
	size_t in_off = 0, in_len = stdin_data ? strlen(stdin_data) : 0;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN); /* a child that exits before reading stdin */
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (!stdin_data) {
		close(in[1]);
		in[1] = -1;
	}
	s[0] = (struct sink){out[0], strdup(""), 0};
	s[1] = (struct sink){err[0], strdup(""), 0};
	while (s[0].fd >= 0 || s[1].fd >= 0) {
		struct pollfd p[3] = {
		        {s[0].fd, POLLIN, 0}, {s[1].fd, POLLIN, 0}, {in[1], POLLOUT, 0}};
		long long left = end - itest_now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			ck_abort_msg("%s did not finish within %d ms; stdout \"%s\", stderr \"%s\"",
			             argv[0], dl, s[0].data, s[1].data);
		}
		if (poll(p, 3, (int)left) < 0 && errno != EINTR)
			ck_abort_msg("poll: %s", strerror(errno));
		for (i = 0; i < 2; i++)
			if (s[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				sink_read(&s[i]);
		if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in[1], stdin_data + in_off, in_len - in_off);

			if (n > 0)
				in_off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (itest_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			ck_abort_msg("%s closed its output but did not exit within %d ms", argv[0],
			             dl);
		}
		itest_sleep_ms(5);
	}
	ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ret->out = s[0].data;
	ret->err = s[1].data;
}

void
itest_proc_free(struct itest_proc *p)
{
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
}
