/* The tensor table (docs/FORMAT.md, "Tensor table") checked against the hyper-parameters, then
 * the model's weights pointed at their data: Linear weights and the word embeddings in place in
 * the file whatever their dtype (sb_weight_format: the GEMM has micro-kernels for each, and the
 * embedding step widens the rows it reads), other F32 tensors in place, and other F16 and BF16
 * tensors (position embeddings, LayerNorm) converted once into m->owned_f32. An I8 Linear weight
 * (PANEL16_Q4) comes with its F32 `.weight_scale`, and its column sums are computed at load.
 *
 * The hyper-parameters decide which tensors must exist and their exact shapes ("slots"); each
 * table entry must fill one slot, no slot twice, no slot left empty, and no two tensors may share
 * bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model_file_internal.h"

#define N_EMBEDDING_TENSORS 5
#define N_LAYER_TENSORS 12
#define N_DENSE_TENSORS 2
#define N_LAYER_LINEARS 4

typedef struct {
    sb_str name;
    uint32_t dtype, layout, n_dims;
    uint64_t dims[SB_TENSOR_MAX_DIMS];
    uint64_t offset, nbytes; /* within the data section; checked to lie inside it */
} tensor_entry;

/* What the hyper-parameters require of one tensor, and where the pointer to its data goes. */
typedef struct {
    char name[64];
    uint32_t n_dims;
    uint64_t dims[2];
    uint32_t layout;
    const float **dst;         /* a tensor read as F32 (converted at load unless it is F32), or */
    const void **in_place;     /* one kept in place in its dtype (Linear weights, word embeddings)
                                  with that dtype stored in *format; dst and in_place both NULL:
                                  the tensor must be absent (a Dense module without bias) */
    sb_weight_format *format;
    sb_linear *linear;         /* a Linear weight's slot (F32/F16/BF16 PANEL16 or I8 PANEL16_Q4) */
    bool scale_of_linear;      /* the I8 scales of the previous slot's Linear: present iff it is I8 */
    const tensor_entry *entry; /* the table entry that fills the slot */
} tensor_slot;

/* Everything the step allocates for itself; freed before it returns. */
typedef struct {
    tensor_entry *entries;
    size_t n_entries;
    tensor_slot *slots;
    tensor_slot **by_name; /* slots sorted by name, for matching entries */
    size_t n_slots;
} tensor_work;

static const char *dtype_name(uint32_t dtype)
{
    static const char *const names[] = {"F32", "F16", "BF16", "I8"};
    return dtype <= SB_DTYPE_I8 ? names[dtype] : "?";
}

static const char *layout_name(uint32_t layout)
{
    static const char *const names[] = {"ROW_MAJOR", "PANEL16", "PANEL16_Q4"};
    return layout <= SB_LAYOUT_PANEL16_Q4 ? names[layout] : "?";
}

static const char *format_dims(const uint64_t *dims, uint32_t n_dims, char out[96])
{
    size_t used = (size_t)snprintf(out, 96, "[");
    for (uint32_t d = 0; d < n_dims && used < 96; d++)
        used += (size_t)snprintf(out + used, 96 - used, "%s%llu", d ? "," : "",
                                 (unsigned long long)dims[d]);
    if (used < 96)
        snprintf(out + used, 96 - used, "]");
    return out;
}

/* ---- the table ------------------------------------------------------------------------------- */

static int parse_entry(sb_cursor *c, uint64_t index, tensor_entry *t, const sb_err *err)
{
    const uint8_t *name;
    bool ok = sb_take_u32(c, &t->name.len) && sb_take(c, t->name.len, &name) &&
              sb_take_u32(c, &t->dtype) && sb_take_u32(c, &t->layout) && sb_take_u32(c, &t->n_dims);
    if (ok)
        t->name.ptr = (const char *)name;
    if (ok && (t->n_dims < 1 || t->n_dims > SB_TENSOR_MAX_DIMS)) {
        char shown[64];
        return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s has %u dimensions, expected 1 to %d"
                       SB_DAMAGED, sb_printable(t->name, shown), t->n_dims, SB_TENSOR_MAX_DIMS);
    }
    for (uint32_t d = 0; ok && d < t->n_dims; d++)
        ok = sb_take_u64(c, &t->dims[d]);
    ok = ok && sb_take_u64(c, &t->offset) && sb_take_u64(c, &t->nbytes);
    if (!ok)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "tensor table entry %llu runs past the end of the table" SB_DAMAGED,
                       (unsigned long long)index);
    return SBERT_OK;
}

