/* The tokenizer pipeline (see tokenizer.h): it runs the stages in tokenizer/ in Hugging Face's
 * order. One encode call:
 *
 *   1. UTF-8: check the input (SB_UTF8_REJECT) or replace ill-formed bytes (SB_UTF8_REPLACE)
 *   2. sentence-transformers' strip / lower-case             (opts->st_prepare)
 *   3. split the raw text at added tokens (normalized = false)
 *   4. per piece between them: normalizer, then split at added tokens (normalized = true),
 *      then per remaining piece: pre-tokenizer, then the model per word
 *   5. truncate the text's ids, add the prefix and suffix ids
 *
 * Nothing is allocated per call once the scratch has grown to the largest text seen. With
 * truncation, tokenizing stops as soon as enough ids exist. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbert.h"
#include "tokenizer/internal.h"
#include "text/text.h"

/* ---- creation -------------------------------------------------------------------------------- */

sb_tok_scratch *sb_tok_scratch_create(void) { return calloc(1, sizeof(sb_tok_scratch)); }

void sb_tok_scratch_free(sb_tok_scratch *s)
{
    if (!s)
        return;
    free(s->repaired.data);
    free(s->prepared.data);
    free(s->normalized.data);
    free(s->replaced.data);
    free(s->metaspaced.data);
    free(s->marks.data);
    free(s->raw_splits.data);
    free(s->norm_splits.data);
    free(s->words.data);
    free(s->candidates.data);
    free(s->lattice.data);
    free(s->ids.data);
    free(s);
}

static bool is_utf8(sb_str s)
{
    return !s.len || (s.ptr && sb_utf8_find_invalid((const uint8_t *)s.ptr, s.len) == s.len);
}

/* Strings that the stages put into the text or normalize must be UTF-8: the stages decode the
 * text without checks. */
static const char *non_utf8_string(const sb_tokenizer_config *cfg)
{
    if (cfg->pretokenizer != SB_PRETOK_BERT && !is_utf8(cfg->metaspace_replacement))
        return "the Metaspace replacement is not UTF-8";
    for (uint32_t i = 0; i < cfg->n_replace; i++)
        if (!is_utf8(cfg->replace_pattern[i]) || !is_utf8(cfg->replace_content[i]))
            return "a Replace pattern or content is not UTF-8";
    for (uint32_t i = 0; i < cfg->n_added; i++)
        if (cfg->added_normalized[i] && !is_utf8(cfg->added_content[i]))
            return "a normalized added token is not UTF-8";
    return NULL;
}

/* Arrays the config promises but does not have, and ids that cannot be. */
static const char *invalid_config(const sb_tokenizer_config *cfg)
{
    if (!cfg->vocab && cfg->vocab_size)
        return "no vocab";
    if (cfg->unk_id < 0 || (uint32_t)cfg->unk_id >= cfg->vocab_size)
        return "unk_id outside the vocabulary";
    if ((!cfg->prefix_ids && cfg->n_prefix) || (!cfg->suffix_ids && cfg->n_suffix))
        return "no prefix or suffix ids";
    if (cfg->n_added && (!cfg->added_content || !cfg->added_id || !cfg->added_lstrip ||
                         !cfg->added_rstrip || !cfg->added_single_word || !cfg->added_normalized))
        return "missing added-token arrays";
    if (cfg->wp_prefix.len && !cfg->wp_prefix.ptr)
        return "no WordPiece prefix";
    if (cfg->model == SB_TOK_UNIGRAM && !cfg->scores)
        return "no Unigram scores";
    if (cfg->n_replace && (!cfg->replace_pattern || !cfg->replace_content))
        return "no Replace patterns";
    if (cfg->pretokenizer != SB_PRETOK_BERT &&
        (cfg->metaspace_replacement.len == 0 || !cfg->metaspace_replacement.ptr))
        return "no Metaspace replacement";
    return non_utf8_string(cfg);
}

/* A stage this build does not know (an enum value from a newer model file). */
static const char *unsupported_stage(const sb_tokenizer_config *cfg)
{
    if (cfg->model != SB_TOK_WORDPIECE && cfg->model != SB_TOK_UNIGRAM)
        return "this tokenizer model";
    if (cfg->normalizer != SB_NORM_NONE && cfg->normalizer != SB_NORM_BERT &&
        cfg->normalizer != SB_NORM_PRECOMPILED)
        return "this normalizer";
    if (cfg->pretokenizer != SB_PRETOK_BERT && cfg->pretokenizer != SB_PRETOK_METASPACE &&
        cfg->pretokenizer != SB_PRETOK_WHITESPACE)
        return "this pre-tokenizer";
    if (cfg->pretokenizer != SB_PRETOK_BERT && cfg->metaspace_prepend != SB_PREPEND_ALWAYS &&
        cfg->metaspace_prepend != SB_PREPEND_FIRST && cfg->metaspace_prepend != SB_PREPEND_NEVER)
        return "this Metaspace prepend_scheme";
    return NULL;
}

