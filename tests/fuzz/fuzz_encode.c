/* libFuzzer target: arbitrary bytes as a few texts through sbert_encode and sbert_encode_tokens.
 *
 *   input[0]   bits 0-1 and 7 (as bit 2): the model, bit 2: the UTF-8 policy, bit 3: normalize,
 *              bits 4-5: the prompt (none, a literal one, prompt_name "query", prompt_name
 *              "no-such-prompt"), bit 6: texts NUL-terminated (lengths NULL) instead of given
 *              lengths
 *   input[1]   bits 0-6: max_length (0: the model's), bit 7: batch_size 2 instead of 32
 *   input[2..] pieces separated by 0xFF: the literal prompt first when there is one, then up to
 *              MAX_TEXTS texts (the last one takes the rest)
 *
 * Models: $SBERT_FUZZ_MODEL (':'-separated), by default ko-tiny (RoBERTa positions, mean
 * pooling), the loader's seeds (tests/fuzz/make_seed.py) bert-wordpiece-f32.sbert (a prompt,
 * CLS + mean pooling, Dense, Normalize) and xlmr-unigram-f16.sbert (Unigram, F16 weights, max
 * pooling), tests/fuzz/bert-no-specials.sbert (no special tokens, so an empty text has no
 * tokens; all six pooling modes; a prompt that pooling leaves out) and xlmr-unigram-int8.sbert
 * (int8 Linear weights: the VNNI kernels under the sanitizers). Checked on every input (a
 * failure aborts):
 * - the status is SBERT_OK when no error applies, else one of the errors that apply:
 *   NOT_FOUND (unknown prompt name), INVALID_ARGUMENT (max_length 1 or beyond the position
 *   table), INVALID_UTF8 (an ill-formed prompt, or REJECT and an ill-formed text);
 * - one float short of room is BUFFER_TOO_SMALL (out buffers are exact, so ASan sees overruns);
 * - every output is finite; normalized vectors have norm 1 (0 only when a prompt that pooling
 *   leaves out takes every token);
 * - a text's vector does not depend on the other texts of the call (bit for bit);
 * - sbert_encode_tokens follows the BUFFER_TOO_SMALL protocol, gives as many tokens as
 *   sbert_tokenize, and (mean pooling, nothing after it) their mean is the sentence vector;
 * - the progress callback counts up to n_texts. */
#include <math.h>

#include "fuzz_common.h"
#include "model/model.h" /* pooling, Normalize, the position table: what the expected results need */

#define MAX_TEXTS 8

static sbert_model *models[FUZZ_MAX_MODELS];
static sbert_context *contexts[FUZZ_MAX_MODELS][2][2]; /* [model][sbert_utf8_policy][small batch] */
static int n_models;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    n_models = fuzz_load_models(
        "build/models/ko-tiny.sbert:tests/fuzz/corpus/loader/bert-wordpiece-f32.sbert:"
        "tests/fuzz/corpus/loader/xlmr-unigram-f16.sbert:tests/fuzz/bert-no-specials.sbert:"
        "tests/fuzz/corpus/loader/xlmr-unigram-int8.sbert",
        models);
    for (int i = 0; i < n_models; i++)
        for (int policy = 0; policy < 2; policy++)
            for (int small = 0; small < 2; small++)
                contexts[i][policy][small] = fuzz_context(models[i], small ? 2 : 32, policy);
    return 0;
}

typedef struct {
    const sbert_model *model;
    sbert_context *ctx;
    int rejects_bad_utf8;     /* the context's policy is SBERT_UTF8_REJECT */
    sbert_encode_options opts;
    int nul_terminated;       /* texts are passed with lengths NULL */
    char *prompt;             /* the literal prompt (owned), or NULL */
    char *texts[MAX_TEXTS];   /* exactly lengths[i] bytes each (+ a NUL when nul_terminated) */
    size_t lengths[MAX_TEXTS];
    size_t n_texts;
    size_t progress_done;     /* the last texts_done the progress callback saw */
    size_t progress_total;    /* n_texts of the call in progress */
} fuzz_case;

