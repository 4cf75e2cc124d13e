/* test_client.c - the client connection of lib/client.c against a fake
 * daemon on the other end of a socket: lines cut anywhere, events, calls,
 * interrupts, the header and its token, waking a wait */
#include <check.h>
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

#include <jansson.h>

#include "buf.h"
#include "client.h"

/* A client over one end of a socketpair; the daemon's end in *ret_peer. */
static struct client *
pair(int *ret_peer)
{
	struct client *c = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(client_adopt(sv[0], &c), 0);
	*ret_peer = sv[1];
	return c;
}

static void
put(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* What the daemon's end has received so far (it must be there already). */
static char *
got(int fd)
{
	static char b[65536];
	ssize_t n = recv(fd, b, sizeof(b) - 1, MSG_DONTWAIT);

	b[n > 0 ? n : 0] = '\0';
	return b;
}

START_TEST(test_read_line)
{
	struct client *c;
	const char *line;
	size_t len;
	int peer, wake[2];

	c = pair(&peer);
	ck_assert_int_eq(pipe(wake), 0);
	client_set_wake_fd(c, 1, wake[0]);
	/* half a line is not a line: the wait times out */
	put(peer, "hel");
	ck_assert_int_eq(client_read_line(c, 50, &line, &len), -ETIMEDOUT);
	/* a wake fd ends a wait, and nothing is lost */
	put(wake[1], "x");
	ck_assert_int_eq(client_read_line(c, -1, &line, &len), -EINTR);
	client_set_wake_fd(c, 1, -1);
	put(peer, "lo\nworld\n\nlast");
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 1);
	ck_assert_uint_eq(len, 6);
	ck_assert(!memcmp(line, "hello\n", 6));
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 1);
	ck_assert_uint_eq(len, 6);
	ck_assert(!memcmp(line, "world\n", 6));
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 1);
	ck_assert_uint_eq(len, 1);
	/* a last line without '\n' comes at EOF, then 0, and 0 again */
	close(peer);
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 1);
	ck_assert_uint_eq(len, 4);
	ck_assert(!memcmp(line, "last", 4));
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 0);
	ck_assert_int_eq(client_read_line(c, 1000, &line, &len), 0);
	client_free(c);
	client_free(NULL);
	close(wake[0]);
	close(wake[1]);
}
END_TEST

/* A line longer than any one read, and many lines in one read. */
START_TEST(test_read_long_lines)
{
	struct client *c;
	struct buf big = BUF_INIT;
	const char *line;
	size_t len, i;
	pid_t writer;
	int peer, status;

	c = pair(&peer);
	buf_puts(&big, "{\"event\":\"stdout\",\"data\":\"");
	for (i = 0; i < 200000; i++)
		buf_append(&big, "x", 1);
	buf_puts(&big, "\"}\n");
	writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		/* the writer: the big line in uneven pieces, then 1000 small ones */
		size_t off = 0, step = 1;

		client_free(c);
		while (off < big.len) {
			size_t n = big.len - off < step ? big.len - off : step;

			ck_assert_int_eq(write(peer, big.data + off, n), (ssize_t)n);
			off += n;
			step = step * 3 + 7;
		}
		for (i = 0; i < 1000; i++)
			put(peer, "{\"event\":\"waiting\"}\n");
		_exit(0);
	}
	close(peer);
	ck_assert_int_eq(client_read_line(c, 5000, &line, &len), 1);
	ck_assert_uint_eq(len, big.len);
	ck_assert(!memcmp(line, big.data, len));
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(client_read_line(c, 5000, &line, &len), 1);
		ck_assert_uint_eq(len, 20);
	}
	ck_assert_int_eq(client_read_line(c, 5000, &line, &len), 0);
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert_int_eq(status, 0);
	client_free(c);
	buf_free(&big);
}
END_TEST

