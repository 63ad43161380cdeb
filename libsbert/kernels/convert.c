/* Weight conversion at load: F16 and BF16 tensors become F32 once, so the engine computes in fp32
 * only. Portable C and exact for every one of the 65536 inputs (zeros, subnormals, infinities and
 * NaN payloads included): binary32 can represent every binary16 and bfloat16 value. */
#include <string.h>

#include "kernels.h"

static uint32_t bits_of(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Written with selects rather than early returns so that compilers can vectorize the loop. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t magnitude = h & 0x7fffu;
    /* normal: the exponent rebiased from 15 to 127, the mantissa widened */
    uint32_t normal = (magnitude << 13) + ((127 - 15) << 23);
    /* infinity or NaN: exponent all ones; the payload is kept, so a quiet NaN stays quiet */
    uint32_t inf_nan = normal + ((128 - 16) << 23);
    /* zero or subnormal: the value is mantissa * 2^-24, which binary32 holds exactly */
    uint32_t small = bits_of((float)magnitude * 0x1p-24f);
    uint32_t bits = magnitude >= 0x7c00u ? inf_nan : magnitude >= 0x0400u ? normal : small;
    return f32_from_bits(sign | bits);
}

void sb_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f16_to_f32(src[i]);
}

/* bfloat16 is the upper half of a binary32, so widening is a shift. */
void sb_bf16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_from_bits((uint32_t)src[i] << 16);
}

void sb_widen_to_f32(const void *src, sb_weight_format format, float *dst, size_t n)
{
    switch (format) {
    case SB_WEIGHTS_BF16: sb_bf16_to_f32(src, dst, n); break;
    case SB_WEIGHTS_F16: sb_f16_to_f32(src, dst, n); break;
    default: memcpy(dst, src, n * sizeof(float)); break;
    }
}
