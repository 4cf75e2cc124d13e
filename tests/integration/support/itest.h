/* itest.h - integration test support: a real hotloadd on a temporary
 * socket and configuration, and clients that talk to it over real sockets
 *
 * Every wait has a deadline: a hung daemon fails the test instead of hanging
 * CI. Failures go through Check's ck_assert*, so helpers may be called from
 * a test body and a failing helper fails that test. When a test fails while
 * its daemon runs, a guardian process stops the daemon, prints its log and
 * removes its directory. */
#ifndef HOTLOAD_ITEST_H
#define HOTLOAD_ITEST_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define ITEST_TIMEOUT_MS 20000 /* default deadline of one wait */

/* A "supervision:" section with short periods, so crash loops, backoff and
 * escalation happen within a test's time (string literals in seconds). */
#define ITEST_SUPERVISION(stop_grace, kill_grace)                                                  \
	"supervision:\n"                                                                           \
	"  stop_grace: " stop_grace "\n"                                                           \
	"  interrupt_grace: 0.5\n"                                                                 \
	"  kill_grace: " kill_grace "\n"                                                           \
	"  backoff_initial: 0.2\n"                                                                 \
	"  backoff_max: 5\n"                                                                       \
	"  crash_budget: 4\n"                                                                      \
	"  crash_window: 60\n"

/* A hook file body: python3 from PATH, as version 1. */
#define ITEST_PY_HOOK(name)                                                                        \
	"name: " name "\n"                                                                         \
	"hints:\n"                                                                                 \
	"  linux:\n"                                                                               \
	"    - path: python3\n"                                                                    \
	"      version: \"1\"\n"

/* What the configuration of one test's daemon holds beyond the defaults
 * (Unix socket only, no compat port, limits.max_payload 64M, log_level
 * debug, hooks_dirs = the build tree's shipped hooks then DIR/hooks.d,
 * which does not exist unless asked for). */
struct itest_opts {
	int tcp;                  /* also listen on 127.0.0.1:<free port> */
	const char *compat;       /* target of one compat port, or NULL */
	const char *compat_extra; /* more keys of that port ("    quiet: 0.05\n") */
	const char *max_payload;  /* limits.max_payload, e.g. "1M"; NULL = 64M */
	int max_connections;      /* limits.max_connections; 0 = the default */
	int fake_dcc;             /* lay out the fake mayapy/hython install root */
	/* Hook files for DIR/hooks.d: name, YAML, name, YAML, …, NULL. The
	 * directory is made only when hooks or empty_hooks_dir is given. */
	const char *const *hooks;
	int empty_hooks_dir;
	/* YAML appended as it is to hotloadd.yaml (e.g. a "supervision:"
	 * section); NULL: nothing. */
	const char *extra_config;
	/* More keys of the listen: and limits: sections ("  token: required\n"). */
	const char *listen_extra;
	const char *limits_extra;
};

/* One running hotloadd and its temporary directory. */
struct itest_daemon {
	char dir[64];        /* mkdtemp /tmp/hl-XXXXXX */
	char sock[128];      /* DIR/hotloadd.sock */
	char log[128];       /* DIR/hotloadd.log: the daemon's stdout and stderr */
	char config[128];    /* DIR/hotloadd.yaml */
	char hint_root[128]; /* DIR/root when fake_dcc, else "" */
	char fake_log[128];  /* DIR/fake-dcc.log when fake_dcc, else "" */
	int tcp_port;        /* 0 when not listening on TCP */
	int compat_port;     /* 0 when no compat port */
	pid_t pid;           /* 0 once stopped */
	pid_t guard_pid;     /* cleans up when the test dies (itest.c) */
	int guard_fd;
};

/* Where a client connects. */
enum itest_via {
	ITEST_UNIX,
	ITEST_TCP,
	ITEST_COMPAT,
};

/* --- the daemon (itest.c) --- */

/* Make the directory and config, start bin/hotloadd, wait until its
 * sockets accept connections (10 s). opts may be NULL. */
struct itest_daemon *itest_start(const struct itest_opts *opts);

/* SIGTERM, wait for the exit (deadline ms, 0 = 20 s), assert it exited 0
 * (an ASan leak report makes it non-zero), remove the directory, free. */
void itest_stop_within(struct itest_daemon *d, int deadline_ms);
#define itest_stop(d) itest_stop_within((d), 0)

/* SIGTERM and wait like itest_stop_within (asserting the deadline only),
 * but keep the directory: returns the wait status. itest_free removes the
 * directory and frees d later. */
int itest_terminate(struct itest_daemon *d, int deadline_ms);
void itest_free(struct itest_daemon *d);

/* The daemon's log so far, for messages (new string). */
char *itest_daemon_log(const struct itest_daemon *d);

/* Run every test of s (forked, as Check does by default); the exit status
 * for main(). */
int itest_run_suite(Suite *s);

/* --- small utilities (util.c) --- */

/* Milliseconds on the monotonic clock. */
long long itest_now_ms(void);
void itest_sleep_ms(int ms);

/* A port free on 127.0.0.1 right now (bind port 0, read it, close). */
int itest_free_port(void);

