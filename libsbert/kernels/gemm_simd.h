/* The GEMM micro-kernel, written once against the v_* layer (include simd_avx2.h or
 * simd_avx512.h and vecmath.h first). gemm_avx2.c and gemm_avx512.c instantiate it for every
 * tile shape their kernel table needs.
 *
 * A tile is R rows x P panels of 16 columns (P * 16 / V_LANES vectors per row). Per k it loads
 * the tile's P * 16 values of W, broadcasts R values of A (one per row) and issues one FMA per
 * accumulator vector; the R * P * 16 / V_LANES accumulators are independent, which is what hides
 * the FMA latency, and they stay in registers from the first k to the last. The shapes are
 * compile-time constants so the loops unroll and the accumulators never touch memory. */
#ifndef SBERT_GEMM_SIMD_H
#define SBERT_GEMM_SIMD_H

/* Bytes of a W panel to prefetch ahead. When W comes from memory (a small batch, where the GEMM is
 * a stream of the weights) the hardware prefetcher alone left the loads waiting; 4 KB ahead per
 * panel (64 rows of F32) measured best (2 and 8 KB were slower). Past a panel's end comes the next
 * panel, which the next tile reads, so the prefetches are rarely wasted. */
#define W_PREFETCH_BYTES 4096

/* As an address computation, not pointer arithmetic: the target may lie past the weights.
 * always_inline: GCC otherwise judges a function holding only a prefetch side-effect free and
 * deletes its calls. */
static inline __attribute__((always_inline)) void prefetch_ahead(const void *w_row)
{
    __builtin_prefetch((const char *)((uintptr_t)w_row + W_PREFETCH_BYTES), 0, 3);
}

/* The residual rows the epilogue will add, asked for before an I8 tile's loop over k so that they
 * arrive during it: read once per tile, they come from L3 or memory, and waiting for them was the
 * largest cost of the tile outside its loop (docs/bench/README.md). The fp32 tiles, whose loop is
 * four times longer for the same k, gain nothing from it. */
static inline __attribute__((always_inline)) void
prefetch_residual(const int R, const int cols, const sb_tile_epilogue *ep)
{
    if (!ep->residual)
        return;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < cols; j += 16) /* one 64-byte line per 16 floats */
            __builtin_prefetch(ep->residual + (size_t)i * ep->ldr + j, 0, 3);
}

/* V_LANES weights from element i of w, widened to fp32 (exactly: fp32 holds every BF16 and F16
 * value). F is a compile-time constant in every kernel, so the switch folds away. */
static inline __attribute__((always_inline)) VF load_weights(const void *w, size_t i,
                                                            const sb_weight_format F)
{
    switch (F) {
    case SB_WEIGHTS_BF16: return v_load_bf16((const uint16_t *)w + i);
    case SB_WEIGHTS_F16: return v_load_f16((const uint16_t *)w + i);
    default: return v_loadu((const float *)w + i);
    }
}

#define PANEL_VECS (SB_PANEL / V_LANES)
#define TILE_VECS (SB_MAX_PANELS * PANEL_VECS)

/* The epilogue runs in two steps so that no accumulator is live across a call (with the
 * activation inline, every accumulator would be spilled around it). While the accumulators are
 * stored, only what needs no call is applied: the bias, and the residual when there is no
 * activation. With an activation the sums go to a buffer on the stack (C may be the residual,
 * which must still be read), and the activation and residual follow row by row, in L1. */
static inline __attribute__((always_inline)) void
store_vec(VF v, float *c, const float *bias, const float *res, int cols)
{
    if (cols >= V_LANES) {
        if (bias) v = v_add(v, v_loadu(bias));
        if (res) v = v_add(v, v_loadu(res));
        v_storeu(c, v);
    } else if (cols > 0) {
        if (bias) v = v_add(v, v_load_n(bias, cols, 0.0f));
        if (res) v = v_add(v, v_load_n(res, cols, 0.0f));
        v_store_n(c, v, cols);
    }
}

