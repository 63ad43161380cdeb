/* Long texts: the xlmr-long golden model (the BAAI/bge-m3 layout: XLM-RoBERTa, 8,194 positions,
 * CLS pooling + Normalize, max_seq_length 8192) against sentence-transformers on texts of 200 to
 * 12,000 tokens (tests/data/golden/README-models.md; past 8,192 they are cut to 8,192). Checks:
 *   - the ids of every row, as Hugging Face tokenizers gives them;
 *   - every row encoded alone with 1 and with 2 threads: max |diff| <= 1e-5, cosine >= 0.99999. */
#include <stdint.h>
#include <string.h>

#include "golden.h"
#include "harness.h"
#include "sbert.h"

#define TOLERANCE 1e-5
#define MIN_COSINE 0.99999
#define GOLDEN "tests/data/golden/xlmr-long.golden.jsonl"

static void model_path(char *path, size_t size)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    snprintf(path, size, "%s/models/xlmr-long.sbert", build);
}

static sbert_model *load_model(void)
{
    char path[512], err[512];
    model_path(path, sizeof path);
    sbert_model *model = NULL;
    const int rc = sbert_model_load(path, NULL, &model, err, sizeof err);
    CHECK(rc == SBERT_OK, "load %s: %s", path, err);
    return model;
}

static sbert_context *new_context(const sbert_model *model, int n_threads)
{
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = n_threads;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(model, &p, &ctx) == SBERT_OK, "context with %d threads", n_threads);
    return ctx;
}

static void check_ids(sbert_context *ctx, const golden_row *r, size_t row)
{
    enum { CAPACITY = 16384 };
    static int32_t ids[CAPACITY];
    size_t n = 0;
    const int rc = sbert_tokenize(ctx, r->text, r->len, SBERT_TOKENIZE_DEFAULT, ids, CAPACITY, &n);
    int same = rc == SBERT_OK && n == r->n_ids;
    for (size_t j = 0; same && j < n; j++)
        same = ids[j] == (int32_t)r->ids[j];
    CHECK(same, "row %zu: ids differ from the Hugging Face tokenizer (rc %d, %zu vs %zu ids)", row,
          rc, n, r->n_ids);
}

/* Every row encoded alone against its golden vector, with n_threads threads. */
static void check_golden(const sbert_model *model, const golden_row *rows, size_t n,
                         int n_threads)
{
    sbert_context *ctx = new_context(model, n_threads);
    if (!ctx)
        return;
    const size_t dim = sbert_model_dim(model);
    float *out = malloc(dim * sizeof *out);
    double worst_diff = 0.0, worst_cos = 1.0;
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (n_threads == 1)
            check_ids(ctx, &rows[i], i);
        const char *text = rows[i].text;
        const int rc = sbert_encode(ctx, &text, &rows[i].len, 1, NULL, out, dim);
        CHECK(rc == SBERT_OK, "row %zu: encode failed: %s", i, sbert_context_errmsg(ctx));
        CHECK(rows[i].dim == dim, "row %zu: golden dim %zu, model dim %zu", i, rows[i].dim, dim);
        if (rc != SBERT_OK || rows[i].dim != dim)
            continue;
        const double diff = max_abs_diff(out, rows[i].embedding, dim);
        const double cos = cosine_fd(out, rows[i].embedding, dim);
        CHECK(diff <= TOLERANCE && cos >= MIN_COSINE,
              "row %zu (%zu tokens, %d threads): max |diff| %.3g, cosine %.8f", i, rows[i].n_ids,
              n_threads, diff, cos);
        worst_diff = fmax(worst_diff, diff);
        worst_cos = fmin(worst_cos, cos);
        longest = rows[i].n_ids > longest ? rows[i].n_ids : longest;
    }
    printf("xlmr-long, %d thread(s): %zu rows of up to %zu tokens, max |diff| %.2e, "
           "min cosine %.9f\n", n_threads, n, longest, worst_diff, worst_cos);
    free(out);
    sbert_context_free(ctx);
}

int main(void)
{
    sbert_model *model = load_model();
    if (!model)
        return TEST_DONE();
    golden_row *rows = NULL;
    const size_t n = read_golden(GOLDEN, &rows);
    CHECK(n >= 20, "%s: %zu rows", GOLDEN, n);
    check_golden(model, rows, n, 1);
    check_golden(model, rows, n, 2);
    free_rows(rows, n);
    sbert_model_free(model);
    return TEST_DONE();
}
