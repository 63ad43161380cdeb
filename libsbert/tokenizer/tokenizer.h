/* Tokenizer: text (UTF-8 bytes) -> token ids exactly as Hugging Face `tokenizers` produces them
 * from the model's tokenizer.json, after the text preparation sentence-transformers does.
 *
 * The pipeline mirrors Hugging Face's stages, each configured from the model file:
 *   prepare (ST: str.strip(), str.lower() when do_lower_case)
 *   -> added tokens split out of the raw text
 *   -> normalizer (BertNormalizer | Precompiled charsmap [+ Replace])
 *   -> pre-tokenizer (BertPreTokenizer | Metaspace | WhitespaceSplit)
 *   -> model (WordPiece | Unigram)
 *   -> post-processor (prefix ids, text ids, suffix ids) with truncation.
 *
 * Threading: an sb_tokenizer is immutable after sb_tokenizer_create() and may be shared by any
 * number of threads; each thread passes its own sb_tok_scratch.
 *
 * Implemented: WordPiece with BertNormalizer (or none) and BertPreTokenizer: the BERT family
 * (klue/roberta-base, all-MiniLM, bert-base-multilingual); Unigram with the Precompiled
 * normalizer (+ Replace), Metaspace or WhitespaceSplit + Metaspace: the XLM-RoBERTa family
 * (paraphrase-multilingual, multilingual-e5) and pegasus-style SentencePiece tokenizers. Not
 * implemented: Unigram byte_fallback (the converter refuses it).
 *
 * Unicode: each property comes from the Unicode version the reference uses (Unicode 8.0
 * categories, 9.0 canonical decomposition, 15.0 White_Space and case mappings, 17.0 grapheme
 * clusters); see tools/gen_unicode.py. */
#ifndef SBERT_TOKENIZER_H
#define SBERT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* A byte string that is not NUL-terminated (strings in the mapped model file are length-prefixed). */
typedef struct {
    const char *ptr;
    uint32_t len;
} sb_str;

typedef enum { SB_TOK_WORDPIECE = 0, SB_TOK_UNIGRAM = 1 } sb_tok_model;
typedef enum { SB_NORM_NONE = 0, SB_NORM_BERT = 1, SB_NORM_PRECOMPILED = 2 } sb_norm_kind;
typedef enum { SB_PRETOK_BERT = 0, SB_PRETOK_METASPACE = 1, SB_PRETOK_WHITESPACE = 2 } sb_pretok_kind;
typedef enum { SB_PREPEND_ALWAYS = 0, SB_PREPEND_FIRST = 1, SB_PREPEND_NEVER = 2 } sb_prepend_scheme;

/* Everything the tokenizer needs, as read from the model file (docs/FORMAT.md, tokenizer.* keys).
 * The pointers stay owned by the caller (the model) and must outlive the tokenizer.
 * A string that occurs twice in `vocab` is looked up as its higher id (a Hugging Face vocab map
 * keeps the last); empty strings are never matched. Ids are not checked against vocab_size
 * except unk_id: the loader checks them against the embedding matrix. */
typedef struct {
    sb_tok_model model;
    const sb_str *vocab;          /* [vocab_size] token strings in id order */
    uint32_t vocab_size;
    const float *scores;          /* [vocab_size] Unigram log-probabilities; NULL for WordPiece */
    int32_t unk_id;
    int32_t pad_id;
    const int32_t *prefix_ids;    /* [n_prefix] ids before the text, e.g. [CLS] */
    uint32_t n_prefix;
    const int32_t *suffix_ids;    /* [n_suffix] ids after the text, e.g. [SEP] */
    uint32_t n_suffix;

    /* added tokens (tokenizer.json `added_tokens`), matched in the raw text before normalizing */
    uint32_t n_added;
    const sb_str *added_content;  /* [n_added] */
    const int32_t *added_id;      /* [n_added] */
    const uint8_t *added_lstrip, *added_rstrip, *added_single_word, *added_normalized, *added_special;
                                  /* (added_special matters only for decoding, which is not here) */

    /* WordPiece */
    sb_str wp_prefix;             /* "##" */
    uint32_t wp_max_input_chars_per_word;

    /* normalizer */
    sb_norm_kind normalizer;
    bool bert_clean_text, bert_handle_chinese_chars, bert_strip_accents, bert_lowercase;
    const uint8_t *precompiled_charsmap;  /* Precompiled normalizer (Unigram family) */
    uint32_t precompiled_charsmap_len;
    uint32_t n_replace;                   /* Replace normalizers after Precompiled */
    const sb_str *replace_pattern, *replace_content;

    /* pre-tokenizer */
    sb_pretok_kind pretokenizer;
    sb_str metaspace_replacement;         /* "▁" */
    sb_prepend_scheme metaspace_prepend;
    bool metaspace_split;

    /* sentence-transformers text preparation */
    bool st_do_lower_case;                /* Python str.lower() before tokenizing */

    /* the post-processor's pair template (cross-encoders): pair_ids[0] a pair_ids[1] b
     * pair_ids[2], each special id with its token type, a's ids of type pair_a_type, b's of
     * pair_b_type */
    bool has_pair;
    const int32_t *pair_ids[3];           /* [n_pair[k]] before a, between a and b, after b */
    const int32_t *pair_types[3];         /* [n_pair[k]] their token types */
    uint32_t n_pair[3];
    int32_t pair_a_type, pair_b_type;
} sb_tokenizer_config;