/* c[0..n) = act(sums) + res (res may be NULL), for a constant act. */
static inline __attribute__((always_inline)) void
activate_row_as(float *c, const float *sums, const float *res, int n, const sb_activation act)
{
    int j = 0;
    for (; j + V_LANES <= n; j += V_LANES) {
        VF v = v_activate(v_loadu(sums + j), act);
        if (res) v = v_add(v, v_loadu(res + j));
        v_storeu(c + j, v);
    }
    if (j < n) {
        VF v = v_activate(v_load_n(sums + j, n - j, 0.0f), act);
        if (res) v = v_add(v, v_load_n(res + j, n - j, 0.0f));
        v_store_n(c + j, v, n - j);
    }
}

/* One loop per activation of the FFN, the switch outside it: with the switch inside, GELU's
 * chain of dependent operations overlapped less from one vector to the next
 * (docs/bench/2026-12-07-run14.md). */
static void activate_row(float *c, const float *sums, const float *res, int n, sb_activation act)
{
    switch (act) {
    case SB_ACT_GELU_ERF: activate_row_as(c, sums, res, n, SB_ACT_GELU_ERF); break;
    case SB_ACT_GELU_TANH: activate_row_as(c, sums, res, n, SB_ACT_GELU_TANH); break;
    case SB_ACT_RELU: activate_row_as(c, sums, res, n, SB_ACT_RELU); break;
    default: activate_row_as(c, sums, res, n, act); break;
    }
}

/* The epilogue of an I8 tile, whose dequantized sums (before the bias) are in sums[R][SB_TILE_COLS]
 * (nv vectors a row): the bias, activation and residual in tile_simd's order, row by row. */
static inline __attribute__((always_inline)) void
finish_rows(const int R, const int nv, float *sums, float *c, size_t ldc, int n_valid,
            const sb_tile_epilogue *ep)
{
    for (int i = 0; i < R; i++) {
        float *row = sums + i * SB_TILE_COLS, *ci = c + (size_t)i * ldc;
        const float *res = ep->residual ? ep->residual + (size_t)i * ep->ldr : NULL;
        for (int j = 0; j < nv; j++) /* without an activation, straight to C */
            store_vec(v_loadu(row + j * V_LANES),
                      ep->act == SB_ACT_IDENTITY ? ci + j * V_LANES : row + j * V_LANES,
                      ep->bias ? ep->bias + j * V_LANES : NULL,
                      ep->act == SB_ACT_IDENTITY && res ? res + j * V_LANES : NULL,
                      n_valid - j * V_LANES);
        if (ep->act != SB_ACT_IDENTITY)
            activate_row(ci, row, res, n_valid, ep->act);
    }
}

