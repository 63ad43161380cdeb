/* The .sbert loader (libsbert/model_file*.c), the CRC-32 and the F16/BF16 conversion.
 *
 * Good files: the converted test models ($BUILD/models/{ko-tiny,minilm-tiny,xlmr-tiny}.sbert)
 * load through every path (mmap, read, prefault, aligned and unaligned memory) with the
 * hyper-parameters of their Hugging Face configs, hard-coded below as facts of the test data, and
 * weights equal to the safetensors values (PANEL16 order and the fused QKV included). The seed
 * files of tests/fuzz/corpus/loader (made by tests/fuzz/make_seed.py) add a Dense module, prompts
 * and F16.
 *
 * Damaged files, built in memory: every truncation of the header and tables (and a sample of the
 * data), truncations with the header patched to match, every single-bit flip of the header and
 * tables with and without the checksum recomputed, random multi-byte damage, garbage, and targeted
 * edits (magic, version, offsets, overlaps, shapes, keys, ids). Each must be refused with a status
 * and a message, leave the model zeroed, and never crash; make test-asan runs the same under
 * AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/crc32.h"
#include "harness.h"
#include "kernels/kernels.h"
#include "model/model.h"

/* ---- file bytes ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *data; /* 64-byte aligned, so sb_model_file_from_memory uses it in place */
    size_t size;
} file_buf;

static file_buf read_whole(const char *path)
{
    file_buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = aligned_alloc(64, ((size_t)size + 64) / 64 * 64);
    b.size = fread(b.data, 1, (size_t)size, f);
    fclose(f);
    return b;
}

static file_buf read_model(const char *name)
{
    char path[512];
    const char *build = getenv("BUILD");
    snprintf(path, sizeof path, "%s/models/%s.sbert", build ? build : "build", name);
    file_buf b = read_whole(path);
    CHECK(b.size > 0, "cannot read %s (make builds it from tests/data/models)", path);
    return b;
}

static file_buf read_seed(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "tests/fuzz/corpus/loader/%s.sbert", name);
    file_buf b = read_whole(path);
    CHECK(b.size > 0, "cannot read %s (tests/fuzz/make_seed.py writes it)", path);
    return b;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)get_le(p, 4); }
static uint64_t get64(const uint8_t *p) { return get_le(p, 8); }
static void put32(uint8_t *p, uint32_t v) { put_le(p, v, 4); }
static void put64(uint8_t *p, uint64_t v) { put_le(p, v, 8); }

/* Header field offsets (docs/FORMAT.md, "Header"). */
enum { H_VERSION = 8, H_FILE_SIZE = 16, H_KV_SIZE = 32, H_N_KV = 40, H_TABLE_OFFSET = 48,
       H_TABLE_SIZE = 56, H_N_TENSORS = 64, H_DATA_OFFSET = 72, H_DATA_SIZE = 80,
       H_CHECKSUM = 88 };

static uint64_t data_offset(const file_buf *b) { return get64(b->data + H_DATA_OFFSET); }

/* Recomputes the checksum the way docs/FORMAT.md states it, so that damage gets past the CRC and
 * reaches the deeper checks. A header whose data_offset lies outside the buffer is left as is. */
static void reseal(uint8_t *p, size_t size)
{
    if (size < 96)
        return;
    uint64_t end = get64(p + H_DATA_OFFSET);
    if (end < 96 || end > size)
        return;
    put32(p + H_CHECKSUM, 0);
    put32(p + H_CHECKSUM, sb_crc32(0, p, (size_t)end));
}

/* The offset of the type field of `key`'s entry, or 0. An independent walk of the key/value
 * section: the test must not trust the code it tests. */
static size_t find_key(const file_buf *b, const char *key)
{
    size_t at = 96, n = (size_t)get64(b->data + H_N_KV);
    for (size_t i = 0; i < n; i++) {
        uint32_t key_len = get32(b->data + at);
        const char *k = (const char *)b->data + at + 4;
        size_t type_at = at + 4 + key_len;
        uint32_t type = get32(b->data + type_at), count = get32(b->data + type_at + 4);
        at = type_at + 4;
        if (type <= 4)
            at += 4;
        else if (type == 5 || type == 9)
            at += 4 + (size_t)count;
        else if (type == 6 || type == 7)
            at += 4 + 4 * (size_t)count;
        else
            for (at += 4; count-- > 0;)
                at += 4 + get32(b->data + at);
        if (key_len == strlen(key) && memcmp(k, key, key_len) == 0)
            return type_at;
    }
    return 0;
}

typedef struct {
    size_t name, dims, offset, nbytes; /* file offsets of the entry's fields */
} tensor_fields;

static bool find_tensor(const file_buf *b, const char *name, tensor_fields *t)
{
    size_t at = (size_t)get64(b->data + H_TABLE_OFFSET), n = (size_t)get64(b->data + H_N_TENSORS);
    for (size_t i = 0; i < n; i++) {
        uint32_t name_len = get32(b->data + at);
        t->name = at + 4;
        size_t n_dims_at = t->name + name_len + 8;
        t->dims = n_dims_at + 4;
        t->offset = t->dims + 8 * (size_t)get32(b->data + n_dims_at);
        t->nbytes = t->offset + 8;
        if (name_len == strlen(name) && memcmp(b->data + t->name, name, name_len) == 0)
            return true;
        at = t->nbytes + 8;
    }
    return false;
}

/* ---- loading --------------------------------------------------------------------------------- */

static bool is_zeroed(const sbert_model *m)
{
    static const sbert_model zero;
    return memcmp(m, &zero, sizeof zero) == 0;
}

static bool aligned64(const void *p) { return p && (uintptr_t)p % 64 == 0; }

/* What the engine and tokenizer rely on without checking, for any model that loads. */
static bool usable(const sbert_model *m)
{
    const bool types_ok = m->hp.type_vocab_size == 0 ? !m->type_emb : aligned64(m->type_emb);
    const bool rel_ok = (m->hp.rel_buckets > 0) == (m->rel_bias != NULL) &&
                        (!m->rel_bias || aligned64(m->rel_bias));
    bool ok = aligned64(m->word_emb) && aligned64(m->pos_emb) && types_ok && rel_ok &&
              m->emb_ln_w && m->emb_ln_b && m->layers && m->dim > 0 && m->max_seq_length > 0 &&
              m->max_seq_length + (size_t)m->hp.position_offset <= (size_t)m->hp.max_positions;
    for (int l = 0; ok && l < m->hp.n_layers; l++) {
        const sb_layer *ly = &m->layers[l];
        ok = aligned64(ly->qkv.weight) && ly->qkv.bias && aligned64(ly->attn_out.weight) &&
             ly->attn_out.bias && ly->attn_ln_w && ly->attn_ln_b && aligned64(ly->ffn_up.weight) &&
             ly->ffn_up.bias && aligned64(ly->ffn_down.weight) && ly->ffn_down.bias &&
             ly->ffn_ln_w && ly->ffn_ln_b;
    }
    for (int j = 0; ok && j < m->n_dense; j++)
        ok = aligned64(m->dense[j].linear.weight);
    const sb_tokenizer_config *c = &m->tok_cfg;
    ok = ok && c->vocab && c->vocab_size >= 1 && c->vocab_size <= (uint32_t)m->hp.vocab_size &&
         c->unk_id >= 0 && (uint32_t)c->unk_id < c->vocab_size;
    for (uint32_t i = 0; ok && i < c->n_prefix; i++)
        ok = c->prefix_ids[i] >= 0 && (uint32_t)c->prefix_ids[i] < c->vocab_size;
    return ok;
}

