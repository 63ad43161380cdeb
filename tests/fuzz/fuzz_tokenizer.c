/* libFuzzer target: arbitrary bytes as text through sbert_tokenize.
 *
 *   input[0]   bits 0-1: the model (index into the loaded ones), bit 2: the UTF-8 policy
 *              (REJECT / REPLACE), bits 3-5: the flags (NO_SPECIAL, NO_TRUNCATE, RAW)
 *   input[1..] the text (any bytes; its length is passed, it is not NUL-terminated)
 *
 * Models: $SBERT_FUZZ_MODEL (':'-separated), by default the klue vocabulary (ko-tiny), the MiniLM
 * one (minilm-tiny), both WordPiece, and XLM-R's Unigram (xlmr-tiny). Every call's result is
 * checked (a failure aborts):
 * - the status is SBERT_OK, or SBERT_ERR_INVALID_UTF8 exactly when the policy is REJECT and the
 *   text is ill-formed UTF-8 (decided by fuzz_common.h's independent validator);
 * - the BUFFER_TOO_SMALL protocol: capacity 0 reports the count, one id less is refused with the
 *   same count, the exact size succeeds with it (buffers are exact, so ASan sees any overrun);
 * - every id is in [0, vocab_size); unless NO_TRUNCATE, at most max_seq_length ids;
 * - truncation keeps the first ids: the result is prefix ids + the first ids of the untruncated,
 *   special-free tokenization + suffix ids;
 * - REPLACE and REJECT agree on well-formed text. */
#include "fuzz_common.h"
#include "model/model.h" /* the prefix / suffix ids, to rebuild the expected result */

static sbert_model *models[FUZZ_MAX_MODELS];
static sbert_context *contexts[FUZZ_MAX_MODELS][2]; /* [model][sbert_utf8_policy] */
static int n_models;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    n_models = fuzz_load_models("build/models/ko-tiny.sbert:build/models/minilm-tiny.sbert:"
                                "build/models/xlmr-tiny.sbert", models);
    for (int i = 0; i < n_models; i++) {
        contexts[i][SBERT_UTF8_REJECT] = fuzz_context(models[i], 0, SBERT_UTF8_REJECT);
        contexts[i][SBERT_UTF8_REPLACE] = fuzz_context(models[i], 0, SBERT_UTF8_REPLACE);
    }
    return 0;
}

typedef struct {
    int rc;
    int32_t *ids; /* malloc'd, exactly n ids (never NULL when rc is SBERT_OK) */
    size_t n;
} result;

/* sbert_tokenize the way a caller who does not know the count does, checking the protocol. */
static result tokenize(sbert_context *ctx, const uint8_t *text, size_t len, int flags)
{
    const char *t = (const char *)text;
    result r = { 0 };
    size_t n = SIZE_MAX, again = SIZE_MAX;
    r.rc = sbert_tokenize(ctx, t, len, flags, NULL, 0, &n);
    if (r.rc == SBERT_ERR_INVALID_UTF8) {
        REQUIRE(sbert_context_errmsg(ctx)[0], "no message for %s", sbert_strerror(r.rc));
        return r;
    }
    REQUIRE(r.rc == (n ? SBERT_ERR_BUFFER_TOO_SMALL : SBERT_OK), "capacity 0: %s, %zu ids",
            sbert_strerror(r.rc), n);
    if (n >= 2) { /* one id short, in a buffer of exactly that size */
        int32_t *short_ids = malloc((n - 1) * sizeof *short_ids);
        REQUIRE(short_ids, "out of memory");
        const int rc = sbert_tokenize(ctx, t, len, flags, short_ids, n - 1, &again);
        REQUIRE(rc == SBERT_ERR_BUFFER_TOO_SMALL && again == n, "capacity %zu: %s, %zu ids",
                n - 1, sbert_strerror(rc), again);
        REQUIRE(sbert_context_errmsg(ctx)[0], "no message for BUFFER_TOO_SMALL");
        free(short_ids);
    }
    r.ids = malloc(n ? n * sizeof *r.ids : 1);
    REQUIRE(r.ids, "out of memory");
    r.rc = sbert_tokenize(ctx, t, len, flags, r.ids, n, &again);
    REQUIRE(r.rc == SBERT_OK && again == n, "capacity %zu: %s, %zu ids", n,
            sbert_strerror(r.rc), again);
    r.n = n;
    return r;
}

