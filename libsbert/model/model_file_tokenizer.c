/* tokenizer.* keys -> m->tok_cfg (docs/FORMAT.md, "Keys").
 *
 * Strings stay in the file: sb_str values point into the mapping. Numeric arrays are copied, since
 * the file may store them unaligned, and so are the sb_str arrays the config points to; all of
 * them share one 64-byte-aligned allocation, m->tok_owned. Every token id is checked against the
 * vocabulary, so the tokenizer can index with them unchecked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_file_internal.h"

static const sb_kv_choice k_models[] = {
    {"wordpiece", SB_TOK_WORDPIECE}, {"unigram", SB_TOK_UNIGRAM}, {NULL, 0}};
static const sb_kv_choice k_normalizers[] = {
    {"bert", SB_NORM_BERT}, {"precompiled", SB_NORM_PRECOMPILED}, {"none", SB_NORM_NONE},
    {NULL, 0}};
static const sb_kv_choice k_pretokenizers[] = {
    {"bert", SB_PRETOK_BERT}, {"metaspace", SB_PRETOK_METASPACE},
    {"whitespace", SB_PRETOK_WHITESPACE}, {NULL, 0}};
static const sb_kv_choice k_prepend_schemes[] = {
    {"always", SB_PREPEND_ALWAYS}, {"first", SB_PREPEND_FIRST}, {"never", SB_PREPEND_NEVER},
    {NULL, 0}};

/* The per-added-token 0/1 flags, in the order of their arrays in tok_owned. */
#define N_ADDED_FLAGS 5
static const char *const k_added_flag_keys[N_ADDED_FLAGS] = {
    "tokenizer.added.lstrip", "tokenizer.added.rstrip", "tokenizer.added.single_word",
    "tokenizer.added.normalized", "tokenizer.added.special"};

/* The array-valued keys, found and counted before the allocation that holds their copies.
 * Arrays a stage does not use stay NULL. */
typedef struct {
    const sb_kv *vocab, *scores, *prefix, *suffix;
    const sb_kv *added_content, *added_id, *added_flags[N_ADDED_FLAGS];
    const sb_kv *replace_patterns, *replace_contents;
} tok_arrays;

/* ---- the stages' settings -------------------------------------------------------------------- */

static int read_wordpiece(sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    int rc = sb_kv_str(kv, "tokenizer.wordpiece.prefix", &cfg->wp_prefix);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, "tokenizer.wordpiece.max_input_chars_per_word", 1, UINT32_MAX,
                       &cfg->wp_max_input_chars_per_word);
    return rc;
}

static int read_bert_normalizer(sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    int rc = sb_kv_bool(kv, "tokenizer.bert.clean_text", &cfg->bert_clean_text);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "tokenizer.bert.handle_chinese_chars", &cfg->bert_handle_chinese_chars);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "tokenizer.bert.strip_accents", &cfg->bert_strip_accents);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "tokenizer.bert.lowercase", &cfg->bert_lowercase);
    return rc;
}

/* The charsmap is passed on as bytes: its inner structure is the tokenizer's to validate. */
static int read_precompiled(sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    const sb_kv *charsmap;
    int rc = sb_kv_get(kv, "tokenizer.precompiled_charsmap", SB_KV_BYTES, &charsmap);
    if (rc == SBERT_OK) {
        cfg->precompiled_charsmap = charsmap->value;
        cfg->precompiled_charsmap_len = charsmap->count;
    }
    return rc;
}

static int read_metaspace(sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    const sb_kv_choice *prepend;
    int rc = sb_kv_str(kv, "tokenizer.metaspace.replacement", &cfg->metaspace_replacement);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "tokenizer.metaspace.prepend_scheme", k_prepend_schemes, &prepend);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "tokenizer.metaspace.split", &cfg->metaspace_split);
    if (rc != SBERT_OK)
        return rc;
    if (cfg->metaspace_replacement.len == 0)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "tokenizer.metaspace.replacement is empty" SB_DAMAGED);
    cfg->metaspace_prepend = (sb_prepend_scheme)prepend->value;
    return SBERT_OK;
}

