/* util.c - clocks, files and strings for the integration tests */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

long long
itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
itest_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
itest_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

char *
itest_read_file(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *s;
	ssize_t n;

	if (fd < 0)
		return NULL;
	s = malloc(cap);
	ck_assert_ptr_nonnull(s);
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			s = realloc(s, cap);
			ck_assert_ptr_nonnull(s);
		}
		n = read(fd, s + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	s[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return s;
}

void
itest_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
itest_remove_tree(const char *path)
{
	if (path && *path)
		nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
itest_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}

size_t
itest_count(const char *haystack, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	const char *p = haystack;

	if (!nl)
		return 0;
	while ((p = strstr(p, needle))) {
		n++;
		p += nl;
	}
	return n;
}

/* A zombie counts as gone: it no longer runs anything. */
int
itest_pid_alive(pid_t pid)
{
	char path[64], *stat, *paren;
	int alive;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = itest_read_file(path, NULL);
	if (!stat)
		return 0;
	paren = strrchr(stat, ')');
	alive = !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
	free(stat);
	return alive;
}

int
itest_wait_file_contains(const char *path, const char *needle, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	char *s;
	int found;

	for (;;) {
		s = itest_read_file(path, NULL);
		found = s && strstr(s, needle);
		free(s);
		if (found)
			return 1;
		if (itest_now_ms() >= end)
			return 0;
		itest_sleep_ms(20);
	}
}

char *
itest_bin(const char *name)
{
	return itest_strf("%s/bin/%s", HOTLOAD_BINARY_DIR, name);
}

uint32_t
itest_crc32(const void *data, size_t len)
{
	static uint32_t table[256];
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	if (!table[1])
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	c = 0xffffffffu;
	for (i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