typedef struct sb_tokenizer sb_tokenizer;     /* immutable, shareable */
typedef struct sb_tok_scratch sb_tok_scratch; /* per-thread working memory, grows as needed */

/* What to do with bytes that are not well-formed UTF-8 (Unicode Table 3-7: overlong forms,
 * surrogates, code points above U+10FFFF and truncated sequences are all ill-formed). */
typedef enum {
    SB_UTF8_REJECT = 0,   /* fail with SBERT_ERR_INVALID_UTF8; the message names the byte offset
                             of the first ill-formed byte */
    SB_UTF8_REPLACE = 1,  /* each maximal subpart of an ill-formed sequence becomes one U+FFFD
                             (Unicode §3.9 best practice, as WHATWG and Python's
                             errors="replace"); BertNormalizer's clean_text then drops it */
} sb_utf8_policy;

typedef struct {
    bool st_prepare;      /* apply sentence-transformers' Python str.strip(), then str.lower()
                             when cfg->st_do_lower_case (full mappings, final sigma) */
    bool add_special;     /* add prefix/suffix ids */
    size_t max_tokens;    /* truncate to this many ids, the prefix and suffix included (those
                             are kept; the text's first ids fill the rest); 0 = no limit */
    size_t stop_at;       /* with max_tokens 0: stop at the end of the first word (a pre-token;
                             an added token is taken without a look) that brings the ids to
                             stop_at or more, and keep all of them, as Hugging Face tokenizers
                             encodes each text of a pair before cutting the pair longest_first;
                             0 = read the whole text */
    sb_utf8_policy utf8;
} sb_tok_options;

/* Returns an sbert_status (include/sbert.h): SBERT_ERR_CORRUPT for an inconsistent config (or a
 * Precompiled charsmap Hugging Face would refuse), SBERT_ERR_UNSUPPORTED for an unknown stage.
 * On failure writes a message into err (may be NULL). Builds the vocabulary hash table, the
 * added-token matchers and the tables of the configured stages. */
int sb_tokenizer_create(const sb_tokenizer_config *cfg, sb_tokenizer **out, char *err, size_t err_size);
void sb_tokenizer_free(sb_tokenizer *tok);                 /* NULL is fine */

sb_tok_scratch *sb_tok_scratch_create(void);               /* NULL when out of memory */
void sb_tok_scratch_free(sb_tok_scratch *scratch);         /* NULL is fine */

/* Tokenizes text[0..len) (text may be NULL when len is 0). Stores the count in *n_ids and, when
 * it fits in `capacity`, the ids in ids[0..count) (ids may be NULL when capacity is 0).
 * Returns SBERT_OK, SBERT_ERR_BUFFER_TOO_SMALL (nothing written; *n_ids is the count needed),
 * SBERT_ERR_INVALID_UTF8, SBERT_ERR_NO_MEMORY or SBERT_ERR_INVALID_ARGUMENT (also when
 * max_tokens leaves no room for the special tokens); the message goes into err (may be NULL).
 * Allocates only when the scratch must grow for a longer text than it has seen. */
int sb_tokenizer_encode(const sb_tokenizer *tok, sb_tok_scratch *scratch, const char *text, size_t len,
                        const sb_tok_options *opts, int32_t *ids, size_t capacity, size_t *n_ids,
                        char *err, size_t err_size);

/* ---- pairs (cross-encoders; pair.c) ----------------------------------------------------------- */

/* The special tokens the pair template adds (0 without a template). */
size_t sb_pair_specials(const sb_tokenizer *tok);

/* How many of n_a and n_b text tokens remain when a pair may hold `budget` of them, cut as Hugging
 * Face tokenizers' `longest_first` does (tokens leave from the end of each side). */
void sb_pair_truncation(size_t n_a, size_t n_b, size_t budget, size_t *keep_a, size_t *keep_b);

/* Joins the ids of two texts (a[n_a], b[n_b]: encoded without special tokens) with the pair
 * template, a and b cut longest_first so that the pair holds at most max_tokens ids (0: no
 * limit). Stores the count in *n_ids and, when it fits in capacity, the ids and (types not NULL)
 * their token types. Returns SBERT_OK, SBERT_ERR_BUFFER_TOO_SMALL, or SBERT_ERR_INVALID_ARGUMENT
 * when the tokenizer has no pair template or max_tokens is below its special tokens. */
int sb_tokenizer_pair(const sb_tokenizer *tok, const int32_t *a, size_t n_a, const int32_t *b,
                      size_t n_b, size_t max_tokens, int32_t *ids, int32_t *types,
                      size_t capacity, size_t *n_ids);

#endif
