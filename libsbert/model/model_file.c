/* Opening a .sbert file (docs/FORMAT.md): mapping or reading it, the header and its checksum, the
 * hyper-parameters and the sentence-transformers pipeline; then the tokenizer
 * (model_file_tokenizer.c) and the tensors (model_file_tensors.c). Nothing read from the file is
 * used before it is checked, and every size is compared in 64 bits without additions that could
 * wrap, so a damaged or hostile file gets an error, never an out-of-bounds read. */
#define _DEFAULT_SOURCE /* POSIX 2008 (O_CLOEXEC, pread) and MAP_ANONYMOUS, madvise */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "model.h"
#include "model_file_internal.h"
#include "base/base.h"


/* Hyper-parameter limits: far above every BERT-family model, and low enough that every tensor
 * size computed from them fits in 64 bits (V * H * 4 < 2^41) and every count in an int. */
#define MAX_VOCAB (1u << 24)
#define MAX_HIDDEN (1u << 14)
#define MAX_LAYERS 256u
#define MAX_INTERMEDIATE (1u << 17)
#define MAX_POSITIONS (1u << 20)
#define MAX_TOKEN_TYPES (1u << 10)
#define MIN_REL_BUCKETS 4u /* so that a direction has an exact bucket, for distance 0 */
#define MAX_REL_BUCKETS (1u << 10)
#define MAX_DENSE_FEATURES (1u << 17)

static const uint8_t k_magic[8] = SB_FORMAT_MAGIC;

static const sb_kv_choice k_architectures[] = {
    {"bert", SB_ARCH_BERT}, {"roberta", SB_ARCH_ROBERTA}, {"xlm-roberta", SB_ARCH_XLM_ROBERTA},
    {"mpnet", SB_ARCH_MPNET}, {NULL, 0}};
static const sb_kv_choice k_hidden_activations[] = {
    {"gelu", SB_ACT_GELU_ERF}, {"gelu_new", SB_ACT_GELU_TANH},
    {"gelu_pytorch_tanh", SB_ACT_GELU_TANH}, {"relu", SB_ACT_RELU}, {NULL, 0}};
const sb_kv_choice sb_kv_activations[] = {
    {"tanh", SB_ACT_TANH}, {"identity", SB_ACT_IDENTITY}, {"relu", SB_ACT_RELU},
    {"gelu", SB_ACT_GELU_ERF}, {"sigmoid", SB_ACT_SIGMOID}, {NULL, 0}};
static const sb_kv_choice k_kinds[] = {
    {"sentence-transformer", SB_KIND_SENTENCE_TRANSFORMER},
    {"cross-encoder", SB_KIND_CROSS_ENCODER}, {NULL, 0}};
static const sb_kv_choice k_similarities[] = {
    {"cosine", SBERT_SIMILARITY_COSINE}, {"dot", SBERT_SIMILARITY_DOT},
    {"euclidean", SBERT_SIMILARITY_EUCLIDEAN}, {"manhattan", SBERT_SIMILARITY_MANHATTAN},
    {NULL, 0}};

/* ---- header ---------------------------------------------------------------------------------- */

typedef struct {
    uint32_t version, header_size;
    uint64_t file_size;
    uint64_t kv_offset, kv_size, n_kv;
    uint64_t table_offset, table_size, n_tensors;
    uint64_t data_offset, data_size;
    uint32_t checksum, reserved;
} file_header;

static file_header decode_header(const uint8_t *p)
{
    return (file_header){
        .version = sb_le32(p + 8),          .header_size = sb_le32(p + 12),
        .file_size = sb_le64(p + 16),       .kv_offset = sb_le64(p + 24),
        .kv_size = sb_le64(p + 32),         .n_kv = sb_le64(p + 40),
        .table_offset = sb_le64(p + 48),    .table_size = sb_le64(p + 56),
        .n_tensors = sb_le64(p + 64),       .data_offset = sb_le64(p + 72),
        .data_size = sb_le64(p + 80),       .checksum = sb_le32(p + SB_FORMAT_CHECKSUM_AT),
        .reserved = sb_le32(p + 92),
    };
}

/* The CRC-32 of bytes [0, data_offset) with the checksum field read as zero. */
static uint32_t header_checksum(const uint8_t *p, uint64_t data_offset)
{
    static const uint8_t zero_field[4];
    uint32_t crc = sb_crc32(0, p, SB_FORMAT_CHECKSUM_AT);
    crc = sb_crc32(crc, zero_field, sizeof zero_field);
    size_t after = SB_FORMAT_CHECKSUM_AT + 4;
    return sb_crc32(crc, p + after, (size_t)data_offset - after);
}

