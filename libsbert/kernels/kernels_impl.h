/* Internal contract between the portable drivers (gemm.c, ops.c) and the per-ISA files
 * (*_avx2.c, *_avx512.c, *_neon.c). Nothing outside libsbert/kernels/ includes this. */
#ifndef SBERT_KERNELS_IMPL_H
#define SBERT_KERNELS_IMPL_H

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define SB_X86 1
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#define SB_ARM64 1
#endif

/* ---- GEMM micro-kernels ---------------------------------------------------------------------
 * A micro-kernel computes one tile of C, rows x (16 * panels) columns, over all of k:
 *
 *   tile = A . W (+ bias) -> act -> (+ residual)   stored to C
 *
 * a points at the tile's first row of A (row stride lda): A is read in place, each row a
 * sequential stream (packing it, as BLIS does, measured slower than the copy saves).
 * w points at the tile's first PANEL16 panel, in the table's weight format (sb_weight_format,
 * widened to fp32 as it is loaded); the next panel starts panel_stride elements later (k * 16).
 * Only the first n_valid (1 .. 16 * panels) columns are read from bias/residual and stored; the
 * panels' zero padding makes the others harmless to compute.
 * The tile's sums stay in registers over a block of k (all of k unless k > kc, see gemm.c); when
 * k is cut into blocks, the sums of one block are parked in a per-thread buffer (sums_out) and
 * picked up by the next (sums_in), which is the same sequence of FMAs on the same values: the
 * result does not depend on the blocking. The epilogue runs after the last block; the residual is
 * read just before the store, so it may alias C. Every element goes through the same operations
 * whatever the tile's shape, so results do not depend on how C is cut into tiles or threads. */
typedef struct {
    const float *bias;       /* bias of the tile's first column, or NULL */
    sb_activation act;
    const float *residual;   /* the tile's first element in the residual, or NULL */
    size_t ldr;
    const float *sums_in;    /* the sums of the previous k blocks ([rows][SB_TILE_COLS]), or NULL */
    float *sums_out;         /* not the last k block: store the raw sums here, no epilogue */
    /* I8 kernels only: the int32 sums of q_a q_w become
     * (sum - row_zero[i] col_sum[j]) * (col_scale[j] * row_scale[i]) */
    const float *row_scale;  /* the tile's first row's scale */
    const int32_t *row_zero; /* the tile's first row's zero point */
    const float *col_scale;  /* the tile's first column's scale */
    const int32_t *col_sum;  /* the tile's first column's sum of weights */
} sb_tile_epilogue;

typedef void (*sb_tile_kernel)(int k, const float *a, size_t lda, const void *w,
                               size_t panel_stride, float *c, size_t ldc, int n_valid,
                               const sb_tile_epilogue *ep);

#define SB_MAX_MR 16
#define SB_MAX_PANELS 2
#define SB_TILE_COLS (SB_MAX_PANELS * SB_PANEL) /* row stride of parked sums */

/* One ISA's kernels for one weight format and the cache blocking tuned for them (see gemm.c for
 * the loop nest). */
typedef struct {
    int mr;         /* rows of a full tile */
    int panels;     /* 16-column panels of a full tile */
    int mc;         /* rows of the A block kept in L2 while W micro-panels pass */
    int kc;         /* longest block of k: the A block is mc x kc */
    sb_tile_kernel tile[SB_MAX_PANELS][SB_MAX_MR]; /* [panels - 1][rows - 1]: every edge tile */
} sb_gemm_kernels;

/* Each instruction set's table, indexed by weight format (the formats computed in fp32; I8 has
 * its own tables below). gemm.c picks the portable table when none of these runs. */
#define SB_FLOAT_FORMATS (SB_WEIGHTS_F16 + 1)
/* The initializer of such a table from TABLE(NAME), NAME the format's short name. */
#define SB_FLOAT_TABLES(TABLE)                                                               \
    {                                                                                        \
        [SB_WEIGHTS_F32] = TABLE(f32), [SB_WEIGHTS_BF16] = TABLE(bf16),                      \
        [SB_WEIGHTS_F16] = TABLE(f16),                                                       \
    }
#ifdef SB_X86
extern const sb_gemm_kernels sb_gemm_kernels_avx2[SB_FLOAT_FORMATS];
extern const sb_gemm_kernels sb_gemm_kernels_avx512[SB_FLOAT_FORMATS];
#endif
#ifdef SB_ARM64
extern const sb_gemm_kernels sb_gemm_kernels_neon[SB_FLOAT_FORMATS];
#endif

