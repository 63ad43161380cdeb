/* The WordPiece model: one word -> ids, exactly as tokenizers' WordPiece::tokenize.
 *
 * Greedy longest match from the left: the longest vocabulary entry that starts the remaining
 * word is taken; every piece after the first is looked up with the continuing-subword prefix
 * ("##"). A word of more than max_input_chars_per_word characters, or one with a position where
 * nothing matches, becomes the single unknown token.
 *
 * Speed: the candidates for one start are its char-boundary prefixes, tried longest first; their
 * hashes are computed in one forward pass (FNV-1a extends byte by byte), so each candidate costs
 * one probe. Candidates longer than the longest vocabulary entry are never tried. */
#include "tokenizer/internal.h"

#include "sbert.h"
#include "text/text.h"

static size_t count_chars(const uint8_t *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += (s[i] & 0xC0) != 0x80;
    return chars;
}

/* The id of the longest piece at word[start..n), or -1; its end goes to *end. */
static int32_t longest_piece(const struct sb_tokenizer *tok, sb_u32s *cand, const uint8_t *word,
                             size_t start, size_t n, size_t *end)
{
    const sb_str *prefix = &tok->cfg.wp_prefix;
    const size_t plen = start ? prefix->len : 0;
    const uint8_t *p = plen ? (const uint8_t *)prefix->ptr : (const uint8_t *)"";
    if (tok->vocab.max_len < plen)
        return -1;
    const size_t max_bytes = tok->vocab.max_len - plen;

    /* candidates: (length, hash of prefix + word[start, start + length)) per char boundary */
    uint32_t h = start ? tok->wp_prefix_hash : SB_HASH_INIT;
    size_t n_cand = 0;
    for (size_t e = start; e < n;) {
        const size_t len = (size_t)sb_utf8_len_valid(word[e]);
        if (e + len - start > max_bytes)
            break;
        h = sb_hash_bytes(h, word + e, len);
        e += len;
        cand->data[2 * n_cand] = (uint32_t)(e - start);
        cand->data[2 * n_cand + 1] = h;
        n_cand++;
    }
    while (n_cand-- > 0) {
        const size_t len = cand->data[2 * n_cand];
        const int32_t id = sb_vocab_find(&tok->vocab, cand->data[2 * n_cand + 1], p, plen,
                                         word + start, len);
        if (id >= 0) {
            *end = start + len;
            return id;
        }
    }
    return -1;
}

int sb_wordpiece_word(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *word,
                      size_t n)
{
    sb_ids *ids = &scratch->ids;
    if (count_chars(word, n) > tok->cfg.wp_max_input_chars_per_word)
        return sb_push_id(ids, tok->cfg.unk_id);
    /* at most one candidate per byte of the longest vocabulary entry */
    const size_t max_cand = (n < tok->vocab.max_len ? n : tok->vocab.max_len) + 1;
    if (SB_RESERVE(scratch->candidates, 2 * max_cand) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    const size_t first = ids->len;
    for (size_t start = 0; start < n;) {
        size_t end;
        const int32_t id = longest_piece(tok, &scratch->candidates, word, start, n, &end);
        if (id < 0) {
            ids->len = first; /* the whole word is unknown */
            return sb_push_id(ids, tok->cfg.unk_id);
        }
        if (sb_push_id(ids, id) != SBERT_OK)
            return SBERT_ERR_NO_MEMORY;
        start = end;
    }
    return SBERT_OK;
}