/* Which model, normalizer and pre-tokenizer, and the settings of each. */
static int read_stages(sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    const sb_kv_choice *model, *normalizer, *pretokenizer;
    int rc = sb_kv_enum(kv, "tokenizer.model", k_models, &model);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "tokenizer.normalizer", k_normalizers, &normalizer);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "tokenizer.pretokenizer", k_pretokenizers, &pretokenizer);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "pipeline.do_lower_case", &cfg->st_do_lower_case);
    if (rc == SBERT_OK)
        rc = sb_kv_i32(kv, "tokenizer.unk_id", &cfg->unk_id);
    if (rc == SBERT_OK)
        rc = sb_kv_i32(kv, "tokenizer.pad_id", &cfg->pad_id);
    if (rc != SBERT_OK)
        return rc;
    cfg->model = (sb_tok_model)model->value;
    cfg->normalizer = (sb_norm_kind)normalizer->value;
    cfg->pretokenizer = (sb_pretok_kind)pretokenizer->value;

    if (cfg->model == SB_TOK_WORDPIECE)
        rc = read_wordpiece(cfg, kv);
    if (rc == SBERT_OK && cfg->normalizer == SB_NORM_BERT)
        rc = read_bert_normalizer(cfg, kv);
    if (rc == SBERT_OK && cfg->normalizer == SB_NORM_PRECOMPILED)
        rc = read_precompiled(cfg, kv);
    /* whitespace splitting applies Metaspace to each piece (docs/FORMAT.md) */
    if (rc == SBERT_OK && cfg->pretokenizer != SB_PRETOK_BERT)
        rc = read_metaspace(cfg, kv);
    return rc;
}

/* ---- the arrays ------------------------------------------------------------------------------ */

static uint32_t count_of(const sb_kv *e)
{
    return e ? e->count : 0;
}

/* An array key whose count must equal that of another array (`like`, named like_key). */
static int get_parallel_array(const sb_kv_table *kv, const char *key, sb_kv_type type,
                              const sb_kv *like, const char *like_key, const sb_kv **out)
{
    int rc = sb_kv_get(kv, key, type, out);
    if (rc == SBERT_OK && (*out)->count != like->count)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%s has %u entries but %s has %u" SB_DAMAGED,
                       key, (*out)->count, like_key, like->count);
    return rc;
}

static int find_arrays(tok_arrays *a, const sb_tokenizer_config *cfg, uint32_t vocab_size,
                       const sb_kv_table *kv)
{
    int rc = sb_kv_get(kv, "tokenizer.vocab", SB_KV_ARR_STR, &a->vocab);
    if (rc != SBERT_OK)
        return rc;
    /* ids index both the vocabulary and the embedding rows, so the first must not be longer */
    if (a->vocab->count == 0 || a->vocab->count > vocab_size)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "tokenizer.vocab has %u tokens, expected 1 to encoder.vocab_size (%u)"
                       SB_DAMAGED, a->vocab->count, vocab_size);
    rc = sb_kv_get(kv, "tokenizer.prefix_ids", SB_KV_ARR_I32, &a->prefix);
    if (rc == SBERT_OK)
        rc = sb_kv_get(kv, "tokenizer.suffix_ids", SB_KV_ARR_I32, &a->suffix);
    if (rc == SBERT_OK)
        rc = sb_kv_get(kv, "tokenizer.added.content", SB_KV_ARR_STR, &a->added_content);
    if (rc == SBERT_OK)
        rc = get_parallel_array(kv, "tokenizer.added.id", SB_KV_ARR_I32, a->added_content,
                                "tokenizer.added.content", &a->added_id);
    for (int f = 0; f < N_ADDED_FLAGS && rc == SBERT_OK; f++)
        rc = get_parallel_array(kv, k_added_flag_keys[f], SB_KV_ARR_I32, a->added_content,
                                "tokenizer.added.content", &a->added_flags[f]);
    if (rc == SBERT_OK && cfg->model == SB_TOK_UNIGRAM)
        rc = get_parallel_array(kv, "tokenizer.scores", SB_KV_ARR_F32, a->vocab,
                                "tokenizer.vocab", &a->scores);
    if (rc == SBERT_OK && cfg->normalizer == SB_NORM_PRECOMPILED)
        rc = sb_kv_get(kv, "tokenizer.replace.patterns", SB_KV_ARR_STR, &a->replace_patterns);
    if (rc == SBERT_OK && cfg->normalizer == SB_NORM_PRECOMPILED)
        rc = get_parallel_array(kv, "tokenizer.replace.contents", SB_KV_ARR_STR,
                                a->replace_patterns, "tokenizer.replace.patterns",
                                &a->replace_contents);
    return rc;
}