/* Tally of one class of damaged inputs. */
typedef struct {
    char name[96];
    bool in_place; /* pass the aligned buffer itself rather than an unaligned copy */
    int cases, refused, accepted, bad; /* bad: refused without a message or a zeroed model, or
                                          accepted but not usable */
} tally;

static tally new_tally(const char *what, const char *label, bool in_place)
{
    tally t = {.in_place = in_place};
    snprintf(t.name, sizeof t.name, "%s %s", what, label);
    return t;
}

/* Unless t->in_place, the input is passed unaligned, so the loader makes its own copy of exactly
 * `size` bytes and AddressSanitizer reports any read past the end. In place is for inputs refused
 * before their end matters, and for ko-tiny, too large to copy thousands of times. */
static int try_load(tally *t, const uint8_t *data, size_t size)
{
    uint8_t *unaligned = NULL;
    if (!t->in_place) {
        unaligned = malloc(size + 1);
        data = memcpy(unaligned + 1, data, size);
    }
    sbert_model m;
    char err[256] = "unchanged";
    int rc = sb_model_file_from_memory(&m, data, size, err, sizeof err);
    t->cases++;
    if (rc == SBERT_OK) {
        t->accepted++;
        t->bad += !usable(&m) || err[0] != '\0';
        sb_model_file_close(&m);
    } else {
        t->refused++;
        t->bad += rc >= 0 || !is_zeroed(&m) || err[0] == '\0';
    }
    free(unaligned);
    return rc;
}

static void report(const tally *t, bool all_refused)
{
    printf("  %-58s %7d cases: %7d refused, %5d accepted\n", t->name, t->cases, t->refused,
           t->accepted);
    CHECK(t->cases > 0, "%s: no cases", t->name);
    CHECK(t->bad == 0, "%s: %d results without a message, a zeroed model or a usable model",
          t->name, t->bad);
    if (all_refused)
        CHECK(t->accepted == 0, "%s: %d damaged files accepted", t->name, t->accepted);
}

/* Loads b from an unaligned copy (so the loader copies exactly b->size bytes and AddressSanitizer
 * sees any read past them) and returns the status; the message goes to err. */
static int load_exact_copy(const file_buf *b, char *err, size_t err_size)
{
    uint8_t *unaligned = malloc(b->size + 1);
    memcpy(unaligned + 1, b->data, b->size);
    sbert_model m;
    int rc = sb_model_file_from_memory(&m, unaligned + 1, b->size, err, err_size);
    if (rc == SBERT_OK)
        sb_model_file_close(&m);
    free(unaligned);
    return rc;
}

/* ---- CRC-32 and conversions ------------------------------------------------------------------ */

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static void test_crc32(void)
{
    CHECK(sb_crc32(0, "123456789", 9) == 0xCBF43926u, "the standard check value");
    CHECK(sb_crc32(0, "", 0) == 0, "empty input");
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n += 37) {
        CHECK(sb_crc32(0, buf, n) == crc32_bitwise(buf, n), "length %zu", n);
        size_t half = n / 3;
        CHECK(sb_crc32(sb_crc32(0, buf, half), buf + half, n - half) == sb_crc32(0, buf, n),
              "chained at %zu of %zu", half, n);
    }
}

/* binary16 -> double by its definition, independent of the bit manipulation under test. */
static double f16_reference(uint16_t h)
{
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double magnitude = exponent == 0    ? ldexp(mantissa, -24)
                       : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                        : ldexp(1024 + mantissa, exponent - 25);
    return sign ? -magnitude : magnitude;
}

static void test_conversions(void)
{
    static uint16_t all[65536];
    static float out[65536];
    for (int i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    sb_f16_to_f32(all, out, 65536);
    int wrong = 0;
    for (int i = 0; i < 65536; i++) {
        double want = f16_reference((uint16_t)i);
        bool same = isnan(want) ? isnan(out[i])
                                : (double)out[i] == want && !signbit(out[i]) == !signbit(want);
        wrong += !same;
    }
    CHECK(wrong == 0, "%d of the 65536 F16 values convert wrongly", wrong);
    uint32_t bits;
    memcpy(&bits, &out[0x7e01], 4);
    CHECK(bits == 0x7fc02000u, "a quiet NaN keeps its payload: 0x%08x", bits);
    CHECK(out[0x0001] == 0x1p-24f && out[0x03ff] == 0x3ffp-24f, "subnormals");
    CHECK(out[0x3c00] == 1.0f && out[0xc000] == -2.0f && out[0x7bff] == 65504.0f, "normals");

    sb_bf16_to_f32(all, out, 65536);
    wrong = 0;
    for (int i = 0; i < 65536; i++) {
        memcpy(&bits, &out[i], 4);
        wrong += bits != (uint32_t)i << 16;
    }
    CHECK(wrong == 0, "%d of the 65536 BF16 values convert wrongly", wrong);
}

/* ---- good files ------------------------------------------------------------------------------ */

/* The F32 values of one tensor of a safetensors file, found by a plain search of its JSON header
 * (enough for the test models, whose header this test controls). */
static const float *safetensors_data(const file_buf *st, const char *name)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\"", name);
    uint64_t header_len = get64(st->data);
    char *json = strndup((const char *)st->data + 8, (size_t)header_len);
    char *entry = strstr(json, quoted), *offsets = entry ? strstr(entry, "data_offsets") : NULL;
    unsigned long long begin = 0;
    bool found = offsets && sscanf(offsets, "data_offsets\":[%llu", &begin) == 1;
    free(json);
    CHECK(found, "tensor %s not in the safetensors header", name);
    return found ? (const float *)(st->data + 8 + header_len + begin) : NULL;
}

/* W[n][k] of a PANEL16 Linear weight with K inputs (docs/FORMAT.md, "Tensor table"). */
static float panel_at(const float *w, int k_size, int n, int k)
{
    return w[((size_t)(n / 16) * k_size + k) * 16 + n % 16];
}

