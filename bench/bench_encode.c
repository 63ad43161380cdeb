/* libsbert's side of make bench: times sbert_encode() through the public API, in-process (no
 * process start in the latencies), on the workloads bench/workloads.js wrote.
 *
 *   make build/bench/bench_encode
 *   build/bench/bench_encode MODEL.sbert WORK_DIR THREADS
 *
 * WORK_DIR holds plan.txt ("NAME WARMUP MIN_REPEATS MAX_REPEATS BUDGET_S" per line, in run
 * order) and NAME.txt (one text per line). Prints one JSON object per line, as bench_ort.js and
 * bench_torch.py do:
 *   {"engine":"libsbert","threads":N,"metric":"open_ms",...}   sbert_model_load .. first vector,
 *       with "cached_pct": how much of the model file was in the page cache just before
 *   {"engine":"libsbert","threads":N,"metric":"open_warm_ms",...}   the same again at the end,
 *       the file now in the page cache (an application opening a model it used before)
 *   {"engine":"libsbert","threads":N,"workload":"W1","times_ms":[...],"median_ms":...}
 *   {"engine":"libsbert","threads":N,"metric":"peak_rss_mb","value":...}   getrusage ru_maxrss
 * and writes the W3 vectors to WORK_DIR/vectors-libsbert-tN.f32 (row-major float32).
 * Texts go to sbert_encode() in their order: libsbert sorts and batches them (32) by itself.
 * BENCH_USE_MMAP=0 in the environment loads with use_mmap = 0 (the file read into memory);
 * BENCH_OPEN_ONLY=1 stops after open_ms (run.sh times a cold open that way); BENCH_ENGINE=NAME
 * names the engine in the output and the vectors' file (run.sh: libsbert-bf16 for a bf16 model).
 */
#ifndef _DEFAULT_SOURCE /* POSIX 2008 and mincore (the Makefile may define it already) */
#define _DEFAULT_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sbert.h"

static const char *engine_name(void)
{
    return getenv("BENCH_ENGINE") ? getenv("BENCH_ENGINE") : "libsbert";
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *xs, int n)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, xs, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

typedef struct {
    char **texts;
    size_t n;
} text_list;

/* Reads WORK_DIR/NAME.txt: one text per line, the newline stripped. */
static int read_texts(const char *dir, const char *name, text_list *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    ssize_t len;
    size_t lcap = 0;
    out->texts = NULL;
    out->n = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            out->texts = realloc(out->texts, cap * sizeof *out->texts);
        }
        out->texts[out->n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return 0;
}

static void free_texts(text_list *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->texts[i]);
    free(t->texts);
}

/* Percentage of the file's pages in the page cache (mincore on a mapping that touches nothing). */
static double cached_pct(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    double pct = -1;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0) close(fd);
        return pct;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    const long page = sysconf(_SC_PAGESIZE);
    const size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
    unsigned char *vec = malloc(pages);
    if (p != MAP_FAILED && vec && mincore(p, (size_t)st.st_size, vec) == 0) {
        size_t resident = 0;
        for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
        pct = 100.0 * (double)resident / (double)pages;
    }
    free(vec);
    if (p != MAP_FAILED) munmap(p, (size_t)st.st_size);
    close(fd);
    return pct;
}

static int encode(sbert_context *ctx, const text_list *t, float *out, size_t dim)
{
    int rc = sbert_encode(ctx, (const char *const *)t->texts, NULL, t->n, NULL, out, t->n * dim);
    if (rc != SBERT_OK) fprintf(stderr, "sbert_encode: %s: %s\n", sbert_strerror(rc), sbert_context_errmsg(ctx));
    return rc;
}

