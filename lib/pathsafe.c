/* pathsafe.c - is a file or directory safe to trust, and whose is it
 *
 * Two policies. The runtime directory holds the socket that carries the
 * user's code (and the token): it must be the user's alone, as tmux asks
 * of /tmp/tmux-UID, or another user could put a listener of theirs there
 * and receive the code. What decides which code runs (the configuration,
 * the agent, hooks, sys.path directories) follows sshd's StrictModes: only
 * the user and root may be able to change it, anywhere up the path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pathsafe.h"

void
pathsafe_describe_uid(uid_t uid, char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
		snprintf(out, outlen, "uid %u (%s)", (unsigned)uid, res->pw_name);
	else
		snprintf(out, outlen, "uid %u", (unsigned)uid);
}

int
pathsafe_runtime_dir(const char *dir, uid_t uid, char *reterr, size_t reterrlen)
{
	char owner[128], self[128];
	struct stat st;

	if (lstat(dir, &st) < 0) {
		int r = -errno;

		snprintf(reterr, reterrlen, "%s: %s", dir, strerror(errno));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		pathsafe_describe_uid(st.st_uid, owner, sizeof(owner));
		snprintf(reterr, reterrlen,
		         "%s is a symbolic link (owned by %s); refusing to use it as the runtime "
		         "directory: remove it",
		         dir, owner);
		return -EPERM;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(reterr, reterrlen,
		         "%s is not a directory; refusing to use it as the runtime "
		         "directory",
		         dir);
		return -EPERM;
	}
	if (st.st_uid != uid) {
		pathsafe_describe_uid(st.st_uid, owner, sizeof(owner));
		pathsafe_describe_uid(uid, self, sizeof(self));
		snprintf(reterr, reterrlen,
		         "%s is owned by %s, not by %s; refusing to use it as the runtime "
		         "directory: somebody else made it (remove it, or set XDG_RUNTIME_DIR)",
		         dir, owner, self);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(reterr, reterrlen,
		         "%s has mode %04o; the runtime directory must be 0700 (chmod 700 %s)", dir,
		         (unsigned)(st.st_mode & 07777), dir);
		return -EPERM;
	}
	return 0;
}

int
pathsafe_make_runtime_dir(const char *dir, uid_t uid, char *reterr, size_t reterrlen)
{
	size_t len = strlen(dir), i;
	char *p, *made, c;
	int r = 0;

	if (len == 0 || len >= PATH_MAX || dir[0] != '/') {
		snprintf(reterr, reterrlen, "runtime directory '%s': not an absolute path", dir);
		return -EINVAL;
	}
	p = strdup(dir);
	made = calloc(len + 1, 1); /* made[i]: the prefix of i bytes was created */
	if (!p || !made) {
		free(p);
		free(made);
		return -ENOMEM;
	}
	for (i = 1; i <= len && !r; i++) {
		if ((i < len && p[i] != '/') || p[i - 1] == '/')
			continue;
		c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0700) == 0)
			made[i] = 1;
		else if (errno != EEXIST) {
			r = -errno;
			snprintf(reterr, reterrlen, "cannot create %s: %s", p, strerror(errno));
		}
		p[i] = c;
	}
	/* What we made must still be ours: another user may not have slipped
	 * a directory or symlink of theirs in between. */
	for (i = 1; i < len && !r; i++) {
		if (!made[i])
			continue;
		c = p[i];
		p[i] = '\0';
		r = pathsafe_runtime_dir(p, uid, reterr, reterrlen);
		p[i] = c;
	}
	if (!r)
		r = pathsafe_runtime_dir(dir, uid, reterr, reterrlen);
	free(made);
	free(p);
	return r;
}

/* One directory or file on the way: owner and write bits. strict: no
 * write bits for others at all; else a sticky directory may have them. */
static int
check_one(const char *path, const struct stat *st, uid_t uid, int strict, char *reterr,
          size_t reterrlen)
{
	char owner[128], self[128];

	if (st->st_uid != 0 && st->st_uid != uid) {
		pathsafe_describe_uid(st->st_uid, owner, sizeof(owner));
		pathsafe_describe_uid(uid, self, sizeof(self));
		snprintf(reterr, reterrlen, "%s is owned by %s, not by %s or root", path, owner,
		         self);
		return -EPERM;
	}
	if ((st->st_mode & 022) && (strict || !S_ISDIR(st->st_mode) || !(st->st_mode & S_ISVTX))) {
		snprintf(reterr, reterrlen, "%s is writable by %s (mode %04o; chmod go-w %s)", path,
		         (st->st_mode & 002) ? "everyone" : "its group",
		         (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int
pathsafe_trusted(const char *path, uid_t uid, char *reterr, size_t reterrlen)
{
	char *real;
	struct stat st;
	char *slash;
	int r;

	real = realpath(path, NULL);
	if (!real) {
		r = -errno;
		snprintf(reterr, reterrlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (stat(real, &st) < 0) {
		r = -errno;
		snprintf(reterr, reterrlen, "%s: %s", real, strerror(errno));
		goto out;
	}
	r = check_one(real, &st, uid, 1, reterr, reterrlen);
	/* then every directory above it, up to / */
	while (r >= 0 && (slash = strrchr(real, '/'))) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &st) < 0) {
			r = -errno;
			snprintf(reterr, reterrlen, "%s: %s", real, strerror(errno));
			break;
		}
		r = check_one(real, &st, uid, 0, reterr, reterrlen);
		if (slash == real)
			break;
	}
out:
	free(real);
	return r;
}
