/* Pre-tokenizers: normalized text -> words.
 *
 * BertPreTokenizer splits on whitespace (Rust's char::is_whitespace: White_Space), dropping it,
 * and makes every punctuation character (ASCII punctuation or Unicode P*, of the Unicode 8.0
 * tables tokenizers uses) a word of its own. */
#include "tokenizer/internal.h"

#include "sbert.h"
#include "unicode.h"
#include "utf8.h"

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

int sb_pretokenize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *text,
                   size_t n)
{
    switch (tok->cfg.pretokenizer) {
    case SB_PRETOK_BERT:
        return bert_pretokenize(&scratch->words, text, n);
    default:
        return SBERT_ERR_UNSUPPORTED;
    }
}
