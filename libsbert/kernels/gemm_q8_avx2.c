/* I8 micro-kernels for AVX2 without VNNI (gemm_q8_ymm.h): about as fast as the fp32 AVX2 kernel,
 * so that an int8 model still runs well on such a CPU; the VNNI kernels are the fast ones. */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#define Q8_YMM_TABLE sb_gemm_q8_kernels_avx2
#include "kernels/gemm_q8_ymm.h"
#endif
