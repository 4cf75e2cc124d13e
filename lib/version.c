/* version.c - interpreter versions: their order, and what "3" asks for
 *
 * The daemon picks an install by version (a header's python:3) and
 * hotloadctl picks running targets the same way (status python:3), so
 * both ask here. */
#include <string.h>

#include "version.h"

/* Numerically, part by part; see version.h. */
int
version_cmp(const char *a, const char *b)
{
	size_t na, nb, ra, rb;
	int c;

	for (;;) {
		if (!*a || !*b)
			return *a ? 1 : *b ? -1 : 0; /* "20.5" < "20.5.0" */
		na = strspn(a, "0123456789");
		nb = strspn(b, "0123456789");
		if (!na != !nb)
			return na ? 1 : -1;
		while (na > 1 && *a == '0')
			a++, na--;
		while (nb > 1 && *b == '0')
			b++, nb--;
		if (na != nb)
			return na < nb ? -1 : 1;
		if ((c = strncmp(a, b, na)) != 0)
			return c < 0 ? -1 : 1;
		a += na;
		b += nb;
		/* A suffix ("1rc2") sorts before the plain release ("1"). */
		ra = strcspn(a, ".");
		rb = strcspn(b, ".");
		if (!ra != !rb)
			return ra ? -1 : 1;
		if ((c = strncmp(a, b, ra < rb ? ra : rb)) != 0 || ra != rb)
			return c ? (c < 0 ? -1 : 1) : (ra < rb ? -1 : 1);
		a += ra + (a[ra] == '.');
		b += rb + (b[rb] == '.');
	}
}

/* A version asks for itself and what is released under it: the parts it
 * gives must all be there, and the next one must start a new part. */
int
version_match(const char *have, const char *want)
{
	size_t len = want ? strlen(want) : 0;

	if (!len)
		return 1;
	return !strncmp(have, want, len) && (have[len] == '\0' || have[len] == '.');
}
