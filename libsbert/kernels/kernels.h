/* Compute kernels: the only clever code in libsbert. The forward pass (encoder.c) calls these and
 * nothing else for arithmetic on large arrays.
 *
 * Every kernel has a portable C version; AVX2+FMA and AVX-512 versions live in *_avx2.c and
 * *_avx512.c and are chosen once at run time from CPUID (sb_kernels_isa()); on AArch64 the NEON
 * versions (*_neon.c) always apply. The environment variable
 * SBERT_ISA=scalar|avx2|avx-vnni|avx512|amx caps the choice (tests run every path on one machine;
 * avx2 is a CPU without any VNNI, avx512 one without AMX).
 *
 * Threading: sb_gemm() splits its work over the threads of a pool (threadpool.h; NULL runs it in
 * the calling thread). The vector ops are single-threaded; the caller parallelises over rows or
 * heads. */
#ifndef SBERT_KERNELS_H
#define SBERT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- what the kernels compute with: activations and Linear weights -------------------------- */

#define SB_PANEL 16        /* PANEL16: a Linear weight is stored as panels of 16 output rows */

typedef enum {
    SB_ACT_IDENTITY = 0,
    SB_ACT_GELU_ERF,    /* hidden_act "gelu": 0.5 x (1 + erf(x / sqrt 2)) */
    SB_ACT_GELU_TANH,   /* "gelu_new", "gelu_pytorch_tanh" */
    SB_ACT_RELU,
    SB_ACT_TANH,        /* the Dense module's default */
    SB_ACT_SIGMOID,
} sb_activation;

/* How a Linear layer's weight is stored. F32: PANEL16 panels of fp32. BF16, F16: the same panels
 * of 2-byte values kept as the file stores them, widened to fp32 inside the micro-kernel, so the
 * arithmetic is the fp32 arithmetic on the stored values (half the bytes to stream). BF16 weights
 * are widened rather than fed to AVX512-BF16's vdpbf16ps, which would also round the activations
 * to bf16 and was no faster (docs/bench/README.md).
 *
 * I8: int8 weights with one fp32 scale per output row (W[n][k] ~ scale[n] * q[n][k], q in
 * [-127, 127]), in PANEL16_Q4 order: the panel's 16 rows hold 4 consecutive k each per 64 bytes,
 * which is what AVX512-VNNI's vpdpbusd multiplies with 4 bytes of one activation row. The GEMM
 * quantizes the activations too, each row of A to 8 bits with its own scale (as ONNX Runtime's
 * dynamic quantization does), and sums the products exactly in int32: on this project's Zen 4
 * machine vpdpbusd does 4 times the multiply-adds of an fp32 FMA per cycle. It is an
 * approximation of the fp32 model (see README), chosen at conversion (--dtype int8).
 *
 * The GEMM picks its micro-kernels by (ISA, format) (kernels/gemm.c), so a format slots in
 * without touching the forward pass. */
typedef enum {
    SB_WEIGHTS_F32 = 0,
    SB_WEIGHTS_BF16 = 1,
    SB_WEIGHTS_F16 = 2,
    SB_WEIGHTS_I8 = 3,
} sb_weight_format;

static inline size_t sb_weight_bytes(sb_weight_format format)
{
    return format == SB_WEIGHTS_F32 ? 4 : format == SB_WEIGHTS_I8 ? 1 : 2;
}

/* I8 weights: k is padded to whole quads, and in_features is capped so that a row's int32 sums
 * cannot overflow (255 * 127 * 16384 < 2^31). */
#define SB_Q8_QUAD 4
#define SB_Q8_MAX_IN 16384
static inline size_t sb_q8_padded_k(int n_in) { return ((size_t)n_in + 3) / 4 * 4; }

/* A Linear layer y = x W^T + b as the GEMM reads it: W in PANEL16 (or PANEL16_Q4) order
 * (docs/FORMAT.md). */
