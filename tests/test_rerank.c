/* Cross-encoders (rerankers, NLI) against the real sentence-transformers CrossEncoder.
 *
 * tests/data/cross-encoders/<model>.golden.jsonl rows {"a", "b", "ids", "type_ids", "logits",
 * "scores"} were produced by sentence-transformers 2.7 (CrossEncoder.predict, one pair at a time,
 * fp32) with the Rust tokenizers library (tests/data/cross-encoders/README.md). For every row of
 * the three models (BERT, XLM-R, klue RoBERTa with 3 labels) this checks:
 *   - the ids and token types of sbert_tokenize_pair, exactly;
 *   - the logits and scores of the pair run alone (sbert_predict): within 1e-5;
 *   - all rows in one call (padding-free batches of mixed lengths, 1 and 2 threads): within 1e-5
 *     of the golden values too;
 * and on top: sbert_rerank equals sbert_predict on the same pairs, its ranking is the stable
 * descending order of its scores, and every door refuses bad input with its own code.
 * tests/data/tokenize/pairs-edge.<model>.jsonl: pairs holding special-token strings ("[SEP]",
 * "<s>", ...) cut to max_length 5 to 16, tokenized by the real tokenizers 0.23.2
 * (tools/golden_tokenize_hf.js pairs): the ids and types of sbert_tokenize_pair, exactly. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/jsonl.h"
#include "harness.h"
#include "sbert.h"

#define TOLERANCE 1e-5
#define MAX_IDS 1024

typedef struct {
    char *a, *b;
    size_t a_len, b_len;
    double *ids, *type_ids, *logits, *scores;
    size_t n_ids, n_types, n_logits, n_scores;
} golden_pair;

static size_t read_golden(const char *path, golden_pair **rows_out)
{
    *rows_out = NULL;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return 0;
    golden_pair *rows = NULL;
    size_t n = 0, cap = 0, line_cap = 0;
    char *line = NULL;
    while (getline(&line, &line_cap, f) > 0) {
        if (n == cap)
            rows = realloc(rows, (cap = cap ? 2 * cap : 64) * sizeof *rows);
        golden_pair *r = &rows[n];
        memset(r, 0, sizeof *r);
        const int bad = jsonl_get_string(line, "a", &r->a, &r->a_len) ||
                        jsonl_get_string(line, "b", &r->b, &r->b_len) ||
                        jsonl_get_numbers(line, "ids", &r->ids, &r->n_ids) ||
                        jsonl_get_numbers(line, "type_ids", &r->type_ids, &r->n_types) ||
                        jsonl_get_numbers(line, "logits", &r->logits, &r->n_logits) ||
                        jsonl_get_numbers(line, "scores", &r->scores, &r->n_scores);
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

static void free_row(golden_pair *r)
{
    free(r->a);
    free(r->b);
    free(r->ids);
    free(r->type_ids);
    free(r->logits);
    free(r->scores);
}

static void free_rows(golden_pair *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_row(&rows[i]);
    free(rows);
}

static sbert_model *load(const char *file)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.sbert", build, file);
    sbert_model *model = NULL;
    const int rc = sbert_model_load(path, NULL, &model, err, sizeof err);
    CHECK(rc == SBERT_OK, "load %s: %s", path, err);
    return model;
}

static sbert_context *context(const sbert_model *model, int n_threads, size_t batch_size)
{
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = n_threads;
    p.batch_size = batch_size;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(model, &p, &ctx, NULL, 0) == SBERT_OK, "context");
    return ctx;
}

/* Largest |x - golden| over n values. */
static double max_diff(const float *x, const double *golden, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i] - golden[i]));
    return m;
}

static void check_tokens(sbert_context *ctx, const golden_pair *r, size_t row)
{
    int32_t ids[MAX_IDS], types[MAX_IDS];
    size_t n = 0;
    const int rc = sbert_tokenize_pair(ctx, r->a, r->a_len, r->b, r->b_len, 0, ids, types,
                                       MAX_IDS, &n);
    int same = rc == SBERT_OK && n == r->n_ids && n == r->n_types;
    for (size_t j = 0; same && j < n; j++)
        same = ids[j] == (int32_t)r->ids[j] && types[j] == (int32_t)r->type_ids[j];
    CHECK(same, "row %zu: ids or token types differ from Hugging Face's (rc %d: %s; %zu vs %zu)",
          row, rc, sbert_context_errmsg(ctx), n, r->n_ids);
}

