/* The tokenizer's stages and the state they share. tokenizer.c runs the pipeline:
 *
 *   prepare.c      sentence-transformers' str.strip() / str.lower()
 *   added.c        added tokens found in the raw text (and in the normalized text)
 *   normalizer.c   BertNormalizer, and the dispatch to the others
 *   precompiled.c  the Precompiled normalizer (SentencePiece charsmap) and Replace
 *   pretokenizer.c BertPreTokenizer, Metaspace, WhitespaceSplit + Metaspace
 *   wordpiece.c    the WordPiece model
 *   unigram.c      the Unigram model
 *   vocab.c        the string -> id hash table the models look pieces up in
 *
 * Text between stages is UTF-8 known to be well-formed (tokenizer.c checks or repairs the input
 * first), so the stages decode without checks. */
#ifndef SBERT_TOKENIZER_INTERNAL_H
#define SBERT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "base/base.h"
#include "sbert.h"
#include "tokenizer.h"

/* ---- growable buffers (scratch memory: grown, never shrunk, freed with the scratch) ---------- */

#define SB_RESERVE(buf, need) sb_reserve((void **)&(buf).data, &(buf).cap, (need), sizeof *(buf).data)

typedef struct { uint8_t *data; size_t len, cap; } sb_bytes;
typedef struct { int32_t *data; size_t len, cap; } sb_ids;
typedef struct { uint32_t *data; size_t len, cap; } sb_u32s;

static inline int sb_push_id(sb_ids *ids, int32_t id)
{
    if (SB_RESERVE(*ids, ids->len + 1) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    ids->data[ids->len++] = id;
    return SBERT_OK;
}

/* A piece of a text: bytes [start, end), and the added token it is (id >= 0) or -1 for text. */
typedef struct { size_t start, end; int32_t id; } sb_split;
typedef struct { sb_split *data; size_t len, cap; } sb_splits;

/* Unigram: the best segmentation of a word's first `end` bytes ends with the piece `id` over
 * [start, end) and scores `score` in all (a lattice node per byte offset). */
typedef struct { double score; uint32_t start; int32_t id; } sb_lattice_node;
typedef struct { sb_lattice_node *data; size_t len, cap; } sb_lattice;

struct sb_tok_scratch {
    sb_bytes repaired;     /* the input with ill-formed UTF-8 replaced (SB_UTF8_REPLACE) */
    sb_bytes prepared;     /* after sentence-transformers' lower-casing */
    sb_bytes normalized;   /* one split after the normalizer */
    sb_bytes replaced;     /* Replace normalizers: the other buffer they alternate with */
    sb_bytes metaspaced;   /* Metaspace: the pre-tokenized text its words point into */
    sb_u32s marks;         /* NFD: the combining marks waiting for canonical reordering */
    sb_splits raw_splits;  /* the text split at added tokens */
    sb_splits norm_splits; /* one normalized split, split at normalized added tokens */
    sb_splits words;       /* the pre-tokenizer's words (id unused) */
    sb_u32s candidates;    /* WordPiece: (length, hash) of each piece tried at one position */
    sb_lattice lattice;    /* Unigram: one node per byte of the word, and one for its end */
    sb_ids ids;            /* the text's ids, before the special tokens */
    bool limit_reached;    /* a word brought ids to the encoding's limit: read no further */
};

/* ---- vocab.c: exact string -> id lookup ---------------------------------------------------- */

/* Open addressing with linear probing; each slot keeps the full hash so that a probe compares
 * strings only when the hashes agree. */
typedef struct {
    uint32_t hash;
    int32_t id;            /* -1: empty slot */
} sb_vocab_slot;

typedef struct {
    sb_vocab_slot *slots;
    uint32_t mask;         /* slot count - 1 (a power of two) */
    const sb_str *strings; /* the config's strings, indexed by id */
    uint32_t max_len;      /* the longest string, in bytes */
} sb_vocab;

#define SB_HASH_INIT 2166136261u /* FNV-1a: the hash is built byte by byte, so prefixes extend */
static inline uint32_t sb_hash_bytes(uint32_t h, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

/* Builds the table from strings[0..n). When a string occurs twice the higher id wins, as when
 * Hugging Face reads a vocabulary into a map. Empty strings are left out. */
int sb_vocab_build(sb_vocab *v, const sb_str *strings, uint32_t n);
void sb_vocab_free(sb_vocab *v);

/* The id of the string a + b whose hash is h (sb_hash_bytes over a then b), or -1. */
int32_t sb_vocab_find(const sb_vocab *v, uint32_t h, const uint8_t *a, size_t na,
                      const uint8_t *b, size_t nb);

struct sb_tokenizer;

/* ---- added.c: added tokens (tokenizer.json `added_tokens`) ----------------------------------- */

typedef struct {
    const uint8_t *text;   /* what is matched: the content, or its normalized form */
    uint32_t len;
    int32_t id;
    bool lstrip, rstrip, single_word;
} sb_added_token;

/* One matching set: the tokens matched in the raw text (normalized = false) or the ones matched
 * in the normalized text (normalized = true). Tokens are sorted by first byte, longest first,
 * so that first[b]..first[b+1] are the candidates at a byte b. */
typedef struct {
    sb_added_token *tokens;
    uint32_t n;
    uint32_t first[257];
    uint8_t *owned;        /* the normalized texts of a normalized set */
} sb_added_set;

/* Builds the set of added tokens whose `normalized` flag equals `normalized`. A normalized set
 * holds each token's content after the tokenizer's normalizer (done with `scratch`). */
int sb_added_build(sb_added_set *set, const struct sb_tokenizer *tok, bool normalized,
                   sb_tok_scratch *scratch);
void sb_added_free(sb_added_set *set);

/* Splits text[0..n) at the set's tokens into `out` (replacing its content; the splits cover the
 * text in order): leftmost-longest matches, then single_word / lstrip / rstrip applied as
 * Hugging Face's AddedVocabulary::find_matches does. */
int sb_added_split(const sb_added_set *set, const uint8_t *text, size_t n, sb_splits *out);

/* ---- prepare.c: sentence-transformers' text preparation ----------------------------------- */

/* Python str.strip(): the range [*start, *end) of text[0..n) without leading and trailing
 * characters for which str.isspace() is true. */
void sb_py_strip(const uint8_t *text, size_t n, size_t *start, size_t *end);

/* Python str.lower() of text[0..n) into out (replacing its content), final sigma included. */
int sb_py_lower(const uint8_t *text, size_t n, sb_bytes *out);

/* ---- normalizer.c ---------------------------------------------------------------------------- */

/* Fills the normalizer's precomputed tables of a tokenizer whose cfg is set. */
void sb_normalizer_init(struct sb_tokenizer *tok);

/* Normalizes text[0..n) with the configured normalizer: *out, *out_len is the result, in
 * scratch->normalized or (for no normalizer) the text itself. */
int sb_normalize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *text,
                 size_t n, const uint8_t **out, size_t *out_len);

/* ---- precompiled.c ------------------------------------------------------------------------- */

/* SentencePiece's precompiled charsmap: a darts-clone double-array trie over UTF-8 keys whose
 * values are offsets of NUL-terminated replacement strings. */
typedef struct {
    uint32_t *units;          /* the trie's units (owned, host byte order) */
    uint32_t n_units;
    const uint8_t *strings;   /* the replacement strings (the config's bytes) */
    uint32_t strings_len;
    sb_str ascii[128];        /* each ASCII byte's replacement (ptr NULL: none), looked up once */
} sb_charsmap;

/* Reads cfg->precompiled_charsmap into m. SBERT_ERR_CORRUPT when its layout is impossible or its
 * strings are not UTF-8 (both make Hugging Face refuse the tokenizer too). */
int sb_charsmap_init(sb_charsmap *m, const sb_tokenizer_config *cfg);
void sb_charsmap_free(sb_charsmap *m);

/* The Precompiled normalizer, then the Replace rules, on text[0..n): the result in
 * scratch->normalized. */
int sb_precompiled_normalize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch,
                             const uint8_t *text, size_t n);

