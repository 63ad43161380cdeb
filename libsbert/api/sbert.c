/* The public API (include/sbert.h): handles, errors, tokenizing and similarity; sbert_encode's
 * batching is in batch.c.
 *
 * The layers it strings together each have their own folder:
 *   model/      the .sbert file: map, validate, fill struct sbert_model
 *   tokenizer/  text -> ids
 *   engine/     ids -> token states (encoder.c) -> sentence embedding (pooling.c)
 *   kernels/    the arithmetic, base/ memory and threads */
#include "sbert.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "base/base.h"
#include "kernels/kernels.h"

#define SB_DEFAULT_BATCH 32

/* ---- version and errors -------------------------------------------------------------------- */

const char *sbert_version(void) { return SBERT_VERSION_STRING; }
int sbert_format_version(void) { return SB_FORMAT_VERSION; }

#ifdef SBERT_NO_THREADS
#define THREADS_INFO "threads: no"
#else
#define THREADS_INFO "threads: yes"
#endif
#define SYSTEM_INFO(fp32)                                                                    \
    { "fp32: " fp32 ", int8: portable, " THREADS_INFO, "fp32: " fp32 ", int8: avx2, " THREADS_INFO, \
      "fp32: " fp32 ", int8: avx-vnni, " THREADS_INFO,                                     \
      "fp32: " fp32 ", int8: avx512-vnni, " THREADS_INFO, "fp32: " fp32 ", int8: amx, " THREADS_INFO }

/* Literals for every combination, so that no buffer is written (and no thread can race on one). */
const char *sbert_system_info(void)
{
    _Static_assert(SB_ISA_NEON == 3 && SB_Q8_AMX == 4, "the table's dimensions");
    static const char *const info[4][5] = { SYSTEM_INFO("scalar"), SYSTEM_INFO("avx2"),
                                            SYSTEM_INFO("avx512"), SYSTEM_INFO("neon") };
    return info[sb_kernels_isa()][sb_kernels_q8()];
}

const char *sbert_strerror(int status) { return sb_status_text(status); }

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
    const sb_err e = { err, err_size };
    if (!model_out)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "model_out is NULL");
    *model_out = NULL;
    if (!path)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "path is NULL");
    sbert_model_params defaults = sbert_model_default_params();
    sbert_model *m = calloc(1, sizeof *m);
    if (!m)
        return sb_fail(&e, SBERT_ERR_NO_MEMORY, "out of memory");
    int rc = sb_model_file_open(m, path, params ? params : &defaults, err, err_size);
    return finish_load(m, rc, model_out, err, err_size);
}

int sbert_model_load_from_memory(const void *data, size_t size, sbert_model **model_out, char *err,
                                 size_t err_size)
{
    const sb_err e = { err, err_size };
    if (!model_out)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "model_out is NULL");
    *model_out = NULL;
    if (!data)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "data is NULL");
    sbert_model *m = calloc(1, sizeof *m);
    if (!m)
        return sb_fail(&e, SBERT_ERR_NO_MEMORY, "out of memory");
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
size_t sb_max_positions_usable(const sbert_model *m)
{
    return (size_t)(m->hp.max_positions - m->hp.position_offset);
}

/* ---- context ------------------------------------------------------------------------------- */

int sb_ctx_fail(sbert_context *ctx, int code, const char *fmt, ...)
{
    const sb_err e = { ctx->errmsg, sizeof ctx->errmsg };
    va_list ap;
    va_start(ap, fmt);
    sb_vfail(&e, code, fmt, ap);
    va_end(ap);
    return code;
}

int sb_ctx_grow(sbert_context *ctx, void **ptr, size_t *cap, size_t need, size_t elem)
{
    const int rc = sb_grow(ptr, cap, need, elem);
    if (rc != SBERT_OK)
        return sb_ctx_fail(ctx, rc, "a buffer of %zu elements of %zu bytes: %s", need, elem,
                           sb_status_text(rc));
    return SBERT_OK;
}