typedef struct {
    sb_weight_format format; /* of `weight` */
    const void *weight;      /* [ceil(n_out/16)][n_in][16] elements of `format`, rows past n_out
                                zero; I8: [ceil(n_out/16)][padded k / 4][16][4] */
    const float *bias;       /* [n_out], or NULL */
    const float *scale;      /* I8 only: [n_out] the rows' scales */
    const int32_t *col_sum;  /* I8 only: [n_out] sum over k of q[n][k] (computed at load) */
    int n_out, n_in;
} sb_linear;

/* Bytes from one panel of 16 output rows to the next. */
static inline size_t sb_panel_bytes(const sb_linear *w)
{
    if (w->format == SB_WEIGHTS_I8)
        return sb_q8_padded_k(w->n_in) * SB_PANEL;
    return (size_t)w->n_in * SB_PANEL * sb_weight_bytes(w->format);
}

/* ---- instruction sets ------------------------------------------------------------------------ */

/* AVX2 < AVX512 on x86; NEON (AArch64) stands alone: SBERT_ISA=scalar is its only cap. */
typedef enum { SB_ISA_SCALAR = 0, SB_ISA_AVX2 = 1, SB_ISA_AVX512 = 2, SB_ISA_NEON = 3 } sb_isa;

/* The instruction set in use (detected once; thread-safe). */
sb_isa sb_kernels_isa(void);
const char *sb_isa_name(sb_isa isa);
/* Use `isa`, or (x86) the best one the machine has below it, or scalar; returns the one now in
 * use. For tests and benchmarks: call it while no kernel is running. */
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
 * scratch: per-context working memory, at least sb_gemm_scratch_floats(n, max_rows, max_k) floats
 * for a pool of n threads (n = 1 when threads is NULL), m <= max_rows and k <= max_k, never NULL:
 * it holds the tiles' sums between blocks of k when k > 768, and A quantized to 8 bits when W is
 * I8 (sb_gemm_q8). No allocation happens inside. */
size_t sb_gemm_scratch_floats(int n_threads, int max_rows, int max_k);
void sb_gemm(const float *A, size_t lda, int m, const sb_linear *W, float *C, size_t ldc,
             sb_activation act, const float *residual, size_t ldr, float *scratch,
             sb_threadpool *threads);

/* ---- int8 weights (SB_WEIGHTS_I8, see model.h) -----------------------------------------------
 * Rows of A quantized to 8 bits, as ONNX Runtime's DynamicQuantizeLinear does it but per row: row
 * i is q[i * ldq + 0 .. k) as unsigned bytes, a ~ scale[i] * (q - zero[i]), over the range
 * [min(0, min a_i), max(0, max a_i)] cut into 255 steps (unsigned, since vpdpbusd multiplies
 * unsigned by signed bytes), padded with zero[i] to a whole quad. */
typedef struct {
    uint8_t *q;
    size_t ldq;    /* bytes, at least sb_q8_padded_k(k) */
    float *scale;  /* [m] */
    int32_t *zero; /* [m] the byte that stands for 0, in 0 .. 255 */
    uint8_t *prep; /* the same rows in the form the I8 kernels in use read, when it is not q's
                    * (AVX2 without VNNI), made by sb_quantize_rows; else NULL */
    size_t ldp;
} sb_q8_rows;

/* Rows first.. of `rows`. */
static inline sb_q8_rows sb_q8_rows_from(const sb_q8_rows *rows, int first)
{
    return (sb_q8_rows){ rows->q + (size_t)first * rows->ldq, rows->ldq, rows->scale + first,
                         rows->zero + first,
                         rows->prep ? rows->prep + (size_t)first * rows->ldp : NULL, rows->ldp };
}

/* Bytes for m rows of k quantized values with their scales and zero points (64-byte aligned
 * pieces), and their prepared form when the I8 kernels in use need one: call this and
 * sb_q8_rows_in under the same kernel choice (sb_kernels_allow_vnni, SBERT_ISA). */
