/* The threading contract of include/sbert.h: one immutable model shared by N threads, each with
 * its own context, encoding different texts at the same time, gives exactly the vectors of a
 * serial run. Run under ThreadSanitizer by `make test-tsan`. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sbert.h"

#define N_THREADS 8
#define N_TEXTS 96
#define ROUNDS 3

static char *texts[N_TEXTS];
static const sbert_model *model;
static float *serial;

typedef struct {
    int id;
    float *out;
    int rc;
} worker;

/* Thread k encodes texts k, k + N_THREADS, ... one call per text, ROUNDS times over. */
static void *work(void *arg)
{
    worker *w = arg;
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = 1;
    sbert_context *ctx = NULL;
    w->rc = sbert_context_create(model, &p, &ctx);
    const size_t dim = sbert_model_dim(model);
    for (int round = 0; round < ROUNDS && w->rc == SBERT_OK; round++)
        for (int i = w->id; i < N_TEXTS && w->rc == SBERT_OK; i += N_THREADS)
            w->rc = sbert_encode(ctx, (const char *const *)&texts[i], NULL, 1, NULL,
                                 w->out + (size_t)i * dim, dim);
    sbert_context_free(ctx);
    return NULL;
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

int main(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/ko-small.sbert", build);
    sbert_model *m = NULL;
    CHECK(sbert_model_load(path, NULL, &m, err, sizeof err) == SBERT_OK, "load: %s", err);
    CHECK(read_texts() == N_TEXTS, "KorSTS dev sentences");
    if (!m)
        return TEST_DONE();
    model = m;
    const size_t dim = sbert_model_dim(m);

    /* serial reference: one context, one text per call */
    serial = calloc(N_TEXTS * dim, sizeof *serial);
    worker reference = { .id = 0, .out = serial };
    sbert_context_params p = sbert_context_default_params();
    p.n_threads = 1;
    sbert_context *ctx = NULL;
    CHECK(sbert_context_create(m, &p, &ctx) == SBERT_OK, "context");
    for (int i = 0; i < N_TEXTS; i++)
        reference.rc |= sbert_encode(ctx, (const char *const *)&texts[i], NULL, 1, NULL,
                                     serial + (size_t)i * dim, dim);
    CHECK(reference.rc == SBERT_OK, "serial encode");
    sbert_context_free(ctx);

    pthread_t threads[N_THREADS];
    worker workers[N_THREADS];
    float *parallel = calloc(N_TEXTS * dim, sizeof *parallel);
    for (int t = 0; t < N_THREADS; t++) {
        workers[t] = (worker){ .id = t, .out = parallel };
        pthread_create(&threads[t], NULL, work, &workers[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].rc == SBERT_OK, "thread %d: %s", t, sbert_strerror(workers[t].rc));
    }
    CHECK(memcmp(serial, parallel, N_TEXTS * dim * sizeof(float)) == 0,
          "%d threads sharing one model give the serial vectors bit for bit", N_THREADS);

    free(parallel);
    free(serial);
    for (int i = 0; i < N_TEXTS; i++)
        free(texts[i]);
    sbert_model_free(m);
    return TEST_DONE();
}
