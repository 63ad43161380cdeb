/* The public API (include/sbert.h): handles, errors, and sbert_encode's batching.
 *
 * The pieces it strings together each live in their own file:
 *   model_file.c  the .sbert file: map, validate, fill struct sbert_model
 *   tokenizer.c   text -> ids
 *   encoder.c     ids -> token states (the transformer)
 *   pooling.c     token states -> sentence embedding (Pooling, Dense, Normalize) */
#include "sbert.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "kernels/kernels.h"
#include "model.h"
#include "model_file.h"
#include "threadpool.h"
#include "pooling.h"
#include "tokenizer.h"
#include "utf8.h"

#define SB_DEFAULT_BATCH 32
#define SB_MAX_BATCH 4096

/* ---- version and errors -------------------------------------------------------------------- */

const char *sbert_version(void) { return SBERT_VERSION_STRING; }
int sbert_format_version(void) { return 1; }

#ifdef SBERT_NO_THREADS
#define THREADS_INFO "threads: no"
#else
#define THREADS_INFO "threads: yes"
#endif
#define SYSTEM_INFO(fp32)                                                                    \
    { "fp32: " fp32 ", int8: portable, " THREADS_INFO, "fp32: " fp32 ", int8: avx2, " THREADS_INFO, \
      "fp32: " fp32 ", int8: avx-vnni, " THREADS_INFO,                                     \
      "fp32: " fp32 ", int8: avx512-vnni, " THREADS_INFO }

/* Literals for every combination, so that no buffer is written (and no thread can race on one). */
const char *sbert_system_info(void)
{
    _Static_assert(SB_ISA_NEON == 3 && SB_Q8_AVX512_VNNI == 3, "the table's dimensions");
    static const char *const info[4][4] = { SYSTEM_INFO("scalar"), SYSTEM_INFO("avx2"),
                                            SYSTEM_INFO("avx512"), SYSTEM_INFO("neon") };
    return info[sb_kernels_isa()][sb_kernels_q8()];
}

const char *sbert_strerror(int status)
{
    switch (status) {
    case SBERT_OK: return "success";
    case SBERT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SBERT_ERR_IO: return "cannot open or read the file";
    case SBERT_ERR_NOT_A_MODEL: return "not a .sbert model file";
    case SBERT_ERR_VERSION: return "unsupported .sbert format version";
    case SBERT_ERR_TRUNCATED: return "model file is truncated";
    case SBERT_ERR_CHECKSUM: return "model file header is damaged (checksum mismatch)";
    case SBERT_ERR_CORRUPT: return "model file is corrupt";
    case SBERT_ERR_SHAPE: return "tensor shape does not match the model's hyper-parameters";
    case SBERT_ERR_UNSUPPORTED: return "unsupported model feature";
    case SBERT_ERR_NO_MEMORY: return "out of memory";
    case SBERT_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case SBERT_ERR_INVALID_UTF8: return "text is not valid UTF-8";
    case SBERT_ERR_NOT_FOUND: return "no such prompt";
    case SBERT_ERR_TOO_LARGE: return "size too large";
    default: return "unknown error";
    }
}

static void write_message(char *buf, size_t size, const char *fmt, va_list ap)
{
    if (buf && size)
        vsnprintf(buf, size, fmt, ap);
}

