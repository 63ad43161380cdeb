/* GEMM micro-kernels for AVX2 + FMA (gemm_simd.h compiled for 8 lanes), for each weight format
 * (F16 widened with F16C, which every AVX2 CPU has and cpu.c checks).
 *
 * Full tile 6 x 16 (one PANEL16 panel = 2 ymm): 12 accumulators + 2 W vectors + 1 broadcast fit the
 * 16 ymm registers; 12 independent FMA chains cover two pipes of 4-cycle latency.
 *
 * Blocking: as gemm_avx512.c, an A block of mc = 96 rows stays in L2 while the W micro-panels
 * (k x 16 floats) pass. */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#include <math.h>

#include "kernels/simd_avx2.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"

#define KERNEL_TABLE(F, NAME)                                                                \
    SB_TILE(1, 1, F, NAME) SB_TILE(2, 1, F, NAME) SB_TILE(3, 1, F, NAME)                     \
    SB_TILE(4, 1, F, NAME) SB_TILE(5, 1, F, NAME) SB_TILE(6, 1, F, NAME)                     \
    const sb_gemm_kernels sb_gemm_kernels_avx2_##NAME = {                                    \
        .mr = 6, .panels = 1, .mc = 96, .kc = 768,                                           \
        .tile = {{ tile_1x1_##NAME, tile_2x1_##NAME, tile_3x1_##NAME, tile_4x1_##NAME,       \
                   tile_5x1_##NAME, tile_6x1_##NAME }},                                      \
    };

KERNEL_TABLE(SB_WEIGHTS_F32, f32)
KERNEL_TABLE(SB_WEIGHTS_BF16, bf16)
KERNEL_TABLE(SB_WEIGHTS_F16, f16)
#endif