/* Magic, size and version: what tells "not a model" and "truncated" apart from "damaged". */
static int check_identity(const uint8_t *p, uint64_t size, const sb_err *err)
{
    if (size == 0)
        return sb_fail(err, SBERT_ERR_NOT_A_MODEL,
                       "the file is empty: convert the model directory with "
                       "tools/convert_safetensors.py");
    if (memcmp(p, k_magic, size < sizeof k_magic ? (size_t)size : sizeof k_magic) != 0) {
        char seen[8 * 3 + 1] = "";
        for (size_t i = 0; i < 8 && i < size; i++)
            snprintf(seen + 3 * i, sizeof seen - 3 * i, "%02x ", p[i]);
        return sb_fail(err, SBERT_ERR_NOT_A_MODEL,
                       "not a .sbert model file (it starts with %sinstead of \"SBERTMF\"): convert "
                       "the model directory with tools/convert_safetensors.py", seen);
    }
    if (size < SB_FORMAT_HEADER_SIZE)
        return sb_fail(err, SBERT_ERR_TRUNCATED,
                       "the file is %llu bytes, shorter than the %d-byte header: the file is "
                       "truncated, convert it again", (unsigned long long)size, SB_FORMAT_HEADER_SIZE);
    uint32_t version = sb_le32(p + 8);
    if (version != SB_FORMAT_VERSION)
        return sb_fail(err, SBERT_ERR_VERSION,
                       "the file has format version %u, libsbert %s reads version %d: convert the "
                       "model with the tools/convert_safetensors.py of this libsbert",
                       version, SBERT_VERSION_STRING, SB_FORMAT_VERSION);
    return SBERT_OK;
}

/* The sizes that the checksum depends on, then the checksum, then the section layout: a damaged
 * header is reported as a checksum mismatch, a writer's mistake by the field it got wrong. */
static int check_header(const file_header *h, const uint8_t *p, uint64_t size, const sb_err *err)
{
    if (h->header_size != SB_FORMAT_HEADER_SIZE)
        return sb_fail(err, SBERT_ERR_CORRUPT, "header_size is %u, expected %d" SB_DAMAGED,
                       h->header_size, SB_FORMAT_HEADER_SIZE);
    if (h->file_size > size)
        return sb_fail(err, SBERT_ERR_TRUNCATED,
                       "the file is %llu bytes but its header says %llu: the file is truncated, "
                       "convert it again", (unsigned long long)size,
                       (unsigned long long)h->file_size);
    if (h->file_size < size)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "the file is %llu bytes but its header says %llu" SB_DAMAGED,
                       (unsigned long long)size, (unsigned long long)h->file_size);
    if (h->data_offset < SB_FORMAT_HEADER_SIZE || h->data_offset > size)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "data_offset %llu lies outside the %llu-byte file" SB_DAMAGED,
                       (unsigned long long)h->data_offset, (unsigned long long)size);

    uint32_t crc = header_checksum(p, h->data_offset);
    if (crc != h->checksum)
        return sb_fail(err, SBERT_ERR_CHECKSUM,
                       "header checksum is 0x%08x but the header and tables give 0x%08x" SB_DAMAGED,
                       h->checksum, crc);

    if (h->kv_offset != SB_FORMAT_HEADER_SIZE || h->reserved != 0)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "kv_offset is %llu (expected %d) and reserved is %u (expected 0)" SB_DAMAGED,
                       (unsigned long long)h->kv_offset, SB_FORMAT_HEADER_SIZE, h->reserved);
    if (h->kv_size > size - h->kv_offset || h->table_offset != h->kv_offset + h->kv_size)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "the key/value section (%llu bytes from offset %d) does not end where the "
                       "tensor table starts (%llu)" SB_DAMAGED, (unsigned long long)h->kv_size,
                       SB_FORMAT_HEADER_SIZE, (unsigned long long)h->table_offset);
    if (h->table_offset > h->data_offset || h->table_size > h->data_offset - h->table_offset)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "the tensor table (%llu bytes from offset %llu) runs past data_offset "
                       "%llu" SB_DAMAGED, (unsigned long long)h->table_size,
                       (unsigned long long)h->table_offset, (unsigned long long)h->data_offset);
    if (h->data_offset % SB_FORMAT_ALIGN != 0 || h->data_size != size - h->data_offset)
        return sb_fail(err, SBERT_ERR_CORRUPT,
                       "data_offset %llu is not a multiple of %d or data_size %llu is not the "
                       "%llu bytes after it" SB_DAMAGED, (unsigned long long)h->data_offset,
                       SB_FORMAT_ALIGN, (unsigned long long)h->data_size,
                       (unsigned long long)(size - h->data_offset));
    for (uint64_t i = h->table_offset + h->table_size; i < h->data_offset; i++)
        if (p[i] != 0)
            return sb_fail(err, SBERT_ERR_CORRUPT,
                           "byte %llu, padding before the tensor data, is not zero" SB_DAMAGED,
                           (unsigned long long)i);
    return SBERT_OK;
}