static int load_fail(int code, char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_message(err, err_size, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- model --------------------------------------------------------------------------------- */

sbert_model_params sbert_model_default_params(void)
{
    sbert_model_params p = { .use_mmap = 1, .prefault = 1 };
    return p;
}

/* Shared tail of both load calls: build the tokenizer once the file part succeeded. */
static int finish_load(sbert_model *m, int rc, sbert_model **model_out, char *err, size_t err_size)
{
    if (rc == SBERT_OK)
        rc = sb_tokenizer_create(&m->tok_cfg, &m->tokenizer, err, err_size);
    if (rc != SBERT_OK) {
        sbert_model_free(m);
        return rc;
    }
    if (err && err_size)
        err[0] = '\0';
    *model_out = m;
    return SBERT_OK;
}

int sbert_model_load(const char *path, const sbert_model_params *params, sbert_model **model_out,
                     char *err, size_t err_size)
{
    if (!model_out)
        return load_fail(SBERT_ERR_INVALID_ARGUMENT, err, err_size, "model_out is NULL");
    *model_out = NULL;
    if (!path)
        return load_fail(SBERT_ERR_INVALID_ARGUMENT, err, err_size, "path is NULL");
    sbert_model_params defaults = sbert_model_default_params();
    sbert_model *m = calloc(1, sizeof *m);
    if (!m)
        return load_fail(SBERT_ERR_NO_MEMORY, err, err_size, "out of memory");
    int rc = sb_model_file_open(m, path, params ? params : &defaults, err, err_size);
    return finish_load(m, rc, model_out, err, err_size);
}

int sbert_model_load_from_memory(const void *data, size_t size, sbert_model **model_out, char *err,
                                 size_t err_size)
{
    if (!model_out)
        return load_fail(SBERT_ERR_INVALID_ARGUMENT, err, err_size, "model_out is NULL");
    *model_out = NULL;
    if (!data)
        return load_fail(SBERT_ERR_INVALID_ARGUMENT, err, err_size, "data is NULL");
    sbert_model *m = calloc(1, sizeof *m);
    if (!m)
        return load_fail(SBERT_ERR_NO_MEMORY, err, err_size, "out of memory");
    int rc = sb_model_file_from_memory(m, data, size, err, err_size);
    return finish_load(m, rc, model_out, err, err_size);
}

void sbert_model_free(sbert_model *m)
{
    if (!m)
        return;
    sb_tokenizer_free(m->tokenizer);
    sb_model_file_close(m);
    free(m);
}

size_t sbert_model_dim(const sbert_model *m) { return m ? m->dim : 0; }
size_t sbert_model_hidden_size(const sbert_model *m) { return m ? (size_t)m->hp.hidden : 0; }
size_t sbert_model_max_seq_length(const sbert_model *m) { return m ? m->max_seq_length : 0; }
size_t sbert_model_vocab_size(const sbert_model *m) { return m ? (size_t)m->hp.vocab_size : 0; }
const char *sbert_model_type(const sbert_model *m) { return m ? m->arch_name : NULL; }
const char *sbert_model_name(const sbert_model *m) { return m ? m->name : NULL; }
size_t sbert_model_n_prompts(const sbert_model *m) { return m ? m->n_prompts : 0; }

sbert_similarity sbert_model_similarity(const sbert_model *m)
{
    return m ? m->similarity : SBERT_SIMILARITY_COSINE;
}

const char *sbert_model_prompt_name(const sbert_model *m, size_t i)
{
    return m && i < m->n_prompts ? m->prompt_names[i] : NULL;
}

const char *sbert_model_prompt_text(const sbert_model *m, size_t i)
{
    return m && i < m->n_prompts ? m->prompt_texts[i] : NULL;
}

/* The longest token sequence the position table allows. */
static size_t max_positions_usable(const sbert_model *m)
{
    return (size_t)(m->hp.max_positions - m->hp.position_offset);
}

/* ---- context ------------------------------------------------------------------------------- */

/* A growable array of T: per-call storage that only grows, so steady-state calls allocate
 * nothing. */
#define GROW(ctx, ptr, cap, need)                                                           \
    ((need) <= (cap) ? SBERT_OK : grow_buffer((ctx), (void **)&(ptr), &(cap), (need), sizeof *(ptr)))

struct sbert_context {
    const sbert_model *model;
    sbert_context_params params;
    char errmsg[512];

    sb_tok_scratch *tok_scratch;
    sb_encoder_state enc;
    float *pool_scratch;

    /* per call, grown on demand */
    int32_t *ids;        /* every text's ids, concatenated */
    size_t ids_cap;
    size_t *id_start;    /* [n_texts + 1] where each text's ids start in `ids` */
    size_t id_start_cap;
    uint64_t *order;     /* texts sorted by token count, longest first (see sort_by_length) */
    size_t order_cap;
    char *text_buf;      /* prompt + text */
    size_t text_buf_cap;
    int32_t *batch_ids;  /* [max_tokens] the current batch's ids */
    int *batch_start;    /* [batch_size + 1] */
};

static int fail(sbert_context *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_message(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

static int grow_buffer(sbert_context *ctx, void **ptr, size_t *cap, size_t need, size_t elem)
{
    size_t new_cap = *cap ? *cap : 64;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2 / elem)
            return fail(ctx, SBERT_ERR_TOO_LARGE, "request of %zu elements is too large", need);
        new_cap *= 2;
    }
    void *p = realloc(*ptr, new_cap * elem);
    if (!p)
        return fail(ctx, SBERT_ERR_NO_MEMORY, "out of memory growing a buffer to %zu bytes",
                    new_cap * elem);
    *ptr = p;
    *cap = new_cap;
    return SBERT_OK;
}

sbert_context_params sbert_context_default_params(void)
{
    sbert_context_params p = { .n_threads = 0, .batch_size = SB_DEFAULT_BATCH,
                               .utf8 = SBERT_UTF8_REJECT };
    return p;
}

static int context_init(sbert_context *ctx)
{
    const sbert_model *m = ctx->model;
    const size_t max_text = max_positions_usable(m);
    size_t max_tokens = ctx->params.batch_size * m->max_seq_length;
    if (max_tokens < max_text)
        max_tokens = max_text;
    if (max_tokens > INT_MAX / 4)
        return SBERT_ERR_TOO_LARGE;
    int rc = sb_encoder_state_init(&ctx->enc, m, (int)max_tokens, (int)max_text,
                                   ctx->params.n_threads);
    if (rc != SBERT_OK)
        return rc;
    ctx->tok_scratch = sb_tok_scratch_create();
    ctx->pool_scratch = malloc(sb_pool_scratch_floats(m) * sizeof(float));
    ctx->batch_ids = malloc(max_tokens * sizeof(int32_t));
    ctx->batch_start = malloc((ctx->params.batch_size + 1) * sizeof(int));
    if (!ctx->tok_scratch || !ctx->pool_scratch || !ctx->batch_ids || !ctx->batch_start)
        return SBERT_ERR_NO_MEMORY;
    return SBERT_OK;
}

int sbert_context_create(const sbert_model *model, const sbert_context_params *params,
                         sbert_context **ctx_out)
{
    if (!ctx_out)
        return SBERT_ERR_INVALID_ARGUMENT;
    *ctx_out = NULL;
    if (!model)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_context_params p = params ? *params : sbert_context_default_params();
    if (p.n_threads < 0 || p.batch_size > SB_MAX_BATCH ||
        (p.utf8 != SBERT_UTF8_REJECT && p.utf8 != SBERT_UTF8_REPLACE))
        return SBERT_ERR_INVALID_ARGUMENT;
    if (p.n_threads == 0)
        p.n_threads = sb_available_cores();
    if (p.batch_size == 0)
        p.batch_size = SB_DEFAULT_BATCH;

    sbert_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return SBERT_ERR_NO_MEMORY;
    ctx->model = model;
    ctx->params = p;
    int rc = context_init(ctx);
    if (rc != SBERT_OK) {
        sbert_context_free(ctx);
        return rc;
    }
    *ctx_out = ctx;
    return SBERT_OK;
}

void sbert_context_free(sbert_context *ctx)
{
    if (!ctx)
        return;
    sb_tok_scratch_free(ctx->tok_scratch);
    sb_encoder_state_free(&ctx->enc);
    free(ctx->pool_scratch);
    free(ctx->ids);
    free(ctx->id_start);
    free(ctx->order);
    free(ctx->text_buf);
    free(ctx->batch_ids);
    free(ctx->batch_start);
    free(ctx);
}

const char *sbert_context_errmsg(const sbert_context *ctx) { return ctx ? ctx->errmsg : ""; }

/* ---- tokenizing ---------------------------------------------------------------------------- */

/* Tokenizes one text into ids[0..capacity), the count into *n_ids. */
static int tokenize_into(sbert_context *ctx, const char *text, size_t len, int flags,
                         size_t max_tokens, int32_t *ids, size_t capacity, size_t *n_ids)
{
    sb_tok_options o = {
        .st_prepare = !(flags & SBERT_TOKENIZE_RAW),
        .add_special = !(flags & SBERT_TOKENIZE_NO_SPECIAL),
        .max_tokens = (flags & SBERT_TOKENIZE_NO_TRUNCATE) ? 0 : max_tokens,
        .utf8 = ctx->params.utf8 == SBERT_UTF8_REPLACE ? SB_UTF8_REPLACE : SB_UTF8_REJECT,
    };
    return sb_tokenizer_encode(ctx->model->tokenizer, ctx->tok_scratch, text, len, &o, ids,
                               capacity, n_ids, ctx->errmsg, sizeof ctx->errmsg);
}

int sbert_tokenize(sbert_context *ctx, const char *text, size_t len, int flags, int32_t *ids,
                   size_t capacity, size_t *n_ids)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    ctx->errmsg[0] = '\0';
    if (!n_ids || (!text && len) || (!ids && capacity))
        return fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_tokenize: NULL %s",
                    !n_ids ? "n_ids" : !ids ? "ids with a nonzero capacity" : "text");
    return tokenize_into(ctx, text ? text : "", len, flags, ctx->model->max_seq_length, ids,
                         capacity, n_ids);
}

