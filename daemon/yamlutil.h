/* yamlutil.h - typed access to a libyaml document, with FILE:LINE:COL errors */
#ifndef HOTLOAD_YAMLUTIL_H
#define HOTLOAD_YAMLUTIL_H

#include <stddef.h>
#include <sys/stat.h>
#include <yaml.h>

/* One loaded YAML document, the name used in its messages and where the
 * one-line error of the failing call goes. */
struct yamlutil_doc {
	yaml_document_t doc;
	char *file;
	int loaded;
	char *err;
	size_t errlen;
};

/* Load the single document of a file (at most 4 MiB). A file that holds
 * nothing but comments has no root (yamlutil_root() returns NULL). ret_st,
 * when not NULL, receives fstat() of the opened file. On error returns
 * -errno (-EINVAL for bad YAML) with "FILE:LINE:COL: message" in err. */
int yamlutil_load_file(struct yamlutil_doc *d, const char *path, struct stat *ret_st, char *err,
                       size_t errlen);

/* Same, from memory; name is used in messages. */
int yamlutil_load_string(struct yamlutil_doc *d, const char *name, const char *s, size_t len,
                         char *err, size_t errlen);

/* Release a document; accepts one that failed to load. */
void yamlutil_done(struct yamlutil_doc *d);

/* The root node, or NULL when the document is empty (or just "~"). */
yaml_node_t *yamlutil_root(struct yamlutil_doc *d);

/* Node by index (from pairs and sequence items). */
yaml_node_t *yamlutil_node(struct yamlutil_doc *d, int index);

/* Write "FILE:LINE:COL: " (position of n, 1-based) and the formatted text
 * to the error buffer; returns -EINVAL. */
int yamlutil_fail(struct yamlutil_doc *d, const yaml_node_t *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "a mapping", "a sequence", "nothing", or the scalar quoted (shortened). */
const char *yamlutil_describe(const yaml_node_t *n, char *out, size_t outlen);

/* Whether n is a plain null scalar ("", "~", "null"). */
int yamlutil_is_null(const yaml_node_t *n);

/* n must be a mapping with scalar, unique keys, each one of known
 * (NULL-terminated); what names n in messages ("listen", NULL = top level). */
int yamlutil_check_map(struct yamlutil_doc *d, const yaml_node_t *n, const char *what,
                       const char *const *known);

/* Value of key in mapping n, or NULL. */
yaml_node_t *yamlutil_get(struct yamlutil_doc *d, const yaml_node_t *n, const char *key);

/* Scalar as a new string; a null scalar gives NULL when nullable, else an
 * error. Strings with a NUL byte are rejected. */
int yamlutil_string(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, int nullable,
                    char **ret);

/* Decimal integer in [min, max]. */
int yamlutil_int(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, long min, long max,
                 long *ret);

/* Finite number in [min, max] (seconds are plain numbers: 0.25, 120). */
int yamlutil_double(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, double min,
                    double max, double *ret);

/* Byte count: plain bytes or a K, M or G suffix (1024-based): "64M". */
int yamlutil_size(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, size_t min,
                  size_t *ret);

/* Sequence of non-null scalars as a NULL-terminated vector of new strings. */
int yamlutil_strv(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, char ***ret,
                  size_t *ret_n);

#endif
