/* Pairs of texts for cross-encoders: Hugging Face tokenizers' `longest_first` truncation
 * (TruncationStrategy::LongestFirst) and the post-processor's pair template, e.g.
 * [CLS] a [SEP] b [SEP] with token types 0 ... 0 1 ... 1 (BERT), <s> a </s></s> b </s> (RoBERTa). */
#include "tokenizer/internal.h"

#include <string.h>

#include "sbert.h"

void sb_pair_truncation(size_t n_a, size_t n_b, size_t budget, size_t *keep_a, size_t *keep_b)
{
    *keep_a = n_a;
    *keep_b = n_b;
    if (n_a + n_b <= budget)
        return;
    /* n1 the shorter side (a on a tie), n2 what the longer one may keep: all but the shorter's
     * share, and not below the shorter's length; still too long, each keeps half and the odd
     * token goes to the longer side. */
    const bool a_longer = n_a > n_b;
    size_t n1 = a_longer ? n_b : n_a, n2;
    if (n1 > budget)
        n2 = n1;
    else
        n2 = n1 > budget - n1 ? n1 : budget - n1;
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    const size_t cut_a = a_longer ? n2 : n1, cut_b = a_longer ? n1 : n2;
    *keep_a = n_a < cut_a ? n_a : cut_a;
    *keep_b = n_b < cut_b ? n_b : cut_b;
}

size_t sb_pair_specials(const sb_tokenizer *tok)
{
    const sb_tokenizer_config *cfg = &tok->cfg;
    return (size_t)cfg->n_pair[0] + cfg->n_pair[1] + cfg->n_pair[2];
}

/* Appends n ids with their types (one type for all when types_src is NULL). */
static size_t put(int32_t *ids, int32_t *types, size_t at, const int32_t *src,
                  const int32_t *types_src, int32_t type, size_t n)
{
    if (n)
        memcpy(ids + at, src, n * sizeof *ids);
    for (size_t i = 0; types && i < n; i++)
        types[at + i] = types_src ? types_src[i] : type;
    return at + n;
}

int sb_tokenizer_pair(const sb_tokenizer *tok, const int32_t *a, size_t n_a, const int32_t *b,
                      size_t n_b, size_t max_tokens, int32_t *ids, int32_t *types,
                      size_t capacity, size_t *n_ids)
{
    const sb_tokenizer_config *cfg = &tok->cfg;
    const size_t specials = sb_pair_specials(tok);
    if (!cfg->has_pair || (max_tokens && max_tokens < specials))
        return SBERT_ERR_INVALID_ARGUMENT;
    size_t keep_a = n_a, keep_b = n_b;
    if (max_tokens)
        sb_pair_truncation(n_a, n_b, max_tokens - specials, &keep_a, &keep_b);
    *n_ids = specials + keep_a + keep_b;
    if (*n_ids > capacity)
        return SBERT_ERR_BUFFER_TOO_SMALL;
    size_t at = put(ids, types, 0, cfg->pair_ids[0], cfg->pair_types[0], 0, cfg->n_pair[0]);
    at = put(ids, types, at, a, NULL, cfg->pair_a_type, keep_a);
    at = put(ids, types, at, cfg->pair_ids[1], cfg->pair_types[1], 0, cfg->n_pair[1]);
    at = put(ids, types, at, b, NULL, cfg->pair_b_type, keep_b);
    put(ids, types, at, cfg->pair_ids[2], cfg->pair_types[2], 0, cfg->n_pair[2]);
    return SBERT_OK;
}
