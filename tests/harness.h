/* A minimal assertion harness for libsbert's C tests (in the spirit of sds' test macros).
 *
 *   CHECK(cond, "fmt", ...)   records a pass or prints the failure with file:line and continues
 *   TEST_DONE()               prints "<program>: N checks, M failed" and returns the exit code
 *
 * A test program is one main() made of CHECKs; tests/run.sh runs every program and counts them. */
#ifndef SBERT_TEST_HARNESS_H
#define SBERT_TEST_HARNESS_H
#include <math.h>
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

/* The value of a finite IEEE binary16 (exponent_bits 5) or bfloat16 (8) bit pattern, decoded from
 * its fields: the tests' own reading of the 2-byte weight formats, independent of libsbert's. */
static inline double test_half_value(unsigned h, int exponent_bits)
{
    const int mantissa_bits = 15 - exponent_bits, bias = (1 << (exponent_bits - 1)) - 1;
    const int exponent = (int)(h >> mantissa_bits) & ((1 << exponent_bits) - 1);
    const int mantissa = (int)h & ((1 << mantissa_bits) - 1);
    const double magnitude = exponent == 0
        ? ldexp(mantissa, 1 - bias - mantissa_bits)
        : ldexp(mantissa + (1 << mantissa_bits), exponent - bias - mantissa_bits);
    return h & 0x8000 ? -magnitude : magnitude;
}

#define TEST_DONE()                                                             \
    (printf("%s: %d checks, %d failed\n", __FILE__, harness_checks,             \
            harness_failures),                                                  \
     harness_failures ? 1 : 0)

#endif
