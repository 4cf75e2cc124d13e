/* readbuf.c - the one buffer that worker sockets are read into */
#include "readbuf.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "buf.h"

static char shared[READBUF_SIZE] __attribute__((aligned(4096)));
static int locked;

void
readbuf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	*b = uv_buf_init(shared, sizeof(shared));
}

void
readbuf_lock(void)
{
	locked++;
}

void
readbuf_unlock(void)
{
	locked--;
}

char *
readbuf_borrow(void)
{
	if (locked)
		return xmalloc(READBUF_SIZE);
	locked++;
	return shared;
}

void
readbuf_return(char *b)
{
	if (b == shared)
		locked--;
	else
		free(b);
}

void
readbuf_release_memory(void)
{
#ifdef MADV_DONTNEED
	if (!locked)
		madvise(shared, sizeof(shared), MADV_DONTNEED);
#endif
}
