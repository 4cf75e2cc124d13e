/* pathsafe.h - is a file or directory safe to trust, and whose is it */
#ifndef HOTLOAD_PATHSAFE_H
#define HOTLOAD_PATHSAFE_H

#include <stddef.h>
#include <sys/types.h>

/* The runtime directory (the one holding the Unix socket and the token):
 * a real directory, not a symlink, owned by uid, with no permission bits
 * for group or others. -ENOENT when it does not exist, -EPERM (reason in
 * reterr, naming the path and its owner) when it is not safe. */
int pathsafe_runtime_dir(const char *dir, uid_t uid, char *reterr, size_t reterrlen);

/* Create the runtime directory dir and the missing directories above it,
 * each 0700, then check every one it created and dir itself with
 * pathsafe_runtime_dir. Directories that were there already above dir are
 * not checked here (/run/user/UID, /tmp). */
int pathsafe_make_runtime_dir(const char *dir, uid_t uid, char *reterr, size_t reterrlen);

/* sshd's StrictModes for what decides which code runs (the configuration,
 * the agent, hook files, directories on a worker's sys.path): path and
 * every directory above it, symlinks resolved, are owned by uid or root;
 * path itself is not writable by group or others; a directory above it may
 * be only when it is sticky (like /tmp, where nobody can rename what is
 * ours). -ENOENT when path does not exist; -EPERM with a reason naming
 * the offending path and its owner or mode. */
int pathsafe_trusted(const char *path, uid_t uid, char *reterr, size_t reterrlen);

/* "uid 1001 (alice)" or "uid 1001". */
void pathsafe_describe_uid(uid_t uid, char *out, size_t outlen);

#endif