/* ---- hyper-parameters and pipeline ----------------------------------------------------------- */

static bool has_nul(sb_str s)
{
    return memchr(s.ptr, '\0', s.len) != NULL;
}

static int read_names(sbert_model *m, const sb_kv_table *kv)
{
    const sb_kv_choice *arch;
    int rc = sb_kv_enum(kv, "general.architecture", k_architectures, &arch);
    if (rc != SBERT_OK)
        return rc;
    m->arch = (sb_arch)arch->value;
    snprintf(m->arch_name, sizeof m->arch_name, "%s", arch->name);

    sb_str name;
    if ((rc = sb_kv_str(kv, "general.name", &name)) != SBERT_OK)
        return rc;
    if (has_nul(name))
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "general.name contains a NUL byte" SB_DAMAGED);
    if (!(m->name = malloc((size_t)name.len + 1)))
        return sb_fail(&kv->err, SBERT_ERR_NO_MEMORY, "out of memory copying general.name");
    memcpy(m->name, name.ptr, name.len);
    m->name[name.len] = '\0';

    /* general.kind is optional: files written before cross-encoders hold sentence-transformers */
    const sb_kv_choice *kind;
    m->kind = SB_KIND_SENTENCE_TRANSFORMER;
    if (sb_kv_find(kv, "general.kind")) {
        if ((rc = sb_kv_enum(kv, "general.kind", k_kinds, &kind)) != SBERT_OK)
            return rc;
        m->kind = (sb_model_kind)kind->value;
    }
    return SBERT_OK;
}

static int read_encoder_sizes(sb_hparams *hp, const sb_kv_table *kv)
{
    const struct {
        const char *key;
        int *field;
        uint32_t min, max;
    } sizes[] = {
        {"encoder.vocab_size", &hp->vocab_size, 1, MAX_VOCAB},
        {"encoder.hidden_size", &hp->hidden, 1, MAX_HIDDEN},
        {"encoder.num_layers", &hp->n_layers, 1, MAX_LAYERS},
        {"encoder.num_heads", &hp->n_heads, 1, MAX_HIDDEN},
        {"encoder.intermediate_size", &hp->intermediate, 1, MAX_INTERMEDIATE},
        {"encoder.max_position_embeddings", &hp->max_positions, 1, MAX_POSITIONS},
        {"encoder.type_vocab_size", &hp->type_vocab_size, 0, MAX_TOKEN_TYPES},
        {"encoder.position_offset", &hp->position_offset, 0, MAX_POSITIONS},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint32_t v;
        int rc = sb_kv_u32(kv, sizes[i].key, sizes[i].min, sizes[i].max, &v);
        if (rc != SBERT_OK)
            return rc;
        *sizes[i].field = (int)v;
    }
    return SBERT_OK;
}

/* MPNet's relative-position bias: B buckets and the distance from which keys share the last one
 * (docs/FORMAT.md). The bucket function takes the logarithm of distance / (B / 4) over
 * max_distance / (B / 4), which must exceed 1. An MPNet cross-encoder is not supported: it would
 * need token types. */
static int read_relative_positions(sbert_model *m, const sb_kv_table *kv)
{
    sb_hparams *hp = &m->hp;
    uint32_t buckets, distance;
    int rc = sb_kv_u32(kv, "encoder.relative_attention_num_buckets", MIN_REL_BUCKETS,
                       MAX_REL_BUCKETS, &buckets);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, "encoder.relative_attention_max_distance", 1, MAX_POSITIONS, &distance);
    if (rc != SBERT_OK)
        return rc;
    if (distance <= buckets / 4)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "encoder.relative_attention_max_distance %u must exceed a quarter of the "
                       "%u buckets" SB_DAMAGED, distance, buckets);
    if (m->kind == SB_KIND_CROSS_ENCODER)
        return sb_fail(&kv->err, SBERT_ERR_UNSUPPORTED,
                       "an mpnet cross-encoder is not supported (it has no token types)");
    hp->rel_buckets = (int)buckets;
    hp->rel_max_distance = (int)distance;
    return SBERT_OK;
}