/* The tables of the configured stages. */
static int build_stages(sb_tokenizer *tok)
{
    const sb_tokenizer_config *cfg = &tok->cfg;
    tok->wp_prefix_hash =
        sb_hash_bytes(SB_HASH_INIT, (const uint8_t *)cfg->wp_prefix.ptr, cfg->wp_prefix.len);
    sb_normalizer_init(tok);
    int rc = sb_vocab_build(&tok->vocab, cfg->vocab, cfg->vocab_size);
    if (rc == SBERT_OK && cfg->normalizer == SB_NORM_PRECOMPILED)
        rc = sb_charsmap_init(&tok->charsmap, cfg);
    if (rc == SBERT_OK && cfg->model == SB_TOK_UNIGRAM)
        rc = sb_unigram_init(&tok->unigram, cfg);
    return rc;
}

int sb_tokenizer_create(const sb_tokenizer_config *cfg, sb_tokenizer **out, char *err,
                        size_t err_size)
{
    const sb_err e = { err, err_size };
    if (!cfg || !out)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "tokenizer: NULL argument");
    *out = NULL;
    const char *what = invalid_config(cfg);
    if (what)
        return sb_fail(&e, SBERT_ERR_CORRUPT, "tokenizer: %s", what);
    what = unsupported_stage(cfg);
    if (what)
        return sb_fail(&e, SBERT_ERR_UNSUPPORTED, "tokenizer: %s is not supported", what);

    sb_tokenizer *tok = calloc(1, sizeof *tok);
    sb_tok_scratch *scratch = sb_tok_scratch_create();
    int rc = tok && scratch ? SBERT_OK : SBERT_ERR_NO_MEMORY;
    if (rc == SBERT_OK) {
        tok->cfg = *cfg;
        rc = build_stages(tok);
    }
    if (rc == SBERT_OK)
        rc = sb_added_build(&tok->added_raw, tok, false, scratch);
    if (rc == SBERT_OK)
        rc = sb_added_build(&tok->added_norm, tok, true, scratch);
    sb_tok_scratch_free(scratch);
    if (rc != SBERT_OK) {
        sb_tokenizer_free(tok);
        return sb_fail(&e, rc, "tokenizer: %s", rc == SBERT_ERR_CORRUPT
                       ? "the Precompiled charsmap is damaged" : sb_status_text(rc));
    }
    *out = tok;
    return SBERT_OK;
}

void sb_tokenizer_free(sb_tokenizer *tok)
{
    if (!tok)
        return;
    sb_vocab_free(&tok->vocab);
    sb_charsmap_free(&tok->charsmap);
    sb_unigram_free(&tok->unigram);
    sb_added_free(&tok->added_raw);
    sb_added_free(&tok->added_norm);
    free(tok);
}

/* ---- encoding -------------------------------------------------------------------------------- */

static int encode_word(const sb_tokenizer *tok, sb_tok_scratch *s, const uint8_t *word, size_t n)
{
    switch (tok->cfg.model) {
    case SB_TOK_WORDPIECE:
        return sb_wordpiece_word(tok, s, word, n);
    case SB_TOK_UNIGRAM:
        return sb_unigram_word(tok, s, word, n);
    default:
        return SBERT_ERR_UNSUPPORTED;
    }
}

/* Pre-tokenizes normalized text and runs the model on each word, until a word leaves `limit`
 * ids or more (s->limit_reached). As in Hugging Face tokenizers, only a word's end is a place to
 * stop: an added token is taken without a look at the limit, so the word after it is read too
 * (which decides which text of a pair is the longer one). at_start: the text begins the input. */
static int encode_normalized(const sb_tokenizer *tok, sb_tok_scratch *s, const uint8_t *text,
                             size_t n, bool at_start, size_t limit)
{
    s->words.len = 0;
    const uint8_t *base;
    int rc = sb_pretokenize(tok, s, text, n, at_start, &base);
    for (size_t w = 0; w < s->words.len && rc == SBERT_OK && !s->limit_reached; w++) {
        const sb_split word = s->words.data[w];
        rc = encode_word(tok, s, base + word.start, word.end - word.start);
        s->limit_reached = s->ids.len >= limit;
    }
    return rc;
}

/* Normalizes one piece of raw text (between added tokens) and encodes it. */
static int encode_piece(const sb_tokenizer *tok, sb_tok_scratch *s, const uint8_t *text, size_t n,
                        bool at_start, size_t limit)
{
    const uint8_t *norm;
    size_t norm_len;
    int rc = sb_normalize(tok, s, text, n, &norm, &norm_len);
    if (rc == SBERT_OK)
        rc = sb_added_split(&tok->added_norm, norm, norm_len, &s->norm_splits);
    for (size_t i = 0; i < s->norm_splits.len && rc == SBERT_OK && !s->limit_reached; i++) {
        const sb_split sp = s->norm_splits.data[i];
        rc = sp.id >= 0 ? sb_push_id(&s->ids, sp.id)
                        : encode_normalized(tok, s, norm + sp.start, sp.end - sp.start,
                                            at_start && sp.start == 0, limit);
    }
    return rc;
}