/* What can be checked of an entry without knowing which tensor it is. */
static int check_entry(const tensor_entry *t, uint64_t data_size, const sb_err *err)
{
    char name[64];
    if (t->dtype > SB_DTYPE_I8)
        return sb_fail(err, SBERT_ERR_UNSUPPORTED,
                       "tensor %s has dtype %u, this libsbert reads 0 (F32), 1 (F16), 2 (BF16) "
                       "and 3 (I8)", sb_printable(t->name, name), t->dtype);
    if (t->layout > SB_LAYOUT_PANEL16_Q4)
        return sb_fail(err, SBERT_ERR_UNSUPPORTED,
                       "tensor %s has layout %u, this libsbert reads 0 (ROW_MAJOR), 1 (PANEL16) "
                       "and 2 (PANEL16_Q4)", sb_printable(t->name, name), t->layout);
    if (t->offset % SB_FORMAT_ALIGN != 0 || t->offset > data_size || t->nbytes > data_size - t->offset)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "tensor %s: %llu bytes at offset %llu do not lie at a multiple of %d inside "
                       "the %llu-byte data section" SB_DAMAGED, sb_printable(t->name, name),
                       (unsigned long long)t->nbytes, (unsigned long long)t->offset, SB_FORMAT_ALIGN,
                       (unsigned long long)data_size);
    return SBERT_OK;
}

static int compare_offsets(const void *a, const void *b)
{
    const tensor_entry *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Sorts the entries by offset and refuses any two that share a byte. */
static int check_overlaps(tensor_entry *entries, size_t n, const sb_err *err)
{
    qsort(entries, n, sizeof *entries, compare_offsets);
    for (size_t i = 1; i < n; i++) {
        const tensor_entry *prev = &entries[i - 1], *next = &entries[i];
        if (next->offset - prev->offset < prev->nbytes) {
            char a[64], b[64];
            return sb_fail(err, SBERT_ERR_CORRUPT, "tensors %s and %s overlap" SB_DAMAGED,
                           sb_printable(prev->name, a), sb_printable(next->name, b));
        }
    }
    return SBERT_OK;
}

static int read_table(tensor_work *w, const sb_tensor_section *s, const sb_err *err)
{
    if (s->n_tensors > s->table_size / SB_TENSOR_MIN_ENTRY_BYTES)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "the header counts %llu tensors, more than the %llu-byte tensor table can "
                       "hold" SB_DAMAGED, (unsigned long long)s->n_tensors,
                       (unsigned long long)s->table_size);
    w->n_entries = (size_t)s->n_tensors;
    if (!(w->entries = calloc(w->n_entries ? w->n_entries : 1, sizeof *w->entries)))
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory reading the tensor table");

    sb_cursor c = {s->table, s->table_size};
    for (size_t i = 0; i < w->n_entries; i++) {
        int rc = parse_entry(&c, i, &w->entries[i], err);
        if (rc == SBERT_OK)
            rc = check_entry(&w->entries[i], s->data_size, err);
        if (rc != SBERT_OK)
            return rc;
    }
    if (c.left != 0)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "%llu bytes follow the last of the %zu tensor table entries" SB_DAMAGED,
                       (unsigned long long)c.left, w->n_entries);
    return check_overlaps(w->entries, w->n_entries, err);
}

/* ---- the slots: the tensors the hyper-parameters require ------------------------------------- */

static tensor_slot *set_slot(tensor_slot *s, const float **dst, uint32_t layout, uint64_t rows,
                             uint64_t cols)
{
    s->dst = dst;
    s->layout = layout;
    s->dims[0] = rows;
    s->dims[1] = cols;
    s->n_dims = cols ? 2 : 1;
    return s + 1;
}

/* A slot whose tensor stays in place in the file's dtype. */
static tensor_slot *set_in_place_slot(tensor_slot *s, const void **data, sb_weight_format *format,
                                      uint32_t layout, uint64_t rows, uint64_t cols)
{
    s = set_slot(s, NULL, layout, rows, cols);
    s[-1].in_place = data;
    s[-1].format = format;
    return s;
}