static int read_encoder(sbert_model *m, const sb_kv_table *kv)
{
    sb_hparams *hp = &m->hp;
    const sb_kv_choice *act;
    int32_t pad;
    int rc = read_encoder_sizes(hp, kv);
    if (rc == SBERT_OK)
        rc = sb_kv_f32(kv, "encoder.layer_norm_eps", &hp->layer_norm_eps);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "encoder.hidden_act", k_hidden_activations, &act);
    if (rc == SBERT_OK)
        rc = sb_kv_i32(kv, "encoder.pad_token_id", &pad);
    if (rc != SBERT_OK)
        return rc;
    hp->act = (sb_activation)act->value;
    hp->pad_token_id = pad;

    if (hp->hidden % hp->n_heads != 0)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "encoder.hidden_size %d is not a multiple of encoder.num_heads %d"
                       SB_DAMAGED, hp->hidden, hp->n_heads);
    if (!isfinite(hp->layer_norm_eps) || hp->layer_norm_eps <= 0)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "encoder.layer_norm_eps is %g, expected a small positive number" SB_DAMAGED,
                       (double)hp->layer_norm_eps);
    if ((m->arch == SB_ARCH_MPNET) != (hp->type_vocab_size == 0))
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "encoder.type_vocab_size is %d, which does not fit a %s model (mpnet has no "
                       "token types: 0; the others at least 1)" SB_DAMAGED, hp->type_vocab_size,
                       m->arch_name);
    if (m->arch == SB_ARCH_MPNET && (rc = read_relative_positions(m, kv)) != SBERT_OK)
        return rc;
    /* RoBERTa and MPNet number positions from pad_token_id + 1 (the padding row is never a
     * position); the engine relies on that and on the first position existing. */
    bool offset_fits = m->arch == SB_ARCH_BERT
                           ? hp->position_offset == 0
                           : pad >= 0 && pad < hp->max_positions && hp->position_offset == pad + 1;
    if (!offset_fits || hp->position_offset >= hp->max_positions)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "encoder.position_offset is %d, which does not fit a %s model with "
                       "pad_token_id %d and %d positions (bert needs 0, roberta, xlm-roberta and "
                       "mpnet pad_token_id + 1)" SB_DAMAGED, hp->position_offset, m->arch_name, pad,
                       hp->max_positions);
    return SBERT_OK;
}

/* Dense module j, which must take the `width` values the step before it gives. */
static int read_dense_module(sb_dense *dense, const sb_kv_table *kv, uint32_t j, uint32_t width,
                             bool *has_bias)
{
    char in_key[48], out_key[48], act_key[48], bias_key[48];
    snprintf(in_key, sizeof in_key, "dense.%u.in_features", j);
    snprintf(out_key, sizeof out_key, "dense.%u.out_features", j);
    snprintf(act_key, sizeof act_key, "dense.%u.activation", j);
    snprintf(bias_key, sizeof bias_key, "dense.%u.has_bias", j);
    uint32_t in, out;
    const sb_kv_choice *act;
    int rc = sb_kv_u32(kv, in_key, 1, MAX_DENSE_FEATURES, &in);
    if (rc == SBERT_OK)
        rc = sb_kv_u32(kv, out_key, 1, MAX_DENSE_FEATURES, &out);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, act_key, sb_kv_activations, &act);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, bias_key, has_bias);
    if (rc != SBERT_OK)
        return rc;
    if (in != width)
        return sb_fail(&kv->err, SBERT_ERR_SHAPE,
                       "%s is %u but the %s gives %u values: convert the model again", in_key, in,
                       j == 0 ? "pooling" : "Dense module before it", width);
    dense->linear.n_in = (int)in;
    dense->linear.n_out = (int)out;
    dense->act = (sb_activation)act->value;
    return SBERT_OK;
}

