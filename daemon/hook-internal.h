/* hook-internal.h - declarations shared by hook.c, hook-set.c and hook-spawn.c */
#ifndef HOTLOAD_HOOK_INTERNAL_H
#define HOTLOAD_HOOK_INTERNAL_H

#include "hook.h"
#include "yamlutil.h"

/* Build a hook from a document's root (may be NULL); base is the file's
 * directory, or NULL. On error returns -errno with the message in d. */
int hook_parse(struct yamlutil_doc *d, const yaml_node_t *root, const char *base,
               struct hook **ret);

/* Free a hook and everything it owns; accepts NULL and a half-built one. */
void hook_free(struct hook *h);

/* Directory part of path, made absolute when asked; NULL when path has no '/'. */
char *hook_base_dir(const char *path, int absolute);

#endif