/* A Linear weight's slot: PANEL16 [n_out, n_in], for the GEMM's kernels of its format (PANEL16_Q4
 * when I8), followed by the slot of its scales `<name>_scale` [n_out], which an I8 weight needs
 * and any other must not have. s->name must be set. */
static tensor_slot *set_linear_slot(tensor_slot *s, sb_linear *linear)
{
    tensor_slot *weight = s;
    s = set_in_place_slot(s, &linear->weight, &linear->format, SB_LAYOUT_PANEL16,
                          (uint64_t)linear->n_out, (uint64_t)linear->n_in);
    weight->linear = linear;
    snprintf(s->name, sizeof s->name, "%.57s_scale", weight->name);
    s->scale_of_linear = true;
    return set_slot(s, &linear->scale, SB_LAYOUT_ROW_MAJOR, (uint64_t)linear->n_out, 0);
}

/* The embeddings' slots (no token-type table when T = 0), and MPNet's relative-position bias. */
static tensor_slot *embedding_slots(tensor_slot *s, sbert_model *m)
{
    const sb_hparams *hp = &m->hp;
    snprintf(s->name, sizeof s->name, "embeddings.word_embeddings.weight");
    s = set_in_place_slot(s, &m->word_emb, &m->word_emb_format, SB_LAYOUT_ROW_MAJOR,
                          (uint64_t)hp->vocab_size, (uint64_t)hp->hidden);
    snprintf(s->name, sizeof s->name, "embeddings.position_embeddings.weight");
    s = set_slot(s, &m->pos_emb, SB_LAYOUT_ROW_MAJOR, hp->max_positions, hp->hidden);
    if (hp->type_vocab_size > 0) {
        snprintf(s->name, sizeof s->name, "embeddings.token_type_embeddings.weight");
        s = set_slot(s, &m->type_emb, SB_LAYOUT_ROW_MAJOR, hp->type_vocab_size, hp->hidden);
    }
    snprintf(s->name, sizeof s->name, "embeddings.LayerNorm.weight");
    s = set_slot(s, &m->emb_ln_w, SB_LAYOUT_ROW_MAJOR, hp->hidden, 0);
    snprintf(s->name, sizeof s->name, "embeddings.LayerNorm.bias");
    s = set_slot(s, &m->emb_ln_b, SB_LAYOUT_ROW_MAJOR, hp->hidden, 0);
    if (hp->rel_buckets > 0) {
        snprintf(s->name, sizeof s->name, "encoder.relative_attention_bias.weight");
        s = set_slot(s, &m->rel_bias, SB_LAYOUT_ROW_MAJOR, hp->rel_buckets, hp->n_heads);
    }
    return s;
}

/* Slots embedding_slots() sets. */
static size_t n_embedding_slots(const sb_hparams *hp)
{
    return N_EMBEDDING_TENSORS - (hp->type_vocab_size == 0) + (hp->rel_buckets > 0);
}

static tensor_slot *layer_slots(tensor_slot *s, sb_layer *ly, int l, const sb_hparams *hp)
{
    const int h = hp->hidden, ffn = hp->intermediate;
    ly->qkv = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = 3 * h, .n_in = h};
    ly->attn_out = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = h, .n_in = h};
    ly->ffn_up = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = ffn, .n_in = h};
    ly->ffn_down = (sb_linear){.format = SB_WEIGHTS_F32, .n_out = h, .n_in = ffn};
    const struct {
        const char *suffix;
        sb_linear *linear;  /* a Linear weight [n_out, n_in], or */
        const float **dst;  /* a vector [rows] */
        uint64_t rows;
    } tensors[N_LAYER_TENSORS] = {
        {"attention.qkv.weight", &ly->qkv, NULL, 0},
        {"attention.qkv.bias", NULL, &ly->qkv.bias, 3 * h},
        {"attention.output.dense.weight", &ly->attn_out, NULL, 0},
        {"attention.output.dense.bias", NULL, &ly->attn_out.bias, h},
        {"attention.output.LayerNorm.weight", NULL, &ly->attn_ln_w, h},
        {"attention.output.LayerNorm.bias", NULL, &ly->attn_ln_b, h},
        {"intermediate.dense.weight", &ly->ffn_up, NULL, 0},
        {"intermediate.dense.bias", NULL, &ly->ffn_up.bias, ffn},
        {"output.dense.weight", &ly->ffn_down, NULL, 0},
        {"output.dense.bias", NULL, &ly->ffn_down.bias, h},
        {"output.LayerNorm.weight", NULL, &ly->ffn_ln_w, h},
        {"output.LayerNorm.bias", NULL, &ly->ffn_ln_b, h},
    };
    for (int i = 0; i < N_LAYER_TENSORS; i++) {
        snprintf(s->name, sizeof s->name, "encoder.layer.%d.%s", l, tensors[i].suffix);
        s = tensors[i].linear ? set_linear_slot(s, tensors[i].linear)
                              : set_slot(s, tensors[i].dst, SB_LAYOUT_ROW_MAJOR, tensors[i].rows, 0);
    }
    return s;
}

