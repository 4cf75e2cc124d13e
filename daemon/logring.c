/* logring.c - a target's recent output, in a fixed amount of memory */
#include "logring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Each record is this header and then len bytes of text, both of which may
 * wrap around the end of the buffer. */
struct rec {
	double time;
	int32_t pid;
	uint32_t len;
	int32_t fd;
};

void
logring_init(struct logring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	r->text_left = cap > sizeof(struct rec) ? cap - sizeof(struct rec) : 0;
}

void
logring_free(struct logring *r)
{
	free(r->data);
	logring_init(r, r->cap);
}

size_t
logring_count(const struct logring *r)
{
	return r->n;
}

static void
put(struct logring *r, size_t off, const void *src, size_t len)
{
	size_t first = r->cap - off < len ? r->cap - off : len;

	memcpy(r->data + off, src, first);
	memcpy(r->data, (const char *)src + first, len - first);
}

static void
get(const struct logring *r, size_t off, void *dst, size_t len)
{
	size_t first = r->cap - off < len ? r->cap - off : len;

	memcpy(dst, r->data + off, first);
	memcpy((char *)dst + first, r->data, len - first);
}

static size_t
advance(const struct logring *r, size_t off, size_t by)
{
	return (off + by) % r->cap;
}

static void
drop_oldest(struct logring *r)
{
	struct rec h;

	get(r, r->head, &h, sizeof(h));
	r->head = advance(r, r->head, sizeof(h) + h.len);
	r->used -= sizeof(h) + h.len;
	r->n--;
}

void
logring_add(struct logring *r, double time, pid_t pid, int fd, const char *text, size_t len)
{
	struct rec h;
	size_t need, tail;

	if (!r->text_left || !len)
		return;
	if (len > r->text_left) {
		text += len - r->text_left;
		len = r->text_left;
		while (len && ((unsigned char)*text & 0xc0) == 0x80) {
			text++;
			len--;
		}
	}
	if (!r->data)
		r->data = xmalloc(r->cap);
	need = sizeof(h) + len;
	while (r->used + need > r->cap)
		drop_oldest(r);
	h.time = time;
	h.pid = (int32_t)pid;
	h.len = (uint32_t)len;
	h.fd = fd;
	tail = advance(r, r->head, r->used);
	put(r, tail, &h, sizeof(h));
	put(r, advance(r, tail, sizeof(h)), text, len);
	r->used += need;
	r->n++;
}

json_t *
logring_json(const struct logring *r, size_t max)
{
	json_t *out = json_array();
	size_t off = r->head, i;
	struct buf text = BUF_INIT;

	for (i = 0; i < r->n; i++) {
		struct rec h;

		get(r, off, &h, sizeof(h));
		if (r->n - i <= max) {
			buf_clear(&text);
			buf_reserve(&text, h.len);
			get(r, advance(r, off, sizeof(h)), text.data, h.len);
			text.len = h.len;
			json_array_append_new(out,
			                      json_pack("{s:f, s:i, s:s, s:o}", "time", h.time,
			                                "pid", (int)h.pid, "stream",
			                                h.fd == 1 ? "stdout" : "stderr", "data",
			                                json_stringn_nocheck(text.data, text.len)));
		}
		off = advance(r, off, sizeof(h) + h.len);
	}
	buf_free(&text);
	return out;
}
