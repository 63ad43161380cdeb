/* This machine's fp32 FMA peak: independent FMA chains, enough of them to cover the latency of
 * every FMA pipe, for 256-bit (AVX2) and 512-bit (AVX-512) vectors, on 1 thread and on all threads.
 * The GEMM benchmark (bench_gemm.c) reports its speed as a fraction of these numbers.
 *
 *   cc -O2 -fopenmp bench/fma_peak.c -o build/bench/fma_peak && build/bench/fma_peak */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CHAINS 12 /* 2 pipes x 4 cycles latency = 8 needed; 12 + 2 constants fit 16 ymm registers */
#define ITERS 20000000L

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* acc = acc * a + b converges to b / (1 - a): no overflow, no denormals. */
__attribute__((target("avx2,fma"))) static float chains_256(long iters)
{
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
    float s = 0;
    for (int j = 0; j < CHAINS; j++) s += _mm256_cvtss_f32(_mm256_hadd_ps(acc[j], acc[j]));
    return s;
}

__attribute__((target("avx512f,fma"))) static float chains_512(long iters)
{
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
    float s = 0;
    for (int j = 0; j < CHAINS; j++) s += _mm512_reduce_add_ps(acc[j]);
    return s;
}

static volatile float sink;

/* GFLOP/s of `threads` threads each running the chains; median of 5 runs. */
static double measure(int lanes, int threads)
{
    double runs[5];
    for (int r = 0; r < 5; r++) {
        const double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        sink = lanes == 16 ? chains_512(ITERS) : chains_256(ITERS);
        runs[r] = 2.0 * lanes * CHAINS * ITERS * threads / (now() - t0) * 1e-9;
    }
    for (int i = 1; i < 5; i++) /* insertion sort */
        for (int j = i; j > 0 && runs[j] < runs[j - 1]; j--) {
            const double t = runs[j]; runs[j] = runs[j - 1]; runs[j - 1] = t;
        }
    return runs[2];
}

int main(void)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    for (int t = 1; t <= threads; t *= 2) {
        printf("threads %d: avx2 %.1f GFLOP/s", t, measure(8, t));
        if (has512) printf(", avx512 %.1f GFLOP/s", measure(16, t));
        printf("\n");
    }
    return 0;
}
