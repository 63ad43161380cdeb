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

SB_TILES_6X16(SB_WEIGHTS_F32, f32)
SB_TILES_6X16(SB_WEIGHTS_BF16, bf16)
SB_TILES_6X16(SB_WEIGHTS_F16, f16)
const sb_gemm_kernels sb_gemm_kernels_avx2[SB_FLOAT_FORMATS] = SB_FLOAT_TABLES(SB_TABLE_6X16);
#endif