/* I8 micro-kernels: a is the tile's first quantized row (ldq bytes apart), w its first PANEL16_Q4
 * panel (the next panel_stride bytes later), k4 the number of quads of k. One block of k always
 * (k <= SB_Q8_MAX_IN), so sums_in/sums_out are unused. */
typedef void (*sb_tile_kernel_q8)(int k4, const uint8_t *a, size_t ldq, const int8_t *w,
                                  size_t panel_stride, float *c, size_t ldc, int n_valid,
                                  const sb_tile_epilogue *ep);

/* One work unit of an I8 GEMM at once, for kernels that pay a setup per call (AMX loads its tile
 * configuration): rows x cols of C, every pointer at the unit's first row and column (a, c, the
 * epilogue's row and column arrays) or first panel (w). */
typedef struct {
    int rows, cols, k4;
    const uint8_t *a;
    size_t ldq;
    const int8_t *w;
    size_t panel_stride;
    float *c;
    size_t ldc;
    sb_tile_epilogue ep;
} sb_q8_unit;

typedef struct {
    int mr, panels, mc; /* mr: a tile's rows (with `unit`, a block's: it may pass SB_MAX_MR) */
    sb_tile_kernel_q8 tile[SB_MAX_PANELS][SB_MAX_MR];
    void (*unit)(const sb_q8_unit *unit); /* when not NULL, used instead of `tile` */
    /* one row: q[0 .. padded k), *scale and *zero (the layout of sb_q8_rows) */
    void (*quantize_row)(const float *x, int k, uint8_t *q, float *scale, int32_t *zero);
    /* sums[c] = the sum of column c's weights in one PANEL16_Q4 panel of `quads` quads of k */
    void (*column_sums)(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL]);
    /* When not NULL, the tiles read A in this form (SB_Q8_PREP_BYTES per byte of q) instead of q:
     * prep = the form of one row of padded_k bytes q */
    void (*prepare_row)(const uint8_t *q, size_t padded_k, uint8_t *prep);
} sb_gemm_q8_kernels;
#define SB_Q8_PREP_BYTES 2

extern const sb_gemm_q8_kernels sb_gemm_q8_kernels_scalar;
void sb_q8_quantize_row_scalar(const float *x, int k, uint8_t *q, float *scale, int32_t *zero);
void sb_q8_column_sums_scalar(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL]);
/* The range of a row as the quantizers see it: [min(0, min x), max(0, max x)] -> scale, the
 * factor 1 / scale (0 for an all-zero row) and the zero point; shared so every ISA agrees. */
void sb_q8_row_params(float lo, float hi, float *scale, float *inv, int32_t *zero);
/* The I8 kernels in use (sb_kernels_q8() says which; the same results from each). */
const sb_gemm_q8_kernels *sb_q8_kernels(void);
#ifdef SB_X86
extern const sb_gemm_q8_kernels sb_gemm_q8_kernels_avx512vnni, sb_gemm_q8_kernels_avxvnni,
    sb_gemm_q8_kernels_avx2;
/* NULL when the compiler could not build the AMX kernels (it needs -mamx-int8: GCC 11, clang 12) */
extern const sb_gemm_q8_kernels *const sb_gemm_q8_kernels_amx;
/* shared by the AVX512-VNNI and AMX tables */
void sb_q8_quantize_row_avx512(const float *x, int k, uint8_t *q, float *scale, int32_t *zero);
void sb_q8_column_sums_avx512(const int8_t *panel, size_t quads, int32_t sums[SB_PANEL]);
#endif

/* ---- vector ops, one implementation per ISA --------------------------------------------------- */
typedef struct {
    void (*layernorm)(float *x, const float *w, const float *b, int n, float eps);
    void (*activate)(float *x, int n, sb_activation act);
    void (*softmax)(float *x, int n, float scale);
    float (*softmax_online)(float *x, int n, float scale, float *max, float *sum);
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float alpha, const float *x, int n);
} sb_vec_ops;

extern const sb_vec_ops sb_vec_ops_scalar;
#ifdef SB_X86
extern const sb_vec_ops sb_vec_ops_avx2;
extern const sb_vec_ops sb_vec_ops_avx512;
#endif
#ifdef SB_ARM64
extern const sb_vec_ops sb_vec_ops_neon;
#endif

/* Scalar activation shared by the portable kernels and the vector ops' tails. */
float sb_act_scalar(float x, sb_activation act);

#endif