/* ---- encoding ------------------------------------------------------------------------------ */

sbert_encode_options sbert_encode_default_options(void)
{
    sbert_encode_options o = { 0 };
    return o;
}

/* The prompt an encode call prepends (NULL for none), or an error for an unknown name. */
static int find_prompt(sbert_context *ctx, const sbert_encode_options *o, const char **prompt)
{
    const sbert_model *m = ctx->model;
    *prompt = NULL;
    if (o->prompt) {
        *prompt = o->prompt;
        return SBERT_OK;
    }
    if (!o->prompt_name) {
        if (m->default_prompt >= 0)
            *prompt = m->prompt_texts[m->default_prompt];
        return SBERT_OK;
    }
    for (size_t i = 0; i < m->n_prompts; i++)
        if (strcmp(m->prompt_names[i], o->prompt_name) == 0) {
            *prompt = m->prompt_texts[i];
            return SBERT_OK;
        }
    return fail(ctx, SBERT_ERR_NOT_FOUND, "the model defines no prompt named \"%s\" (it has %zu)",
                o->prompt_name, m->n_prompts);
}

/* find_prompt, and the prompt must be well-formed UTF-8 whatever the policy: pooling counts its
 * tokens apart from the text's (include_prompt false), which agrees with the tokens of prompt +
 * text only when no character straddles the two. */
