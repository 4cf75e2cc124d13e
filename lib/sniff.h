/* sniff.h - recognise protocols that must never reach a worker */
#ifndef HOTLOAD_SNIFF_H
#define HOTLOAD_SNIFF_H

#include <stddef.h>

enum sniff_result {
	SNIFF_NONE, /* none of the below */
	SNIFF_MORE, /* too few bytes to tell yet */
	SNIFF_HTTP, /* an HTTP/1.x request line, or HTTP/2's preface */
	SNIFF_TLS,  /* a TLS (or SSL 3) handshake record */
};

/* What the first len bytes a client sent look like. A web page can make
 * the browser send HTTP (and TLS) to any loopback port, so both are
 * refused before a byte of them is taken as code. eof: no more bytes come,
 * so SNIFF_MORE is not an answer. */
enum sniff_result sniff_protocol(const char *data, size_t len, int eof);

#endif
