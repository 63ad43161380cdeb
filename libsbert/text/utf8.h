/* UTF-8 decoding and encoding.
 *
 * Well-formed means Unicode Table 3-7: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no truncated sequence. For ill-formed input the decoder reports the length of
 * the "maximal subpart" (Unicode §3.9, U+FFFD substitution of maximal subparts, the same rule as
 * the WHATWG Encoding Standard and Python's errors="replace"): the longest prefix that could
 * still begin a well-formed sequence, or one byte when none can. Each such subpart stands for one
 * U+FFFD. Every function reads only inside the bytes it is given. */
#ifndef SBERT_UTF8_H
#define SBERT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define SB_UTF8_BAD 0xFFFFFFFFu    /* *cp after an ill-formed sequence */
#define SB_UTF8_REPLACEMENT 0xFFFDu

/* Decodes the sequence at s[0..n), n >= 1. Returns its length (1..4) and the code point in *cp,
 * or, when it is ill-formed, the length of its maximal subpart (1..3) and SB_UTF8_BAD. */
int sb_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* The offset of the first ill-formed byte of s[0..n), or n when all of it is well-formed. */
size_t sb_utf8_find_invalid(const uint8_t *s, size_t n);

/* Copies s[0..n) to out with each maximal subpart replaced by U+FFFD (EF BF BD) and returns the
 * bytes written; out must hold 3 * n bytes. */
size_t sb_utf8_replace_invalid(const uint8_t *s, size_t n, uint8_t *out);

/* Writes cp (<= U+10FFFF) as UTF-8 into out[0..4) and returns the byte count. */
static inline int sb_utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one code point of text already known to be well-formed; returns its length. */
static inline int sb_utf8_decode_valid(const uint8_t *s, uint32_t *cp)
{
    const uint32_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b < 0xE0) {
        *cp = (b & 0x1F) << 6 | (s[1] & 0x3Fu);
        return 2;
    }
    if (b < 0xF0) {
        *cp = (b & 0x0F) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
        return 3;
    }
    *cp = (b & 0x07) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    return 4;
}

/* The byte length of the well-formed sequence whose lead byte is b. */
static inline int sb_utf8_len_valid(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

#endif
