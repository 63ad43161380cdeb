/* GEMM speed on the shapes of a RoBERTa-base layer (hidden 768, FFN 3072), with the epilogues the
 * forward pass uses, for 1 and 2 threads: the median GFLOP/s of several timed runs, and its fraction
 * of the FMA peak when the peaks are given (bench/fma_peak.c measures them).
 *
 * The weights rotate through copies totalling more than the last-level cache, as in a real forward
 * pass where each layer's weights arrive from memory; `hot` reuses one copy instead.
 *
 * The machine may be shared: besides wall-clock time, the 1-thread runs are also timed in process
 * CPU time, which time slices given to other programs do not inflate (2 threads cannot be: their
 * waits at the end of a GEMM count as CPU time). The load average is printed before and after.
 *
 *   make && cc -O2 -D_GNU_SOURCE -Iinclude -Ilibsbert bench/bench_gemm.c build/libsbert.a -lm -lpthread \
 *       -o build/bench/bench_gemm
 *   build/bench/bench_gemm [PEAK_1_THREAD PEAK_2_THREADS] [hot]      (SBERT_ISA=avx2 to compare)
 *   BENCH_GEMM_ROWS=128 build/bench/bench_gemm ...                   (one batch size only, any m)
 *   build/bench/bench_gemm ... int8      int8 weights (SB_WEIGHTS_I8): GOP/s, 2 per multiply-add,
 *                                        A's quantization included; the fraction is of 4 x the
 *                                        FMA peak (vpdpbusd: 64 multiply-adds, vfmadd: 16)
 *   build/bench/bench_gemm [I8_PEAK_1 I8_PEAK_2] int8 novnni
 *                                        the int8 kernel without VNNI (AVX2 vpmaddubsw) on a
 *                                        VNNI machine; the peaks are then fma_peak's "int8 avx2"
 *                                        GOP/s as they are (no 4 x)
 *   make bench-gemm                      builds this and fma_peak, runs both */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

#define COLD_BYTES (256u << 20) /* well past any L3 this library will meet */
#define SAMPLES 7
#define SAMPLE_SECONDS 0.05

typedef struct {
    const char *name;
    int n, k;
    sb_activation act;
    int residual; /* C += ..., as the attention and FFN outputs do */
} shape;

static const shape shapes[] = {
    {"qkv", 2304, 768, SB_ACT_IDENTITY, 0},
    {"attn_out", 768, 768, SB_ACT_IDENTITY, 1},
    {"ffn_up", 3072, 768, SB_ACT_GELU_ERF, 0},
    {"ffn_down", 768, 3072, SB_ACT_IDENTITY, 1},
};
static const int batch_rows[] = {16, 128, 4096};

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *random_floats(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof *p + 63) & ~(size_t)63);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    return p;
}

static int int8_weights; /* the `int8` argument */

/* Random weights in the shape's layout: PANEL16 floats, or PANEL16_Q4 int8 with scales and column
 * sums. Returns the bytes of the weight. */
static size_t make_weights(const shape *s, sb_linear *w)
{
    *w = (sb_linear){ .bias = random_floats(s->n), .n_out = s->n, .n_in = s->k };
    const size_t rows = (size_t)(s->n + 15) / 16 * 16;
    if (!int8_weights) {
        w->weight = random_floats(rows * s->k);
        return rows * s->k * sizeof(float);
    }
    const size_t bytes = rows * sb_q8_padded_k(s->k);
    int8_t *q = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    for (size_t i = 0; i < bytes; i++) q[i] = (int8_t)((i * 2654435761u) % 255 - 127);
    int32_t *sums = malloc(s->n * sizeof *sums);
    float *scale = random_floats(s->n);
    *w = (sb_linear){ .format = SB_WEIGHTS_I8, .weight = q, .bias = w->bias, .scale = scale,
                      .col_sum = sums, .n_out = s->n, .n_in = s->k };
    sb_q8_column_sums(w, sums);
    return bytes;
}

