/* UTF-8 validation and U+FFFD replacement (see utf8.h). */
#include "utf8.h"

#include <string.h>

/* Unicode Table 3-7: the byte after a lead byte has a narrower range for E0, ED, F0 and F4 (this
 * is what excludes overlongs, surrogates and code points above U+10FFFF); every later
 * continuation byte is 80..BF. */
static int sequence_length(uint8_t lead, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF) {
        if (lead == 0xE0)
            *lo = 0xA0;
        else if (lead == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        if (lead == 0xF0)
            *lo = 0x90;
        else if (lead == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0; /* 80..C1 and F5..FF never begin a sequence */
}

int sb_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    uint8_t lo, hi;
    const int len = sequence_length(s[0], &lo, &hi);
    if (len == 0) {
        *cp = SB_UTF8_BAD;
        return 1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi) {
            *cp = SB_UTF8_BAD;
            return i; /* the maximal subpart: the bytes that were still a valid prefix */
        }
        lo = 0x80;
        hi = 0xBF;
    }
    sb_utf8_decode_valid(s, cp);
    return len;
}

/* True when none of the 8 bytes at s has its high bit set. */
static int all_ascii8(const uint8_t *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return (w & 0x8080808080808080ull) == 0;
}

size_t sb_utf8_find_invalid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n && all_ascii8(s + i)) {
            i += 8;
            continue;
        }
        uint32_t cp;
        const int len = sb_utf8_decode(s + i, n - i, &cp);
        if (cp == SB_UTF8_BAD)
            return i;
        i += (size_t)len;
    }
    return n;
}

size_t sb_utf8_replace_invalid(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        const int len = sb_utf8_decode(s + i, n - i, &cp);
        if (cp == SB_UTF8_BAD) {
            o += (size_t)sb_utf8_encode(SB_UTF8_REPLACEMENT, out + o);
        } else {
            memcpy(out + o, s + i, (size_t)len);
            o += (size_t)len;
        }
        i += (size_t)len;
    }
    return o;
}
