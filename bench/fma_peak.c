/* This machine's compute and read-bandwidth ceilings, on 1 thread and on all threads:
 *   - fp32 FMA peak: independent FMA chains, enough of them to cover the latency of every FMA
 *     pipe, for 256-bit (AVX2) and 512-bit (AVX-512) vectors;
 *   - int8 peak of the instructions libsbert's int8 kernels use: AVX2 without VNNI multiplies
 *     u8 x s8 with vpmaddubsw (pairs summed to s16), widens with vpmaddwd against ones (s32) and
 *     adds with vpaddd, 32 multiply-adds per three instructions; AVX-512 VNNI's vpdpbusd does 64
 *     in one; AMX's tdpbusd 16,384 (tile registers, where the CPU has AMX-INT8). Counted as 2
 *     operations per multiply-add (GOP/s);
 *   - read bandwidth: the time to stream BYTES (each argument; e.g. the weights a text reads once
 *     per encode) from memory, each thread reading its half, buffer far larger than the caches.
 * The GEMM benchmark (bench_gemm.c) and bench/report.py state speeds as fractions of these.
 *
 *   cc -O2 -fopenmp bench/fma_peak.c -o build/bench/fma_peak && build/bench/fma_peak [BYTES...] */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The AVX2 int8 step without VNNI: acc += vpmaddwd(vpmaddubsw(x, w), 1). x is hidden from the
 * compiler each iteration (an empty asm that "changes" it) so the products are not hoisted; the
 * loop-carried chain is only vpaddd (1 cycle), so 4 accumulators cover it. */
#define I8_CHAINS 4
__attribute__((target("avx2"))) static int chains_i8_256(long iters)
{
    __m256i acc[I8_CHAINS], x[I8_CHAINS];
    const __m256i w = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (int j = 0; j < I8_CHAINS; j++) acc[j] = _mm256_setzero_si256(), x[j] = _mm256_set1_epi8((char)(j + 1));
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 4
        for (int j = 0; j < I8_CHAINS; j++) {
            __asm__("" : "+x"(x[j]));
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(x[j], w), ones));
        }
    int s = 0;
    for (int j = 0; j < I8_CHAINS; j++) s += _mm256_extract_epi32(acc[j], 0);
    return s;
}

/* AVX-512 VNNI: acc = vpdpbusd(acc, x, w), 12 chains for its latency. */
__attribute__((target("avx512f,avx512vnni"))) static int chains_i8_512(long iters)
{
    __m512i acc[CHAINS];
    const __m512i x = _mm512_set1_epi8(2), w = _mm512_set1_epi8(3);
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_epi32(j);
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, w);
    int s = 0;
    for (int j = 0; j < CHAINS; j++) s += _mm512_reduce_add_epi32(acc[j]);
    return s;
}

/* AMX-INT8: four independent tdpbusd per iteration (C tiles 4-7 from A tiles 0-1 and W tiles
 * 2-3), each 16 x 16 x 64 multiply-adds; each thread loads its own tile configuration. GCC 11 and
 * clang 12 know the instructions; Linux (5.16 on) lends the tile state on request. */
#if defined(__x86_64__) && ((defined(__clang__) && __clang_major__ >= 12) || \
                            (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define HAVE_AMX 1
#include <sys/syscall.h>
#include <unistd.h>
#define AMX_ITERS (ITERS / 1024)
__attribute__((target("amx-tile,amx-int8"))) static int chains_i8_amx(long iters)
{
    struct { unsigned char palette, start, reserved[14]; unsigned short colsb[16]; unsigned char rows[16]; } cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    static const unsigned char x[16 * 64];
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory"); /* the whole 64 bytes: see gemm_q8_amx.c */
    _tile_loadd(0, x, 64); _tile_loadd(1, x, 64); _tile_loadd(2, x, 64); _tile_loadd(3, x, 64);
    _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);
    for (long i = 0; i < iters; i++) {
        _tile_dpbusd(4, 0, 2); _tile_dpbusd(5, 0, 3); _tile_dpbusd(6, 1, 2); _tile_dpbusd(7, 1, 3);
    }
    int out[256];
    _tile_stored(4, out, 64);
    _tile_release();
    return out[0];
}

static int amx_usable(void)
{
    unsigned int a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    if (((d >> 24) & 3) != 3) return 0; /* AMX-TILE, AMX-INT8 */
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}
#endif

static volatile float sink;
static volatile int isink;

