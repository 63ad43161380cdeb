/* Chunked pooling (sbert_encode_options.chunking) on the xlmr-long model (CLS pooling + Normalize,
 * max_seq_length 8192) and xlmr-tiny (mean pooling, no Normalize, max_seq_length 128), with texts
 * of tests/data/golden/xlmr-long.golden.jsonl. Checks:
 *   - a text no longer than the window gives exactly (bit for bit) the vector it gets without
 *     chunking, whatever the stride;
 *   - sbert_encode_from_ids of sbert_encode_ids's ids gives exactly sbert_encode's vector;
 *   - on long texts, the chunked vector equals an independent computation: the windows cut here
 *     from the text's untruncated ids, each encoded by sbert_encode_from_ids, combined here by the
 *     token-weighted mean in double, normalized when the model normalizes (to 1e-6), for adjacent
 *     and overlapping windows, with a prompt, and past max_seq_length;
 *   - bad chunking options and bad ids get INVALID_ARGUMENT with a message, never a crash. */
#include <stdint.h>
#include <string.h>

#include "golden.h"
#include "harness.h"
#include "sbert.h"

#define GOLDEN "tests/data/golden/xlmr-long.golden.jsonl"
#define COMBINE_TOLERANCE 1e-6

static sbert_model *load(const char *name)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.sbert", build, name);
    sbert_model *model = NULL;
    CHECK(sbert_model_load(path, NULL, &model, err, sizeof err) == SBERT_OK, "load %s: %s", path,
          err);
    return model;
}

static const golden_row *row_with(const golden_row *rows, size_t n, size_t n_ids)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].n_ids == n_ids)
            return &rows[i];
    CHECK(0, "no golden row of %zu ids", n_ids);
    return NULL;
}

static int encode(sbert_context *ctx, const golden_row *r, const sbert_encode_options *o,
                  float *out, size_t dim)
{
    const char *text = r->text;
    const int rc = sbert_encode(ctx, &text, &r->len, 1, o, out, dim);
    CHECK(rc == SBERT_OK, "encode: %s", sbert_context_errmsg(ctx));
    return rc;
}

/* A text's token count before truncation. */
static size_t untruncated(sbert_context *ctx, const golden_row *r)
{
    size_t n = 0;
    sbert_tokenize(ctx, r->text, r->len, SBERT_TOKENIZE_NO_TRUNCATE, NULL, 0, &n);
    return n;
}

/* Texts that fit the window: the same bits as without chunking. */
static void check_short_texts(sbert_context *ctx, const golden_row *rows, size_t n, size_t dim)
{
    float plain[64], chunked[64];
    const size_t windows[][2] = { { 512, 0 }, { 512, 100 }, { 8192, 0 } };
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t tokens = untruncated(ctx, &rows[i]);
        if ((tokens > 1024 && tokens < 8190) || tokens > 8192)
            continue; /* the short classes, and the longest that still fit 8,192 */
        if (encode(ctx, &rows[i], NULL, plain, dim) != SBERT_OK)
            continue;
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
            if (tokens > windows[w][0])
                continue;
            sbert_encode_options o = sbert_encode_default_options();
            o.chunking.window = windows[w][0];
            o.chunking.stride = windows[w][1];
            if (encode(ctx, &rows[i], &o, chunked, dim) != SBERT_OK)
                continue;
            CHECK(memcmp(plain, chunked, dim * sizeof *plain) == 0,
                  "a text of %zu tokens, window %zu: not the unchunked vector", tokens,
                  windows[w][0]);
            checked++;
        }
    }
    CHECK(checked >= 10, "%zu short-text cases", checked);
    printf("chunking: %zu (text, window) cases no longer than the window give the unchunked "
           "vector bit for bit\n", checked);
}

/* sbert_encode_from_ids on the ids sbert_encode_ids gives is sbert_encode. */
static void check_encode_ids(sbert_context *ctx, const golden_row *r, size_t dim)
{
    static int32_t ids[16384];
    size_t n = 0;
    float a[64], b[64];
    CHECK(sbert_encode_ids(ctx, r->text, r->len, NULL, ids, 16384, &n) == SBERT_OK, "encode_ids");
    if (encode(ctx, r, NULL, a, dim) != SBERT_OK)
        return;
    CHECK(sbert_encode_from_ids(ctx, ids, n, NULL, b, dim) == SBERT_OK, "encode_from_ids: %s",
          sbert_context_errmsg(ctx));
    CHECK(memcmp(a, b, dim * sizeof *a) == 0, "encode_ids differs from encode (%zu ids)", n);
}

