/* Decomposition and lowercase lookups over the generated tables (unicode_tables.c). */
#include "unicode.h"

int sb_unicode_decompose(uint32_t cp, uint32_t out[4])
{
    if (cp - SB_HANGUL_S_BASE < SB_HANGUL_S_COUNT) { /* LV or LVT syllable: L V [T] jamo */
        const uint32_t s = cp - SB_HANGUL_S_BASE, t = s % 28;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        out[2] = 0x11A7 + t;
        return t ? 3 : 2;
    }
    const sb_uprops *p = sb_uprops_of(cp);
    if (!p->decomp_len) {
        out[0] = cp;
        return 1;
    }
    for (int i = 0; i < p->decomp_len; i++)
        out[i] = sb_unicode_seq[p->decomp + i];
    return p->decomp_len;
}

int sb_unicode_lower(uint32_t cp, uint32_t out[3])
{
    const sb_uprops *p = sb_uprops_of(cp);
    if (p->lower_len == 1) {
        out[0] = (uint32_t)((int32_t)cp + p->lower);
        return 1;
    }
    for (int i = 0; i < p->lower_len; i++)
        out[i] = sb_unicode_seq[p->lower + i];
    return p->lower_len;
}
