/* I8 micro-kernels for AVX2 CPUs with AVX-VNNI (gemm_q8_ymm.h; compiled with -mavxvnni on top of
 * the AVX2 flags, used only when CPUID reports AVX-VNNI, see cpu.c): vpdpbusd on 256-bit vectors,
 * one instruction where AVX2 alone needs five. A compiler without -mavxvnni (before GCC 11 /
 * clang 12) builds the AVX2 kernel here instead: the same results, without the speed. */
#include "kernels/kernels_impl.h"
#ifdef SB_X86
#define Q8_YMM_TABLE sb_gemm_q8_kernels_avxvnni
#include "kernels/gemm_q8_ymm.h"
#endif
