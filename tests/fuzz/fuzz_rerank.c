/* libFuzzer target: arbitrary bytes as pairs of texts through a cross-encoder: sbert_predict,
 * sbert_rerank and sbert_tokenize_pair.
 *
 *   input[0]   bits 0-1: the model, bit 2: the UTF-8 policy, bit 3: texts NUL-terminated (lengths
 *              NULL), bit 4: batch_size 2 instead of 32
 *   input[1]   max_length (0: the model's)
 *   input[2..] pieces separated by 0xFF: a0, b0, a1, b1, ... (up to MAX_PAIRS pairs; a missing
 *              last b is empty)
 *
 * Models: $SBERT_FUZZ_MODEL (':'-separated), by default the three golden cross-encoders of make
 * test (BERT with token types 0/1, XLM-R Unigram, klue RoBERTa with 3 labels). Checked on every
 * input (a failure aborts):
 * - the status is SBERT_OK unless an error applies, else that error: INVALID_ARGUMENT (max_length
 *   below the pair template's special tokens), INVALID_UTF8 (REJECT and an ill-formed text);
 * - one float short of room is BUFFER_TOO_SMALL, and outputs are exact-size buffers (ASan);
 * - logits are finite and scores are the model's activation of them;
 * - a pair's logits do not depend on the other pairs of the call (bit for bit);
 * - one-label models: sbert_rerank of a0 against every b gives predict's scores bit for bit and
 *   ranks them in stable descending order;
 * - sbert_tokenize_pair gives at most max_length ids, the template's first and last ids, and
 *   token types inside the type table. */
#include <math.h>

#include "fuzz_common.h"

#define MAX_PAIRS 6

static sbert_model *models[FUZZ_MAX_MODELS];
static sbert_context *contexts[FUZZ_MAX_MODELS][2][2]; /* [model][sbert_utf8_policy][small batch] */
static int n_models;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    n_models = fuzz_load_models("build/models/ce-minilm.sbert:build/models/ce-xlmr.sbert:"
                                "build/models/ce-ko-nli.sbert", models);
    for (int i = 0; i < n_models; i++) {
        REQUIRE(sbert_model_n_labels(models[i]) > 0, "model %d is not a cross-encoder", i);
        for (int policy = 0; policy < 2; policy++)
            for (int small = 0; small < 2; small++)
                contexts[i][policy][small] = fuzz_context(models[i], small ? 2 : 32, policy);
    }
    return 0;
}

/* texts[2k] = a_k, texts[2k + 1] = b_k: each a malloc'd copy, NUL-terminated when nul. */
static size_t split(const uint8_t *data, size_t size, int nul, char **texts, size_t *lengths)
{
    size_t n = 0, at = 0;
    for (;;) {
        const uint8_t *sep = n + 1 < 2 * MAX_PAIRS ? memchr(data + at, 0xFF, size - at) : NULL;
        const size_t end = sep ? (size_t)(sep - data) : size;
        texts[n] = malloc(end - at + 1);
        REQUIRE(texts[n], "out of memory");
        if (end > at)
            memcpy(texts[n], data + at, end - at);
        texts[n][end - at] = '\0';
        lengths[n] = nul ? strlen(texts[n]) : end - at;
        n++;
        if (!sep)
            break;
        at = end + 1;
    }
    if (n % 2) { /* the last a's b is empty */
        texts[n] = calloc(1, 1);
        REQUIRE(texts[n], "out of memory");
        lengths[n++] = 0;
    }
    return n / 2;
}