sbert_context_params sbert_context_default_params(void)
{
    sbert_context_params p = { .n_threads = 0, .batch_size = SB_DEFAULT_BATCH,
                               .utf8 = SBERT_UTF8_REJECT };
    return p;
}

static size_t pool_scratch_floats(const sbert_model *m)
{
    const size_t pool = sb_pool_scratch_floats(m), classify = sb_classify_scratch_floats(m);
    return pool > classify ? pool : classify;
}

/* The activations and batch buffers come later, sized by the texts (sb_reserve_batches). */
static int context_init(sbert_context *ctx, const sb_err *e)
{
    const sbert_model *m = ctx->model;
    const sbert_context_params *p = &ctx->params;
    int rc = sb_encoder_state_init(&ctx->enc, m, (int)p->batch_size, p->n_threads);
    if (rc != SBERT_OK && p->n_threads > 1)
        return sb_fail(e, rc, "n_threads is %d: could not start its %d worker threads or their "
                       "state (%s): lower n_threads", p->n_threads, p->n_threads - 1,
                       sb_status_text(rc));
    if (rc != SBERT_OK)
        return sb_fail(e, rc, "the encoder's state: %s", sb_status_text(rc));
    ctx->tok_scratch = sb_tok_scratch_create();
    ctx->pool_scratch = malloc(pool_scratch_floats(m) * sizeof(float));
    ctx->batch_start = malloc((p->batch_size + 1) * sizeof(int));
    if (!ctx->tok_scratch || !ctx->pool_scratch || !ctx->batch_start)
        return sb_fail(e, SBERT_ERR_NO_MEMORY, "out of memory for the context's scratch buffers");
    return SBERT_OK;
}

/* The tokens of the largest forward pass for texts of up to n tokens: batch_size of them, at
 * most SB_PASS_TOKENS in all unless one text is longer (batch.c's sb_batch_count). */
static size_t largest_pass(const sbert_context_params *p, size_t n)
{
    const size_t batch = p->batch_size > SB_PASS_TOKENS / n ? SB_PASS_TOKENS : p->batch_size * n;
    return batch > n ? batch : n;
}

/* The parameter that makes `p` invalid, named in e; SBERT_OK when there is none. */
static int check_context_params(const sbert_context_params *p, const sb_err *e)
{
    if (p->n_threads < 0 || p->n_threads > SBERT_MAX_THREADS)
        return sb_fail(e, SBERT_ERR_INVALID_ARGUMENT,
                       "n_threads is %d: give 1 to %d (SBERT_MAX_THREADS), or 0 for the cores "
                       "this process may use", p->n_threads, SBERT_MAX_THREADS);
    if (p->batch_size > SBERT_MAX_BATCH_SIZE)
        return sb_fail(e, SBERT_ERR_INVALID_ARGUMENT,
                       "batch_size is %zu: at most %d (SBERT_MAX_BATCH_SIZE), or 0 for %d",
                       p->batch_size, SBERT_MAX_BATCH_SIZE, SB_DEFAULT_BATCH);
    if (p->utf8 != SBERT_UTF8_REJECT && p->utf8 != SBERT_UTF8_REPLACE)
        return sb_fail(e, SBERT_ERR_INVALID_ARGUMENT,
                       "utf8 is %d: SBERT_UTF8_REJECT (0) or SBERT_UTF8_REPLACE (1)", (int)p->utf8);
    return SBERT_OK;
}

/* n_threads 0: the cores this process may run on, at most SBERT_MAX_THREADS */
static int default_threads(void)
{
    const int cores = sb_available_cores();
    return cores < SBERT_MAX_THREADS ? cores : SBERT_MAX_THREADS;
}

