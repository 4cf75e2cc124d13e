/* yamlutil.c - placeholder */
