/* resolve.c - placeholder */
