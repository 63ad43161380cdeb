/* GEMM micro-kernels for AVX-512 (gemm_simd.h compiled for 16 lanes).
 *
 * Full tile 12 x 32 (two PANEL16 panels): 24 accumulators + 2 W vectors + 1 broadcast fit the 32
 * zmm registers; per k, 2 loads of W and 12 broadcasts feed 24 FMAs, so the loads never limit the
 * two FMA pipes, and 24 independent chains cover their latency.
 *
 * Blocking (L2 1 MB per core): a unit's A block of mc = 96 rows (96 x 768 floats = 288 KB) stays
 * in L2 with the W micro-panel being used (768 x 32 floats = 96 KB), so W is read from memory once
 * per 96 rows and A once per micro-panel from L2. 48 to 192 rows measured within noise; 96 keeps
 * the K = 3072 block (1.1 MB) mostly in L2 too. */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#include <math.h>

#include "kernels/simd_avx512.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"

#define TILES_FOR_PANELS(P) \
    SB_TILE(1, P) SB_TILE(2, P) SB_TILE(3, P) SB_TILE(4, P) SB_TILE(5, P) SB_TILE(6, P) \
    SB_TILE(7, P) SB_TILE(8, P) SB_TILE(9, P) SB_TILE(10, P) SB_TILE(11, P) SB_TILE(12, P)
TILES_FOR_PANELS(1)
TILES_FOR_PANELS(2)

#define TILE_ROW(P) \
    { tile_1x##P, tile_2x##P, tile_3x##P, tile_4x##P, tile_5x##P, tile_6x##P, \
      tile_7x##P, tile_8x##P, tile_9x##P, tile_10x##P, tile_11x##P, tile_12x##P }

const sb_gemm_kernels sb_gemm_kernels_avx512 = {
    .mr = 12, .panels = 2, .mc = 96, .kc = 768,
    .tile = { TILE_ROW(1), TILE_ROW(2) },
};
#endif