/* Whole file as a NUL-terminated string, or NULL when unreadable. */
char *itest_read_file(const char *path, size_t *ret_len);
void itest_write_file(const char *path, const char *data, size_t len);

/* rm -rf path (no symlinks followed). */
void itest_remove_tree(const char *path);

/* printf into a new string. */
char *itest_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* zlib's CRC-32, as Python's zlib.crc32. */
uint32_t itest_crc32(const void *data, size_t len);

/* How many times needle occurs in haystack. */
size_t itest_count(const char *haystack, const char *needle);

/* Does pid exist (kill 0)? */
int itest_pid_alive(pid_t pid);

/* Wait until path's contents contain needle; returns 1, or 0 at the
 * deadline. */
int itest_wait_file_contains(const char *path, const char *needle, int deadline_ms);

/* Assert that haystack contains needle, printing both when it does not. */
#define itest_assert_contains(haystack, needle)                                                    \
	do {                                                                                       \
		const char *_h = (haystack), *_n = (needle);                                       \
		ck_assert_msg(_h &&strstr(_h, _n), "expected to find\n  \"%s\"\nin\n  \"%s\"", _n, \
		              _h ? _h : "(null)");                                                 \
	} while (0)

#define itest_assert_not_contains(haystack, needle)                                                \
	do {                                                                                       \
		const char *_h = (haystack), *_n = (needle);                                       \
		ck_assert_msg(_h && !strstr(_h, _n), "did not expect\n  \"%s\"\nin\n  \"%s\"", _n, \
		              _h ? _h : "(null)");                                                 \
	} while (0)

/* --- sockets (net.c) --- */

/* Connect to the daemon; asserts success. */
int itest_connect(const struct itest_daemon *d, enum itest_via via);
int itest_connect_unix(const char *path);
int itest_connect_tcp(int port);
/* Try once; -errno when it fails (for "no daemon" checks). */
int itest_try_connect_unix(const char *path);

/* Write everything before the deadline; asserts success. */
void itest_send_all(int fd, const void *data, size_t len);
void itest_send_str(int fd, const char *s);
/* Same without asserting: 0, or -errno (-EPIPE when the daemon closed
 * early, -ETIMEDOUT at the deadline). */
int itest_try_send_all(int fd, const void *data, size_t len, int deadline_ms);
/* shutdown(SHUT_WR): the end of a raw payload. */
void itest_half_close(int fd);

/* Read until the peer closes; asserts it does before deadline_ms (0 = the
 * default). Returns a NUL-terminated string (the bytes may hold NULs; see
 * ret_len, may be NULL). */
char *itest_read_all(int fd, int deadline_ms, size_t *ret_len);

/* Wait until fd is readable or reaches EOF; 1, or 0 at the deadline. */
int itest_wait_readable(int fd, int deadline_ms);

/* One raw request: connect, send the header line, the payload, half-close,
 * read the whole reply. "\n" is added to a header that does not end with
 * one (so "python:3\r\n" is sent as it is). A daemon that refuses early and
 * closes while the payload is being sent is fine: its reply is returned.
 * Via ITEST_COMPAT no header is sent and there is no half-close. */
char *itest_raw(const struct itest_daemon *d, enum itest_via via, const char *header,
                const char *payload);
char *itest_raw_n(const struct itest_daemon *d, enum itest_via via, const char *header,
                  const char *payload, size_t payload_len, int deadline_ms, size_t *ret_len);

/* --- JSON mode (jclient.c) --- */

/* One JSON-mode connection. */
struct jclient {
	int fd;
	char *in; /* bytes read past the last line */
	size_t in_len;
	size_t in_cap;
	int eof;
	json_t *pending; /* messages jc_collect read for other ids, in order */
};

/* The events of one request. */
struct jreply {
	/* every event with the request's id, in order, done last: "waiting"
	 * (only before any output), "reloaded" (at most one), "stdout",
	 * "stderr", "done" */
	json_t *events;
	json_t *done;     /* borrowed from events */
	json_t *reloaded; /* the "reloaded" event's modules (borrowed), or NULL */
	char *out;        /* the "stdout" data concatenated */
	char *err;        /* the "stderr" data concatenated */
};

/* Connect and send the header line (e.g. "python:3 mode=json"). */
struct jclient *jc_open(const struct itest_daemon *d, enum itest_via via, const char *header);
/* A client around a connected socket (takes ownership of fd). */
struct jclient *jc_adopt(int fd);
void jc_close(struct jclient *c);

/* Send one line as it is (a newline is added). */
void jc_send_line(struct jclient *c, const char *line);
/* Send one request (borrowed) as a JSON line. */
void jc_send(struct jclient *c, json_t *req);
/* Send exec of code as request id, not waiting for it; timeout in seconds
 * when above 0. */
void jc_send_exec(struct jclient *c, json_int_t id, const char *code, double timeout);

/* The next message (first those jc_collect set aside); asserts one arrives
 * (valid JSON, an object) before the deadline (0 = the default). NULL at
 * EOF. */
json_t *jc_next(struct jclient *c, int deadline_ms);

