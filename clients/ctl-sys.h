/* ctl-sys.h - what hotloadctl needs of the system: systemd units, finding
 * and spawning hotloadd, its log file */
#ifndef HOTLOAD_CTL_SYS_H
#define HOTLOAD_CTL_SYS_H

#include <stddef.h>
#include <sys/types.h>

/* Whether systemd has the user unit (systemctl --user cat UNIT succeeds). */
int ctlsys_user_unit_exists(const char *unit);

/* The main pid of a user unit, 0 when it is not running or unknown. */
long ctlsys_user_unit_pid(const char *unit);

/* The hotloadd to run: next to this hotloadctl, else on PATH. Returns 0
 * with the path in out, or -ENOENT. */
int ctlsys_find_daemon(const char *argv0, char *out, size_t outlen);

/* The log file of a daemon hotloadctl starts: hotloadd.log in the default
 * socket's directory. */
int ctlsys_log_path(char *path, size_t pathlen);

/* Open (append) the log file of a daemon hotloadctl starts:
 * hotloadd.log in the default socket's directory, which is made 0700 when
 * missing and must be ours and closed to others. Returns the fd, the path
 * in path; or -errno with the reason in reterr. */
int ctlsys_open_log(char *path, size_t pathlen, char *reterr, size_t reterrlen);

/* Start path (with --config config when not NULL) in a new session, stdin
 * /dev/null, stdout and stderr to logfd. Returns 0 with its pid, or -errno. */
int ctlsys_spawn_daemon(const char *path, const char *config, int logfd, pid_t *ret_pid);

/* Whether process pid exists (ours to signal or not). */
int ctlsys_pid_alive(pid_t pid);

#endif