START_TEST(test_read_event)
{
	struct client *c;
	char why[256];
	const char *line;
	size_t len;
	const char *first = "{\"id\":1,\"event\":\"stdout\",\"data\":\"hi\\n\"}\n";
	json_t *ev = NULL;
	int peer;

	c = pair(&peer);
	/* cut mid-event, with an empty line between events */
	put(peer, "{\"id\":1,\"event\":\"std");
	ck_assert_int_eq(client_read_event(c, 50, &ev, why, sizeof(why)), -ETIMEDOUT);
	put(peer, "out\",\"data\":\"hi\\n\"}\n\n{\"id\":1,\"ev");
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), 1);
	ck_assert_str_eq(client_event_name(ev), "stdout");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "data")), "hi\n");
	client_last_line(c, &line, &len);
	ck_assert_uint_eq(len, strlen(first));
	ck_assert(!memcmp(line, first, len));
	json_decref(ev);
	put(peer, "ent\":\"done\",\"ok\":true}\n");
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), 1);
	ck_assert_str_eq(client_event_name(ev), "done");
	json_decref(ev);
	/* what is not a JSON object is no event, but its line is there */
	ev = NULL;
	put(peer, "[1,2]\nnot json\n");
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "not a JSON object");
	ck_assert_ptr_null(ev);
	client_last_line(c, &line, &len);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), -EBADMSG);
	ck_assert_ptr_null(ev);
	ck_assert_int_gt((int)strlen(why), 0);
	/* a send may move what was read: the line is gone */
	ck_assert_int_eq(client_send(c, "\n", 1), 0);
	client_last_line(c, &line, &len);
	ck_assert_ptr_null(line);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(got(peer), "\n");
	/* a last event without its newline, then the end */
	put(peer, "{\"event\":\"x\"}");
	close(peer);
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), 1);
	ck_assert_str_eq(client_event_name(ev), "x");
	json_decref(ev);
	ck_assert_int_eq(client_read_event(c, 1000, &ev, why, sizeof(why)), 0);
	client_last_line(c, &line, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(client_event_name(NULL));
	client_free(c);
}
END_TEST

/* Requests get ids 1, 2, ...; an interrupt names the request. */
START_TEST(test_send)
{
	struct client *c;
	json_t *req = json_pack("{s:s, s:s}", "op", "exec", "code", "print(1)");
	long id = 0;
	int peer;

	c = pair(&peer);
	ck_assert_int_eq(client_send_header(c, "python:3", NULL, "abc123"), 0);
	/* over a Unix socket the token stays home */
	ck_assert_str_eq(got(peer), "python:3 mode=json\n");
	ck_assert_int_eq(client_send_header(c, "python:3", "watch=/tmp/x", NULL), 0);
	ck_assert_str_eq(got(peer), "python:3 mode=json watch=/tmp/x\n");
	/* a target that would smuggle options in is not sent */
	ck_assert_int_eq(client_send_header(c, "python:3 mode=raw", NULL, NULL), -EINVAL);
	ck_assert_int_eq(client_send_header(c, "", NULL, NULL), -EINVAL);
	ck_assert_str_eq(got(peer), "");
	ck_assert_int_eq(client_send_request(c, req, &id), 0);
	ck_assert_int_eq(id, 1);
	/* the code after the line, as it is */
	ck_assert_str_eq(got(peer), "{\"op\":\"exec\",\"id\":1,\"code_bytes\":8}\nprint(1)");
	ck_assert_str_eq(json_string_value(json_object_get(req, "code")), "print(1)");
	ck_assert_ptr_null(json_object_get(req, "code_bytes"));
	ck_assert_int_eq(client_interrupt(c, 1), 0);
	ck_assert_str_eq(got(peer), "{\"id\":2,\"op\":\"interrupt\",\"request\":1}\n");
	ck_assert_int_eq(client_send_request(c, req, NULL), 0);
	ck_assert_str_eq(got(peer), "{\"op\":\"exec\",\"id\":3,\"code_bytes\":8}\nprint(1)");
	json_decref(req);
	client_free(c);
	close(peer);
}
END_TEST