/* The Dense modules after pooling; m->dim becomes the width of the last one. */
static int read_dense(sbert_model *m, const sb_kv_table *kv, bool has_bias[SB_MAX_DENSE])
{
    uint32_t count;
    int rc = sb_kv_u32(kv, "dense.count", 0, SB_MAX_DENSE, &count);
    for (uint32_t j = 0; rc == SBERT_OK && j < count; j++) {
        rc = read_dense_module(&m->dense[j], kv, j, (uint32_t)m->dim, &has_bias[j]);
        if (rc == SBERT_OK)
            m->dim = (size_t)m->dense[j].linear.n_out;
    }
    if (rc == SBERT_OK)
        m->n_dense = (int)count;
    return rc;
}

static int read_pooling(sbert_model *m, const sb_kv_table *kv)
{
    sb_pooling *pool = &m->pooling;
    const struct {
        const char *key;
        bool *field;
    } flags[] = {
        {"pooling.cls", &pool->cls},
        {"pooling.mean", &pool->mean},
        {"pooling.max", &pool->max},
        {"pooling.mean_sqrt_len", &pool->mean_sqrt_len},
        {"pooling.weightedmean", &pool->weightedmean},
        {"pooling.lasttoken", &pool->lasttoken},
        {"pooling.include_prompt", &pool->include_prompt},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int rc = sb_kv_bool(kv, flags[i].key, flags[i].field);
        if (rc != SBERT_OK)
            return rc;
    }
    /* the modes' vectors are concatenated */
    int n_modes = pool->cls + pool->mean + pool->max + pool->mean_sqrt_len + pool->weightedmean +
                  pool->lasttoken;
    if (n_modes == 0)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT, "no pooling.* mode is true" SB_DAMAGED);
    m->dim = (size_t)n_modes * (size_t)m->hp.hidden;
    return SBERT_OK;
}

/* NUL-terminated copies of the n names and n texts, in one allocation: prompt_names[n],
 * prompt_texts[n], then the strings. */
static int copy_prompts(sbert_model *m, const sb_kv *names, const sb_kv *texts, const sb_err *err)
{
    size_t n = names->count;
    sb_str *strings = calloc(2 * n, sizeof *strings);
    if (!strings)
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory reading %zu prompts", n);
    sb_kv_read_strs(names, strings);
    sb_kv_read_strs(texts, strings + n);

    int rc = SBERT_OK;
    uint64_t bytes = 2 * (uint64_t)n * sizeof(char *);
    for (size_t i = 0; i < 2 * n && rc == SBERT_OK; i++) {
        bytes += (uint64_t)strings[i].len + 1;
        if (has_nul(strings[i])) /* it would cut the C string short */
            rc = sb_fail(err, SBERT_ERR_CORRUPT, "the %s of prompt %zu contains a NUL byte"
                         SB_DAMAGED, i < n ? "name" : "text", i % n);
    }
    char **block = rc == SBERT_OK && bytes <= SIZE_MAX ? malloc((size_t)bytes) : NULL;
    if (rc == SBERT_OK && !block)
        rc = sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory copying %zu prompts", n);
    if (rc == SBERT_OK) {
        char *next = (char *)(block + 2 * n);
        for (size_t i = 0; i < 2 * n; i++) {
            block[i] = memcpy(next, strings[i].ptr, strings[i].len);
            next[strings[i].len] = '\0';
            next += strings[i].len + 1;
        }
        m->n_prompts = n;
        m->prompt_names = block;
        m->prompt_texts = block + n;
    }
    free(strings);
    return rc;
}

static int read_prompts(sbert_model *m, const sb_kv_table *kv)
{
    const sb_kv *names, *texts;
    sb_str default_name;
    int rc = sb_kv_get(kv, "prompts.names", SB_KV_ARR_STR, &names);
    if (rc == SBERT_OK)
        rc = sb_kv_get(kv, "prompts.texts", SB_KV_ARR_STR, &texts);
    if (rc == SBERT_OK)
        rc = sb_kv_str(kv, "prompts.default", &default_name);
    if (rc != SBERT_OK)
        return rc;
    if (names->count != texts->count)
        return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                       "%u prompts.names but %u prompts.texts" SB_DAMAGED, names->count,
                       texts->count);
    if (names->count > 0 && (rc = copy_prompts(m, names, texts, &kv->err)) != SBERT_OK)
        return rc;

    m->default_prompt = -1;
    if (default_name.len == 0)
        return SBERT_OK;
    for (size_t i = 0; i < m->n_prompts; i++) {
        if (strlen(m->prompt_names[i]) == default_name.len &&
            memcmp(m->prompt_names[i], default_name.ptr, default_name.len) == 0) {
            m->default_prompt = (int)i;
            return SBERT_OK;
        }
    }
    char name[64];
    return sb_fail(&kv->err, SBERT_ERR_CORRUPT,
                   "prompts.default is '%s', which is not among prompts.names" SB_DAMAGED,
                   sb_printable(default_name, name));
}