static void free_weights(sb_linear *w)
{
    free((void *)w->weight), free((void *)w->bias), free((void *)w->scale), free((void *)w->col_sum);
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median GFLOP/s of SAMPLES runs of about SAMPLE_SECONDS each on `clock`. */
static double bench_one(const shape *s, int m, int threads, int hot, clockid_t clock)
{
    sb_linear first;
    const size_t w_bytes = make_weights(s, &first);
    const int copies = hot ? 1 : (int)(COLD_BYTES / w_bytes) + 1;
    sb_linear *w = malloc(copies * sizeof *w);
    w[0] = first;
    for (int i = 1; i < copies; i++)
        make_weights(s, &w[i]);
    /* rows one cache line longer than their width, as the forward pass lays them out
     * (encoder.c's padded_row: 12 rows of 3072 floats would share one L1 set) */
    const size_t lda = (size_t)s->k + 16, ldc = (size_t)s->n + 16;
    float *a = random_floats((size_t)m * lda), *c = random_floats((size_t)m * ldc);
    float *scratch = aligned_alloc(64, sb_gemm_scratch_floats(threads, 4096, 3072) * sizeof(float));
    sb_threadpool *pool = sb_threadpool_create(threads);
    const double flops = 2.0 * m * s->n * s->k;
    int calls = 0;

    double samples[SAMPLES];
    for (int r = -1; r < SAMPLES; r++) { /* r = -1 warms up and sizes the samples */
        const double t0 = seconds(clock);
        int done = 0;
        do {
            const sb_linear *wi = &w[calls++ % copies];
            sb_gemm(a, lda, m, wi, c, ldc, s->act, s->residual ? c : NULL, ldc, scratch, pool);
            done++;
        } while (seconds(clock) - t0 < SAMPLE_SECONDS);
        if (r >= 0) samples[r] = flops * done / (seconds(clock) - t0) * 1e-9;
    }
    qsort(samples, SAMPLES, sizeof samples[0], compare_doubles);

    for (int i = 0; i < copies; i++) free_weights(&w[i]);
    free(w), free(a), free(c), free(scratch);
    sb_threadpool_free(pool);
    return samples[SAMPLES / 2];
}

static void print_rate(double gflops, double peak)
{
    if (peak > 0) printf("  %6.1f (%3.0f%%)", gflops, 100 * gflops / peak);
    else printf("  %13.1f", gflops);
}

static void print_load(const char *when)
{
    double load[1];
    if (getloadavg(load, 1) == 1) printf("%s load average %.2f\n", when, load[0]);
}

int main(int argc, char **argv)
{
    double peak[3] = {0, 0, 0};
    int hot = 0, novnni = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "hot") == 0) hot = 1;
        else if (strcmp(argv[i], "int8") == 0) int8_weights = 1;
        else if (strcmp(argv[i], "novnni") == 0) sb_kernels_allow_vnni(0), novnni = 1;
        else if (!peak[1]) peak[1] = atof(argv[i]);
        else peak[2] = atof(argv[i]);
    }
    if (int8_weights && !novnni) /* vpdpbusd does 4 times the multiply-adds of vfmadd231ps */
        peak[1] *= 4, peak[2] *= 4;
    printf("isa %s, %s weights %s; G%s/s (fraction of %s)\n",
           int8_weights ? sb_q8_isa_name(sb_kernels_q8())
                        : sb_isa_name(sb_kernels_isa()),
           int8_weights ? "int8" : "fp32", hot ? "hot (one copy)" : "cold (rotating copies)",
           int8_weights ? "OP" : "FLOP",
           novnni ? "the vpmaddubsw int8 peak" : int8_weights ? "4 x the FMA peak" : "the FMA peak");
    print_load("before:");
    printf("%-9s %5s %5s %5s  %13s  %13s  %13s\n", "gemm", "n", "k", "m", "1 thr (wall)", "1 thr (cpu)",
           "2 thr (wall)");
    /* BENCH_GEMM_ROWS=N: that batch size only (any N >= 1, e.g. 24 to time 16 rows' edge tile
     * computed as a full one) */
    const int only_rows = getenv("BENCH_GEMM_ROWS") ? atoi(getenv("BENCH_GEMM_ROWS")) : 0;
    const int n_sizes = only_rows > 0 ? 1 : (int)(sizeof batch_rows / sizeof batch_rows[0]);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int mi = 0; mi < n_sizes; mi++) {
            const shape *s = &shapes[si];
            const int m = only_rows > 0 ? only_rows : batch_rows[mi];
            printf("%-9s %5d %5d %5d", s->name, s->n, s->k, m);
            print_rate(bench_one(s, m, 1, hot, CLOCK_MONOTONIC), peak[1]);
            print_rate(bench_one(s, m, 1, hot, CLOCK_PROCESS_CPUTIME_ID), peak[1]);
            print_rate(bench_one(s, m, 2, hot, CLOCK_MONOTONIC), peak[2]);
            printf("\n");
            fflush(stdout);
        }
    print_load("after:");
    return 0;
}