/* Loads the model, makes a context and encodes the W1 text; prints the times as `metric`. */
static int open_and_encode_first(const char *model_path, const char *dir, int threads,
                                 const char *metric, sbert_model **model, sbert_context **ctx)
{
    char err[512];
    text_list first;
    if (read_texts(dir, "W1", &first)) return 1;
    const double cached = cached_pct(model_path);
    double t0 = now_ms();
    sbert_model_params mp = sbert_model_default_params();
    if (getenv("BENCH_USE_MMAP")) /* 0: read the file into memory instead of mapping it */
        mp.use_mmap = atoi(getenv("BENCH_USE_MMAP"));
    if (sbert_model_load(model_path, &mp, model, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = threads;
    if (sbert_context_create(*model, &cp, ctx, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "cannot create a context: %s\n", err);
        return 1;
    }
    double t1 = now_ms();
    size_t dim = sbert_model_dim(*model);
    float *vec = malloc(dim * sizeof *vec);
    if (encode(*ctx, &first, vec, dim)) return 1;
    double t2 = now_ms();
    printf("{\"engine\":\"%s\",\"threads\":%d,\"metric\":\"%s\",\"value\":%.3f,"
           "\"load_ms\":%.3f,\"first_encode_ms\":%.3f,\"cached_pct\":%.1f,\"version\":\"%s\"}\n",
           engine_name(), threads, metric, t2 - t0, t1 - t0, t2 - t1, cached, sbert_version());
    fflush(stdout);
    free(vec);
    free_texts(&first);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_encode MODEL.sbert WORK_DIR THREADS\n");
        return 2;
    }
    const char *model_path = argv[1], *dir = argv[2];
    int threads = atoi(argv[3]);
    char path[4096];

    /* Open to first embedding: load, context, one W1 text, as an application starts. */
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    if (open_and_encode_first(model_path, dir, threads, "open_ms", &model, &ctx)) return 1;
    const size_t dim = sbert_model_dim(model);
    const char *open_only = getenv("BENCH_OPEN_ONLY"); /* run.sh's cold open */
    if (open_only && !strcmp(open_only, "1")) {
        sbert_context_free(ctx);
        sbert_model_free(model);
        return 0;
    }

    snprintf(path, sizeof path, "%s/plan.txt", dir);
    FILE *plan = fopen(path, "r");
    if (!plan) {
        perror(path);
        return 1;
    }
    char name[64];
    int warmup, min_repeats, max_repeats;
    double budget_s;
    while (fscanf(plan, "%63s %d %d %d %lf", name, &warmup, &min_repeats, &max_repeats, &budget_s) == 5) {
        text_list w;
        if (read_texts(dir, name, &w)) return 1;
        float *out = malloc(w.n * dim * sizeof *out);
        double *times = malloc(max_repeats * sizeof *times);
        int n = 0;
        for (int i = 0; i < warmup; i++)
            if (encode(ctx, &w, out, dim)) return 1;
        double start = now_ms();
        while (n < max_repeats && (n < min_repeats || now_ms() - start < budget_s * 1e3)) {
            double t = now_ms();
            if (encode(ctx, &w, out, dim)) return 1;
            times[n++] = now_ms() - t;
        }
        printf("{\"engine\":\"%s\",\"threads\":%d,\"workload\":\"%s\",\"texts\":%zu,\"times_ms\":[",
               engine_name(), threads, name, w.n);
        for (int i = 0; i < n; i++) printf(i ? ",%.3f" : "%.3f", times[i]);
        printf("],\"median_ms\":%.3f}\n", median(times, n));
        fflush(stdout);
        if (!strcmp(name, "W3")) {
            snprintf(path, sizeof path, "%s/vectors-%s-t%d.f32", dir, engine_name(), threads);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(out, sizeof *out, w.n * dim, f) != w.n * dim) perror(path);
            if (f) fclose(f);
        }
        free(times);
        free(out);
        free_texts(&w);
    }
    fclose(plan);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\":\"%s\",\"threads\":%d,\"metric\":\"peak_rss_mb\",\"value\":%.1f}\n",
           engine_name(), threads, ru.ru_maxrss / 1024.0);
    sbert_context_free(ctx);
    sbert_model_free(model);

    /* Open to first embedding again, the file now in the page cache. */
    if (open_and_encode_first(model_path, dir, threads, "open_warm_ms", &model, &ctx)) return 1;
    sbert_context_free(ctx);
    sbert_model_free(model);
    return 0;
}