static char *copy_piece(const uint8_t *p, size_t n, int nul)
{
    const size_t bytes = n + (size_t)nul;
    char *s = malloc(bytes ? bytes : 1);
    REQUIRE(s, "out of memory");
    if (n)
        memcpy(s, p, n);
    if (nul)
        s[n] = '\0';
    return s;
}

/* Splits data at 0xFF into the literal prompt (when wanted) and the texts. */
static void split_pieces(fuzz_case *c, const uint8_t *data, size_t size, int want_prompt)
{
    size_t at = 0;
    for (;;) {
        const int prompt_next = want_prompt && !c->prompt;
        const int last = !prompt_next && c->n_texts == MAX_TEXTS - 1;
        const uint8_t *sep = last ? NULL : memchr(data + at, 0xFF, size - at);
        const size_t end = sep ? (size_t)(sep - data) : size;
        if (prompt_next) {
            c->prompt = copy_piece(data + at, end - at, 1);
        } else {
            char *t = copy_piece(data + at, end - at, c->nul_terminated);
            c->lengths[c->n_texts] = c->nul_terminated ? strlen(t) : end - at;
            c->texts[c->n_texts++] = t;
        }
        if (!sep)
            return;
        at = end + 1;
    }
}

static void free_case(fuzz_case *c)
{
    free(c->prompt);
    for (size_t i = 0; i < c->n_texts; i++)
        free(c->texts[i]);
}

/* The prompt a call prepends (NULL for none), as sbert.h documents it. */
static const char *applied_prompt(const fuzz_case *c)
{
    const sbert_model *m = c->model;
    if (c->opts.prompt)
        return c->opts.prompt;
    if (!c->opts.prompt_name)
        return m->default_prompt >= 0 ? m->prompt_texts[m->default_prompt] : NULL;
    for (size_t i = 0; i < sbert_model_n_prompts(m); i++)
        if (strcmp(sbert_model_prompt_name(m, i), c->opts.prompt_name) == 0)
            return sbert_model_prompt_text(m, i);
    return NULL;
}

static int prompt_is_unknown(const fuzz_case *c)
{
    return !c->opts.prompt && c->opts.prompt_name && !applied_prompt(c);
}

/* The tokens of the prompt are left out of pooling, so a text can end up with none to pool. */
static int prompt_is_skipped(const fuzz_case *c)
{
    const char *prompt = applied_prompt(c);
    return prompt && *prompt && !c->model->pooling.include_prompt;
}

#define ERROR_BIT(code) (1u << -(code))

/* The errors that apply to a call on texts [first, first + n): bit -code for each. */
static unsigned errors_that_apply(const fuzz_case *c, size_t first, size_t n)
{
    const sbert_model *m = c->model;
    unsigned errors = 0;
    if (prompt_is_unknown(c))
        errors |= ERROR_BIT(SBERT_ERR_NOT_FOUND);
    const size_t positions = (size_t)(m->hp.max_positions - m->hp.position_offset);
    const size_t n_special = (size_t)m->tok_cfg.n_prefix + m->tok_cfg.n_suffix;
    const size_t max_length = c->opts.max_length;
    if (max_length && (max_length < 2 || max_length < n_special || max_length > positions))
        errors |= ERROR_BIT(SBERT_ERR_INVALID_ARGUMENT);
    const char *prompt = applied_prompt(c);
    if (prompt && !fuzz_utf8_valid((const uint8_t *)prompt, strlen(prompt)))
        errors |= ERROR_BIT(SBERT_ERR_INVALID_UTF8); /* whatever the policy */
    for (size_t i = first; i < first + n && c->rejects_bad_utf8; i++)
        if (!fuzz_utf8_valid((const uint8_t *)c->texts[i], c->lengths[i]))
            errors |= ERROR_BIT(SBERT_ERR_INVALID_UTF8);
    return errors;
}