/* The weights the loader points at are the checkpoint's, in the documented orders. */
static void check_weights_against_checkpoint(const sbert_model *m, const char *model_dir)
{
    char path[512];
    snprintf(path, sizeof path, "tests/data/models/%s/model.safetensors", model_dir);
    file_buf st = read_whole(path);
    CHECK(st.size > 0, "cannot read %s", path);
    if (st.size == 0)
        return;
    int H = m->hp.hidden, I = m->hp.intermediate, last = m->hp.n_layers - 1;
    const float *word = safetensors_data(&st, "embeddings.word_embeddings.weight");
    const float *pos = safetensors_data(&st, "embeddings.position_embeddings.weight");
    const float *key = safetensors_data(&st, m->arch == SB_ARCH_MPNET
                                                 ? "encoder.layer.0.attention.attn.k.weight"
                                                 : "encoder.layer.0.attention.self.key.weight");
    char name[96];
    snprintf(name, sizeof name, "encoder.layer.%d.output.dense.weight", last);
    const float *down = safetensors_data(&st, name);
    snprintf(name, sizeof name, "encoder.layer.%d.output.LayerNorm.bias", last);
    const float *ln_b = safetensors_data(&st, name);
    if (word && pos && key && down && ln_b) {
        size_t V = (size_t)m->hp.vocab_size, P = (size_t)m->hp.max_positions;
        CHECK(memcmp(m->word_emb, word, V * H * 4) == 0, "word embeddings");
        CHECK(memcmp(m->pos_emb, pos, P * H * 4) == 0, "position embeddings");
        CHECK(memcmp(m->layers[last].ffn_ln_b, ln_b, H * 4) == 0, "a LayerNorm bias");
        int wrong = 0;
        for (int n = 0; n < H; n++)
            for (int k = 0; k < H; k++) /* key rows follow the H query rows */
                wrong += panel_at(m->layers[0].qkv.weight, H, H + n, k) != key[n * H + k];
        for (int n = 0; n < H; n++)
            for (int k = 0; k < I; k++)
                wrong += panel_at(m->layers[last].ffn_down.weight, I, n, k) != down[n * I + k];
        CHECK(wrong == 0, "%d PANEL16 elements differ from the checkpoint", wrong);
    }
    if (m->rel_bias) {
        const float *rel = safetensors_data(&st, "encoder.relative_attention_bias.weight");
        CHECK(rel && memcmp(m->rel_bias, rel, (size_t)m->hp.rel_buckets * m->hp.n_heads * 4) == 0,
              "relative-position bias");
    }
    free(st.data);
}

static bool str_is(sb_str s, const char *c_string)
{
    return s.len == strlen(c_string) && memcmp(s.ptr, c_string, s.len) == 0;
}

static void check_ko_tiny(const sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    CHECK(m->arch == SB_ARCH_ROBERTA && strcmp(m->arch_name, "roberta") == 0, "%s", m->arch_name);
    CHECK(strcmp(m->name, "random-ko-sroberta-seed11") == 0, "name %s", m->name);
    CHECK(hp->vocab_size == 32000 && hp->hidden == 64 && hp->n_layers == 2 && hp->n_heads == 4 &&
          hp->intermediate == 128 && hp->max_positions == 514 && hp->type_vocab_size == 1,
          "sizes V %d H %d L %d heads %d I %d P %d T %d", hp->vocab_size, hp->hidden,
          hp->n_layers, hp->n_heads, hp->intermediate, hp->max_positions, hp->type_vocab_size);
    CHECK(hp->layer_norm_eps == 1e-5f && hp->act == SB_ACT_GELU_ERF, "eps %g act %d",
          (double)hp->layer_norm_eps, hp->act);
    CHECK(hp->pad_token_id == 1 && hp->position_offset == 2, "pad %d offset %d",
          hp->pad_token_id, hp->position_offset);
    CHECK(m->max_seq_length == 128 && m->dim == 64 && m->n_dense == 0 && !m->normalize,
          "max_seq_length %zu dim %zu dense %d normalize %d", m->max_seq_length, m->dim,
          m->n_dense, m->normalize);
    CHECK(m->pooling.mean && !m->pooling.cls && !m->pooling.max && !m->pooling.mean_sqrt_len &&
          m->pooling.include_prompt, "mean pooling");
    CHECK(m->similarity == SBERT_SIMILARITY_COSINE && m->n_prompts == 0 && m->default_prompt == -1,
          "similarity %d prompts %zu", m->similarity, m->n_prompts);
    CHECK(m->layers[1].ffn_down.n_out == 64 && m->layers[1].ffn_down.n_in == 128 &&
          m->layers[0].qkv.n_out == 192 && m->layers[0].qkv.n_in == 64, "Linear sizes");

    const sb_tokenizer_config *c = &m->tok_cfg;
    CHECK(c->model == SB_TOK_WORDPIECE && c->vocab_size == 32000, "vocab %u", c->vocab_size);
    CHECK(str_is(c->vocab[0], "[CLS]") && str_is(c->vocab[3], "[UNK]"), "vocab strings");
    CHECK(c->unk_id == 3 && c->pad_id == 1, "unk %d pad %d", c->unk_id, c->pad_id);
    CHECK(c->n_prefix == 1 && c->prefix_ids[0] == 0 && c->n_suffix == 1 && c->suffix_ids[0] == 2,
          "[CLS] ... [SEP]");
    CHECK(c->n_added == 5 && str_is(c->added_content[1], "[PAD]") && c->added_id[1] == 1 &&
          c->added_special[1] == 1 && c->added_lstrip[1] == 0, "added tokens");
    CHECK(str_is(c->wp_prefix, "##") && c->wp_max_input_chars_per_word == 100, "wordpiece");
    CHECK(c->normalizer == SB_NORM_BERT && c->bert_clean_text && c->bert_handle_chinese_chars &&
          !c->bert_lowercase && !c->bert_strip_accents, "BERT normalizer, cased");
    CHECK(c->pretokenizer == SB_PRETOK_BERT && !c->st_do_lower_case && !c->scores, "stages");
}

static void check_minilm_tiny(const sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    CHECK(m->arch == SB_ARCH_BERT && strcmp(m->arch_name, "bert") == 0, "%s", m->arch_name);
    CHECK(hp->vocab_size == 30522 && hp->hidden == 64 && hp->n_layers == 2 && hp->n_heads == 4 &&
          hp->intermediate == 128 && hp->max_positions == 512 && hp->type_vocab_size == 2,
          "sizes");
    CHECK(hp->layer_norm_eps == 1e-12f && hp->pad_token_id == 0 && hp->position_offset == 0,
          "eps %g pad %d offset %d", (double)hp->layer_norm_eps, hp->pad_token_id,
          hp->position_offset);
    CHECK(m->max_seq_length == 256 && m->dim == 64 && m->normalize && m->pooling.mean,
          "max_seq_length %zu dim %zu normalize %d", m->max_seq_length, m->dim, m->normalize);
    const sb_tokenizer_config *c = &m->tok_cfg;
    CHECK(c->vocab_size == 30522 && c->unk_id == 100 && c->pad_id == 0, "vocab, unk, pad");
    CHECK(c->n_prefix == 1 && c->prefix_ids[0] == 101 && c->n_suffix == 1 &&
          c->suffix_ids[0] == 102, "[CLS] ... [SEP]");
    CHECK(c->bert_lowercase && c->bert_strip_accents, "uncased: strip_accents follows lowercase");
}