static inline __attribute__((always_inline)) void
tile_simd(const int R, const int P, const sb_weight_format F, int kn, const float *a, size_t lda,
          const void *w, size_t panel_stride, float *c, size_t ldc, int n_valid,
          const sb_tile_epilogue *ep)
{
    const int nv = P * PANEL_VECS;
    VF acc[SB_MAX_MR][TILE_VECS];
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            acc[i][j] = ep->sums_in ? v_loadu(ep->sums_in + i * SB_TILE_COLS + j * V_LANES)
                                    : v_zero();
    /* Rows 6.. of A through a second base pointer: 12 row offsets of their own left x86-64 short of
     * registers, and the compiler reloaded two of them from the stack at every k; a base per six
     * rows needs five offsets (docs/bench/README.md). */
    const float *a_hi = R > 6 ? a + 6 * lda : a; /* only rows that exist: no pointer past A */
    for (int k = 0; k < kn; k++) {
        VF b[TILE_VECS];
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) /* a 2-byte format's row is half a line: every other k */
            if (F == SB_WEIGHTS_F32 || k % 2 == 0)
                prefetch_ahead((const char *)w + ((size_t)p * panel_stride + (size_t)k * SB_PANEL)
                                                     * sb_weight_bytes(F));
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            b[j] = load_weights(w, (size_t)(j / PANEL_VECS) * panel_stride + (size_t)k * SB_PANEL
                                   + (j % PANEL_VECS) * V_LANES, F);
#pragma GCC unroll 32
        for (int i = 0; i < R; i++) {
            const VF ai = v_set1(i < 6 ? a[(size_t)i * lda + k]
                                       : a_hi[(size_t)(i - 6) * lda + k]);
#pragma GCC unroll 8
            for (int j = 0; j < nv; j++) acc[i][j] = v_fmadd(ai, b[j], acc[i][j]);
        }
    }
    if (ep->sums_out) { /* not the last block of k */
#pragma GCC unroll 32
        for (int i = 0; i < R; i++)
#pragma GCC unroll 8
            for (int j = 0; j < nv; j++)
                v_storeu(ep->sums_out + i * SB_TILE_COLS + j * V_LANES, acc[i][j]);
        return;
    }
    if (ep->act == SB_ACT_IDENTITY) {
#pragma GCC unroll 32
        for (int i = 0; i < R; i++) {
            const float *res = ep->residual ? ep->residual + (size_t)i * ep->ldr : NULL;
#pragma GCC unroll 8
            for (int j = 0; j < nv; j++)
                store_vec(acc[i][j], c + (size_t)i * ldc + j * V_LANES,
                          ep->bias ? ep->bias + j * V_LANES : NULL, res ? res + j * V_LANES : NULL,
                          n_valid - j * V_LANES);
        }
        return;
    }
    enum { TILE_COLS = TILE_VECS * V_LANES };
    float sums[SB_MAX_MR * TILE_COLS] __attribute__((aligned(64)));
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            store_vec(acc[i][j], sums + i * TILE_COLS + j * V_LANES,
                      ep->bias ? ep->bias + j * V_LANES : NULL, NULL, n_valid - j * V_LANES);
    for (int i = 0; i < R; i++)
        activate_row(c + (size_t)i * ldc, sums + i * TILE_COLS,
                     ep->residual ? ep->residual + (size_t)i * ep->ldr : NULL, n_valid, ep->act);
}

/* tile_<R>x<P>_<NAME>: the micro-kernel for R rows and P panels of weight format F (NAME its
 * short name), with the sb_tile_kernel signature. */
#define SB_TILE(R, P, F, NAME)                                                               \
    static void tile_##R##x##P##_##NAME(int kn, const float *a, size_t lda, const void *w,   \
                                        size_t panel_stride, float *c, size_t ldc,           \
                                        int n_valid, const sb_tile_epilogue *ep)             \
    {                                                                                        \
        tile_simd(R, P, F, kn, a, lda, w, panel_stride, c, ldc, n_valid, ep);                \
    }

/* The one-panel tiles of up to 6 rows (AVX2's 16 ymm and NEON's 32 q registers both hold their
 * accumulators) for weight format F, and their table's initializer, blocked as gemm.c describes. */
#define SB_TILES_6X16(F, NAME)                                                               \
    SB_TILE(1, 1, F, NAME) SB_TILE(2, 1, F, NAME) SB_TILE(3, 1, F, NAME)                     \
    SB_TILE(4, 1, F, NAME) SB_TILE(5, 1, F, NAME) SB_TILE(6, 1, F, NAME)
#define SB_TABLE_6X16(NAME)                                                                  \
    {                                                                                        \
        .mr = 6, .panels = 1, .mc = 96, .kc = 768,                                           \
        .tile = {{ tile_1x1_##NAME, tile_2x1_##NAME, tile_3x1_##NAME, tile_4x1_##NAME,       \
                   tile_5x1_##NAME, tile_6x1_##NAME }},                                      \
    }

#endif
