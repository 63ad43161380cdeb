/* Which instruction set the kernels use: CPUID says what the processor has, XGETBV says whether the
 * operating system saves the wider registers on a context switch (without that, using them would
 * corrupt state), and the SBERT_ISA environment variable may cap the choice. AArch64 always has
 * NEON. */
#if defined(__linux__)
#define _DEFAULT_SOURCE 1 /* syscall() */
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_impl.h"

/* detect_vnni()'s bits: the int8 extensions */
enum { VNNI_512 = 1, VNNI_256 = 2, AMX_INT8 = 4 };

#ifdef SB_X86
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static sb_isa detect_hardware(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return SB_ISA_SCALAR;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    const int f16c = (c >> 29) & 1; /* the F16 weights' kernels widen with vcvtph2ps */
    if (!osxsave || !avx || !fma || !f16c) return SB_ISA_SCALAR;
    const unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return SB_ISA_SCALAR;          /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return SB_ISA_SCALAR;
    const int avx2 = (b >> 5) & 1;
    if (!avx2) return SB_ISA_SCALAR;
    const int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1)    /* F, DQ */
                       && ((b >> 30) & 1) && ((b >> 31) & 1); /* BW, VL */
    if (avx512 && (xcr0 & 0xE0) == 0xE0) return SB_ISA_AVX512; /* opmask, ZMM0-15 high, ZMM16-31 */
    return SB_ISA_AVX2;
}

/* The VNNI extensions, for the I8 kernels, as bits: VNNI_512 for AVX512-VNNI (CPUID leaf 7, ECX
 * bit 11) on a machine whose AVX-512 the kernels use, VNNI_256 for AVX-VNNI (leaf 7 subleaf 1,
 * EAX bit 4: vpdpbusd on ymm, VEX-encoded) on an AVX2 one, and AMX_INT8 for AMX beside
 * AVX512-VNNI. */
static int detect_vnni(void)
{
    unsigned int a, b, c, d;
    const sb_isa hw = detect_hardware();
    int found = 0;
    if (hw == SB_ISA_SCALAR) return 0;
    if (hw == SB_ISA_AVX512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1))
        found |= VNNI_512;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1))
        found |= VNNI_256;
    /* AMX-TILE and AMX-INT8 (leaf 7, EDX bits 24, 25), with the tile state saved by the OS (XCR0
     * bits 17, 18); the kernels' tail also needs AVX512-VNNI */
    if ((found & VNNI_512) && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((d >> 24) & 3) == 3 &&
        (xgetbv0() & 0x60000) == 0x60000)
        found |= AMX_INT8;
    return found;
}

/* Linux (5.16 on) hands out the 8 KB tile state per process on request: until asked, the first
 * tile instruction faults. The request is made once, when the AMX kernels are first chosen; it
 * lets every thread of the process use AMX, as oneDNN and ONNX Runtime also ask. */
static int request_amx(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return 0; /* other systems: the VNNI kernels */
#endif
}
#elif defined(SB_ARM64)
static sb_isa detect_hardware(void) { return SB_ISA_NEON; } /* part of every AArch64 CPU */
static int detect_vnni(void) { return 0; }
static int request_amx(void) { return 0; }
#else
static sb_isa detect_hardware(void) { return SB_ISA_SCALAR; }
static int detect_vnni(void) { return 0; }
static int request_amx(void) { return 0; }
#endif

/* The instruction set to use on hardware whose best is hw, when `wanted` is asked for (by
 * SBERT_ISA or sb_kernels_set_isa): wanted itself, or on x86 the best below it; another
 * architecture's is ignored. */
static sb_isa capped(sb_isa wanted, sb_isa hw)
{
    if (wanted == hw || wanted == SB_ISA_SCALAR) return wanted;
    if ((hw == SB_ISA_NEON) != (wanted == SB_ISA_NEON)) return hw;
    return wanted < hw ? wanted : hw; /* the x86 order: AVX2 < AVX512 */
}

/* SBERT_ISA, or the hardware's best when it is unset or names no instruction set. "avx2" stands
 * for a CPU with AVX2 + FMA and nothing newer (Intel to 11th gen, AMD to Zen 3): its int8 kernels
 * are the vpmaddubsw ones even where the CPU has AVX-VNNI, which "avx-vnni" adds back. */
static sb_isa env_wanted(sb_isa hw)
{
    const char *s = getenv("SBERT_ISA");
    if (!s) return hw;
    if (strcmp(s, "scalar") == 0) return SB_ISA_SCALAR;
    if (strcmp(s, "avx2") == 0 || strcmp(s, "avx-vnni") == 0) return SB_ISA_AVX2;
    if (strcmp(s, "avx512") == 0 || strcmp(s, "amx") == 0) return SB_ISA_AVX512;
    return hw;
}