static int resolve_prompt(sbert_context *ctx, const sbert_encode_options *o, const char **prompt)
{
    int rc = find_prompt(ctx, o, prompt);
    if (rc != SBERT_OK || !*prompt)
        return rc;
    const size_t len = strlen(*prompt);
    const size_t bad = sb_utf8_find_invalid((const uint8_t *)*prompt, len);
    if (bad < len)
        return fail(ctx, SBERT_ERR_INVALID_UTF8, "the prompt is not valid UTF-8 (byte offset %zu)",
                    bad);
    return SBERT_OK;
}

static int resolve_max_length(sbert_context *ctx, const sbert_encode_options *o, size_t *max_len)
{
    const size_t limit = max_positions_usable(ctx->model);
    *max_len = o->max_length ? o->max_length : ctx->model->max_seq_length;
    if (*max_len > limit)
        return fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                    "max_length %zu exceeds the %zu positions the model has", *max_len, limit);
    if (*max_len < 2)
        return fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "max_length %zu is too small", *max_len);
    return SBERT_OK;
}

/* Appends the ids of prompt + text to ctx->ids at ctx->id_start[i]. */
static int tokenize_text(sbert_context *ctx, size_t i, const char *prompt, const char *text,
                         size_t len, size_t max_len)
{
    const size_t plen = prompt ? strlen(prompt) : 0;
    if (plen) { /* sentence-transformers prepends the prompt to the text before tokenizing */
        if (len > SIZE_MAX - plen - 1)
            return fail(ctx, SBERT_ERR_TOO_LARGE, "text %zu is too large", i);
        int rc = GROW(ctx, ctx->text_buf, ctx->text_buf_cap, plen + len);
        if (rc != SBERT_OK)
            return rc;
        memcpy(ctx->text_buf, prompt, plen);
        if (len)
            memcpy(ctx->text_buf + plen, text, len);
        text = ctx->text_buf;
        len += plen;
    }
    const size_t start = ctx->id_start[i];
    int rc = GROW(ctx, ctx->ids, ctx->ids_cap, start + max_len);
    if (rc != SBERT_OK)
        return rc;
    size_t n = 0;
    rc = tokenize_into(ctx, text ? text : "", len, 0, max_len, ctx->ids + start, max_len, &n);
    if (rc != SBERT_OK) {
        /* the tokenizer's message is in errmsg, which fail() overwrites: format from a copy */
        char detail[sizeof ctx->errmsg];
        memcpy(detail, ctx->errmsg, sizeof detail);
        return fail(ctx, rc, "text %zu: %s", i, detail);
    }
    ctx->id_start[i + 1] = start + n;
    return SBERT_OK;
}