static int read_pipeline(sbert_model *m, const sb_kv_table *kv, bool dense_has_bias[SB_MAX_DENSE])
{
    uint32_t max_seq_length;
    const sb_kv_choice *similarity;
    int rc = sb_kv_u32(kv, "pipeline.max_seq_length", 1, UINT32_MAX, &max_seq_length);
    if (rc == SBERT_OK)
        rc = read_pooling(m, kv);
    if (rc == SBERT_OK)
        rc = read_dense(m, kv, dense_has_bias);
    if (rc == SBERT_OK)
        rc = sb_kv_bool(kv, "normalize", &m->normalize);
    if (rc == SBERT_OK)
        rc = sb_kv_enum(kv, "similarity", k_similarities, &similarity);
    if (rc == SBERT_OK)
        rc = read_prompts(m, kv);
    if (rc != SBERT_OK)
        return rc;
    m->similarity = (sbert_similarity)similarity->value;
    m->max_seq_length = sb_usable_length(m, max_seq_length);
    return SBERT_OK;
}

size_t sb_usable_length(const sbert_model *m, uint32_t max_seq_length)
{
    /* Positions past the table do not exist: sentence-transformers fails on inputs that long, so
     * the longest input it can encode is also the longest here. */
    size_t positions = (size_t)(m->hp.max_positions - m->hp.position_offset);
    return max_seq_length < positions ? max_seq_length : positions;
}

/* ---- loading --------------------------------------------------------------------------------- */

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Validates the file in m->file_data and fills the rest of m from it. */
static int load(sbert_model *m, const sb_err *err)
{
    if (!host_is_little_endian()) /* F32 weights are used in place, in the file's byte order */
        return sb_fail(err, SBERT_ERR_UNSUPPORTED, "libsbert needs a little-endian CPU");
    const uint8_t *p = m->file_data;
    uint64_t size = m->file_size;
    int rc = check_identity(p, size, err);
    if (rc != SBERT_OK)
        return rc;
    file_header h = decode_header(p);
    if ((rc = check_header(&h, p, size, err)) != SBERT_OK)
        return rc;

    sb_kv_table kv = {.err = *err};
    bool dense_has_bias[SB_MAX_DENSE] = {false};
    rc = sb_kv_parse(&kv, p + h.kv_offset, h.kv_size, h.n_kv);
    if (rc == SBERT_OK)
        rc = read_names(m, &kv);
    if (rc == SBERT_OK)
        rc = read_encoder(m, &kv);
    const bool cross_encoder = m->kind == SB_KIND_CROSS_ENCODER;
    if (rc == SBERT_OK)
        rc = cross_encoder ? sb_load_classifier(m, &kv) : read_pipeline(m, &kv, dense_has_bias);
    if (rc == SBERT_OK)
        rc = sb_load_tokenizer(m, &kv);
    if (rc == SBERT_OK && cross_encoder)
        rc = sb_load_pair_template(m, &kv);
    sb_kv_free(&kv);
    if (rc != SBERT_OK)
        return rc;

    sb_tensor_section tensors = {
        .table = p + h.table_offset, .table_size = h.table_size, .n_tensors = h.n_tensors,
        .data = p + h.data_offset,   .data_size = h.data_size,
    };
    return sb_load_tensors(m, &tensors, dense_has_bias, err);
}

/* Opens path as a regular file and gives its size. O_NONBLOCK: a FIFO given by mistake must fail
 * the regular-file check rather than block the open until a writer appears. */
