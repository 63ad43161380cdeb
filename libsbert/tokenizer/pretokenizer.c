/* Pre-tokenizers: normalized text -> words.
 *
 * BertPreTokenizer splits on whitespace (Rust's char::is_whitespace: White_Space), dropping it,
 * and makes every punctuation character (ASCII punctuation or Unicode P*, of the Unicode 8.0
 * tables tokenizers uses) a word of its own.
 *
 * Metaspace (tokenizers >= 0.19) turns every space ' ' (only U+0020) into the replacement "▁",
 * prepends one when the text does not already start with it (prepend_scheme "always"; "first":
 * only to the text that begins the input; "never"), then with split = true starts a new word at
 * each replacement (SplitDelimiterBehavior::MergedWithNext). tokenizers drops empty pieces
 * before any pre-tokenizer sees them, so an empty text gives no "▁".
 * WhitespaceSplit + Metaspace (pegasus) first splits on White_Space, dropping it, then applies
 * Metaspace to each piece. */
#include "tokenizer/internal.h"

#include <string.h>

#include "sbert.h"
#include "text/text.h"

static int push_word(sb_splits *words, size_t start, size_t end)
{
    if (SB_RESERVE(*words, words->len + 1) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    words->data[words->len++] = (sb_split){ start, end, -1 };
    return SBERT_OK;
}

static int bert_pretokenize(sb_splits *words, const uint8_t *text, size_t n)
{
    size_t word_start = 0;
    bool in_word = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        const size_t len = (size_t)sb_utf8_decode_valid(text + i, &cp);
        const unsigned flags = sb_uflags(cp);
        if (flags & (SB_U_WHITE_SPACE | SB_U_HF_PUNCT)) {
            if (in_word && push_word(words, word_start, i) != SBERT_OK)
                return SBERT_ERR_NO_MEMORY;
            in_word = false;
            if ((flags & SB_U_HF_PUNCT) && push_word(words, i, i + len) != SBERT_OK)
                return SBERT_ERR_NO_MEMORY;
        } else if (!in_word) {
            word_start = i;
            in_word = true;
        }
        i += len;
    }
    return in_word ? push_word(words, word_start, n) : SBERT_OK;
}

static bool starts_with(const uint8_t *text, size_t n, sb_str s)
{
    return s.len <= n && memcmp(text, s.ptr, s.len) == 0;
}

/* Writes text[0..n) (n > 0) with its spaces replaced, and the replacement first when `prepend`
 * and the result does not start with one, to the end of `out`; its words go to `words`. */
static int metaspace(const sb_tokenizer_config *cfg, sb_bytes *out, sb_splits *words,
                     const uint8_t *text, size_t n, bool prepend)
{
    const sb_str rep = cfg->metaspace_replacement;
    /* each byte becomes at most rep.len bytes, and one replacement may go first */
    const size_t most = rep.len > 1 ? rep.len : 1;
    if (n >= (SIZE_MAX - out->len) / most - 1)
        return SBERT_ERR_TOO_LARGE;
    if (SB_RESERVE(*out, out->len + (n + 1) * most) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    const size_t start = out->len;
    uint8_t *o = out->data;
    size_t len = out->len;
    if (prepend && text[0] != ' ' && !starts_with(text, n, rep)) {
        memcpy(o + len, rep.ptr, rep.len);
        len += rep.len;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] != ' ') {
            o[len++] = text[i];
            continue;
        }
        memcpy(o + len, rep.ptr, rep.len);
        len += rep.len;
    }
    out->len = len;
    if (!cfg->metaspace_split)
        return push_word(words, start, len);
    size_t word = start;
    for (size_t i = start + 1; i < len; i++) {
        if (o[i] == (uint8_t)rep.ptr[0] && starts_with(o + i, len - i, rep)) {
            if (push_word(words, word, i) != SBERT_OK)
                return SBERT_ERR_NO_MEMORY;
            word = i;
        }
    }
    return push_word(words, word, len);
}

/* Whether Metaspace prepends to the piece of text that starts at offset 0 of the input
 * (at_start) or not. */
static bool prepends(const sb_tokenizer_config *cfg, bool at_start)
{
    return cfg->metaspace_prepend == SB_PREPEND_ALWAYS ||
           (cfg->metaspace_prepend == SB_PREPEND_FIRST && at_start);
}

/* WhitespaceSplit, then Metaspace on each piece. */
static int whitespace_metaspace(const sb_tokenizer_config *cfg, sb_tok_scratch *s,
                                const uint8_t *text, size_t n, bool at_start)
{
    size_t word_start = 0;
    bool in_word = false;
    for (size_t i = 0; i <= n;) {
        uint32_t cp = ' ';
        const size_t len = i < n ? (size_t)sb_utf8_decode_valid(text + i, &cp) : 1;
        const bool space = i == n || (sb_uflags(cp) & SB_U_WHITE_SPACE);
        if (space && in_word) {
            const int rc = metaspace(cfg, &s->metaspaced, &s->words, text + word_start,
                                     i - word_start, prepends(cfg, at_start && word_start == 0));
            if (rc != SBERT_OK)
                return rc;
        } else if (!space && !in_word) {
            word_start = i;
        }
        in_word = !space;
        i += len;
    }
    return SBERT_OK;
}

int sb_pretokenize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *text,
                   size_t n, bool at_start, const uint8_t **base)
{
    const sb_tokenizer_config *cfg = &tok->cfg;
    *base = text;
    if (cfg->pretokenizer == SB_PRETOK_BERT)
        return bert_pretokenize(&scratch->words, text, n);
    scratch->metaspaced.len = 0;
    int rc = SBERT_OK;
    if (cfg->pretokenizer == SB_PRETOK_METASPACE && n > 0)
        rc = metaspace(cfg, &scratch->metaspaced, &scratch->words, text, n,
                       prepends(cfg, at_start));
    else if (cfg->pretokenizer == SB_PRETOK_WHITESPACE)
        rc = whitespace_metaspace(cfg, scratch, text, n, at_start);
    else if (cfg->pretokenizer != SB_PRETOK_METASPACE)
        rc = SBERT_ERR_UNSUPPORTED;
    *base = scratch->metaspaced.data;
    return rc;
}