static void check_xlmr_tiny(const sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    CHECK(m->arch == SB_ARCH_XLM_ROBERTA && strcmp(m->arch_name, "xlm-roberta") == 0, "%s",
          m->arch_name);
    CHECK(hp->vocab_size == 96002 && hp->hidden == 32 && hp->n_layers == 2 && hp->n_heads == 2 &&
          hp->intermediate == 64 && hp->max_positions == 514 && hp->type_vocab_size == 1,
          "sizes");
    CHECK(hp->pad_token_id == 1 && hp->position_offset == 2 && m->max_seq_length == 128 &&
          m->dim == 32 && m->pooling.mean, "pad %d offset %d", hp->pad_token_id,
          hp->position_offset);
    const sb_tokenizer_config *c = &m->tok_cfg;
    CHECK(c->model == SB_TOK_UNIGRAM && c->vocab_size == 96002 && str_is(c->vocab[5], ".") &&
          c->scores && c->scores[5] == -3.1310248374938965f, "Unigram vocabulary and scores");
    CHECK(c->unk_id == 3 && c->pad_id == 1 && c->prefix_ids[0] == 0 && c->suffix_ids[0] == 2 &&
          c->n_added == 5 && c->added_id[4] == 96001 && str_is(c->added_content[4], "<mask>"),
          "special tokens");
    CHECK(c->normalizer == SB_NORM_PRECOMPILED && c->precompiled_charsmap_len > 0 &&
          c->n_replace == 1 && str_is(c->replace_pattern[0], "  +") &&
          str_is(c->replace_content[0], " "), "Precompiled, then Replace(' {2,}', ' ')");
    CHECK(c->pretokenizer == SB_PRETOK_METASPACE &&
          str_is(c->metaspace_replacement, "\xe2\x96\x81") &&
          c->metaspace_prepend == SB_PREPEND_ALWAYS && c->metaspace_split, "Metaspace");
}

static void check_mpnet_tiny(const sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    CHECK(m->arch == SB_ARCH_MPNET && strcmp(m->arch_name, "mpnet") == 0, "%s", m->arch_name);
    CHECK(hp->vocab_size == 30527 && hp->hidden == 32 && hp->n_layers == 2 && hp->n_heads == 2 &&
          hp->intermediate == 64 && hp->max_positions == 514 && hp->type_vocab_size == 0 &&
          !m->type_emb, "sizes, no token types");
    CHECK(hp->rel_buckets == 32 && hp->rel_max_distance == 128 && m->rel_bias,
          "relative positions: %d buckets, max distance %d", hp->rel_buckets,
          hp->rel_max_distance);
    CHECK(hp->pad_token_id == 1 && hp->position_offset == 2 && m->max_seq_length == 384 &&
          m->dim == 32 && m->pooling.mean && m->normalize, "pad %d offset %d", hp->pad_token_id,
          hp->position_offset);
    const sb_tokenizer_config *c = &m->tok_cfg;
    CHECK(c->model == SB_TOK_WORDPIECE && c->vocab_size == 30527 && c->unk_id == 104 &&
          c->pad_id == 1 && c->prefix_ids[0] == 0 && c->suffix_ids[0] == 2, "<s> A </s>, [UNK]");
    CHECK(c->n_added == 6 && str_is(c->added_content[5], "<mask>") && c->added_lstrip[5] == 1,
          "<mask> strips its left");
    CHECK(c->normalizer == SB_NORM_BERT && c->bert_lowercase && c->bert_strip_accents,
          "BERT normalizer, uncased");
}

/* Every way in gives the same model; the weights are used in place when they can be. */
static void test_load_paths(const char *name, void (*check)(const sbert_model *))
{
    char path[512], err[256];
    const char *build = getenv("BUILD");
    snprintf(path, sizeof path, "%s/models/%s.sbert", build ? build : "build", name);
    file_buf b = read_model(name);
    if (!b.size)
        return;
    const sbert_model_params modes[3] = {{1, 0}, {1, 1}, {0, 0}};
    for (int i = 0; i < 3; i++) {
        sbert_model m;
        int rc = sb_model_file_open(&m, path, &modes[i], err, sizeof err);
        CHECK(rc == SBERT_OK, "%s mmap %d prefault %d: %s", name, modes[i].use_mmap,
              modes[i].prefault, err);
        if (rc != SBERT_OK)
            continue;
        check(&m);
        CHECK(usable(&m) && m.file_is_mapped == (modes[i].use_mmap != 0) && !m.owned_f32,
              "mapped %d", m.file_is_mapped);
        CHECK((const uint8_t *)m.word_emb > m.file_data &&
              (const uint8_t *)m.word_emb < m.file_data + m.file_size, "F32 weights in place");
        CHECK(memcmp(m.word_emb, b.data + ((const uint8_t *)m.word_emb - m.file_data), 4096) == 0,
              "same bytes as the file");
        if (i == 0)
            check_weights_against_checkpoint(&m, name);
        sb_model_file_close(&m);
        CHECK(is_zeroed(&m), "close zeroes the model");
    }

    /* from memory: in place when 64-byte aligned, else copied */
    uint8_t *unaligned = malloc(b.size + 1);
    memcpy(unaligned + 1, b.data, b.size);
    const uint8_t *sources[2] = {b.data, unaligned + 1};
    for (int i = 0; i < 2; i++) {
        sbert_model m;
        int rc = sb_model_file_from_memory(&m, sources[i], b.size, err, sizeof err);
        CHECK(rc == SBERT_OK, "%s from memory: %s", name, err);
        if (rc != SBERT_OK)
            continue;
        check(&m);
        CHECK(usable(&m), "usable");
        CHECK((m.file_data == sources[i]) == (i == 0) && (m.file_copy != NULL) == (i == 1),
              "in place only when aligned");
        sb_model_file_close(&m);
    }
    free(unaligned);
    free(b.data);
}

