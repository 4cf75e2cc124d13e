/* control.c - placeholder */