size_t sb_q8_rows_bytes(int m, int k);
/* Lays out (q, ldq, scale, zero) for m rows of k in `buffer` of sb_q8_rows_bytes(m, k) bytes. */
sb_q8_rows sb_q8_rows_in(void *buffer, int m, int k);
/* Row i of dst = x[0 .. k) quantized: for a caller that has the row in cache anyway. */
void sb_quantize_row(const float *x, int k, const sb_q8_rows *dst, int i);
/* dst = A[m x k] quantized row by row (threads over rows; threads may be NULL). */
void sb_quantize_rows(const float *A, size_t lda, int m, int k, const sb_q8_rows *dst,
                      sb_threadpool *threads);
/* sb_gemm for I8 weights on rows already quantized: C[i][j] = scale_a[i] * W->scale[j] * the exact
 * int32 sum over k of (q_a - zero_a[i]) q_w, then bias, act and residual as sb_gemm. The sums, and so
 * the results before the activation, are the same bits on every instruction set and for any number
 * of threads. No scratch: k is at most SB_Q8_MAX_IN,
 * so the sums never leave the registers. */
void sb_gemm_q8(const sb_q8_rows *A, int m, const sb_linear *W, float *C, size_t ldc,
                sb_activation act, const float *residual, size_t ldr, sb_threadpool *threads);
/* sums[n] = sum over k of the I8 weight q[n][k], for W->col_sum (computed once at load). */
void sb_q8_column_sums(const sb_linear *W, int32_t *sums);
/* The I8 kernels in use (same results from each): AMX (Intel Xeon from Sapphire Rapids on),
 * else AVX512-VNNI, else AVX-VNNI (256-bit, on AVX2 CPUs that have it), else AVX2, else portable;
 * capped by the instruction set in use (sb_kernels_isa), by SBERT_ISA (avx512: no AMX; avx2: no
 * VNNI either) and by sb_kernels_allow_amx / sb_kernels_allow_vnni. */
typedef enum {
    SB_Q8_PORTABLE = 0, SB_Q8_AVX2, SB_Q8_AVX_VNNI, SB_Q8_AVX512_VNNI, SB_Q8_AMX
} sb_q8_isa;
sb_q8_isa sb_kernels_q8(void);
const char *sb_q8_isa_name(sb_q8_isa isa);
/* allow = 0 keeps the I8 kernels off VNNI (tests reach the AVX2 kernel that way on a VNNI
 * machine); 1 lets them use it (until called: as SBERT_ISA says). */
void sb_kernels_allow_vnni(int allow);
/* allow = 0 keeps them off AMX (tests reach the AVX512-VNNI kernel that way on an AMX machine). */
void sb_kernels_allow_amx(int allow);

/* ---- vector ops (one row / one vector) ----------------------------------------------------- */
/* x[0..n) = LayerNorm(x) * w + b, statistics in fp32 as PyTorch computes them. */
void sb_layernorm(float *x, const float *w, const float *b, int n, float eps);
/* x[0..n) = act(x) */
void sb_activate(float *x, int n, sb_activation act);
/* x[0..n) = softmax(scale * x) for scale > 0, numerically stable (max subtracted); exactly the
 * result of multiplying by scale first (each product rounded), in one pass less. */
void sb_softmax(float *x, int n, float scale);
/* One step of the online softmax (FlashAttention's running maximum and sum) over a row that comes
 * in tiles: with m = max(*max, scale * max(x)), x[0..n) = exp(scale * x - m); *sum becomes
 * *sum * c + sum(x) and *max becomes m, where c = exp(old *max - m) is returned: the factor by
 * which whatever was accumulated from earlier tiles must be scaled. Start a row with
 * *max = -INFINITY and *sum = 0 (c is then 0). Over one tile, x[i] * (1 / *sum) is bit for bit
 * what sb_softmax gives. */
float sb_softmax_online(float *x, int n, float scale, float *max, float *sum);
float sb_dot(const float *a, const float *b, int n);
/* y[0..n) += alpha * x */
void sb_axpy(float *y, float alpha, const float *x, int n);

/* ---- weight conversion at load -------------------------------------------------------------- */
void sb_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void sb_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/* dst[0..n) = the n elements of `format` at src, widened to F32 (a copy for F32) */
void sb_widen_to_f32(const void *src, sb_weight_format format, float *dst, size_t n);

#endif