static void test_seeds(void)
{
    char err[256];
    sbert_model m;
    file_buf b = read_seed("bert-wordpiece-f32");
    int rc = b.size ? sb_model_file_from_memory(&m, b.data, b.size, err, sizeof err) : -1;
    CHECK(rc == SBERT_OK, "bert seed: %s", err);
    if (rc == SBERT_OK) {
        CHECK(usable(&m) && m.pooling.cls && m.pooling.mean && m.n_dense == 1 && m.dim == 8,
              "cls+mean pooling (32 values) then Dense 32 -> 8: dim %zu", m.dim);
        const sb_dense *d = &m.dense[0];
        CHECK(d->linear.n_in == 32 && d->linear.n_out == 8 && d->act == SB_ACT_TANH &&
              d->linear.bias, "Dense module");
        CHECK(m.normalize && m.n_prompts == 1 && strcmp(m.prompt_names[0], "query") == 0 &&
              strcmp(m.prompt_texts[0], "query: ") == 0 && m.default_prompt == 0, "prompts");
        sb_model_file_close(&m);
    }
    free(b.data);

    b = read_seed("xlmr-unigram-f16");
    rc = b.size ? sb_model_file_from_memory(&m, b.data, b.size, err, sizeof err) : -1;
    CHECK(rc == SBERT_OK, "xlmr seed: %s", err);
    if (rc == SBERT_OK) {
        const sb_tokenizer_config *c = &m.tok_cfg;
        CHECK(usable(&m) && m.arch == SB_ARCH_XLM_ROBERTA && m.hp.position_offset == 2, "arch");
        CHECK(c->model == SB_TOK_UNIGRAM && c->scores && c->scores[5] == -1.5f &&
              c->normalizer == SB_NORM_NONE && c->pretokenizer == SB_PRETOK_METASPACE &&
              str_is(c->metaspace_replacement, "\xe2\x96\x81") &&
              c->metaspace_prepend == SB_PREPEND_ALWAYS && c->metaspace_split, "unigram stages");
        CHECK(m.owned_f32 && m.pos_emb == m.owned_f32, "F16 converted into owned_f32");
        CHECK(m.word_emb_format == SB_WEIGHTS_F16 && (const uint8_t *)m.word_emb > m.file_data &&
              (const uint8_t *)m.word_emb < m.file_data + m.file_size,
              "F16 word embeddings kept in place");
        CHECK(m.emb_ln_w > (const float *)m.file_data, "F32 LayerNorm in place");
        tensor_fields t;
        if (find_tensor(&b, "encoder.layer.0.output.dense.weight", &t)) {
            const uint64_t at = data_offset(&b) + get64(b.data + t.offset);
            CHECK(m.layers[0].ffn_down.format == SB_WEIGHTS_F16 &&
                  m.layers[0].ffn_down.weight == m.file_data + at,
                  "F16 Linear weight kept in place for the F16 kernels");
        }
        sb_model_file_close(&m);
    }
    free(b.data);
}

/* ---- damaged files --------------------------------------------------------------------------- */

/* Every length from 0 to the end of the tables, and a sample of the data section: all refused,
 * as truncated (or, when empty, as not a model). */
static void test_truncation(const file_buf *b, const char *label)
{
    tally t = new_tally("truncated", label, true); /* refused by the sizes in the header */
    int wrong_status = 0;
    uint64_t tables_end = data_offset(b);
    for (size_t len = 0; len < b->size; len += len < tables_end ? 1 : 4093) {
        int rc = try_load(&t, b->data, len);
        wrong_status += rc != (len == 0 ? SBERT_ERR_NOT_A_MODEL : SBERT_ERR_TRUNCATED);
    }
    try_load(&t, b->data, b->size - 1);
    report(&t, true);
    CHECK(wrong_status == 0, "%d truncations not reported as truncated", wrong_status);
}

/* Truncated, then file_size and data_size patched and the checksum redone: only the section and
 * tensor bounds checks stand between these and an out-of-bounds read. */
static void test_truncation_patched(file_buf *b, const char *label, size_t table_step,
                                    size_t data_step, bool in_place)
{
    tally t = new_tally("truncated + header patched", label, in_place);
    uint8_t header[96];
    memcpy(header, b->data, 96);
    uint64_t offset = data_offset(b);
    for (size_t len = 96; len < b->size; len += len < offset ? table_step : data_step) {
        put64(b->data + H_FILE_SIZE, len);
        put64(b->data + H_DATA_SIZE, len > offset ? len - offset : 0);
        reseal(b->data, len);
        try_load(&t, b->data, len);
        memcpy(b->data, header, 96);
    }
    report(&t, true);
}

/* Every bit of the header and tables. Without the checksum redone, CRC-32 catches every one;
 * with it redone, the validators behind the CRC must catch or survive each (a flip inside a token
 * string or a float is a valid file). */
static void test_bit_flips(file_buf *b, const char *label, size_t step, bool in_place)
{
    tally plain = new_tally("bit flips", label, true); /* refused by the checksum */
    tally sealed = new_tally("bit flips + checksum redone", label, in_place);
    uint64_t end = data_offset(b);
    uint8_t header[96];
    memcpy(header, b->data, 96);
    for (size_t at = 0; at < end; at += step) {
        /* every bit of every byte, or with a step one bit per byte, cycling through the eight */
        int first_bit = step == 1 ? 0 : (int)(at / step % 8), last_bit = step == 1 ? 7 : first_bit;
        for (int bit = first_bit; bit <= last_bit; bit++) {
            b->data[at] ^= (uint8_t)(1u << bit);
            try_load(&plain, b->data, b->size);
            reseal(b->data, b->size);
            try_load(&sealed, b->data, b->size);
            b->data[at] ^= (uint8_t)(1u << bit);
            memcpy(b->data, header, 96);
        }
    }
    report(&plain, true);
    report(&sealed, false);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void) /* xorshift64, reproducible */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random runs of random bytes written over the header and tables, checksum redone. */
static void test_random_damage(file_buf *b, const char *label, int rounds)
{
    tally t = new_tally("random damage + checksum redone", label, false);
    uint64_t end = data_offset(b);
    uint8_t *saved = malloc((size_t)end);
    memcpy(saved, b->data, (size_t)end);
    for (int r = 0; r < rounds; r++) {
        int runs = 1 + (int)(rng() % 4);
        for (int k = 0; k < runs; k++) {
            size_t at = (size_t)(rng() % end), len = 1 + (size_t)(rng() % 8);
            for (size_t i = at; i < at + len && i < end; i++)
                b->data[i] = (uint8_t)rng();
        }
        reseal(b->data, b->size);
        try_load(&t, b->data, b->size);
        memcpy(b->data, saved, (size_t)end);
    }
    report(&t, false);
    free(saved);
}

