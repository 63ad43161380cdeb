/* libsbert's side of bench/rerank.sh: times sbert_rerank() through the public API, in-process,
 * on the workload bench/rerank_workload.js wrote.
 *
 *   make build/bench/bench_rerank
 *   build/bench/bench_rerank MODEL.sbert WORK_DIR THREADS [REPEATS (5)]
 *
 * Times query 0 against its passages (one warm-up, REPEATS timed runs; none when REPEATS is 0)
 * and prints, as
 * bench_rerank_ort.js does,
 *   {"engine":"libsbert","threads":N,"workload":"rerank","times_ms":[...],"median_ms":...}
 * then scores the first BENCH_SCORE_QUERIES queries' passages (default all) and writes their
 * logits to WORK_DIR/rerank-logits-ENGINE.f32 (BENCH_ENGINE names the engine, e.g.
 * libsbert-int8). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbert.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* WORK_DIR/rerank.txt: "Q P", then per query its line and P passage lines. */
static char **read_workload(const char *dir, size_t *q, size_t *p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rerank.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%zu %zu\n", q, p) != 2) {
        perror(path);
        if (f)
            fclose(f);
        return NULL;
    }
    const size_t n = *q * (*p + 1);
    char **lines = calloc(n, sizeof *lines);
    size_t cap = 0, i = 0;
    char *line = NULL;
    ssize_t len;
    while (lines && i < n && (len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        lines[i++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (i != n) {
        fprintf(stderr, "%s: %zu lines, expected %zu\n", path, i, n);
        return NULL;
    }
    return lines;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_rerank MODEL.sbert WORK_DIR THREADS [REPEATS]\n");
        return 2;
    }
    const char *engine = getenv("BENCH_ENGINE") ? getenv("BENCH_ENGINE") : "libsbert";
    const int threads = atoi(argv[3]), repeats = argc > 4 ? atoi(argv[4]) : 5;
    size_t q = 0, p = 0;
    char **lines = read_workload(argv[2], &q, &p);
    const size_t n_lines = q * (p + 1);
    char err[512];
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = threads;
    if (!lines || sbert_model_load(argv[1], NULL, &model, err, sizeof err) != SBERT_OK ||
        sbert_context_create(model, &cp, &ctx, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "bench_rerank: cannot open %s: %s\n", argv[1], lines ? err : "no workload");
        return 1;
    }
    float *scores = malloc(p * sizeof *scores), *logits = malloc(q * p * sizeof *logits);
    double *times = malloc((size_t)repeats * sizeof *times);
    const char *const *passages = (const char *const *)lines + 1;
    for (int r = -1; r < repeats; r++) { /* r = -1: the warm-up; none when repeats is 0 */
        if (repeats == 0)
            break;
        const double t = now_ms();
        if (sbert_rerank(ctx, lines[0], passages, NULL, p, NULL, scores, p, NULL, 0) != SBERT_OK) {
            fprintf(stderr, "bench_rerank: %s\n", sbert_context_errmsg(ctx));
            return 1;
        }
        if (r >= 0)
            times[r] = now_ms() - t;
    }
    if (repeats > 0) {
        printf("{\"engine\":\"%s\",\"threads\":%d,\"workload\":\"rerank\",\"pairs\":%zu,"
               "\"times_ms\":[", engine, threads, p);
        for (int r = 0; r < repeats; r++)
            printf(r ? ",%.3f" : "%.3f", times[r]);
        qsort(times, (size_t)repeats, sizeof *times, cmp_double);
        printf("],\"median_ms\":%.3f}\n",
               repeats % 2 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2);
        fflush(stdout);
    }

    const char *scored = getenv("BENCH_SCORE_QUERIES");
    if (scored && (size_t)atol(scored) < q)
        q = (size_t)atol(scored);
    if (q > 0) {
        const char **query = malloc(p * sizeof *query);
        for (size_t i = 0; i < q; i++) {
            const char *const *docs = (const char *const *)lines + i * (p + 1) + 1;
            for (size_t j = 0; j < p; j++)
                query[j] = lines[i * (p + 1)];
            if (sbert_predict(ctx, query, NULL, docs, NULL, p, NULL, logits + i * p, NULL, p)) {
                fprintf(stderr, "bench_rerank: %s\n", sbert_context_errmsg(ctx));
                return 1;
            }
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/rerank-logits-%s.f32", argv[2], engine);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(logits, sizeof *logits, q * p, f) != q * p)
            perror(path);
        if (f)
            fclose(f);
        free(query);
    }
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines), free(scores), free(logits), free(times);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return 0;
}