/* Tokens of the prompt that pooling leaves out when include_prompt is false, counted as
 * sentence-transformers does: the prompt's ids with special tokens, minus one. */
static int prompt_skip(sbert_context *ctx, const char *prompt, size_t max_len, int *skip)
{
    *skip = 0;
    if (!prompt || !*prompt || ctx->model->pooling.include_prompt)
        return SBERT_OK;
    size_t n = 0;
    int rc = tokenize_into(ctx, prompt, strlen(prompt), SBERT_TOKENIZE_NO_TRUNCATE, max_len, NULL,
                           0, &n);
    if (rc != SBERT_OK && rc != SBERT_ERR_BUFFER_TOO_SMALL)
        return rc;
    *skip = n > 0 ? (int)n - 1 : 0;
    return SBERT_OK;
}

static int compare_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Orders texts longest first so that a batch holds texts of similar length (balanced attention
 * work per thread). Each key packs (longest - length, index) into one integer, so one plain
 * sort gives length order with input order among equals, and no comparator state is shared
 * between threads. */
static void sort_by_length(sbert_context *ctx, size_t n_texts, size_t max_len)
{
    for (size_t i = 0; i < n_texts; i++) {
        const uint64_t len = ctx->id_start[i + 1] - ctx->id_start[i];
        ctx->order[i] = ((uint64_t)(max_len - len) << 32) | (uint64_t)i;
    }
    qsort(ctx->order, n_texts, sizeof *ctx->order, compare_u64);
}

static size_t order_index(const sbert_context *ctx, size_t k)
{
    return (size_t)(ctx->order[k] & 0xffffffffu);
}

/* Runs texts order[first .. first + count) through the encoder as one batch and pools each into
 * its row of out. */
