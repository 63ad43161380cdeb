/* A cross-encoder's keys (docs/FORMAT.md, "Cross-encoder files"): its max length, the classifier
 * (labels, activation, the head's shapes) and the tokenizer's pair template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_file_internal.h"

#define MAX_LABELS (1u << 16)

/* NUL-terminated copies of the labels in one allocation: labels[n], then the strings. */
static int copy_labels(sb_classifier *c, const sb_kv *e, const sb_err *err)
{
    const size_t n = e->count;
    sb_str *strings = calloc(n, sizeof *strings);
    if (!strings)
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory reading %zu labels", n);
    sb_kv_read_strs(e, strings);
    uint64_t bytes = (uint64_t)n * sizeof(char *);
    int rc = SBERT_OK;
    for (size_t i = 0; i < n && rc == SBERT_OK; i++) {
        bytes += (uint64_t)strings[i].len + 1;
        if (memchr(strings[i].ptr, '\0', strings[i].len)) /* it would cut the C string short */
            rc = sb_fail(err, SBERT_ERR_CORRUPT, "classifier.labels[%zu] contains a NUL byte"
                         SB_DAMAGED, i);
    }
    char **block = rc == SBERT_OK && bytes <= SIZE_MAX ? malloc((size_t)bytes) : NULL;
    if (rc == SBERT_OK && !block)
        rc = sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory copying %zu labels", n);
    if (rc == SBERT_OK) {
        char *next = (char *)(block + n);
        for (size_t i = 0; i < n; i++) {
            block[i] = next;
            if (strings[i].len)
                memcpy(next, strings[i].ptr, strings[i].len);
            next[strings[i].len] = '\0';
            next += strings[i].len + 1;
        }
        c->labels = block;
    }
    free(strings);
    return rc;
}

int sb_load_classifier(sbert_model *m, const sb_kv_table *kv)
{
    sb_classifier *c = &m->classifier;
    uint32_t max_seq_length, n_labels;
    const sb_kv *labels;
    const sb_kv_choice *act;
    int rc = sb_kv_u32(kv, "pipeline.max_seq_length", 1, UINT32_MAX, &max_seq_length);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, "classifier.num_labels", 1, MAX_LABELS, &n_labels);
    if (rc == SBERT_OK)
        rc = sb_kv_get(kv, "classifier.labels", SB_KV_ARR_STR, &labels);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "classifier.activation", sb_kv_activations, &act);
    if (rc != SBERT_OK)
        return rc;
    if (labels->count != n_labels)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%u classifier.labels for %u labels"
                       SB_DAMAGED, labels->count, n_labels);
    if ((rc = copy_labels(c, labels, &kv->err)) != SBERT_OK)
        return rc;
    c->n_labels = (int)n_labels;
    c->activation = (sb_activation)act->value;
    const int h = m->hp.hidden;
    c->dense = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = h, .n_in = h};
    c->out_proj = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = (int)n_labels, .n_in = h};
    m->max_seq_length = sb_usable_length(m, max_seq_length);
    m->dim = 0;
    m->default_prompt = -1; /* no prompts */
    return SBERT_OK;
}

/* One part of the template: its ids (in the vocabulary) and their types (in the type table). */
static int read_template_part(sbert_model *m, const sb_kv_table *kv, int part)
{
    static const char *const names[3] = {"prefix", "middle", "suffix"};
    char ids_key[48], types_key[48];
    snprintf(ids_key, sizeof ids_key, "tokenizer.pair.%s_ids", names[part]);
    snprintf(types_key, sizeof types_key, "tokenizer.pair.%s_type_ids", names[part]);
    const sb_kv *ids, *types;
    int rc = sb_kv_get(kv, ids_key, SB_KV_ARR_I32, &ids);
    if (rc == SBERT_OK)
        rc = sb_kv_get(kv, types_key, SB_KV_ARR_I32, &types);
    if (rc != SBERT_OK)
        return rc;
    if (ids->count != types->count)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%u %s but %u %s" SB_DAMAGED, ids->count,
                       ids_key, types->count, types_key);
    if (ids->count > SB_MAX_PAIR_SPECIALS)
        return sb_fail(&kv->err, SBERT_ERR_UNSUPPORTED, "%s holds %u special tokens, this "
                       "libsbert allows %d", ids_key, ids->count, SB_MAX_PAIR_SPECIALS);
    sb_classifier *c = &m->classifier;
    sb_kv_read_i32s(ids, c->pair_ids[part]);
    sb_kv_read_i32s(types, c->pair_types[part]);
    for (uint32_t i = 0; i < ids->count; i++) {
        if (c->pair_ids[part][i] < 0 || (uint32_t)c->pair_ids[part][i] >= m->tok_cfg.vocab_size)
            return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%s[%u] is %d, outside the %u-token "
                           "vocabulary" SB_DAMAGED, ids_key, i, c->pair_ids[part][i],
                           m->tok_cfg.vocab_size);
        if (c->pair_types[part][i] < 0 || c->pair_types[part][i] >= m->hp.type_vocab_size)
            return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "%s[%u] is %d, outside the %d token "
                           "types" SB_DAMAGED, types_key, i, c->pair_types[part][i],
                           m->hp.type_vocab_size);
    }
    sb_tokenizer_config *cfg = &m->tok_cfg;
    cfg->pair_ids[part] = c->pair_ids[part];
    cfg->pair_types[part] = c->pair_types[part];
    cfg->n_pair[part] = ids->count;
    return SBERT_OK;
}

int sb_load_pair_template(sbert_model *m, const sb_kv_table *kv)
{
    sb_tokenizer_config *cfg = &m->tok_cfg;
    uint32_t a_type, b_type;
    const uint32_t types = (uint32_t)m->hp.type_vocab_size - 1;
    int rc = SBERT_OK;
    for (int part = 0; part < 3 && rc == SBERT_OK; part++)
        rc = read_template_part(m, kv, part);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, "tokenizer.pair.a_type_id", 0, types, &a_type);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, "tokenizer.pair.b_type_id", 0, types, &b_type);
    if (rc != SBERT_OK)
        return rc;
    cfg->pair_a_type = (int32_t)a_type;
    cfg->pair_b_type = (int32_t)b_type;
    cfg->has_pair = true;
    const size_t specials = (size_t)cfg->n_pair[0] + cfg->n_pair[1] + cfg->n_pair[2];
    if (m->max_seq_length < specials)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "pipeline.max_seq_length %zu is shorter than "
                       "the pair template's %zu special tokens" SB_DAMAGED, m->max_seq_length,
                       specials);
    return SBERT_OK;
}
