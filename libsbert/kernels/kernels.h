/* Compute kernels: the only clever code in libsbert. The forward pass (encoder.c) calls these and
 * nothing else for arithmetic on large arrays.
 *
 * Every kernel has a portable C version; AVX2+FMA and AVX-512 versions live in *_avx2.c and
 * *_avx512.c and are chosen once at run time from CPUID (sb_kernels_isa()). The environment
 * variable SBERT_ISA=scalar|avx2|avx512 caps the choice (tests run every path on one machine).
 *
 * Threading: sb_gemm() splits its work over the threads of a pool (threadpool.h; NULL runs it in
 * the calling thread). The vector ops are single-threaded; the caller parallelises over rows or
 * heads. */
#ifndef SBERT_KERNELS_H
#define SBERT_KERNELS_H

#include <stddef.h>
#include "model.h"
#include "threadpool.h"

typedef enum { SB_ISA_SCALAR = 0, SB_ISA_AVX2 = 1, SB_ISA_AVX512 = 2 } sb_isa;

/* The instruction set in use (detected once; thread-safe). */
sb_isa sb_kernels_isa(void);
const char *sb_isa_name(sb_isa isa);
/* Use `isa`, or the best one the machine has below it; returns the one now in use. For tests and
 * benchmarks: call it while no kernel is running. */
sb_isa sb_kernels_set_isa(sb_isa isa);

/* ---- GEMM ---------------------------------------------------------------------------------
 * C[m x n] = act(A[m x k] . W^T + bias) + residual, where W is a Linear layer's weight stored in
 * PANEL16 order (n = W->n_out, k = W->n_in). A, C and residual are row-major with leading
 * dimensions lda, ldc, ldr (in floats). residual may be NULL; it may alias C exactly (residual == C
 * and ldr == ldc: C += act(xW + b)); otherwise it must not overlap C. A must not overlap C.
 * act is applied before the residual is added (post-LN transformer: LN(x + act(xW+b)) never
 * needs both, but Dense modules use act and the residual path uses IDENTITY).
 * Each element of C is computed by one thread in a fixed order: the result does not depend on
 * the number of threads.
 *
 * scratch: per-context working memory, at least sb_gemm_scratch_floats(n) floats for a pool of n
 * threads (n = 1 when threads is NULL), never NULL: it holds the tiles' sums between blocks of k
 * when k > 768, and the bf16/int8 kernels will convert A into it. No allocation happens inside. */
size_t sb_gemm_scratch_floats(int n_threads);
void sb_gemm(const float *A, size_t lda, int m, const sb_linear *W, float *C, size_t ldc,
             sb_activation act, const float *residual, size_t ldr, float *scratch,
             sb_threadpool *threads);

/* ---- vector ops (one row / one vector) ----------------------------------------------------- */
/* x[0..n) = LayerNorm(x) * w + b, statistics in fp32 as PyTorch computes them. */
void sb_layernorm(float *x, const float *w, const float *b, int n, float eps);
/* x[0..n) = act(x) */
void sb_activate(float *x, int n, sb_activation act);
/* x[0..n) = softmax(scale * x) for scale > 0, numerically stable (max subtracted); exactly the
 * result of multiplying by scale first (each product rounded), in one pass less. */
void sb_softmax(float *x, int n, float scale);
float sb_dot(const float *a, const float *b, int n);
/* y[0..n) += alpha * x */
void sb_axpy(float *y, float alpha, const float *x, int n);

/* ---- weight conversion at load -------------------------------------------------------------- */
void sb_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void sb_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/* dst[0..n) = the n elements of `format` at src, widened to F32 (a copy for F32) */
void sb_widen_to_f32(const void *src, sb_weight_format format, float *dst, size_t n);

#endif
