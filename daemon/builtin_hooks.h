/* builtin_hooks.h - hook files compiled into hotloadd */
#ifndef HOTLOAD_BUILTIN_HOOKS_H
#define HOTLOAD_BUILTIN_HOOKS_H

extern const char builtin_python_hook[];

#endif
