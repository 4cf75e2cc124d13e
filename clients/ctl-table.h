/* ctl-table.h - text tables with columns as wide as their widest cell */
#ifndef HOTLOAD_CTL_TABLE_H
#define HOTLOAD_CTL_TABLE_H

#include <stddef.h>

struct buf;
struct ctltable;

/* A table of ncol columns; the first row added is usually the header. */
struct ctltable *ctltable_new(size_t ncol);

void ctltable_free(struct ctltable *t);

/* Add a row of ncol cells (copied; NULL is shown as "-"). */
void ctltable_add(struct ctltable *t, const char *const *cells);

/* Append the table to out: cells left-aligned, two spaces between
 * columns, no trailing blanks. */
void ctltable_print(const struct ctltable *t, struct buf *out);

#endif
