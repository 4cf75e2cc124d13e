/* proc.h - other programs: finding one on PATH, running one and waiting */
#ifndef HOTLOAD_PROC_H
#define HOTLOAD_PROC_H

struct buf;

enum proc_flags {
	PROC_QUIET = 1 << 0, /* the program's stderr (and stdout unless captured) to /dev/null */
};

/* The executable file name stands for: name itself when it has a '/',
 * else the first NAME in a directory of $PATH (/usr/local/bin:/usr/bin:/bin
 * when PATH is unset) that is a regular file we may execute. Returns 0
 * with a new string in *ret_path, or -ENOENT. */
int proc_find_exe(const char *name, char **ret_path);

/* Run argv (argv[0] looked up on PATH) with stdin from /dev/null and wait
 * for it; blocking, so for a client and never in the daemon's loop. Its
 * stdout goes to ret_out when that is not NULL. Returns its exit status
 * (0-255, 128+N for signal N) or -errno when it could not be run. */
int proc_run(char *const argv[], unsigned flags, struct buf *ret_out);

/* In a child between fork and exec: undo what the parent set up for
 * itself that exec would hand on (an ignored SIGPIPE, a caught SIGINT, a
 * signal mask) and point stdin at /dev/null. Async-signal-safe. */
void proc_child_reset(void);

#endif
