/* Reading tests/data/golden/<model>.golden.jsonl, whose rows {"text", "ids", "embedding"} come from
 * the real Hugging Face tokenizers and sentence-transformers (tests/data/golden/README-models.md),
 * and comparing vectors with them. Header-only, for the test programs. */
#ifndef SBERT_TEST_GOLDEN_H
#define SBERT_TEST_GOLDEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../examples/jsonl.h"
#include "harness.h"

typedef struct {
    char *text;
    size_t len;
    double *ids, *embedding;
    size_t n_ids, dim;
} golden_row;

/* Reads every row of `path` into *rows_out (malloc'd); returns the count. */
static inline size_t read_golden(const char *path, golden_row **rows_out)
{
    *rows_out = NULL;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return 0;
    golden_row *rows = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    while (getline(&line, &line_cap, f) > 0) {
        if (n == cap)
            rows = realloc(rows, (cap = cap ? 2 * cap : 64) * sizeof *rows);
        golden_row *r = &rows[n];
        int bad = jsonl_get_string(line, "text", &r->text, &r->len) ||
                  jsonl_get_numbers(line, "ids", &r->ids, &r->n_ids) ||
                  jsonl_get_numbers(line, "embedding", &r->embedding, &r->dim);
        CHECK(!bad, "%s: malformed row %zu", path, n + 1);
        if (bad)
            break;
        n++;
    }
    free(line);
    fclose(f);
    *rows_out = rows;
    return n;
}

static inline void free_rows(golden_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].text);
        free(rows[i].ids);
        free(rows[i].embedding);
    }
    free(rows);
}

static inline double max_abs_diff(const float *a, const double *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static inline double cosine_fd(const float *a, const double *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

#endif