/* client_call: its own done, whatever comes before; every way it fails. */
START_TEST(test_call)
{
	struct client *c;
	json_t *req = json_pack("{s:s}", "op", "status"), *done = NULL;
	char why[256];
	int peer;

	c = pair(&peer);
	put(peer, "{\"id\":7,\"event\":\"done\",\"ok\":true}\n"
	          "{\"id\":1,\"event\":\"waiting\",\"state\":\"queued\"}\n"
	          "{\"id\":1,\"event\":\"done\",\"ok\":true,\"status\":{}}\n");
	ck_assert_int_eq(client_call(c, req, &done, why, sizeof(why)), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(done, "id")), 1);
	ck_assert(json_is_object(json_object_get(done, "status")));
	ck_assert_str_eq(got(peer), "{\"op\":\"status\",\"id\":1}\n");
	json_decref(done);
	done = NULL;
	/* an error event: the connection was refused */
	put(peer, "{\"event\":\"error\",\"error\":{\"type\":\"PermissionDenied\","
	          "\"message\":\"wrong token\"}}\n");
	ck_assert_int_eq(client_call(c, req, &done, why, sizeof(why)), -ECONNREFUSED);
	ck_assert_str_eq(why, "PermissionDenied: wrong token");
	ck_assert_ptr_null(done);
	/* a line that is no event */
	put(peer, "{\"id\":3}\n");
	ck_assert_int_eq(client_call(c, req, &done, why, sizeof(why)), -EBADMSG);
	ck_assert_str_eq(why, "not an event");
	put(peer, "{oops\n");
	ck_assert_int_eq(client_call(c, req, &done, why, sizeof(why)), -EBADMSG);
	/* closed before the done */
	close(peer);
	ck_assert_int_eq(client_call(c, req, &done, why, sizeof(why)), -EPIPE);
	ck_assert_ptr_null(done);
	json_decref(req);
	client_free(c);
}
END_TEST

/* Over TCP the token goes with the header; the address may leave parts out. */
START_TEST(test_tcp)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct client *c = NULL;
	char addr[64], err[256];
	int lfd, peer;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(addr, sizeof(addr), ":%d", ntohs(sin.sin_port));
	ck_assert_int_eq(client_connect(NULL, addr, &c, err, sizeof(err)), 0);
	peer = accept(lfd, NULL, NULL);
	ck_assert_int_ge(peer, 0);
	ck_assert_int_eq(client_send_header(c, "hotload", NULL, "abc123"), 0);
	usleep(10000);
	ck_assert_str_eq(got(peer), "hotload mode=json token=abc123\n");
	client_free(c);
	close(peer);
	close(lfd);
	c = NULL;
	/* a bad address is refused before anything is tried */
	ck_assert_int_eq(client_connect(NULL, "::1:7720", &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "bad TCP address '::1:7720': expected HOST:PORT");
	ck_assert_ptr_null(c);
}
END_TEST

/* A Unix socket in a directory that is not ours alone is not connected to. */
START_TEST(test_unix_dir)
{
	char dir[] = "/tmp/test_client.XXXXXX", path[64], err[512];
	struct sockaddr_un sun;
	struct client *c = NULL;
	int lfd, peer;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(client_connect(path, NULL, &c, err, sizeof(err)), 0);
	peer = accept(lfd, NULL, NULL);
	ck_assert_int_ge(peer, 0);
	ck_assert_int_eq(client_send_header(c, "python", NULL, "abc123"), 0);
	ck_assert_str_eq(got(peer), "python mode=json\n");
	client_free(c);
	close(peer);
	c = NULL;
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(client_connect(path, NULL, &c, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not connecting to unix socket"));
	ck_assert_ptr_null(c);
	close(lfd);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(client_connect(path, NULL, &c, err, sizeof(err)), -ENOENT);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_read_line);
	tcase_add_test(tc, test_read_long_lines);
	tcase_add_test(tc, test_read_event);
	tcase_add_test(tc, test_send);
	tcase_add_test(tc, test_call);
	tcase_add_test(tc, test_tcp);
	tcase_add_test(tc, test_unix_dir);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
