/* Shared by the libFuzzer targets that run text through a loaded model (fuzz_tokenizer.c,
 * fuzz_encode.c): loading the models once, an invariant check that aborts (libFuzzer reports an
 * abort as a crash, with the input that caused it), and an independent UTF-8 validator. */
#ifndef SBERT_FUZZ_COMMON_H
#define SBERT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbert.h"

#define FUZZ_MAX_MODELS 8

/* A broken invariant is a bug: say which, and abort so that libFuzzer saves the input. */
#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* Loads the models named in $SBERT_FUZZ_MODEL (paths separated by ':'), or in `defaults` (the
 * same syntax, relative to the repository root, where `make fuzz` runs). Returns the count; a
 * model that does not load stops the fuzzer before it starts. */
static int fuzz_load_models(const char *defaults, sbert_model **models)
{
    const char *env = getenv("SBERT_FUZZ_MODEL");
    char list[4096];
    snprintf(list, sizeof list, "%s", env && *env ? env : defaults);
    int n = 0;
    for (char *save = NULL, *path = strtok_r(list, ":", &save); path && n < FUZZ_MAX_MODELS;
         path = strtok_r(NULL, ":", &save)) {
        char err[512];
        if (sbert_model_load(path, NULL, &models[n], err, sizeof err) != SBERT_OK) {
            fprintf(stderr, "fuzz: cannot load %s: %s (run `make test` to convert the test "
                            "models, or set SBERT_FUZZ_MODEL)\n", path, err);
            exit(1);
        }
        n++;
    }
    REQUIRE(n > 0, "no model in \"%s\"", list);
    return n;
}

static sbert_context *fuzz_context(const sbert_model *model, size_t batch_size,
                                   sbert_utf8_policy utf8)
{
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = 1;
    p.batch_size = batch_size;
    p.utf8 = utf8;
    sbert_context *ctx = NULL;
    REQUIRE(sbert_context_create(model, &p, &ctx, NULL, 0) == SBERT_OK, "context");
    return ctx;
}

/* Well-formed UTF-8 (Unicode Table 3-7), written differently from libsbert/utf8.c on purpose:
 * decode first, then refuse overlong forms, surrogates and code points above U+10FFFF. */
static int fuzz_utf8_valid(const uint8_t *s, size_t n)
{
    static const uint32_t shortest[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    for (size_t i = 0; i < n;) {
        const uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
        else return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < shortest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

#endif
