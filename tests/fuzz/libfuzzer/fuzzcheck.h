/* fuzzcheck.h - what the libFuzzer harnesses share */
#ifndef HOTLOAD_FUZZCHECK_H
#define HOTLOAD_FUZZCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property of the code under test that failed: a finding, reported
 * like a crash (libFuzzer saves the input). */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* An error message is one line (config.h, hook.h; crashes/README.md). */
#define FUZZ_CHECK_ONE_LINE(s) FUZZ_CHECK(!strchr((s), '\n'))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