/* The same, skipping "waiting" events (sent while a request waits for
 * its worker to start or to be free). */
json_t *jc_next_output(struct jclient *c, int deadline_ms);

/* Wait for EOF from the daemon, asserting nothing else arrives. */
void jc_expect_eof(struct jclient *c, int deadline_ms);

/* Collect the events of request id (an integer id) until its done. Events
 * of other ids are set aside for later jc_collect / jc_next calls; with one
 * request at a time there are none but "waiting" events of queued ones. */
void jc_collect(struct jclient *c, json_int_t id, int deadline_ms, struct jreply *ret);

/* Send {"id":id,"op":op,"code":code} (code may be NULL) and collect. */
void jc_call(struct jclient *c, json_int_t id, const char *op, const char *code,
             struct jreply *ret);
/* Same with extra fields (borrowed object merged into the request). */
void jc_call_with(struct jclient *c, json_int_t id, const char *op, const char *code, json_t *extra,
                  int deadline_ms, struct jreply *ret);

void jreply_free(struct jreply *r);

/* The done's "ok", asserted true, with the error printed when it is not. */
void jreply_assert_ok(const struct jreply *r);
/* The done's error.type, asserted to be ok:false with that type. */
void jreply_assert_error(const struct jreply *r, const char *type);
/* A string member of done.error ("" when missing). */
const char *jreply_error_str(const struct jreply *r, const char *key);

/* eval of expr on the connection, asserted ok and an integer. */
long jc_eval_long(struct jclient *c, json_int_t id, const char *expr);
/* eval "__import__('os').getpid()" on the connection. */
long jc_worker_pid(struct jclient *c, json_int_t id);

/* One control request ("hotload mode=json"): returns the done (new ref). */
json_t *itest_control(const struct itest_daemon *d, const char *op);

/* --- supervision: status, processes, hook files (supervise.c) --- */

/* One control request with extra fields (borrowed, merged into the
 * request, may be NULL): returns the done (new ref). */
json_t *itest_control_with(const struct itest_daemon *d, const char *op, json_t *fields);

/* The status object of target (e.g. "python:3"), not a retired one; NULL
 * when the daemon lists none (new ref). */
json_t *itest_target_status(const struct itest_daemon *d, const char *target);

/* A string / number member of the target's status ("" / -1 when missing
 * or when the target is not listed). */
char *itest_target_str(const struct itest_daemon *d, const char *target, const char *key);

/* Poll the target's status every 20 ms until its "state" is state; 1, or
 * 0 at the deadline. */
int itest_wait_target_state(const struct itest_daemon *d, const char *target, const char *state,
                            int deadline_ms);

/* The pid of target's template (spawn: fork) from its status; -1 when it
 * has none. */
long itest_template_pid(const struct itest_daemon *d, const char *target);

/* Wait until pid is gone (or a zombie); 1, or 0 at the deadline. */
int itest_wait_gone(pid_t pid, int deadline_ms);

/* Code whose main thread blocks SIGINT while a thread of its own takes
 * it; it prints "sleeping" and sleeps in time.sleep(30). */
#define ITEST_SIGINT_TAKEN_ELSEWHERE                                                               \
	"import signal, threading, time\n"                                                         \
	"threading.Thread(target=time.sleep, args=(20,), daemon=True).start()\n"                   \
	"signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"                              \
	"try:\n"                                                                                   \
	"    print('sleeping', flush=True)\n"                                                      \
	"    time.sleep(30)\n"                                                                     \
	"finally:\n"                                                                               \
	"    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"

/* Wait until thread id (a pid: the process's first thread) is in the
 * system call of Python's time.sleep (as /proc/ID/syscall has it):
 * clock_nanosleep since Python 3.11, select() before, which glibc makes
 * select or pselect6 by its version and the architecture; 1, or 0 at the
 * deadline. Fails the test at once when that file cannot be read. */
int itest_wait_in_sleep(pid_t id, int deadline_ms);

/* Live (not zombie) processes whose environment holds the entry "K=V";
 * up to max pids into ret (may be NULL); returns how many there are. */
size_t itest_procs_with_env(const char *entry, pid_t *ret, size_t max);

/* Wait until path holds needle at least n times; 1, or 0 at the deadline. */
int itest_wait_file_count(const char *path, const char *needle, size_t n, int deadline_ms);

/* Write DIR/hooks.d/name (made when missing), for a reload to find. */
void itest_write_hook(const struct itest_daemon *d, const char *name, const char *yaml);

/* --- processes (proc.c) --- */

/* The result of running a program. */
struct itest_proc {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
};

/* Run argv (argv[0] a path) with stdin_data (NULL = /dev/null) and extra
 * environment entries ("K=V", NULL-terminated, may be NULL); asserts it
 * ends before the deadline (0 = the default; then it is killed). */
void itest_run(const char *const *argv, const char *stdin_data, const char *const *env,
               int deadline_ms, struct itest_proc *ret);
void itest_proc_free(struct itest_proc *p);

/* BINARY_DIR/bin/<name> */
char *itest_bin(const char *name);

#endif