static tensor_slot *dense_slots(tensor_slot *s, sb_dense *dense, int j, bool has_bias)
{
    sb_linear *linear = &dense->linear;
    snprintf(s->name, sizeof s->name, "dense.%d.weight", j);
    s = set_linear_slot(s, linear);
    snprintf(s->name, sizeof s->name, "dense.%d.bias", j);
    return set_slot(s, has_bias ? &linear->bias : NULL, SB_LAYOUT_ROW_MAJOR, linear->n_out, 0);
}

/* A cross-encoder's head: classifier.dense and classifier.out_proj, each weight and bias. */
#define N_CLASSIFIER_SLOTS 6 /* 2 x (weight, its scale, bias) */
static tensor_slot *classifier_slots(tensor_slot *s, sb_classifier *c)
{
    sb_linear *linears[2] = {&c->dense, &c->out_proj};
    const char *names[2] = {"classifier.dense", "classifier.out_proj"};
    for (int i = 0; i < 2; i++) {
        snprintf(s->name, sizeof s->name, "%s.weight", names[i]);
        s = set_linear_slot(s, linears[i]);
        snprintf(s->name, sizeof s->name, "%s.bias", names[i]);
        s = set_slot(s, &linears[i]->bias, SB_LAYOUT_ROW_MAJOR, linears[i]->n_out, 0);
    }
    return s;
}

static int compare_slot_names(const void *a, const void *b)
{
    return strcmp((*(tensor_slot *const *)a)->name, (*(tensor_slot *const *)b)->name);
}

static int build_slots(tensor_work *w, sbert_model *m, const bool dense_has_bias[SB_MAX_DENSE],
                       const sb_err *err)
{
    int n_layers = m->hp.n_layers;
    w->n_slots = n_embedding_slots(&m->hp) + (size_t)n_layers * (N_LAYER_TENSORS + N_LAYER_LINEARS) +
                 (size_t)m->n_dense * (N_DENSE_TENSORS + 1) + /* + the Linears' scale slots */
                 (m->kind == SB_KIND_CROSS_ENCODER ? N_CLASSIFIER_SLOTS : 0);
    m->layers = calloc((size_t)n_layers, sizeof *m->layers);
    w->slots = calloc(w->n_slots, sizeof *w->slots);
    w->by_name = calloc(w->n_slots, sizeof *w->by_name);
    if (!m->layers || !w->slots || !w->by_name)
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory for the model's %d layers",
                       n_layers);

    tensor_slot *s = embedding_slots(w->slots, m);
    for (int l = 0; l < n_layers; l++)
        s = layer_slots(s, &m->layers[l], l, &m->hp);
    for (int j = 0; j < m->n_dense; j++)
        s = dense_slots(s, &m->dense[j], j, dense_has_bias[j]);
    if (m->kind == SB_KIND_CROSS_ENCODER)
        s = classifier_slots(s, &m->classifier);

    for (size_t i = 0; i < w->n_slots; i++)
        w->by_name[i] = &w->slots[i];
    qsort(w->by_name, w->n_slots, sizeof *w->by_name, compare_slot_names);
    return SBERT_OK;
}

