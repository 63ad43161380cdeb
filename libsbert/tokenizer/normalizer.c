/* Normalizers: text -> normalized text, as Hugging Face tokenizers' normalizers do it. The
 * Precompiled normalizer of the Unigram family is in precompiled.c.
 *
 * BertNormalizer runs four steps, in this order, each only when configured:
 *   clean_text            drop U+0000, U+FFFD and "other" characters (Cc, Cf, Co, except tab, LF
 *                         and CR); turn whitespace (White_Space, tab, LF, CR) into a space
 *   handle_chinese_chars  put a space before and after every CJK ideograph
 *   strip_accents         NFD, then drop nonspacing marks (Mn)
 *   lowercase             full lowercase mapping, one character at a time (so no final sigma,
 *                         and U+0130 becomes "i" + U+0307)
 * All four work character by character except NFD, whose canonical reordering looks at a run of
 * combining marks; here every character flows through the steps at once, and only the marks
 * after a starter wait (in scratch->marks) until the next starter puts them in order.
 * Without strip_accents there is no NFD at all: Hangul syllables stay composed. */
#include "tokenizer/internal.h"

#include "sbert.h"
#include "text/text.h"

/* No BertNormalizer step sequence makes more than 3 output bytes of one input byte (the worst
 * is a Hangul syllable, 3 bytes, decomposed into 3 jamo of 3 bytes); tests/test_tokenizer.c
 * checks it for every code point. The output buffer is reserved once with this bound. */
#define BERT_MAX_GROWTH 3

typedef struct {
    const sb_tokenizer_config *cfg;
    uint8_t *out;    /* reserved for BERT_MAX_GROWTH bytes per input byte */
    size_t len;
    sb_u32s *marks;  /* combining marks waiting for canonical reordering: ccc << 24 | cp */
} bert_state;

/* tokenizers' is_chinese_char: the CJK ideograph blocks (note 2B920, not 2B820, as there). */
static bool is_chinese_char(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Last step: lowercase and write. */
static void put_lowered(bert_state *st, uint32_t cp)
{
    if (!st->cfg->bert_lowercase) {
        st->len += (size_t)sb_utf8_encode(cp, st->out + st->len);
        return;
    }
    uint32_t lower[3];
    const int n = sb_unicode_lower(cp, lower);
    for (int i = 0; i < n; i++)
        st->len += (size_t)sb_utf8_encode(lower[i], st->out + st->len);
}

static void put_unless_mn(bert_state *st, uint32_t cp)
{
    if (!(sb_uflags(cp) & SB_U_HF_MN))
        put_lowered(st, cp);
}

/* Canonical ordering: the waiting marks go on to the next steps stably sorted by combining
 * class. Real text has runs of a few marks: insertion sort. A long run (only hostile input has
 * one) is emitted class by class instead, one pass per class present (Unicode has a few dozen
 * classes), so a megabyte of marks costs linear time, not quadratic. */
#define SB_SHORT_MARK_RUN 32

static void insertion_sort_by_class(uint32_t *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        const uint32_t x = m[i];
        size_t j = i;
        for (; j > 0 && (m[j - 1] >> 24) > (x >> 24); j--)
            m[j] = m[j - 1];
        m[j] = x;
    }
}

static void flush_marks(bert_state *st)
{
    uint32_t *m = st->marks->data;
    const size_t n = st->marks->len;
    if (n <= SB_SHORT_MARK_RUN) {
        insertion_sort_by_class(m, n);
        for (size_t i = 0; i < n; i++)
            put_unless_mn(st, m[i] & 0xFFFFFF);
    } else {
        bool present[256] = { false };
        for (size_t i = 0; i < n; i++)
            present[m[i] >> 24] = true;
        for (int ccc = 1; ccc < 256; ccc++)
            for (size_t i = 0; present[ccc] && i < n; i++)
                if ((int)(m[i] >> 24) == ccc)
                    put_unless_mn(st, m[i] & 0xFFFFFF);
    }
    st->marks->len = 0;
}

