/* test_access.c - peers over Unix and TCP, the token, refusals */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "peer.h"

#define NOBODY 65534

static char tmpdir[] = "/tmp/hotload-test-access-XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/hotload-test-access-XXXXXX");
}

/* A TCP listener on 127.0.0.1, any port; its port in *ret_port. */
static int
tcp_listener(int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

START_TEST(test_unix_peer)
{
	struct access *a = access_new(0, 20);
	struct peer p;
	const char *why = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(peer_identify(sv[0], 1, &p), 0);
	ck_assert_int_eq(p.known, 1);
	ck_assert_uint_eq(p.uid, getuid());
	ck_assert_int_eq(p.pid, getpid());
	ck_assert_int_eq(access_check(a, sv[0], 0, &p, &why), ACCESS_ALLOW);
	/* shutting down the writing end is not leaving; closing is */
	ck_assert_int_eq(peer_closed(sv[0], 1), 0);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(peer_closed(sv[0], 1), 0);
	close(sv[1]);
	ck_assert_int_eq(peer_closed(sv[0], 1), 1);
	close(sv[0]);
	access_free(a);
}
END_TEST

/* The owner of a live TCP client socket is its creator; one that closed
 * before it was accepted (an orphan the kernel lists as uid 0) has none,
 * and is refused rather than taken for root. */
START_TEST(test_tcp_peer)
{
	struct access *a = access_new(0, 20);
	struct peer p;
	const char *why = NULL;
	int port, l = tcp_listener(&port), c, s, i;

	c = tcp_connect(port);
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(peer_identify(s, 0, &p), 0);
	ck_assert_uint_eq(p.uid, getuid());
	ck_assert_int_eq(access_check(a, s, 1, &p, &why), ACCESS_ALLOW);
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(peer_closed(s, 0), 0);
	close(c);
	ck_assert_int_eq(peer_closed(s, 0), 1);
	close(s);

	for (i = 0; i < 50; i++) {
		c = tcp_connect(port);
		ck_assert_int_eq(write(c, "python:3\nprint(1)\n", 18), 18);
		close(c);
		s = accept(l, NULL, NULL);
		ck_assert_int_eq(peer_identify(s, 0, &p), -ENOENT);
		ck_assert_int_eq(access_check(a, s, 1, &p, &why), ACCESS_REFUSE);
		ck_assert_ptr_nonnull(strstr(why, "already closed"));
		close(s);
	}
	close(l);
	access_free(a);
}
END_TEST

/* IPv6, and an IPv4 client of a dual-stack listener (its address is
 * IPv4-mapped on our side, plain IPv4 on its own). */
START_TEST(tcp6_peer)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET6, SOCK_STREAM, 0), off = 0, c, s, port;
	struct peer p;

	ck_assert_int_eq(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin6_port);

	c = tcp_connect(port); /* IPv4 */
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(peer_identify(s, 0, &p), 0);
	ck_assert_uint_eq(p.uid, getuid());
	close(c);
	ck_assert_int_eq(peer_closed(s, 0), 1);
	close(s);

	c = socket(AF_INET6, SOCK_STREAM, 0);
	sa.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(peer_identify(s, 0, &p), 0);
	ck_assert_uint_eq(p.uid, getuid());
	ck_assert_int_eq(write(c, "x", 1), 1);
	close(c);
	ck_assert_int_eq(peer_closed(s, 0), 1);
	ck_assert_int_eq(peer_identify(s, 0, &p), -ENOENT);
	close(s);
	close(l);

	/* an IPv6 socket talking to an IPv4 listener through ::ffff:127.0.0.1 */
	l = tcp_listener(&port);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sa.sin6_addr), 1);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(peer_identify(s, 0, &p), 0);
	ck_assert_uint_eq(p.uid, getuid());
	close(c);
	ck_assert_int_eq(peer_closed(s, 0), 1);
	close(s);
	close(l);
}
END_TEST