/* Random bytes: raw, behind a valid magic and version, and with the sizes made to match. */
static void test_garbage(void)
{
    tally t = new_tally("garbage", "(random bytes)", false);
    size_t capacity = 8192;
    uint8_t *buf = aligned_alloc(64, capacity);
    for (int r = 0; r < 3000; r++) {
        size_t size = (size_t)(rng() % capacity);
        for (size_t i = 0; i < size; i++)
            buf[i] = (uint8_t)rng();
        if (r % 3 >= 1 && size >= 96) {
            memcpy(buf, "SBERTMF\0\1\0\0\0\x60\0\0\0", 16);
            put64(buf + H_FILE_SIZE, size);
        }
        if (r % 3 == 2 && size >= 96) { /* plausible sections, then sealed */
            uint64_t kv = rng() % (size - 96), table = rng() % (size - 96 - kv);
            uint64_t data = (96 + kv + table + 63) / 64 * 64;
            put64(buf + 24, 96);
            put64(buf + H_KV_SIZE, kv);
            put64(buf + H_N_KV, rng() % 64);
            put64(buf + H_TABLE_OFFSET, 96 + kv);
            put64(buf + H_TABLE_SIZE, table);
            put64(buf + H_N_TENSORS, rng() % 64);
            put64(buf + H_DATA_OFFSET, data);
            put64(buf + H_DATA_SIZE, data <= size ? size - data : 0);
            put32(buf + 92, 0);
            reseal(buf, size);
        }
        try_load(&t, buf, size);
    }
    report(&t, true);
    free(buf);
}

/* b is `good` with a field edited: sealed again, it must be refused with `status` and a message
 * containing `needle`. Then b is restored for the next edit. */
static void expect_refused(file_buf *b, const file_buf *good, const char *what, int status,
                           const char *needle)
{
    char err[256];
    reseal(b->data, b->size);
    int rc = load_exact_copy(b, err, sizeof err);
    CHECK(rc == status && strstr(err, needle), "%s: status %d (expected %d), message: %s", what,
          rc, status, err);
    memcpy(b->data, good->data, (size_t)data_offset(good)); /* the edits are all in the tables */
}

static void test_targeted(const file_buf *good)
{
    file_buf b = {aligned_alloc(64, (good->size + 64) / 64 * 64), good->size};
    memcpy(b.data, good->data, b.size);
    tensor_fields t, other;
    size_t at;

    b.data[0] = 'X';
    expect_refused(&b, good, "magic", SBERT_ERR_NOT_A_MODEL, "not a .sbert model file");
    put32(b.data + H_VERSION, 2);
    expect_refused(&b, good, "version", SBERT_ERR_VERSION, "format version 2");
    char err[256];
    b.data[H_CHECKSUM] ^= 1;
    CHECK(load_exact_copy(&b, err, sizeof err) == SBERT_ERR_CHECKSUM, "checksum: %s", err);
    b.data[H_CHECKSUM] ^= 1;
    put64(b.data + H_FILE_SIZE, b.size + 1);
    expect_refused(&b, good, "file_size past the end", SBERT_ERR_TRUNCATED, "truncated");
    put64(b.data + H_DATA_OFFSET, UINT64_MAX - 63);
    expect_refused(&b, good, "data_offset past the end", SBERT_ERR_CORRUPT, "data_offset");
    put64(b.data + H_KV_SIZE, UINT64_MAX - 95);
    expect_refused(&b, good, "kv_size wrapping", SBERT_ERR_CORRUPT, "key/value section");
    put64(b.data + H_N_KV, UINT64_MAX);
    expect_refused(&b, good, "n_kv huge", SBERT_ERR_CORRUPT, "key/value entries");
    put64(b.data + H_N_TENSORS, UINT64_MAX / 2);
    expect_refused(&b, good, "n_tensors huge", SBERT_ERR_CORRUPT, "tensors");

    if (find_tensor(&b, "embeddings.LayerNorm.bias", &t)) {
        put64(b.data + t.offset, get64(b.data + H_DATA_SIZE));
        expect_refused(&b, good, "tensor offset at the end", SBERT_ERR_CORRUPT, "data section");
        put64(b.data + t.offset, UINT64_MAX - 63);
        expect_refused(&b, good, "tensor offset wrapping", SBERT_ERR_CORRUPT, "data section");
        put64(b.data + t.nbytes, UINT64_MAX);
        expect_refused(&b, good, "tensor nbytes huge", SBERT_ERR_CORRUPT, "data section");
        put64(b.data + t.offset, get64(b.data + t.offset) + 4);
        expect_refused(&b, good, "tensor offset unaligned", SBERT_ERR_CORRUPT, "multiple of 64");
        put64(b.data + t.nbytes, get64(b.data + t.nbytes) - 4);
        expect_refused(&b, good, "tensor nbytes short", SBERT_ERR_CORRUPT, "need 256");
    }
    if (find_tensor(&b, "embeddings.LayerNorm.weight", &t) &&
        find_tensor(&b, "embeddings.LayerNorm.bias", &other)) {
        put64(b.data + other.offset, get64(b.data + t.offset));
        expect_refused(&b, good, "overlapping tensors", SBERT_ERR_CORRUPT, "overlap");
    }
    if (find_tensor(&b, "encoder.layer.1.output.dense.weight", &t)) {
        put64(b.data + t.dims + 8, 127);
        expect_refused(&b, good, "shape", SBERT_ERR_SHAPE,
                       "tensor encoder.layer.1.output.dense.weight: shape [64,127], expected "
                       "[64,128]");
        b.data[t.name + 14] = '9'; /* encoder.layer.9: ko-tiny has two layers */
        expect_refused(&b, good, "unknown tensor", SBERT_ERR_CORRUPT,
                       "unknown tensor encoder.layer.9");
        b.data[t.name + 14] = '0'; /* now named like layer 0's, which also exists */
        expect_refused(&b, good, "duplicate tensor", SBERT_ERR_CORRUPT, "appears twice");
        put32(b.data + t.dims - 12, 2); /* dtype BF16: the byte count no longer fits */
        expect_refused(&b, good, "dtype", SBERT_ERR_CORRUPT, "BF16");
        put32(b.data + t.dims - 12, 7);
        expect_refused(&b, good, "unknown dtype", SBERT_ERR_UNSUPPORTED, "dtype 7");
        put32(b.data + t.dims - 8, 0);
        expect_refused(&b, good, "layout", SBERT_ERR_CORRUPT, "layout ROW_MAJOR, expected PANEL16");
    }
    if ((at = find_key(&b, "encoder.intermediate_size"))) {
        put32(b.data + at + 4, 127);
        expect_refused(&b, good, "hyper-parameter against shapes", SBERT_ERR_SHAPE,
                       "tensor encoder.layer.0.intermediate.dense.weight: shape [128,64], "
                       "expected [127,64]");
        put32(b.data + at, 2); /* U32 -> I32 */
        expect_refused(&b, good, "key type", SBERT_ERR_CORRUPT,
                       "encoder.intermediate_size has type I32, expected U32");
        put32(b.data + at + 4, 0);
        expect_refused(&b, good, "zero size", SBERT_ERR_CORRUPT, "encoder.intermediate_size is 0");
        b.data[at - 1] = 'X'; /* renamed: the required key is gone */
        expect_refused(&b, good, "missing key", SBERT_ERR_CORRUPT,
                       "required key encoder.intermediate_size is missing");
    }
    if ((at = find_key(&b, "encoder.num_heads"))) {
        put32(b.data + at + 4, 3);
        expect_refused(&b, good, "heads", SBERT_ERR_CORRUPT,
                       "not a multiple of encoder.num_heads 3");
    }
    if ((at = find_key(&b, "encoder.hidden_size"))) {
        put32(b.data + at + 4, 1u << 20);
        expect_refused(&b, good, "huge hidden size", SBERT_ERR_UNSUPPORTED,
                       "hidden_size is 1048576");
    }
    if ((at = find_key(&b, "tokenizer.unk_id"))) {
        put32(b.data + at + 4, 32000);
        expect_refused(&b, good, "unknown id", SBERT_ERR_CORRUPT,
                       "tokenizer.unk_id is 32000, outside the 32000-token vocabulary");
    }
    if ((at = find_key(&b, "tokenizer.prefix_ids"))) {
        put32(b.data + at + 8, (uint32_t)-1);
        expect_refused(&b, good, "prefix id", SBERT_ERR_CORRUPT, "tokenizer.prefix_ids[0] is -1");
    }
    if ((at = find_key(&b, "encoder.type_vocab_size"))) {
        put32(b.data + at + 4, 0);
        expect_refused(&b, good, "roberta without token types", SBERT_ERR_CORRUPT,
                       "type_vocab_size is 0, which does not fit a roberta model");
    }
    if ((at = find_key(&b, "encoder.position_offset"))) {
        put32(b.data + at + 4, 0);
        expect_refused(&b, good, "RoBERTa position offset", SBERT_ERR_CORRUPT,
                       "position_offset is 0");
    }
    if ((at = find_key(&b, "general.architecture"))) {
        memcpy(b.data + at + 8, "gpt2xxx", 7); /* "roberta" is 7 bytes too */
        expect_refused(&b, good, "architecture", SBERT_ERR_UNSUPPORTED, "'gpt2xxx'");
    }
    if ((at = find_key(&b, "pooling.mean"))) {
        put32(b.data + at + 4, 0);
        expect_refused(&b, good, "no pooling", SBERT_ERR_CORRUPT, "no pooling");
        put32(b.data + at + 4, 2);
        expect_refused(&b, good, "BOOL 2", SBERT_ERR_CORRUPT, "pooling.mean is 2");
    }
    if ((at = find_key(&b, "general.name"))) {
        b.data[at + 10] = '\0';
        expect_refused(&b, good, "NUL in a name", SBERT_ERR_CORRUPT, "NUL");
    }
    put32(b.data + 96, UINT32_MAX); /* the first key's length */
    expect_refused(&b, good, "key length past the section", SBERT_ERR_CORRUPT, "runs past");
    b.data[data_offset(&b) - 1] = 1;
    if (get64(b.data + H_TABLE_OFFSET) + get64(b.data + H_TABLE_SIZE) < data_offset(&b))
        expect_refused(&b, good, "padding", SBERT_ERR_CORRUPT, "padding");
    free(b.data);
}

