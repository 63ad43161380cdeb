/* GEMM micro-kernels for AVX-512 (gemm_simd.h compiled for 16 lanes), for each weight format.
 *
 * Full tile 12 x 32 (two PANEL16 panels): 24 accumulators + 2 W vectors + 1 broadcast fit the 32
 * zmm registers; per k, 2 loads of W and 12 broadcasts feed 24 FMAs, so the loads never limit the
 * two FMA pipes, and 24 independent chains cover their latency. BF16 and F16 weights add two
 * widening instructions per W vector (off the FMA pipes' critical path) and halve W's bytes.
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

#define TILES_FOR_PANELS(P, F, NAME)                                                         \
    SB_TILE(1, P, F, NAME) SB_TILE(2, P, F, NAME) SB_TILE(3, P, F, NAME)                     \
    SB_TILE(4, P, F, NAME) SB_TILE(5, P, F, NAME) SB_TILE(6, P, F, NAME)                     \
    SB_TILE(7, P, F, NAME) SB_TILE(8, P, F, NAME) SB_TILE(9, P, F, NAME)                     \
    SB_TILE(10, P, F, NAME) SB_TILE(11, P, F, NAME) SB_TILE(12, P, F, NAME)

#define TILE_ROW(P, NAME)                                                                    \
    { tile_1x##P##_##NAME, tile_2x##P##_##NAME, tile_3x##P##_##NAME, tile_4x##P##_##NAME,    \
      tile_5x##P##_##NAME, tile_6x##P##_##NAME, tile_7x##P##_##NAME, tile_8x##P##_##NAME,    \
      tile_9x##P##_##NAME, tile_10x##P##_##NAME, tile_11x##P##_##NAME, tile_12x##P##_##NAME }

#define TILES(F, NAME) TILES_FOR_PANELS(1, F, NAME) TILES_FOR_PANELS(2, F, NAME)
#define TABLE(NAME)                                                                          \
    {                                                                                        \
        .mr = 12, .panels = 2, .mc = 96, .kc = 768,                                          \
        .tile = { TILE_ROW(1, NAME), TILE_ROW(2, NAME) },                                    \
    }

TILES(SB_WEIGHTS_F32, f32)
TILES(SB_WEIGHTS_BF16, bf16)
TILES(SB_WEIGHTS_F16, f16)
const sb_gemm_kernels sb_gemm_kernels_avx512[SB_FLOAT_FORMATS] = SB_FLOAT_TABLES(TABLE);
#endif
