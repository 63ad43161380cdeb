/* Hostile and extreme input through the public API: it must give a status (the right one), never
 * crash, write out of bounds or answer wrongly.
 *
 *   a 10 MB text            encode truncates; NO_TRUNCATE counts every id through BUFFER_TOO_SMALL
 *   degenerate texts        none, empty, whitespace only, special-token literals only, a text
 *                           with no token at all (a model without special tokens)
 *   ill-formed UTF-8        both policies, in sbert_tokenize and sbert_encode, in a prompt
 *   a run of 1M marks       canonical reordering in linear time
 *   NULL arguments          every pointer of every public function
 *   bad paths               a directory, a device, a missing file, a file that is not a model
 *   sizes                   buffers one element short, n_texts whose float count overflows,
 *                           max_length outside [2, positions], batch_size beyond the limit
 *   prompts                 a name the model does not define
 *
 * Output buffers are exactly the size the call needs, so AddressSanitizer (make test-asan) sees
 * any write past them. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "sbert.h"

#define BIG_TEXT_BYTES (10u << 20)
#define SENTENCE "한 남자가 음식을 먹고 있다. " /* repeated to make the big text */

static sbert_model *load(const char *name)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.sbert", build, name);
    sbert_model *m = NULL;
    CHECK(sbert_model_load(path, NULL, &m, err, sizeof err) == SBERT_OK, "%s: %s", path, err);
    return m;
}

static sbert_context *context(const sbert_model *m, sbert_utf8_policy utf8)
{
    sbert_context_params p = sbert_context_default_params();
    p.utf8 = utf8;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(m, &p, &ctx, NULL, 0) == SBERT_OK, "context");
    return ctx;
}

/* The ids of text[0..len) with `flags`, through the BUFFER_TOO_SMALL protocol; *n is the count.
 * Returns NULL (and checks) when the calls do not follow the protocol. */
static int32_t *tokenize(sbert_context *ctx, const char *text, size_t len, int flags, size_t *n)
{
    size_t again = 0;
    int rc = sbert_tokenize(ctx, text, len, flags, NULL, 0, n);
    CHECK(rc == (*n ? SBERT_ERR_BUFFER_TOO_SMALL : SBERT_OK), "capacity 0: %s", sbert_strerror(rc));
    int32_t *ids = malloc(*n ? *n * sizeof *ids : 1);
    rc = sbert_tokenize(ctx, text, len, flags, ids, *n, &again);
    CHECK(rc == SBERT_OK && again == *n, "capacity %zu: %s, %zu ids", *n, sbert_strerror(rc), again);
    if (rc != SBERT_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* One text's vector into a malloc'd buffer of exactly dim floats (NULL when encode fails). */
static float *encode_one(sbert_context *ctx, const sbert_model *m, const char *text, size_t len,
                         const sbert_encode_options *o)
{
    const size_t dim = sbert_model_dim(m);
    float *v = malloc(dim * sizeof *v);
    const int rc = sbert_encode(ctx, &text, &len, 1, o, v, dim);
    CHECK(rc == SBERT_OK, "encode: %s: %s", sbert_strerror(rc), sbert_context_errmsg(ctx));
    if (rc != SBERT_OK) {
        free(v);
        return NULL;
    }
    return v;
}

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return a && b && memcmp(a, b, n * sizeof *a) == 0;
}

/* ---- a 10 MB text --------------------------------------------------------------------------- */

static void test_big_text(const sbert_model *m, sbert_context *ctx)
{
    const size_t unit = strlen(SENTENCE), copies = BIG_TEXT_BYTES / unit;
    char *big = malloc(copies * unit);
    for (size_t i = 0; i < copies; i++)
        memcpy(big + i * unit, SENTENCE, unit);
    const size_t len = copies * unit;

    /* the sentences are separate words, so the whole text has `copies` times one sentence's ids */
    size_t per_sentence = 0, n_full = 0, n_default = 0;
    free(tokenize(ctx, SENTENCE, unit, SBERT_TOKENIZE_NO_SPECIAL, &per_sentence));
    int32_t *full = tokenize(ctx, big, len, SBERT_TOKENIZE_NO_TRUNCATE, &n_full);
    CHECK(n_full == copies * per_sentence + 2, "10 MB, NO_TRUNCATE: %zu ids, expected %zu * %zu + 2",
          n_full, copies, per_sentence);
    int32_t *ids = tokenize(ctx, big, len, SBERT_TOKENIZE_DEFAULT, &n_default);
    CHECK(n_default == sbert_model_max_seq_length(m), "10 MB: %zu ids, max_seq_length %zu",
          n_default, sbert_model_max_seq_length(m));
    CHECK(full && ids && memcmp(full, ids, (n_default - 1) * sizeof *ids) == 0 &&
              ids[n_default - 1] == full[n_full - 1],
          "truncated ids are the first ids, then the suffix");
    free(full);
    free(ids);

    /* encode truncates: the vector of the whole text is that of a prefix long enough to fill
     * max_seq_length tokens */
    const size_t dim = sbert_model_dim(m), prefix = 200 * unit;
    float *whole = encode_one(ctx, m, big, len, NULL), *head = encode_one(ctx, m, big, prefix, NULL);
    CHECK(same_floats(whole, head, dim) && all_finite(whole, dim),
          "10 MB text encodes as its first %zu bytes", prefix);

    /* max_length up to the position table; the token states of as many tokens */
    sbert_encode_options o = sbert_encode_default_options();
    o.max_length = 512;
    size_t n_tokens = 0;
    int rc = sbert_encode_tokens(ctx, big, len, &o, NULL, 0, &n_tokens);
    const size_t H = sbert_model_hidden_size(m);
    float *states = malloc(n_tokens * H * sizeof *states);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n_tokens == 512, "encode_tokens: %s, %zu tokens",
          sbert_strerror(rc), n_tokens);
    rc = sbert_encode_tokens(ctx, big, len, &o, states, n_tokens * H, &n_tokens);
    CHECK(rc == SBERT_OK && all_finite(states, n_tokens * H), "encode_tokens max_length 512: %s",
          sbert_strerror(rc));
    free(states);
    free(whole);
    free(head);
    free(big);
}