/* MPNet: no token types, the relative-position settings and their table. */
static void test_targeted_mpnet(const file_buf *good)
{
    file_buf b = {aligned_alloc(64, (good->size + 64) / 64 * 64), good->size};
    memcpy(b.data, good->data, b.size);
    tensor_fields t;
    size_t at;
    if ((at = find_key(&b, "encoder.type_vocab_size"))) {
        put32(b.data + at + 4, 1);
        expect_refused(&b, good, "mpnet with token types", SBERT_ERR_CORRUPT,
                       "type_vocab_size is 1, which does not fit a mpnet model");
    }
    if ((at = find_key(&b, "encoder.relative_attention_num_buckets"))) {
        put32(b.data + at + 4, 2);
        expect_refused(&b, good, "2 buckets", SBERT_ERR_CORRUPT,
                       "relative_attention_num_buckets is 2");
        put32(b.data + at + 4, 64);
        expect_refused(&b, good, "buckets against the table", SBERT_ERR_SHAPE,
                       "tensor encoder.relative_attention_bias.weight: shape [32,2], expected "
                       "[64,2]");
        b.data[at - 1] = 'X';
        expect_refused(&b, good, "no buckets", SBERT_ERR_CORRUPT,
                       "required key encoder.relative_attention_num_buckets is missing");
    }
    if ((at = find_key(&b, "encoder.relative_attention_max_distance"))) {
        put32(b.data + at + 4, 8);
        expect_refused(&b, good, "max distance", SBERT_ERR_CORRUPT,
                       "relative_attention_max_distance 8 must exceed a quarter of the 32");
    }
    if (find_tensor(&b, "encoder.relative_attention_bias.weight", &t)) {
        b.data[t.name + 8] = 'X'; /* encoder.Xelative_...: the table is gone */
        expect_refused(&b, good, "no relative-position table", SBERT_ERR_CORRUPT,
                       "unknown tensor encoder.Xelative_attention_bias.weight");
    }
    free(b.data);
}

/* The seed with a Dense module: its chain and bias flag must agree with pooling and tensors. */
static void test_targeted_dense(const file_buf *good)
{
    file_buf b = {aligned_alloc(64, (good->size + 64) / 64 * 64), good->size};
    size_t at;
    memcpy(b.data, good->data, b.size);
    if ((at = find_key(&b, "dense.0.in_features"))) {
        put32(b.data + at + 4, 16);
        expect_refused(&b, good, "Dense input", SBERT_ERR_SHAPE,
                       "dense.0.in_features is 16 but the pooling gives 32");
    }
    if ((at = find_key(&b, "dense.0.has_bias"))) {
        put32(b.data + at + 4, 0);
        expect_refused(&b, good, "Dense bias", SBERT_ERR_CORRUPT, "has no bias");
    }
    if ((at = find_key(&b, "prompts.default"))) {
        b.data[at + 8] = 'Q';
        expect_refused(&b, good, "default prompt", SBERT_ERR_CORRUPT, "not among prompts.names");
    }
    free(b.data);
}

/* int8 weights (ko-small converted with --dtype int8): a Linear weight in I8 / PANEL16_Q4 with its
 * F32 scales loads; the wrong layout, scales of another dtype, I8 where only floats may be and a
 * truncated weight are refused by name. */
