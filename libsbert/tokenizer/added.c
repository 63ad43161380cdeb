/* Added tokens: strings (tokenizer.json `added_tokens`, e.g. "[CLS]", "<mask>") that become their
 * id wherever they occur, before the normalizer and the model see the text.
 *
 * As in tokenizers' AddedVocabulary: tokens with normalized = false are found in the raw text;
 * tokens with normalized = true are found, by their normalized form, in each normalized piece
 * of text between the former. Matching is leftmost-longest and non-overlapping; a single_word
 * token matches only when no word character (regex \w) touches it; lstrip / rstrip make the
 * token swallow the whitespace (regex \s) on its left / right. */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

#include "sbert.h"
#include "text/text.h"

static int compare_by_first_byte_then_longest(const void *pa, const void *pb)
{
    const sb_added_token *a = pa, *b = pb;
    if (a->text[0] != b->text[0])
        return a->text[0] < b->text[0] ? -1 : 1;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Copies each token's normalized content into one owned buffer and points the tokens at it. */
static int normalize_contents(sb_added_set *set, const struct sb_tokenizer *tok,
                              sb_tok_scratch *scratch)
{
    size_t total = 0;
    size_t *offsets = malloc((set->n + 1) * sizeof *offsets);
    if (!offsets)
        return SBERT_ERR_NO_MEMORY;
    int rc = SBERT_OK;
    sb_bytes all = { 0 };
    for (uint32_t i = 0; i < set->n && rc == SBERT_OK; i++) {
        const uint8_t *norm;
        size_t len;
        rc = sb_normalize(tok, scratch, set->tokens[i].text, set->tokens[i].len, &norm, &len);
        if (rc == SBERT_OK)
            rc = SB_RESERVE(all, total + len + 1);
        if (rc == SBERT_OK) {
            memcpy(all.data + total, norm, len);
            offsets[i] = total;
            total += len;
            set->tokens[i].len = (uint32_t)len;
        }
    }
    if (rc == SBERT_OK) {
        set->owned = all.data;
        for (uint32_t i = 0; i < set->n; i++)
            set->tokens[i].text = all.data + offsets[i];
    } else {
        free(all.data);
    }
    free(offsets);
    return rc;
}

/* Drops tokens with an empty (normalized) text: they can never match. */
static void drop_empty(sb_added_set *set)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < set->n; i++)
        if (set->tokens[i].len > 0)
            set->tokens[kept++] = set->tokens[i];
    set->n = kept;
}

int sb_added_build(sb_added_set *set, const struct sb_tokenizer *tok, bool normalized,
                   sb_tok_scratch *scratch)
{
    const sb_tokenizer_config *cfg = &tok->cfg;
    memset(set, 0, sizeof *set);
    set->tokens = malloc((cfg->n_added ? cfg->n_added : 1) * sizeof *set->tokens);
    if (!set->tokens)
        return SBERT_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < cfg->n_added; i++) {
        if (!cfg->added_normalized[i] != !normalized)
            continue;
        set->tokens[set->n++] = (sb_added_token){
            .text = (const uint8_t *)cfg->added_content[i].ptr,
            .len = cfg->added_content[i].len,
            .id = cfg->added_id[i],
            .lstrip = cfg->added_lstrip[i],
            .rstrip = cfg->added_rstrip[i],
            .single_word = cfg->added_single_word[i],
        };
    }
    drop_empty(set);
    if (normalized && set->n > 0) {
        const int rc = normalize_contents(set, tok, scratch);
        if (rc != SBERT_OK)
            return rc;
        drop_empty(set);
    }
    qsort(set->tokens, set->n, sizeof *set->tokens, compare_by_first_byte_then_longest);
    for (uint32_t i = 0, b = 0; b <= 256; b++) {
        while (i < set->n && set->tokens[i].text[0] < b)
            i++;
        set->first[b] = i;
    }
    return SBERT_OK;
}

