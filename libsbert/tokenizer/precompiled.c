/* The Precompiled normalizer and the Replace normalizers after it (the XLM-RoBERTa family).
 *
 * Precompiled is SentencePiece's normalization rule set (nmt_nfkc and friends) as Hugging Face
 * `tokenizers` applies it (normalizers/precompiled.rs with the crate spm_precompiled):
 *   - the charsmap is [u32 trie size in bytes][trie: u32 units][replacement strings]; the trie is
 *     a darts-clone double array over UTF-8 keys, each leaf holding the offset of a
 *     NUL-terminated replacement string;
 *   - the text is walked by extended grapheme cluster. A cluster shorter than 6 bytes is looked
 *     up whole; otherwise, or when that finds nothing, each of its characters is looked up alone;
 *   - a lookup takes the SHORTEST key that prefixes the looked-up string, and the whole string is
 *     replaced by that key's replacement (so "ﬁ" + U+0301 as one cluster becomes "fi": the accent
 *     goes). tokenizers says it keeps this quirk on purpose, to match SentencePiece.
 * Replace rules then run over the whole result, in order: a literal pattern replaced at each
 * non-overlapping occurrence from the left, or the rule "  +" (how the model file stores the
 * regex " {2,}" of XLM-R conversions): every run of two or more spaces. */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

#include "sbert.h"
#include "text/text.h"

/* Clusters of at least this many bytes are never looked up whole (tokenizers' rule). */
#define WHOLE_CLUSTER_LIMIT 6

static const char SPACE_RUN_RULE[] = "  +";

/* ---- the double-array trie ------------------------------------------------------------------- */

/* darts-clone unit fields */
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t u) { return u & (1u << 31 | 0xFF); }
static bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* The replacement string at offset `at`: up to the next NUL or the end. False for an offset that
 * is past the strings or inside a character, where tokenizers would panic (a damaged charsmap):
 * here the key then counts as absent. */
static bool replacement_at(const sb_charsmap *m, uint32_t at, sb_str *out)
{
    if (at > m->strings_len || (at < m->strings_len && (m->strings[at] & 0xC0) == 0x80))
        return false;
    const uint8_t *nul = memchr(m->strings + at, 0, m->strings_len - at);
    out->ptr = (const char *)m->strings + at;
    out->len = (uint32_t)(nul ? (size_t)(nul - (m->strings + at)) : m->strings_len - at);
    return true;
}

/* The replacement of the shortest key that prefixes key[0..n) (darts-clone's common prefix
 * search, first result; a NUL byte ends the key). Units outside the trie end the search, where
 * tokenizers would panic. */
static bool charsmap_find(const sb_charsmap *m, const uint8_t *key, size_t n, sb_str *out)
{
    if (m->n_units == 0)
        return false;
    uint32_t pos = unit_offset(m->units[0]);
    for (size_t i = 0; i < n && key[i] != 0; i++) {
        pos ^= key[i];
        if (pos >= m->n_units)
            return false;
        const uint32_t unit = m->units[pos];
        if (unit_label(unit) != key[i])
            return false;
        pos ^= unit_offset(unit);
        if (unit_has_leaf(unit))
            return pos < m->n_units && replacement_at(m, unit_value(m->units[pos]), out);
    }
    return false;
}

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int sb_charsmap_init(sb_charsmap *m, const sb_tokenizer_config *cfg)
{
    memset(m, 0, sizeof *m);
    const uint8_t *blob = cfg->precompiled_charsmap;
    const uint32_t len = cfg->precompiled_charsmap_len;
    if (!blob || len < 4)
        return SBERT_ERR_CORRUPT;
    const uint32_t n_units = read_le32(blob) / 4;
    if (n_units > (len - 4) / 4)
        return SBERT_ERR_CORRUPT;
    m->strings = blob + 4 + 4 * (size_t)n_units;
    m->strings_len = len - 4 - 4 * n_units;
    if (sb_utf8_find_invalid(m->strings, m->strings_len) != m->strings_len)
        return SBERT_ERR_CORRUPT; /* tokenizers requires them to be a UTF-8 string */
    m->units = malloc((n_units ? n_units : 1) * sizeof *m->units);
    if (!m->units)
        return SBERT_ERR_NO_MEMORY;
    m->n_units = n_units;
    for (uint32_t i = 0; i < n_units; i++)
        m->units[i] = read_le32(blob + 4 + 4 * (size_t)i);
    for (int b = 0; b < 128; b++) {
        const uint8_t key = (uint8_t)b;
        if (!charsmap_find(m, &key, 1, &m->ascii[b]))
            m->ascii[b].ptr = NULL;
    }
    return SBERT_OK;
}

void sb_charsmap_free(sb_charsmap *m)
{
    free(m->units);
    m->units = NULL;
}

/* ---- normalizing ----------------------------------------------------------------------------- */