static double activate(const char *act, double x)
{
    if (!strcmp(act, "sigmoid")) return 1.0 / (1.0 + exp(-x));
    if (!strcmp(act, "tanh")) return tanh(x);
    if (!strcmp(act, "relu")) return x > 0 ? x : 0;
    if (!strcmp(act, "gelu")) return 0.5 * x * erfc(-x / sqrt(2.0));
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const int m = data[0] & 3, reject = !(data[0] & 4), nul = !!(data[0] & 8);
    if (m >= n_models)
        return 0;
    const sbert_model *model = models[m];
    sbert_context *ctx = contexts[m][reject ? SBERT_UTF8_REJECT : SBERT_UTF8_REPLACE]
                                 [!!(data[0] & 16)];
    const size_t L = sbert_model_n_labels(model);
    sbert_rerank_options o = sbert_rerank_default_options();
    o.max_length = data[1];

    char *texts[2 * MAX_PAIRS + 1];
    size_t lengths[2 * MAX_PAIRS + 1];
    const size_t n = split(data + 2, size - 2, nul, texts, lengths);
    const char *a[MAX_PAIRS], *b[MAX_PAIRS];
    size_t a_len[MAX_PAIRS], b_len[MAX_PAIRS];
    int ill_formed = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = texts[2 * i], b[i] = texts[2 * i + 1];
        a_len[i] = lengths[2 * i], b_len[i] = lengths[2 * i + 1];
        ill_formed |= !fuzz_utf8_valid((const uint8_t *)a[i], a_len[i]) ||
                      !fuzz_utf8_valid((const uint8_t *)b[i], b_len[i]);
    }

    /* the template's special tokens: the pair of two empty texts, uncut */
    size_t specials = 0;
    REQUIRE(sbert_tokenize_pair(ctx, "", 0, "", 0, 0, NULL, NULL, 0, &specials) ==
            SBERT_ERR_BUFFER_TOO_SMALL, "count of the empty pair");
    const int expected = o.max_length && o.max_length < specials ? SBERT_ERR_INVALID_ARGUMENT
                         : reject && ill_formed                 ? SBERT_ERR_INVALID_UTF8
                                                                : SBERT_OK;
    float *logits = malloc(n * L * sizeof *logits), *scores = malloc(n * L * sizeof *scores);
    REQUIRE(logits && scores, "out of memory");
    const size_t *al = nul ? NULL : a_len, *bl = nul ? NULL : b_len;
    int rc = sbert_predict(ctx, a, al, b, bl, n, &o, logits, scores, n * L - 1);
    /* the options are checked before the sizes, the texts after them */
    const int short_rc = expected == SBERT_ERR_INVALID_ARGUMENT ? expected
                                                                : SBERT_ERR_BUFFER_TOO_SMALL;
    REQUIRE(rc == short_rc, "short buffer: %d", rc);
    rc = sbert_predict(ctx, a, al, b, bl, n, &o, logits, scores, n * L);
    REQUIRE(rc == expected, "predict: %d, expected %d: %s", rc, expected, sbert_context_errmsg(ctx));

    for (size_t i = 0; rc == SBERT_OK && i < n; i++) {
        for (size_t j = 0; j < L; j++) {
            const float x = logits[i * L + j];
            REQUIRE(isfinite(x), "pair %zu: logit %g", i, x);
            REQUIRE(fabs(scores[i * L + j] - activate(sbert_model_activation(model), x)) < 1e-6,
                    "pair %zu: score %g of logit %g", i, scores[i * L + j], x);
        }
        float alone[8];
        REQUIRE(sbert_predict(ctx, &a[i], al ? &a_len[i] : NULL, &b[i], bl ? &b_len[i] : NULL, 1,
                              &o, alone, NULL, L) == SBERT_OK, "pair %zu alone", i);
        REQUIRE(!memcmp(alone, logits + i * L, L * sizeof *alone), "pair %zu: batch != alone", i);

        int32_t ids[512], types[512];
        size_t n_ids = 0;
        REQUIRE(sbert_tokenize_pair(ctx, a[i], a_len[i], b[i], b_len[i], o.max_length, ids,
                                    types, 512, &n_ids) == SBERT_OK,
                "tokenize pair %zu: %s", i, sbert_context_errmsg(ctx));
        const size_t max_len = o.max_length ? o.max_length : sbert_model_max_seq_length(model);
        REQUIRE(n_ids >= specials && n_ids <= max_len, "pair %zu: %zu ids", i, n_ids);
        for (size_t t = 0; t < n_ids; t++)
            REQUIRE(types[t] == 0 || types[t] == 1, "pair %zu: type %d", i, types[t]);
    }

    if (rc == SBERT_OK && L == 1 && n > 0) { /* a0 (to its first NUL) against every b */
        const char *query[MAX_PAIRS];
        float expect[MAX_PAIRS], got[MAX_PAIRS];
        size_t ranked[MAX_PAIRS];
        for (size_t i = 0; i < n; i++)
            query[i] = a[0];
        REQUIRE(sbert_predict(ctx, query, NULL, b, bl, n, &o, NULL, expect, n) == SBERT_OK,
                "predict against a0");
        REQUIRE(sbert_rerank(ctx, a[0], b, bl, n, &o, got, n, ranked, n) == SBERT_OK, "rerank");
        REQUIRE(!memcmp(got, expect, n * sizeof *got), "rerank != predict");
        for (size_t r = 1; r < n; r++)
            REQUIRE(got[ranked[r - 1]] > got[ranked[r]] ||
                    (got[ranked[r - 1]] == got[ranked[r]] && ranked[r - 1] < ranked[r]),
                    "ranked %zu: not the stable descending order", r);
    }
    free(logits);
    free(scores);
    for (size_t i = 0; i < 2 * n; i++)
        free(texts[i]);
    return 0;
}