static void encode_batch(sbert_context *ctx, size_t first, size_t count, int skip, int normalize,
                         float *out)
{
    const sbert_model *m = ctx->model;
    int T = 0;
    for (size_t b = 0; b < count; b++) {
        const size_t i = order_index(ctx, first + b);
        const size_t n = ctx->id_start[i + 1] - ctx->id_start[i];
        memcpy(ctx->batch_ids + T, ctx->ids + ctx->id_start[i], n * sizeof(int32_t));
        ctx->batch_start[b] = T;
        T += (int)n;
    }
    ctx->batch_start[count] = T;
    sb_encoder_forward(m, &ctx->enc, ctx->batch_ids, ctx->batch_start, (int)count);
    for (size_t b = 0; b < count; b++) {
        const size_t i = order_index(ctx, first + b);
        const int start = ctx->batch_start[b], n = ctx->batch_start[b + 1] - start;
        sb_pool_text(m, ctx->enc.x + (size_t)start * ctx->enc.ld_x, ctx->enc.ld_x, n, skip,
                     normalize, out + i * m->dim, ctx->pool_scratch);
    }
}

/* How many texts from order[first ..] fit one forward pass. */
static size_t batch_count(const sbert_context *ctx, size_t first, size_t n_texts)
{
    size_t count = 0, tokens = 0;
    while (first + count < n_texts && count < ctx->params.batch_size) {
        const size_t i = order_index(ctx, first + count);
        const size_t n = ctx->id_start[i + 1] - ctx->id_start[i];
        if (count > 0 && tokens + n > (size_t)ctx->enc.max_tokens)
            break;
        tokens += n;
        count++;
    }
    return count;
}

/* Tokenizes every text of the call into ctx->ids. */
static int tokenize_all(sbert_context *ctx, const char *const *texts, const size_t *lengths,
                        size_t n_texts, const char *prompt, size_t max_len)
{
    int rc = GROW(ctx, ctx->id_start, ctx->id_start_cap, n_texts + 1);
    if (rc == SBERT_OK)
        rc = GROW(ctx, ctx->order, ctx->order_cap, n_texts);
    if (rc != SBERT_OK)
        return rc;
    ctx->id_start[0] = 0;
    for (size_t i = 0; i < n_texts; i++) {
        if (!texts[i] && (!lengths || lengths[i]))
            return fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "texts[%zu] is NULL", i);
        const size_t len = lengths ? lengths[i] : strlen(texts[i]);
        rc = tokenize_text(ctx, i, prompt, texts[i], len, max_len);
        if (rc != SBERT_OK)
            return rc;
    }
    return SBERT_OK;
}

/* Checks the arguments shared by the encode calls and resolves the options. */
static int begin_encode(sbert_context *ctx, const sbert_encode_options *opts,
                        sbert_encode_options *o, const char **prompt, size_t *max_len)
{
    ctx->errmsg[0] = '\0';
    *o = opts ? *opts : sbert_encode_default_options();
    int rc = resolve_prompt(ctx, o, prompt);
    if (rc == SBERT_OK)
        rc = resolve_max_length(ctx, o, max_len);
    return rc;
}

int sbert_encode(sbert_context *ctx, const char *const *texts, const size_t *lengths,
                 size_t n_texts, const sbert_encode_options *opts, float *out,
                 size_t out_capacity)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_encode_options o;
    const char *prompt;
    size_t max_len;
    int rc = begin_encode(ctx, opts, &o, &prompt, &max_len);
    if (rc != SBERT_OK || n_texts == 0)
        return rc;
    const size_t dim = ctx->model->dim;
    if (!texts || !out)
        return fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_encode: %s is NULL",
                    !texts ? "texts" : "out");
    if (n_texts > UINT32_MAX || n_texts > SIZE_MAX / dim)
        return fail(ctx, SBERT_ERR_TOO_LARGE, "%zu texts in one call is too many", n_texts);
    if (out_capacity < n_texts * dim)
        return fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "out holds %zu floats, %zu texts need %zu",
                    out_capacity, n_texts, n_texts * dim);

    int skip = 0;
    rc = tokenize_all(ctx, texts, lengths, n_texts, prompt, max_len);
    if (rc == SBERT_OK)
        rc = prompt_skip(ctx, prompt, max_len, &skip);
    if (rc != SBERT_OK)
        return rc;
    sort_by_length(ctx, n_texts, max_len);
    for (size_t first = 0; first < n_texts;) {
        const size_t count = batch_count(ctx, first, n_texts);
        encode_batch(ctx, first, count, skip, o.normalize, out);
        first += count;
        if (o.progress)
            o.progress(first, n_texts, o.progress_user_data);
    }
    return SBERT_OK;
}

