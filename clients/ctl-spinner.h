/* ctl-spinner.h - a one-line progress spinner on stderr, only on a terminal */
#ifndef HOTLOAD_CTL_SPINNER_H
#define HOTLOAD_CTL_SPINNER_H

/* How often to call ctlspin_tick while the spinner shows. */
#define CTLSPIN_TICK_MS 100

struct ctlspin {
	int enabled;    /* stderr is a terminal and messages are wanted */
	int shown;      /* a line is on the screen */
	unsigned frame; /* which spinner character is next */
	double since;   /* when the current text was first set */
	char text[256];
};

/* Set up; the spinner stays silent unless stderr is a terminal (not
 * TERM=dumb) and quiet is 0. */
void ctlspin_init(struct ctlspin *s, int quiet);

/* Show text (printf-style) with the spinner and the seconds since the
 * first ctlspin_set after init or clear. */
void ctlspin_set(struct ctlspin *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Have Ctrl-C erase the spinner line before it ends hotloadctl as usual.
 * Not for exec, which handles Ctrl-C itself. */
void ctlspin_catch_sigint(struct ctlspin *s);

/* Draw the next frame; nothing when no text is set. */
void ctlspin_tick(struct ctlspin *s);

/* Erase the line, leaving the cursor where the line began. */
void ctlspin_clear(struct ctlspin *s);

/* Whether the spinner is showing (ticks are wanted). */
int ctlspin_active(const struct ctlspin *s);

#endif
