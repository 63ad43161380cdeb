/* The Unigram model: one word -> ids, exactly as tokenizers' Unigram::encode_optimized (the
 * SentencePiece Viterbi search) and Unigram::tokenize.
 *
 *   - Every vocabulary piece that starts at a character boundary is a lattice edge scored by its
 *     log-probability; a character that no one-character piece covers gets an edge of the
 *     unknown token scored (lowest score - 10). Scores add up in double precision, as in
 *     tokenizers (whose scores are f64; the model file's f32 scores are those values exactly).
 *   - Edges are relaxed in tokenizers' order (by start, then shortest first, the unknown last)
 *     and replace a node's best only when strictly better, so ties resolve the same way.
 *   - On the best path, consecutive unknown tokens are fused into one string (fuse_unk), which
 *     then becomes its vocabulary id if it has one and the unknown id otherwise. The piece
 *     string of a duplicate vocabulary entry is its last id, as tokenizers' token_to_ids map.
 *   - byte_fallback is not supported (the converter refuses it).
 *
 * Speed: the pieces at one position are found with the vocabulary hash: the hash of the
 * candidate grows a character at a time (FNV-1a extends). A small filter over the hashes of the
 * pieces and of their proper prefixes skips most probes of strings that are no piece, and stops
 * the walk as soon as no longer piece can start with the candidate, as a trie walk would. */
#include "tokenizer/internal.h"

#include <math.h>
#include <stdlib.h>

#include "sbert.h"
#include "text/text.h"

#define UNK_PENALTY 10.0   /* tokenizers' K_UNK_PENALTY */
#define NO_NODE UINT32_MAX /* a lattice node no path reaches yet */

/* ---- the piece filter ------------------------------------------------------------------------
 * Two bits per hash bucket: some piece hashes there (PIECE), some piece is longer than a string
 * that hashes there and starts with it (PREFIX). A false positive only costs a probe of the
 * vocabulary or one more character; a bucket per 16 pieces keeps the table in the cache. */

enum { PIECE = 1, PREFIX = 2 };

static uint32_t bucket(const sb_unigram *u, uint32_t h)
{
    return (uint32_t)((h * 2654435761u) >> u->filter_shift);
}

static unsigned filter_get(const sb_unigram *u, uint32_t h)
{
    const uint32_t b = bucket(u, h);
    return (unsigned)(u->filter[b >> 5] >> (2 * (b & 31))) & 3;
}

static void filter_set(sb_unigram *u, uint32_t h, unsigned bits)
{
    const uint32_t b = bucket(u, h);
    u->filter[b >> 5] |= (uint64_t)bits << (2 * (b & 31));
}

static int build_filter(sb_unigram *u, const sb_tokenizer_config *cfg)
{
    uint32_t log2_buckets = 6;
    while (log2_buckets < 30 && (1ull << log2_buckets) < 16ull * cfg->vocab_size)
        log2_buckets++;
    u->filter_shift = 32 - log2_buckets;
    u->filter = calloc((size_t)1 << (log2_buckets - 5), sizeof *u->filter);
    if (!u->filter)
        return SBERT_ERR_NO_MEMORY;
    for (uint32_t id = 0; id < cfg->vocab_size; id++) {
        const uint8_t *s = (const uint8_t *)cfg->vocab[id].ptr;
        const uint32_t len = cfg->vocab[id].len;
        uint32_t h = SB_HASH_INIT;
        for (uint32_t k = 0; k < len; k++) { /* every byte prefix: a superset of the characters */
            h = sb_hash_bytes(h, s + k, 1);
            filter_set(u, h, k + 1 < len ? PREFIX : PIECE);
        }
    }
    return SBERT_OK;
}

int sb_unigram_init(sb_unigram *u, const sb_tokenizer_config *cfg)
{
    double min_score = INFINITY;
    for (uint32_t id = 0; id < cfg->vocab_size; id++)
        if (cfg->scores[id] < min_score)
            min_score = cfg->scores[id];
    u->unk_score = min_score - UNK_PENALTY;
    return build_filter(u, cfg);
}

void sb_unigram_free(sb_unigram *u)
{
    free(u->filter);
    u->filter = NULL;
}

/* ---- the search ------------------------------------------------------------------------------ */

