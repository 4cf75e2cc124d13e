/* peer.c - who is at the other end of a client connection
 *
 * Running code is the product, so who may connect is the whole of security:
 * the daemon's own user and root. A Unix socket says who its peer is. A TCP
 * connection from this machine does not, but the kernel lists every socket
 * with its owner: the client's socket is the one whose local address is our
 * peer's and whose remote address is ours. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "peer.h"

/* An address as /proc/net/tcp prints it: the raw 32-bit words in host
 * order, then the port. */
static void
proc_addr(const struct sockaddr_storage *sa, char *out, size_t outlen)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		snprintf(out, outlen, "%08X:%04X", in->sin_addr.s_addr, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		uint32_t w[4];

		memcpy(w, &in6->sin6_addr, sizeof(w));
		snprintf(out, outlen, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
		         ntohs(in6->sin6_port));
	}
}

/* The owner of the socket listed in file with these two addresses. */
static int
find_owner(const char *file, const char *want_local, const char *want_remote, uid_t *ret)
{
	char line[512];
	FILE *f = fopen(file, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char laddr[64], raddr[64];
		unsigned long uid;

		if (sscanf(line, "%*d: %63s %63s %*x %*x:%*x %*x:%*x %*x %lu", laddr, raddr,
		           &uid) != 3)
			continue;
		if (!strcmp(laddr, want_local) && !strcmp(raddr, want_remote)) {
			*ret = (uid_t)uid;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* 127.0.0.1 as an IPv6 client sees it: ::ffff:127.0.0.1. */
static void
map_v4(const struct sockaddr_storage *v4, struct sockaddr_storage *out)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)v4;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = in->sin_port;
	in6->sin6_addr.s6_addr[10] = 0xff;
	in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&in6->sin6_addr.s6_addr[12], &in->sin_addr, 4);
}

/* ::ffff:127.0.0.1 as the IPv4 client's own socket sees it; 0 when sa is
 * not an IPv4-mapped address. */
static int
unmap_v4(const struct sockaddr_storage *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	struct sockaddr_in *in = (struct sockaddr_in *)out;

	if (sa->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return 0;
	memset(out, 0, sizeof(*out));
	in->sin_family = AF_INET;
	in->sin_port = in6->sin6_port;
	memcpy(&in->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	return 1;
}

/* The owner of the client's socket in file (/proc/net/tcp or tcp6): the
 * one whose local end is our remote one and the other way round. */
static int
find_client(const char *file, const struct sockaddr_storage *ours,
            const struct sockaddr_storage *theirs, uid_t *ret)
{
	char want_local[64], want_remote[64];

	proc_addr(theirs, want_local, sizeof(want_local));
	proc_addr(ours, want_remote, sizeof(want_remote));
	return find_owner(file, want_local, want_remote, ret);
}

static int
tcp_peer_uid(int fd, uid_t *ret)
{
	struct sockaddr_storage local, remote, mlocal, mremote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote);
	int r;

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) < 0)
		return -errno;
	if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (local.ss_family == AF_INET6) {
		r = find_client("/proc/net/tcp6", &local, &remote, ret);
		/* an IPv4 client of a dual-stack listener: its socket is in tcp */
		if (r == -ENOENT && unmap_v4(&local, &mlocal) && unmap_v4(&remote, &mremote))
			r = find_client("/proc/net/tcp", &mlocal, &mremote, ret);
		return r;
	}
	r = find_client("/proc/net/tcp", &local, &remote, ret);
	if (r == -ENOENT) {
		/* an IPv6 client socket connected to our IPv4 listener */
		map_v4(&local, &mlocal);
		map_v4(&remote, &mremote);
		r = find_client("/proc/net/tcp6", &mlocal, &mremote, ret);
	}
	return r;
}

int
peer_uid(int fd, uid_t *ret)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	if (sa.ss_family == AF_UNIX) {
		struct ucred cred;

		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			return -errno;
		*ret = cred.uid;
		return 0;
	}
	return tcp_peer_uid(fd, ret);
}
