/* libFuzzer target for the model loader: any bytes given to sbert_model_load_from_memory() must be
 * refused with a status, or give a model whose every tensor and tokenizer table can be read in
 * full. Reading the first and last element of each lets AddressSanitizer check both the pointer
 * and the extent the loader validated.
 *
 * Nearly every mutation breaks the header's CRC-32, and the loader would stop there; so the input
 * is sealed again (its checksum recomputed, as a writer would) before loading, and the mutations
 * reach the validators behind the checksum. tests/test_model_file.c tests the checksum itself.
 *
 * `make fuzz` builds and runs it (FUZZ_SECONDS, new inputs in build-fuzz/corpus/loader/) from the
 * seeds in tests/fuzz/corpus/loader/: three valid few-kilobyte models (f32, f16, int8) written by
 * tests/fuzz/make_seed.py, so mutations start from files that pass every check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/crc32.h"
#include "model/model.h"
#include "sbert.h"

enum { HEADER_SIZE = 96, DATA_OFFSET_AT = 72, CHECKSUM_AT = 88 };

static float touch(const float *p, size_t n)
{
    return n ? p[0] + p[n - 1] : 0.0f;
}

/* The first and last byte of n elements of `format`. */
static float touch_elements(const void *p, size_t n, sb_weight_format format)
{
    const uint8_t *bytes = p;
    return n ? (float)(bytes[0] + bytes[n * sb_weight_bytes(format) - 1]) : 0.0f;
}

/* A PANEL16 weight holds ceil(n_out / 16) whole panels of n_in x 16 elements (I8: PANEL16_Q4
 * panels of sb_panel_bytes(), with n_out scales and column sums). */
static float touch_linear(const sb_linear *l)
{
    size_t panels = ((size_t)l->n_out + SB_PANEL - 1) / SB_PANEL;
    float sum = touch_elements(l->weight, panels * sb_panel_bytes(l) / sb_weight_bytes(l->format),
                               l->format);
    if (l->format == SB_WEIGHTS_I8)
        sum += touch(l->scale, (size_t)l->n_out) + (float)(l->col_sum[0] + l->col_sum[l->n_out - 1]);
    return l->bias ? sum + touch(l->bias, (size_t)l->n_out) : sum;
}

static float touch_weights(const sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    size_t H = (size_t)hp->hidden;
    float sum = touch_elements(m->word_emb, (size_t)hp->vocab_size * H, m->word_emb_format) +
                touch(m->pos_emb, (size_t)hp->max_positions * H) +
                touch(m->type_emb, (size_t)hp->type_vocab_size * H) + touch(m->emb_ln_w, H) +
                touch(m->emb_ln_b, H);
    for (int l = 0; l < hp->n_layers; l++) {
        const sb_layer *ly = &m->layers[l];
        sum += touch_linear(&ly->qkv) + touch_linear(&ly->attn_out) + touch_linear(&ly->ffn_up) +
               touch_linear(&ly->ffn_down) + touch(ly->attn_ln_w, H) + touch(ly->attn_ln_b, H) +
               touch(ly->ffn_ln_w, H) + touch(ly->ffn_ln_b, H);
    }
    for (int j = 0; j < m->n_dense; j++)
        sum += touch_linear(&m->dense[j].linear);
    return sum;
}

static unsigned touch_strings(const sb_str *s, uint32_t n)
{
    unsigned sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += s[i].len ? (unsigned char)s[i].ptr[0] + (unsigned char)s[i].ptr[s[i].len - 1] : 0;
    return sum;
}

/* Every array of the tokenizer config, and each id used as an index into the vocabulary. */
static unsigned touch_tokenizer(const sb_tokenizer_config *c)
{
    unsigned sum = touch_strings(c->vocab, c->vocab_size) +
                   touch_strings(c->added_content, c->n_added) +
                   touch_strings(c->replace_pattern, c->n_replace) +
                   touch_strings(c->replace_content, c->n_replace);
    for (uint32_t i = 0; i < c->n_prefix; i++)
        sum += c->vocab[c->prefix_ids[i]].len;
    for (uint32_t i = 0; i < c->n_suffix; i++)
        sum += c->vocab[c->suffix_ids[i]].len;
    for (uint32_t i = 0; i < c->n_added; i++)
        sum += c->vocab[c->added_id[i]].len + c->added_lstrip[i] + c->added_rstrip[i] +
               c->added_single_word[i] + c->added_normalized[i] + c->added_special[i];
    if (c->scores)
        sum += touch(c->scores, c->vocab_size) > 0.0f;
    const uint8_t *charsmap = c->precompiled_charsmap;
    if (c->precompiled_charsmap_len)
        sum += charsmap[0] + charsmap[c->precompiled_charsmap_len - 1];
    return sum + c->vocab[c->unk_id].len + c->vocab[c->pad_id].len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CRC-32 of [0, data_offset) with the checksum field zero, stored in that field
 * (docs/FORMAT.md), when the header is long enough and its data_offset lies inside the input. */
static void seal(uint8_t *p, size_t size)
{
    if (size < HEADER_SIZE)
        return;
    uint64_t data_offset = 0;
    for (int i = 7; i >= 0; i--)
        data_offset = data_offset << 8 | p[DATA_OFFSET_AT + i];
    if (data_offset < HEADER_SIZE || data_offset > size)
        return;
    memset(p + CHECKSUM_AT, 0, 4);
    uint32_t crc = sb_crc32(0, p, (size_t)data_offset);
    for (int i = 0; i < 4; i++)
        p[CHECKSUM_AT + i] = (uint8_t)(crc >> 8 * i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *sealed = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
    if (!sealed)
        return 0;
    memcpy(sealed, data, size);
    seal(sealed, size);

    sbert_model *model = NULL;
    char err[256];
    if (sbert_model_load_from_memory(sealed, size, &model, err, sizeof err) == SBERT_OK) {
        volatile float weights = touch_weights(model);
        volatile unsigned tokenizer = touch_tokenizer(&model->tok_cfg);
        (void)weights;
        (void)tokenizer;
        sbert_model_free(model);
    }
    free(sealed);
    return 0;
}