int sbert_encode_tokens(sbert_context *ctx, const char *text, size_t len,
                        const sbert_encode_options *opts, float *out, size_t out_capacity,
                        size_t *n_tokens)
{
    if (!ctx)
        return SBERT_ERR_INVALID_ARGUMENT;
    sbert_encode_options o;
    const char *prompt;
    size_t max_len;
    int rc = begin_encode(ctx, opts, &o, &prompt, &max_len);
    if (rc != SBERT_OK)
        return rc;
    if (!n_tokens || (!text && len) || (!out && out_capacity))
        return fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_encode_tokens: NULL argument");
    rc = tokenize_all(ctx, &text, &len, 1, prompt, max_len);
    if (rc != SBERT_OK)
        return rc;
    const size_t n = ctx->id_start[1], H = (size_t)ctx->model->hp.hidden;
    *n_tokens = n;
    if (out_capacity < n * H)
        return fail(ctx, SBERT_ERR_BUFFER_TOO_SMALL, "out holds %zu floats, %zu tokens need %zu",
                    out_capacity, n, n * H);
    if (n == 0) /* an empty text of a model without special tokens: nothing to run, out may be NULL */
        return SBERT_OK;
    ctx->batch_start[0] = 0;
    ctx->batch_start[1] = (int)n;
    sb_encoder_forward(ctx->model, &ctx->enc, ctx->ids, ctx->batch_start, 1);
    for (size_t t = 0; t < n; t++)
        memcpy(out + t * H, ctx->enc.x + t * ctx->enc.ld_x, H * sizeof(float));
    return SBERT_OK;
}

/* ---- similarity ---------------------------------------------------------------------------- */

float sbert_dot(const float *a, const float *b, size_t dim)
{
    if (!a || !b)
        return 0.0f;
    double sum = 0.0;
    for (size_t i = 0; i < dim; i++)
        sum += (double)a[i] * b[i];
    return (float)sum;
}

float sbert_cosine(const float *a, const float *b, size_t dim)
{
    const double norms = sqrt((double)sbert_dot(a, a, dim) * sbert_dot(b, b, dim));
    return norms > 0.0 ? (float)(sbert_dot(a, b, dim) / norms) : 0.0f;
}

static float similarity(sbert_similarity fn, const float *a, const float *b, size_t dim)
{
    double d = 0.0;
    switch (fn) {
    case SBERT_SIMILARITY_COSINE: return sbert_cosine(a, b, dim);
    case SBERT_SIMILARITY_DOT: return sbert_dot(a, b, dim);
    case SBERT_SIMILARITY_EUCLIDEAN:
        for (size_t i = 0; i < dim; i++)
            d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        return (float)-sqrt(d);
    case SBERT_SIMILARITY_MANHATTAN:
        for (size_t i = 0; i < dim; i++)
            d += fabs((double)a[i] - b[i]);
        return (float)-d;
    }
    return 0.0f;
}

int sbert_similarity_matrix(sbert_similarity fn, const float *a, size_t n_a, const float *b,
                            size_t n_b, size_t dim, float *out, size_t out_capacity)
{
    if ((n_a && !a) || (n_b && !b) || (n_a && n_b && !out) || (unsigned)fn > SBERT_SIMILARITY_MANHATTAN)
        return SBERT_ERR_INVALID_ARGUMENT;
    if (n_b && n_a > SIZE_MAX / n_b)
        return SBERT_ERR_TOO_LARGE;
    if (out_capacity < n_a * n_b)
        return SBERT_ERR_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++)
            out[i * n_b + j] = similarity(fn, a + i * dim, b + j * dim, dim);
    return SBERT_OK;
}