static void test_targeted_int8(const file_buf *good)
{
    char err[256];
    CHECK(load_exact_copy(good, err, sizeof err) == SBERT_OK, "int8 model: %s", err);
    file_buf b = {aligned_alloc(64, (good->size + 64) / 64 * 64), good->size};
    memcpy(b.data, good->data, b.size);
    tensor_fields t;
    if (find_tensor(&b, "encoder.layer.1.intermediate.dense.weight", &t)) {
        put32(b.data + t.dims - 8, 1); /* layout PANEL16 */
        expect_refused(&b, good, "int8 layout", SBERT_ERR_CORRUPT,
                       "layout PANEL16, expected PANEL16_Q4");
        put32(b.data + t.dims - 12, 0); /* dtype F32 with layout PANEL16_Q4 */
        expect_refused(&b, good, "float weight in PANEL16_Q4", SBERT_ERR_CORRUPT,
                       "layout PANEL16_Q4, expected PANEL16");
        put64(b.data + t.nbytes, get64(b.data + t.nbytes) - 64);
        expect_refused(&b, good, "int8 weight short", SBERT_ERR_CORRUPT, "I8 dtype");
    }
    if (find_tensor(&b, "encoder.layer.1.intermediate.dense.weight_scale", &t)) {
        put32(b.data + t.dims - 12, 1); /* F16 scales */
        expect_refused(&b, good, "scale dtype", SBERT_ERR_CORRUPT, "scales are F32");
        put64(b.data + t.dims, 5);
        expect_refused(&b, good, "scale shape", SBERT_ERR_SHAPE, "weight_scale: shape [5]");
    }
    if (find_tensor(&b, "encoder.layer.0.output.LayerNorm.weight", &t)) {
        put32(b.data + t.dims - 12, 3);
        expect_refused(&b, good, "I8 LayerNorm", SBERT_ERR_CORRUPT, "only Linear weights");
    }
    free(b.data);
}

/* ---- the path API, arguments, cleanup -------------------------------------------------------- */

static int open_bytes(const uint8_t *data, size_t size, int use_mmap, char *err, size_t err_size)
{
    char path[] = "/tmp/sbert-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return -1000;
    CHECK(write(fd, data, size) == (ssize_t)size, "write");
    close(fd);
    sbert_model m;
    sbert_model_params params = {use_mmap, 0};
    int rc = sb_model_file_open(&m, path, &params, err, err_size);
    if (rc == SBERT_OK)
        sb_model_file_close(&m);
    else
        CHECK(is_zeroed(&m), "a failed open leaves a zeroed model");
    unlink(path);
    return rc;
}

static void test_path_api(const file_buf *seed)
{
    char err[256];
    sbert_model m;
    CHECK(sb_model_file_open(&m, "/nonexistent/model.sbert", NULL, err, sizeof err) ==
              SBERT_ERR_IO && strstr(err, "/nonexistent/model.sbert"), "%s", err);
    CHECK(sb_model_file_open(&m, "tests", NULL, err, sizeof err) == SBERT_ERR_IO &&
              strstr(err, "not a regular file"), "a directory: %s", err);
    for (int use_mmap = 0; use_mmap <= 1; use_mmap++) {
        CHECK(open_bytes(seed->data, seed->size, use_mmap, err, sizeof err) == SBERT_OK, "%s",
              err);
        CHECK(open_bytes(seed->data, 0, use_mmap, err, sizeof err) == SBERT_ERR_NOT_A_MODEL &&
                  strstr(err, "empty"), "empty file: %s", err);
        CHECK(open_bytes(seed->data, seed->size / 2, use_mmap, err, sizeof err) ==
                  SBERT_ERR_TRUNCATED, "half a file: %s", err);
        seed->data[200] ^= 4;
        CHECK(open_bytes(seed->data, seed->size, use_mmap, err, sizeof err) == SBERT_ERR_CHECKSUM,
              "a flipped bit: %s", err);
        seed->data[200] ^= 4;
        CHECK(open_bytes((const uint8_t *)"hello", 5, use_mmap, err, sizeof err) ==
                  SBERT_ERR_NOT_A_MODEL, "text: %s", err);
    }
}

static void test_arguments(const file_buf *seed)
{
    char err[256];
    sbert_model m;
    CHECK(sb_model_file_open(NULL, "x", NULL, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL model");
    CHECK(sb_model_file_open(&m, NULL, NULL, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL path");
    CHECK(sb_model_file_from_memory(&m, NULL, 10, err, sizeof err) == SBERT_ERR_INVALID_ARGUMENT,
          "NULL data");
    CHECK(sb_model_file_from_memory(NULL, seed->data, seed->size, NULL, 0) ==
              SBERT_ERR_INVALID_ARGUMENT, "NULL model, NULL err");
    CHECK(sb_model_file_from_memory(&m, seed->data, 0, err, sizeof err) == SBERT_ERR_NOT_A_MODEL,
          "empty buffer: %s", err);
    CHECK(sb_model_file_from_memory(&m, seed->data, 50, NULL, 0) == SBERT_ERR_TRUNCATED,
          "NULL err is fine");
    char small[8];
    CHECK(sb_model_file_from_memory(&m, seed->data, 50, small, sizeof small) ==
              SBERT_ERR_TRUNCATED && strlen(small) == 7, "the message is cut to fit: %s", small);
    CHECK(sb_model_file_from_memory(&m, seed->data, seed->size, err, 0) == SBERT_OK, "err_size 0");
    sb_model_file_close(&m);
    sb_model_file_close(&m); /* twice */
    sbert_model zero = {0};
    sb_model_file_close(&zero);
    sb_model_file_close(NULL);
    CHECK(is_zeroed(&zero), "close on a zeroed model");
}

int main(void)
{
    test_crc32();
    test_conversions();
    test_load_paths("ko-tiny", check_ko_tiny);
    test_load_paths("minilm-tiny", check_minilm_tiny);
    test_load_paths("xlmr-tiny", check_xlmr_tiny);
    test_load_paths("mpnet-tiny", check_mpnet_tiny);
    test_seeds();

    printf("damaged files (each refused with a status and a message, none crashed):\n");
    file_buf seeds[2] = {read_seed("bert-wordpiece-f32"), read_seed("xlmr-unigram-f16")};
    const char *seed_names[2] = {"(bert seed)", "(xlmr f16 seed)"};
    for (int i = 0; i < 2; i++) {
        if (!seeds[i].size)
            continue;
        test_truncation(&seeds[i], seed_names[i]);
        test_truncation_patched(&seeds[i], seed_names[i], 1, 5, false);
        test_bit_flips(&seeds[i], seed_names[i], 1, false);
        test_random_damage(&seeds[i], seed_names[i], 3000);
    }
    file_buf ko = read_model("ko-tiny");
    if (ko.size) {
        test_truncation(&ko, "(ko-tiny)");
        test_truncation_patched(&ko, "(ko-tiny, sampled)", 4099, 65521, true);
        test_bit_flips(&ko, "(ko-tiny, every 1009th byte)", 1009, true);
        test_targeted(&ko);
    }
    test_garbage();
    file_buf mpnet = read_model("mpnet-tiny");
    if (mpnet.size)
        test_targeted_mpnet(&mpnet);
    free(mpnet.data);
    file_buf int8 = read_model("ko-small-int8");
    if (int8.size)
        test_targeted_int8(&int8);
    free(int8.data);
    if (seeds[0].size) {
        test_targeted_dense(&seeds[0]);
        test_path_api(&seeds[0]);
        test_arguments(&seeds[0]);
    }
    free(ko.data);
    free(seeds[0].data);
    free(seeds[1].data);
    return TEST_DONE();
}
