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

SB_TILES_6X16(SB_WEIGHTS_F32, f32)
SB_TILES_6X16(SB_WEIGHTS_BF16, bf16)
SB_TILES_6X16(SB_WEIGHTS_F16, f16)
const sb_gemm_kernels sb_gemm_kernels_neon[SB_FLOAT_FORMATS] = SB_FLOAT_TABLES(SB_TABLE_6X16);
#endif
