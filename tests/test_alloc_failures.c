/* Allocation failure injection: every allocation the library makes may fail, and each failure
 * must come back as SBERT_ERR_NO_MEMORY from the call that made it, leave nothing allocated once
 * the handles are freed, and leave the handles usable (the same call, retried, gives the same
 * result as a run where nothing failed).
 *
 * The Makefile links this program with -Wl,--wrap=malloc,... so that every call to an allocator
 * in the library (and here) goes to the __wrap_ functions below, which count allocations and fail
 * the Nth. main() runs the whole life of a model (load, context, tokenize, encode, token states)
 * for N = 1, 2, ... until a run makes fewer than N allocations, i.e. every allocation site on the
 * path has failed once. Allocations inside libc itself (glibc's qsort buffer) are not seen by
 * --wrap; none of them can fail a call. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sbert.h"

/* ---- the allocator wrappers ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **p, size_t alignment, size_t size);
void __real_free(void *p);

static long n_allocs; /* allocations attempted since the count was reset */
static long fail_at;  /* the allocation to fail (1-based), 0 for none */
static long live;     /* allocations not freed yet */

static int inject(void)
{
    return ++n_allocs == fail_at;
}

static void *counted(void *p)
{
    if (p)
        live++;
    return p;
}

void *__wrap_malloc(size_t size) { return inject() ? NULL : counted(__real_malloc(size)); }
void *__wrap_calloc(size_t n, size_t size) { return inject() ? NULL : counted(__real_calloc(n, size)); }

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    return inject() ? NULL : counted(__real_aligned_alloc(alignment, size));
}

int __wrap_posix_memalign(void **p, size_t alignment, size_t size)
{
    if (inject())
        return ENOMEM;
    const int rc = __real_posix_memalign(p, alignment, size);
    if (rc == 0)
        live++;
    return rc;
}

void *__wrap_realloc(void *p, size_t size)
{
    if (inject())
        return NULL;
    void *q = __real_realloc(p, size);
    if (!p && q)
        live++;
    return q;
}

void __wrap_free(void *p)
{
    if (p)
        live--;
    __real_free(p);
}

/* ---- one life of a model ----------------------------------------------------------------------- */

#define MAX_DIM 1024
#define MAX_IDS 512
#define N_TEXTS 5

/* Texts that make every scratch buffer grow: an added-token literal, case folding, ill-formed
 * UTF-8 (replaced: the context is lenient), a text longer than max_seq_length. */
static const char *const texts[N_TEXTS] = {
    "한 남자가 음식을 먹고 있다.",
    "[CLS] A MAN is Eating <mask> FOOD. ΣΑΣ",
    "invalid \xC0\xAF UTF-8 \xED\xA0\x80 here",
    "",
    "long long long long long long long long long long long long long long long long long long "
    "long long long long long long long long long long long long long long long long long long "
    "long long long long long long long long long long long long long long long long long long "
    "long long long long long long long long long long long long long long long long long long "
    "long long long long long long long long long long long long long long long long long long",
};

typedef struct {
    int32_t ids[MAX_IDS];
    size_t n_ids;
    float vectors[N_TEXTS * MAX_DIM], prompted[N_TEXTS * MAX_DIM];
    float states[MAX_IDS * MAX_DIM / 4];
    size_t n_tokens;
    size_t ranked[N_TEXTS];  /* a cross-encoder's ranking */
} results;

typedef struct {
    const char *path;
    int use_mmap;
    long failures_absorbed; /* injected failures after which the call still succeeded */
    long failures_reported; /* injected failures the call returned as NO_MEMORY */
    long runs;              /* runs with one allocation failed */
    long max_allocs;
} config;

/* A call that failed must have failed because of the injected allocation, with NO_MEMORY and a
 * message (`message`: where the call writes it); it is then retried (the count is past N now,
 * nothing fails) and must succeed. */