static int put(sb_bytes *out, const void *s, size_t n)
{
    if (n == 0) /* s may be NULL then */
        return SBERT_OK;
    if (SB_RESERVE(*out, out->len + n) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    memcpy(out->data + out->len, s, n);
    out->len += n;
    return SBERT_OK;
}

/* s[0..n), or its replacement when the charsmap has a key that prefixes it. */
static int put_mapped(const sb_charsmap *m, sb_bytes *out, const uint8_t *s, size_t n)
{
    sb_str r;
    return charsmap_find(m, s, n, &r) ? put(out, r.ptr, r.len) : put(out, s, n);
}

/* One ASCII byte that is a cluster of its own. */
static int put_ascii(const sb_charsmap *m, sb_bytes *out, uint8_t b)
{
    const sb_str r = m->ascii[b];
    return r.ptr ? put(out, r.ptr, r.len) : put(out, &b, 1);
}

/* The cluster text[0..n): whole when short enough and known, else character by character. */
static int put_cluster(const sb_charsmap *m, sb_bytes *out, const uint8_t *text, size_t n)
{
    sb_str r;
    if (n < WHOLE_CLUSTER_LIMIT && charsmap_find(m, text, n, &r))
        return put(out, r.ptr, r.len);
    for (size_t i = 0; i < n;) {
        const size_t len = (size_t)sb_utf8_len_valid(text[i]);
        const int rc = put_mapped(m, out, text + i, len);
        if (rc != SBERT_OK)
            return rc;
        i += len;
    }
    return SBERT_OK;
}

/* An ASCII byte is a cluster of its own unless a non-ASCII character (which may extend it)
 * follows, or it is the CR of CR LF. */
static bool lone_ascii(const uint8_t *text, size_t n, size_t i)
{
    return text[i] < 0x80 &&
           (i + 1 == n || (text[i + 1] < 0x80 && !(text[i] == '\r' && text[i + 1] == '\n')));
}

static int precompiled(const sb_charsmap *m, sb_bytes *out, const uint8_t *text, size_t n)
{
    out->len = 0;
    if (SB_RESERVE(*out, n + 16) != SBERT_OK) /* the usual size; put() grows it further */
        return SBERT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n;) {
        int rc;
        if (lone_ascii(text, n, i)) {
            rc = put_ascii(m, out, text[i]);
            i++;
        } else {
            const size_t end = sb_grapheme_end(text, n, i);
            rc = put_cluster(m, out, text + i, end - i);
            i = end;
        }
        if (rc != SBERT_OK)
            return rc;
    }
    return SBERT_OK;
}

/* ---- Replace --------------------------------------------------------------------------------- */

static bool is_space_run_rule(sb_str pattern)
{
    return pattern.len == sizeof SPACE_RUN_RULE - 1 &&
           memcmp(pattern.ptr, SPACE_RUN_RULE, pattern.len) == 0;
}

/* The length of the match of `pattern` at text[i], or 0. */
static size_t match_at(sb_str pattern, bool space_run, const uint8_t *text, size_t n, size_t i)
{
    if (space_run) {
        size_t e = i;
        while (e < n && text[e] == ' ')
            e++;
        return e - i >= 2 ? e - i : 0;
    }
    if (pattern.len > n - i || memcmp(text + i, pattern.ptr, pattern.len) != 0)
        return 0;
    return pattern.len;
}

/* in[0..n) with each match of pattern replaced by content, into out. An empty pattern matches
 * nothing (as in tokenizers). */
static int replace(sb_str pattern, sb_str content, const uint8_t *in, size_t n, sb_bytes *out)
{
    out->len = 0;
    if (SB_RESERVE(*out, n + 16) != SBERT_OK)
        return SBERT_ERR_NO_MEMORY;
    const bool space_run = is_space_run_rule(pattern);
    const int first = space_run ? ' ' : pattern.len ? (uint8_t)pattern.ptr[0] : -1;
    size_t copied = 0; /* in[0..copied) is done */
    for (size_t i = 0; first >= 0 && i < n;) {
        const uint8_t *next = memchr(in + i, first, n - i); /* where a match may start */
        if (!next)
            break;
        i = (size_t)(next - in);
        const size_t len = match_at(pattern, space_run, in, n, i);
        if (len == 0) {
            i++;
            continue;
        }
        if (put(out, in + copied, i - copied) != SBERT_OK ||
            put(out, content.ptr, content.len) != SBERT_OK)
            return SBERT_ERR_NO_MEMORY;
        i += len;
        copied = i;
    }
    return put(out, in + copied, n - copied);
}

int sb_precompiled_normalize(const struct sb_tokenizer *tok, sb_tok_scratch *scratch,
                             const uint8_t *text, size_t n)
{
    int rc = precompiled(&tok->charsmap, &scratch->normalized, text, n);
    for (uint32_t r = 0; r < tok->cfg.n_replace && rc == SBERT_OK; r++) {
        rc = replace(tok->cfg.replace_pattern[r], tok->cfg.replace_content[r],
                     scratch->normalized.data, scratch->normalized.len, &scratch->replaced);
        const sb_bytes done = scratch->replaced; /* the result becomes `normalized` */
        scratch->replaced = scratch->normalized;
        scratch->normalized = done;
    }
    return rc;
}