static int open_file(const char *path, int *fd_out, size_t *size_out, const sb_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return sb_fail(err, SBERT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = SBERT_OK;
    if (fstat(fd, &st) != 0)
        rc = sb_fail(err, SBERT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = sb_fail(err, SBERT_ERR_IO, "cannot read %s: not a regular file", path);
    else if ((uintmax_t)st.st_size > SIZE_MAX)
        rc = sb_fail(err, SBERT_ERR_TOO_LARGE, "%s is larger than this build's address space",
                     path);
    if (rc != SBERT_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return SBERT_OK;
}

/* The mapping starts on a 2 MB boundary and is advised to use huge pages, so that the kernel can
 * map the file's page cache 2 MB at a time where the cache holds 2 MB folios (as it does when the
 * file is read in through such a mapping, e.g. after the converter dropped it from the cache):
 * one fault per 2 MB instead of per 4 KB, and a fault is costly on a virtual machine
 * (docs/bench/README.md). */
#define HUGE_PAGE ((size_t)2 << 20)

static void *map_aligned(int fd, size_t size, sbert_model *m)
{
    if (size > SIZE_MAX - HUGE_PAGE) /* no room for the alignment (a 32-bit build) */
        return MAP_FAILED;
    const size_t length = size + HUGE_PAGE;
    uint8_t *base = mmap(NULL, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    uint8_t *at = (uint8_t *)(((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    void *p = mmap(at, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        munmap(base, length);
        return MAP_FAILED;
    }
    m->map_base = base;
    m->map_length = length;
    sb_advise_huge_pages(p, size);
    return p;
}

/* Faulting the mapping in is done by several threads, a slice of PREFAULT_SLICE bytes at a time:
 * when part of the file has left the page cache, it is read back from disk by concurrent requests,
 * which the disk serves faster than one sequential reader (docs/bench/README.md). */
#define PREFAULT_SLICE ((size_t)32 << 20)
#define PREFAULT_MAX_THREADS 4

typedef struct {
    const uint8_t *begin[2]; /* two byte ranges: the file before and after the word embeddings */
    size_t size[2];
    int slices0;             /* slices in the first range */
} prefault_job;

static int slices_in(size_t size) { return (int)((size + PREFAULT_SLICE - 1) / PREFAULT_SLICE); }

static void prefault_slice(void *arg, int slice, int thread)
{
    (void)thread;
    const prefault_job *job = arg;
    const int range = slice < job->slices0 ? 0 : 1;
    const size_t begin = (size_t)(range ? slice - job->slices0 : slice) * PREFAULT_SLICE;
    const size_t left = job->size[range] - begin;
    const size_t size = left < PREFAULT_SLICE ? left : PREFAULT_SLICE;
    const uint8_t *p = job->begin[range] + begin;
#ifdef MADV_POPULATE_READ /* Linux 5.14 */
    const uint8_t *page = (const uint8_t *)((uintptr_t)p & ~(uintptr_t)4095);
    if (madvise((void *)page, size + (size_t)(p - page), MADV_POPULATE_READ) == 0)
        return;
#endif
    const volatile uint8_t *bytes = p; /* volatile: the reads must happen */
    for (size_t i = 0; i < size; i += 4096)
        (void)bytes[i];
}

/* Faults the mapping in now rather than during the first encode, all but the word-embedding
 * table: a text reads only its tokens' rows of it (16 of 32,000 for a short one), so the first
 * embedding need not wait for the rest of it to come from disk (98 of the 440 MB of ko-sroberta).
 * The kernel is asked to read it in the background instead (MADV_WILLNEED: read-ahead, no wait).
 *
 * On a virtual machine faulting in is not the whole cost for pages just read from disk: their
 * first use may still cost about 1 us each outside the guest, which no madvise reaches
 * (docs/bench/README.md). */
static void prefault_weights(const sbert_model *m)
{
    const uint8_t *file = m->file_data, *end = file + m->file_size;
    const uint8_t *emb = (const uint8_t *)m->word_emb;
    const size_t emb_size = (size_t)m->hp.vocab_size * (size_t)m->hp.hidden *
                            sb_weight_bytes(m->word_emb_format);
    /* the table is always in place in the file, in its stored format (model_file_tensors.c) */
    prefault_job job = {
        .begin = {file, emb + emb_size},
        .size = {(size_t)(emb - file), (size_t)(end - (emb + emb_size))},
    };
    const uintptr_t first = ((uintptr_t)emb + 4095) & ~(uintptr_t)4095;
    const uintptr_t last = ((uintptr_t)emb + emb_size) & ~(uintptr_t)4095;
    if (last > first)
        madvise((void *)first, last - first, MADV_WILLNEED); /* advice: failure is harmless */
    job.slices0 = slices_in(job.size[0]);
    const int slices = job.slices0 + slices_in(job.size[1]);
    int threads = sb_available_cores();
    threads = threads > PREFAULT_MAX_THREADS ? PREFAULT_MAX_THREADS : threads;
    threads = threads > slices ? slices : threads;
    sb_threadpool *pool = threads > 1 ? sb_threadpool_create(threads) : NULL; /* NULL: serial */
    sb_threadpool_run(pool, slices, threads, prefault_slice, &job);
    sb_threadpool_free(pool);
}

/* The weights stay in the page cache, shared by every process that maps the same file. */
static int map_file(sbert_model *m, const char *path, const sb_err *err)
{
    int fd;
    size_t size;
    int rc = open_file(path, &fd, &size, err);
    if (rc != SBERT_OK)
        return rc;
    if (size > 0) { /* mmap() refuses length 0; the empty file is refused by check_identity() */
        void *p = map_aligned(fd, size, m);
        if (p == MAP_FAILED) {
            rc = sb_fail(err, SBERT_ERR_IO, "cannot map %s: %s (try use_mmap = 0)", path,
                         strerror(errno));
        } else {
            m->file_data = p;
            m->file_size = size;
            m->file_is_mapped = true;
        }
    }
    close(fd);
    return rc;
}

static int read_file(sbert_model *m, const char *path, const sb_err *err)
{
    int fd;
    size_t size;
    int rc = open_file(path, &fd, &size, err);
    if (rc != SBERT_OK)
        return rc;
    uint8_t *buffer = sb_alloc_aligned(size);
    if (!buffer) {
        close(fd);
        return sb_fail(err, SBERT_ERR_NO_MEMORY, "out of memory reading the %zu bytes of %s",
                       size, path);
    }
    m->file_copy = buffer;
    m->file_data = buffer;
    m->file_size = size;
    for (size_t done = 0; done < size;) {
        size_t chunk = size - done < (1u << 30) ? size - done : (1u << 30);
        ssize_t n = read(fd, buffer + done, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sb_fail(err, SBERT_ERR_IO, "cannot read %s: %s", path,
                         n < 0 ? strerror(errno) : "the file got shorter while reading");
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    return rc;
}

static sb_err error_sink(char *msg, size_t size)
{
    if (msg && size > 0)
        msg[0] = '\0';
    return (sb_err){msg, size};
}

int sb_model_file_open(sbert_model *m, const char *path, const sbert_model_params *params,
                       char *err, size_t err_size)
{
    sb_err e = error_sink(err, err_size);
    if (!m || !path)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "the model and the path must not be NULL");
    memset(m, 0, sizeof *m);
    bool use_mmap = params ? params->use_mmap != 0 : true;
    bool prefault = params ? params->prefault != 0 : true;
    int rc = use_mmap ? map_file(m, path, &e) : read_file(m, path, &e);
    if (rc == SBERT_OK)
        rc = load(m, &e);
    if (rc == SBERT_OK && use_mmap && prefault)
        prefault_weights(m);
    if (rc != SBERT_OK)
        sb_model_file_close(m);
    return rc;
}

int sb_model_file_from_memory(sbert_model *m, const void *data, size_t size, char *err,
                              size_t err_size)
{
    sb_err e = error_sink(err, err_size);
    if (!m || !data)
        return sb_fail(&e, SBERT_ERR_INVALID_ARGUMENT, "the model and the data must not be NULL");
    memset(m, 0, sizeof *m);
    if ((uintptr_t)data % SB_FORMAT_ALIGN == 0) {
        m->file_data = data;
    } else {
        if (!(m->file_copy = sb_alloc_aligned(size)))
            return sb_fail(&e, SBERT_ERR_NO_MEMORY, "out of memory copying the %zu-byte model",
                           size);
        m->file_data = memcpy(m->file_copy, data, size);
    }
    m->file_size = size;
    int rc = load(m, &e);
    if (rc != SBERT_OK)
        sb_model_file_close(m);
    return rc;
}

void sb_model_file_close(sbert_model *m)
{
    if (!m)
        return;
    if (m->file_is_mapped)
        munmap(m->map_base, m->map_length); /* the file's mapping lies inside */
    free(m->file_copy);
    free(m->owned_f32);
    free(m->owned_col_sums);
    free(m->name);
    free(m->layers);
    free(m->prompt_names); /* prompt_texts and the strings share its allocation */
    free(m->classifier.labels); /* the strings share its allocation */
    free(m->tok_owned);
    sb_tokenizer *tokenizer = m->tokenizer; /* sbert.c's to free */
    memset(m, 0, sizeof *m);
    m->tokenizer = tokenizer;
}
