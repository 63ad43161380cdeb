/* Long texts: the xlmr-long golden model (the BAAI/bge-m3 layout: XLM-RoBERTa, 8,194 positions,
 * CLS pooling + Normalize, max_seq_length 8192) against sentence-transformers on texts of 200 to
 * 12,000 tokens (tests/data/golden/README-models.md; past 8,192 they are cut to 8,192). Checks:
 *   - the ids of every row, as Hugging Face tokenizers gives them;
 *   - every row encoded alone with 1 and with 2 threads: max |diff| <= 1e-5, cosine >= 0.99999;
 *   - the peak resident memory of a fresh process that loads the model and encodes the longest
 *     text, with 1 and with 2 threads: under 100 MB (getrusage of the child; the model file is
 *     5 MB). Skipped in sanitized builds, whose shadow memory is not the library's;
 *   - sbert_context_memory grows linearly with the length (twice the tokens, at most 2.2 times
 *     the bytes), and the context's own figure for 8,192 tokens is under that limit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* wait4 */
#endif
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "golden.h"
#include "harness.h"
#include "sbert.h"

#define TOLERANCE 1e-5
#define MIN_COSINE 0.99999
#define PEAK_RSS_LIMIT_MB 100.0
#define GOLDEN "tests/data/golden/xlmr-long.golden.jsonl"

extern char **environ;

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
    CHECK(sbert_context_create(model, &p, &ctx, NULL, 0) == SBERT_OK, "context with %d threads", n_threads);
    return ctx;
}

/* The row with the most tokens, the longest text among those. */
static size_t longest_row(const golden_row *rows, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (rows[i].n_ids > rows[best].n_ids ||
            (rows[i].n_ids == rows[best].n_ids && rows[i].len > rows[best].len))
            best = i;
    return best;
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

/* ---- peak memory ---------------------------------------------------------------------------- */

/* The child process: load the model, encode the longest golden text once, exit. */
static int peak_rss_child(int n_threads)
{
    golden_row *rows = NULL;
    const size_t n = read_golden(GOLDEN, &rows);
    sbert_model *model = load_model();
    sbert_context *ctx = model ? new_context(model, n_threads) : NULL;
    int rc = -1;
    if (ctx && n > 0) {
        const golden_row *r = &rows[longest_row(rows, n)];
        float out[64];
        const char *text = r->text;
        rc = sbert_model_dim(model) <= 64 ? sbert_encode(ctx, &text, &r->len, 1, NULL, out, 64)
                                          : -1;
    }
    sbert_context_free(ctx);
    sbert_model_free(model);
    free_rows(rows, n);
    return rc == SBERT_OK ? 0 : 1;
}

/* Runs this program as the child above (a fresh process: posix_spawn, so nothing of this one's
 * memory is inherited) and returns its peak resident memory in MB, or -1. */
static double child_peak_rss_mb(const char *self, int n_threads)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", n_threads);
    char *argv[] = { (char *)self, "--peak-rss", threads, NULL };
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
        return -1.0;
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1.0;
    return ru.ru_maxrss / 1024.0;
}

static void check_peak_rss(const char *self)
{
    if (getenv("SBERT_SANITIZED")) {
        printf("SKIP peak resident memory: a sanitized build (its shadow memory and quarantine "
               "are not the library's)\n");
        return;
    }
    for (int n_threads = 1; n_threads <= 2; n_threads++) {
        const double mb = child_peak_rss_mb(self, n_threads);
        CHECK(mb > 0.0, "the child process encoding the longest text failed");
        CHECK(mb < PEAK_RSS_LIMIT_MB, "longest text, %d thread(s): peak RSS %.1f MB >= %.0f MB",
              n_threads, mb, PEAK_RSS_LIMIT_MB);
        printf("xlmr-long, longest text, %d thread(s): peak resident memory %.1f MB (limit %.0f)\n",
               n_threads, mb, PEAK_RSS_LIMIT_MB);
    }
}

/* The documented working memory of a context: linear in the text's length. */
static void check_memory_formula(const sbert_model *model)
{
    size_t previous = 0;
    for (size_t tokens = 512; tokens <= 8192; tokens *= 2) {
        const size_t bytes = sbert_context_memory(model, NULL, tokens);
        CHECK(bytes > 0, "sbert_context_memory(%zu) is 0", tokens);
        if (previous)
            CHECK(bytes <= previous * 2.2, "%zu tokens: %zu bytes, %zu at half the length", tokens,
                  bytes, previous);
        previous = bytes;
    }
    CHECK(previous < PEAK_RSS_LIMIT_MB * 1e6, "8,192 tokens: %zu bytes", previous);
    CHECK(sbert_context_memory(model, NULL, 0) == 0 && sbert_context_memory(model, NULL, 9000) == 0 &&
              sbert_context_memory(NULL, NULL, 512) == 0, "sbert_context_memory out of range");
    printf("xlmr-long: sbert_context_memory(8192) = %.1f MB\n", previous / 1e6);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--peak-rss") == 0)
        return peak_rss_child(atoi(argv[2]));
    check_peak_rss(argv[0]);
    sbert_model *model = load_model();
    if (!model)
        return TEST_DONE();
    golden_row *rows = NULL;
    const size_t n = read_golden(GOLDEN, &rows);
    CHECK(n >= 20, "%s: %zu rows", GOLDEN, n);
    check_memory_formula(model);
    check_golden(model, rows, n, 1);
    check_golden(model, rows, n, 2);
    free_rows(rows, n);
    sbert_model_free(model);
    return TEST_DONE();
}
