/* hook.c - placeholder */