static void require_status(int rc, unsigned errors, sbert_context *ctx, const char *call)
{
    if (errors == 0) {
        REQUIRE(rc == SBERT_OK, "%s: %s: %s", call, sbert_strerror(rc), sbert_context_errmsg(ctx));
        return;
    }
    REQUIRE(rc < 0 && rc > -32 && (errors & ERROR_BIT(rc)), "%s: %s, expected one of 0x%x", call,
            sbert_strerror(rc), errors);
    REQUIRE(sbert_context_errmsg(ctx)[0], "%s: no message for %s", call, sbert_strerror(rc));
}

static void on_progress(size_t done, size_t total, void *user_data)
{
    fuzz_case *c = user_data;
    REQUIRE(total == c->progress_total && done > c->progress_done && done <= total,
            "progress %zu / %zu after %zu", done, total, c->progress_done);
    c->progress_done = done;
}

static void require_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        REQUIRE(isfinite(v[i]), "[%zu] = %g", i, v[i]);
}

static void require_vectors(const fuzz_case *c, const float *v, size_t rows, size_t dim)
{
    require_finite(v, rows * dim);
    if (!c->opts.normalize && !c->model->normalize)
        return;
    for (size_t r = 0; r < rows; r++) {
        double norm = 0.0;
        for (size_t j = 0; j < dim; j++)
            norm += (double)v[r * dim + j] * v[r * dim + j];
        REQUIRE(fabs(sqrt(norm) - 1.0) < 1e-4 || (norm == 0.0 && prompt_is_skipped(c)),
                "row %zu: norm %.9f", r, sqrt(norm));
    }
}

static float *alloc_floats(size_t n)
{
    float *p = malloc(n ? n * sizeof *p : 1);
    REQUIRE(p, "out of memory");
    return p;
}

static int encode(fuzz_case *c, size_t first, size_t n, float *out, size_t capacity)
{
    c->progress_done = 0;
    c->progress_total = n;
    return sbert_encode(c->ctx, (const char *const *)c->texts + first,
                        c->nul_terminated ? NULL : c->lengths + first, n, &c->opts, out, capacity);
}

/* The mean of the token states, normalized when the pipeline does: the sentence vector of a
 * model whose pipeline is mean pooling alone. */
static void require_mean_pooling(const fuzz_case *c, const float *tokens, size_t n,
                                 const float *vector)
{
    const sbert_model *m = c->model;
    const sb_pooling *p = &m->pooling;
    if (!p->mean || p->cls || p->max || p->mean_sqrt_len || p->weightedmean || p->lasttoken ||
        m->n_dense || applied_prompt(c) || n == 0)
        return;
    const size_t H = sbert_model_hidden_size(m);
    double *mean = malloc(H * sizeof *mean), norm = 0.0;
    REQUIRE(mean, "out of memory");
    for (size_t j = 0; j < H; j++) {
        mean[j] = 0.0;
        for (size_t t = 0; t < n; t++)
            mean[j] += tokens[t * H + j];
        mean[j] /= (double)n;
        norm += mean[j] * mean[j];
    }
    const double scale = c->opts.normalize || m->normalize ? 1.0 / sqrt(norm) : 1.0;
    for (size_t j = 0; j < H; j++)
        REQUIRE(fabs(mean[j] * scale - vector[j]) < 1e-4, "[%zu]: mean of tokens %.7f, vector %.7f",
                j, mean[j] * scale, vector[j]);
    free(mean);
}

