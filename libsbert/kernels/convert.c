/* Weight conversion at load: F16 and BF16 tensors become F32 once, so the engine computes in fp32
 * only. Portable C and exact for every one of the 65536 inputs (zeros, subnormals, infinities and
 * NaN payloads included): binary32 can represent every binary16 and bfloat16 value. */
#include <string.h>

#include "kernels.h"

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;

    if (exponent == 0x1f) /* infinity or NaN: keep the payload, so a quiet NaN stays quiet */
        return f32_from_bits(sign | 0x7f800000u | mantissa << 13);
    if (exponent != 0) /* normal: rebias the exponent from 15 to 127 */
        return f32_from_bits(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
    /* zero or subnormal: the value is mantissa * 2^-24, which binary32 holds exactly */
    float magnitude = (float)mantissa * 0x1p-24f;
    return sign ? -magnitude : magnitude;
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
