/* The threading contract of include/sbert.h: one immutable model shared by N threads, each with
 * its own context (serial, or with its own pool of workers), encoding different texts at the same
 * time, gives exactly the vectors of a serial run. And the pool itself (libsbert/threadpool.c):
 * every task of every job runs exactly once, never two at once under one thread id.
 * The model is ko-small in fp32 and in int8. Run under ThreadSanitizer by `make test-tsan`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "sbert.h"
#include "base/base.h"

#define N_THREADS 8
#define N_TEXTS 96
#define ROUNDS 3

static char *texts[N_TEXTS];
static const sbert_model *model;
static float *serial;

typedef struct {
    int id;
    int n_threads; /* inside each call */
    float *out;
    int rc;
} worker;

/* Thread k encodes texts k, k + N_THREADS, ... one call per text, ROUNDS times over. */
static void *work(void *arg)
{
    worker *w = arg;
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = w->n_threads;
    sbert_context *ctx = NULL;
    w->rc = sbert_context_create(model, &p, &ctx, NULL, 0);
    const size_t dim = sbert_model_dim(model);
    for (int round = 0; round < ROUNDS && w->rc == SBERT_OK; round++)
        for (int i = w->id; i < N_TEXTS && w->rc == SBERT_OK; i += N_THREADS)
            w->rc = sbert_encode(ctx, (const char *const *)&texts[i], NULL, 1, NULL,
                                 w->out + (size_t)i * dim, dim);
    sbert_context_free(ctx);
    return NULL;
}

/* ---- the pool on its own ------------------------------------------------------------------ */
#define POOL_MAX_TASKS 64

typedef struct {
    atomic_int runs[POOL_MAX_TASKS];
    atomic_int busy[8];        /* per thread id: a task is running */
    atomic_int overlaps, bad_thread;
    int n_threads, max_threads;
} pool_job;

static void pool_task(void *arg, int index, int thread)
{
    pool_job *job = arg;
    if (thread < 0 || thread >= job->n_threads || thread >= (job->max_threads > 1 ? job->max_threads : 1)) {
        atomic_fetch_add(&job->bad_thread, 1);
        return;
    }
    if (atomic_exchange(&job->busy[thread], 1))
        atomic_fetch_add(&job->overlaps, 1);
    atomic_fetch_add(&job->runs[index], 1);
    for (volatile int spin = 0; spin < (index % 7) * 50; spin++) {
    }
    atomic_store(&job->busy[thread], 0);
}

static void count_task(void *arg, int index, int thread)
{
    (void)thread;
    atomic_fetch_add((_Atomic long long *)arg, (long long)index + 1);
}

/* Thousands of jobs back to back (the forward pass's pattern), of 0 to 64 tasks, some limited to
 * fewer threads than the pool has, with pauses that let the workers fall asleep. */
static void test_pool(int n_threads)
{
    sb_threadpool *pool = sb_threadpool_create(n_threads);
    CHECK(pool != NULL, "pool of %d threads", n_threads);
    CHECK(sb_threadpool_threads(pool) == n_threads, "pool size");
    int wrong_runs = 0, overlaps = 0, bad_thread = 0;
    for (int j = 0; j < 3000; j++) {
        pool_job job = { .n_threads = n_threads, .max_threads = j % 5 == 4 ? 1 + j % 3 : n_threads };
        const int n_tasks = (j * 37) % (POOL_MAX_TASKS + 1);
        sb_threadpool_run(pool, n_tasks, job.max_threads, pool_task, &job);
        for (int i = 0; i < POOL_MAX_TASKS; i++)
            wrong_runs += atomic_load(&job.runs[i]) != (i < n_tasks);
        overlaps += atomic_load(&job.overlaps);
        bad_thread += atomic_load(&job.bad_thread);
        if (j % 1000 == 999) { /* long enough for the workers to go to sleep */
            struct timespec pause = { 0, 2000000 };
            nanosleep(&pause, NULL);
        }
    }
    /* more tasks than one generation of the claim word holds (65,535) */
    _Atomic long long sum = 0;
    const long long big = 140000;
    sb_threadpool_run(pool, (int)big, n_threads, count_task, (void *)&sum);
    CHECK(atomic_load(&sum) == big * (big + 1) / 2, "a job of %lld tasks runs each once", big);
    CHECK(wrong_runs == 0, "%d tasks ran other than exactly once (%d threads)", wrong_runs, n_threads);
    CHECK(overlaps == 0, "%d tasks overlapped under one thread id", overlaps);
    CHECK(bad_thread == 0, "%d tasks got a thread id out of range", bad_thread);
    sb_threadpool_free(pool);
}