/* strip_accents: decompose, reorder the marks, drop Mn. */
static int put_decomposed(bert_state *st, uint32_t cp)
{
    uint32_t d[4];
    const int n = sb_unicode_decompose(cp, d);
    for (int i = 0; i < n; i++) {
        const uint32_t ccc = sb_uprops_of(d[i])->ccc;
        if (ccc == 0) {
            flush_marks(st);
            put_unless_mn(st, d[i]);
            continue;
        }
        if (SB_RESERVE(*st->marks, st->marks->len + 1) != SBERT_OK)
            return SBERT_ERR_NO_MEMORY;
        st->marks->data[st->marks->len++] = ccc << 24 | d[i];
    }
    return SBERT_OK;
}

static int put_accent_step(bert_state *st, uint32_t cp)
{
    if (st->cfg->bert_strip_accents)
        return put_decomposed(st, cp);
    put_lowered(st, cp);
    return SBERT_OK;
}

static int bert_char(bert_state *st, uint32_t cp)
{
    const sb_tokenizer_config *cfg = st->cfg;
    if (cfg->bert_clean_text) {
        const bool tab_lf_cr = cp == '\t' || cp == '\n' || cp == '\r';
        const unsigned flags = sb_uflags(cp);
        if (cp == 0 || cp == 0xFFFD || (!tab_lf_cr && (flags & SB_U_HF_OTHER)))
            return SBERT_OK;
        if (tab_lf_cr || (flags & SB_U_WHITE_SPACE))
            cp = ' ';
    }
    if (cfg->bert_handle_chinese_chars && is_chinese_char(cp)) {
        int rc = put_accent_step(st, ' ');
        if (rc == SBERT_OK)
            rc = put_accent_step(st, cp);
        return rc != SBERT_OK ? rc : put_accent_step(st, ' ');
    }
    return put_accent_step(st, cp);
}

/* What BertNormalizer makes of each ASCII byte: the byte it writes, or -1 when it drops it.
 * ASCII characters are starters, never CJK and never marks, so only clean_text and lowercase
 * touch them. */
static int bert_ascii(const sb_tokenizer_config *cfg, uint8_t b)
{
    if (cfg->bert_clean_text) {
        if (b == '\t' || b == '\n' || b == '\r')
            return ' ';
        if (sb_uflags(b) & SB_U_HF_OTHER) /* the other C0 controls and DEL, U+0000 too */
            return -1;
    }
    if (cfg->bert_lowercase && b >= 'A' && b <= 'Z')
        return b + ('a' - 'A');
    return b;
}

void sb_normalizer_init(struct sb_tokenizer *tok)
{
    for (int b = 0; b < 128; b++)
        tok->bert_ascii[b] = (int16_t)bert_ascii(&tok->cfg, (uint8_t)b);
}

static int bert_normalize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch,
                          const uint8_t *text, size_t n)
{
    if (n > (SIZE_MAX - 4) / BERT_MAX_GROWTH)
        return SBERT_ERR_TOO_LARGE;
    if (SB_RESERVE(scratch->normalized, BERT_MAX_GROWTH * n + 4) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    bert_state st = { &tok->cfg, scratch->normalized.data, 0, &scratch->marks };
    st.marks->len = 0;
    for (size_t i = 0; i < n;) {
        if (text[i] < 0x80 && st.marks->len == 0) { /* the ASCII fast path */
            const int16_t b = tok->bert_ascii[text[i++]];
            if (b >= 0)
                st.out[st.len++] = (uint8_t)b;
            continue;
        }
        uint32_t cp;
        i += (size_t)sb_utf8_decode_valid(text + i, &cp);
        const int rc = bert_char(&st, cp);
        if (rc != SBERT_OK)
            return rc;
    }
    flush_marks(&st);
    scratch->normalized.len = st.len;
    return SBERT_OK;
}

int sb_normalize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *text,
                 size_t n, const uint8_t **out, size_t *out_len)
{
    switch (tok->cfg.normalizer) {
    case SB_NORM_NONE:
        *out = text;
        *out_len = n;
        return SBERT_OK;
    case SB_NORM_BERT:
    case SB_NORM_PRECOMPILED: {
        const int rc = tok->cfg.normalizer == SB_NORM_BERT
                           ? bert_normalize(tok, scratch, text, n)
                           : sb_precompiled_normalize(tok, scratch, text, n);
        *out = scratch->normalized.data;
        *out_len = scratch->normalized.len;
        return rc;
    }
    default:
        return SBERT_ERR_UNSUPPORTED;
    }
}