/* A megabyte of combining marks after one letter, their classes falling (230, 220, 27, 10): NFD
 * (BertNormalizer's strip_accents, on in uncased BERT models) must put them in canonical order in
 * linear time, or one such text costs the caller minutes of CPU. */
static void test_hostile_marks(void)
{
    static const char marks[] = "\xCC\x81\xCC\x96\xD9\x8B\xD6\xB0"; /* U+0301 U+0316 U+064B U+05B0 */
    const size_t unit = sizeof marks - 1, copies = (1u << 20) / unit, len = 1 + copies * unit;
    char *text = malloc(len);
    text[0] = 'a';
    for (size_t i = 0; i < copies; i++)
        memcpy(text + 1 + i * unit, marks, unit);
    sbert_model *m = load("minilm-tiny");
    sbert_context *ctx = m ? context(m, SBERT_UTF8_REJECT) : NULL;
    if (ctx) {
        size_t n = 0;
        const clock_t start = clock();
        const int rc = sbert_tokenize(ctx, text, len, 0, NULL, 0, &n);
        const double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
        CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n == 3 && seconds < 5.0,
              "1 MB of combining marks: %s, %zu ids, %.1f s of CPU", sbert_strerror(rc), n, seconds);
    }
    sbert_context_free(ctx);
    sbert_model_free(m);
    free(text);
}

/* ---- degenerate texts ----------------------------------------------------------------------- */

