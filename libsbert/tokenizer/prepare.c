/* sentence-transformers' text preparation, which happens in Python before the tokenizer:
 * text.strip(), and text.lower() when sentence_bert_config.json says do_lower_case.
 *
 * str.strip() removes the characters for which str.isspace() is true: general category Zs or
 * bidirectional class WS, B or S. That is wider than White_Space (it includes U+001C..U+001F).
 * str.lower() applies the full lowercase mappings (U+0130 becomes two characters) and one
 * context rule: a capital sigma becomes final sigma (U+03C2) when a cased letter precedes it and
 * none follows it, skipping case-ignorable characters both ways. */
#include "tokenizer/internal.h"

#include "sbert.h"
#include "text/text.h"

#define CAPITAL_SIGMA 0x03A3u
#define SMALL_SIGMA 0x03C3u
#define FINAL_SIGMA 0x03C2u

void sb_py_strip(const uint8_t *text, size_t n, size_t *start, size_t *end)
{
    size_t s = 0, e = n;
    while (s < e) {
        uint32_t cp;
        const int len = sb_utf8_decode_valid(text + s, &cp);
        if (!(sb_uflags(cp) & SB_U_PY_SPACE))
            break;
        s += (size_t)len;
    }
    while (e > s) {
        size_t c = e - 1;
        while ((text[c] & 0xC0) == 0x80)
            c--;
        uint32_t cp;
        sb_utf8_decode_valid(text + c, &cp);
        if (!(sb_uflags(cp) & SB_U_PY_SPACE))
            break;
        e = c;
    }
    *start = s;
    *end = e;
}

/* The first character, scanning from `at` in direction `step` (+1 / -1, by bytes) within
 * text[0..n), that is not case-ignorable; returns whether there is one and it is cased. */
static bool cased_beyond_ignorable(const uint8_t *text, size_t n, size_t at, int step)
{
    while (step > 0 ? at < n : at > 0) {
        size_t c = at;
        if (step < 0) {
            c = at - 1;
            while ((text[c] & 0xC0) == 0x80)
                c--;
        }
        uint32_t cp;
        const int len = sb_utf8_decode_valid(text + c, &cp);
        const unsigned flags = sb_uflags(cp);
        if (!(flags & SB_U_CASE_IGNORABLE))
            return flags & SB_U_CASED;
        at = step > 0 ? c + (size_t)len : c;
    }
    return false;
}

/* Python's final-sigma context for the capital sigma at text[at..at + 2). */
static bool is_final_sigma(const uint8_t *text, size_t n, size_t at)
{
    return cased_beyond_ignorable(text, n, at, -1) && !cased_beyond_ignorable(text, n, at + 2, +1);
}

/* Python's lowercase of the character cp at text[at]. */
static int py_lower_char(const uint8_t *text, size_t n, size_t at, uint32_t cp, uint32_t out[3])
{
    if (cp != CAPITAL_SIGMA)
        return sb_unicode_lower(cp, out);
    out[0] = is_final_sigma(text, n, at) ? FINAL_SIGMA : SMALL_SIGMA;
    return 1;
}

/* No lowercase mapping is more than 3 bytes per 2 input bytes (U+0130 -> U+0069 U+0307 and
 * U+023A -> U+2C65 are the worst); 2 bytes per byte is a safe bound. */
int sb_py_lower(const uint8_t *text, size_t n, sb_bytes *out)
{
    if (n > SIZE_MAX / 2 - 4)
        return SBERT_ERR_TOO_LARGE;
    if (SB_RESERVE(*out, 2 * n + 4) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    uint8_t *o = out->data;
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        if (text[i] < 0x80) {
            const uint8_t b = text[i++];
            o[len++] = b >= 'A' && b <= 'Z' ? (uint8_t)(b + ('a' - 'A')) : b;
            continue;
        }
        uint32_t cp, lower[3];
        const size_t clen = (size_t)sb_utf8_decode_valid(text + i, &cp);
        const int nl = py_lower_char(text, n, i, cp, lower);
        for (int k = 0; k < nl; k++)
            len += (size_t)sb_utf8_encode(lower[k], o + len);
        i += clen;
    }
    out->len = len;
    return SBERT_OK;
}