/* Another user's socket (root stands one in with setuid). */
START_TEST(test_tcp_other_user)
{
	struct access *a = access_new(0, 20);
	struct peer p;
	const char *why = NULL;
	int port, l, s, status, go[2];
	pid_t pid;

	if (geteuid() != 0)
		return;
	l = tcp_listener(&port);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		char x;
		int c;

		if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		c = tcp_connect(port);
		/* stay until the parent has looked */
		if (read(go[0], &x, 1) < 0)
			_exit(3);
		close(c);
		_exit(0);
	}
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(peer_identify(s, 0, &p), 0);
	ck_assert_uint_eq(p.uid, NOBODY);
	ck_assert_int_eq(access_check(a, s, 1, &p, &why), ACCESS_REFUSE);
	ck_assert_ptr_nonnull(strstr(why, "only the user running hotloadd"));
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	close(s);
	close(l);
	access_free(a);
}
END_TEST

START_TEST(test_token)
{
	struct access *a = access_new(1, 20), *b;
	char path[256], err[512] = "", text[80] = "";
	struct stat st;
	FILE *f;
	int port, l, c, s;
	struct peer p;
	const char *why = NULL;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	ck_assert_int_eq(access_load_token(a, path, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
	fclose(f);
	ck_assert_uint_eq(strlen(text), ACCESS_TOKEN_LEN + 1);
	text[ACCESS_TOKEN_LEN] = '\0';
	ck_assert_int_eq(access_token_ok(a, text), 1);
	ck_assert_int_eq(access_token_ok(a, ""), 0);
	text[5] ^= 1;
	ck_assert_int_eq(access_token_ok(a, text), 0);
	text[5] ^= 1;
	text[ACCESS_TOKEN_LEN - 1] = '\0';
	ck_assert_int_eq(access_token_ok(a, text), 0);

	/* kept across restarts */
	b = access_new(0, 20);
	ck_assert_int_eq(access_load_token(b, path, err, sizeof(err)), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
	fclose(f);
	text[ACCESS_TOKEN_LEN] = '\0';
	ck_assert_int_eq(access_token_ok(b, text), 1);
	access_free(b);

	/* readable by others: refused, not used */
	ck_assert_int_eq(chmod(path, 0644), 0);
	b = access_new(0, 20);
	ck_assert_int_eq(access_load_token(b, path, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "mode 0600"));
	ck_assert_int_eq(access_token_ok(b, text), 0);
	access_free(b);

	/* token: required: TCP clients need it whoever they are */
	l = tcp_listener(&port);
	c = tcp_connect(port);
	s = accept(l, NULL, NULL);
	ck_assert_int_eq(access_check(a, s, 1, &p, &why), ACCESS_NEED_TOKEN);
	close(c);
	close(s);
	close(l);
	access_free(a);
}
END_TEST

/* Refusals of one uid are answered at the configured rate, then closed. */
START_TEST(test_refusal_rate)
{
	struct access *a = access_new(0, 5);
	struct peer other = {1, 4242, 0, 0}, third = {1, 4343, 0, 0};
	uint64_t t = 1000000000ull;
	int i, answered = 0;

	for (i = 0; i < 100; i++)
		answered += access_refused(a, &other, "tcp:127.0.0.1:7720", "test", t);
	ck_assert_int_eq(answered, 5);
	/* another uid has its own allowance */
	ck_assert_int_eq(access_refused(a, &third, "tcp:127.0.0.1:7720", "test", t), 1);
	/* a second later, five more */
	answered = 0;
	for (i = 0; i < 100; i++)
		answered +=
		        access_refused(a, &other, "tcp:127.0.0.1:7720", "test", t + 1000000000ull);
	ck_assert_int_eq(answered, 5);
	access_free(a);
}
END_TEST

static Suite *
access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unix_peer);
	tcase_add_test(tc, test_tcp_peer);
	tcase_add_test(tc, tcp6_peer);
	tcase_add_test(tc, test_tcp_other_user);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_refusal_rate);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(access_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