void sb_added_free(sb_added_set *set)
{
    free(set->tokens);
    free(set->owned);
    memset(set, 0, sizeof *set);
}

/* The leftmost-longest match at or after `from`: its token, or NULL. */
static const sb_added_token *find_match(const sb_added_set *set, const uint8_t *text, size_t n,
                                        size_t from, size_t *at)
{
    for (size_t i = from; i < n; i++) {
        const uint8_t b = text[i];
        for (uint32_t t = set->first[b]; t < set->first[b + 1]; t++) {
            const sb_added_token *tok = &set->tokens[t];
            if (tok->len <= n - i && memcmp(text + i, tok->text, tok->len) == 0) {
                *at = i;
                return tok; /* longest first within a first byte */
            }
        }
    }
    return NULL;
}

/* The start of the character that ends at text[end - 1] (end > 0); the character into *cp. */
static size_t prev_char(const uint8_t *text, size_t end, uint32_t *cp)
{
    size_t start = end - 1;
    while (start > 0 && (text[start] & 0xC0) == 0x80)
        start--;
    sb_utf8_decode_valid(text + start, cp);
    return start;
}

static bool word_char_before(const uint8_t *text, size_t at)
{
    uint32_t cp;
    if (at == 0)
        return false;
    prev_char(text, at, &cp);
    return sb_uflags(cp) & SB_U_WORD;
}

static bool word_char_at(const uint8_t *text, size_t n, size_t at)
{
    uint32_t cp;
    if (at >= n)
        return false;
    sb_utf8_decode_valid(text + at, &cp);
    return sb_uflags(cp) & SB_U_WORD;
}

/* The start of the whitespace run that ends at `at`. */
static size_t skip_space_left(const uint8_t *text, size_t at)
{
    while (at > 0) {
        uint32_t cp;
        const size_t start = prev_char(text, at, &cp);
        if (!(sb_uflags(cp) & SB_U_WHITE_SPACE))
            break;
        at = start;
    }
    return at;
}

/* The end of the whitespace run that starts at `at`. */
static size_t skip_space_right(const uint8_t *text, size_t n, size_t at)
{
    while (at < n) {
        uint32_t cp;
        const int len = sb_utf8_decode_valid(text + at, &cp);
        if (!(sb_uflags(cp) & SB_U_WHITE_SPACE))
            break;
        at += (size_t)len;
    }
    return at;
}

static int push_split(sb_splits *out, size_t start, size_t end, int32_t id)
{
    if (SB_RESERVE(*out, out->len + 1) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    out->data[out->len++] = (sb_split){ start, end, id };
    return SBERT_OK;
}

int sb_added_split(const sb_added_set *set, const uint8_t *text, size_t n, sb_splits *out)
{
    out->len = 0;
    if (set->n == 0)
        return n ? push_split(out, 0, n, -1) : SBERT_OK;
    size_t done = 0; /* the end of the last split: text before it is covered */
    size_t at;
    const sb_added_token *tok;
    /* The search resumes after each match as matched, before any rstrip, as tokenizers'
     * automaton does; a rejected single_word match is skipped all the same. */
    for (size_t from = 0; (tok = find_match(set, text, n, from, &at)) != NULL;) {
        size_t start = at, stop = at + tok->len;
        from = stop;
        if (tok->single_word && (word_char_before(text, start) || word_char_at(text, n, stop)))
            continue;
        if (tok->lstrip) {
            start = skip_space_left(text, start);
            if (start < done)
                start = done;
        }
        if (tok->rstrip)
            stop = skip_space_right(text, n, stop);
        if ((done < start && push_split(out, done, start, -1) != SBERT_OK) ||
            push_split(out, start, stop, tok->id) != SBERT_OK)
            return SBERT_ERR_NO_MEMORY;
        done = stop;
    }
    if (done < n)
        return push_split(out, done, n, -1);
    return SBERT_OK;
}
