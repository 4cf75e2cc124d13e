/* ctl-dap.h - Debug Adapter Protocol messages on a byte stream: each a
 * "Content-Length: N" header block, a blank line, then N bytes of JSON */
#ifndef HOTLOAD_CTL_DAP_H
#define HOTLOAD_CTL_DAP_H

#include <jansson.h>
#include <stddef.h>

struct buf;

#define CTLDAP_MAX (64u << 20) /* bytes of one message's body */

/* Take the first whole message out of in[0..len). Returns 1 with the
 * message (the caller's reference) in *ret and its length, header
 * included, in *ret_used; 0 when in holds no whole message yet; -EBADMSG,
 * with why in reterr, when it is not DAP (no or a bad Content-Length, a
 * body above CTLDAP_MAX, a body that is not a JSON object). */
int ctldap_parse(const char *in, size_t len, json_t **ret, size_t *ret_used, char *reterr,
                 size_t reterrlen);

/* Read from fd into in until it holds a whole message, and take it out
 * (as ctldap_parse). Waits up to timeout_ms in all (-1: for ever).
 * Returns 1 with *ret; 0 at EOF; -ETIMEDOUT; -EBADMSG; other -errno. */
int ctldap_read(int fd, struct buf *in, int timeout_ms, json_t **ret, char *reterr,
                size_t reterrlen);

/* Write msg to fd as one message; -EINVAL when it cannot be encoded,
 * other -errno when the write failed. */
int ctldap_write(int fd, json_t *msg);

#endif