#define STEP_WITH(call, what, message)                                                    \
    do {                                                                                  \
        const long before = n_allocs;                                                     \
        int rc_ = (call);                                                                 \
        const int injected_ = before < fail_at && n_allocs >= fail_at;                   \
        if (rc_ != SBERT_OK) {                                                            \
            CHECK(injected_ && rc_ == SBERT_ERR_NO_MEMORY, "%s, allocation %ld failed: %s", \
                  what, fail_at, sbert_strerror(rc_));                                    \
            CHECK((message)[0] != '\0', "%s, allocation %ld failed: no message", what,    \
                  fail_at);                                                               \
            cfg->failures_reported++;                                                     \
            rc_ = (call);                                                                 \
        } else if (injected_) {                                                           \
            cfg->failures_absorbed++;                                                     \
        }                                                                                 \
        CHECK(rc_ == SBERT_OK, "%s, retried after allocation %ld failed: %s", what, fail_at, \
              sbert_strerror(rc_));                                                       \
        if (rc_ != SBERT_OK)                                                              \
            goto done;                                                                    \
    } while (0)
/* The calls on a context leave their message in it. */
#define STEP(call, what) STEP_WITH(call, what, sbert_context_errmsg(ctx))

/* A cross-encoder's calls: one pair's ids, the texts paired with the next one (logits and
 * scores, then cut to 16 tokens), and texts[0] against all of them ranked. */
static int run_pairs(config *cfg, sbert_context *ctx, results *r)
{
    const char *next[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++)
        next[i] = texts[(i + 1) % N_TEXTS];
    sbert_rerank_options cut = sbert_rerank_default_options();
    cut.max_length = 16;
    STEP(sbert_tokenize_pair(ctx, texts[1], strlen(texts[1]), texts[4], strlen(texts[4]), 0,
                             r->ids, NULL, MAX_IDS, &r->n_ids), "sbert_tokenize_pair");
    STEP(sbert_predict(ctx, (const char *const *)texts, NULL, next, NULL, N_TEXTS, NULL,
                       r->vectors, r->prompted, MAX_DIM), "sbert_predict");
    STEP(sbert_predict(ctx, (const char *const *)texts, NULL, next, NULL, N_TEXTS, &cut, r->states,
                       NULL, MAX_DIM), "sbert_predict with max_length");
    STEP(sbert_rerank(ctx, texts[0], next, NULL, N_TEXTS, NULL, r->states + MAX_DIM, N_TEXTS,
                      r->ranked, N_TEXTS), "sbert_rerank");
    return SBERT_OK;
done:
    return SBERT_ERR_NO_MEMORY;
}

/* Load, context, tokenize, encode (with and without a prompt), token states; then free. */
static void run(config *cfg, results *r)
{
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    char err[256] = "";
    sbert_model_params mp = sbert_model_default_params();
    mp.use_mmap = cfg->use_mmap;
    sbert_context_params cp = sbert_context_default_params();
    cp.utf8 = SBERT_UTF8_REPLACE;
    cp.batch_size = 2; /* several batches */
    cp.n_threads = 1;
    sbert_encode_options prompt = sbert_encode_default_options();
    prompt.prompt = "query: ";
    prompt.max_length = 16;

    STEP_WITH(sbert_model_load(cfg->path, &mp, &model, err, sizeof err), "sbert_model_load", err);
    const size_t dim = sbert_model_dim(model), H = sbert_model_hidden_size(model);
    CHECK(dim <= MAX_DIM && H <= MAX_DIM, "dimensions %zu / %zu", dim, H);
    STEP_WITH(sbert_context_create(model, &cp, &ctx, err, sizeof err), "sbert_context_create", err);
    if (sbert_model_n_labels(model) > 0) {
        run_pairs(cfg, ctx, r);
        goto done;
    }
    STEP(sbert_tokenize(ctx, texts[1], strlen(texts[1]), SBERT_TOKENIZE_NO_TRUNCATE, r->ids, MAX_IDS,
                        &r->n_ids), "sbert_tokenize");
    STEP(sbert_encode(ctx, (const char *const *)texts, NULL, N_TEXTS, NULL, r->vectors,
                      N_TEXTS * dim), "sbert_encode");
    STEP(sbert_encode(ctx, (const char *const *)texts, NULL, N_TEXTS, &prompt, r->prompted,
                      N_TEXTS * dim), "sbert_encode with a prompt");
    STEP(sbert_encode_tokens(ctx, texts[4], strlen(texts[4]), NULL, r->states,
                             sizeof r->states / sizeof *r->states, &r->n_tokens),
         "sbert_encode_tokens");
done:
    sbert_context_free(ctx);
    sbert_model_free(model);
}