static void test_degenerate_texts(const sbert_model *m, sbert_context *ctx)
{
    const size_t dim = sbert_model_dim(m);
    float sentinel[4] = { 1, 2, 3, 4 };
    CHECK(sbert_encode(ctx, NULL, NULL, 0, NULL, NULL, 0) == SBERT_OK, "n_texts 0, NULL buffers");
    const char *one = "x";
    CHECK(sbert_encode(ctx, &one, NULL, 0, NULL, sentinel, 4) == SBERT_OK && sentinel[0] == 1 &&
              sentinel[3] == 4, "n_texts 0 writes nothing");

    /* empty and whitespace-only texts are [CLS] [SEP] alone */
    size_t n_empty = 0, n_space = 0;
    int32_t *empty = tokenize(ctx, "", 0, 0, &n_empty);
    int32_t *space = tokenize(ctx, " \t\r\n\v\f\u3000 ", strlen(" \t\r\n\v\f\u3000 "), 0, &n_space);
    CHECK(n_empty == 2 && n_space == 2 && empty && space && memcmp(empty, space, 2 * sizeof *empty) == 0,
          "empty / whitespace: %zu and %zu ids", n_empty, n_space);
    CHECK(sbert_tokenize(ctx, NULL, 0, 0, NULL, 0, &n_empty) == SBERT_ERR_BUFFER_TOO_SMALL &&
              n_empty == 2, "NULL text of length 0 is the empty text");
    CHECK(sbert_tokenize(ctx, " ", 1, SBERT_TOKENIZE_NO_SPECIAL, NULL, 0, &n_empty) == SBERT_OK &&
              n_empty == 0, "no ids at all fit in no buffer");
    float *v_empty = encode_one(ctx, m, "", 0, NULL), *v_space = encode_one(ctx, m, "  \t ", 4, NULL);
    CHECK(same_floats(v_empty, v_space, dim) && all_finite(v_empty, dim),
          "empty and whitespace-only texts encode alike");

    /* special-token literals are their tokens: [CLS] [CLS] [SEP] [PAD] [SEP] */
    const char *specials = "[CLS][SEP][PAD]";
    size_t n = 0;
    int32_t *ids = tokenize(ctx, specials, strlen(specials), 0, &n);
    CHECK(ids && n == 5 && ids[1] == empty[0] && ids[2] == empty[1] && ids[4] == empty[1] &&
              ids[3] != ids[1] && ids[3] != ids[2], "\"%s\": %zu ids", specials, n);
    float *v = encode_one(ctx, m, specials, strlen(specials), NULL);
    CHECK(v && all_finite(v, dim), "special-token literals encode");
    free(v);
    free(ids);
    free(empty);
    free(space);
    free(v_empty);
    free(v_space);
}

/* A model without special tokens (tests/fuzz/make_text_seeds.py) gives an empty text no token at
 * all: every pooling mode must still give the same, defined vector, not rows left in the batch
 * by other texts or calls. */
static void test_text_without_tokens(void)
{
    sbert_model *m = NULL;
    char err[256];
    CHECK(sbert_model_load("tests/fuzz/bert-no-specials.sbert", NULL, &m, err, sizeof err) ==
              SBERT_OK, "bert-no-specials.sbert: %s", err);
    sbert_context *ctx = m ? context(m, SBERT_UTF8_REJECT) : NULL;
    if (!ctx) {
        sbert_model_free(m);
        return;
    }
    const size_t dim = sbert_model_dim(m), H = sbert_model_hidden_size(m);
    const char *texts[2] = { "a b c d e f g", "" };
    float *both = malloc(2 * dim * sizeof *both);
    CHECK(sbert_encode(ctx, texts, NULL, 2, NULL, both, 2 * dim) == SBERT_OK, "encode");
    float *alone = encode_one(ctx, m, "", 0, NULL);
    size_t n = 1;
    CHECK(sbert_tokenize(ctx, "", 0, 0, NULL, 0, &n) == SBERT_OK && n == 0, "no ids");
    n = 1;
    CHECK(sbert_encode_tokens(ctx, "", 0, NULL, NULL, 0, &n) == SBERT_OK && n == 0,
          "no token states, in no buffer");
    CHECK(same_floats(alone, both + dim, dim) && all_finite(alone, dim),
          "an empty text without tokens encodes alike alone and after another text");
    int cls_zero = alone != NULL; /* CLS is the first of the six pooled blocks */
    for (size_t j = 0; alone && j < H; j++)
        cls_zero &= alone[j] == 0.0f;
    CHECK(cls_zero, "CLS pooling of no token is zeros");
    free(alone);
    free(both);
    sbert_context_free(ctx);
    sbert_model_free(m);
}

/* ---- ill-formed UTF-8 ----------------------------------------------------------------------- */

