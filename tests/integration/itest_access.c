/* itest_access.c - what may reach a worker, as the daemon's own user:
 * browsers' HTTP and TLS are refused on every TCP port, the token, the
 * runtime directory, clients that left, the bound on buffered requests.
 * (Attacks by another user: itest_security.c and tests/security/.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

/* What Chromium sends for fetch("http://127.0.0.1:PORT/1if(0)else(0);'''",
 * {method: "POST", mode: "no-cors", body}) from a web page: the request
 * line is valid Python, the text/plain body closes the string. */
#define FETCH_POST(port, marker)                                                                   \
	itest_strf("POST /1if(0)else(0);''' HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: "        \
	           "keep-alive\r\nContent-Length: 40\r\nsec-ch-ua-platform: "                      \
	           "\"Linux\"\r\nUser-Agent: "                                                     \
	           "Mozilla/5.0 (X11; Linux x86_64)\r\nContent-Type: text/plain;charset=UTF-8\r\n" \
	           "Accept: */*\r\nOrigin: http://attacker.example\r\nSec-Fetch-Site: "            \
	           "cross-site\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: empty\r\n\r\n'''\n"   \
	           "open('%s','w').write('x')\n",                                                  \
	           port, marker)

/* Send data on a new connection (half-closed unless compat), read all. */
static char *
send_bytes(const struct itest_daemon *d, enum itest_via via, const char *data, size_t len)
{
	int fd = itest_connect(d, via);
	char *reply;

	(void)itest_try_send_all(fd, data, len, ITEST_TIMEOUT_MS);
	if (via != ITEST_COMPAT)
		itest_half_close(fd);
	reply = itest_read_all(fd, ITEST_TIMEOUT_MS, NULL);
	close(fd);
	return reply;
}

static void
assert_http_refused(const char *reply)
{
	ck_assert_msg(!strncmp(reply, "HTTP/1.1 403 Forbidden\r\n", 24), "reply: %s", reply);
	itest_assert_contains(reply, "hotload does not speak HTTP");
}

/* A browser's requests never run, on the main port or a compat port; the
 * daemon goes on serving. */