/* Which text keeps the odd token when a pair is cut depends on where Hugging Face stops reading
 * each text; a special-token string inside a text moves that point (it is added without a
 * check of the limit). */
static void check_pair_edges(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/tokenize/pairs-edge.%s.jsonl", name);
    sbert_model *model = load(name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!model || !f) {
        if (f)
            fclose(f);
        sbert_model_free(model);
        return;
    }
    sbert_context *ctx = context(model, 1, 32);
    char *line = NULL;
    size_t line_cap = 0, row = 0, differ = 0;
    while (getline(&line, &line_cap, f) > 0) {
        golden_pair r = { 0 };
        const char *max_key = strstr(line, "\"max_length\":");
        const int bad = !max_key || jsonl_get_string(line, "a", &r.a, &r.a_len) ||
                        jsonl_get_string(line, "b", &r.b, &r.b_len) ||
                        jsonl_get_numbers(line, "ids", &r.ids, &r.n_ids) ||
                        jsonl_get_numbers(line, "types", &r.type_ids, &r.n_types);
        CHECK(!bad, "%s: malformed row %zu", path, row + 1);
        if (!bad) {
            const size_t max_length = strtoul(max_key + strlen("\"max_length\":"), NULL, 10);
            int32_t ids[MAX_IDS], types[MAX_IDS];
            size_t n = 0;
            const int rc = sbert_tokenize_pair(ctx, r.a, r.a_len, r.b, r.b_len, max_length, ids,
                                               types, MAX_IDS, &n);
            int same = rc == SBERT_OK && n == r.n_ids && n == r.n_types;
            for (size_t j = 0; same && j < n; j++)
                same = ids[j] == (int32_t)r.ids[j] && types[j] == (int32_t)r.type_ids[j];
            differ += !same;
            CHECK(same, "%s row %zu (max_length %zu): ids or types differ from Hugging Face's "
                  "(rc %d, %zu vs %zu ids)", path, row + 1, max_length, rc, n, r.n_ids);
        }
        free_row(&r);
        row++;
        if (bad)
            break;
    }
    printf("%s: %zu pairs, %zu differ\n", path, row, differ);
    free(line);
    fclose(f);
    sbert_context_free(ctx);
    sbert_model_free(model);
}

/* Every pair alone; returns the logits [n x labels] for the batch comparison. */
static float *check_single(sbert_context *ctx, const golden_pair *rows, size_t n, size_t labels,
                           double *worst)
{
    float *logits = calloc(n * labels, sizeof *logits);
    float scores[16];
    *worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const char *a = rows[i].a, *b = rows[i].b;
        const int rc = sbert_predict(ctx, &a, &rows[i].a_len, &b, &rows[i].b_len, 1, NULL,
                                     logits + i * labels, scores, labels);
        CHECK(rc == SBERT_OK, "row %zu: predict failed: %s", i, sbert_context_errmsg(ctx));
        CHECK(rows[i].n_logits == labels && rows[i].n_scores == labels, "row %zu: %zu labels", i,
              rows[i].n_logits);
        const double d = fmax(max_diff(logits + i * labels, rows[i].logits, labels),
                              max_diff(scores, rows[i].scores, labels));
        CHECK(d <= TOLERANCE, "row %zu: max |diff| %.3g", i, d);
        *worst = fmax(*worst, d);
    }
    return logits;
}

/* All rows in one call, batches of 8 pairs of mixed lengths. */
static void check_batched(const sbert_model *model, const golden_pair *rows, size_t n,
                          size_t labels, const float *single, int n_threads)
{
    sbert_context *ctx = context(model, n_threads, 8);
    const char **a = malloc(n * sizeof *a), **b = malloc(n * sizeof *b);
    size_t *a_len = malloc(n * sizeof *a_len), *b_len = malloc(n * sizeof *b_len);
    float *logits = malloc(n * labels * sizeof *logits), *scores = malloc(n * labels * sizeof *scores);
    for (size_t i = 0; i < n; i++) {
        a[i] = rows[i].a, b[i] = rows[i].b;
        a_len[i] = rows[i].a_len, b_len[i] = rows[i].b_len;
    }
    const int rc = sbert_predict(ctx, a, a_len, b, b_len, n, NULL, logits, scores, n * labels);
    CHECK(rc == SBERT_OK, "batched predict: %s", sbert_context_errmsg(ctx));
    double golden = 0.0;
    for (size_t i = 0; i < n; i++)
        golden = fmax(golden, fmax(max_diff(logits + i * labels, rows[i].logits, labels),
                                   max_diff(scores + i * labels, rows[i].scores, labels)));
    double vs_single = 0.0;
    for (size_t i = 0; i < n * labels; i++)
        vs_single = fmax(vs_single, fabs((double)logits[i] - single[i]));
    CHECK(golden <= TOLERANCE && vs_single <= TOLERANCE,
          "batched, %d threads: max |diff| %.3g against the goldens, %.3g against single", n_threads,
          golden, vs_single);
    printf("  batch of %zu pairs, %d thread(s): max |diff| %.2e (goldens), %.2e (single)\n", n,
           n_threads, golden, vs_single);
    free(a), free(b), free(a_len), free(b_len), free(logits), free(scores);
    sbert_context_free(ctx);
}

