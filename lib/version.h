/* version.h - interpreter versions: their order, and what "3" asks for */
#ifndef HOTLOAD_VERSION_H
#define HOTLOAD_VERSION_H

/* Compare dotted versions numerically ("20.5.332" > "20.5.10" > "20.5");
 * <0, 0, >0 like strcmp. */
int version_cmp(const char *a, const char *b);

/* Whether version have is one that want asks for: want itself, or a
 * release under it ("3" asks for "3.11", "20.5" for "20.5.332", but "3.1"
 * not for "3.11"). An empty or NULL want asks for any version. */
int version_match(const char *have, const char *want);

#endif