/* KorSTS sentences: column 6 of tests/data/korsts/sts-dev.tsv. */
static int read_texts(void)
{
    FILE *f = fopen("tests/data/korsts/sts-dev.tsv", "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return 0;
    }
    while (n < N_TEXTS && fgets(line, sizeof line, f)) {
        char *field = line;
        for (int k = 0; k < 5 && field; k++)
            field = strchr(field, '\t') ? strchr(field, '\t') + 1 : NULL;
        if (!field)
            continue;
        field[strcspn(field, "\t\n")] = '\0';
        texts[n++] = strdup(field);
    }
    fclose(f);
    return n;
}

/* N_THREADS threads sharing build/models/<name>.sbert against one serial context. */
static void check_shared_model(const char *name)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/%s.sbert", build, name);
    sbert_model *m = NULL;
    CHECK(sbert_model_load(path, NULL, &m, err, sizeof err) == SBERT_OK, "load: %s", err);
    if (!m)
        return;
    model = m;
    const size_t dim = sbert_model_dim(m);

    /* serial reference: one context, one text per call */
    serial = calloc(N_TEXTS * dim, sizeof *serial);
    worker reference = { .id = 0, .out = serial };
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = 1;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(m, &p, &ctx, NULL, 0) == SBERT_OK, "context");
    for (int i = 0; i < N_TEXTS; i++)
        reference.rc |= sbert_encode(ctx, (const char *const *)&texts[i], NULL, 1, NULL,
                                     serial + (size_t)i * dim, dim);
    CHECK(reference.rc == SBERT_OK, "serial encode");
    sbert_context_free(ctx);

    /* contexts of 1 thread each, then of 2 (each context with its own worker) */
    float *parallel = calloc(N_TEXTS * dim, sizeof *parallel);
    for (int inner = 1; inner <= 2; inner++) {
        pthread_t threads[N_THREADS];
        worker workers[N_THREADS];
        memset(parallel, 0, N_TEXTS * dim * sizeof *parallel);
        for (int t = 0; t < N_THREADS; t++) {
            workers[t] = (worker){ .id = t, .n_threads = inner, .out = parallel };
            pthread_create(&threads[t], NULL, work, &workers[t]);
        }
        for (int t = 0; t < N_THREADS; t++) {
            pthread_join(threads[t], NULL);
            CHECK(workers[t].rc == SBERT_OK, "thread %d: %s", t, sbert_strerror(workers[t].rc));
        }
        CHECK(memcmp(serial, parallel, N_TEXTS * dim * sizeof(float)) == 0,
              "%s: %d threads sharing one model, %d thread(s) per call, give the serial vectors "
              "bit for bit", name, N_THREADS, inner);
    }

    free(parallel);
    free(serial);
    sbert_model_free(m);
}

int main(void)
{
    for (int n = 2; n <= 4; n++)
        test_pool(n);
    pool_job serial_job = { .n_threads = 1, .max_threads = 1 };
    sb_threadpool_run(NULL, 3, 4, pool_task, &serial_job); /* no pool: the caller runs them */
    CHECK(atomic_load(&serial_job.runs[0]) + atomic_load(&serial_job.runs[1]) +
          atomic_load(&serial_job.runs[2]) == 3 && atomic_load(&serial_job.bad_thread) == 0,
          "a NULL pool runs every task in the calling thread");
    CHECK(read_texts() == N_TEXTS, "KorSTS dev sentences");
    check_shared_model("ko-small");
    check_shared_model("ko-small-int8"); /* the int8 kernels and the per-context quantized rows */
    for (int i = 0; i < N_TEXTS; i++)
        free(texts[i]);
    return TEST_DONE();
}
