/* request.c - placeholder */
