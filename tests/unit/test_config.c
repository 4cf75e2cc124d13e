/* test_config.c - hotloadd.yaml: defaults, every key, every error with its position */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "paths.h"

static char tmpdir[] = "/tmp/hotload-test-config-XXXXXX";

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
	strcpy(tmpdir, "/tmp/hotload-test-config-XXXXXX");
}

/* Write text to tmpdir/name; returns the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* A config with defaults, tcp/XDG fixed so results do not depend on the caller. */
static struct config *
fresh(void)
{
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	setenv("HOME", "/home/artist", 1);
	unsetenv("XDG_CONFIG_HOME");
	return config_new_default("/usr/share/hotload/hooks.d");
}

START_TEST(test_defaults)
{
	struct config *c = fresh();

	ck_assert_str_eq(c->unix_path, "/run/user/1000/hotload/hotloadd.sock");
	ck_assert_str_eq(c->tcp_host, "127.0.0.1");
	ck_assert_int_eq(c->tcp_port, 7720);
	ck_assert_uint_eq(c->n_hooks_dirs, 3);
	ck_assert_str_eq(c->hooks_dirs[0], "/usr/share/hotload/hooks.d");
	ck_assert_str_eq(c->hooks_dirs[1], HOTLOAD_SYSCONFDIR "/hooks.d");
	ck_assert_str_eq(c->hooks_dirs[2], "/home/artist/.config/hotload/hooks.d");
	ck_assert_uint_eq(c->n_compat, 0);
	ck_assert_uint_eq(c->max_payload, 64u << 20);
	ck_assert_uint_eq(c->max_connections, 256);
	ck_assert_uint_eq(c->max_buffered, 256u << 20);
	ck_assert_double_eq(c->refusals_per_second, 20);
	ck_assert_int_eq(c->token_required, 0);
	ck_assert_ptr_null(c->agent);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_double_eq(c->supervision.stop_grace, 10);
	ck_assert_double_eq(c->supervision.interrupt_grace, 3);
	ck_assert_double_eq(c->supervision.kill_grace, 5);
	ck_assert_double_eq(c->supervision.backoff_initial, 1);
	ck_assert_double_eq(c->supervision.backoff_max, 60);
	ck_assert_uint_eq(c->supervision.crash_budget, 5);
	ck_assert_double_eq(c->supervision.crash_window, 600);
	config_free(c);

	/* Without XDG_RUNTIME_DIR: /run for root, /tmp/hotload-UID for others. */
	unsetenv("XDG_RUNTIME_DIR");
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	c = config_new_default(NULL);
	if (geteuid() == 0) {
		ck_assert_str_eq(c->unix_path, "/run/hotload/hotloadd.sock");
	} else {
		char want[64];

		snprintf(want, sizeof(want), "/tmp/hotload-%u/hotloadd.sock", (unsigned)geteuid());
		ck_assert_str_eq(c->unix_path, want);
	}
	ck_assert_uint_eq(c->n_hooks_dirs, 2);
	ck_assert_str_eq(c->hooks_dirs[1], "/cfg/hotload/hooks.d");
	config_free(c);
	/* the user's hotloadd.yaml is where its hooks.d is */
	{
		char *u = config_user_file("hotloadd.yaml");

		ck_assert_str_eq(u, "/cfg/hotload/hotloadd.yaml");
		free(u);
		unsetenv("XDG_CONFIG_HOME");
		u = config_user_file("hotloadd.yaml");
		ck_assert_str_eq(u, "/home/artist/.config/hotload/hotloadd.yaml");
		free(u);
	}
	config_free(NULL);
}
END_TEST

