/* The vector ops for AVX2 + FMA (ops_simd.h compiled for 8 lanes). */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#include <math.h>

#include "kernels/simd_avx2.h"
#include "kernels/vecmath.h"
#include "kernels/ops_simd.h"

const sb_vec_ops sb_vec_ops_avx2 = SB_VEC_OPS_SIMD;
#endif