/* sbert_encode_tokens on text i, checked against sbert_tokenize and the sentence vector. */
static void check_encode_tokens(fuzz_case *c, size_t i, const float *vector)
{
    const unsigned errors = errors_that_apply(c, i, 1);
    size_t n = SIZE_MAX, again = SIZE_MAX;
    int rc = sbert_encode_tokens(c->ctx, c->texts[i], c->lengths[i], &c->opts, NULL, 0, &n);
    if (rc != SBERT_ERR_BUFFER_TOO_SMALL) {
        require_status(rc, errors, c->ctx, "sbert_encode_tokens, capacity 0");
        return;
    }
    REQUIRE(errors == 0 && n > 0, "capacity 0: BUFFER_TOO_SMALL, %zu tokens, errors 0x%x", n,
            errors);
    const size_t H = sbert_model_hidden_size(c->model);
    float *tokens = alloc_floats(n * H);
    rc = sbert_encode_tokens(c->ctx, c->texts[i], c->lengths[i], &c->opts, tokens, n * H, &again);
    REQUIRE(rc == SBERT_OK && again == n, "%s, %zu tokens then %zu", sbert_strerror(rc), n, again);
    require_finite(tokens, n * H);
    if (!applied_prompt(c) && c->opts.max_length == 0) {
        size_t n_ids = 0;
        rc = sbert_tokenize(c->ctx, c->texts[i], c->lengths[i], 0, NULL, 0, &n_ids);
        REQUIRE(rc == SBERT_ERR_BUFFER_TOO_SMALL && n_ids == n,
                "sbert_tokenize: %s, %zu ids; sbert_encode_tokens: %zu", sbert_strerror(rc), n_ids, n);
    }
    if (vector)
        require_mean_pooling(c, tokens, n, vector);
    free(tokens);
}

/* sbert_encode on every text, then the last text alone and through sbert_encode_tokens. */
static void check_encode(fuzz_case *c)
{
    const size_t dim = sbert_model_dim(c->model), n = c->n_texts;
    const unsigned errors = errors_that_apply(c, 0, n);
    if (n == 0) { /* a no-op, which must not touch out */
        require_status(encode(c, 0, 0, NULL, 0), errors, c->ctx, "sbert_encode, no texts");
        return;
    }
    float *out = alloc_floats(n * dim);
    int rc = encode(c, 0, n, out, n * dim - 1);
    REQUIRE(rc == SBERT_ERR_BUFFER_TOO_SMALL || (rc < 0 && rc > -32 && (errors & ERROR_BIT(rc))),
            "capacity one float short: %s", sbert_strerror(rc));
    rc = encode(c, 0, n, out, n * dim);
    require_status(rc, errors, c->ctx, "sbert_encode");
    const float *last = rc == SBERT_OK ? out + (n - 1) * dim : NULL;
    if (last) {
        REQUIRE(c->progress_done == n, "progress reached %zu of %zu", c->progress_done, n);
        require_vectors(c, out, n, dim);
        float *alone = alloc_floats(dim);
        REQUIRE(encode(c, n - 1, 1, alone, dim) == SBERT_OK, "the last text alone");
        REQUIRE(memcmp(alone, last, dim * sizeof *alone) == 0,
                "text %zu alone differs from its row in a call of %zu texts", n - 1, n);
        free(alone);
    }
    check_encode_tokens(c, n - 1, last);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prompt_names[4] = { NULL, NULL, "query", "no-such-prompt" };
    if (size < 2)
        return 0;
    const int which = ((data[0] & 3) | (data[0] >> 7) << 2) % n_models, policy = data[0] >> 2 & 1;
    const int prompt_mode = data[0] >> 4 & 3;
    fuzz_case c = {
        .model = models[which],
        .ctx = contexts[which][policy][data[1] >> 7],
        .rejects_bad_utf8 = policy == SBERT_UTF8_REJECT,
        .nul_terminated = data[0] >> 6 & 1,
    };
    if (size > 2) /* else no text at all: a no-op */
        split_pieces(&c, data + 2, size - 2, prompt_mode == 1);
    c.opts = sbert_encode_default_options();
    c.opts.normalize = data[0] >> 3 & 1;
    c.opts.max_length = data[1] & 0x7F;
    c.opts.prompt = c.prompt;
    c.opts.prompt_name = prompt_names[prompt_mode];
    c.opts.progress = on_progress;
    c.opts.progress_user_data = &c;

    check_encode(&c);
    free_case(&c);
    return 0;
}