/* sbert_rerank against sbert_predict on the same pairs: one query (row 0's a) against every b. */
static void check_rerank(const sbert_model *model, const golden_pair *rows, size_t n)
{
    sbert_context *ctx = context(model, 2, 8);
    const char **q = malloc(n * sizeof *q), **docs = malloc(n * sizeof *docs);
    size_t *doc_len = malloc(n * sizeof *doc_len), *ranked = malloc(n * sizeof *ranked);
    float *scores = malloc(n * sizeof *scores), *expected = malloc(n * sizeof *expected);
    for (size_t i = 0; i < n; i++) {
        q[i] = rows[0].a; /* NUL-free: every golden a is */
        docs[i] = rows[i].b;
        doc_len[i] = rows[i].b_len;
    }
    int rc = sbert_predict(ctx, q, NULL, docs, doc_len, n, NULL, NULL, expected, n);
    CHECK(rc == SBERT_OK, "predict: %s", sbert_context_errmsg(ctx));
    rc = sbert_rerank(ctx, rows[0].a, docs, doc_len, n, NULL, scores, n, ranked, n);
    CHECK(rc == SBERT_OK, "rerank: %s", sbert_context_errmsg(ctx));
    int same = 1, sorted = 1, permutation = 1;
    for (size_t i = 0; i < n; i++)
        same &= scores[i] == expected[i];
    char *seen = calloc(n, 1);
    for (size_t r = 0; r < n; r++) {
        permutation &= ranked[r] < n && !seen[ranked[r]];
        if (ranked[r] < n)
            seen[ranked[r]] = 1;
        if (r > 0 && permutation) {
            const float prev = scores[ranked[r - 1]], cur = scores[ranked[r]];
            sorted &= prev > cur || (prev == cur && ranked[r - 1] < ranked[r]);
        }
    }
    CHECK(same, "rerank's scores differ from predict's on the same pairs");
    CHECK(permutation && sorted, "ranked is not the stable descending order of the scores");
    size_t top[3] = { SIZE_MAX, SIZE_MAX, SIZE_MAX };
    rc = sbert_rerank(ctx, rows[0].a, docs, doc_len, n, NULL, scores, n, top, 2);
    CHECK(rc == SBERT_OK && top[0] == ranked[0] && top[1] == ranked[1] && top[2] == SIZE_MAX,
          "top_k 2 writes the 2 best and nothing more");
    free(seen), free(q), free(docs), free(doc_len), free(ranked), free(scores), free(expected);
    sbert_context_free(ctx);
}

static void check_model(const char *name)
{
    char golden[512];
    snprintf(golden, sizeof golden, "tests/data/cross-encoders/%s.golden.jsonl", name);
    sbert_model *model = load(name);
    if (!model)
        return;
    golden_pair *rows = NULL;
    const size_t n = read_golden(golden, &rows), labels = sbert_model_n_labels(model);
    CHECK(sbert_model_dim(model) == 0 && labels >= 1, "a cross-encoder: dim 0, labels %zu", labels);
    sbert_context *ctx = context(model, 1, 32);
    for (size_t i = 0; i < n; i++)
        check_tokens(ctx, &rows[i], i);
    double worst = 0.0;
    float *single = check_single(ctx, rows, n, labels, &worst);
    printf("%s: %zu pairs, %zu label(s), %s: max |diff| %.2e\n", name, n, labels,
           sbert_model_activation(model), worst);
    check_batched(model, rows, n, labels, single, 1);
    check_batched(model, rows, n, labels, single, 2);
    if (labels == 1)
        check_rerank(model, rows, n);
    free(single);
    free_rows(rows, n);
    sbert_context_free(ctx);
    sbert_model_free(model);
}

/* ---- every door refuses bad input with its own code ---------------------------------------- */