/* The path through `from` and an edge (id, score) to node `to` replaces to's best when it is the
 * first or strictly better. */
static void relax(sb_lattice_node *lattice, size_t from, size_t to, int32_t id, double score)
{
    const double total = lattice[from].score + score;
    if (lattice[to].start == NO_NODE || total > lattice[to].score)
        lattice[to] = (sb_lattice_node){ total, (uint32_t)from, id };
}

/* Adds the edges that start at word[start]: the pieces found there, else the unknown token. */
static void edges_from(const struct sb_tokenizer *tok, sb_lattice_node *lattice,
                       const uint8_t *word, size_t n, size_t start)
{
    const size_t first_len = (size_t)sb_utf8_len_valid(word[start]);
    const size_t max_end = n - start < tok->vocab.max_len ? n : start + tok->vocab.max_len;
    bool single = false; /* a piece covers exactly the first character */
    uint32_t h = SB_HASH_INIT;
    for (size_t end = start; end < max_end;) {
        const size_t len = (size_t)sb_utf8_len_valid(word[end]);
        if (end + len > max_end)
            break;
        h = sb_hash_bytes(h, word + end, len);
        end += len;
        const unsigned bits = filter_get(&tok->unigram, h);
        const int32_t id = (bits & PIECE) ? sb_vocab_find(&tok->vocab, h, word + start,
                                                          end - start, word, 0) : -1;
        if (id >= 0) {
            relax(lattice, start, end, id, tok->cfg.scores[id]);
            single |= end - start == first_len;
        }
        if (!(bits & PREFIX))
            break;
    }
    if (!single)
        relax(lattice, start, start + first_len, tok->cfg.unk_id, tok->unigram.unk_score);
}

/* The id of the fused unknown run word[0..n): the piece it spells, else the unknown token. */
static int32_t fused_unknown(const struct sb_tokenizer *tok, const uint8_t *s, size_t n)
{
    if (n > tok->vocab.max_len)
        return tok->cfg.unk_id;
    const int32_t id = sb_vocab_find(&tok->vocab, sb_hash_bytes(SB_HASH_INIT, s, n), s, n, s, 0);
    return id >= 0 ? id : tok->cfg.unk_id;
}

static void reverse_ids(int32_t *ids, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        const int32_t t = ids[i];
        ids[i] = ids[j - 1];
        ids[j - 1] = t;
    }
}

/* Walks the best path back from the end, fusing runs of the unknown token. */
static int backtrack(const struct sb_tokenizer *tok, const sb_lattice_node *lattice,
                     const uint8_t *word, size_t n, sb_ids *ids)
{
    const int32_t unk = tok->cfg.unk_id;
    const size_t first = ids->len;
    size_t unk_end = 0; /* the end of the unknown run being walked, 0: none */
    int rc = SBERT_OK;
    for (size_t end = n; end > 0 && rc == SBERT_OK; end = lattice[end].start) {
        const int32_t id = lattice[end].id;
        if (id == unk) {
            unk_end = unk_end ? unk_end : end;
            continue;
        }
        if (unk_end)
            rc = sb_push_id(ids, fused_unknown(tok, word + end, unk_end - end));
        unk_end = 0;
        if (rc == SBERT_OK)
            rc = sb_push_id(ids, id);
    }
    if (rc == SBERT_OK && unk_end)
        rc = sb_push_id(ids, fused_unknown(tok, word, unk_end));
    if (rc == SBERT_OK)
        reverse_ids(ids->data + first, ids->len - first);
    return rc;
}

int sb_unigram_word(const struct sb_tokenizer *tok, sb_tok_scratch *scratch, const uint8_t *word,
                    size_t n)
{
    if (n >= NO_NODE)
        return SBERT_ERR_TOO_LARGE;
    if (SB_RESERVE(scratch->lattice, n + 1) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    sb_lattice_node *lattice = scratch->lattice.data;
    lattice[0] = (sb_lattice_node){ 0.0, 0, -1 };
    for (size_t i = 1; i <= n; i++)
        lattice[i].start = NO_NODE;
    for (size_t start = 0; start < n; start += (size_t)sb_utf8_len_valid(word[start]))
        edges_from(tok, lattice, word, n, start);
    return backtrack(tok, lattice, word, n, &scratch->ids);
}
