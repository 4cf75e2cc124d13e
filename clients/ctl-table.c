/* ctl-table.c - text tables with columns as wide as their widest cell */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctl-table.h"

struct ctltable {
	size_t ncol;
	size_t nrow;
	char **cells; /* nrow * ncol */
};

/* An empty table. */
struct ctltable *
ctltable_new(size_t ncol)
{
	struct ctltable *t = xcalloc(1, sizeof(*t));

	t->ncol = ncol;
	return t;
}

/* Free it all; accepts NULL. */
void
ctltable_free(struct ctltable *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrow * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Add a row. */
void
ctltable_add(struct ctltable *t, const char *const *cells)
{
	size_t i;

	t->cells = xrealloc(t->cells, (t->nrow + 1) * t->ncol * sizeof(*t->cells));
	for (i = 0; i < t->ncol; i++)
		t->cells[t->nrow * t->ncol + i] = xstrdup(cells[i] ? cells[i] : "-");
	t->nrow++;
}

/* Width on screen: UTF-8 continuation bytes take no column. Paths and
 * descriptions may well hold non-ASCII letters. */
static size_t
width_of(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Print; see ctl-table.h. */
void
ctltable_print(const struct ctltable *t, struct buf *out)
{
	size_t *width = xcalloc(t->ncol, sizeof(*width));
	size_t r, i;

	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < t->ncol; i++) {
			size_t w = width_of(t->cells[r * t->ncol + i]);

			if (w > width[i])
				width[i] = w;
		}
	for (r = 0; r < t->nrow; r++) {
		size_t last = t->ncol;

		/* Trailing empty cells are not padded either. */
		while (last > 1 && !t->cells[r * t->ncol + last - 1][0])
			last--;
		for (i = 0; i < last; i++) {
			const char *cell = t->cells[r * t->ncol + i];

			buf_puts(out, cell);
			if (i + 1 < last)
				buf_printf(out, "%*s", (int)(width[i] - width_of(cell) + 2), "");
		}
		buf_puts(out, "\n");
	}
	free(width);
}