/* Whether SBERT_ISA leaves the VNNI extensions to the int8 kernels. */
static int env_allows_vnni(void)
{
    const char *s = getenv("SBERT_ISA");
    return !s || strcmp(s, "avx2") != 0;
}

/* Whether SBERT_ISA leaves AMX to the int8 kernels: unset, "amx", or naming no instruction set. */
static int env_allows_amx(void)
{
    const char *s = getenv("SBERT_ISA");
    return !s || (strcmp(s, "scalar") != 0 && strcmp(s, "avx2") != 0 &&
                  strcmp(s, "avx-vnni") != 0 && strcmp(s, "avx512") != 0);
}

/* -1 until detected. Detection is idempotent, so two threads racing here store the same value. */
static atomic_int current_isa = -1;
static atomic_int hardware_isa = -1;

static sb_isa hardware(void)
{
    int isa = atomic_load_explicit(&hardware_isa, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)detect_hardware();
        atomic_store_explicit(&hardware_isa, isa, memory_order_relaxed);
    }
    return (sb_isa)isa;
}

sb_isa sb_kernels_isa(void)
{
    int isa = atomic_load_explicit(&current_isa, memory_order_relaxed);
    if (isa < 0) {
        const sb_isa hw = hardware();
        isa = (int)capped(env_wanted(hw), hw);
        atomic_store_explicit(&current_isa, isa, memory_order_relaxed);
    }
    return (sb_isa)isa;
}

sb_isa sb_kernels_set_isa(sb_isa isa)
{
    isa = capped(isa, hardware());
    atomic_store_explicit(&current_isa, (int)isa, memory_order_relaxed);
    return isa;
}

static atomic_int allow_vnni = -1; /* -1: as SBERT_ISA says */
static atomic_int allow_amx = -1;

void sb_kernels_allow_vnni(int allow) { atomic_store_explicit(&allow_vnni, allow != 0, memory_order_relaxed); }
void sb_kernels_allow_amx(int allow) { atomic_store_explicit(&allow_amx, allow != 0, memory_order_relaxed); }

/* -1 until asked; asking twice (two threads racing) gets the same answer */
static atomic_int amx_granted = -1;

static int amx_usable(void)
{
#ifdef SB_X86
    if (!sb_gemm_q8_kernels_amx) return 0; /* the compiler had no AMX */
#endif
    int allowed = atomic_load_explicit(&allow_amx, memory_order_relaxed);
    if (allowed < 0) {
        allowed = env_allows_amx();
        atomic_store_explicit(&allow_amx, allowed, memory_order_relaxed);
    }
    if (!allowed) return 0;
    int granted = atomic_load_explicit(&amx_granted, memory_order_relaxed);
    if (granted < 0) {
        granted = request_amx();
        atomic_store_explicit(&amx_granted, granted, memory_order_relaxed);
    }
    return granted;
}

/* The machine's best I8 kernels, capped by the instruction set in use (an AVX2 cap leaves AVX-VNNI,
 * which is 256-bit, but not AVX512-VNNI), by SBERT_ISA=avx2 (no VNNI) and by
 * sb_kernels_allow_vnni. */
sb_q8_isa sb_kernels_q8(void)
{
    static atomic_int detected = -1; /* idempotent detection, as above */
    int vnni = atomic_load_explicit(&detected, memory_order_relaxed);
    if (vnni < 0) {
        vnni = detect_vnni();
        atomic_store_explicit(&detected, vnni, memory_order_relaxed);
    }
    const sb_isa isa = sb_kernels_isa();
    if (isa != SB_ISA_AVX2 && isa != SB_ISA_AVX512) return SB_Q8_PORTABLE; /* x86 only */
    int allowed = atomic_load_explicit(&allow_vnni, memory_order_relaxed);
    if (allowed < 0) {
        allowed = env_allows_vnni();
        atomic_store_explicit(&allow_vnni, allowed, memory_order_relaxed);
    }
    if (!allowed) return SB_Q8_AVX2;
    if (isa == SB_ISA_AVX512 && (vnni & AMX_INT8) && amx_usable()) return SB_Q8_AMX;
    if (isa == SB_ISA_AVX512 && (vnni & VNNI_512)) return SB_Q8_AVX512_VNNI;
    if (vnni & VNNI_256) return SB_Q8_AVX_VNNI;
    return SB_Q8_AVX2;
}

const char *sb_q8_isa_name(sb_q8_isa isa)
{
    switch (isa) {
    case SB_Q8_AVX2: return "avx2";
    case SB_Q8_AVX_VNNI: return "avx-vnni";
    case SB_Q8_AVX512_VNNI: return "avx512-vnni";
    case SB_Q8_AMX: return "amx";
    default: return "portable";
    }
}

const char *sb_isa_name(sb_isa isa)
{
    switch (isa) {
    case SB_ISA_AVX2: return "avx2";
    case SB_ISA_AVX512: return "avx512";
    case SB_ISA_NEON: return "neon";
    default: return "scalar";
    }
}
