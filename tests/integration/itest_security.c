/* itest_security.c - only the daemon's own user (and root) may run code:
 * over the Unix socket, TCP and compat ports alike */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define OTHER_UID 65534 /* nobody */

/* In a child running as another user: connect (to port, or to the Unix
 * socket path when port is 0), send data, half-close, and write what came
 * back (or "connect: <error>") to the pipe. Returns what the child saw. */
static char *
as_other_user(const char *path, int port, const char *data)
{
	int p[2];
	pid_t pid;
	size_t len;
	char *out;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[4096];
		ssize_t n;
		int fd;

		close(p[0]);
		if (setgid(OTHER_UID) < 0 || setuid(OTHER_UID) < 0)
			_exit(2);
		if (port) {
			struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				goto fail;
		} else {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};

			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				goto fail;
		}
		if (write(fd, data, strlen(data)) < 0)
			goto fail;
		shutdown(fd, SHUT_WR);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(p[1], buf, (size_t)n) < 0)
				_exit(3);
		_exit(0);
	fail:
		snprintf(buf, sizeof(buf), "connect: %s", strerror(errno));
		if (write(p[1], buf, strlen(buf)) < 0)
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	out = calloc(1, 65536);
	len = 0;
	for (;;) {
		ssize_t n;

		ck_assert_int_eq(itest_wait_readable(p[0], ITEST_TIMEOUT_MS), 1);
		n = read(p[0], out + len, 65535 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	waitpid(pid, NULL, 0);
	return out;
}

/* The socket is 0600 in a 0700 directory: another user cannot even reach
 * it, and the daemon's user can. */
START_TEST(unix_socket_is_private)
{
	struct itest_opts o = {0};
	struct itest_daemon *d = itest_start(&o);
	struct stat st;
	char *out;

	ck_assert_int_eq(stat(d->sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	out = as_other_user(d->sock, 0, "python:3\nprint('in')\n");
	itest_assert_contains(out, "connect: Permission denied");
	free(out);
	out = itest_raw(d, ITEST_UNIX, "python:3", "print('in')\n");
	ck_assert_str_eq(out, "OUTPUT: \nin\n");
	free(out);
	itest_stop(d);
}
END_TEST

/* TCP on loopback: another user's connection is refused, with a reason,
 * before anything runs; the daemon's own user is served. */
START_TEST(tcp_refuses_other_users)
{
	struct itest_opts o = {.tcp = 1, .compat = "python:3"};
	struct itest_daemon *d = itest_start(&o);
	char *marker = itest_strf("%s/ran", d->dir);
	char *code = itest_strf("open('%s', 'w').write('x')\nprint('ran')\n", marker);
	char *hdr = itest_strf("python:3\n%s", code);
	char *out;

	out = as_other_user(NULL, d->tcp_port, hdr);
	ck_assert_str_eq(out, "ERRORS: \nPermissionDenied: only the user running hotloadd (and "
	                      "root) may connect\n");
	free(out);
	out = as_other_user(NULL, d->compat_port, code);
	itest_assert_contains(out, "PermissionDenied");
	free(out);
	ck_assert_int_ne(access(marker, F_OK), 0);

	out = itest_raw(d, ITEST_TCP, "python:3", code);
	ck_assert_str_eq(out, "OUTPUT: \nran\n");
	free(out);
	ck_assert_int_eq(access(marker, F_OK), 0);
	free(marker);
	free(code);
	free(hdr);
	itest_stop(d);
}
END_TEST

/* hotloadd --check-config of config: it ends with status, and its stderr
 * holds want unless want is NULL. */
static void
check_agent(const char *config, int status, const char *want)
{
	char *bin = itest_bin("hotloadd");
	const char *argv[] = {bin, "--config", config, "--check-config", NULL};
	struct itest_proc p;

	itest_run(argv, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == status, "status %d: %s", p.status, p.err);
	if (want)
		itest_assert_contains(p.err, want);
	itest_proc_free(&p);
	free(bin);
}

/* What a worker runs of the agent is every module of its directory and
 * their byte code, not hookd.py alone: a module, __pycache__, a .pyc or a
 * package (a symlink to one too) that others can write is refused like
 * hookd.py is, and so is a symlink to nothing. */
START_TEST(agent_tree_is_checked)
{
	char *bin = itest_bin("hotloadd"), dir[] = "/tmp/hl-agent-XXXXXX", *src, *hookd, *config;
	char *mod, *cache, *pyc, *pkg, *pkgmod, *yaml, *outside, *outmod, *missing, *link;
	char *agent, *linkdir, *linked, *yaml2;
	const char *cp[5] = {"/bin/cp", "-r", NULL, NULL, NULL};
	struct itest_proc p;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* BINARY_DIR/bin/hotloadd: the built agent is BINARY_DIR/lib/hotload/hookd */
	*strrchr(bin, '/') = '\0';
	*strrchr(bin, '/') = '\0';
	src = itest_strf("%s/lib/hotload/hookd", bin);
	cp[2] = src;
	cp[3] = dir;
	itest_run(cp, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 0);
	itest_proc_free(&p);
	hookd = itest_strf("%s/hookd", dir);
	config = itest_strf("%s/hotloadd.yaml", dir);
	mod = itest_strf("%s/hotload_agent.py", hookd);
	cache = itest_strf("%s/__pycache__", hookd);
	pyc = itest_strf("%s/__pycache__/planted.cpython-3.pyc", hookd);
	pkg = itest_strf("%s/pkg", hookd);
	pkgmod = itest_strf("%s/pkg/mod.py", hookd);
	outside = itest_strf("%s/outside", dir);
	outmod = itest_strf("%s/outside/mod.py", dir);
	missing = itest_strf("%s/missing.py", dir);
	link = itest_strf("%s/csv.py", hookd);
	agent = itest_strf("%s/hookd.py", hookd);
	linkdir = itest_strf("%s/elsewhere", dir);
	linked = itest_strf("%s/elsewhere/hookd.py", dir);
	yaml2 = itest_strf("agent: %s\n", linked);
	yaml = itest_strf("agent: %s/hookd.py\n", hookd);
	itest_write_file(config, yaml, strlen(yaml));
	mkdir(cache, 0755);
	itest_write_file(pyc, "", 0);
	ck_assert_int_eq(mkdir(pkg, 0755), 0);
	itest_write_file(pkgmod, "", 0);
	ck_assert_int_eq(chmod(pyc, 0644), 0);
	ck_assert_int_eq(chmod(pkgmod, 0644), 0);
	check_agent(config, 0, NULL);

	ck_assert_int_eq(chmod(mod, 0666), 0);
	check_agent(config, 78, "hotload_agent.py is writable by everyone (mode 0666");
	ck_assert_int_eq(chmod(mod, 0644), 0);
	ck_assert_int_eq(chmod(cache, 0777), 0);
	check_agent(config, 78, "__pycache__ is writable by everyone (mode 0777");
	ck_assert_int_eq(chmod(cache, 0755), 0);
	ck_assert_int_eq(chmod(pyc, 0664), 0);
	check_agent(config, 78, "planted.cpython-3.pyc is writable by its group (mode 0664");
	ck_assert_int_eq(chmod(pyc, 0644), 0);
	ck_assert_int_eq(chmod(pkgmod, 0646), 0);
	check_agent(config, 78, "pkg/mod.py is writable by everyone (mode 0646");
	/* a package that is a symlink is looked into too */
	ck_assert_int_eq(rename(pkg, outside), 0);
	ck_assert_int_eq(symlink(outside, pkg), 0);
	check_agent(config, 78, "/mod.py is writable by everyone (mode 0646");
	ck_assert_int_eq(chmod(outmod, 0644), 0);
	check_agent(config, 0, NULL);
	/* a symlink to nothing: whoever creates its target chooses */
	ck_assert_int_eq(symlink(missing, link), 0);
	check_agent(config, 78, "csv.py is a symlink to nothing");
	ck_assert_int_eq(unlink(link), 0);
	check_agent(config, 0, NULL);
	/* named through a symlink: Python puts the real directory on sys.path */
	ck_assert_int_eq(mkdir(linkdir, 0755), 0);
	ck_assert_int_eq(symlink(agent, linked), 0);
	itest_write_file(config, yaml2, strlen(yaml2));
	check_agent(config, 0, NULL);
	ck_assert_int_eq(chmod(mod, 0666), 0);
	check_agent(config, 78, "hotload_agent.py is writable by everyone (mode 0666");
	ck_assert_int_eq(chmod(mod, 0644), 0);

	itest_remove_tree(dir);
	free(bin);
	free(src);
	free(hookd);
	free(config);
	free(mod);
	free(cache);
	free(pyc);
	free(pkg);
	free(pkgmod);
	free(yaml);
	free(outside);
	free(outmod);
	free(missing);
	free(link);
	free(agent);
	free(linkdir);
	free(linked);
	free(yaml2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("security");
	TCase *tc = tcase_create("security");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, agent_tree_is_checked);
	if (getuid() == 0) {
		tcase_add_test(tc, unix_socket_is_private);
		tcase_add_test(tc, tcp_refuses_other_users);
	} else
		fprintf(stderr, "itest_security: needs root to act as another user\n");
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
