/* A minimal assertion harness for libsbert's C tests (in the spirit of sds' test macros).
 *
 *   CHECK(cond, "fmt", ...)   records a pass or prints the failure with file:line and continues
 *   TEST_DONE()               prints "<program>: N checks, M failed" and returns the exit code
 *
 * A test program is one main() made of CHECKs; tests/run.sh runs every program and counts them. */
#ifndef SBERT_TEST_HARNESS_H
#define SBERT_TEST_HARNESS_H
#include <stdio.h>

static int harness_checks, harness_failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        harness_checks++;                                                       \
        if (!(cond)) {                                                          \
            harness_failures++;                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

#define TEST_DONE()                                                             \
    (printf("%s: %d checks, %d failed\n", __FILE__, harness_checks,             \
            harness_failures),                                                  \
     harness_failures ? 1 : 0)

#endif