static void require_same(const result *a, const result *b, const char *what)
{
    REQUIRE(a->n == b->n && (a->n == 0 || memcmp(a->ids, b->ids, a->n * sizeof *a->ids) == 0),
            "%s: %zu ids vs %zu", what, a->n, b->n);
}

/* What `flags` must give, built from the special-free, untruncated ids. */
static result expected_ids(const sbert_model *m, const result *full, int flags)
{
    const sb_tokenizer_config *cfg = &m->tok_cfg;
    const int special = !(flags & SBERT_TOKENIZE_NO_SPECIAL);
    const size_t n_prefix = special ? cfg->n_prefix : 0, n_suffix = special ? cfg->n_suffix : 0;
    size_t n_text = full->n;
    if (!(flags & SBERT_TOKENIZE_NO_TRUNCATE) && n_text > m->max_seq_length - n_prefix - n_suffix)
        n_text = m->max_seq_length - n_prefix - n_suffix;
    result e = { .n = n_prefix + n_text + n_suffix };
    e.ids = malloc(e.n ? e.n * sizeof *e.ids : 1);
    REQUIRE(e.ids, "out of memory");
    if (n_prefix)
        memcpy(e.ids, cfg->prefix_ids, n_prefix * sizeof *e.ids);
    if (n_text)
        memcpy(e.ids + n_prefix, full->ids, n_text * sizeof *e.ids);
    if (n_suffix)
        memcpy(e.ids + n_prefix + n_text, cfg->suffix_ids, n_suffix * sizeof *e.ids);
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int which = (data[0] & 3) % n_models, policy = data[0] >> 2 & 1, flags = data[0] >> 3 & 7;
    const uint8_t *text = data + 1;
    const size_t len = size - 1;
    const sbert_model *m = models[which];
    const int valid = fuzz_utf8_valid(text, len);

    result r = tokenize(contexts[which][policy], text, len, flags);
    if (policy == SBERT_UTF8_REJECT && !valid) {
        REQUIRE(r.rc == SBERT_ERR_INVALID_UTF8, "ill-formed UTF-8 accepted");
        return 0;
    }
    REQUIRE(r.rc == SBERT_OK, "%s", sbert_strerror(r.rc));
    for (size_t i = 0; i < r.n; i++)
        REQUIRE(r.ids[i] >= 0 && (size_t)r.ids[i] < sbert_model_vocab_size(m), "id %d at %zu",
                (int)r.ids[i], i);
    if (!(flags & SBERT_TOKENIZE_NO_TRUNCATE))
        REQUIRE(r.n <= sbert_model_max_seq_length(m), "%zu ids, max_seq_length %zu", r.n,
                sbert_model_max_seq_length(m));

    const int raw = flags & SBERT_TOKENIZE_RAW;
    result full = tokenize(contexts[which][policy], text, len,
                           raw | SBERT_TOKENIZE_NO_SPECIAL | SBERT_TOKENIZE_NO_TRUNCATE);
    REQUIRE(full.rc == SBERT_OK, "%s", sbert_strerror(full.rc));
    result expected = expected_ids(m, &full, flags);
    require_same(&r, &expected, "specials + the first ids of the whole text");

    if (policy == SBERT_UTF8_REPLACE && valid) {
        result strict = tokenize(contexts[which][SBERT_UTF8_REJECT], text, len, flags);
        require_same(&r, &strict, "REPLACE vs REJECT on well-formed text");
        free(strict.ids);
    }
    free(expected.ids);
    free(full.ids);
    free(r.ids);
    return 0;
}