static void check_model_queries(void)
{
    sbert_model *nli = load("ce-ko-nli"), *embedding = load("ko-tiny");
    if (!nli || !embedding)
        return;
    CHECK(sbert_model_n_labels(nli) == 3 && !strcmp(sbert_model_label(nli, 2), "neutral") &&
          sbert_model_label(nli, 3) == NULL && !strcmp(sbert_model_activation(nli), "identity"),
          "labels and activation of the NLI model");
    CHECK(sbert_model_n_labels(embedding) == 0 && sbert_model_label(embedding, 0) == NULL &&
          sbert_model_activation(embedding) == NULL, "an embedding model has no labels");
    CHECK(sbert_model_n_labels(NULL) == 0 && sbert_model_activation(NULL) == NULL, "NULL model");
    sbert_model_free(nli);
    sbert_model_free(embedding);
}

static void check_errors(void)
{
    sbert_model *ce = load("ce-minilm"), *nli = load("ce-ko-nli"), *embedding = load("ko-tiny");
    if (!ce || !nli || !embedding)
        return;
    sbert_context *ctx = context(ce, 1, 32), *ectx = context(embedding, 1, 32),
                  *nctx = context(nli, 1, 32);
    const char *a[2] = { "query", "query" }, *b[2] = { "a passage", "another" };
    float out[8], vec[64];
    size_t ranked[2], n = 0;
    int32_t ids[8], types[8];

    /* the wrong kind of model, both ways */
    int rc = sbert_encode(ctx, a, NULL, 1, NULL, vec, 64);
    CHECK(rc == SBERT_ERR_MODEL_KIND && strstr(sbert_context_errmsg(ctx), "cross-encoder"),
          "sbert_encode on a cross-encoder: %d %s", rc, sbert_context_errmsg(ctx));
    rc = sbert_encode_ids(ctx, "query", 5, NULL, ids, 8, &n);
    CHECK(rc == SBERT_ERR_MODEL_KIND && strstr(sbert_context_errmsg(ctx), "sbert_tokenize_pair"),
          "sbert_encode_ids on a cross-encoder: %d %s", rc, sbert_context_errmsg(ctx));
    rc = sbert_encode_tokens(ctx, "query", 5, NULL, vec, 64, &n);
    CHECK(rc == SBERT_ERR_MODEL_KIND, "sbert_encode_tokens on a cross-encoder: %d", rc);
    rc = sbert_predict(ectx, a, NULL, b, NULL, 2, NULL, out, NULL, 8);
    CHECK(rc == SBERT_ERR_MODEL_KIND && strstr(sbert_context_errmsg(ectx), "embedding"),
          "sbert_predict on an embedding model: %d %s", rc, sbert_context_errmsg(ectx));
    rc = sbert_rerank(ectx, "q", b, NULL, 2, NULL, out, 8, NULL, 0);
    CHECK(rc == SBERT_ERR_MODEL_KIND, "sbert_rerank on an embedding model: %d", rc);
    rc = sbert_tokenize_pair(ectx, "a", 1, "b", 1, 0, ids, types, 8, &n);
    CHECK(rc == SBERT_ERR_MODEL_KIND, "sbert_tokenize_pair on an embedding model: %d", rc);

    /* a several-label model cannot rank */
    rc = sbert_rerank(nctx, "q", b, NULL, 2, NULL, out, 8, NULL, 0);
    CHECK(rc == SBERT_ERR_INVALID_ARGUMENT && strstr(sbert_context_errmsg(nctx), "3 labels"),
          "rerank with 3 labels: %d %s", rc, sbert_context_errmsg(nctx));
    rc = sbert_predict(nctx, a, NULL, b, NULL, 2, NULL, out, NULL, 5);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL, "2 pairs x 3 labels need 6 floats: %d", rc);

    /* NULL arguments, sizes */
    CHECK(sbert_predict(NULL, a, NULL, b, NULL, 1, NULL, out, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL context");
    CHECK(sbert_predict(ctx, a, NULL, b, NULL, 1, NULL, NULL, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "no output at all");
    CHECK(sbert_predict(ctx, NULL, NULL, b, NULL, 1, NULL, out, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL a");
    CHECK(sbert_predict(ctx, a, NULL, NULL, NULL, 1, NULL, out, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL b");
    const char *with_null[2] = { "x", NULL };
    rc = sbert_predict(ctx, a, NULL, with_null, NULL, 2, NULL, out, NULL, 8);
    CHECK(rc == SBERT_ERR_INVALID_ARGUMENT && strstr(sbert_context_errmsg(ctx), "b[1]"),
          "a NULL text names its pair: %s", sbert_context_errmsg(ctx));
    CHECK(sbert_predict(ctx, a, NULL, b, NULL, 2, NULL, out, NULL, 1) == SBERT_ERR_BUFFER_TOO_SMALL,
          "capacity");
    CHECK(sbert_predict(ctx, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0) == SBERT_OK,
          "0 pairs is a no-op");
    CHECK(sbert_rerank(ctx, NULL, b, NULL, 2, NULL, out, 8, NULL, 0) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL query");
    CHECK(sbert_rerank(ctx, "q", b, NULL, 2, NULL, NULL, 8, NULL, 0) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL scores");
    CHECK(sbert_rerank(ctx, "q", b, NULL, 2, NULL, out, 1, NULL, 0) == SBERT_ERR_BUFFER_TOO_SMALL,
          "scores capacity");
    CHECK(sbert_rerank(ctx, "q", b, NULL, 2, NULL, out, 2, ranked, 5) == SBERT_OK,
          "top_k beyond n_docs writes n_docs");

    /* invalid UTF-8 names the pair and the side */
    const char *bad[2] = { "fine", "caf\xc3" };
    rc = sbert_predict(ctx, a, NULL, bad, NULL, 2, NULL, out, NULL, 8);
    CHECK(rc == SBERT_ERR_INVALID_UTF8 && strstr(sbert_context_errmsg(ctx), "b[1]"),
          "invalid UTF-8: %d %s", rc, sbert_context_errmsg(ctx));
    rc = sbert_rerank(ctx, "caf\xc3", b, NULL, 2, NULL, out, 8, NULL, 0);
    CHECK(rc == SBERT_ERR_INVALID_UTF8 && strstr(sbert_context_errmsg(ctx), "query"),
          "invalid UTF-8 query: %d %s", rc, sbert_context_errmsg(ctx));

    /* max_length: at least the template's 3 specials (then both texts are cut away, as Hugging
     * Face's tokenizers does), within the position table */
    sbert_rerank_options o = sbert_rerank_default_options();
    o.max_length = 2;
    CHECK(sbert_predict(ctx, a, NULL, b, NULL, 1, &o, out, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "max_length 2 is shorter than the pair template");
    rc = sbert_tokenize_pair(ctx, "query", 5, "a passage", 9, 3, ids, types, 8, &n);
    CHECK(rc == SBERT_OK && n == 3 && ids[0] == 101 && ids[1] == 102 && ids[2] == 102 &&
          types[2] == 1, "max_length 3: [CLS] [SEP] [SEP]: %d %zu", rc, n);
    o.max_length = 513;
    CHECK(sbert_predict(ctx, a, NULL, b, NULL, 1, &o, out, NULL, 8) == SBERT_ERR_INVALID_ARGUMENT,
          "max_length past the position table");
    o.max_length = 5; /* one token of each text: [CLS] query [SEP] a [SEP] */
    rc = sbert_predict(ctx, a, NULL, b, NULL, 1, &o, out, NULL, 8);
    CHECK(rc == SBERT_OK, "max_length 5: %s", sbert_context_errmsg(ctx));

    /* sbert_tokenize_pair's size negotiation */
    rc = sbert_tokenize_pair(ctx, "query", 5, "a passage", 9, 0, NULL, NULL, 0, &n);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n == 6, "count asked with capacity 0: %d %zu", rc, n);
    rc = sbert_tokenize_pair(ctx, "query", 5, "a passage", 9, 0, ids, NULL, 8, &n);
    CHECK(rc == SBERT_OK && n == 6 && ids[0] == 101 && ids[2] == 102 && ids[5] == 102,
          "[CLS] query [SEP] a passage [SEP]: %d %zu", rc, n);
    CHECK(sbert_tokenize_pair(ctx, NULL, 3, "b", 1, 0, ids, NULL, 8, &n) ==
          SBERT_ERR_INVALID_ARGUMENT, "NULL a with a length");

    sbert_context_free(ctx);
    sbert_context_free(ectx);
    sbert_context_free(nctx);
    sbert_model_free(ce);
    sbert_model_free(nli);
    sbert_model_free(embedding);
}

int main(void)
{
    check_model("ce-minilm");
    check_model("ce-xlmr");
    check_model("ce-ko-nli");
    check_model_queries();
    check_pair_edges("ce-minilm");
    check_pair_edges("ce-xlmr");
    check_pair_edges("ce-ko-nli");
    check_errors();
    return TEST_DONE();
}