/* tok_owned, carved into these arrays, each starting on a 64-byte boundary. */
enum { VOCAB, ADDED_CONTENT, REPLACE_PATTERNS, REPLACE_CONTENTS, SCORES, PREFIX, SUFFIX, ADDED_ID,
       ADDED_FLAGS, N_PARTS };

static uint64_t round_up_64(uint64_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

static int allocate_parts(sbert_model *m, const tok_arrays *a, void *part[N_PARTS],
                          const sb_err *err)
{
    /* 64-bit sums: counts come from the file, and only the total is checked against SIZE_MAX */
    uint64_t bytes[N_PARTS] = {
        [VOCAB] = (uint64_t)count_of(a->vocab) * sizeof(sb_str),
        [ADDED_CONTENT] = (uint64_t)count_of(a->added_content) * sizeof(sb_str),
        [REPLACE_PATTERNS] = (uint64_t)count_of(a->replace_patterns) * sizeof(sb_str),
        [REPLACE_CONTENTS] = (uint64_t)count_of(a->replace_contents) * sizeof(sb_str),
        [SCORES] = (uint64_t)count_of(a->scores) * sizeof(float),
        [PREFIX] = (uint64_t)count_of(a->prefix) * sizeof(int32_t),
        [SUFFIX] = (uint64_t)count_of(a->suffix) * sizeof(int32_t),
        [ADDED_ID] = (uint64_t)count_of(a->added_id) * sizeof(int32_t),
        [ADDED_FLAGS] = (uint64_t)count_of(a->added_content) * N_ADDED_FLAGS,
    };
    uint64_t total = 0;
    for (int i = 0; i < N_PARTS; i++)
        total += round_up_64(bytes[i]);
    uint8_t *block = sb_alloc_aligned(total);
    if (!block)
        return sb_fail(err, SBERT_ERR_NO_MEMORY,
                       "out of memory for the tokenizer's %llu bytes of tables",
                       (unsigned long long)total);
    m->tok_owned = block;
    for (int i = 0; i < N_PARTS; i++) {
        part[i] = block;
        block += round_up_64(bytes[i]);
    }
    return SBERT_OK;
}

/* Ids from the file index the vocabulary and the embedding rows unchecked later. */
static bool id_in_vocab(int32_t id, uint32_t vocab_size)
{
    return id >= 0 && (uint32_t)id < vocab_size;
}

static int id_outside_vocab(const sb_kv_table *kv, const char *what, int32_t id,
                            uint32_t vocab_size)
{
    return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                   "%s is %d, outside the %u-token vocabulary" SB_DAMAGED, what, id, vocab_size);
}

static int check_id_array(const sb_kv_table *kv, const char *key, const int32_t *ids, uint32_t n,
                          uint32_t vocab_size)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!id_in_vocab(ids[i], vocab_size)) {
            char what[64];
            snprintf(what, sizeof what, "%s[%u]", key, i);
            return id_outside_vocab(kv, what, ids[i], vocab_size);
        }
    }
    return SBERT_OK;
}

static int read_flags(const sb_kv_table *kv, const char *key, const sb_kv *e, uint8_t *dst)
{
    for (uint32_t i = 0; i < e->count; i++) {
        uint32_t v = sb_le32(e->value + 4 * (size_t)i);
        if (v > 1)
            return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%s[%u] is %u, expected 0 or 1"
                           SB_DAMAGED, key, i, v);
        dst[i] = (uint8_t)v;
    }
    return SBERT_OK;
}

static int read_scores(const sb_kv_table *kv, const sb_kv *e, float *scores)
{
    sb_kv_read_f32s(e, scores);
    for (uint32_t i = 0; i < e->count; i++)
        if (!isfinite(scores[i])) /* one NaN would poison every Unigram path through its piece */
            return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                           "tokenizer.scores[%u] is %g, expected a finite log-probability"
                           SB_DAMAGED, i, (double)scores[i]);
    return SBERT_OK;
}

