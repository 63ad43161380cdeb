/* GEMM micro-kernels for AArch64 NEON (gemm_simd.h compiled for 4 lanes), for each weight format.
 *
 * Full tile 6 x 16 (one PANEL16 panel = 4 q registers): 24 accumulators + 4 W vectors + 1 broadcast
 * fit the 32 q registers; 24 independent FMA chains cover the FMA latency of current cores (4
 * cycles, 2-4 pipes). Blocking as the x86 kernels (A blocks of 96 rows kept in L2 while the W
 * micro-panels pass). Checked here under qemu-user (make test-arm64); its speed on ARM hardware
 * has not been measured. */
#include "kernels/kernels_impl.h"
#ifdef SB_ARM64
#include <math.h>

#include "kernels/simd_neon.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"

#define KERNEL_TABLE(F, NAME)                                                                \
    SB_TILE(1, 1, F, NAME) SB_TILE(2, 1, F, NAME) SB_TILE(3, 1, F, NAME)                     \
    SB_TILE(4, 1, F, NAME) SB_TILE(5, 1, F, NAME) SB_TILE(6, 1, F, NAME)                     \
    const sb_gemm_kernels sb_gemm_kernels_neon_##NAME = {                                    \
        .mr = 6, .panels = 1, .mc = 96, .kc = 768,                                           \
        .tile = {{ tile_1x1_##NAME, tile_2x1_##NAME, tile_3x1_##NAME, tile_4x1_##NAME,       \
                   tile_5x1_##NAME, tile_6x1_##NAME }},                                      \
    };

KERNEL_TABLE(SB_WEIGHTS_F32, f32)
KERNEL_TABLE(SB_WEIGHTS_BF16, bf16)
KERNEL_TABLE(SB_WEIGHTS_F16, f16)
#endif