static double median5(double runs[5])
{
    for (int i = 1; i < 5; i++) /* insertion sort */
        for (int j = i; j > 0 && runs[j] < runs[j - 1]; j--) {
            const double t = runs[j]; runs[j] = runs[j - 1]; runs[j - 1] = t;
        }
    return runs[2];
}

enum kind { FP32_256, FP32_512, I8_256, I8_512, I8_AMX };

/* G(FL)OP/s of `threads` threads each running the chains; median of 5 runs. */
static double measure(enum kind kind, int threads)
{
    /* operations per loop iteration: 2 per multiply-add */
    const double ops[] = {2.0 * 8 * CHAINS, 2.0 * 16 * CHAINS, 2.0 * 32 * I8_CHAINS, 2.0 * 64 * CHAINS,
                          2.0 * 4 * 16 * 16 * 64 / 1024 /* per ITERS: AMX runs AMX_ITERS */};
    double runs[5];
    for (int r = 0; r < 5; r++) {
        const double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        switch (kind) {
        case FP32_256: sink = chains_256(ITERS); break;
        case FP32_512: sink = chains_512(ITERS); break;
        case I8_256: isink = chains_i8_256(ITERS); break;
        case I8_512: isink = chains_i8_512(ITERS); break;
        case I8_AMX:
#ifdef HAVE_AMX
            isink = chains_i8_amx(AMX_ITERS);
#endif
            break;
        }
        runs[r] = ops[kind] * ITERS * threads / (now() - t0) * 1e-9;
    }
    return median5(runs);
}

/* Milliseconds to read `bytes` once with `threads` threads (each its contiguous share, 256-bit
 * loads summed so nothing is skipped); the buffer is 4 x larger than `bytes` and each run reads
 * the next quarter, so no run finds its data in a cache the previous run filled. Median of 5. */
__attribute__((target("avx2"))) static double stream_ms(size_t bytes, int threads)
{
    const size_t n = bytes / 32 / threads * threads; /* 32-byte vectors, a multiple of threads */
    __m256i *buf = aligned_alloc(64, 4 * n * 32);
    if (!buf) return -1;
    for (size_t i = 0; i < 4 * n; i++) buf[i] = _mm256_set1_epi32((int)i); /* fault every page in */
    double runs[5];
    for (int r = 0; r < 5; r++) {
        const __m256i *part = buf + (size_t)(r % 4) * n;
        const double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            const size_t per = n / threads;
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t i = t * per; i + 4 <= (t + 1) * per; i += 4) {
                s0 = _mm256_add_epi32(s0, part[i]);
                s1 = _mm256_add_epi32(s1, part[i + 1]);
                s2 = _mm256_add_epi32(s2, part[i + 2]);
                s3 = _mm256_add_epi32(s3, part[i + 3]);
            }
            s0 = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
            isink = _mm256_extract_epi32(s0, 0);
        }
        runs[r] = (now() - t0) * 1e3;
    }
    free(buf);
    return median5(runs);
}

/* Output, per thread count (bench/run.sh and the Makefile parse these lines):
 *   threads T: avx2 X GFLOP/s, avx512 Y GFLOP/s
 *   threads T: int8 avx2 X GOP/s, int8 avx512vnni Y GOP/s[, int8 amx Z GOP/s]
 *   threads T: read N MB in X ms, Y GB/s                      (one line per BYTES argument) */
int main(int argc, char **argv)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    const int has_vnni = has512 && __builtin_cpu_supports("avx512vnni");
#ifdef HAVE_AMX
    const int has_amx = has_vnni && amx_usable();
#else
    const int has_amx = 0;
#endif
    for (int t = 1; t <= threads; t *= 2) {
        printf("threads %d: avx2 %.1f GFLOP/s", t, measure(FP32_256, t));
        if (has512) printf(", avx512 %.1f GFLOP/s", measure(FP32_512, t));
        printf("\n");
        if (__builtin_cpu_supports("avx2")) {
            printf("threads %d: int8 avx2 %.1f GOP/s", t, measure(I8_256, t));
            if (has_vnni) printf(", int8 avx512vnni %.1f GOP/s", measure(I8_512, t));
            if (has_amx) printf(", int8 amx %.1f GOP/s", measure(I8_AMX, t));
            printf("\n");
        }
        for (int i = 1; i < argc && __builtin_cpu_supports("avx2"); i++) {
            const size_t bytes = strtoull(argv[i], NULL, 10);
            const double ms = stream_ms(bytes, t);
            printf("threads %d: read %.1f MB in %.2f ms, %.1f GB/s\n", t, bytes / 1e6, ms,
                   bytes / ms * 1e-6);
        }
    }
    fflush(stdout);
    return 0;
}