START_TEST(http_and_tls_refused)
{
	struct itest_opts o = {.tcp = 1, .compat = "python:3"};
	struct itest_daemon *d = itest_start(&o);
	char *marker = itest_strf("%s/ran", d->dir);
	static const char hello[] = {0x16, 0x03, 0x01, 0x00, 0x40, 0x01,
	                             0x00, 0x00, 0x3c, 0x03, 0x03};
	enum itest_via vias[] = {ITEST_COMPAT, ITEST_TCP};
	char *req, *out, *log;
	size_t i;

	for (i = 0; i < 2; i++) {
		int port = vias[i] == ITEST_TCP ? d->tcp_port : d->compat_port;

		req = FETCH_POST(port, marker);
		out = send_bytes(d, vias[i], req, strlen(req));
		assert_http_refused(out);
		free(out);
		free(req);
		/* a WebSocket upgrade, and DNS rebinding: another Host */
		req = itest_strf("GET /ws HTTP/1.1\r\nHost: attacker.example:%d\r\nUpgrade: "
		                 "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		                 port);
		out = send_bytes(d, vias[i], req, strlen(req));
		assert_http_refused(out);
		free(out);
		free(req);
		/* TLS: nothing comes back but the close */
		out = send_bytes(d, vias[i], hello, sizeof(hello));
		ck_assert_str_eq(out, "");
		free(out);
	}
	ck_assert_int_ne(access(marker, F_OK), 0);
	log = itest_daemon_log(d);
	itest_assert_contains(log, "an HTTP request (a web page, or an HTTP client), not hotload's "
	                           "protocol");
	free(log);
	out = itest_raw(d, ITEST_COMPAT, NULL, "print('still here')\n");
	ck_assert_str_eq(out, "OUTPUT: \nstill here\n");
	free(out);
	out = itest_raw(d, ITEST_TCP, "python:3", "print('still here')\n");
	ck_assert_str_eq(out, "OUTPUT: \nstill here\n");
	free(out);
	free(marker);
	itest_stop(d);
}
END_TEST

/* The daemon's token, read as its user reads it. */
static char *
read_token(const struct itest_daemon *d)
{
	char *path = itest_strf("%s/token", d->dir);
	char *t = itest_read_file(path, NULL);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(strlen(t), 65);
	t[64] = '\0';
	free(path);
	return t;
}

/* listen.token: required: no token, or a wrong one, is refused; the right
 * one is let in, over raw and JSON and to the control target. */
START_TEST(token_required)
{
	struct itest_opts o = {.tcp = 1, .listen_extra = "  token: required\n"};
	struct itest_daemon *d = itest_start(&o);
	char *token = read_token(d), *hdr, *out;
	struct jclient *c;
	struct jreply r;

	out = itest_raw(d, ITEST_TCP, "python:3", "print(1)\n");
	ck_assert_str_eq(out, "ERRORS: \nPermissionDenied: this connection must show the daemon's "
	                      "token (token=...)\n");
	free(out);
	out = itest_raw(d, ITEST_TCP, "python:3 token=0123abcd", "print(1)\n");
	ck_assert_str_eq(out, "ERRORS: \nPermissionDenied: wrong token\n");
	free(out);
	hdr = itest_strf("python:3 token=%s", token);
	out = itest_raw(d, ITEST_TCP, hdr, "print(1)\n");
	ck_assert_str_eq(out, "OUTPUT: \n1\n");
	free(out);
	free(hdr);
	hdr = itest_strf("python:3 mode=json token=%s", token);
	c = jc_open(d, ITEST_TCP, hdr);
	jc_call(c, 1, "eval", "6*7", &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_close(c);
	free(hdr);
	/* the Unix socket does not need it */
	out = itest_raw(d, ITEST_UNIX, "python:3", "print(2)\n");
	ck_assert_str_eq(out, "OUTPUT: \n2\n");
	free(out);
	/* the token never reaches the log */
	out = itest_daemon_log(d);
	ck_assert_ptr_null(strstr(out, token));
	free(out);
	free(token);
	itest_stop(d);
}
END_TEST

/* hotloadctl shows the token only when told to. */
START_TEST(ctl_token_file)
{
	struct itest_opts o = {.tcp = 1, .listen_extra = "  token: required\n"};
	struct itest_daemon *d = itest_start(&o);
	char *ctl = itest_bin("hotloadctl"), *tcp = itest_strf("127.0.0.1:%d", d->tcp_port);
	char *tokfile = itest_strf("%s/token", d->dir);
	const char *with_file[] = {ctl,    "--tcp",    tcp,  "--token-file", tokfile,
	                           "exec", "python:3", "-c", "print(3)",     NULL};
	const char *without[] = {ctl, "--tcp", tcp, "exec", "python:3", "-c", "print(3)", NULL};
	struct itest_proc p;

	itest_run(with_file, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == 0, "%s", p.err);
	ck_assert_str_eq(p.out, "3\n");
	itest_proc_free(&p);
	itest_run(without, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 4);
	itest_assert_contains(p.err, "must show the daemon's token");
	itest_proc_free(&p);
	free(ctl);
	free(tcp);
	free(tokfile);
	itest_stop(d);
}
END_TEST

/* A raw client that closes its socket (it was killed, say) while its
 * request waits for the worker: the request is not run. One that only
 * half-closes is. */
START_TEST(closed_client_not_run)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *busy = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	char *marker = itest_strf("%s/ran", d->dir), *code, *log;
	struct jreply r;
	int fd;

	jc_call(busy, 1, "ping", NULL, &r); /* a warm worker */
	jreply_free(&r);
	jc_send_exec(busy, 2, "import time\ntime.sleep(1)", 0);
	code = itest_strf("python:3\nopen('%s','w').write('x')\n", marker);
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, code);
	close(fd);
	jc_collect(busy, 2, 5000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_call(busy, 3, "ping", NULL, &r); /* the queue has been through */
	jreply_free(&r);
	ck_assert_int_ne(access(marker, F_OK), 0);
	log = itest_daemon_log(d);
	itest_assert_contains(log, "the client closed its connection before its request ran");
	free(log);
	jc_close(busy);
	free(code);
	free(marker);
	itest_stop(d);
}
END_TEST

/* The same with an idle worker: the request is dropped as it is submitted
 * (this once freed the request under its submitter). */
START_TEST(closed_client_idle_worker)
{
	struct itest_daemon *d = itest_start(NULL);
	char *marker = itest_strf("%s/ran", d->dir), *code, *out;
	int fd, i;

	out = itest_raw(d, ITEST_UNIX, "python:3", "print(1)\n"); /* a warm, idle worker */
	ck_assert_str_eq(out, "OUTPUT: \n1\n");
	free(out);
	code = itest_strf("python:3\nopen('%s','w').write('x')\n", marker);
	for (i = 0; i < 20; i++) {
		fd = itest_connect(d, ITEST_UNIX);
		itest_send_str(fd, code);
		close(fd);
	}
	out = itest_raw(d, ITEST_UNIX, "python:3", "print(2)\n");
	ck_assert_str_eq(out, "OUTPUT: \n2\n");
	free(out);
	ck_assert_int_ne(access(marker, F_OK), 0);
	free(code);
	free(marker);
	itest_stop(d);
}
END_TEST

/* limits.max_buffered: the client whose bytes would go over is told, the
 * others are served. */
START_TEST(max_buffered)
{
	struct itest_opts o = {.limits_extra = "  max_buffered: 64K\n"};
	struct itest_daemon *d = itest_start(&o);
	size_t len = 100 * 1024;
	char *big = malloc(len), *out;
	int fd;

	memset(big, '#', len);
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3\n");
	(void)itest_try_send_all(fd, big, len, ITEST_TIMEOUT_MS);
	out = itest_read_all(fd, ITEST_TIMEOUT_MS, NULL);
	itest_assert_contains(out, "ServerBusy: the daemon holds limits.max_buffered bytes");
	free(out);
	close(fd);
	out = itest_raw(d, ITEST_UNIX, "python:3", "print('fits')\n");
	ck_assert_str_eq(out, "OUTPUT: \nfits\n");
	free(out);
	free(big);
	itest_stop(d);
}
END_TEST

/* A runtime directory that is not ours alone: the daemon does not start,
 * and says which directory and why; hotloadctl does not connect there. */
START_TEST(unsafe_runtime_dir)
{
	char dir[] = "/tmp/hl-rt-XXXXXX";
	char *cfg, *sock, *yaml, *hotloadd = itest_bin("hotloadd"), *ctl = itest_bin("hotloadctl");
	struct itest_proc p;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0777), 0);
	cfg = itest_strf("/tmp/hl-rt-cfg-%d.yaml", (int)getpid());
	sock = itest_strf("%s/hotloadd.sock", dir);
	yaml = itest_strf("listen:\n  unix: \"%s\"\n  tcp: \"\"\n", sock);
	itest_write_file(cfg, yaml, strlen(yaml));
	{
		const char *argv[] = {hotloadd, "--config", cfg, NULL};

		itest_run(argv, NULL, NULL, 0, &p);
		ck_assert_int_ne(p.status, 0);
		itest_assert_contains(p.err, dir);
		itest_assert_contains(p.err, "has mode 0777; the runtime directory must be 0700");
		itest_proc_free(&p);
	}
	{
		const char *argv[] = {ctl, "--socket", sock, "ping", "python:3", NULL};

		itest_run(argv, NULL, NULL, 0, &p);
		ck_assert_int_eq(p.status, 3);
		itest_assert_contains(p.err, "not connecting to unix socket");
		itest_assert_contains(p.err, "has mode 0777");
		itest_proc_free(&p);
	}
	unlink(cfg);
	rmdir(dir);
	free(cfg);
	free(sock);
	free(yaml);
	free(hotloadd);
	free(ctl);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, http_and_tls_refused);
	tcase_add_test(tc, token_required);
	tcase_add_test(tc, ctl_token_file);
	tcase_add_test(tc, closed_client_not_run);
	tcase_add_test(tc, closed_client_idle_worker);
	tcase_add_test(tc, max_buffered);
	tcase_add_test(tc, unsafe_runtime_dir);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
