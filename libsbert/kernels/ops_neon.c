/* The vector ops for AArch64 NEON (ops_simd.h compiled for 4 lanes). */
#include "kernels/kernels_impl.h"
#ifdef SB_ARM64
#include <math.h>

#include "kernels/simd_neon.h"
#include "kernels/vecmath.h"
#include "kernels/ops_simd.h"

const sb_vec_ops sb_vec_ops_neon = SB_VEC_OPS_SIMD;
#endif