static int same_results(const results *a, const results *b)
{
    return a->n_ids == b->n_ids && a->n_tokens == b->n_tokens &&
           memcmp(a->ids, b->ids, a->n_ids * sizeof *a->ids) == 0 &&
           memcmp(a->vectors, b->vectors, sizeof a->vectors) == 0 &&
           memcmp(a->prompted, b->prompted, sizeof a->prompted) == 0 &&
           memcmp(a->states, b->states, sizeof a->states) == 0 &&
           memcmp(a->ranked, b->ranked, sizeof a->ranked) == 0;
}

static results reference, got;

/* Fails allocation 1, 2, ... of the whole run until every one has failed once. */
static void fail_each_allocation(config *cfg)
{
    memset(&reference, 0, sizeof reference);
    n_allocs = 0;
    fail_at = 0;
    live = 0;
    run(cfg, &reference);
    cfg->max_allocs = n_allocs;
    CHECK(live == 0, "%s: %ld allocations not freed", cfg->path, live);
    long failed_runs = 0;
    CHECK(cfg->max_allocs > 0, "%s: the run made no allocation to fail", cfg->path);
    for (fail_at = 1; fail_at <= cfg->max_allocs; fail_at++) {
        cfg->runs++;
        memset(&got, 0, sizeof got);
        n_allocs = 0;
        live = 0;
        const int before = harness_failures;
        run(cfg, &got);
        CHECK(live == 0, "%s: allocation %ld failed: %ld allocations not freed", cfg->path,
              fail_at, live);
        CHECK(same_results(&got, &reference), "%s: allocation %ld failed: results differ",
              cfg->path, fail_at);
        if (harness_failures > before && ++failed_runs >= 10)
            break; /* enough to go on */
    }
    fail_at = 0;
    /* every run failed exactly one allocation, which a call either reported or absorbed */
    CHECK(failed_runs || cfg->runs == cfg->max_allocs, "%s: %ld runs for %ld allocations",
          cfg->path, cfg->runs, cfg->max_allocs);
    CHECK(failed_runs || cfg->failures_reported + cfg->failures_absorbed == cfg->runs,
          "%s: %ld runs, but %ld failures reported and %ld absorbed", cfg->path, cfg->runs,
          cfg->failures_reported, cfg->failures_absorbed);
    printf("  %-50s mmap %d: %4ld allocations, each failed once: %ld NO_MEMORY, %ld absorbed, "
           "no leak%s\n", cfg->path, cfg->use_mmap, cfg->max_allocs, cfg->failures_reported,
           cfg->failures_absorbed, failed_runs ? " FAILED" : "");
}

int main(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char ko_tiny[512], reranker[512];
    snprintf(ko_tiny, sizeof ko_tiny, "%s/models/ko-tiny.sbert", build);
    snprintf(reranker, sizeof reranker, "%s/models/ce-minilm.sbert", build);
    config configs[] = {
        { .path = ko_tiny, .use_mmap = 1 },
        { .path = ko_tiny, .use_mmap = 0 },
        { .path = reranker, .use_mmap = 1 }, /* a cross-encoder: its loader and the pair calls */
        /* the loader's seeds (tests/fuzz/make_seed.py): a Dense module, Normalize and a prompt;
         * F16 weights converted at load, the Unigram model and the Precompiled normalizer */
        { .path = "tests/fuzz/corpus/loader/bert-wordpiece-f32.sbert", .use_mmap = 0 },
        { .path = "tests/fuzz/corpus/loader/xlmr-unigram-f16.sbert", .use_mmap = 1 },
    };
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++)
        fail_each_allocation(&configs[i]);
    return TEST_DONE();
}