static void test_bad_utf8(const sbert_model *m, sbert_context *strict, sbert_context *lenient)
{
    /* each is "a", ill-formed bytes, "b"; BertNormalizer drops the U+FFFD that replace them */
    static const char *const bad[] = {
        "a\xC0\xAF" "b", "a\xED\xA0\x80" "b", "a\xF4\x90\x80\x80" "b", "a\xE2\x82" "b",
        "a\xFF" "b", "a\x80" "b", "a\xF0\x9F\x98" "b",
    };
    const size_t dim = sbert_model_dim(m);
    size_t n_ab = 0;
    int32_t *ab = tokenize(strict, "ab", 2, 0, &n_ab);
    float *v_ab = encode_one(strict, m, "ab", 2, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const size_t len = strlen(bad[i]);
        char *text = malloc(len); /* exactly the text: ASan sees a read past a truncated sequence */
        memcpy(text, bad[i], len);
        size_t n = 0;
        int rc = sbert_tokenize(strict, text, len, 0, NULL, 0, &n);
        CHECK(rc == SBERT_ERR_INVALID_UTF8 && strstr(sbert_context_errmsg(strict), "offset 1"),
              "REJECT, bad case %zu: %s: %s", i, sbert_strerror(rc), sbert_context_errmsg(strict));
        const char *texts[2] = { "fine", text };
        const size_t lengths[2] = { 4, len };
        float *out = malloc(2 * dim * sizeof *out);
        rc = sbert_encode(strict, texts, lengths, 2, NULL, out, 2 * dim);
        CHECK(rc == SBERT_ERR_INVALID_UTF8 &&
                  strstr(sbert_context_errmsg(strict), "text 1: invalid UTF-8 at byte offset 1"),
              "encode REJECT, bad case %zu: %s: %s", i, sbert_strerror(rc),
              sbert_context_errmsg(strict));
        free(out);

        int32_t *ids = tokenize(lenient, text, len, 0, &n);
        CHECK(ids && ab && n == n_ab && memcmp(ids, ab, n * sizeof *ids) == 0,
              "REPLACE, bad case %zu: the ids of \"ab\"", i);
        float *v = encode_one(lenient, m, text, len, NULL);
        CHECK(same_floats(v, v_ab, dim), "encode REPLACE, bad case %zu: the vector of \"ab\"", i);
        free(v);
        free(ids);
        free(text);
    }
    free(ab);
    free(v_ab);

    /* a prompt must be well-formed whatever the policy (its tokens are counted apart) */
    sbert_encode_options o = sbert_encode_default_options();
    o.prompt = "query \xEA\xB0"; /* a truncated U+AC00 */
    sbert_context *both[2] = { strict, lenient };
    float *v = malloc(dim * sizeof *v);
    for (int i = 0; i < 2; i++) {
        const char *text = "\x80"; /* prompt + text would be well-formed */
        size_t n = 0;
        int rc = sbert_encode(both[i], &text, NULL, 1, &o, v, dim);
        CHECK(rc == SBERT_ERR_INVALID_UTF8 && strstr(sbert_context_errmsg(both[i]), "prompt"),
              "ill-formed prompt, policy %d: %s: %s", i, sbert_strerror(rc),
              sbert_context_errmsg(both[i]));
        rc = sbert_encode_tokens(both[i], text, 1, &o, NULL, 0, &n);
        CHECK(rc == SBERT_ERR_INVALID_UTF8, "encode_tokens, ill-formed prompt, policy %d: %s", i,
              sbert_strerror(rc));
    }
    free(v);
}

/* ---- NULL arguments ------------------------------------------------------------------------- */

