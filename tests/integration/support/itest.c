/* itest.c - placeholder */
