/* listen.c - placeholder */