static void test_null_model_arguments(void)
{
    sbert_model *m = (sbert_model *)&m; /* must be reset to NULL */
    char err[64];
    CHECK(sbert_model_load(NULL, NULL, &m, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT && !m &&
              err[0], "load: NULL path");
    CHECK(sbert_model_load("x.sbert", NULL, NULL, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT,
          "load: NULL model_out");
    CHECK(sbert_model_load("/nonexistent/x.sbert", NULL, &m, NULL, 0) == SBERT_ERR_IO && !m,
          "load: NULL err");
    memset(err, 'x', sizeof err);
    CHECK(sbert_model_load("/nonexistent/x.sbert", NULL, &m, err, 0) == SBERT_ERR_IO && err[0] == 'x',
          "load: err_size 0 writes nothing");
    CHECK(sbert_model_load("/nonexistent/x.sbert", NULL, &m, err, 1) == SBERT_ERR_IO && err[0] == '\0',
          "load: err_size 1 is the empty message");
    m = (sbert_model *)&m;
    CHECK(sbert_model_load_from_memory(NULL, 100, &m, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT
              && !m, "load_from_memory: NULL data");
    CHECK(sbert_model_load_from_memory(err, 0, NULL, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT,
          "load_from_memory: NULL model_out");
    CHECK(sbert_model_load_from_memory(err, 0, &m, err, sizeof err) < 0 && !m,
          "load_from_memory: 0 bytes");
    sbert_model_free(NULL);

    CHECK(sbert_model_dim(NULL) == 0 && sbert_model_hidden_size(NULL) == 0 &&
              sbert_model_max_seq_length(NULL) == 0 && sbert_model_vocab_size(NULL) == 0 &&
              sbert_model_n_prompts(NULL) == 0 && !sbert_model_type(NULL) && !sbert_model_name(NULL) &&
              !sbert_model_prompt_name(NULL, 0) && !sbert_model_prompt_text(NULL, 0) &&
              sbert_model_similarity(NULL) == SBERT_SIMILARITY_COSINE, "queries of a NULL model");

    static const int codes[] = { 1, -15, -100, INT_MIN, INT_MAX };
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        CHECK(sbert_strerror(codes[i]) != NULL && sbert_strerror(codes[i])[0], "strerror(%d)", codes[i]);
    for (int code = SBERT_OK; code >= SBERT_ERR_TOO_LARGE; code--)
        CHECK(strcmp(sbert_strerror(code), sbert_strerror(-100)) != 0, "strerror(%d) is named", code);
}

/* Paths that are not model files: a status and a message, in both reading modes. */
static void test_bad_paths(void)
{
    static const struct { const char *path; int rc; } cases[] = {
        { "", SBERT_ERR_IO },           { "/nonexistent/dir/m.sbert", SBERT_ERR_IO },
        { ".", SBERT_ERR_IO },          { "/dev/null", SBERT_ERR_IO },
        { "Makefile", SBERT_ERR_NOT_A_MODEL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
            sbert_model_params p = sbert_model_default_params();
            p.use_mmap = use_mmap;
            sbert_model *m = NULL;
            char err[256] = "";
            const int rc = sbert_model_load(cases[i].path, &p, &m, err, sizeof err);
            CHECK(rc == cases[i].rc && !m && err[0], "load \"%s\" (mmap %d): %s: %s", cases[i].path,
                  use_mmap, sbert_strerror(rc), err);
            sbert_model_free(m);
        }
}

/* Each failure names what is wrong in the caller's buffer; success clears it; a NULL buffer or a
 * short one is fine. */
static void test_null_context_arguments(const sbert_model *m)
{
    sbert_context *ctx = (sbert_context *)&ctx;
    char err[256] = "stale";
    CHECK(sbert_context_create(NULL, NULL, &ctx, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT &&
              !ctx && strstr(err, "model"), "context: NULL model: %s", err);
    CHECK(sbert_context_create(m, NULL, NULL, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT &&
              strstr(err, "ctx_out"), "context: NULL ctx_out: %s", err);
    CHECK(sbert_context_create(m, NULL, NULL, NULL, 0) == SBERT_ERR_INVALID_ARGUMENT,
          "context: NULL ctx_out, no buffer");
    enum { N_BAD = 6 };
    sbert_context_params bad[N_BAD];
    for (int i = 0; i < N_BAD; i++)
        bad[i] = sbert_context_default_params();
    bad[0].n_threads = -1;
    bad[1].batch_size = SBERT_MAX_BATCH_SIZE + 1;
    bad[2].utf8 = (sbert_utf8_policy)7;
    bad[3].n_threads = INT_MIN;
    bad[4].n_threads = SBERT_MAX_THREADS + 1;
    bad[5].n_threads = INT_MAX;
    const char *named[N_BAD] = { "n_threads is -1", "batch_size is 4097", "utf8 is 7",
                                 "n_threads", "n_threads is 513: give 1 to 512",
                                 "n_threads is 2147483647" };
    for (int i = 0; i < N_BAD; i++) {
        ctx = (sbert_context *)&ctx;
        CHECK(sbert_context_create(m, &bad[i], &ctx, err, sizeof err) ==
                      SBERT_ERR_INVALID_ARGUMENT && !ctx && strstr(err, named[i]),
              "context: bad params %d: \"%s\"", i, err);
        CHECK(sbert_context_memory(m, &bad[i], 8) == 0, "context_memory: bad params %d", i);
    }
    CHECK(sbert_context_memory(m, NULL, 8) > 0, "context_memory: default params");
    char tiny[8];
    CHECK(sbert_context_create(m, &bad[1], &ctx, tiny, sizeof tiny) == SBERT_ERR_INVALID_ARGUMENT &&
              strlen(tiny) == sizeof tiny - 1, "context: message cut to the buffer: \"%s\"", tiny);
    CHECK(sbert_context_create(m, NULL, &ctx, err, sizeof err) == SBERT_OK && ctx && !err[0],
          "context: success clears the message: \"%s\"", err);
    sbert_context_free(ctx);
    sbert_context_free(NULL);
    CHECK(sbert_context_errmsg(NULL) != NULL, "errmsg(NULL)");
}

static void test_null_call_arguments(const sbert_model *m, sbert_context *ctx)
{
    int32_t ids[4];
    size_t n = 0;
    float out[4];
    const char *text = "text", *texts[2] = { "one", NULL };
    CHECK(sbert_tokenize(NULL, "a", 1, 0, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT, "tokenize: NULL ctx");
    CHECK(sbert_tokenize(ctx, NULL, 1, 0, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT, "tokenize: NULL text");
    CHECK(sbert_tokenize(ctx, "a", 1, 0, NULL, 4, &n) == SBERT_ERR_INVALID_ARGUMENT, "tokenize: NULL ids");
    CHECK(sbert_tokenize(ctx, "a", 1, 0, ids, 4, NULL) == SBERT_ERR_INVALID_ARGUMENT &&
              sbert_context_errmsg(ctx)[0], "tokenize: NULL n_ids");

    const size_t dim = sbert_model_dim(m);
    float *vectors = malloc(2 * dim * sizeof *vectors);
    CHECK(sbert_encode(NULL, &text, NULL, 1, NULL, vectors, dim) == SBERT_ERR_INVALID_ARGUMENT,
          "encode: NULL ctx");
    CHECK(sbert_encode(ctx, NULL, NULL, 1, NULL, vectors, dim) == SBERT_ERR_INVALID_ARGUMENT,
          "encode: NULL texts");
    CHECK(sbert_encode(ctx, &text, NULL, 1, NULL, NULL, dim) == SBERT_ERR_INVALID_ARGUMENT,
          "encode: NULL out");
    CHECK(sbert_encode(ctx, texts, NULL, 2, NULL, vectors, 2 * dim) == SBERT_ERR_INVALID_ARGUMENT &&
              strstr(sbert_context_errmsg(ctx), "texts[1]"), "encode: a NULL text");
    free(vectors);

    CHECK(sbert_encode_tokens(NULL, "a", 1, NULL, out, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_tokens: NULL ctx");
    CHECK(sbert_encode_tokens(ctx, NULL, 1, NULL, out, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_tokens: NULL text");
    CHECK(sbert_encode_tokens(ctx, "a", 1, NULL, NULL, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_tokens: NULL out");
    CHECK(sbert_encode_tokens(ctx, "a", 1, NULL, out, 4, NULL) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_tokens: NULL n_tokens");

    CHECK(sbert_tokenize(ctx, "a", 1, 8, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT &&
              strstr(sbert_context_errmsg(ctx), "unknown bits 0x8"), "tokenize: unknown flag 8");
    CHECK(sbert_tokenize(ctx, "a", 1, -1, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "tokenize: flags -1");
    CHECK(sbert_tokenize(ctx, "a", 1, SBERT_TOKENIZE_NO_SPECIAL | SBERT_TOKENIZE_NO_TRUNCATE |
                                          SBERT_TOKENIZE_RAW, ids, 4, &n) == SBERT_OK,
          "tokenize: every known flag");
    CHECK(sbert_encode_ids(NULL, "a", 1, NULL, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_ids: NULL ctx");
    CHECK(sbert_encode_ids(ctx, NULL, 1, NULL, ids, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_ids: NULL text");
    CHECK(sbert_encode_ids(ctx, "a", 1, NULL, NULL, 4, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_ids: NULL ids");
    CHECK(sbert_encode_ids(ctx, "a", 1, NULL, ids, 4, NULL) == SBERT_ERR_INVALID_ARGUMENT,
          "encode_ids: NULL n_ids");

    const float a[2] = { 1, 0 };
    CHECK(sbert_cosine(NULL, a, 2) == 0.0f && sbert_cosine(a, NULL, 2) == 0.0f &&
              sbert_dot(NULL, a, 2) == 0.0f && sbert_dot(a, NULL, 2) == 0.0f, "cosine / dot of NULL");
    /* finite vectors whose squares leave float's range (they gave NaN and 0) */
    const float huge_a[2] = { 1e20f, 0 }, huge_b[2] = { 1e20f, 1e19f }, tiny[2] = { 1e-30f, 0 };
    const double want = 1.0 / sqrt(1.01); /* (1, 0) . (1, 0.1) / |(1, 0.1)| */
    float huge_cos = 0.0f;
    CHECK(fabs(sbert_cosine(huge_a, huge_b, 2) - want) < 1e-7, "cosine of 1e20-sized vectors: %g",
          (double)sbert_cosine(huge_a, huge_b, 2));
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_COSINE, huge_a, 1, huge_b, 1, 2, &huge_cos, 1) ==
              SBERT_OK && fabs(huge_cos - want) < 1e-7, "similarity matrix: %g", (double)huge_cos);
    CHECK(sbert_cosine(tiny, tiny, 2) == 1.0f, "cosine of a 1e-30 vector with itself: %g",
          (double)sbert_cosine(tiny, tiny, 2));
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_COSINE, NULL, 1, a, 1, 2, out, 4) ==
              SBERT_ERR_INVALID_ARGUMENT, "similarity: NULL a");
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_COSINE, a, 1, NULL, 1, 2, out, 4) ==
              SBERT_ERR_INVALID_ARGUMENT, "similarity: NULL b");
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_COSINE, a, 1, a, 1, 2, NULL, 4) ==
              SBERT_ERR_INVALID_ARGUMENT, "similarity: NULL out");
    CHECK(sbert_similarity_matrix((sbert_similarity)9, a, 1, a, 1, 2, out, 4) ==
              SBERT_ERR_INVALID_ARGUMENT, "similarity: unknown function");
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_DOT, NULL, 0, NULL, 0, 2, NULL, 0) == SBERT_OK,
          "similarity: nothing to compare");
}

/* ---- sizes and options ---------------------------------------------------------------------- */

static void test_sizes(const sbert_model *m, sbert_context *ctx)
{
    const size_t dim = sbert_model_dim(m);
    const char *texts[2] = { "한 남자가 음식을 먹고 있다.", "짧다" };
    float *out = malloc((2 * dim - 1) * sizeof *out);
    int rc = sbert_encode(ctx, texts, NULL, 2, NULL, out, 2 * dim - 1);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && strstr(sbert_context_errmsg(ctx), "need"),
          "encode, one float short: %s: %s", sbert_strerror(rc), sbert_context_errmsg(ctx));
    free(out);

    size_t n = 0;
    int32_t ids[3];
    rc = sbert_tokenize(ctx, texts[0], strlen(texts[0]), 0, ids, 3, &n);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n > 3 && sbert_context_errmsg(ctx)[0],
          "tokenize, small buffer: %s, %zu ids", sbert_strerror(rc), n);

    size_t n_tokens = 0;
    float states[8];
    rc = sbert_encode_tokens(ctx, texts[0], strlen(texts[0]), NULL, states, 8, &n_tokens);
    CHECK(rc == SBERT_ERR_BUFFER_TOO_SMALL && n_tokens > 2, "encode_tokens, small buffer: %s",
          sbert_strerror(rc));

    /* n_texts whose float count does not fit: refused before any text is read */
    float small[4];
    static const size_t huge[] = { SIZE_MAX, SIZE_MAX / 2, (size_t)UINT32_MAX + 1, SIZE_MAX / 64 + 1,
                                   1u << 20 };
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        rc = sbert_encode(ctx, texts, NULL, huge[i], NULL, small, 4);
        CHECK(rc == SBERT_ERR_TOO_LARGE || rc == SBERT_ERR_BUFFER_TOO_SMALL, "n_texts %zu: %s",
              huge[i], sbert_strerror(rc));
    }
    const float a[2] = { 1, 0 };
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_DOT, a, SIZE_MAX / 2, a, 4, 2, small, 4) ==
              SBERT_ERR_TOO_LARGE, "similarity: n_a * n_b overflows");
    CHECK(sbert_similarity_matrix(SBERT_SIMILARITY_DOT, a, 1, a, 1, 2, small, 0) ==
              SBERT_ERR_BUFFER_TOO_SMALL, "similarity: no room");

    /* max_length: at least 2, at most the position table (514 rows from offset 2 here) */
    sbert_encode_options o = sbert_encode_default_options();
    static const size_t bad_lengths[] = { 1, 513, SIZE_MAX };
    float *v = malloc(dim * sizeof *v);
    for (size_t i = 0; i < sizeof bad_lengths / sizeof *bad_lengths; i++) {
        o.max_length = bad_lengths[i];
        rc = sbert_encode(ctx, texts, NULL, 1, &o, v, dim);
        CHECK(rc == SBERT_ERR_INVALID_ARGUMENT && sbert_context_errmsg(ctx)[0], "max_length %zu: %s",
              bad_lengths[i], sbert_strerror(rc));
        rc = sbert_encode_tokens(ctx, texts[0], strlen(texts[0]), &o, NULL, 0, &n_tokens);
        CHECK(rc == SBERT_ERR_INVALID_ARGUMENT, "encode_tokens, max_length %zu: %s",
              bad_lengths[i], sbert_strerror(rc));
    }
    o.max_length = 2; /* [CLS] [SEP] */
    CHECK(sbert_encode(ctx, texts, NULL, 1, &o, v, dim) == SBERT_OK && all_finite(v, dim),
          "max_length 2");

    o = sbert_encode_default_options();
    o.prompt_name = "query";
    rc = sbert_encode(ctx, texts, NULL, 1, &o, v, dim);
    CHECK(rc == SBERT_ERR_NOT_FOUND && strstr(sbert_context_errmsg(ctx), "query"),
          "unknown prompt name: %s: %s", sbert_strerror(rc), sbert_context_errmsg(ctx));
    rc = sbert_encode_tokens(ctx, texts[0], 1, &o, NULL, 0, &n_tokens);
    CHECK(rc == SBERT_ERR_NOT_FOUND, "encode_tokens, unknown prompt name: %s", sbert_strerror(rc));
    free(v);
}

int main(void)
{
    test_null_model_arguments();
    test_bad_paths();
    sbert_model *m = load("ko-tiny");
    if (!m)
        return TEST_DONE();
    sbert_context *strict = context(m, SBERT_UTF8_REJECT), *lenient = context(m, SBERT_UTF8_REPLACE);
    if (strict && lenient) {
        test_null_context_arguments(m);
        test_null_call_arguments(m, strict);
        test_sizes(m, strict);
        test_degenerate_texts(m, strict);
        test_bad_utf8(m, strict, lenient);
        test_big_text(m, strict);
    }
    test_hostile_marks();
    test_text_without_tokens();
    sbert_context_free(strict);
    sbert_context_free(lenient);
    sbert_model_free(m);
    return TEST_DONE();
}
