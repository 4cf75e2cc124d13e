/* fuzz_config.c - libFuzzer: config_load_file() on a hotloadd.yaml */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fuzzcheck.h"
#include "header.h"

/* The input goes to a memfd; config_load_file() opens it by name. */
static int input_fd = -1;
static char input_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	input_fd = memfd_create("hotloadd.yaml", MFD_CLOEXEC);
	FUZZ_CHECK(input_fd >= 0);
	snprintf(input_path, sizeof(input_path), "/proc/self/fd/%d", input_fd);
	/* The defaults and "~/" depend on these: the same on every machine. */
	setenv("HOME", "/home/fuzz", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	unsetenv("XDG_CONFIG_HOME");
	return 0;
}

/* Every member of c, as text, to compare two configurations. */
static void
dump(const struct config *c, struct buf *out)
{
	const struct supervision *s = &c->supervision;
	size_t i;

	buf_clear(out);
	buf_printf(out, "unix=%s tcp=%s:%d dirs=%zu", c->unix_path ?: "(null)",
	           c->tcp_host ?: "(null)", c->tcp_port, c->n_hooks_dirs);
	for (i = 0; i < c->n_hooks_dirs; i++)
		buf_printf(out, " [%s]", c->hooks_dirs[i]);
	buf_printf(out, " compat=%zu", c->n_compat);
	for (i = 0; i < c->n_compat; i++)
		buf_printf(out, " [%s %d %s %a]", c->compat[i].host, c->compat[i].port,
		           c->compat[i].target, c->compat[i].quiet);
	buf_printf(out, " payload=%zu conns=%zu agent=%s log=%s", c->max_payload,
	           c->max_connections, c->agent ?: "(null)", c->log_level ?: "(null)");
	buf_printf(out, " sup=%a %a %a %a %a %u %a", s->stop_grace, s->interrupt_grace,
	           s->kill_grace, s->backoff_initial, s->backoff_max, s->crash_budget,
	           s->crash_window);
}

/* What a loaded configuration promises (config.h, docs/configuration). */
static void
check_config(const struct config *c)
{
	const struct supervision *s = &c->supervision;
	struct header h;
	char err[128];
	size_t i, j;

	FUZZ_CHECK(!c->unix_path ||
	           (*c->unix_path &&
	            strlen(c->unix_path) < sizeof(((struct sockaddr_un *)0)->sun_path)));
	FUZZ_CHECK(c->tcp_host ? c->tcp_port >= 1 && c->tcp_port <= 65535 : c->tcp_port == 0);
	FUZZ_CHECK(c->hooks_dirs != NULL);
	for (i = 0; i < c->n_hooks_dirs; i++)
		FUZZ_CHECK(c->hooks_dirs[i] != NULL);
	for (i = 0; i < c->n_compat; i++) {
		const struct compat_port *cp = &c->compat[i];

		FUZZ_CHECK(cp->host && cp->target);
		FUZZ_CHECK(cp->port >= 1 && cp->port <= 65535);
		FUZZ_CHECK(cp->quiet >= 0.001 && cp->quiet <= 3600);
		FUZZ_CHECK(header_parse(cp->target, strlen(cp->target), &h, err, sizeof(err)) == 0);
		FUZZ_CHECK(!c->tcp_host || cp->port != c->tcp_port);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(c->compat[j].port != cp->port);
	}
	FUZZ_CHECK(c->max_payload >= 1024);
	FUZZ_CHECK(c->max_connections >= 1 && c->max_connections <= 1000000);
	FUZZ_CHECK(!c->agent || *c->agent);
	FUZZ_CHECK(c->log_level &&
	           (!strcmp(c->log_level, "debug") || !strcmp(c->log_level, "info") ||
	            !strcmp(c->log_level, "warning") || !strcmp(c->log_level, "error")));
	FUZZ_CHECK(s->backoff_initial > 0 && s->backoff_max >= s->backoff_initial);
	FUZZ_CHECK(s->stop_grace > 0 && s->interrupt_grace > 0 && s->kill_grace > 0);
	FUZZ_CHECK(s->crash_budget >= 1 && s->crash_window > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf before = BUF_INIT, after = BUF_INIT;
	struct config *c;
	char err[512];
	int r;

	FUZZ_CHECK(ftruncate(input_fd, 0) == 0);
	FUZZ_CHECK(pwrite(input_fd, data, size, 0) == (ssize_t)size);
	c = config_new_default("/usr/share/hotload/hooks.d");
	dump(c, &before);
	err[0] = '\0';
	r = config_load_file(c, input_path, err, sizeof(err));
	dump(c, &after);
	if (r < 0) {
		/* A bad file changes nothing and says where it is bad. */
		FUZZ_CHECK(r == -EINVAL);
		FUZZ_CHECK(!strcmp(before.data, after.data));
		FUZZ_CHECK(!strncmp(err, input_path, strlen(input_path)));
		FUZZ_CHECK_ONE_LINE(err);
		goto out;
	}
	FUZZ_CHECK(r == 0);
	check_config(c);
	/* The same file again on top of itself is taken and changes nothing. */
	r = config_load_file(c, input_path, err, sizeof(err));
	FUZZ_CHECK(r == 0);
	dump(c, &before);
	FUZZ_CHECK(!strcmp(before.data, after.data));
out:
	config_free(c);
	buf_free(&before);
	buf_free(&after);
	return 0;
}