static tensor_slot *find_slot(const tensor_work *w, sb_str name)
{
    size_t lo = 0, hi = w->n_slots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *slot_name = w->by_name[mid]->name;
        size_t slot_len = strlen(slot_name);
        int order = memcmp(name.ptr, slot_name, name.len < slot_len ? name.len : slot_len);
        if (order == 0)
            order = (name.len > slot_len) - (name.len < slot_len);
        if (order == 0)
            return w->by_name[mid];
        if (order < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- matching entries to slots --------------------------------------------------------------- */

static uint64_t expected_nbytes(const tensor_slot *s, uint32_t dtype)
{
    uint64_t element = dtype == SB_DTYPE_F32 ? 4 : dtype == SB_DTYPE_I8 ? 1 : 2;
    uint64_t panel_rows = (s->dims[0] + SB_PANEL - 1) / SB_PANEL * SB_PANEL;
    if (s->linear && dtype == SB_DTYPE_I8) /* PANEL16_Q4: k padded to whole quads too */
        return panel_rows * sb_q8_padded_k((int)s->dims[1]);
    if (s->layout == SB_LAYOUT_PANEL16) /* rows padded to whole panels of SB_PANEL */
        return panel_rows * s->dims[1] * element;
    return s->n_dims == 2 ? s->dims[0] * s->dims[1] * element : s->dims[0] * element;
}

/* What the dtype asks beyond the slot: I8 only for Linear weights (in PANEL16_Q4, with k small
 * enough for int32 sums), and scales in F32. */
static int check_dtype(const tensor_slot *s, const tensor_entry *t, const sb_err *err)
{
    if (t->dtype == SB_DTYPE_I8 && !s->linear)
        return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s is I8, which only Linear weights can be"
                       SB_DAMAGED, s->name);
    if (t->dtype == SB_DTYPE_I8 && s->dims[1] > SB_Q8_MAX_IN)
        return sb_fail(err, SBERT_ERR_UNSUPPORTED, "tensor %s: I8 weights need in_features <= %d, "
                       "this one has %llu: convert with --dtype f16 or f32", s->name, SB_Q8_MAX_IN,
                       (unsigned long long)s->dims[1]);
    if (s->scale_of_linear && t->dtype != SB_DTYPE_F32)
        return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s: dtype %s, scales are F32" SB_DAMAGED,
                       s->name, dtype_name(t->dtype));
    return SBERT_OK;
}

static int fill_slot(tensor_slot *s, const tensor_entry *t, const sb_err *err)
{
    if (!s->dst && !s->in_place)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "tensor %s is present but its Dense module has no bias" SB_DAMAGED, s->name);
    if (s->entry)
        return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s appears twice" SB_DAMAGED, s->name);
    if (t->n_dims != s->n_dims || memcmp(t->dims, s->dims, s->n_dims * sizeof s->dims[0]) != 0) {
        char got[96], want[96];
        return sb_fail(err, SBERT_ERR_SHAPE, "tensor %s: shape %s, expected %s: convert the model "
                       "again", s->name, format_dims(t->dims, t->n_dims, got),
                       format_dims(s->dims, s->n_dims, want));
    }
    const uint32_t layout = s->linear && t->dtype == SB_DTYPE_I8 ? SB_LAYOUT_PANEL16_Q4 : s->layout;
    if (t->layout != layout)
        return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s: layout %s, expected %s" SB_DAMAGED,
                       s->name, layout_name(t->layout), layout_name(layout));
    int rc = check_dtype(s, t, err);
    if (rc != SBERT_OK)
        return rc;
    uint64_t nbytes = expected_nbytes(s, t->dtype);
    if (t->nbytes != nbytes)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "tensor %s: %llu bytes, but its shape, %s dtype and layout need %llu"
                       SB_DAMAGED, s->name, (unsigned long long)t->nbytes, dtype_name(t->dtype),
                       (unsigned long long)nbytes);
    s->entry = t;
    return SBERT_OK;
}

static int match_entries(tensor_work *w, const sb_err *err)
{
    for (size_t i = 0; i < w->n_entries; i++) {
        const tensor_entry *t = &w->entries[i];
        tensor_slot *s = find_slot(w, t->name);
        if (!s) {
            char name[64];
            return sb_fail(err, SBERT_ERR_CORRUPT,
                           "unknown tensor %s (or one the hyper-parameters do not ask for)"
                           SB_DAMAGED, sb_printable(t->name, name));
        }
        int rc = fill_slot(s, t, err);
        if (rc != SBERT_OK)
            return rc;
    }
    for (size_t i = 0; i < w->n_slots; i++) {
        const tensor_slot *s = &w->slots[i];
        if (s->scale_of_linear) { /* follows its weight's slot */
            const bool int8 = s[-1].entry && s[-1].entry->dtype == SB_DTYPE_I8;
            if (int8 != (s->entry != NULL))
                return sb_fail(err, SBERT_ERR_CORRUPT, int8 ? "tensor %s is missing: I8 weights "
                               "need their scales" SB_DAMAGED : "tensor %s is present, but its "
                               "weight is not I8" SB_DAMAGED, s->name);
        } else if ((s->dst || s->in_place) && !s->entry) {
            return sb_fail(err, SBERT_ERR_CORRUPT, "tensor %s is missing" SB_DAMAGED, s->name);
        }
    }
    return SBERT_OK;
}

