/* Decomposition and lowercase lookups over the generated tables (unicode_tables.c). */
#include "unicode.h"

#include <stdbool.h>

#include "utf8.h"

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

/* ---- extended grapheme clusters ---------------------------------------------------------------
 * The rules of UAX #29 in the order the crate unicode-segmentation (which tokenizers uses)
 * checks them. The context a rule looks back at (GB9c, GB11, GB12/13) always lies inside the
 * cluster being scanned, because none of those sequences can contain a break, so a forward scan
 * with a little state is exact. */

typedef struct {
    unsigned ri_run;     /* Regional_Indicators ending at the previous character */
    int emoji;           /* 0; 1: ExtPict Extend* seen; 2: ExtPict Extend* ZWJ seen */
    int conjunct;        /* 0; 1: InCB Consonant [Extend]* seen; 2: ... with a Linker among them */
} grapheme_state;

static void grapheme_step(grapheme_state *st, unsigned gcb)
{
    const unsigned cat = gcb & SB_GCB_CATEGORY;
    st->ri_run = cat == SB_GCB_REGIONAL_INDICATOR ? st->ri_run + 1 : 0;
    if (cat == SB_GCB_EXT_PICT)
        st->emoji = 1;
    else if (cat == SB_GCB_ZWJ)
        st->emoji = st->emoji == 1 ? 2 : 0;
    else if (cat != SB_GCB_EXTEND || st->emoji != 1)
        st->emoji = 0;
    if (cat == SB_GCB_INCB_CONSONANT)
        st->conjunct = 1;
    else if (gcb & SB_GCB_INCB_LINKER)
        st->conjunct = st->conjunct ? 2 : 0;
    else if (!(gcb & SB_GCB_INCB_EXTEND))
        st->conjunct = 0;
}

/* Whether there is no break between characters of categories a and b (st: the text up to a). */
static bool grapheme_joins(unsigned a, unsigned b, const grapheme_state *st)
{
    if (a == SB_GCB_CR && b == SB_GCB_LF)                                          /* GB3 */
        return true;
    if (a == SB_GCB_CONTROL || a == SB_GCB_CR || a == SB_GCB_LF ||                 /* GB4 */
        b == SB_GCB_CONTROL || b == SB_GCB_CR || b == SB_GCB_LF)                   /* GB5 */
        return false;
    if ((a == SB_GCB_L && (b == SB_GCB_L || b == SB_GCB_V || b == SB_GCB_LV ||     /* GB6 */
                           b == SB_GCB_LVT)) ||
        ((a == SB_GCB_LV || a == SB_GCB_V) && (b == SB_GCB_V || b == SB_GCB_T)) || /* GB7 */
        ((a == SB_GCB_LVT || a == SB_GCB_T) && b == SB_GCB_T))                     /* GB8 */
        return true;
    if (b == SB_GCB_EXTEND || b == SB_GCB_ZWJ || b == SB_GCB_SPACING_MARK ||       /* GB9, 9a */
        a == SB_GCB_PREPEND)                                                       /* GB9b */
        return true;
    if (b == SB_GCB_INCB_CONSONANT)                                                /* GB9c */
        return st->conjunct == 2;
    if (a == SB_GCB_ZWJ && b == SB_GCB_EXT_PICT)                                   /* GB11 */
        return st->emoji == 2;
    if (a == SB_GCB_REGIONAL_INDICATOR && b == SB_GCB_REGIONAL_INDICATOR)          /* GB12, 13 */
        return st->ri_run % 2 == 1;
    return false;                                                                  /* GB999 */
}

size_t sb_grapheme_end(const uint8_t *text, size_t n, size_t start)
{
    grapheme_state st = { 0, 0, 0 };
    uint32_t cp;
    size_t i = start + (size_t)sb_utf8_decode_valid(text + start, &cp);
    unsigned prev = sb_uprops_of(cp)->gcb;
    grapheme_step(&st, prev);
    while (i < n) {
        const int len = sb_utf8_decode_valid(text + i, &cp);
        const unsigned next = sb_uprops_of(cp)->gcb;
        if (!grapheme_joins(prev & SB_GCB_CATEGORY, next & SB_GCB_CATEGORY, &st))
            break;
        grapheme_step(&st, next);
        prev = next;
        i += (size_t)len;
    }
    return i;
}
