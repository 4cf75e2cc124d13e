/* ostream.h - one output pipe of a worker (fd 1 or 2), read as UTF-8 */
#ifndef HOTLOAD_OSTREAM_H
#define HOTLOAD_OSTREAM_H

#include <stddef.h>
#include <uv.h>

struct ostream;

/* What was read, repaired to valid UTF-8 (never empty). */
typedef void (*ostream_output_cb)(struct ostream *os, const char *text, size_t len, void *data);
/* The pipe reached EOF or failed: called once, after the last output. */
typedef void (*ostream_eof_cb)(struct ostream *os, void *data);

/* A stream for the process's fd (1 or 2, for its owner), not yet open:
 * ostream_pipe() is handed to uv_spawn or uv_pipe_open, then
 * ostream_start() reads it. eof may be NULL. */
struct ostream *ostream_new(uv_loop_t *loop, int fd, ostream_output_cb output, ostream_eof_cb eof,
                            void *data);

/* Stop reading and close the pipe; the stream frees itself once it is
 * closed, and calls nothing any more. Safe from inside its own callbacks;
 * accepts NULL. */
void ostream_close(struct ostream *os);

uv_pipe_t *ostream_pipe(struct ostream *os);
int ostream_fd(const struct ostream *os);

/* Read as output comes (unless paused). */
int ostream_start(struct ostream *os);

/* Stop reading for now (the reader is congested), and go on. */
void ostream_pause(struct ostream *os);
void ostream_resume(struct ostream *os);
int ostream_paused(const struct ostream *os);

/* Read whatever is in the pipe already, without waiting, paused or not. */
void ostream_drain(struct ostream *os);
/* The pipe's descriptor while ostream_drain would read it, for a poll()
 * that tells whether there is anything to read; -1 when there is none. */
int ostream_drain_fd(struct ostream *os);

/* The end of a piece of output (a request, the process): a character cut
 * off at the end of the last read stays cut, as U+FFFD. */
void ostream_finish(struct ostream *os);

/* Whether the pipe reached EOF (or failed). */
int ostream_eof(const struct ostream *os);

#endif