/* ---- pointing the weights at their data ------------------------------------------------------ */

/* Converted tensors start on 64-byte boundaries in owned_f32, like tensors in the file. */
static uint64_t converted_floats(const tensor_entry *t)
{
    uint64_t floats = t->nbytes / 2, per_line = SB_FORMAT_ALIGN / sizeof(float);
    return (floats + per_line - 1) / per_line * per_line;
}

static int bind_weights(sbert_model *m, const tensor_work *w, const uint8_t *data,
                        const sb_err *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < w->n_slots; i++)
        if (w->slots[i].entry && !w->slots[i].in_place && w->slots[i].entry->dtype != SB_DTYPE_F32)
            total += converted_floats(w->slots[i].entry);
    if (total > 0 && !(m->owned_f32 = sb_alloc_aligned(total * sizeof(float))))
        return sb_fail(err, SBERT_ERR_NO_MEMORY,
                       "out of memory converting the F16/BF16 weights to %llu bytes of F32",
                       (unsigned long long)(total * sizeof(float)));

    float *next = m->owned_f32;
    for (size_t i = 0; i < w->n_slots; i++) {
        const tensor_entry *t = w->slots[i].entry;
        if (!t)
            continue;
        const void *src = data + t->offset; /* 64-byte aligned: the section and offset are */
        const sb_weight_format format = t->dtype == SB_DTYPE_F32    ? SB_WEIGHTS_F32
                                        : t->dtype == SB_DTYPE_BF16 ? SB_WEIGHTS_BF16
                                        : t->dtype == SB_DTYPE_I8   ? SB_WEIGHTS_I8
                                                                 : SB_WEIGHTS_F16;
        if (w->slots[i].in_place) {
            *w->slots[i].in_place = src;
            *w->slots[i].format = format;
            continue;
        }
        if (format == SB_WEIGHTS_F32) {
            *w->slots[i].dst = src;
            continue;
        }
        sb_widen_to_f32(src, format, next, (size_t)(t->nbytes / 2));
        *w->slots[i].dst = next;
        next += converted_floats(t);
    }
    return SBERT_OK;
}

/* The column sums of every I8 Linear weight (sb_q8_column_sums), into m->owned_col_sums. */
static int sum_q8_columns(sbert_model *m, const tensor_work *w, const sb_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < w->n_slots; i++)
        if (w->slots[i].linear && w->slots[i].linear->format == SB_WEIGHTS_I8)
            total += (size_t)w->slots[i].linear->n_out;
    if (total == 0)
        return SBERT_OK;
    if (!(m->owned_col_sums = malloc(total * sizeof *m->owned_col_sums)))
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory for the I8 weights' column sums");
    int32_t *next = m->owned_col_sums;
    for (size_t i = 0; i < w->n_slots; i++) {
        sb_linear *linear = w->slots[i].linear;
        if (!linear || linear->format != SB_WEIGHTS_I8)
            continue;
        sb_q8_column_sums(linear, next);
        linear->col_sum = next;
        next += linear->n_out;
    }
    return SBERT_OK;
}

int sb_load_tensors(sbert_model *m, const sb_tensor_section *s,
                    const bool dense_has_bias[SB_MAX_DENSE], const sb_err *err)
{
    tensor_work w = {0};
    int rc = read_table(&w, s, err);
    if (rc == SBERT_OK)
        rc = build_slots(&w, m, dense_has_bias, err);
    if (rc == SBERT_OK)
        rc = match_entries(&w, err);
    if (rc == SBERT_OK)
        rc = bind_weights(m, &w, s->data, err);
    if (rc == SBERT_OK)
        rc = sum_q8_columns(m, &w, err);
    free(w.entries);
    free(w.slots);
    free(w.by_name);
    return rc;
}