/* ---- pretokenizer.c ------------------------------------------------------------------------ */

/* Splits normalized text[0..n) into words, appended to scratch->words. The words are offsets
 * into *base: `text` itself (which must stay valid) or scratch->metaspaced. at_start says that
 * the text begins the input (Metaspace's prepend_scheme "first"). */
int sb_pretokenize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *text,
                   size_t n, bool at_start, const uint8_t **base);

/* ---- wordpiece.c --------------------------------------------------------------------------- */

/* Appends the WordPiece ids of one word (word[0..n), n > 0) to scratch->ids. */
int sb_wordpiece_word(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *word,
                      size_t n);

/* ---- unigram.c ----------------------------------------------------------------------------- */

/* What the Unigram model precomputes: the unknown token's score and a filter that says which
 * strings may be pieces or begin longer ones, so that the search for pieces at a position skips
 * most probes and stops early. */
typedef struct {
    double unk_score;         /* the lowest piece score - 10, as tokenizers' K_UNK_PENALTY */
    uint64_t *filter;         /* 2 bits per bucket (hash * golden ratio) >> filter_shift */
    uint32_t filter_shift;
} sb_unigram;

int sb_unigram_init(sb_unigram *u, const sb_tokenizer_config *cfg);
void sb_unigram_free(sb_unigram *u);

/* Appends the Unigram ids of one word (word[0..n), n > 0) to scratch->ids. */
int sb_unigram_word(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *word,
                    size_t n);

/* ---- the tokenizer -------------------------------------------------------------------------- */

struct sb_tokenizer {
    sb_tokenizer_config cfg;  /* the caller's config; its pointers stay the caller's */
    sb_vocab vocab;
    sb_added_set added_raw;   /* added tokens matched before normalizing */
    sb_added_set added_norm;  /* added tokens matched in the normalized text */
    uint32_t wp_prefix_hash;  /* sb_hash_bytes of the WordPiece continuing-subword prefix */
    int16_t bert_ascii[128];  /* BertNormalizer's output byte for each ASCII byte, -1: dropped */
    sb_charsmap charsmap;     /* the Precompiled normalizer */
    sb_unigram unigram;       /* the Unigram model */
};

#endif