size_t sbert_context_memory(const sbert_model *model, const sbert_context_params *params,
                            size_t tokens)
{
    if (!model || tokens == 0 || tokens > sb_max_positions_usable(model))
        return 0;
    sbert_context_params p = params ? *params : sbert_context_default_params();
    const sb_err quiet = { NULL, 0 };
    if (check_context_params(&p, &quiet) != SBERT_OK)
        return 0;
    if (p.n_threads == 0)
        p.n_threads = default_threads();
    if (p.batch_size == 0)
        p.batch_size = SB_DEFAULT_BATCH;
    const size_t T = largest_pass(&p, tokens);
    const size_t types = model->kind == SB_KIND_CROSS_ENCODER ? T * sizeof(int32_t) : 0;
    return sb_encoder_state_bytes(model, (int)T, (int)tokens, p.n_threads) +
           T * sizeof(int32_t) + types + pool_scratch_floats(model) * sizeof(float);
}

int sbert_context_create(const sbert_model *model, const sbert_context_params *params,
                         sbert_context **ctx_out, char *err, size_t err_size)
{
    const sb_err e = { err, err_size };
    if (!ctx_out)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "ctx_out is NULL");
    *ctx_out = NULL;
    if (!model)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "model is NULL");
    sbert_context_params p = params ? *params : sbert_context_default_params();
    int rc = check_context_params(&p, &e);
    if (rc != SBERT_OK)
        return rc;
    if (p.n_threads == 0)
        p.n_threads = default_threads();
    if (p.batch_size == 0)
        p.batch_size = SB_DEFAULT_BATCH;

    sbert_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return sb_fail(&e, SBERT_ERR_NO_MEMORY, "out of memory for the context");
    ctx->model = model;
    ctx->params = p;
    rc = context_init(ctx, &e);
    if (rc != SBERT_OK) {
        sbert_context_free(ctx);
        return rc;
    }
    if (err && err_size)
        err[0] = '\0';
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
    free(ctx->batch_types);
    free(ctx->text_ids);
    free(ctx->text_start);
    free(ctx->text_window);
    free(ctx->win_out);
    free(ctx->mean);
    free(ctx->batch_start);
    free(ctx->types);
    free(ctx->side_ids[0]);
    free(ctx->side_ids[1]);
    free(ctx);
}

const char *sbert_context_errmsg(const sbert_context *ctx) { return ctx ? ctx->errmsg : ""; }

/* ---- tokenizing ---------------------------------------------------------------------------- */

/* Tokenizes one text into ids[0..capacity), the count into *n_ids. */
int sb_ctx_tokenize(sbert_context *ctx, const char *text, size_t len, int flags,
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
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT, "sbert_tokenize: NULL %s",
                           !n_ids ? "n_ids" : !ids ? "ids with a nonzero capacity" : "text");
    const int known = SBERT_TOKENIZE_NO_SPECIAL | SBERT_TOKENIZE_NO_TRUNCATE | SBERT_TOKENIZE_RAW;
    if (flags & ~known) /* a flag of a later version would be silently ignored here */
        return sb_ctx_fail(ctx, SBERT_ERR_INVALID_ARGUMENT,
                           "sbert_tokenize: flags 0x%x: unknown bits 0x%x (SBERT_TOKENIZE_*)",
                           (unsigned)flags, (unsigned)(flags & ~known));
    return sb_ctx_tokenize(ctx, text ? text : "", len, flags, ctx->model->max_seq_length, ids,
                         capacity, n_ids);
}

/* ---- similarity ---------------------------------------------------------------------------- */

static double dot_double(const float *a, const float *b, size_t dim)
{
    double sum = 0.0;
    for (size_t i = 0; i < dim; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

float sbert_dot(const float *a, const float *b, size_t dim)
{
    return a && b ? (float)dot_double(a, b, dim) : 0.0f;
}

/* In double to the end: a float's square overflows from 1.9e19 and underflows below 1e-19, so
 * dot and norms rounded to float first gave NaN or 0 for such vectors. */
float sbert_cosine(const float *a, const float *b, size_t dim)
{
    if (!a || !b)
        return 0.0f;
    const double norms = sqrt(dot_double(a, a, dim)) * sqrt(dot_double(b, b, dim));
    return norms > 0.0 ? (float)(dot_double(a, b, dim) / norms) : 0.0f;
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
