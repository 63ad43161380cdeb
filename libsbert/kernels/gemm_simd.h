/* The GEMM micro-kernel, written once against the v_* layer (include simd_avx2.h or
 * simd_avx512.h and vecmath.h first). gemm_avx2.c and gemm_avx512.c instantiate it for every
 * tile shape their kernel table needs.
 *
 * A tile is R rows x P panels of 16 columns (P * 16 / V_LANES vectors per row). Per k it loads
 * the tile's P * 16 values of W, broadcasts R values of A (one per row) and issues one FMA per
 * accumulator vector; the R * P * 16 / V_LANES accumulators are independent, which is what hides
 * the FMA latency, and they stay in registers for the whole k block. The shapes are compile-time constants so the loops unroll and the accumulators never
 * touch memory. */
#ifndef SBERT_GEMM_SIMD_H
#define SBERT_GEMM_SIMD_H

/* W rows (64 bytes each per panel) to prefetch ahead. When W comes from memory (a small batch,
 * where the GEMM is a stream of the weights) the hardware prefetcher alone left the loads waiting;
 * 64 rows = 4 KB ahead per panel measured best (32 and 128 were slower). Past the end of the k
 * block the panel continues with the next k block, and past the panel's end comes the next panel,
 * so the prefetches are never wasted. */
#define W_PREFETCH_ROWS 64

/* As an address computation, not pointer arithmetic: the target may lie past the weights. */
static inline void prefetch_ahead(const float *w_row)
{
    _mm_prefetch((const char *)((uintptr_t)w_row + W_PREFETCH_ROWS * SB_PANEL * sizeof(float)),
                 _MM_HINT_T0);
}

#define PANEL_VECS (SB_PANEL / V_LANES)
#define TILE_VECS (SB_MAX_PANELS * PANEL_VECS)

/* One vector of results: the epilogue, then the store of its first `cols` columns. */
static inline __attribute__((always_inline)) void
store_vec(VF v, float *c, int row, int col, int cols, const sb_tile_epilogue *ep)
{
    const float *bias = ep->bias ? ep->bias + col : NULL;
    const float *res = ep->residual ? ep->residual + (size_t)row * ep->ldr + col : NULL;
    if (cols >= V_LANES) {
        if (ep->accumulate) v = v_add(v, v_loadu(c + col));
        if (bias) v = v_add(v, v_loadu(bias));
        if (ep->act != SB_ACT_IDENTITY) v = v_activate(v, ep->act);
        if (res) v = v_add(v, v_loadu(res));
        v_storeu(c + col, v);
    } else if (cols > 0) {
        if (ep->accumulate) v = v_add(v, v_load_n(c + col, cols, 0.0f));
        if (bias) v = v_add(v, v_load_n(bias, cols, 0.0f));
        if (ep->act != SB_ACT_IDENTITY) v = v_activate(v, ep->act);
        if (res) v = v_add(v, v_load_n(res, cols, 0.0f));
        v_store_n(c + col, v, cols);
    }
}

static inline __attribute__((always_inline)) void
tile_simd(const int R, const int P, int kc, const float *a, size_t lda, const float *w,
          size_t panel_stride, float *c, size_t ldc, int n_valid, const sb_tile_epilogue *ep)
{
    const int nv = P * PANEL_VECS;
    VF acc[SB_MAX_MR][TILE_VECS];
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++) acc[i][j] = v_zero();
    for (int k = 0; k < kc; k++) {
        VF b[TILE_VECS];
#pragma GCC unroll 8
        for (int p = 0; p < P; p++)
            prefetch_ahead(w + (size_t)p * panel_stride + (size_t)k * SB_PANEL);
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            b[j] = v_loadu(w + (size_t)(j / PANEL_VECS) * panel_stride + (size_t)k * SB_PANEL
                           + (j % PANEL_VECS) * V_LANES);
#pragma GCC unroll 32
        for (int i = 0; i < R; i++) {
            const VF ai = v_set1(a[(size_t)i * lda + k]);
#pragma GCC unroll 8
            for (int j = 0; j < nv; j++) acc[i][j] = v_fmadd(ai, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 32
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            store_vec(acc[i][j], c + (size_t)i * ldc, i, j * V_LANES, n_valid - j * V_LANES, ep);
}

/* tile_<R>x<P>: the micro-kernel for R rows and P panels, with the sb_tile_kernel signature. */
#define SB_TILE(R, P)                                                                        \
    static void tile_##R##x##P(int kc, const float *a, size_t lda, const float *w,           \
                               size_t panel_stride, float *c, size_t ldc, int n_valid,       \
                               const sb_tile_epilogue *ep)                                   \
    {                                                                                        \
        tile_simd(R, P, kc, a, lda, w, panel_stride, c, ldc, n_valid, ep);                   \
    }

#endif