START_TEST(test_empty_and_comments)
{
	struct config *c = fresh();
	char err[512] = "";

	ck_assert_int_eq(config_load_file(c, write_file("a.yaml", ""), err, sizeof(err)), 0);
	ck_assert_int_eq(config_load_file(c, write_file("b.yaml", "# nothing\n\n  # here\n"), err,
	                                  sizeof(err)),
	                 0);
	ck_assert_int_eq(config_load_file(c, write_file("c.yaml", "---\n"), err, sizeof(err)), 0);
	ck_assert_int_eq(c->tcp_port, 7720);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_uint_eq(c->n_hooks_dirs, 3);
	config_free(c);
}
END_TEST

START_TEST(test_every_key)
{
	struct config *c = fresh();
	char err[512] = "";
	int r;

	r = config_load_file(
	        c,
	        write_file("full.yaml",
	                   "# every key\n"
	                   "listen:\n"
	                   "  unix: ~/run/hotload.sock\n"
	                   "  tcp: \"[::1]:7800\"\n"
	                   "  token: required\n"
	                   "hooks_dirs: [/opt/studio/hooks.d, ~/hooks]\n"
	                   "compat:\n"
	                   "  - port: 7001\n"
	                   "    target: maya:2024\n"
	                   "  - {port: 7002, target: houdini, host: \"::1\", quiet: 1.5, shutdown: "
	                   "ignore}\n"
	                   "limits:\n"
	                   "  max_payload: 512K\n"
	                   "  max_connections: 32\n"
	                   "  max_buffered: 1M\n"
	                   "  refusals_per_second: 5\n"
	                   "agent: ~/src/hotload/hookd/hookd.py\n"
	                   "log_level: debug\n"
	                   "supervision:\n"
	                   "  stop_grace: 20\n"
	                   "  interrupt_grace: 0.5\n"
	                   "  kill_grace: 2\n"
	                   "  backoff_initial: 0.25\n"
	                   "  backoff_max: 30\n"
	                   "  crash_budget: 3\n"
	                   "  crash_window: 120\n"),
	        err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_str_eq(c->unix_path, "/home/artist/run/hotload.sock");
	ck_assert_str_eq(c->tcp_host, "::1");
	ck_assert_int_eq(c->tcp_port, 7800);
	ck_assert_uint_eq(c->n_hooks_dirs, 2);
	ck_assert_str_eq(c->hooks_dirs[0], "/opt/studio/hooks.d");
	ck_assert_str_eq(c->hooks_dirs[1], "/home/artist/hooks");
	ck_assert_uint_eq(c->n_compat, 2);
	ck_assert_int_eq(c->compat[0].port, 7001);
	ck_assert_str_eq(c->compat[0].target, "maya:2024");
	ck_assert_str_eq(c->compat[0].host, "127.0.0.1");
	ck_assert_double_eq(c->compat[0].quiet, 0.25);
	ck_assert_int_eq(c->compat[1].port, 7002);
	ck_assert_str_eq(c->compat[1].target, "houdini");
	ck_assert_str_eq(c->compat[1].host, "::1");
	ck_assert_double_eq(c->compat[1].quiet, 1.5);
	ck_assert_int_eq(c->compat[0].keep_on_shutdown_token, 0);
	ck_assert_int_eq(c->compat[1].keep_on_shutdown_token, 1);
	ck_assert_uint_eq(c->max_payload, 512u << 10);
	ck_assert_uint_eq(c->max_connections, 32);
	ck_assert_uint_eq(c->max_buffered, 1u << 20);
	ck_assert_double_eq(c->refusals_per_second, 5);
	ck_assert_int_eq(c->token_required, 1);
	ck_assert_str_eq(c->agent, "/home/artist/src/hotload/hookd/hookd.py");
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_double_eq(c->supervision.stop_grace, 20);
	ck_assert_double_eq(c->supervision.interrupt_grace, 0.5);
	ck_assert_double_eq(c->supervision.kill_grace, 2);
	ck_assert_double_eq(c->supervision.backoff_initial, 0.25);
	ck_assert_double_eq(c->supervision.backoff_max, 30);
	ck_assert_uint_eq(c->supervision.crash_budget, 3);
	ck_assert_double_eq(c->supervision.crash_window, 120);
	config_free(c);
}
END_TEST

/* supervision keys replace one by one; backoff_max >= backoff_initial holds
 * across files, and the file that breaks it is the one blamed. */
START_TEST(test_supervision_layering)
{
	struct config *c = fresh();
	char err[512] = "", want[600];
	const char *path;

	ck_assert_int_eq(config_load_file(c,
	                                  write_file("a.yaml", "supervision:\n"
	                                                       "  kill_grace: 1\n"
	                                                       "  backoff_max: 5\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_int_eq(config_load_file(c,
	                                  write_file("b.yaml", "supervision: {crash_budget: 1, "
	                                                       "backoff_initial: 5}\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_double_eq(c->supervision.stop_grace, 10);
	ck_assert_double_eq(c->supervision.kill_grace, 1);
	ck_assert_double_eq(c->supervision.backoff_initial, 5);
	ck_assert_double_eq(c->supervision.backoff_max, 5);
	ck_assert_uint_eq(c->supervision.crash_budget, 1);
	ck_assert_double_eq(c->supervision.crash_window, 600);

	path = write_file("c.yaml", "log_level: debug\nsupervision:\n  backoff_initial: 6\n");
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
	         "%s:3:20: supervision.backoff_initial: expected at most backoff_max (5), got '6'",
	         path);
	ck_assert_str_eq(err, want);
	path = write_file("d.yaml", "supervision:\n  backoff_max: 4.5\n");
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
	         "%s:2:16: supervision.backoff_max: expected at least backoff_initial (5), got "
	         "'4.5'",
	         path);
	ck_assert_str_eq(err, want);
	/* c is unchanged by the failed files */
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_double_eq(c->supervision.backoff_initial, 5);
	ck_assert_double_eq(c->supervision.backoff_max, 5);

	/* Both in one file, in either order, go together. */
	ck_assert_int_eq(config_load_file(c,
	                                  write_file("e.yaml", "supervision:\n"
	                                                       "  backoff_max: 120\n"
	                                                       "  backoff_initial: 90\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_double_eq(c->supervision.backoff_initial, 90);
	ck_assert_double_eq(c->supervision.backoff_max, 120);
	config_free(c);
}
END_TEST

/* A later file replaces only the keys it has. */
START_TEST(test_layering_and_disable)
{
	struct config *c = fresh();
	char err[512] = "";

	ck_assert_int_eq(config_load_file(c,
	                                  write_file("system.yaml", "log_level: warning\n"
	                                                            "limits: {max_payload: 1G}\n"
	                                                            "compat: [{port: 7001, target: "
	                                                            "maya}]\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_int_eq(config_load_file(c,
	                                  write_file("user.yaml", "listen:\n"
	                                                          "  unix: \"\"\n"
	                                                          "  tcp:\n"
	                                                          "limits: {max_connections: 8}\n"
	                                                          "agent: \"\"\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_ptr_null(c->unix_path);
	ck_assert_ptr_null(c->tcp_host);
	ck_assert_str_eq(c->log_level, "warning");
	ck_assert_uint_eq(c->max_payload, 1u << 30);
	ck_assert_uint_eq(c->max_connections, 8);
	ck_assert_uint_eq(c->n_compat, 1);
	ck_assert_ptr_null(c->agent);
	ck_assert_int_eq(config_load_file(c,
	                                  write_file("more.yaml", "compat: []\nhooks_dirs: []\n"),
	                                  err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(c->n_compat, 0);
	ck_assert_uint_eq(c->n_hooks_dirs, 0);
	config_free(c);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config *c = fresh();
	char err[512] = "", want[512], path[256];

	snprintf(want, sizeof(want), "%s/nope.yaml: No such file or directory", tmpdir);
	snprintf(path, sizeof(path), "%s/nope.yaml", tmpdir);
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, want);
	config_free(c);
}
END_TEST

/* Each bad file, and the exact message it must give (after "FILE:"). */
static const struct {
	const char *yaml;
	const char *err;
} bad[] = {
        {"listen:\n  tcp: [1]\n", "2:8: listen.tcp: expected \"host:port\", got a sequence"},
        {"listen:\n  tcp: \"localhost:7720\"\n",
         "2:8: listen.tcp: expected a numeric IPv4 or IPv6 address as host (like 127.0.0.1 or "
         "[::1]), got 'localhost:7720'"},
        {"listen:\n  tcp: 127.0.0.1\n", "2:8: listen.tcp: expected \"host:port\", got '127.0.0.1'"},
        {"listen:\n  tcp: 127.0.0.1:0\n",
         "2:8: listen.tcp: expected a port from 1 to 65535 after the ':', got '127.0.0.1:0'"},
        {"listen:\n  tcp: 127.0.0.1:65536\n",
         "2:8: listen.tcp: expected a port from 1 to 65535 after the ':', got '127.0.0.1:65536'"},
        {"listen:\n  tcp: \"::1:7720\"\n",
         "2:8: listen.tcp: expected \"[IPv6]:port\" (an IPv6 address goes in brackets), got "
         "'::1:7720'"},
        {"listen:\n  tcp: \"[::1]7720\"\n", "2:8: listen.tcp: expected an IPv6 address in brackets "
                                            "followed by :PORT, got '[::1]7720'"},
        {"listen:\n  unix: {a: b}\n", "2:9: listen.unix: expected a string, got a mapping"},
        {"listen: /tmp/x.sock\n", "1:9: listen: expected a mapping, got '/tmp/x.sock'"},
        {"\nlistn:\n  tcp: 127.0.0.1:1\n",
         "2:1: unknown key 'listn' (known: listen, hooks_dirs, compat, limits, agent, log_level, "
         "supervision)"},
        {"listen:\n  tpc: 127.0.0.1:1\n",
         "2:3: listen: unknown key 'tpc' (known: unix, tcp, token)"},
        {"log_level: info\nlog_level: debug\n", "2:1: duplicate key 'log_level'"},
        {"log_level: loud\n",
         "1:12: log_level: expected debug, info, warning or error, got 'loud'"},
        {"agent: [a]\n", "1:8: agent: expected a string, got a sequence"},
        {"hooks_dirs: /etc/hotload/hooks.d\n",
         "1:13: hooks_dirs: expected a list of strings, got '/etc/hotload/hooks.d'"},
        {"hooks_dirs: [a, [b]]\n", "1:17: hooks_dirs[1]: expected a string, got a sequence"},
        {"compat: {port: 1}\n", "1:9: compat: expected a list of {port, target}, got a mapping"},
        {"compat:\n  - port: 7001\n    target: maya\n  - port: 7002\n    target: hython\n"
         "  - port: 7001\n    target: blender\n",
         "6:11: compat[2].port: port 7001 is already used by compat[0]"},
        {"compat:\n  - port: 70000\n    target: maya\n",
         "2:11: compat[0].port: expected an integer from 1 to 65535, got '70000'"},
        {"compat:\n  - port: seven\n    target: maya\n",
         "2:11: compat[0].port: expected an integer from 1 to 65535, got 'seven'"},
        {"compat:\n  - target: maya\n", "2:5: compat[0]: missing key 'port'"},
        {"compat:\n  - port: 7001\n", "2:5: compat[0]: missing key 'target'"},
        {"compat:\n  - port: 7001\n    target: \"maya 2024\"\n",
         "3:13: compat[0].target: expected \"dcc[:version]\", got 'maya 2024'"},
        {"compat:\n  - port: 7001\n    target: \"maya:\"\n",
         "3:13: compat[0].target: expected \"dcc[:version]\", got 'maya:'"},
        {"compat:\n  - port: 7001\n    target: maya/2024\n",
         "3:13: compat[0].target: expected \"dcc[:version]\", got 'maya/2024'"},
        {"compat:\n  - {port: 7001, target: maya, host: localhost}\n",
         "2:38: compat[0].host: expected a numeric IPv4 or IPv6 address, got 'localhost'"},
        {"compat:\n  - {port: 7001, target: maya, quiet: -1}\n",
         "2:39: compat[0].quiet: expected a number of seconds from 0.001 to 3600, got '-1'"},
        {"compat:\n  - {port: 7001, target: maya, colour: red}\n",
         "2:32: compat[0]: unknown key 'colour' (known: port, target, host, quiet, shutdown)"},
        {"compat:\n  - {port: 7720, target: maya}\n",
         "2:12: compat[0].port: port 7720 is already used by listen.tcp"},
        {"limits:\n  max_payload: 64X\n",
         "2:16: limits.max_payload: expected a size of at least 1024 bytes (like 65536, 512K, 64M, "
         "1G), got '64X'"},
        {"limits:\n  max_payload: 12\n",
         "2:16: limits.max_payload: expected a size of at least 1024 bytes (like 65536, 512K, 64M, "
         "1G), got '12'"},
        {"limits:\n  max_connections: 0\n",
         "2:20: limits.max_connections: expected an integer from 1 to 1000000, got '0'"},
        {"limits:\n  max_conns: 3\n", "2:3: limits: unknown key 'max_conns' (known: max_payload, "
                                      "max_connections, max_buffered, refusals_per_second)"},
        /* an error is one line whatever the scalar it quotes holds */
        {"log_level: \"warn\\ning\\e[2J\"\n",
         "1:12: log_level: expected debug, info, warning or error, got 'warn\\ning\\x1b[2J'"},
        {"log_level: "
         "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
         "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"\n",
         "1:12: log_level: expected debug, info, warning or error, got "
         "'\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...'"},
        {"limits:\n  max_buffered: 1K\n",
         "2:17: limits.max_buffered: expected a size of at least 65536 bytes (like 65536, 512K, "
         "64M, 1G), got '1K'"},
        {"limits:\n  refusals_per_second: 0\n",
         "2:24: limits.refusals_per_second: expected an integer from 1 to 1000000, got '0'"},
        {"listen:\n  token: sometimes\n",
         "2:10: listen.token: expected required or optional, got 'sometimes'"},
        {"listen:\n  tcp: 0.0.0.0:7720\n",
         "2:8: listen.tcp: 0.0.0.0 is not a loopback address: clients from other machines "
         "cannot be checked, so they must show the token; add 'token: required' under listen "
         "(see docs/security.md)"},
        {"listen:\n  tcp: \"[::]:7720\"\n  token: optional\n",
         "2:8: listen.tcp: :: is not a loopback address: clients from other machines cannot be "
         "checked, so they must show the token; add 'token: required' under listen (see "
         "docs/security.md)"},
        {"compat:\n  - {port: 7001, target: maya, shutdown: never}\n",
         "2:42: compat[0].shutdown: expected stop or ignore, got 'never'"},
        {"compat:\n  - {port: 7001, target: maya, host: 0.0.0.0}\n",
         "2:38: compat[0].host: 0.0.0.0 is not a loopback address; a compat port cannot check "
         "who connects from elsewhere, so it only listens on loopback (127.0.0.1 or ::1)"},
        {"supervision: 10\n", "1:14: supervision: expected a mapping, got '10'"},
        {"supervision:\n", "1:13: supervision: expected a mapping, got nothing"},
        {"supervision:\n  stop_grace: 1\n  restart: always\n",
         "3:3: supervision: unknown key 'restart' (known: stop_grace, interrupt_grace, "
         "kill_grace, backoff_initial, backoff_max, crash_budget, crash_window)"},
        {"supervision:\n  stop_grace: 1\n  stop_grace: 2\n",
         "3:3: supervision: duplicate key 'stop_grace'"},
        {"supervision:\n  stop_grace: 0\n",
         "2:15: supervision.stop_grace: expected a number of seconds from 0.001 to 86400, got '0'"},
        {"supervision:\n  interrupt_grace: -1\n",
         "2:20: supervision.interrupt_grace: expected a number of seconds from 0.001 to 86400, "
         "got '-1'"},
        {"supervision:\n  kill_grace: soon\n",
         "2:15: supervision.kill_grace: expected a number of seconds from 0.001 to 86400, got "
         "'soon'"},
        {"supervision:\n  backoff_initial: 0\n",
         "2:20: supervision.backoff_initial: expected a number of seconds from 0.001 to 86400, "
         "got '0'"},
        {"supervision:\n  backoff_max: 1e9\n",
         "2:16: supervision.backoff_max: expected a number of seconds from 0.001 to 86400, got "
         "'1e9'"},
        {"supervision:\n  crash_window: [600]\n",
         "2:17: supervision.crash_window: expected a number of seconds from 0.001 to 86400, got "
         "a sequence"},
        {"supervision:\n  crash_budget: 0\n",
         "2:17: supervision.crash_budget: expected an integer from 1 to 10000, got '0'"},
        {"supervision:\n  crash_budget: 2.5\n",
         "2:17: supervision.crash_budget: expected an integer from 1 to 10000, got '2.5'"},
        {"supervision:\n  backoff_initial: 10\n  backoff_max: 5\n",
         "3:16: supervision.backoff_max: expected at least backoff_initial (10), got '5'"},
        {"supervision:\n  backoff_initial: 61\n",
         "2:20: supervision.backoff_initial: expected at most backoff_max (60), got '61'"},
        {"- listen\n", "1:1: expected a mapping, got a sequence"},
        {"listen: [\n", "2:1: did not find expected node content (while parsing a flow node at "
                        "line 2 column 1)"},
        {"listen:\n\ttcp: x\n", "2:1: found character that cannot start any token (while scanning "
                                "for the next token at line 2 column 1)"},
        {"log_level: info\n---\nlog_level: debug\n",
         "3:1: expected one YAML document, found a second one"},
        {"listen:\n  unix: "
         "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
         "2:9: listen.unix: path is 131 bytes, a Unix socket path must be shorter than 108"},
};

START_TEST(test_errors)
{
	struct config *c = fresh();
	char err[512], want[768];
	const char *path;
	int r;

	path = write_file("bad.yaml", bad[_i].yaml);
	strcpy(err, "untouched");
	r = config_load_file(c, path, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	snprintf(want, sizeof(want), "%s:%s", path, bad[_i].err);
	ck_assert_str_eq(err, want);
	/* c is unchanged */
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_int_eq(c->tcp_port, 7720);
	ck_assert_uint_eq(c->n_compat, 0);
	config_free(c);
}
END_TEST

/* A listen.tcp port that a compat port from an earlier file already uses
 * is blamed on the listen.tcp line of the file that made the clash. */
START_TEST(test_tcp_clash_with_earlier_compat)
{
	struct config *c = fresh();
	char err[512], want[512];
	const char *path;

	ck_assert_int_eq(config_load_file(c,
	                                  write_file("a.yaml", "compat: [{port: 7001, target: "
	                                                       "maya}]\n"),
	                                  err, sizeof(err)),
	                 0);
	path = write_file("b.yaml", "listen: {tcp: \"127.0.0.1:7001\"}\n");
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:15: listen.tcp: port 7001 is already used by compat[0]",
	         path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(c->tcp_port, 7720);
	config_free(c);
}
END_TEST

START_TEST(test_expand_home)
{
	char *s;

	setenv("HOME", "/home/artist", 1);
	s = config_expand_home("~/x/y");
	ck_assert_str_eq(s, "/home/artist/x/y");
	free(s);
	s = config_expand_home("~");
	ck_assert_str_eq(s, "/home/artist");
	free(s);
	s = config_expand_home("/a/~/b");
	ck_assert_str_eq(s, "/a/~/b");
	free(s);
	s = config_expand_home("~other/x");
	ck_assert_str_eq(s, "~other/x");
	free(s);
}
END_TEST

/* The shipped example is valid and, being all comments, changes nothing. */
START_TEST(test_shipped_example)
{
	struct config *c = fresh();
	char err[512] = "";
	int r;

	r = config_load_file(c, HOTLOAD_SOURCE_DIR "/conf/hotloadd.yaml", err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_int_eq(c->tcp_port, 7720);
	config_free(c);
}
END_TEST

/* The example's commented settings, uncommented, are valid too. */
START_TEST(test_shipped_example_uncommented)
{
	struct config *c = fresh();
	struct buf b = BUF_INIT;
	char line[512], err[512] = "";
	FILE *f = fopen(HOTLOAD_SOURCE_DIR "/conf/hotloadd.yaml", "r");
	int r;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		/* "#key:" and "#  key:" are settings; "# text" is prose. */
		if (line[0] == '#' && line[1] != ' ' && line[1] != '\n')
			buf_puts(&b, line + 1);
		else if (line[0] == '#' && line[1] == ' ' && line[2] == ' ' && line[3] != '#')
			buf_puts(&b, line + 1);
	}
	fclose(f);
	r = config_load_file(c, write_file("example.yaml", b.data), err, sizeof(err));
	ck_assert_msg(r == 0, "%s\n%s", err, b.data);
	ck_assert_uint_eq(c->n_compat, 2);
	ck_assert_str_eq(c->compat[1].target, "houdini:20.5");
	ck_assert_int_eq(c->tcp_port, 7720);
	ck_assert_uint_eq(c->max_payload, 64u << 20);
	ck_assert_uint_eq(c->n_hooks_dirs, 3);
	/* Every supervision key is shown, with its default. */
	ck_assert_ptr_nonnull(strstr(b.data, "\nsupervision:\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  stop_grace: 10\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  interrupt_grace: 3\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  kill_grace: 5\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  backoff_initial: 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  backoff_max: 60\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  crash_budget: 5\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n  crash_window: 600\n"));
	ck_assert_double_eq(c->supervision.stop_grace, 10);
	ck_assert_uint_eq(c->supervision.crash_budget, 5);
	buf_free(&b);
	config_free(c);
}
END_TEST

/* The configuration names the agent every worker runs: a file others can
 * change (or that sits where others can swap it) is refused. */
START_TEST(test_unsafe_file)
{
	struct config *c = fresh();
	char err[1024] = "", want[1024];
	const char *path = write_file("open.yaml", "log_level: debug\n");

	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
	         "%s is writable by everyone (mode 0666; chmod go-w %s); refusing to read the "
	         "configuration %s",
	         path, path, path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "is writable by its group (mode 0620"));

	/* in a directory others may write to, it could be replaced */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(chmod(tmpdir, 0777), 0);
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "%s is writable by everyone (mode 0777; chmod go-w %s)",
	         tmpdir, tmpdir);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_str_eq(c->log_level, "info");

	/* sticky, like /tmp: nobody else can rename or replace it */
	ck_assert_int_eq(chmod(tmpdir, 01777), 0);
	ck_assert_int_eq(config_load_file(c, path, err, sizeof(err)), 0);
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_int_eq(chmod(tmpdir, 0700), 0);
	config_free(c);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_and_comments);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_layering_and_disable);
	tcase_add_test(tc, test_supervision_layering);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unsafe_file);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_tcp_clash_with_earlier_compat);
	tcase_add_test(tc, test_expand_home);
	tcase_add_test(tc, test_shipped_example);
	tcase_add_test(tc, test_shipped_example_uncommented);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