/* The text's ids (no special tokens) into s->ids, until a word leaves `limit` of them or more
 * (encode_normalized): that word is encoded whole, and the ids cut to the limit when `cut`. */
static int encode_text(const sb_tokenizer *tok, sb_tok_scratch *s, const uint8_t *text, size_t n,
                       size_t limit, bool cut)
{
    s->ids.len = 0;
    s->limit_reached = false;
    int rc = sb_added_split(&tok->added_raw, text, n, &s->raw_splits);
    for (size_t i = 0; i < s->raw_splits.len && rc == SBERT_OK && !s->limit_reached; i++) {
        const sb_split sp = s->raw_splits.data[i];
        rc = sp.id >= 0 ? sb_push_id(&s->ids, sp.id)
                        : encode_piece(tok, s, text + sp.start, sp.end - sp.start, sp.start == 0,
                                       limit);
    }
    if (cut && s->ids.len > limit)
        s->ids.len = limit;
    return rc;
}

/* Steps 1 and 2: the text the pipeline sees, in *text / *n (the input or a scratch buffer). */
static int prepare_text(const sb_tokenizer *tok, sb_tok_scratch *s, const sb_tok_options *opts,
                        const uint8_t **text, size_t *n, char *err, size_t err_size)
{
    const sb_err e = { err, err_size };
    const size_t bad = sb_utf8_find_invalid(*text, *n);
    if (bad < *n) {
        if (opts->utf8 != SB_UTF8_REPLACE)
            return sb_fail(&e, SBERT_ERR_INVALID_UTF8,
                           "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad, (*text)[bad]);
        const int rc = *n > SIZE_MAX / 3 ? SBERT_ERR_TOO_LARGE : SB_RESERVE(s->repaired, 3 * *n);
        if (rc != SBERT_OK)
            return sb_fail(&e, rc, "replacing ill-formed UTF-8: %s", sb_status_text(rc));
        s->repaired.len = sb_utf8_replace_invalid(*text, *n, s->repaired.data);
        *text = s->repaired.data;
        *n = s->repaired.len;
    }
    if (!opts->st_prepare)
        return SBERT_OK;
    size_t start, end;
    sb_py_strip(*text, *n, &start, &end);
    *text += start;
    *n = end - start;
    if (!tok->cfg.st_do_lower_case)
        return SBERT_OK;
    const int rc = sb_py_lower(*text, *n, &s->prepared);
    if (rc != SBERT_OK)
        return sb_fail(&e, rc, "lower-casing: %s", sb_status_text(rc));
    *text = s->prepared.data;
    *n = s->prepared.len;
    return SBERT_OK;
}

/* memcpy, which must not see the NULL arrays of empty lists */
static void copy_ids(int32_t *dst, const int32_t *src, size_t n)
{
    if (n)
        memcpy(dst, src, n * sizeof *dst);
}

int sb_tokenizer_encode(const sb_tokenizer *tok, sb_tok_scratch *scratch, const char *text,
                        size_t len, const sb_tok_options *opts, int32_t *ids, size_t capacity,
                        size_t *n_ids, char *err, size_t err_size)
{
    const sb_err e = { err, err_size };
    if (!tok || !scratch || !opts || !n_ids || (!text && len) || (!ids && capacity))
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "tokenize: NULL argument");
    *n_ids = 0;
    const sb_tokenizer_config *cfg = &tok->cfg;
    const size_t n_special = opts->add_special ? (size_t)cfg->n_prefix + cfg->n_suffix : 0;
    if (opts->max_tokens && opts->max_tokens < n_special)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT,
                       "max_tokens %zu leaves no room for the %zu special tokens", opts->max_tokens,
                       n_special);
    const size_t limit = opts->max_tokens ? opts->max_tokens - n_special
                       : opts->stop_at    ? opts->stop_at
                                          : SIZE_MAX;

    const uint8_t *t = text ? (const uint8_t *)text : (const uint8_t *)"";
    size_t n = len;
    int rc = prepare_text(tok, scratch, opts, &t, &n, err, err_size);
    if (rc != SBERT_OK)
        return rc;
    rc = encode_text(tok, scratch, t, n, limit, opts->max_tokens != 0);
    if (rc != SBERT_OK)
        return sb_fail(&e, rc, "tokenize: %s", sb_status_text(rc));

    const size_t n_text = scratch->ids.len;
    *n_ids = n_special + n_text;
    if (*n_ids > capacity)
        return sb_fail(&e, SBERT_ERR_BUFFER_TOO_SMALL,
                       "%zu ids do not fit in a buffer of %zu", *n_ids, capacity);
    if (*n_ids == 0) /* ids may be NULL: not even ids + 0 is allowed then */
        return SBERT_OK;
    const size_t n_prefix = opts->add_special ? cfg->n_prefix : 0;
    copy_ids(ids, opts->add_special ? cfg->prefix_ids : NULL, n_prefix);
    copy_ids(ids + n_prefix, scratch->ids.data, n_text);
    copy_ids(ids + n_prefix + n_text, cfg->suffix_ids, n_special - n_prefix);
    return SBERT_OK;
}
