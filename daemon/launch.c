/* launch.c - hotload-launch: the leader of one worker's process group
 *
 * hotloadd starts every worker through this program, in a new session:
 *
 *	hotload-launch DAEMON_PID COMMAND [ARG…]
 *
 * It forks COMMAND (the DCC interpreter), waits for it and exits as it did,
 * so hotloadd sees the interpreter's own exit status or signal. What it adds
 * is what a killed daemon cannot do for itself: when hotloadd dies, even by
 * SIGKILL, the kernel sends this process SIGHUP (PR_SET_PDEATHSIG), and it
 * kills its whole process group — the interpreter and every child the DCC
 * left in the group — so no orphaned DCC holds a licence. The interpreter
 * gets PR_SET_PDEATHSIG SIGKILL too, in case this leader is killed alone.
 *
 * It is also the child subreaper of everything below it: a process the DCC
 * started that left the group (setsid, a double fork) comes back to it when
 * its parent dies, and is killed when the interpreter ends or the daemon
 * goes. hotloadd, itself a subreaper, catches what is left if this leader
 * is killed outright.
 *
 * The group has no terminal, so SIGHUP can only mean the daemon is gone.
 * SIGINT and SIGTERM sent to the group are meant for the interpreter: the
 * leader ignores them and waits for it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Kill every child we have (adopted orphans included) and reap them, until
 * none is left; a dying child can leave orphans that come to us next. */
static void
kill_children(void)
{
	int round;

	for (round = 0; round < 100; round++) {
		char path[64];
		FILE *f;
		long pid;
		int any = 0;

		snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
		f = fopen(path, "re");
		if (!f)
			return;
		while (fscanf(f, "%ld", &pid) == 1) {
			kill((pid_t)pid, SIGKILL);
			any = 1;
		}
		fclose(f);
		if (!any)
			return;
		/* Their orphans come to us as they die: the next round. */
		usleep(5000);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

static void
die_with_group(void)
{
	kill_children();
	kill(0, SIGKILL);
	_exit(137);
}

/* Exit the way the child did: same status, or the same signal. */
static void
exit_like(int status)
{
	sigset_t one;
	int sig;

	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	/* no core of our own for a child's SIGSEGV */
	prctl(PR_SET_DUMPABLE, 0);
	kill(getpid(), sig);
	_exit(128 + sig);
}

int
main(int argc, char **argv)
{
	sigset_t all, old;
	pid_t daemon, child, self;
	int pipefd[2], err = 0, status;
	char *end;

	if (argc < 3) {
		fprintf(stderr, "usage: hotload-launch DAEMON_PID COMMAND [ARG...]\n"
		                "(started by hotloadd; not meant to be run by hand)\n");
		return 2;
	}
	daemon = (pid_t)strtol(argv[1], &end, 10);
	if (*end || daemon <= 0) {
		fprintf(stderr, "hotload-launch: bad daemon pid '%s'\n", argv[1]);
		return 2;
	}

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (prctl(PR_SET_PDEATHSIG, SIGHUP) < 0 || getppid() != daemon)
		die_with_group(); /* the daemon died before we could watch it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "hotload-launch: pipe: %s\n", strerror(errno));
		return 127;
	}
	self = getpid();
	child = fork();
	if (child < 0) {
		fprintf(stderr, "hotload-launch: fork: %s\n", strerror(errno));
		return 127;
	}
	if (child == 0) {
		close(pipefd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(137); /* the leader is already gone */
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[2], argv + 2);
		err = errno;
		if (write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
		fprintf(stderr, "hotload-launch: cannot run %s: %s\n", argv[2], strerror(err));
		waitpid(child, NULL, 0);
		return 127;
	}
	close(pipefd[0]);

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);
		pid_t pid;

		if (sig == SIGHUP && getppid() != daemon)
			die_with_group();
		if (sig != SIGCHLD)
			continue;
		/* The interpreter, or orphans of it that came to us. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			/* The DCC is gone: so is whatever it left with us. */
			kill_children();
			exit_like(status);
		}
	}
}