/* Copies the arrays into tok_owned, points the config at them and checks their values. */
static int fill_arrays(sbert_model *m, const tok_arrays *a, const sb_kv_table *kv)
{
    sb_tokenizer_config *cfg = &m->tok_cfg;
    void *part[N_PARTS];
    int rc = allocate_parts(m, a, part, &kv->err);
    if (rc != SBERT_OK)
        return rc;

    sb_kv_read_strs(a->vocab, part[VOCAB]);
    cfg->vocab = part[VOCAB];
    cfg->vocab_size = a->vocab->count;
    sb_kv_read_i32s(a->prefix, part[PREFIX]);
    cfg->prefix_ids = part[PREFIX];
    cfg->n_prefix = a->prefix->count;
    sb_kv_read_i32s(a->suffix, part[SUFFIX]);
    cfg->suffix_ids = part[SUFFIX];
    cfg->n_suffix = a->suffix->count;

    uint32_t n_added = a->added_content->count;
    sb_kv_read_strs(a->added_content, part[ADDED_CONTENT]);
    sb_kv_read_i32s(a->added_id, part[ADDED_ID]);
    cfg->n_added = n_added;
    cfg->added_content = part[ADDED_CONTENT];
    cfg->added_id = part[ADDED_ID];
    uint8_t *flags = part[ADDED_FLAGS];
    const uint8_t **flag_fields[N_ADDED_FLAGS] = {&cfg->added_lstrip, &cfg->added_rstrip,
                                                  &cfg->added_single_word,
                                                  &cfg->added_normalized, &cfg->added_special};
    for (int f = 0; f < N_ADDED_FLAGS && rc == SBERT_OK; f++) {
        rc = read_flags(kv, k_added_flag_keys[f], a->added_flags[f], flags + f * (size_t)n_added);
        *flag_fields[f] = flags + f * (size_t)n_added;
    }

    if (rc == SBERT_OK && a->scores) {
        rc = read_scores(kv, a->scores, part[SCORES]);
        cfg->scores = part[SCORES];
    }
    if (a->replace_patterns) {
        sb_kv_read_strs(a->replace_patterns, part[REPLACE_PATTERNS]);
        sb_kv_read_strs(a->replace_contents, part[REPLACE_CONTENTS]);
        cfg->n_replace = a->replace_patterns->count;
        cfg->replace_pattern = part[REPLACE_PATTERNS];
        cfg->replace_content = part[REPLACE_CONTENTS];
    }
    return rc;
}

static int check_all_ids(const sb_tokenizer_config *cfg, const sb_kv_table *kv)
{
    uint32_t n = cfg->vocab_size;
    if (!id_in_vocab(cfg->unk_id, n))
        return id_outside_vocab(kv, "tokenizer.unk_id", cfg->unk_id, n);
    if (!id_in_vocab(cfg->pad_id, n))
        return id_outside_vocab(kv, "tokenizer.pad_id", cfg->pad_id, n);
    int rc = check_id_array(kv, "tokenizer.prefix_ids", cfg->prefix_ids, cfg->n_prefix, n);
    if (rc == SBERT_OK)
        rc = check_id_array(kv, "tokenizer.suffix_ids", cfg->suffix_ids, cfg->n_suffix, n);
    if (rc == SBERT_OK)
        rc = check_id_array(kv, "tokenizer.added.id", cfg->added_id, cfg->n_added, n);
    return rc;
}

int sb_load_tokenizer(sbert_model *m, const sb_kv_table *kv)
{
    tok_arrays arrays = {0};
    int rc = read_stages(&m->tok_cfg, kv);
    if (rc == SBERT_OK)
        rc = find_arrays(&arrays, &m->tok_cfg, (uint32_t)m->hp.vocab_size, kv);
    if (rc == SBERT_OK)
        rc = fill_arrays(m, &arrays, kv);
    if (rc == SBERT_OK)
        rc = check_all_ids(&m->tok_cfg, kv);
    return rc;
}
