/* ctl-spinner.c - a one-line progress spinner on stderr, only on a terminal */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl-spinner.h"
#include "ctl.h"

static const char frames[] = "|/-\\";

/* Whether a spinner line is on the screen, for the SIGINT handler. */
static volatile sig_atomic_t line_shown;

/* Ctrl-C while waiting: erase the line, then die of the signal as if we
 * had not caught it (the shell sees 130). Only async-signal-safe calls. */
static void
on_sigint(int sig)
{
	if (line_shown) {
		ssize_t n = write(STDERR_FILENO, "\r\033[K", 4);

		(void)n;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Only a terminal gets a spinner: in a pipe or a log file the carriage
 * returns and escapes would be noise. */
void
ctlspin_init(struct ctlspin *s, int quiet)
{
	const char *term = getenv("TERM");

	memset(s, 0, sizeof(*s));
	s->enabled = !quiet && isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
}

/* Columns of the terminal on stderr, 80 when unknown. */
static size_t
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Draw the spinner line in one write. It is cut to the terminal width:
 * a line that wraps could not be erased with a carriage return. */
static void
draw(struct ctlspin *s)
{
	char line[512], secs[32];
	size_t width = term_width(), n;
	double t = ctl_now() - s->since;

	secs[0] = '\0';
	if (t >= 1)
		snprintf(secs, sizeof(secs), " (%.0fs)", t);
	n = (size_t)snprintf(line, sizeof(line), "\r\033[K%c %s%s", frames[s->frame % 4], s->text,
	                     secs);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/* "\r\033[K" takes no columns; keep one spare so the cursor does not
	 * sit past the last column. */
	if (width > 1 && n > width - 1 + 4)
		n = width - 1 + 4;
	ctl_write_all(STDERR_FILENO, line, n);
	s->shown = 1;
	line_shown = 1;
}

/* New text; the clock runs on from the first text. */
void
ctlspin_set(struct ctlspin *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->enabled)
		return;
	if (!s->text[0])
		s->since = ctl_now();
	else
		s->frame++; /* set again and again by a polling loop: it turns */
	va_start(ap, fmt);
	vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	draw(s);
}

/* Leave a clean line when Ctrl-C ends the wait. */
void
ctlspin_catch_sigint(struct ctlspin *s)
{
	struct sigaction sa;

	if (!s->enabled)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* Next frame. */
void
ctlspin_tick(struct ctlspin *s)
{
	if (!s->enabled || !s->text[0])
		return;
	s->frame++;
	draw(s);
}

/* Erase the line and forget the text. */
void
ctlspin_clear(struct ctlspin *s)
{
	if (s->shown)
		ctl_write_all(STDERR_FILENO, "\r\033[K", 4);
	s->shown = 0;
	line_shown = 0;
	s->text[0] = '\0';
}

/* Showing? */
int
ctlspin_active(const struct ctlspin *s)
{
	return s->enabled && s->text[0];
}