/* The chunked vector of a text against the windows cut and combined here. head: the ids that
 * start every window (the leading special token and the prompt's tokens), one trailing. */
static void check_combination(sbert_context *ctx, const sbert_model *model, const char *text,
                              size_t len, const char *prompt, size_t window, size_t stride,
                              const char *what, int normalizes)
{
    const size_t dim = sbert_model_dim(model);
    enum { MAX_IDS = 20000 };
    static int32_t ids[MAX_IDS], win[MAX_IDS];
    size_t n = 0, head = 1, prompt_len = prompt ? strlen(prompt) : 0;
    if (prompt) { /* the ids of prompt + text, as sentence-transformers tokenizes them */
        size_t p = 0;
        sbert_tokenize(ctx, prompt, prompt_len, SBERT_TOKENIZE_NO_SPECIAL, ids, MAX_IDS, &p);
        head += p;
        sbert_encode_options with_prompt = sbert_encode_default_options();
        with_prompt.prompt = prompt;
        CHECK(sbert_encode_ids(ctx, text, len, &with_prompt, ids, MAX_IDS, &n) == SBERT_OK &&
                  n < sbert_model_max_seq_length(model), "encode_ids with a prompt");
    } else {
        CHECK(sbert_tokenize(ctx, text, len, SBERT_TOKENIZE_NO_TRUNCATE, ids, MAX_IDS, &n) ==
                  SBERT_OK, "tokenize");
    }
    const size_t body = n - head - 1, per_window = window - head - 1;
    const size_t step = stride ? stride : per_window; /* stride 0: adjacent windows */
    double sum[64] = { 0 }, total = 0.0;
    float v[64];
    size_t windows = 0;
    for (size_t start = 0;; start += step) {
        const size_t count = body - start < per_window ? body - start : per_window;
        memcpy(win, ids, head * sizeof *ids);
        memcpy(win + head, ids + head + start, count * sizeof *ids);
        win[head + count] = ids[n - 1];
        sbert_encode_options o = sbert_encode_default_options();
        CHECK(sbert_encode_from_ids(ctx, win, head + count + 1, &o, v, dim) == SBERT_OK,
              "encode_ids: %s", sbert_context_errmsg(ctx));
        for (size_t d = 0; d < dim; d++)
            sum[d] += (double)count * v[d];
        total += (double)count;
        windows++;
        if (start + count >= body)
            break;
    }
    double norm = 0.0;
    for (size_t d = 0; d < dim; d++)
        norm += (sum[d] / total) * (sum[d] / total);
    norm = normalizes ? sqrt(norm) : 1.0;

    sbert_encode_options o = sbert_encode_default_options();
    o.prompt = prompt;
    o.chunking.window = window;
    o.chunking.stride = stride;
    float chunked[64];
    CHECK(sbert_encode(ctx, &text, &len, 1, &o, chunked, dim) == SBERT_OK, "chunked encode: %s",
          sbert_context_errmsg(ctx));
    double worst = 0.0;
    for (size_t d = 0; d < dim; d++)
        worst = fmax(worst, fabs(chunked[d] - sum[d] / total / norm));
    CHECK(windows > 1 && worst <= COMBINE_TOLERANCE,
          "%s: %zu tokens, window %zu stride %zu: %zu windows, max |diff| %.3g", what, n, window,
          stride, windows, worst);
    printf("chunking %s%s: %zu tokens, window %zu, stride %zu: %zu windows, max |diff| %.2e "
           "against the independent combination\n", what, prompt ? " (prompt)" : "", n, window,
           stride, windows, worst);
}

/* Bad options and bad ids: INVALID_ARGUMENT and a message. */
static void check_bad_input(sbert_context *ctx, const golden_row *r, size_t dim)
{
    const size_t cases[][2] = { { 9000, 0 }, { 2, 0 }, { 512, 511 }, { 0, 5 } };
    const char *text = r->text;
    float out[64];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        sbert_encode_options o = sbert_encode_default_options();
        o.chunking.window = cases[c][0];
        o.chunking.stride = cases[c][1];
        const int rc = sbert_encode(ctx, &text, &r->len, 1, &o, out, dim);
        CHECK(rc == SBERT_ERR_INVALID_ARGUMENT && sbert_context_errmsg(ctx)[0],
              "window %zu stride %zu: rc %d", cases[c][0], cases[c][1], rc);
    }
    sbert_encode_options o = sbert_encode_default_options();
    o.chunking.window = 512;
    size_t n_tokens = 0;
    CHECK(sbert_encode_tokens(ctx, text, r->len, &o, out, 64, &n_tokens) ==
              SBERT_ERR_INVALID_ARGUMENT, "encode_tokens with chunking");
    int32_t ids[16];
    CHECK(sbert_encode_ids(ctx, text, r->len, &o, ids, 16, &n_tokens) ==
              SBERT_ERR_INVALID_ARGUMENT, "encode_ids with chunking");
    const int32_t bad[][3] = { { 0, 96002, 2 }, { 0, -1, 2 } };
    for (size_t c = 0; c < 2; c++)
        CHECK(sbert_encode_from_ids(ctx, bad[c], 3, NULL, out, dim) == SBERT_ERR_INVALID_ARGUMENT &&
                  sbert_context_errmsg(ctx)[0], "encode_ids with id %d", bad[c][1]);
    const int32_t good[3] = { 0, 5, 2 };
    CHECK(sbert_encode_from_ids(ctx, good, 0, NULL, out, dim) == SBERT_ERR_INVALID_ARGUMENT, "0 ids");
    CHECK(sbert_encode_from_ids(ctx, good, 9000, NULL, out, dim) == SBERT_ERR_INVALID_ARGUMENT,
          "9000 ids");
    CHECK(sbert_encode_from_ids(ctx, NULL, 3, NULL, out, dim) == SBERT_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(sbert_encode_from_ids(ctx, good, 3, NULL, out, dim - 1) == SBERT_ERR_BUFFER_TOO_SMALL,
          "small out");
    CHECK(sbert_encode_from_ids(NULL, good, 3, NULL, out, dim) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL ctx");
}

int main(void)
{
    golden_row *rows = NULL;
    const size_t n = read_golden(GOLDEN, &rows);
    sbert_model *model = load("xlmr-long"), *tiny = load("xlmr-tiny");
    sbert_context *ctx = NULL, *tiny_ctx = NULL;
    if (model && tiny && sbert_context_create(model, NULL, &ctx, NULL, 0) == SBERT_OK &&
        sbert_context_create(tiny, NULL, &tiny_ctx, NULL, 0) == SBERT_OK && n > 0) {
        const size_t dim = sbert_model_dim(model);
        CHECK(dim <= 64 && sbert_model_dim(tiny) <= 64, "dims");
        check_short_texts(ctx, rows, n, dim);
        const golden_row *r512 = row_with(rows, n, 512), *r4096 = row_with(rows, n, 4096);
        const golden_row *r1025 = row_with(rows, n, 1025), *r3000 = row_with(rows, n, 3000);
        if (r512 && r4096 && r1025 && r3000) {
            check_encode_ids(ctx, r512, dim);
            check_combination(ctx, model, r4096->text, r4096->len, NULL, 512, 0, "xlmr-long", 1);
            check_combination(ctx, model, r4096->text, r4096->len, NULL, 512, 384, "xlmr-long",
                              1);
            check_combination(ctx, model, r1025->text, r1025->len, "query: ", 256, 200,
                              "xlmr-long", 1);
            /* mean pooling and no Normalize: the mean itself */
            check_combination(tiny_ctx, tiny, r3000->text, r3000->len, NULL, 128, 100,
                              "xlmr-tiny", 0);
            check_bad_input(ctx, r512, dim);
        }
        /* past max_seq_length: the longest text (12,000 tokens), in windows of 8,192 */
        size_t longest = 0;
        for (size_t i = 1; i < n; i++)
            longest = untruncated(ctx, &rows[i]) > untruncated(ctx, &rows[longest]) ? i : longest;
        check_combination(ctx, model, rows[longest].text, rows[longest].len, NULL, 8192, 4096,
                          "xlmr-long", 1);
    }
    sbert_context_free(ctx);
    sbert_context_free(tiny_ctx);
    sbert_model_free(model);
    sbert_model_free(tiny);
    free_rows(rows, n);
    return TEST_DONE();
}
